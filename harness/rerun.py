"""`python -m harness.rerun SOURCE RUN_ID [--out DIR] [--tolerance PCT] [--python PATH]`: re-run one stored row.

Rebuilds the job from the configuration stored with the row (`config_json`), runs it again in a
fresh child process into DIR (default: SOURCE/reruns), and gives a verdict: the same accuracy and
agreement, and a p50 that is not significantly slower or faster by more than PCT (default 10%),
means "reproduced" (exit 0); anything else says what differs (exit 1). A row that cannot be
re-run (no such run_id, no stored configuration, a runtime not configured here) exits 2.

A results file is input from a stranger (README: "Trust model"). Only option values are taken
from it, each checked against its declared type. What chooses code — the workload and runtime
modules and the runtime's interpreter — comes from this checkout's conf/ (or --python), and paths
on the other machine (cache directories) are replaced by this machine's; each difference from
the stored row is said.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from harness import analysis, machine, results, untrusted
from harness.compare import min_effect_rule, runs_center
from harness.config import ConfigError, JobSpec
from harness.options import MACHINE_LOCAL, fields_marked
from harness.runner import run_job_isolated
from harness.summary import UNSTABLE_CV, between_run_cv, costs_of, p50s_of
from harness.tool_args import EXIT_INTERRUPTED, ToolParser, bounded, run_tool
from harness.untrusted import one_line, printable

EXIT_REPRODUCED, EXIT_DIFFERENT, EXIT_CANNOT = 0, 1, 2


def local_component(group: str, name: str) -> dict[str, object]:
    """The harness keys (module, and for runtimes python and setup_hint) of `conf/<group>/<name>.yaml`
    in this checkout. Raises ConfigError when this checkout has no such option."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from harness.cli import CONF_DIR

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            options = GlobalHydra.instance().config_loader().get_group_options(group)
            if name not in options:
                raise ConfigError(f"the stored {group} {name!r} is not configured here; known: {', '.join(options)}")
            node = OmegaConf.to_container(compose(config_name="config", overrides=[f"{group}={name}"])[group])
    finally:
        GlobalHydra.instance().clear()
    return {k: node.get(k) for k in ("module", "python", "setup_hint") if k in node}


def trusted_spec(stored: dict, python: str | None, cache_dir: str) -> tuple[JobSpec, list[str]]:
    """The stored configuration with everything that chooses code or local paths taken from here.
    Returns (validated spec, lines saying what differs from the stored row)."""
    spec = JobSpec.from_dict(stored)
    said = []
    for group, component in (("workload", spec.workload), ("runtime", spec.runtime)):
        local = local_component(group, component.name)
        if local["module"] != component.module:
            said.append(f"{group} module: stored {component.module!r}, this checkout's {local['module']!r} runs")
        component.module = str(local["module"])
    local_python = python if python is not None else local_component("runtime", spec.runtime.name).get("python")
    if (local_python or None) != (spec.runtime.python or None):
        said.append(f"interpreter: stored {spec.runtime.python!r}, this run uses {local_python or 'the harness own'!r}")
    spec.runtime.python = local_python or None
    spec.runtime.setup_hint = str(local_component("runtime", spec.runtime.name).get("setup_hint") or "")
    stored_cache = spec.cache_dir if isinstance(spec.cache_dir, str) and "\0" not in spec.cache_dir else None
    if stored_cache is None or Path(stored_cache).resolve() != Path(cache_dir).resolve():  # or written another way
        said.append(f"cache_dir: stored {spec.cache_dir!r}, this run uses {cache_dir!r}")
        spec.cache_dir = cache_dir
    from harness.config import component_class

    cls = component_class("runtime", spec.runtime.module)
    for name in fields_marked(cls.Options, MACHINE_LOCAL):
        if spec.runtime.options.get(name) is not None:
            said.append(f"runtime.{name}: stored {spec.runtime.options[name]!r} is a path on the machine that ran it; "
                        "not used")  # fmt: skip
            spec.runtime.options[name] = None
    return spec.validate(), said


