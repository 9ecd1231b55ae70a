"""Runtime adapters: one module per runtime (see runtimes/base.py)."""
