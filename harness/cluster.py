"""Sweeps on more than one machine, through Hydra's own launcher plugins (Ray, submitit/Slurm).

The launchers run each Hydra job (`harness.cli.run_task`) in another process, often on another
node. What the harness adds around them, and where:

- **Pre-flight** (`check_launcher`, called by `cli.check_command_line` before Hydra runs): the
  chosen preset exists and its packages are installed, a Ray address answers (an unreachable one
  takes Ray ~14 minutes to give up), Slurm is there (`srun`), no option would make Ray re-run a
  killed job silently or wait forever for CPUs no node has. Problems are one line, exit 2.
- **Driver side** (`hydra_plugins/harness_sweeper/interleaved.py`, with the helpers here): every
  job's `JobReturn` comes back to the sweeper, which records its outcome for the closing table and
  exit code, writes its row file when the worker could not (no shared filesystem), turns a dead
  worker or node into a `crashed` row naming the node, skips finished jobs (an ok row for their
  config_hash and repeat, or this commit's `unsupported`: results.Finished) and gathers the tables —
  workers only write their own row file, so no lock is ever shared between nodes.
- **Launchers** (`hydra_plugins/harness_launchers/`): Hydra's Ray and submitit launchers, changed
  so that a job whose process died is a FAILED `JobReturn` (`JobCrashed`, naming the node) instead
  of an exception that loses the whole batch, Ray never retries, and a Ray job takes a whole node.

The host lock (harness/machine.py) still guarantees that two timed windows never share a
machine, whatever a scheduler packs onto it. Docs: docs/CLUSTER.md.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.untrusted import json_loads, one_line, read_regular

PRESETS = ("basic", "ray", "slurm", "submitit_local")  # hydra/launcher options the harness supports
RAY_PACKAGES = ("ray", "hydra_plugins.hydra_ray_launcher")
SUBMITIT_PACKAGES = ("submitit", "hydra_plugins.hydra_submitit_launcher")
INSTALL_HINT = (
    "install the cluster extra: make setup-cluster (pip install -e '.[cluster]' and "
    "pip install --no-deps -r requirements-cluster-nodeps.txt)"
)
# Keys of ray.init that only apply to a Ray instance the launcher starts itself.
RAY_LOCAL_ONLY = ("num_cpus", "num_gpus", "resources", "labels", "object_store_memory")
RAY_PROBE_TIMEOUT_S = 3.0
DEFAULT_RAY_PORT = 6379
RAY_CLIENT_PORT = 10001
PLACEMENT_DIR = ".placement"
# Hydra 1.3 warns that a preset named like the plugin's own config (ray, submitit_local) is checked
# against that config's schema; that check is what we want (a typo in a key is refused).
SCHEMA_MATCH_WARNING = r"\s*'hydra/launcher/\w+' is validated against ConfigStore schema with the same name"


class JobCrashed(RuntimeError):
    """The process running a Hydra job died (killed, out of memory, its node lost) before it
    returned; `node` names where it ran ("node unknown" when nothing says)."""

    def __init__(self, message: str, node: str = "node unknown", host: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.host = host


class LaunchRefused(RuntimeError):
    """The launcher found, once connected, that it cannot run these jobs (one line, e.g. no node has
    the CPUs asked for). The sweep stops; nothing is lost."""


def first_line(exc: BaseException | str) -> str:
    """The first non-blank line of an exception's message (or of a text), stripped; "" when none."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else ""


# -- pre-flight ------------------------------------------------------------------------------------
def kind_of(target: str) -> str:
    """'basic', 'ray', 'submitit_local', 'slurm' or 'other' for a launcher's `_target_`."""
    name = target.rsplit(".", 1)[-1]
    if target.endswith("BasicLauncher"):
        return "basic"
    if "Ray" in name and "AWS" not in name:
        return "ray"
    if name.endswith("LocalLauncher") and "submitit" in target:
        return "submitit_local"
    if name.endswith("SlurmLauncher"):
        return "slurm"
    return "other"


def _missing(modules: Sequence[str]) -> str | None:
    import importlib.util

    for module in modules:
        try:
            if importlib.util.find_spec(module) is None:
                return module
        except ImportError:
            return module
    return None


