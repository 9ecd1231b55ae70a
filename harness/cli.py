"""`python -m harness`: the Hydra CLI and sweep layer over the plain library.

Before Hydra runs anything, every job of the sweep is composed and validated, so a bad
override costs one clear line and exit code 2, not half a sweep. Exit codes: 0 all jobs ok
(or honestly unsupported/unavailable), 1 a job failed (error/crashed/timeout), 2 bad input (refused
before anything ran, or a row `invalid`; 2 wins over 1).
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import sys
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field

from harness import cluster
from harness.config import ComponentConfig, ConfigError, JobSpec, RuntimeConfig
from harness.envinfo import PROJECT_ROOT
from harness.options import check_value
from harness.results import (
    ResultsError,
    check_cache_dir,
    check_hydra_places,
    check_no_links,
    check_resumable,
    check_writable,
    rows_written_since,
    utc_time,
)
from harness.tool_args import EXIT_INTERRUPTED
from harness.untrusted import one_line

CONF_DIR = PROJECT_ROOT / "conf"
COMPONENT_KEYS = ("name", "module")
RUNTIME_KEYS = (*COMPONENT_KEYS, "precision", "python", "setup_hint")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
MAX_CHECKED_JOBS = 5000
TOTAL_JOBS_ENV = "HARNESS_TOTAL_JOBS"  # for the `[n/total]` labels of jobs a launcher runs in other processes
warnings.filterwarnings("ignore", message=cluster.SCHEMA_MATCH_WARNING, category=UserWarning)


@dataclass
class Session:
    """What this invocation ran, for the closing table and exit code."""

    total_jobs: int = 0
    outcomes: list[Any] = field(default_factory=list)
    results_dirs: list[Path] = field(default_factory=list)
    in_driver: bool = False  # this process runs Hydra's sweep (main); a launcher's worker does not
    launcher: str = "basic"  # the hydra/launcher option
    sweep_dir: str | None = None  # the sweep directory as composed before Hydra runs
    launch_errors: list[str] = field(default_factory=list)  # one line each: a launcher that failed (harness/cluster.py)
    forced: bool = False  # a job of this invocation ran (or was launched) with force=true and no force_since
    # when this invocation started, to the second as rows' started_at (force_since of a forced sweep interrupted)
    started: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))


SESSION = Session()


# -- config -> spec ----------------------------------------------------------------------------
@dataclass
class CliOptions:
    """The command line's own keys (beside the job's); their defaults live in conf/config.yaml."""

    force: bool = False  # re-run finished jobs (an ok row, or this commit's unsupported: results.Finished)
    # ISO 8601 time (no zone: UTC): re-run only jobs whose newest row started before it; an interrupted
    # force=true sweep resumes with its start time (Ctrl-C prints the command)
    force_since: str | None = None
    results_dir: str | None = None  # None: the sweep directory (-m) or the run directory
    repeats: Annotated[int, Field(ge=1, le=100)] = 1  # runs of each configuration (harness/sweeper.py)
    repeat: Annotated[int, Field(ge=0, le=99)] = 0  # set by the sweeper: which run of its configuration

    def since(self) -> datetime | None:
        """force_since as an aware UTC time (results.utc_time), or None."""
        return utc_time(self.force_since)


JOB_KEYS = ("batch", "threads", "seed", "timeout_s", "cache_dir", "baseline", "pin_cores", "timing_inputs", "profile")
TOP_LEVEL_KEYS = ("workload", "runtime", "measure", "scenario", *JOB_KEYS, *CliOptions.__dataclass_fields__, "hydra")


def _plain(node: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def cli_options(cfg: Any) -> CliOptions:
    """The CLI keys of a composed config, type-checked (ConfigError otherwise)."""
    cfg = _plain(cfg)
    if type(cfg.get("force_since")) is int:  # force_since=20261202: ISO 8601's basic format, read by Hydra as a number
        cfg = {**cfg, "force_since": str(cfg["force_since"])}
    options = CliOptions(**{k: check_value(CliOptions, k, cfg.get(k), k) for k in CliOptions.__dataclass_fields__})
    if options.force_since is not None:
        since = options.since()
        if since is None:
            raise ConfigError(f"force_since={options.force_since!r} is not allowed: force_since must be an ISO 8601 "
                              "time such as 2026-12-02T01:00:00Z (no zone: UTC)")  # fmt: skip
        if since > datetime.now(UTC):  # every later resume would measure all again
            raise ConfigError(f"force_since={options.force_since!r} is not allowed: force_since must not be in the "
                              f"future (now {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ})")  # fmt: skip
    return options


def spec_from_config(cfg: Any) -> JobSpec:
    """Build and validate a `JobSpec` from a composed config (DictConfig or plain dict).
    Raises ConfigError for an unknown top-level key (e.g. `+foo=1`) or any invalid value."""
    cfg = _plain(cfg)
    unknown = sorted(set(cfg) - set(TOP_LEVEL_KEYS))
    if unknown:
        known = ", ".join(k for k in TOP_LEVEL_KEYS if k != "hydra")
        raise ConfigError(f"unknown key {unknown[0]!r}; known keys: {known}")
    cli_options(cfg)
    workload, runtime = dict(cfg["workload"]), dict(cfg["runtime"])
    spec = JobSpec(
        workload=ComponentConfig(
            name=workload.get("name"), module=workload.get("module"),
            options={k: v for k, v in workload.items() if k not in COMPONENT_KEYS},
        ),
        runtime=RuntimeConfig(
            name=runtime.get("name"), module=runtime.get("module"), precision=runtime.get("precision", "fp32"),
            python=runtime.get("python"), setup_hint=runtime.get("setup_hint") or "",
            options={k: v for k, v in runtime.items() if k not in RUNTIME_KEYS},
        ),
        measure=dict(cfg["measure"]), scenario=dict(cfg["scenario"]), **{k: cfg[k] for k in JOB_KEYS},
    )  # fmt: skip
    return spec.validate()


# -- validation of the command line before Hydra runs -----------------------------------------
# Hydra's flags that only show something: help, and modes it cannot combine with -m (it raises a ValueError)
HELP_FLAGS = ("--help", "-h", "--hydra-help")
MODE_FLAGS = ("--cfg", "-c", "--info", "-i", "--shell-completion", "-sc")


def _overrides_and_mode(argv: list[str]) -> tuple[list[str], bool, bool]:
    """(overrides, multirun?, only-inspect?) from the command line."""
    overrides = [a for a in argv if not a.startswith("-") and "=" in a]
    multirun = any(a in ("-m", "--multirun") for a in argv)
    inspect = any(a.split("=")[0] in (*HELP_FLAGS, *MODE_FLAGS) for a in argv)
    return overrides, multirun, inspect


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    cause = exc.__cause__
    if cause is not None and str(cause).strip():
        lines.append(str(cause).strip().splitlines()[0])
    return "; ".join(lines[:3])


def _unknown_key(exc: BaseException, compose: Any, overrides: list[str]) -> str | None:
    """'unknown key X; known keys here: ...' for an override of a key the config lacks."""
    match = re.search(r"Could not override '([^']+)'", str(exc))
    if not match or "not in struct" not in str(exc.__cause__ or exc):
        return None
    key = match.group(1)
    parent, _, leaf = key.rpartition(".")
    others = [o for o in overrides if not o.lstrip("+~").startswith(key + "=")]
    try:
        node = compose(config_name="config", overrides=others)
        node = node[parent] if parent else node
        known = ", ".join(k for k in node.keys() if k != "hydra")
    except Exception:
        return None
    return f"unknown key {key!r}; known keys{' of ' + parent if parent else ''}: {known}"


def _sweeper_params(compose: Any, parsed: list[Any], search: list[str]) -> list[Any]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    fixed = [o.input_line for o in parsed if not o.is_sweep_override()]
    try:
        params = compose(config_name="config", overrides=fixed, return_hydra_config=True).hydra.sweeper.params
    except Exception:  # the per-job checks below report what is wrong with these overrides
        return []
    given = {o.get_key_element().lstrip("+~") for o in parsed}
    extra = [f"{k}={v}" for k, v in (params or {}).items() if k not in given]
    return OverridesParser.create().parse_overrides(extra)


def check_command_line(argv: list[str]) -> tuple[list[str], int]:
    """Compose and validate every job the command line asks for.

    Returns (error lines, number of jobs). No errors means Hydra may run the sweep."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    overrides, multirun, _ = _overrides_and_mode(argv)
    from harness.machine import check_host_lock

    host_lock_problem = check_host_lock()  # every job takes it: a bad one is one line now, not an error per row
    if host_lock_problem:
        return [host_lock_problem], 0
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except HydraException as exc:
        return [f"cannot parse the overrides: {_one_line(exc)}"], 0

    # Extra config directories (hydra.searchpath) change which group options exist.
    search = [o.input_line for o in parsed if o.get_key_element().lstrip("+~") == "hydra.searchpath"]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        loader = GlobalHydra.instance().config_loader()
        groups = {
            g: loader.get_group_options(g, config_name="config", overrides=search)
            for g in ("workload", "runtime", "measure", "scenario", "experiment", "hydra/launcher")
        }
        if multirun:  # an experiment may carry its own sweep (hydra.sweeper.params); the command line wins
            parsed = parsed + _sweeper_params(compose, parsed, search)
        axes: list[list[str]] = []
        errors: list[str] = []
        hydra_settings: list[str] = []
        for override in parsed:
            key = override.get_key_element()
            if override.is_sweep_override() and not multirun:
                errors.append(f"{override.input_line!r} is a sweep; add -m to run one job per value")
                continue
            group = key.lstrip("+~")
            if group == "repeat":
                errors.append("repeat is set by the sweeper for each run; ask for runs with repeats=N")
                continue
            if group == "repeats" and override.is_sweep_override():
                errors.append(f"{override.input_line!r}: repeats cannot be swept; give one value")
                continue
            if group == "hydra/launcher" and override.is_sweep_override():
                errors.append(f"{override.input_line!r}: one launcher runs the whole sweep; give one value")
                continue
            if group in groups:
                values = (
                    list(override.value().filter(groups[group])) if override.is_sweep_override()
                    and hasattr(override.value(), "filter") else list(override.sweep_string_iterator())
                ) if override.is_sweep_override() else [override.get_value_element_as_str()]  # fmt: skip
                unknown = [v for v in values if v not in groups[group] and not override.is_delete()]
                if not values:
                    errors.append(f"{override.input_line!r} matches no {group}; allowed: {', '.join(groups[group])}")
                    continue
                if unknown:
                    allowed = [o for o in groups[group] if group != "hydra/launcher" or o in cluster.PRESETS]
                    errors.append(f"unknown {group} {unknown[0]!r}; allowed: {', '.join(allowed)}")
                    continue
                axes.append([f"{key}={v}" for v in values])
            elif key.startswith("hydra."):
                if not override.is_sweep_override():  # Hydra's own settings: not job parameters, but they
                    hydra_settings.append(override.input_line)  # choose the results directory
                continue
            elif override.is_sweep_override():
                axes.append([f"{key}={v}" for v in override.sweep_string_iterator()])
            else:
                axes.append([override.input_line])
        if errors:
            return errors, 0

        seen: set[str] = set()
        writable: set[str] = set()
        unlinked: set[str] = set()
        launchers_checked: set[str] = set()
        n_jobs = 0
        repeats = 1
        for combo in itertools.islice(itertools.product(*axes), MAX_CHECKED_JOBS):
            n_jobs += 1
            try:
                cfg = compose(config_name="config", overrides=[*search, *hydra_settings, *combo],
                              return_hydra_config=True)  # fmt: skip
                directory = results_dir_of(cfg, multirun)
                if directory not in writable:  # before any job runs, not after the first measurement
                    check_writable(Path(directory))
                    check_no_links(Path(directory))  # resuming into a directory from elsewhere
                    for note in check_resumable(Path(directory)):  # an older directory imported: what it recovered
                        print(f"harness: {one_line(note)}", file=sys.stderr)
                    writable.add(directory)
                hydra_dir = hydra_output_dir(cfg, multirun)
                if hydra_dir not in unlinked:  # Hydra writes multirun.yaml and <n>/.hydra/*.yaml there
                    check_hydra_places(Path(hydra_dir))
                    unlinked.add(hydra_dir)
                spec = spec_from_config(_without_hydra(cfg))
                if spec.cache_dir not in writable:
                    check_cache_dir(Path(spec.cache_dir))
                    writable.add(spec.cache_dir)
                repeats = cli_options(_without_hydra(cfg)).repeats
                if repeats > 1 and not multirun:
                    raise ConfigError(f"repeats={repeats} runs each configuration {repeats} times: add -m")
                _check_launcher_once(cfg, multirun, spec.timeout_s, launchers_checked)
            except (ConfigError, ResultsError) as exc:
                core = message = str(exc)
            except HydraException as exc:
                core = _one_line(exc)
                message = _unknown_key(exc, compose, [*search, *combo]) or (
                    f"bad override in {' '.join(combo) or '(defaults)'}: {core}"
                )
            except Exception as exc:  # a value Hydra accepted but our types cannot hold
                core = f"{type(exc).__name__}: {_one_line(exc)}"
                message = f"bad value in {' '.join(combo)}: {core}"
            else:
                continue
            if core not in seen:  # one line per distinct problem, not per job it spoils
                seen.add(core)
                errors.append(message)
    GlobalHydra.instance().clear()
    return errors, n_jobs * repeats


