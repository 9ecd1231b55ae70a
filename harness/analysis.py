"""Shared analysis of result sets: loading several sources, picking the row that stands for a
configuration, speed-ups over eager, significance of latency differences, environment facts."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness import results, untrusted
from harness.config import measured_identity
from harness.results import key_text, recorded_text  # defined in results, whose standing keys repeats by them

# What identifies "the same measurement" across result sets.
# what a row measured, as compare joins it: `load` is the scenario and timed inputs (load_of)
CONFIG_KEY = ["workload", "runtime", "batch_size", "precision_requested", "load"]
# Facts whose difference makes two result sets not directly comparable.
ENVIRONMENT_COLUMNS = ["cpu_model", "cpu_flags", "hostname", "python_version", "torch_version", "transformers_version",
                       "runtime_version", "harness_git_sha", "threads"]  # fmt: skip
SIGNIFICANCE_P = 0.01
# |log ratio| below this is rounding, not a difference: the mean of the logs of three equal p50s and of
# two differ in the last bit (a ratio of 1 + 4e-16 was "slower" at p=0 between identical runs)
RATIO_TOLERANCE = 1e-9
# The verdict when the test has no answer (a p-value of NaN: raw latencies that are no numbers). Never read as
# "no significant difference": compare --fail-on-regression fails on it.
CANNOT_DECIDE = "cannot decide"
MAX_VARIANT_CHARS = 200  # a setting shown in `variant` / `differs` is cut here


def same_recorded(a: object, b: object) -> bool:
    """Equal as recorded (see recorded_text). A value one side did not record (older result files)
    is not a difference."""
    if pd.isna(a) or pd.isna(b):  # type: ignore[call-overload]
        return True
    return recorded_text(a) == recorded_text(b)


def source_dir(path: Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def load(paths: Sequence[Path], notes: list[str] | None = None) -> pd.DataFrame:
    """Rows of every source, with `source` (the directory) and `lineage` (lineages) added; raw latencies
    stay on disk. A run
    (run_id) found in more than one source is kept once, from the first, and said in `notes`. A
    directory's tables are gathered from its row files first, where it is writable (a sweep whose
    driver never got to gather, e.g. on a cluster). Raises results.ResultsError (one line) for a
    missing, unreadable, foreign or empty source, and for a directory holding a symbolic link
    (results.check_no_links)."""
    frames = []
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise results.ResultsError(f"{path} does not exist; give a sweep directory or a results.csv/.parquet file")
        gathered = False
        if path.is_dir():  # before gather writes its views there, or a linked rows/ is read
            results.check_no_links(path)
        if path.is_dir() and (path / results.ROWS_DIR).is_dir() and os.access(path, os.W_OK):
            try:
                found = results.gather(path).notes
                gathered = True
                if notes is not None:
                    notes.extend(found)
            except (OSError, results.ResultsError):
                pass  # the row files are read below all the same
        frame = results.read_results(path, None if gathered else notes)
        if frame.empty:
            raise results.ResultsError(f"{path} holds no result rows")
        frame["source"] = str(source_dir(path))
        frame["load"] = frame["config_json"].map(load_of) if "config_json" in frame else ""
        unknown = frame["load"] == ""
        if notes is not None and unknown.any():
            # without its configuration a row's load is unknown: it meets only rows equally unknown
            notes.append(f"{path}: {int(unknown.sum())} row(s) without a readable config_json; their load "
                         "(scenario, inputs) is unknown, so they are set beside no row that has one")  # fmt: skip
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame["lineage"] = frame["source"].map(lineages(frame))
    # one run given twice (a directory and its results.csv, or a copy of it) is one run: counted twice, it made
    # a between-run CI of 0 width from a single process and "shown faster" of it
    twice = frame["run_id"].duplicated()
    if twice.any():
        first = frame.loc[twice.idxmax()]
        where = " and ".join(map(str, frame.loc[frame["run_id"] == first["run_id"], "source"].unique()[:2]))
        if notes is not None:
            notes.append(f"{int(twice.sum())} row(s) appear in more than one source (run_id {first['run_id']!r} in "
                         f"{where}); each run counted once, from the first source given")  # fmt: skip
        frame = frame[~twice].reset_index(drop=True)
    return frame


def lineages(frame: pd.DataFrame) -> dict[str, str]:
    """source -> its lineage: the first in sorted order of the sources linked to it by a shared run_id (a
    copy of a sweep directory, continued: a forced re-run there replaces the runs it shares with the
    original). Independent sweeps share no run and stay apart: their repeat 0s are two runs (standing).
    Whatever order the sources were given in, the same lineages (a replaced run counted or not by order)."""
    parent = {source: source for source in frame["source"].unique()}

    def root(source: str) -> str:
        while parent[source] != source:
            source = parent[source]
        return source

    shared = frame[frame["run_id"].duplicated(keep=False)]  # only a run found twice links two sources
    for sources in shared.groupby("run_id", sort=False)["source"].unique():
        first, *rest = sorted(map(root, sources))
        for other in rest:
            parent[other] = first
    return {source: root(source) for source in parent}


def latest(frame: pd.DataFrame, key: Sequence[str] = tuple(CONFIG_KEY)) -> pd.DataFrame:
    """One row per `key`: of the rows that stand for their repeat (results.standing: a repeat measured
    again is its newest row), the newest ok row, else the newest row (which says why it failed). An ok run
    replaced by a failed re-run of the same repeat is not shown (compare once judged on it)."""
    frame = results.by_start(results.standing(frame))
    frame = frame.assign(_ok=(frame["status"] == results.OK).astype(int)).sort_values("_ok", kind="stable")
    return frame.drop_duplicates(list(key), keep="last").drop(columns="_ok").reset_index(drop=True)


def _flat(value: object, prefix: str = "") -> dict[str, object]:
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
    return {prefix[:-1]: value}


def variant_labels(frame: pd.DataFrame, settings: pd.Series | None = None) -> pd.Series:
    """Per row, the settings that tell it apart from rows of the same CONFIG_KEY (workload, runtime,
    batch, precision, load) but another configuration, e.g. `workload.options.seq_len=64` or
    `threads=1`; "" where the configuration ran with one set of settings. `settings` is each row's
    configuration_settings text (default: read from `config_json`). Where no flat key differs (null
    vs {}, unreadable text) the settings text itself is the label. Labels are cut to
    MAX_VARIANT_CHARS (cut_text). The report and compare both label rows with it."""
    out = pd.Series("", index=frame.index, dtype=object)
    if settings is None:
        if "config_json" not in frame:
            return out
        settings = frame["config_json"].map(configuration_settings)
    for _, group in settings.groupby([frame[k] for k in CONFIG_KEY if k in frame], dropna=False):
        if group.nunique() < 2:
            continue
        differing = settings_differences(list(group))
        for index, text in group.items():
            flat = flat_settings(text)
            out[index] = cut_text("; ".join(f"{k}={flat.get(k)}" for k in differing) or f"configuration {text}")
    return out


def cut_text(text: str) -> str:
    """`text` cut to MAX_VARIANT_CHARS, ending in "..." when cut (a setting shown in a table)."""
    return text if len(text) <= MAX_VARIANT_CHARS else text[: MAX_VARIANT_CHARS - 3] + "..."


# The figure a row is judged on where its scenario's figure of merit is not the p50 (MLPerf's scenarios):
# {kind: (name, column)}; each is taken as a cost, 1 / figure (lower is faster), as a p50 is
FIGURES = {
    "offline": ("throughput (samples/s)", "throughput_sps"),
    "search": ("highest rate meeting the bound", "max_qps_meeting_bound"),
}


def figure_kinds(frame: pd.DataFrame) -> pd.Series:
    """Per row, its FIGURES kind: "offline", "search" (a server row of a qps search), or "" (judged on
    its p50: single stream, a fixed-rate server)."""
    scenario = frame["scenario"].astype(str) if "scenario" in frame else pd.Series("", index=frame.index)
    searches = frame.get("qps_search", pd.Series(np.nan, index=frame.index))
    searching = (scenario == "server") & searches.map(lambda v: isinstance(v, str) and bool(v))
    return pd.Series(np.where(scenario == "offline", "offline", np.where(searching, "search", "")), index=frame.index)


def figure_of(row: pd.Series) -> tuple[str, str] | None:
    """(name, column) of the figure `row` is judged on instead of its p50 (FIGURES), None for a p50."""
    return FIGURES.get(figure_kinds(row.to_frame().T).iloc[0])


def geometric_mean(values: Sequence[float] | np.ndarray) -> float:
    """exp(mean(log(values))): the centre of ratios and of runs' latencies (Fleming & Wallace 1986)."""
    return float(np.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def bound_verdict(row: pd.Series) -> str:
    """A server row's `meets_latency_bound` as text: "met", "missed", or "not established" (empty: too
    short a window, measure.measure_server), whatever type a file stored it as."""
    verdict = row.get("meets_latency_bound")
    return "met" if verdict in (True, "True", 1) else "missed" if verdict in (False, "False", 0) else "not established"


def cost_of_work(frame: pd.DataFrame, p50: pd.Series | None = None) -> pd.Series:
    """Per row, what its speed is judged on, as a cost (lower is faster), by MLPerf's figure of merit for
    its scenario: offline 1 / throughput_sps (s per sample: p50s of overlapping requests are no speed),
    a server qps search 1 / max_qps_meeting_bound (its p50s were taken at different rates), otherwise
    `p50` (ms; default latency_ms_p50). Ratios of costs are speed-ups; costs rank only rows of one load."""
    cost = pd.to_numeric(frame["latency_ms_p50"] if p50 is None else p50, errors="coerce").astype(float).copy()
    kinds = figure_kinds(frame)
    for kind, (_, column) in FIGURES.items():
        chosen = kinds == kind
        if chosen.any():
            figure = pd.to_numeric(frame.loc[chosen, column], errors="coerce") if column in frame else np.nan
            with np.errstate(divide="ignore"):
                cost[chosen] = 1.0 / figure
    return cost


# Parts of a configuration other_settings() leaves out: what ran (runtime, precision, options), how long
# it was timed (measure: a longer run is the same figure, better known), the speed-up method (baseline:
# eager's own figure is measured the same either way), and those conditions() holds as columns.
_NOT_CONDITIONS = ("runtime", "measure", "baseline", "workload", "batch", "threads", "scenario", "timing_inputs")


def other_settings(config_json: object) -> str:
    """The settings of a stored configuration that conditions() holds as text: every measured setting
    but _NOT_CONDITIONS (today pin_cores, seed, profile; any added later), canonical JSON; "" without a
    readable configuration."""
    config = measured_identity(config_of(config_json))
    rest = {k: v for k, v in config.items() if k not in _NOT_CONDITIONS}
    return json.dumps(rest, sort_keys=True, default=str) if config else ""


def conditions(frame: pd.DataFrame) -> pd.Series:
    """Per row, the conditions it was measured under apart from what ran (runtime, options, precision):
    workload and its settings (same_samples: model, data, host), batch, threads, load and
    other_settings (pinned cores or not, seed, profiler). A speed-up over eager, an INT8 row's fp32
    baseline and a doubt about eager's row only set rows of equal conditions side by side: eager pinned
    is no baseline of a runtime unpinned (it read 2.00x over itself)."""
    threads = frame["threads"].map(key_text) if "threads" in frame else pd.Series("", frame.index)
    load = frame["load"].fillna("") if "load" in frame else pd.Series("", frame.index)
    rest = frame["config_json"].map(other_settings) if "config_json" in frame else pd.Series("", frame.index)
    return pd.Series(
        list(zip(same_samples(frame), frame["batch_size"].map(key_text), threads, load, rest, strict=True)),
        index=frame.index,
    )


def with_speedup(frame: pd.DataFrame, p50: pd.Series | None = None) -> pd.DataFrame:
    """Adds `speedup_vs_eager`: eager's p50 over this row's, at the same precision and conditions()
    (workload settings: one result set may hold MiniLM and BERT-base rows of workload `bert`; batch,
    threads, scenario and timed inputs, pinned cores, seed; host: a speed-up is never taken against
    another machine's eager), unless the row carries a paired one of its own (baseline=paired). `p50` (ms, per
    row of `frame`; default its latency_ms_p50) is the figure each side stands for, e.g. its runs'
    geometric mean where it ran several times). The figure of merit follows the load, as MLPerf's
    scenarios define it: offline rows compare throughput (samples/s: eager's over this row's is no
    latency ratio when requests overlap), a server qps search compares the highest rates that met the
    bound (its p50s were measured at different rates); single stream and a fixed-rate server compare p50s."""
    frame = frame.copy()
    p50 = cost_of_work(frame, p50)
    keys = pd.Series(list(zip(conditions(frame), frame["precision_requested"], strict=True)), index=frame.index)
    eager = (frame["runtime"] == "eager") & (frame["status"] == results.OK)
    base = pd.Series(p50[eager].to_numpy(), index=keys[eager].to_numpy())
    base = base[~base.index.duplicated(keep="last")]
    ratios = pd.Series([base.get(k, np.nan) / p if p and p == p else np.nan
                        for k, p in zip(keys, p50, strict=True)], index=frame.index)  # fmt: skip
    # a row measured with baseline=paired keeps its own (same-process) speed-up
    own = pd.to_numeric(frame.get("speedup_vs_eager"), errors="coerce") if "speedup_vs_eager" in frame else None
    frame["speedup_vs_eager"] = ratios if own is None else own.where(own.notna(), ratios)
    return frame


# Rounding slack for accuracy budgets: 99/100 against 100/100 is 0.010000000000000009 below, exactly 1 point
ACCURACY_SLACK = 1e-9


def beyond_budget(points_below: float, budget_points: float) -> bool:
    """Whether an accuracy `points_below` a reference (percentage points) is more than `budget_points`
    below it, rounding aside (ACCURACY_SLACK): exactly the budget is within it."""
    return bool(points_below > budget_points + 100 * ACCURACY_SLACK)


def beyond_text(value: float, limit: float, decimals: int = 1) -> str:
    """`value` (beyond `limit`) with `decimals` places, or as many more (up to 6) as it takes for the
    text not to read as the limit itself: 1.031 points against a budget of 1 is "1.03", not "1.0";
    a CV of 10.04% against 10% is "10.04". A figure and the verdict it triggers never contradict."""
    for places in range(decimals, 7):
        text = f"{value:.{places}f}"
        if float(text) != limit:
            return text
    return repr(float(value))


def same_samples(frame: pd.DataFrame) -> pd.Series:
    """Per row: the workload and its settings (model, data, n_samples: workload_settings) and host. Two
    rows' accuracies compare only when this matches: one result set may hold runs on other samples."""
    settings = frame["config_json"].map(workload_settings) if "config_json" in frame else pd.Series("", frame.index)
    hosts = frame["hostname"].fillna("") if "hostname" in frame else pd.Series("", frame.index)
    return pd.Series(list(zip(frame["workload"], settings, hosts, strict=True)), index=frame.index)


def cut_short(row: pd.Series) -> int | None:
    """The planned measure.min_calls when the row timed fewer calls (measure.max_s cut it short), else None."""
    planned = config_of(row.get("config_json")).get("measure", {})
    min_calls = planned.get("min_calls") if isinstance(planned, dict) else None
    short = isinstance(min_calls, int) and pd.notna(row.get("n_calls")) and row["n_calls"] < min_calls
    return min_calls if short else None


def workload_settings(config_json: object) -> str:
    """The workload part of a row's stored configuration (model, data, sizes) as canonical text;
    "" without a readable configuration. Equal for every runtime run on the same workload settings."""
    return json.dumps(config_of(config_json).get("workload"), sort_keys=True, default=str)


def configuration_settings(config_json: object, without: Sequence[str] = ()) -> str:
    """A row's stored configuration as canonical text, without where and how long it ran
    (config.measured_identity, what JobSpec.config_hash hashes), so equal exactly when the
    configurations are; "" without a readable configuration. `without`: top-level settings left out."""
    config = measured_identity(config_of(config_json))
    config = {k: v for k, v in config.items() if k not in without}
    return json.dumps(config, sort_keys=True, default=str) if config else ""


def flat_settings(settings: str) -> dict[str, object]:
    """Settings text (configuration_settings, workload_settings) as flat `a.b.c` entries, e.g.
    `workload.options.seq_len`; {} for "" or text that cannot be read."""
    try:
        return _flat(untrusted.printable_json(settings)) if settings else {}
    except (ValueError, RecursionError):  # nested too deeply to flatten: unreadable, like bad JSON
        return {}


def settings_differences(settings: Sequence[str]) -> list[str]:
    """The flattened keys (e.g. `workload.options.seq_len`) in which settings texts (flat_settings)
    differ, sorted; [] when they are all equal."""
    flat = [flat_settings(text) for text in settings]
    keys = sorted({k for f in flat for k in f})
    return [k for k in keys if len({json.dumps(f.get(k), default=str) for f in flat}) > 1]


def p50_with_ci(row: pd.Series, digits: int) -> str:
    """ "p50 [low, high]" of a row, "p50 [CI needs 6+ calls]" when its CI is not established
    (measure.median_ci), "" without a p50."""
    if pd.isna(row["latency_ms_p50"]):
        return ""
    if pd.isna(row["latency_ms_p50_ci_low"]) or pd.isna(row["latency_ms_p50_ci_high"]):
        return f"{row['latency_ms_p50']:.{digits}f} [CI needs 6+ calls]"
    low, high = row["latency_ms_p50_ci_low"], row["latency_ms_p50_ci_high"]
    return f"{row['latency_ms_p50']:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def config_of(config_json: object) -> dict:
    """A row's stored configuration (`config_json`) as a dict; {} when missing or unreadable."""
    try:
        config = untrusted.printable_json(config_json) if isinstance(config_json, str) else {}
    except ValueError:
        return {}
    return config if isinstance(config, dict) else {}


def load_of(config_json: object, with_inputs: bool = True) -> str:
    """The load a row ran under, from its stored configuration: the scenario (with its streams, or its
    arrival rate and whether it searched for one) and the timed inputs, e.g. "single_stream",
    "offline x2", "server 10 qps", "single_stream, dataset inputs". Speed-ups and compare only set
    rows of the same load side by side. "" when the row has no readable configuration."""
    config = config_of(config_json)
    if not config:
        return ""
    scenario = config.get("scenario") if isinstance(config.get("scenario"), dict) else {}
    name = str(scenario.get("name", "single_stream"))
    if name == "offline":
        name += f" x{scenario.get('streams', 1)}"
    elif name == "server":
        name += " qps search" if scenario.get("search") else f" {scenario.get('target_qps')} qps"
        name += f" x{scenario.get('streams', 1)}" if scenario.get("streams", 1) != 1 else ""
        name += f", p99 bound {scenario.get('latency_bound_ms')} ms"
    inputs = config.get("timing_inputs", "fixed")
    return name if inputs == "fixed" or not with_inputs else f"{name}, {inputs} inputs"


def host_label(row: pd.Series) -> str:
    """`host (CPU model)` of a row."""
    host = row.get("hostname") if isinstance(row.get("hostname"), str) and row.get("hostname") else "unknown host"
    cpu = row.get("cpu_model")
    return f"{host} ({cpu})" if isinstance(cpu, str) and cpu else host


def hosts_view(frame: pd.DataFrame) -> pd.DataFrame:
    """The same configuration on each host side by side: one row per workload, runtime, batch,
    precision, load and variant (settings that differ, apart from threads: the default is every core,
    so hosts of other sizes ran other counts; a host that ran two counts gets a row per count), one
    column per host (`host (CPU)`) holding the p50 (ms),
    the speed-up over that host's own eager (`speedup_vs_eager`, from with_speedup: never another
    host's) and the threads used. Expects one row per configuration and host (e.g. `latest` on
    config_hash and hostname). Empty when the rows come from one host."""
    if frame["hostname"].fillna("").nunique() < 2:
        return pd.DataFrame()
    frame = results.by_start(frame)
    frame = frame.assign(_host=frame.apply(host_label, axis=1), _ok=(frame["status"] == results.OK).astype(int))
    if "config_json" in frame:  # the default threads is every core: a 2-core and a 4-core host differ in it
        settings = frame["config_json"].map(lambda c: configuration_settings(c, without=("threads",)))
        frame = frame.assign(variant=variant_labels(frame, settings))
    key = [k for k in CONFIG_KEY if k in frame] + (["variant"] if "variant" in frame else [])
    names = [{"batch_size": "batch", "precision_requested": "precision"}.get(k, k) for k in key]
    hosts = sorted(frame["_host"].unique())
    rows = []
    for values, group in frame.sort_values("_ok", kind="stable").groupby(key, dropna=False, sort=True):
        threads = group["threads"].map(key_text) if "threads" in group else pd.Series("", group.index)
        # a host that ran it with two thread counts (threads=1 and threads=2 by choice): a row per count
        split = group.groupby("_host").size().max() > 1 and threads.nunique() > 1
        for count, part in group.groupby(threads, sort=True) if split else [("", group)]:
            row = dict(zip(names, values, strict=True))
            if count and "variant" in row:
                row["variant"] = "; ".join(v for v in (row["variant"], f"threads={count}") if v)
            for host in hosts:
                mine = part[part["_host"] == host]
                row[host] = _host_cell(mine.iloc[-1]) if len(mine) else ""
            rows.append(row)
    view = pd.DataFrame(rows)
    for column in ("variant", "load"):  # only when they tell rows apart
        if column in view and view[column].fillna("").nunique() < 2:
            view = view.drop(columns=column)
    return view


def _host_cell(row: pd.Series) -> str:
    if row["status"] != results.OK or pd.isna(row.get("latency_ms_p50")):
        return str(row["status"])
    text = f"{row['latency_ms_p50']:.3f} ms"
    speedup = row.get("speedup_vs_eager")
    if speedup is not None and pd.notna(speedup):
        text += f", {speedup:.2f}x its eager"
    threads = row.get("threads_effective", row.get("threads"))
    return text + (f" ({recorded_text(threads)} threads)" if threads is not None and pd.notna(threads) else "")


def raw_latencies(source: str, run_id: str) -> np.ndarray | None:
    """The raw latencies (ms) of `run_id` in the result set `source`, None where none were kept. The set's
    latencies are read once while it stays unchanged (_latencies_by_run): read again for every row,
    compare of 100 single-run rows took 212 s."""
    return _latencies_by_run(str(source), _stamp(Path(source))).get(str(run_id))


def _stamp(source: Path) -> tuple[object, ...]:
    """What changes when a result set's raw latencies can: each row file (written, renamed, removed or
    changed in place: a stat each, no parsing) and its latencies view."""
    stamp: list[object] = []
    try:
        with os.scandir(source / results.ROWS_DIR) as entries:
            files = sorted((e.name, e.inode(), e.stat(follow_symlinks=False).st_mtime_ns,
                            e.stat(follow_symlinks=False).st_size) for e in entries)  # fmt: skip
        stamp.append(hash(tuple(files)))
    except OSError:
        stamp.append(None)
    try:
        info = (source / results.LATENCIES_PARQUET).stat()
        stamp.append((info.st_ino, info.st_mtime_ns, info.st_size))
    except OSError:
        stamp.append(None)
    return tuple(stamp)


@functools.lru_cache(maxsize=4)
def _latencies_by_run(source: str, stamp: tuple[object, ...]) -> dict[str, np.ndarray]:
    latencies = results.read_latencies(Path(source))
    if latencies.empty:
        return {}
    return {str(run): group["latency_ms"].to_numpy() for run, group in latencies.groupby("run_id", sort=False)}


def median_test_p(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided p-value of Mood's median test of two samples of latencies: whether their medians (the
    p50s a verdict is about) differ (scipy.stats.median_test; chi-square on the counts above and below
    the pooled median). Not Mann-Whitney: it tests whether one side's calls tend to be smaller, which
    can hold while the p50s differ the other way (a mixture of fast and slow calls read "slower" with
    p=1e-16 where its calls were mostly faster). NaN when a latency is not a number; 1 when no value
    lies above the pooled median whichever way ties are counted (the medians are then equal)."""
    from scipy import stats

    if np.ptp(np.concatenate([a, b])) == 0:  # all equal: no evidence of a difference
        return 1.0
    for ties in ("below", "above"):  # every value at or under the pooled median: count ties the other way
        try:
            return float(stats.median_test(a, b, ties=ties).pvalue)
        except ValueError:
            continue
    return 1.0


def between_run_verdict(runs_a: np.ndarray, runs_b: np.ndarray, what: str = "p50s") -> tuple[bool, float, str]:
    """(significant?, ratio of geometric means B/A, how) from the runs' p50s (or other costs, named by
    `what` in `how`: "costs (1 / throughput)") of each side: Welch's t
    test on the logarithms (unequal variances), at p < SIGNIFICANCE_P. Its Welch-Satterthwaite degrees
    of freedom hold the stated rate from 3 runs a side (simulated: at most about 2% at a stated 1%
    with a 4x SD ratio); a side with only 2 runs gets Hsu's conservative min(n_a, n_b) - 1 (Hsu 1938;
    Scheffe, JASA 65 (1970) 1501-1508): there Welch's called 5.4% of equal pairs different (5 runs of
    log-SD 0.02 against 2 of 0.08). The p-value ends `how` (`p=nan` when the test has no answer:
    latency_verdict says CANNOT_DECIDE)."""
    from scipy import stats

    log_a, log_b = np.log(runs_a), np.log(runs_b)
    ratio = float(np.exp(log_b.mean() - log_a.mean()))
    fewest = min(len(log_a), len(log_b))
    rule = "Welch t" if fewest >= 3 else f"Welch t with Hsu's df={fewest - 1} (a side has {fewest} runs)"
    if np.ptp(log_a) == 0 and np.ptp(log_b) == 0:
        p = 0.0 if abs(np.log(ratio)) > RATIO_TOLERANCE else 1.0  # equal up to rounding: no evidence
    else:
        var_a, var_b = np.var(log_a, ddof=1) / len(log_a), np.var(log_b, ddof=1) / len(log_b)
        t = (log_b.mean() - log_a.mean()) / np.sqrt(var_a + var_b)
        welch_df = (var_a + var_b) ** 2 / (var_a**2 / (len(log_a) - 1) + var_b**2 / (len(log_b) - 1))
        p = float(2 * stats.t.sf(abs(t), welch_df if fewest >= 3 else fewest - 1))
    return p < SIGNIFICANCE_P, ratio, f"{rule} on log {what} of {len(runs_a)} vs {len(runs_b)} runs, p={p:.2g}"


def one_run_verdict(runs: np.ndarray, single: float) -> tuple[bool, float, str]:
    """(significant?, ratio single / geometric mean of runs, how): is one run's p50 outside what the
    other side's runs predict for one more run? A Student t prediction test on the logarithms,
    t = (log single - mean) / (s * sqrt(1 + 1/n)) with n - 1 degrees of freedom (e.g. NIST/SEMATECH
    e-Handbook of Statistical Methods, 7.2.6; prediction intervals), at p < SIGNIFICANCE_P. It
    assumes the single run varies as the runs do."""
    from scipy import stats

    logs = np.log(runs)
    ratio = float(np.exp(np.log(single) - logs.mean()))
    spread = float(np.std(logs, ddof=1)) * np.sqrt(1 + 1 / len(logs))
    if spread == 0:
        p = 0.0 if abs(np.log(ratio)) > RATIO_TOLERANCE else 1.0  # equal up to rounding: no evidence
    else:
        t = (np.log(single) - logs.mean()) / spread
        p = float(2 * stats.t.sf(abs(t), len(logs) - 1))
    return p < SIGNIFICANCE_P, ratio, f"t prediction test of 1 run against {len(runs)} runs' log p50s, p={p:.2g}"


def beyond_effect(ratio: float, pct: float) -> bool:
    """Whether a ratio B/A is a change of at least `pct` percent in either direction: |log ratio| >=
    log(1 + pct/100), so 1.3x slower and 1.3x faster (ratio 1/1.3) both reach 30%, and A->B and B->A
    get the same answer (|ratio - 1| could never reach 100% for a speed-up)."""
    if not ratio > 0 or not np.isfinite(ratio):  # NaN, infinite or not positive: no effect can be claimed
        return False
    return bool(abs(np.log(ratio)) >= np.log1p(pct / 100) - RATIO_TOLERANCE)


def within_effect(ratio: float, pct: float) -> bool:
    """Whether a ratio is a change of at most `pct` percent either way (rerun's band), on the same
    |log ratio| scale as beyond_effect; a change of exactly `pct` is within, up to rounding."""
    if not ratio > 0 or not np.isfinite(ratio):
        return False
    return bool(abs(np.log(ratio)) <= np.log1p(pct / 100) + RATIO_TOLERANCE)


def latency_verdict(
    a: pd.Series, b: pd.Series, runs_a: np.ndarray | None = None, runs_b: np.ndarray | None = None
) -> tuple[str, float, str]:
    """(verdict of B against A, p50 ratio B/A, how it was decided). With two or more runs on each
    side the runs decide (between-run evidence: Welch); with runs on one side only, whether the
    other side's one run lies outside what those runs predict (one_run_verdict); otherwise the calls
    of the two processes do. With runs, the ratio is of the sides' geometric means. A test without an
    answer (p is NaN) gives CANNOT_DECIDE, never "no significant difference"."""
    many_a = runs_a is not None and len(runs_a) >= 2
    many_b = runs_b is not None and len(runs_b) >= 2
    if many_a or many_b:
        if many_a and many_b:
            significant, ratio, method = between_run_verdict(runs_a, runs_b)
        elif many_a:
            significant, ratio, method = one_run_verdict(runs_a, float(b["latency_ms_p50"]))
        else:
            significant, ratio, method = one_run_verdict(runs_b, float(a["latency_ms_p50"]))
            ratio = 1 / ratio
        if method.endswith("p=nan") or not np.isfinite(ratio):
            return CANNOT_DECIDE, ratio, method
        if not significant:
            return "no significant difference", ratio, method
        return ("slower" if ratio > 1 else "faster"), ratio, method
    ratio = b["latency_ms_p50"] / a["latency_ms_p50"]
    if not np.isfinite(ratio) or not ratio > 0:  # a p50 missing on a side: nothing to judge
        return CANNOT_DECIDE, ratio, "no p50 to compare on one side"
    raw_a, raw_b = raw_latencies(a["source"], a["run_id"]), raw_latencies(b["source"], b["run_id"])
    if raw_a is not None and raw_b is not None and len(raw_a) >= 5 and len(raw_b) >= 5:
        p = median_test_p(raw_a, raw_b)
        if not np.isfinite(p):  # NaN in the raw latencies (an older latencies.parquet): no answer, not "no difference"
            return CANNOT_DECIDE, ratio, f"Mood's median test p={p} (raw latencies that are not numbers)"
        significant, method = p < SIGNIFICANCE_P, f"Mood's median test p={p:.2g}"
    elif any(pd.isna(x[c]) for x in (a, b) for c in ("latency_ms_p50_ci_low", "latency_ms_p50_ci_high")):
        # no test answers: "cannot decide", which the gate fails on (it read "no significant difference")
        return CANNOT_DECIDE, ratio, "too few calls to decide (p50 95% CI not established below 6 calls)"
    else:  # no raw latencies: the p50 confidence intervals must not overlap
        significant = b["latency_ms_p50_ci_low"] > a["latency_ms_p50_ci_high"] or (
            b["latency_ms_p50_ci_high"] < a["latency_ms_p50_ci_low"]
        )
        method = "p50 95% CIs " + ("disjoint" if significant else "overlap")
    if not significant:
        return "no significant difference", ratio, method
    return ("slower" if ratio > 1 else "faster"), ratio, method


def environment(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Distinct values of each environment column in these rows."""
    return {c: sorted({recorded_text(v) for v in frame[c].dropna().unique()}) for c in ENVIRONMENT_COLUMNS
            if c in frame}  # fmt: skip
