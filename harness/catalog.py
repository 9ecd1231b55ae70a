"""What is configured: the runtimes and workloads in conf/ and what each runtime declares (precisions,
model kinds). Tests, benchmarks/grid.py and the study derive their lists from here, so a runtime
added as one module and one yaml is swept everywhere without another edit."""

from __future__ import annotations

from pathlib import Path

from harness.config import component_class
from harness.envinfo import PROJECT_ROOT

CONF_DIR = PROJECT_ROOT / "conf"


def runtime_names(conf_dir: Path = CONF_DIR) -> list[str]:
    """The options of the `runtime` config group: one per yaml in conf/runtime/."""
    return sorted(p.stem for p in (conf_dir / "runtime").glob("*.yaml"))


def runtime_class(name: str, conf_dir: Path = CONF_DIR) -> type:
    """The Runtime class conf/runtime/<name>.yaml names (its `module`'s RUNTIME)."""
    from omegaconf import OmegaConf

    module = OmegaConf.load(conf_dir / "runtime" / f"{name}.yaml")["module"]
    return component_class("runtime", str(module))


def runtimes_offering(precision: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The configured runtimes whose class declares `precision`."""
    return [n for n in runtime_names(conf_dir) if precision in runtime_class(n, conf_dir).precisions]


def runtimes_running(kind: str, conf_dir: Path = CONF_DIR) -> list[str]:
    """The configured runtimes that run models of this kind ("transformer", "cnn")."""
    return [n for n in runtime_names(conf_dir) if kind in runtime_class(n, conf_dir).kinds]
