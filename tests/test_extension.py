"""The house stays easy to change (issue 14): options declared once (the dataclass holds the defaults,
yaml only values them, and the two agree), harness keys apart from component options, components
validated by the library, and a runtime added as one module and one yaml is swept."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import OmegaConf

from harness.catalog import CONF_DIR, runtime_names
from harness.cli import CliOptions
from harness.config import (
    ComponentConfig,
    ConfigError,
    JobSpec,
    MeasureConfig,
    RuntimeConfig,
    ScenarioConfig,
    component_class,
)
from harness.envinfo import PROJECT_ROOT

HARNESS_KEYS = {"name", "module", "precision", "python", "setup_hint"}
# Presets: yaml files that set values on purpose (a quick plan, a scenario, a study); they are checked
# to name only declared fields.
PRESETS = {"measure/quick.yaml", "scenario/offline.yaml", "scenario/server.yaml"}


def _defaults(cls: type) -> dict:
    return {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING}  # fmt: skip


def _component_yamls() -> list[tuple[str, Path]]:
    files = []
    for group in ("runtime", "workload"):
        for path in sorted((CONF_DIR / group).glob("*.yaml")):
            if "defaults" not in OmegaConf.load(path):  # study_* extend a base file: values, not declarations
                files.append((group, path))
    return files


@pytest.mark.parametrize(("group", "path"), _component_yamls(), ids=lambda v: getattr(v, "name", v))
def test_component_yaml_lists_exactly_the_dataclass_defaults(group: str, path: Path) -> None:
    node = OmegaConf.to_container(OmegaConf.load(path))
    cls = component_class(group, node["module"]).Options
    options = {k: v for k, v in node.items() if k not in HARNESS_KEYS}
    defaults = _defaults(cls)
    assert sorted(options) == sorted(defaults), f"{path.name}: yaml keys and {cls.__name__} fields differ"
    differ = {k: (v, defaults[k]) for k, v in options.items() if v != defaults[k]}
    assert not differ, f"{path.name} sets values its dataclass does not default to: {differ}"


@pytest.mark.parametrize(
    ("path", "cls"),
    [("measure/default.yaml", MeasureConfig), ("scenario/single_stream.yaml", ScenarioConfig),
     *[(p, c) for p in sorted(PRESETS) for c in [MeasureConfig if p.startswith("measure") else ScenarioConfig]]],
)  # fmt: skip
def test_group_yamls_agree_with_their_dataclasses(path: str, cls: type) -> None:
    node = OmegaConf.to_container(OmegaConf.load(CONF_DIR / path))
    assert sorted(node) == sorted(_defaults(cls)), f"{path}: keys and {cls.__name__} fields differ"
    if path not in PRESETS:
        assert node == _defaults(cls), f"{path} must list {cls.__name__}'s defaults"


def test_top_level_yaml_agrees_with_the_job_and_cli_dataclasses() -> None:
    node = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "config.yaml"))
    expected = {**_defaults(JobSpec), **_defaults(CliOptions)}
    for nested in ("measure", "scenario"):
        expected.pop(nested)
    for key, value in expected.items():
        assert key in node and node[key] == value, f"config.yaml {key}: {node.get(key)!r}, dataclass: {value!r}"


@pytest.mark.parametrize("name", runtime_names())
def test_no_component_option_is_named_like_a_harness_key(name: str) -> None:
    fields = {f.name for f in dataclasses.fields(component_class("runtime", _module(name)).Options)}
    assert not fields & HARNESS_KEYS


def _module(runtime: str) -> str:
    return str(OmegaConf.load(CONF_DIR / "runtime" / f"{runtime}.yaml")["module"])


def test_the_library_validates_components_without_hydra() -> None:
    spec = JobSpec(workload=ComponentConfig("resnet101", "workloads.resnet101", {"image_size": 7}),
                   runtime=RuntimeConfig("eager", "runtimes.eager"))  # fmt: skip
    with pytest.raises(ConfigError, match="workload.image_size=7 is not allowed"):
        spec.validate()
    spec = JobSpec(workload=ComponentConfig("resnet101", "workloads.resnet101"),
                   runtime=RuntimeConfig("openvino", "runtimes.openvino", {"num_streams": "lots"}))  # fmt: skip
    with pytest.raises(ConfigError, match="runtime.num_streams='lots'"):
        spec.validate()


MODULE = '''"""A runtime added as one module: eager with its own name."""
from runtimes.eager import EagerRuntime


class Mine(EagerRuntime):
    def version(self) -> str:
        return "mine 1.0"


RUNTIME = Mine
'''


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_a_runtime_added_as_one_module_and_one_yaml_is_swept(tmp_path: Path, shared_cache: Path) -> None:
    (tmp_path / "extra" / "runtime").mkdir(parents=True)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "mine_runtime.py").write_text(MODULE)
    (tmp_path / "extra" / "runtime" / "mine.yaml").write_text(
        "name: mine\nmodule: mine_runtime\nprecision: fp32\npython: null\nsetup_hint: ''\n"
    )
    env = dict(os.environ, PYTHONPATH=f"{PROJECT_ROOT}{os.pathsep}{tmp_path / 'code'}")
    tests_conf = PROJECT_ROOT / "tests" / "conf"
    run = subprocess.run(
        [sys.executable, "-m", "harness", "-m", f"hydra.searchpath=[file://{tests_conf},file://{tmp_path / 'extra'}]",
         "workload=tiny_resnet", "runtime=glob(*)", "measure=quick", f"cache_dir={shared_cache}",
         "hydra.sweep.dir=sweep"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    mine = frame[frame["runtime"] == "mine"]
    assert len(mine) == 1 and mine["status"].iloc[0] == "ok" and mine["runtime_version"].iloc[0] == "mine 1.0"
    assert set(frame["runtime"]) == {*runtime_names(), "mine"}, "the glob sweeps it with every configured runtime"