def check_launcher(choice: str, launcher: Mapping[str, Any], *, multirun: bool, timeout_s: float = 0.0) -> None:
    """Raise ConfigError (one line) when the launcher `choice` (the `hydra/launcher` option) with its
    composed settings `launcher` (`hydra.launcher`, plain) cannot run this sweep. `timeout_s` is the
    job's own timeout (s), which a submitit job's `timeout_min` must exceed. Probes a Ray address with
    a short TCP connect (RAY_PROBE_TIMEOUT_S); runs nothing else."""
    if choice == "basic" or choice is None:
        return
    if choice not in PRESETS:
        raise ConfigError(
            f"hydra/launcher={choice} is a plugin's own config without the harness's settings (one job per node, no "
            f"silent retries, crashed rows naming the node); use one of {', '.join(PRESETS)} (docs/CLUSTER.md)"
        )
    if not multirun:
        raise ConfigError(f"hydra/launcher={choice} launches the jobs of a sweep: add -m")
    kind = kind_of(str(launcher.get("_target_", "")))
    missing = _missing(RAY_PACKAGES if kind == "ray" else SUBMITIT_PACKAGES)
    if missing:
        raise ConfigError(f"hydra/launcher={choice} needs {missing}, which is not installed; {INSTALL_HINT}")
    if kind == "ray":
        _check_ray(launcher.get("ray") or {})
    elif kind in ("submitit_local", "slurm"):
        _check_submitit(choice, kind, launcher, timeout_s)


def _check_ray(ray: Mapping[str, Any]) -> None:
    init, remote = dict(ray.get("init") or {}), dict(ray.get("remote") or {})
    address = init.get("address")
    retries = remote.get("max_retries")
    if retries not in (None, 0):
        raise ConfigError(
            f"hydra.launcher.ray.remote.max_retries={retries}: Ray would re-run a job whose worker died, silently, "
            "and a half-run job can leave a row; use 0 (a dead job is a crashed row; re-running the sweep resumes)"
        )
    if address not in (None, "", "local"):
        given = [k for k in RAY_LOCAL_ONLY if init.get(k) is not None]
        if given:
            raise ConfigError(
                f"hydra.launcher.ray.init.{given[0]} applies to a Ray instance the launcher starts, not to the "
                f"cluster at {address} (its nodes say their own, e.g. `ray start --num-cpus`); remove it"
            )
        problem = ray_address_problem(str(address))
        if problem:
            raise ConfigError(problem)
    else:
        cpus, wanted = init.get("num_cpus"), remote.get("num_cpus")
        if cpus is not None and wanted is not None and float(wanted) > float(cpus):
            raise ConfigError(
                f"hydra.launcher.ray.remote.num_cpus={wanted} is more than the local Ray instance has "
                f"(init.num_cpus={cpus}); Ray would wait forever"
            )


def ray_address_problem(address: str) -> str | None:
    """None when something listens at the Ray `address` (host:port, ray://host:port, or auto), else
    one line saying what does not answer. A TCP connect of at most RAY_PROBE_TIMEOUT_S."""
    where = address
    if address == "auto":
        where = os.environ.get("RAY_ADDRESS") or ""
        current = Path("/tmp/ray/ray_current_cluster")
        if not where and current.exists():
            where = current.read_text().strip()
        if not where:
            return (
                "hydra.launcher.ray.init.address=auto: no running Ray cluster found on this machine ($RAY_ADDRESS "
                "unset, no /tmp/ray/ray_current_cluster); start one with `ray start --head` or give host:port"
            )
    client = where.startswith("ray://")
    host_port = where.removeprefix("ray://").split("/", 1)[0]
    host, _, port_text = host_port.rpartition(":") if ":" in host_port else (host_port, "", "")
    host = host.strip("[]") or host_port
    try:
        port = int(port_text) if port_text else (RAY_CLIENT_PORT if client else DEFAULT_RAY_PORT)
    except ValueError:
        return f"hydra.launcher.ray.init.address={address!r} is not host:port (e.g. 10.0.0.5:6379, ray://head:10001)"
    try:
        with socket.create_connection((host, port), timeout=RAY_PROBE_TIMEOUT_S):
            return None
    except OSError as exc:
        why = type(exc).__name__ if not exc.strerror else exc.strerror
        return (
            f"hydra.launcher.ray.init.address={address!r}: the Ray cluster at {host}:{port} does not answer ({why}); "
            "start it (`ray start --head` on the head node) or fix the address"
        )