def _check_launcher_once(cfg: Any, multirun: bool, timeout_s: float, checked: set[str]) -> None:
    """The launcher's pre-flight (harness/cluster.py), once per distinct setting; records the launcher
    and the sweep directory in SESSION for main()."""
    from omegaconf import OmegaConf

    choice = OmegaConf.select(cfg, "hydra.runtime.choices", default={}).get("hydra/launcher") or "basic"
    launcher: Any = OmegaConf.select(cfg, "hydra.launcher") or {}
    try:
        launcher = _plain(launcher)
    except Exception:  # an interpolation only a running job can resolve (e.g. hydra.job.name)
        launcher = OmegaConf.to_container(launcher, resolve=False) if OmegaConf.is_config(launcher) else launcher
    key = f"{choice}|{launcher}|{timeout_s}"
    if key in checked:
        return
    cluster.check_launcher(choice, launcher, multirun=multirun, timeout_s=timeout_s)
    checked.add(key)
    if not SESSION.sweep_dir:
        SESSION.launcher, SESSION.sweep_dir = choice, str(OmegaConf.select(cfg, "hydra.sweep.dir"))


def _without_hydra(cfg: Any) -> Any:
    from omegaconf import OmegaConf

    return OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])


def hydra_output_dir(cfg: Any, multirun: bool) -> str:
    """Where Hydra itself writes for a job composed with its Hydra config: the sweep or run dir."""
    from omegaconf import OmegaConf

    return str(OmegaConf.select(cfg, "hydra.sweep.dir" if multirun else "hydra.run.dir"))