def _against_runs(ratio: float, runs: np.ndarray, tolerance: float) -> tuple[bool, str, str]:
    """(within, verdict, method) of a change `ratio` against 2+ stored runs (their p50s, throughputs or
    rates: summary.figures_of; only their spread is read): within
    compare's minimum effect of them (twice their between-run CV) or `tolerance` percent either way,
    and never when they are unstable (between-run CV above summary.UNSTABLE_CV): a spread that wide
    allowed a 2x change (141%) and called it reproduced, so nothing can confirm them."""
    cv = between_run_cv(runs)
    allowed, rule = min_effect_rule(runs, runs, None)
    allowed = max(allowed, tolerance)
    within = analysis.within_effect(ratio, allowed) and cv <= UNSTABLE_CV
    if cv > UNSTABLE_CV:
        verdict = (f"cannot be confirmed: the stored runs are unstable (between-run CV "
                   f"{analysis.beyond_text(100 * cv, 100 * UNSTABLE_CV)}% > "
                   f"{100 * UNSTABLE_CV:g}%)")  # fmt: skip
    else:
        verdict = "within the stored runs' spread" if within else "outside the stored runs' spread"
    return within, verdict, f"allowed a change of {allowed:.1f}% either way: {rule}, or --tolerance"


def _within_tolerance(ratio: float, tolerance: float) -> tuple[bool, str]:
    """(within, verdict) of a change `ratio` against one stored run: `tolerance` percent either way, a cap."""
    within = analysis.within_effect(ratio, tolerance)
    return within, f"{'within' if within else 'beyond'} --tolerance {tolerance:g}% either way"


def speed_verdict(old: pd.Series, new: pd.Series, runs: np.ndarray, tolerance: float) -> tuple[bool, str]:
    """(whether the re-run's p50 reproduces, the line saying so). Against several stored runs:
    _against_runs, of their geometric mean. Against one stored run: within `tolerance` percent either
    way — a cap, whatever the test says: too few calls made an 87% change "not significant", and that
    is no reproduction. The test (latency_verdict) is shown beside it."""
    if len(runs) >= 2:  # the stored configuration ran several times: judge against its runs (compare's rule)
        center = runs_center(runs, old)
        stored = f"p50 of {len(runs)} stored runs (geometric mean) {center:.3f} ms"
        ratio = float(new["latency_ms_p50"] / center)
        within, verdict, method = _against_runs(ratio, runs, tolerance)
    else:
        stored = f"p50 {old['latency_ms_p50']:.3f} ms"
        test, ratio, evidence = analysis.latency_verdict(old, new)
        within, verdict = _within_tolerance(ratio, tolerance)
        method = f"{test}: {evidence}"
    return within, f"{stored} -> {new['latency_ms_p50']:.3f} ms (x{ratio:.3f}): {verdict} ({method})"