def _check_submitit(choice: str, kind: str, launcher: Mapping[str, Any], timeout_s: float) -> None:
    if kind == "slurm":
        if shutil.which("srun") is None:
            partition = launcher.get("partition")
            where = f" (partition {partition!r})" if partition else ""
            raise ConfigError(
                f"hydra/launcher={choice}{where} needs Slurm, and srun is not found on this machine; run from a "
                "Slurm login node, or try the sweep here with hydra/launcher=submitit_local"
            )
        partitions = slurm_partitions()
        partition = launcher.get("partition")
        if partition and partitions and partition not in partitions:
            allowed = ", ".join(partitions)
            raise ConfigError(f"hydra.launcher.partition={partition!r} is not a Slurm partition; allowed: {allowed}")
    minutes = launcher.get("timeout_min")
    if minutes is not None and timeout_s and float(minutes) * 60 <= timeout_s:
        raise ConfigError(
            f"hydra.launcher.timeout_min={minutes} is not longer than the job's timeout_s={timeout_s:g}: submitit "
            "would kill the job before the harness could record why; raise timeout_min"
        )


def slurm_partitions() -> list[str]:
    """The partitions `sinfo` lists (empty when it cannot say)."""
    if shutil.which("sinfo") is None:
        return []
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.strip().rstrip("*") for line in out.stdout.splitlines() if line.strip()})


def hydra_quote(value: str) -> str:
    """`value` as a quoted Hydra override value (a path with commas or spaces stays one value)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def resolve_against(path: str | Path, base: str | Path) -> Path:
    """`path` if absolute, else `base / path`: a relative path means the driver's directory, not
    the directory a worker happens to run in."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base) / path


# -- where a job ran (written by the worker, read by the driver when the worker died) -------------------
def placement_file(sweep_dir: str | Path, job_num: int) -> Path:
    """Where the worker running job `job_num` records its node: `<sweep_dir>/.placement/job<N>.json`."""
    return Path(sweep_dir) / PLACEMENT_DIR / f"job{job_num}.json"


def record_placement(path: str | Path, overrides: Sequence[str], node_ip: str | None = None) -> None:
    """Write {host, node_ip, pid, overrides, started} for the driver (best effort: it needs a
    filesystem shared with the driver; without one, the driver says "node unknown")."""
    info = {"host": socket.gethostname(), "node_ip": node_ip, "pid": os.getpid(), "overrides": list(overrides),
            "started": time.time()}  # fmt: skip
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(info))
        os.replace(tmp, path)
    except OSError:
        pass


def read_placement(path: str | Path) -> dict[str, Any]:
    """What record_placement wrote ({} when the file is missing or unreadable). The sweep directory may
    be someone else's: read as untrusted (a regular file of at most 1 MiB, JSON that cannot exhaust the stack)."""
    try:
        info = json_loads(read_regular(Path(path), max_bytes=2**20))
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return {}


def describe_node(info: Mapping[str, Any]) -> str:
    """'node 10.0.0.5 (host-a), pid 123' from what a worker recorded."""
    if not info:
        return "node unknown"
    parts = [f"node {info.get('node_ip') or info.get('host') or '?'}"]
    if info.get("host") and info.get("node_ip"):
        parts[0] += f" ({info['host']})"
    if info.get("pid"):
        parts.append(f"pid {info['pid']}")
    return ", ".join(parts)