def results_dir_of(cfg: Any, multirun: bool) -> str:
    """Where a job composed with its Hydra config writes: results_dir, else the sweep or run dir."""
    from omegaconf import OmegaConf

    return str(OmegaConf.select(cfg, "results_dir") or hydra_output_dir(cfg, multirun))


# -- the Hydra task ---------------------------------------------------------------------------
def job_label(spec: JobSpec, options: CliOptions, number: int, total: int) -> str:
    """`[3/8] bert · eager · batch 1 · fp32` (with `· offline x2` under another scenario than single_stream,
    and `· run 2/3` with repeats); `[3]` when the total is unknown."""
    label = (
        f"[{number}/{total}] " if total else f"[{number}] "
    ) + f"{spec.workload.name} · {spec.runtime.name} · batch {spec.batch} · {spec.runtime.precision}"
    if spec.scenario.name != "single_stream":  # offline x1 and x2 jobs otherwise read alike
        label += f" · {spec.scenario.name} x{spec.scenario.streams}"
    return label + (f" · run {options.repeat + 1}/{options.repeats}" if options.repeats > 1 else "")


def run_task(cfg: Any) -> Any:
    """Hydra's task: run one job (runner.run_job_isolated) and return its JobOutcome, which a launcher
    that runs the job in another process or on another node hands back to the sweeper in the driver
    (hydra_plugins/harness_sweeper). Relative paths mean the driver's directory (hydra.runtime.cwd).
    In a launcher's worker the job writes only its own row file; the driver gathers the tables."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from harness.runner import run_job_isolated

    hydra_cfg = HydraConfig.get()
    multirun = hydra_cfg.mode == RunMode.MULTIRUN
    options = cli_options(cfg)
    results_dir = Path(options.results_dir or (hydra_cfg.sweep.dir if multirun else hydra_cfg.runtime.output_dir))
    task = _plain(cfg)
    driver_cwd = Path(hydra_cfg.runtime.cwd)
    if driver_cwd != Path.cwd():  # a worker elsewhere: relative paths are the driver's
        results_dir = cluster.resolve_against(results_dir, driver_cwd)
        task["cache_dir"] = str(cluster.resolve_against(task["cache_dir"], driver_cwd))
    spec = spec_from_config(task)
    number = (hydra_cfg.job.num if multirun else 0) + 1
    total = SESSION.total_jobs or int(os.environ.get(TOTAL_JOBS_ENV) or 0)
    label = job_label(spec, options, number, total)
    # one job again: no sweep settings, force=true added once, repeats=1 last (an experiment file setting
    # repeats=3, as the study's does, is refused without -m); Hydra's search path kept (where the workload
    # or experiment named was found), its other settings (sweep and output directories) dropped
    task_overrides = [*(o for o in hydra_cfg.overrides.hydra if key_of(o) == "hydra.searchpath"),
                      *(o for o in hydra_cfg.overrides.task
                        if key_of(o) not in ("repeat", "repeats", "force", "force_since")
                        and not key_of(o).startswith("hydra."))]  # fmt: skip
    rerun = " ".join(["python -m harness", *(shlex.quote(o) for o in task_overrides), "force=true", "repeats=1"])
    if results_dir not in SESSION.results_dirs:  # known from the job's start: Ctrl-C during it names it
        SESSION.results_dirs.append(results_dir)
    SESSION.forced |= options.force and options.since() is None
    outcome = run_job_isolated(
        spec, results_dir, force=options.force, since=options.since(), repeat=options.repeat, label=label,
        rerun_command=rerun.strip(), config_yaml=OmegaConf.to_yaml(cfg, resolve=True),
        gather=SESSION.in_driver or not multirun,
    )  # fmt: skip
    if outcome.skipped:
        print(f"{label}: skipped, {outcome.skip_reason}", file=sys.stderr)
    for note in outcome.notes:
        print(f"harness: {one_line(note)}", file=sys.stderr)
    SESSION.outcomes.append(outcome)
    return outcome


def _hydra_entry() -> None:
    import hydra

    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base=None)(run_task)()


def exit_code(statuses: list[str]) -> int:
    from harness.results import FAILED_STATUSES, INVALID

    if INVALID in statuses:
        return EXIT_BAD_INPUT
    if any(s in FAILED_STATUSES for s in statuses):
        return EXIT_FAILED
    return EXIT_OK


def options_of_swept_groups(argv: list[str]) -> list[str]:
    """`-m runtime=openvino,onnxruntime runtime.calibration_samples=16`: Hydra composes the sweep's primary
    config with the group's default option (eager), which lacks the key, and stops. Each job was already
    composed and validated (check_command_line), so such overrides become `++` (set or add): the jobs get
    them as given."""
    swept = {a.split("=", 1)[0] for a in argv if "=" in a and "," in a.split("=", 1)[1] and "." not in a.split("=")[0]}
    return [f"++{a}" if "=" in a and a[0] not in "+~" and a.split(".", 1)[0] in swept else a for a in argv]


def main(argv: list[str] | None = None) -> int:
    """The CLI (see README); Ctrl-C at any point is one line and exit 130, never a traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    SESSION.started = datetime.now(UTC).replace(microsecond=0)
    try:
        return _main(argv)
    except KeyboardInterrupt:  # a running child dies with its process group and holds no row
        where = ", ".join(str(d) for d in SESSION.results_dirs)
        command = finish_command(argv)
        if SESSION.forced:  # force=true measures every job again: the same command would start over, not resume
            again = f"to finish it, measuring only what this run has not: {shlex.join(command)}"
        else:
            again = "the same command resumes" if command == argv else f"{shlex.join(command)} resumes"
        # rows this run wrote (a row file is written once): a job interrupted as its row was written is kept
        measured = sum(rows_written_since(d, SESSION.started) for d in SESSION.results_dirs)
        if SESSION.launcher != "basic":  # a launcher's jobs may write their rows only at the end
            kept = f"finished jobs are kept in {where}"
        elif measured:
            kept = f"the {measured} job(s) this run finished are kept in {where}"
        else:
            kept = f"no job of this run had finished ({where} keeps what it held)"
        said = f"a job cut off before its row was written is not recorded; {kept}; {again}" if where else (
            "no job had started")  # fmt: skip
        print(f"harness: interrupted; {said}", file=sys.stderr)
        return EXIT_INTERRUPTED


