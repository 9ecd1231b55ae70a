"""The harness's sweeper as a Hydra plugin (Hydra instantiates sweepers only from `hydra_plugins`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override
from hydra.core.utils import JobReturn
from omegaconf import DictConfig, OmegaConf

from harness.sweeper import interleaved_rounds


class SearchpathGroups:
    """The config loader as `glob(...)` sweeps see it, with the run's `hydra.searchpath`: Hydra lists a
    glob's group options from the primary search path only, so `runtime=glob(*)` missed a runtime added
    in an extra config directory (hydra.searchpath=[file://...]) that the same command could select by
    name."""

    def __init__(self, loader: Any, searchpath: list[str], config_name: str) -> None:
        self.loader, self.config_name = loader, config_name
        quoted = ",".join("'" + entry.replace("\\", "\\\\").replace("'", "\\'") + "'" for entry in searchpath)
        self.overrides = [f"hydra.searchpath=[{quoted}]"] if searchpath else []

    def get_group_options(self, group_name: str, results_filter: Any = None, config_name: str | None = None,
                          overrides: list[str] | None = None) -> list[str]:  # fmt: skip
        from hydra.core.object_type import ObjectType

        wanted = results_filter or ObjectType.CONFIG
        extra = (overrides or []) + self.overrides
        return self.loader.get_group_options(group_name, wanted, config_name or self.config_name, extra)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.loader, name)


class InterleavedSweeper(BasicSweeper):
    """Hydra's BasicSweeper with repeats run in interleaved, shuffled rounds (harness/sweeper.py),
    which collects every job's `JobReturn` in the driver, whatever launcher ran it (harness/cluster.py):
    a failed job never stops the sweep, a job whose process or node died becomes a `crashed` row
    naming the node, a finished job (results.Finished) is not sent to another node again, and the
    tables are gathered here, so workers share no lock."""

    def setup(self, *, hydra_context: Any, task_function: Any, config: DictConfig) -> None:
        super().setup(hydra_context=hydra_context, task_function=task_function, config=config)
        self.repeats = int(config.get("repeats", 1) or 1)
        self.seed = int(config.get("seed", 0) or 0)

    def split_arguments(self, overrides: list[Override], max_batch_size: int | None) -> list[list[list[str]]]:  # type: ignore[override]
        (jobs,) = BasicSweeper.split_arguments(overrides, None)
        return interleaved_rounds(jobs, self.repeats, self.seed)

    def sweep(self, arguments: list[str]) -> Any:
        """BasicSweeper.sweep (parse, save multirun.yaml, validate and launch each batch), except that
        no job's failure or launcher exception escapes: each becomes a row or one line in
        `harness.cli.SESSION.launch_errors`."""
        from harness import cluster
        from harness.cli import SESSION

        assert self.config is not None and self.launcher is not None and self.hydra_context is not None
        params = self._parse_config()
        params.extend(arguments)
        loader = SearchpathGroups(self.hydra_context.config_loader, list(self.config.hydra.searchpath),
                                  str(self.config.hydra.job.config_name))  # fmt: skip
        parser = OverridesParser.create(config_loader=loader)  # type: ignore[arg-type]
        self.overrides = self.split_arguments(parser.parse_overrides(params), self.max_batch_size)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")
        in_process = cluster.kind_of(str(self.config.hydra.launcher.get("_target_", ""))) == "basic"
        collector = cluster.Collector(self.hydra_context.config_loader, self.config, in_process)
        returns: list[list[JobReturn]] = []
        initial_job_idx = 0
        try:
            while not self.is_done():
                batch = [list(job) for job in self.get_job_batch()]
                self.validate_batch_is_legal(batch)
                size = len(batch)
                if not in_process:  # resume across the cluster: a finished job is not sent anywhere
                    batch = collector.without_finished(batch)
                if not batch:
                    initial_job_idx += size
                    continue
                try:
                    results = list(self.launcher.launch(batch, initial_job_idx=initial_job_idx))
                except Exception as exc:  # the launcher itself failed: stop, keep every row so far
                    SESSION.launch_errors.append(cluster.launch_failure(exc, len(batch)))
                    break
                for i, (overrides, result) in enumerate(zip(batch, results, strict=True)):
                    collector.collect(overrides, result, initial_job_idx + i)
                collector.gather()
                initial_job_idx += size
                returns.append(results)
        finally:
            close = getattr(self.launcher, "close", None)
            if close is not None:
                close()
        return returns
