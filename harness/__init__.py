"""harness: honest, reproducible CPU inference benchmarks."""

__version__ = "0.1.0"