def key_of(override: str) -> str:
    """The key an override sets: `+force=true`, `~force`, `force=true` all set `force`."""
    return override.lstrip("+~").split("=", 1)[0]


def finish_command(argv: list[str]) -> list[str]:
    """`argv` as the command that finishes this invocation: its results directory named where Hydra chose it
    (a new time-stamped directory each time: the same command would start elsewhere, from nothing), and after
    force=true, force_since=<this invocation's start> in its place (the same command would measure all again).
    Returned as given when nothing needs changing; else as `python -m harness ...`."""
    command = list(argv)
    if SESSION.forced:
        command = [a for a in command if key_of(a) not in ("force", "force_since")]
        command.append(f"force_since={SESSION.started:%Y-%m-%dT%H:%M:%SZ}")
    named = any(key_of(a) in ("results_dir", "hydra.sweep.dir", "hydra.run.dir") for a in command)
    if len(SESSION.results_dirs) == 1 and not named:
        where = str(SESSION.results_dirs[0])
        where = where if re.fullmatch(r"[\w./@:+-]+", where) else cluster.hydra_quote(where)
        multirun = any(a in ("-m", "--multirun") for a in command)
        command.append(f"hydra.sweep.dir={where}" if multirun else f"results_dir={where}")
    return command if command == argv else ["python", "-m", "harness", *command]