# -- ray remote options --------------------------------------------------------------------------------
def ray_remote_options(remote: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `ray.remote` options for one harness job: the given ones without nulls; `num_cpus` null
    means every CPU of the smallest node, so each job takes a whole node; `max_retries` 0 unless given.
    `nodes` is `ray.nodes()`. Raises LaunchRefused when no alive node has that many CPUs (Ray would
    wait forever)."""
    options = {k: v for k, v in remote.items() if v is not None}
    cpus = [float(n.get("Resources", {}).get("CPU", 0)) for n in nodes if n.get("Alive", True)]
    cpus = [c for c in cpus if c > 0]
    if not cpus:
        raise LaunchRefused("the Ray cluster has no alive node with CPUs")
    if "num_cpus" not in options:
        options["num_cpus"] = min(cpus)
    elif float(options["num_cpus"]) > max(cpus):
        raise LaunchRefused(
            f"hydra.launcher.ray.remote.num_cpus={options['num_cpus']:g}: no node of the Ray cluster has that many "
            f"CPUs (the largest has {max(cpus):g}); Ray would wait forever"
        )
    options.setdefault("max_retries", 0)
    return options


# -- driver side: rows for jobs that never returned one ----------------------------------------------
@dataclass
class JobContext:
    """What the driver knows about one job of the sweep, from its composed config."""

    spec: Any  # harness.config.JobSpec
    results_dir: Path
    repeat: int
    force: bool
    label: str
    since: datetime | None = None  # force_since: only rows started at or after it count as finished


def job_context(cfg: Any, base: Path, number: int, total: int) -> JobContext:
    """The job's spec, results directory (relative paths against `base`, the driver's directory),
    repeat, force and label, from its config composed with its Hydra node. Raises ConfigError."""
    from harness.cli import _without_hydra, cli_options, job_label, results_dir_of, spec_from_config

    task = _without_hydra(cfg)
    spec = spec_from_config(task)
    options = cli_options(task)
    results_dir = resolve_against(results_dir_of(cfg, True), base)
    return JobContext(spec, results_dir, options.repeat, options.force, job_label(spec, options, number, total),
                      options.since())  # fmt: skip


def failure_row(context: JobContext, exc: BaseException) -> dict[str, Any]:
    """The row of a job whose process never returned one: `crashed` when the process or its node
    died (JobCrashed), `error` for an exception the job raised. The host columns are the node's as
    far as known, never the driver's."""
    import uuid

    from harness.runner import identity_columns

    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
    row = identity_columns(context.spec, run_id, context.repeat)
    crashed = isinstance(exc, JobCrashed)
    host = exc.host if crashed else None
    node = exc.node if crashed else "node unknown"
    # the driver's machine columns would be a lie for another node
    row.update(hostname=host, cpu_model=None, cpu_flags=None)
    if crashed:
        error = f"the job's process died on {node}: {exc}"
    else:
        error = f"{type(exc).__name__}: {first_line(exc)}"
    row.update(status="crashed" if crashed else "error", error=error,
               started_at=datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip
    return row


def launch_failure(exc: BaseException, n_jobs: int) -> str:
    """One line for a launcher that failed as a whole (its jobs did not run)."""
    if isinstance(exc, LaunchRefused):
        return f"{exc}; the {n_jobs} jobs of this batch did not run"
    return (
        f"the launcher failed: {type(exc).__name__}: {first_line(exc)}; the {n_jobs} jobs of this batch did not run "
        "(rows already written are kept; run the same command again to resume)"
    )


class Collector:
    """The driver's side of a sweep (hydra_plugins/harness_sweeper): records what each job returned in
    `harness.cli.SESSION` (closing table, exit code), writes a row file a worker could not write where
    the driver reads it (no shared filesystem), makes the row of a job that returned none, skips finished
    jobs (results.Finished), and gathers the tables. `in_process`: the jobs run in this process
    (Hydra's basic launcher), which records and gathers each job itself."""

    def __init__(self, loader: Any, config: Any, in_process: bool) -> None:
        self.loader, self.config, self.in_process = loader, config, in_process
        self.base = Path.cwd()
        self.dirs: list[Path] = []
        self.position = 0
        self.stopped = False  # a results directory began holding a row report refuses: no further job runs

    def stop(self, exc: Exception) -> None:
        """Stop the sweep in one line (README: a row report refuses stops the sweep): a row file planted or
        damaged in the results directory while the sweep ran (a foreign writer). Said once, after the table."""
        from harness.cli import SESSION

        line = f"stopped: {first_line(exc)}; move that row file away and run the same command to resume"
        if line not in SESSION.launch_errors:
            SESSION.launch_errors.append(line)
        self.stopped = True

    def context(self, overrides: Sequence[str], number: int) -> JobContext:
        """The job's JobContext, composed here in the driver from its overrides (label number `number`)."""
        from harness.cli import SESSION

        cfg = self.loader.load_sweep_config(self.config, list(overrides))
        return job_context(cfg, self.base, number, SESSION.total_jobs)

    def without_finished(self, batch: list[list[str]]) -> list[list[str]]:
        """The jobs of `batch` to launch: those not finished (results.Finished: an ok row for their
        (config_hash, repeat), or this commit's `unsupported`), all of them with force=true; each one
        skipped is recorded and said."""
        from harness import results
        from harness.cli import SESSION
        from harness.runner import JobOutcome

        keep, finished = [], {}
        for overrides in batch:
            self.position += 1
            if self.stopped:
                continue
            ctx = self.context(overrides, self.position)
            key = (ctx.spec.config_hash(), ctx.repeat)
            # known before the launch: Ctrl-C while the workers measure names the directory and the way to finish
            SESSION.forced |= ctx.force and ctx.since is None
            if ctx.results_dir not in SESSION.results_dirs:
                SESSION.results_dirs.append(ctx.results_dir)
            where = (ctx.results_dir, ctx.since)
            if where not in finished:
                try:
                    finished[where] = (results.completed(ctx.results_dir, since=ctx.since)
                                       if ctx.results_dir.exists() else results.Finished())  # fmt: skip
                except results.ResultsError as exc:
                    self.stop(exc)
                    continue
            if (ctx.force and ctx.since is None) or key not in finished[where]:
                if not ctx.force and key in finished[where].other_code:
                    print(f"{ctx.label}: measured again: its ok row was measured by other harness code "
                          "(harness_code), and the summary counts one software's runs", file=sys.stderr)  # fmt: skip
                keep.append(overrides)
                continue
            status, reason = finished[where].reason(*key)
            print(f"{ctx.label}: skipped, {reason}", file=sys.stderr)
            self._record(JobOutcome(row={"config_hash": key[0], "repeat": key[1], "status": status}, skipped=True,
                                    skip_reason=reason), ctx.results_dir)  # fmt: skip
        return keep

    def collect(self, overrides: Sequence[str], result: Any, job_num: int) -> None:
        """Record one job's JobReturn; never raises for the job's own failure."""
        from hydra.core.utils import JobStatus

        from harness import results
        from harness.runner import JobOutcome

        value = result._return_value  # .return_value would re-raise a failed job's exception
        if result.status == JobStatus.COMPLETED and isinstance(value, JobOutcome):
            if self.in_process:
                return  # run_task recorded it and gathered
            ctx = self.context(overrides, job_num + 1)
            run_id = value.row.get("run_id")
            if not value.skipped and run_id and not (ctx.results_dir / results.ROWS_DIR / f"{run_id}.json").exists():
                results.write_row(ctx.results_dir, value.row, value.latencies_ms)  # the worker's disk is not ours
            self._record(value, ctx.results_dir)
            return
        exc = value if isinstance(value, BaseException) else RuntimeError(f"the job returned {value!r}, not a row")
        if isinstance(exc, results.ResultsError):  # the job found a row it cannot trust in the directory
            self.stop(exc)
            return
        ctx = self.context(overrides, job_num + 1)
        from harness.cli import SESSION

        # under force=true, an ok row of this invocation: not one it replaced (which a crash row would now replace)
        since = ctx.since or (SESSION.started if ctx.force else None)
        try:
            if (ctx.spec.config_hash(), ctx.repeat) in results.completed(ctx.results_dir, since=since).ok:
                # it wrote its ok row, then its process died before returning it: that row is the job's outcome
                self._record(JobOutcome(row=self._ok_row(ctx, since)), ctx.results_dir)
                return
        except results.ResultsError as refused:
            self.stop(refused)
            return
        row = failure_row(ctx, exc)
        results.write_row(ctx.results_dir, row)
        print(f"{ctx.label}: {row['status']}", file=sys.stderr)
        self._record(JobOutcome(row=row), ctx.results_dir)
        if self.in_process:
            results.gather(ctx.results_dir)

    @staticmethod
    def _ok_row(ctx: JobContext, since: datetime | None) -> dict[str, Any]:
        """The newest ok row of the job's (config_hash, repeat) in its results directory, started at or
        after `since`: what the closing table shows for a job whose process died after writing it."""
        import pandas as pd

        from harness import results

        frame = results.read_results(ctx.results_dir)
        repeats = pd.to_numeric(frame["repeat"], errors="coerce").fillna(0)
        mine = frame[(frame["config_hash"] == ctx.spec.config_hash()) & (repeats == ctx.repeat)
                     & (frame["status"] == results.OK) & results.started_since(frame, since)]  # fmt: skip
        return results.by_start(mine).iloc[-1].to_dict()

    def _record(self, outcome: Any, results_dir: Path) -> None:
        from harness.cli import SESSION

        SESSION.outcomes.append(outcome)
        if results_dir not in SESSION.results_dirs:
            SESSION.results_dirs.append(results_dir)
        if results_dir not in self.dirs:
            self.dirs.append(results_dir)

    def gather(self) -> None:
        """Rewrite the tables of every results directory this sweep wrote to (jobs in other processes
        only write their row files)."""
        from harness import results

        if self.in_process:
            return
        for directory in self.dirs:
            for note in results.gather(directory).notes:
                print(f"harness: {one_line(note)}", file=sys.stderr)
