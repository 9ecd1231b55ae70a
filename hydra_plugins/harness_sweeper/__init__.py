"""Hydra discovers sweepers only in the `hydra_plugins` namespace package; the logic lives in
harness/sweeper.py."""