def _main(argv: list[str]) -> int:
    _, multirun, inspect = _overrides_and_mode(argv)
    modes = [a for a in argv if a.split("=")[0] in MODE_FLAGS]
    if modes and multirun:  # Hydra raises a ValueError (a traceback) for this
        print(f"harness: {modes[0]} is not allowed with -m: it shows one job's config; drop -m (and the sweep's "
              "commas), or drop it", file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    if not inspect:
        errors, n_jobs = check_command_line(argv)
        if errors:
            for line in errors:
                print(f"harness: {one_line(line)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        SESSION.total_jobs = n_jobs
        os.environ[TOTAL_JOBS_ENV] = str(n_jobs)  # a launcher's workers on this machine inherit it
    SESSION.in_driver = True
    # argparse wants flags before the overrides; users put -m anywhere.
    multirun_flags = [a for a in argv if a in ("-m", "--multirun")]
    argv = options_of_swept_groups(argv) if multirun_flags else argv
    if multirun_flags and SESSION.launcher != "basic" and SESSION.sweep_dir:
        # a worker resolves a relative sweep directory against its own directory (on Ray: `ray start`'s)
        sweep_dir = cluster.resolve_against(SESSION.sweep_dir, Path.cwd())
        argv = [a for a in argv if not a.startswith("hydra.sweep.dir=")]
        argv.append(f"hydra.sweep.dir={cluster.hydra_quote(str(sweep_dir))}")
    sys.argv = [sys.argv[0], *multirun_flags, *(a for a in argv if a not in multirun_flags)]
    try:
        _hydra_entry()
    except SystemExit as exc:  # Hydra reports its own errors and exits; those are bad input
        if exc.code not in (0, None):
            return EXIT_BAD_INPUT
    if inspect:
        return EXIT_OK

    from harness.report_table import print_session_table

    print_session_table(SESSION.results_dirs, SESSION.outcomes)
    for line in SESSION.launch_errors:  # the launcher itself failed (harness/cluster.py); rows so far are kept
        print(f"harness: {one_line(line)}", file=sys.stderr)
    if SESSION.launch_errors:
        return EXIT_FAILED if any(not o.skipped for o in SESSION.outcomes) else EXIT_BAD_INPUT
    return exit_code([o.status for o in SESSION.outcomes])
