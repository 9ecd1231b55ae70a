"""Every config group option composes, validates and instantiates."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from harness.cli import CONF_DIR, spec_from_config
from harness.config import ConfigError, JobSpec, component_class, parse_options


def group_options(group: str) -> list[str]:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return GlobalHydra.instance().config_loader().get_group_options(group)


WORKLOADS, RUNTIMES, MEASURES = group_options("workload"), group_options("runtime"), group_options("measure")


def test_groups_hold_the_expected_options() -> None:
    assert {"bert", "resnet101"} <= set(WORKLOADS)
    assert "eager" in RUNTIMES
    assert {"default", "quick"} <= set(MEASURES)


@pytest.mark.parametrize(("workload", "runtime", "measure"), list(itertools.product(WORKLOADS, RUNTIMES, MEASURES)))
def test_every_combination_composes_and_instantiates(workload: str, runtime: str, measure: str, tmp_path: Path) -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        cfg = compose(
            config_name="config", overrides=[f"workload={workload}", f"runtime={runtime}", f"measure={measure}"]
        )
    spec = spec_from_config(cfg)
    assert spec.workload.name in workload and spec.runtime.name == runtime  # study_bert is a `bert`
    assert spec.runtime.precision == "fp32", "the default comparison must be fp32 everywhere"
    workload_cls = component_class("workload", spec.workload.module)
    runtime_cls = component_class("runtime", spec.runtime.module)
    workload_obj = workload_cls(parse_options(workload_cls.Options, spec.workload.options, "workload"), 0, tmp_path)
    runtime_obj = runtime_cls(parse_options(runtime_cls.Options, spec.runtime.options, "runtime"), "fp32", 1, tmp_path)
    assert workload_obj.name == spec.workload.name
    assert runtime_obj.precision == "fp32"


def test_spec_round_trips_through_json_with_a_stable_hash() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        spec = spec_from_config(compose(config_name="config", overrides=["batch=4"]))
    again = JobSpec.from_dict(spec.to_dict())
    assert again.config_hash() == spec.config_hash()
    changed = JobSpec.from_dict({**spec.to_dict(), "batch": 8})
    assert changed.config_hash() != spec.config_hash()
    moved = JobSpec.from_dict({**spec.to_dict(), "cache_dir": "/elsewhere"})
    assert moved.config_hash() == spec.config_hash(), "where caches live is not what is measured"


def test_unknown_workload_option_is_named() -> None:
    from workloads.bert import BertOptions

    with pytest.raises(ConfigError, match="unknown workload option 'seqlen'; allowed: model"):
        parse_options(BertOptions, {"seqlen": 3}, "workload")
