"""Hydra's Ray launcher (hydra-ray-launcher), changed in four ways for benchmarks:

- a job whose worker or node died is a FAILED `JobReturn` carrying `JobCrashed` (naming the node, from
  what the job recorded when it started), instead of an exception out of `launch()` that loses every
  other job of the batch;
- `remote.num_cpus` null asks for every CPU of the smallest node, so one job takes a whole node, and
  asking for more CPUs than any node has is refused instead of waiting forever;
- `remote.max_retries` is 0 unless given (Ray's default of 3 re-runs a killed job silently);
- `init` keys set to null are not passed, and nothing is added to them (the stock launcher's
  `object_store_memory` default makes connecting to an existing cluster fail).

A Ray instance the launcher started is shut down at the end of the sweep (`close`). Nothing here
imports Ray until a sweep launches; without the cluster extra the class does not exist and the
pre-flight check (harness/cluster.py) says how to install it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.cluster import JobCrashed, describe_node, first_line, placement_file, read_placement, record_placement

log = logging.getLogger(__name__)

try:
    from hydra_plugins.hydra_ray_launcher.ray_launcher import RayLauncher
except ImportError:  # the cluster extra is not installed
    RayLauncher = None


def run_job_on_node(placement: str, overrides: list[str], hydra_context: Any, sweep_config: Any,
                    task_function: Any, singleton_state: Any) -> Any:  # fmt: skip
    """In the Ray worker: record where this job runs (for the driver, should the worker die), then
    run it as the stock launcher does."""
    import ray
    from hydra_plugins.hydra_ray_launcher._launcher_util import _run_job

    record_placement(placement, overrides, node_ip=ray.util.get_node_ip_address())
    return _run_job(hydra_context=hydra_context, sweep_config=sweep_config, task_function=task_function,
                    singleton_state=singleton_state)  # fmt: skip


def _crashed(overrides: Sequence[str], exc: BaseException, placement: Path) -> Any:
    from hydra.core.utils import JobReturn, JobStatus

    info = read_placement(placement)
    node = describe_node(info)
    if node == "node unknown" and "Node IP:" in str(exc):  # NodeDiedError names the node itself
        node = "node " + str(exc).split("Node IP:", 1)[1].split(",", 1)[0].strip()
    result = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
    result.return_value = JobCrashed(f"{type(exc).__name__}: {first_line(exc)}", node=node, host=info.get("host"))
    return result


if RayLauncher is not None:

    class HarnessRayLauncher(RayLauncher):
        """hydra-ray-launcher's RayLauncher with whole-node jobs, no retries and dead jobs as FAILED
        JobReturns (module docstring). Config: conf/hydra/launcher/ray.yaml."""

        started_ray = False

        def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
            """Start or connect to Ray once, submit every job of the batch as one Ray task on its own
            node, and return one JobReturn per job, in order (FAILED with JobCrashed for a dead one)."""
            import ray
            from hydra.core.singleton import Singleton
            from hydra.core.utils import configure_log, filter_overrides, setup_globals
            from omegaconf import OmegaConf, open_dict

            from harness.cluster import ray_remote_options

            setup_globals()
            assert self.config is not None and self.hydra_context is not None and self.task_function is not None
            configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
            sweep_dir = Path(str(self.config.hydra.sweep.dir))
            sweep_dir.mkdir(parents=True, exist_ok=True)
            if not ray.is_initialized():
                init = OmegaConf.to_container(self.ray_cfg.init, resolve=True) or {}
                ray.init(**{k: v for k, v in init.items() if v is not None})
                self.started_ray = True
            remote = OmegaConf.to_container(self.ray_cfg.remote, resolve=True) or {}
            options = ray_remote_options(remote, ray.nodes())
            job = ray.remote(**options)(run_job_on_node)
            log.info(f"Ray: {len(job_overrides)} jobs, {options['num_cpus']:g} CPUs each, sweep dir {sweep_dir}")

            submitted = []
            for i, overrides in enumerate(job_overrides):
                idx = initial_job_idx + i
                log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
                sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
                with open_dict(sweep_config):
                    sweep_config.hydra.job.id = f"job_id_for_{idx}"
                    sweep_config.hydra.job.num = idx
                placement = placement_file(sweep_dir, idx)
                placement.unlink(missing_ok=True)  # an earlier run of this sweep directory's
                ref = job.remote(str(placement), list(overrides), self.hydra_context, sweep_config,
                                 self.task_function, Singleton.get_state())  # fmt: skip
                submitted.append((overrides, placement, ref))

            results = []
            for overrides, placement, ref in submitted:
                try:
                    results.append(ray.get(ref))
                except ray.exceptions.RayError as exc:  # its worker or node died, or it could not start there
                    log.error(f"job {' '.join(filter_overrides(overrides))}: {type(exc).__name__}: {first_line(exc)}")
                    results.append(_crashed(overrides, exc, placement))
            return results

        def close(self) -> None:
            """Shut down the Ray instance this launcher started, or disconnect from the cluster it
            connected to (which keeps running)."""
            if self.started_ray:
                import ray

                ray.shutdown()
                self.started_ray = False
