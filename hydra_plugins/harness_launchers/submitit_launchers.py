"""Hydra's submitit launchers (hydra-submitit-launcher), changed so that nothing is lost:

- a job whose process died (killed, out of memory, its node lost, Slurm's time limit) is a FAILED
  `JobReturn` carrying `JobCrashed` that names the node (Slurm's NodeList; this host for
  submitit_local), instead of an exception out of `launch()` that loses every other job of the batch;
- submitit_local runs one job at a time: it is one machine, where the host lock would make the
  others wait anyway, while their controllers poll beside the measurement;
- the worker composes its job without Hydra's warning about presets named like the plugin's own
  config (conf/hydra/launcher/submitit_local.yaml is checked against that schema on purpose).

Slurm runs the jobs of a batch as an array (`array_parallelism` at once), each on a whole node
(`--exclusive` in conf/hydra/launcher/slurm.yaml). Without the cluster extra the classes do not
exist and the pre-flight check (harness/cluster.py) says how to install it.
"""

from __future__ import annotations

import logging
import socket
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.cluster import SCHEMA_MATCH_WARNING, JobCrashed, first_line

log = logging.getLogger(__name__)

try:
    from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
except ImportError:  # the cluster extra is not installed
    LocalLauncher = SlurmLauncher = None


def _executor(launcher: Any) -> Any:
    """The submitit executor the stock launcher builds, with its parameters."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
    from omegaconf import OmegaConf

    params = launcher.params
    specific = {"max_num_timeout"}
    init = {"folder": params["submitit_folder"]}
    init.update({f"{launcher._EXECUTOR}_{k}": v for k, v in params.items() if k in specific})
    executor = submitit.AutoExecutor(cluster=launcher._EXECUTOR, **init)
    base = set(OmegaConf.structured(BaseQueueConf).keys())
    executor.update_parameters(**{k if k in base else f"{launcher._EXECUTOR}_{k}": v for k, v in params.items()
                                  if k not in specific | {"submitit_folder"}})  # fmt: skip
    return executor


def _result(launcher: Any, overrides: Sequence[str], job: Any) -> Any:
    """The job's JobReturn, or a FAILED one carrying JobCrashed when its process never returned one."""
    from hydra.core.utils import JobReturn, JobStatus

    try:
        return job.results()[0]
    except Exception as exc:  # UncompletedJobError, FailedJobError, ...: the process died or never ran
        host = socket.gethostname() if launcher._EXECUTOR == "local" else None
        try:
            if launcher._EXECUTOR == "slurm":
                host = job.get_info().get("NodeList") or None
        except Exception:  # sacct may not know the job (yet)
            pass
        node = f"node {host or 'unknown'}, job {job.job_id} (state {job.state}; log {job.paths.stderr})"
        log.error(f"job {' '.join(overrides)}: {type(exc).__name__}: {first_line(exc)}")
        result = JobReturn(overrides=list(overrides), status=JobStatus.FAILED)
        result.return_value = JobCrashed(f"{type(exc).__name__}: {first_line(exc)}", node=node, host=host)
        return result


def _announced(launcher: Any, overrides: Sequence[str], job: Any, k: int, n: int) -> Any:
    """_result, said on the driver's console: a job's own progress lines go to its submitit log, so
    the driver names that log when it starts waiting and the job's status when it has returned."""
    log.info(f"[{k + 1}/{n}] waiting for submitit job {job.job_id}; its progress: {job.paths.stderr}")
    result = _result(launcher, overrides, job)
    said = result.status.name  # a returned job: its row's status (ok, failed, ...); a dead one: FAILED
    if said == "COMPLETED":
        said = f"row {getattr(result.return_value, 'status', said)}"
    log.info(f"[{k + 1}/{n}] submitit job {job.job_id}: {said}")
    return result


class _NothingLost:
    """What the two launchers share (module docstring)."""

    one_at_a_time = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:  # in the job's process
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=SCHEMA_MATCH_WARNING, category=UserWarning)
            return super().__call__(*args, **kwargs)  # type: ignore[misc]

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[Any]:
        """Submit the batch (one job at a time locally, an array on Slurm) and return one JobReturn per
        job, in order (FAILED with JobCrashed for a job whose process died)."""
        from hydra.core.singleton import Singleton
        from hydra.core.utils import filter_overrides

        assert self.config is not None  # type: ignore[attr-defined]
        executor = _executor(self)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))  # type: ignore[attr-defined]
        sweep_dir.mkdir(parents=True, exist_ok=True)
        arguments = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
            arguments.append((list(overrides), "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state()))
        if self.one_at_a_time:
            return [_announced(self, args[0], executor.submit(self, *args), k, len(arguments))
                    for k, args in enumerate(arguments)]  # fmt: skip
        jobs = executor.map_array(self, *zip(*arguments, strict=True))
        return [_announced(self, args[0], job, k, len(arguments))
                for k, (args, job) in enumerate(zip(arguments, jobs, strict=True))]  # fmt: skip


if LocalLauncher is not None:

    class HarnessLocalLauncher(_NothingLost, LocalLauncher):
        """submitit_local, one job at a time, dead jobs as FAILED JobReturns. Config:
        conf/hydra/launcher/submitit_local.yaml."""

        one_at_a_time = True

    class HarnessSlurmLauncher(_NothingLost, SlurmLauncher):
        """submitit on Slurm, dead jobs as FAILED JobReturns naming the node. Config:
        conf/hydra/launcher/slurm.yaml."""