def figure_verdict(
    old: pd.Series, new: pd.Series, costs: np.ndarray, tolerance: float, figure: str
) -> tuple[bool, str]:
    """speed_verdict for a row judged on another figure than its p50 (analysis.FIGURES: an offline
    throughput, a qps search's highest rate), through its cost (analysis.cost_of_work; lower is faster):
    against several stored runs as speed_verdict (_against_runs); against one, within `tolerance`
    percent either way (one number per run: no test)."""
    cost = lambda row: float(analysis.cost_of_work(row.to_frame().T).iloc[0])  # noqa: E731
    if len(costs) >= 2:
        ratio = cost(new) / analysis.geometric_mean(costs)  # above 1: this run does less work per second
        within, verdict, method = _against_runs(ratio, 1.0 / costs, tolerance)  # CV of the figure, as summary.csv
        stored = f"{len(costs)} runs"
    else:
        ratio = cost(new) / cost(old)
        within, verdict = _within_tolerance(ratio, tolerance)
        method, stored = "one number per run: no test", "the stored run"
    return within, f"{figure}: x{1 / ratio:.3f} of {stored}: {verdict} ({method})"


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m harness.rerun", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("source", type=Path, help="the sweep directory or results file holding the row")
    parser.add_argument("run_id")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--tolerance", type=bounded(0, 1e9), default=10.0, metavar="PCT")
    parser.add_argument("--python", default=None, help="interpreter for the job (default: conf/runtime/<name>.yaml)")
    parser.add_argument("--cache-dir", default="outputs/cache", help="this machine's cache (default outputs/cache)")
    args = parser.parse_args(argv)
    source = analysis.source_dir(args.source)
    out = args.out or source / "reruns"
    try:
        # the re-run writes under `out` (results, rows/, jobs/, .claims/): never through a link planted there.
        # A directory given is someone else's results, all checked; a file names its rows only, and the
        # directory around it may be anything (a checkout's .venv/bin/python link refused every re-run)
        if args.out is None and out.is_symlink():  # reruns/ planted as a link (the directory given may be one)
            raise results.ResultsError(f"{out} is a symbolic link; the re-run writes there: remove it or give --out")
        results.check_no_links(source if args.out is None and args.source.is_dir() else out)
        frame = results.read_results(args.source)
        match = frame[frame["run_id"] == args.run_id]
        if match.empty:
            raise ConfigError(f"no row with run_id {args.run_id!r} in {args.source}")
        old = match.iloc[-1].copy()
        text = old.get("config_json")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"row {args.run_id} in {args.source} has no stored configuration (config_json)")
        try:
            stored = untrusted.json_loads(text)
        except ValueError as exc:
            raise ConfigError(f"row {args.run_id}: config_json is not JSON ({exc})") from None
        if not isinstance(stored, dict):
            raise ConfigError(f"row {args.run_id}: config_json is not a job configuration")
        try:
            spec, said = trusted_spec(stored, args.python, args.cache_dir)
            results.check_cache_dir(Path(spec.cache_dir))
        except ConfigError:
            raise
        except (TypeError, ValueError) as exc:  # a stored value of a type no option has (ConfigError names most)
            raise ConfigError(f"row {args.run_id}: config_json holds a value of the wrong type ({exc})") from None
        results.check_writable(out, option="--out")  # before "re-running ... into": rerun's own option named
        results.check_resumable(out)  # a damaged row already in the re-run's directory: said before the job
    except (ConfigError, results.ResultsError) as exc:
        print(f"harness.rerun: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_CANNOT
    for line in said:
        print(one_line(f"differs from the stored row: {line}"))
    host_lock_problem = machine.check_host_lock()
    if host_lock_problem:
        print(f"harness.rerun: {host_lock_problem}", file=sys.stderr)
        return EXIT_CANNOT
    label = f"rerun of {args.run_id}: {spec.workload.name} · {spec.runtime.name} · batch {spec.batch} · " + (
        spec.runtime.precision)  # fmt: skip
    print(f"re-running {one_line(str(args.run_id))} into {out}")
    started = datetime.now(UTC).replace(microsecond=0)
    try:
        new = pd.Series(run_job_isolated(spec, out, force=True, label=printable(label)).row)
    except KeyboardInterrupt:  # the job dies with its process group; its row is kept when it was written
        written = results.rows_written_since(out, started)
        kept = f"its row was written to {out}; no verdict was given" if written else "the re-run was not recorded"
        print(f"harness.rerun: interrupted; {kept}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        print(f"harness.rerun: {one_line(str(exc))}", file=sys.stderr)
        return EXIT_CANNOT
    old["source"], new["source"] = str(source), str(out)
    if new["status"] != results.OK or old["status"] != results.OK:
        why = f": {new['error']}" if isinstance(new.get("error"), str) and new["error"] else ""
        print(one_line(f"not reproduced: status was {old['status']}, now {new['status']}{why}"))
        return EXIT_DIFFERENT
    if (figure := analysis.figure_of(old)) is not None:  # judged on compare's figure
        within, line = figure_verdict(old, new, costs_of(frame, old), args.tolerance, figure[0])
    else:
        within, line = speed_verdict(old, new, p50s_of(frame, old), args.tolerance)
    print(line)
    same_scores = old["accuracy"] == new["accuracy"] and old["agreement"] == new["agreement"]
    print(f"accuracy {old['accuracy']:.4f} -> {new['accuracy']:.4f}; agreement {old['agreement']:.4f} -> "
          f"{new['agreement']:.4f}")  # fmt: skip
    for column in analysis.ENVIRONMENT_COLUMNS:
        if not analysis.same_recorded(old.get(column), new.get(column)):
            print(one_line(f"environment differs: {column}: {old.get(column)} -> {new.get(column)}"))
    for when, row in (("the stored row", old), ("the re-run", new)):  # a busy machine explains a slower p50
        for flag in machine.busy_flags(row):
            print(one_line(f"machine busy or drifting during {when}: {flag}"))
    same_inputs = True
    for column in ("model_hash", "data_hash"):  # rows from before these columns existed have none
        if not analysis.same_recorded(old.get(column), new.get(column)):
            print(one_line(f"not the same {column.split('_')[0]}: {column} {old.get(column)} -> {new.get(column)}"))
            same_inputs = False
    reproduced = same_scores and within and same_inputs
    print("reproduced" if reproduced else "not reproduced")
    return EXIT_REPRODUCED if reproduced else EXIT_DIFFERENT


if __name__ == "__main__":  # the job interrupted dies with its process group and writes no row
    run_tool(main, "harness.rerun", "the re-run was not recorded")
