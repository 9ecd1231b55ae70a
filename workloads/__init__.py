"""Workloads: one module per model family (see workloads/base.py)."""

from harness.compat import ensure_torchvision

ensure_torchvision()  # before transformers or torchvision are imported by any workload
