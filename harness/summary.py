"""Between-run statistics: what a reviewer gets by running a configuration again.

Each repeat of a configuration runs in a fresh child, in shuffled rounds (harness/sweeper.py);
its row's CI describes the calls inside that one process. The summary describes the runs:
per configuration and host, the centre of the runs' p50s with a 95% CI across runs — a Student t
interval on the logarithms of the p50s (latencies are positive and their run-to-run changes
multiplicative), centred on the geometric mean, the estimate that interval belongs to. (The issue
asked for the median; under the same log-symmetric model the two coincide, but with 3 runs the
median can lie outside the only 95% interval 3 runs allow: 8 runs at 10 ms and 7 at 20 ms gave a
median of 10 beside a CI of [11.3, 16.8].) A configuration is judged on its scenario's figure of merit
(analysis.FIGURES: the p50, an offline throughput, a qps search's highest rate meeting the bound):
`figure_of_merit` names that column, and `figure_runs` with `figure_between_ci_low/high` give the same
interval for it, in its own units (the p50 columns above for a p50). The between-run coefficient of
variation and `unstable` are of that figure: an offline row's requests overlap, so its p50s' spread
says nothing of how its throughput repeats. A configuration whose runs spread more than `UNSTABLE_CV`
is flagged `unstable`, as pyperf warns
when "the standard deviation is greater than 10% of the mean"
(https://pyperf.readthedocs.io/en/latest/analyze.html#checks). One run gives no between-run CI:
it stays empty, and the report says "single run".

A repeat measured again (force=true, a resume after a crash) counts once, as its newest row (standing).
Only runs of the same software count as runs of one configuration: those whose harness code and
library versions (SOFTWARE) match the newest ok run's (rows from before `harness_code` was recorded
pool). After `force=true` with another library or harness version, the older runs stay in results.csv
but leave the summary and compare's evidence (`runs_other_software` counts every one, replaced or not):
pooled, a 2.4x slower version hid among five older runs. Failures count under that software, or under
any after its newest ok run (_failures).

Written beside results.csv as summary.csv and summary.parquet at every gather.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness import analysis, results
from harness.machine import busy_flags
from harness.measure import ratio_ci

UNSTABLE_CV = 0.10
KEY = ["config_hash", "hostname"]
DESCRIBE = ["workload", "runtime", "batch_size", "precision_requested", "threads"]
# the harness's code (cache.code_fingerprint), not its commit: a README edit (`-dirty`) or a commit that
# changed no code is the same software, and split the study's own runs when the commit was compared
SOFTWARE = ["harness_code", "runtime_version", "torch_version", "python_version"]
RAN_AND_FAILED = results.RAN_AND_FAILED
standing = results.standing  # the rows that stand for their repeat: one per configuration, host and repeat
SUMMARY_CSV = "summary.csv"
SUMMARY_PARQUET = "summary.parquet"


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, host) with ok runs: n_runs (of the newest ok run's software, see
    same_software; one per repeat, standing), runs_other_software (its ok rows of other software, replaced
    or not), runs_busy (of those runs, how many machine.busy_flags names:
    measured on a busy or drifting machine), runs_short (how many timed fewer calls than their
    measure.min_calls), runs_failed and runs_failed_why (its runs that failed, RAN_AND_FAILED, under that
    software or after its newest ok run, and the newest one's status and error: _failures), latency_ms_p50
    (geometric mean of the runs' p50s),
    latency_ms_p50_between_ci_low/high (95%, t on log p50s; empty for one run), figure_of_merit (the
    column the configuration is judged on: analysis.figure_of), figure_n_runs (how many runs have that
    figure: a qps search where no rate met the bound has none), figure_runs and
    figure_between_ci_low/high (the same for that figure), between_run_cv and unstable (of that
    figure's runs; empty and False below 2 runs with a figure), and the same across runs for the
    paired speed-up where rows carry one."""
    # every ok row, replaced or not: runs of other software are counted even where a forced re-run of new
    # software reused their repeat numbers (the same history read 5 or 2 by how the repeats were numbered)
    every_ok = frame[frame["status"] == results.OK]
    every_ok = every_ok.assign(hostname=every_ok["hostname"].fillna("")).groupby(KEY, sort=False)
    frame = standing(frame)
    ok = frame[frame["status"] == results.OK].copy()
    if ok.empty:
        return pd.DataFrame(columns=[*KEY, *DESCRIBE, "n_runs", "latency_ms_p50"])
    ok["hostname"] = ok["hostname"].fillna("")
    failed = frame[frame["status"].isin(RAN_AND_FAILED)]
    failed = failed.assign(hostname=failed["hostname"].fillna("")).groupby(KEY, sort=False)
    rows = []
    for key, group in ok.groupby(KEY, sort=False):
        newest = _newest(group)
        runs = group[same_software(group, newest)]
        p50 = pd.to_numeric(runs["latency_ms_p50"], errors="coerce").dropna().to_numpy()
        if not len(p50):
            continue
        row = {**dict(zip(KEY, key, strict=True)), **{c: newest.get(c) for c in DESCRIBE}, "n_runs": len(p50)}
        row["runs_other_software"] = int((~same_software(every_ok.get_group(key), newest)).sum())
        row["runs_failed"], row["runs_failed_why"] = _failures(failed.get_group(key) if key in failed.groups else
                                                               None, newest)  # fmt: skip
        row["runs_busy"] = count_busy(runs)
        row["runs_short"] = sum(analysis.cut_short(run) is not None for _, run in runs.iterrows())
        row["latency_ms_p50"], low, high = ratio_ci(p50)
        row["latency_ms_p50_between_ci_low"], row["latency_ms_p50_between_ci_high"] = low, high
        row["figure_of_merit"], values = figures_of(runs, newest)
        row["figure_n_runs"] = len(values)  # a qps search where no rate met the bound has no figure
        row["figure_runs"], low, high = ratio_ci(values)
        row["figure_between_ci_low"], row["figure_between_ci_high"] = low, high
        cv = between_run_cv(values) if len(values) > 1 else math.nan
        row["between_run_cv"] = cv
        row["unstable"] = bool(cv > UNSTABLE_CV) if len(values) > 1 else False
        throughputs = pd.to_numeric(runs["throughput_sps"], errors="coerce").dropna()
        # the runs' centre as everywhere else (figure_runs of an offline row): a median beside it read 460 vs 444
        throughputs = throughputs[throughputs > 0]
        row["throughput_sps"] = analysis.geometric_mean(throughputs) if len(throughputs) else math.nan
        for column in ("accuracy", "agreement"):
            row[column] = pd.to_numeric(newest.get(column), errors="coerce") if column in runs else None
        if "speedup_vs_eager" in runs:
            ratios = pd.to_numeric(runs["speedup_vs_eager"], errors="coerce").dropna().to_numpy()
            if len(ratios):
                center, low, high = ratio_ci(ratios)
                row["speedup_vs_eager"] = center
                row["speedup_vs_eager_between_ci_low"], row["speedup_vs_eager_between_ci_high"] = low, high
        rows.append(row)
    return pd.DataFrame(rows)


def _failures(failed: pd.DataFrame | None, newest: pd.Series) -> tuple[int, str]:
    """(how many of `failed`, a configuration's failed rows on one host (RAN_AND_FAILED), ran the newest
    ok run's software or started after that run (whatever software: a crash under a newer library is the
    newest fact about the configuration, and hidden it let a gate pass; every one when `newest` is not ok:
    no ok run stands); "status: error" of the newest of
    them, naming the software it ran where that differs, one line of at most 300 characters, or "").
    A repeat that ended in an error or an invalid output is a fact about the configuration: the figures of
    the runs that did not must not stand for all of them unsaid."""
    if failed is None or failed.empty:
        return 0, ""
    if newest.get("status") == results.OK:
        later = results.started_order(failed) > results.started_seconds(newest.get("started_at"))
    else:  # no ok run stands: every failure is newer than the newest ok run (there is none)
        later = pd.Series(True, index=failed.index)
    failed = failed[same_software(failed, newest) | later]
    if failed.empty:
        return 0, ""
    last = _newest(failed)
    why = f"{last.get('status')}: {last.get('error')}".replace("\n", " ")
    other = [f"{c} {last.get(c)}" for c in SOFTWARE if not analysis.same_recorded(last.get(c), newest.get(c))]
    if other:  # said first: the error may be long
        why = f"under other software ({', '.join(other)}) {why}"
    return len(failed), why[:300]


def between_run_cv(p50s: np.ndarray) -> float:
    """The coefficient of variation of two or more runs' p50s: sample standard deviation (ddof=1) over
    the mean, as pyperf's check reads it (UNSTABLE_CV)."""
    return float(np.std(p50s, ddof=1) / np.mean(p50s))


def _newest(group: pd.DataFrame) -> pd.Series:
    """The run analysis.latest shows for this configuration: the last by started_at (results.started_order,
    a row without one the oldest, as there), so the report's row and its between-run figures are of the
    same runs."""
    return results.by_start(group).iloc[-1]


def same_software(frame: pd.DataFrame, row: pd.Series) -> pd.Series:
    """Per row of `frame`: ran the same software as `row` (each SOFTWARE column equal as recorded; a
    value either side did not record is no difference, as for older result files)."""
    same = pd.Series(True, index=frame.index)
    for column in SOFTWARE:
        if column in frame:
            same &= frame[column].map(lambda v, c=column: analysis.same_recorded(v, row.get(c))).astype(bool)
    return same


def _runs_of(frame: pd.DataFrame, row: pd.Series) -> pd.DataFrame:
    """Every ok run of `row`'s configuration on its host in `frame` that ran `row`'s software, one per
    repeat (standing)."""
    same = frame["config_hash"] == row["config_hash"]
    if "hostname" in frame:  # a missing hostname is a host of its own, "", as summarize groups it
        host = row.get("hostname") if isinstance(row.get("hostname"), str) else ""
        same &= frame["hostname"].fillna("") == host
    runs = standing(frame.loc[same])
    return runs[(runs["status"] == results.OK) & same_software(runs, row)]


def count_busy(runs: pd.DataFrame) -> int:
    """How many of `runs` were measured on a busy or drifting machine (machine.busy_flags names why)."""
    return sum(bool(busy_flags(run)) for _, run in runs.iterrows())


def busy_of(frame: pd.DataFrame, row: pd.Series) -> int:
    """count_busy of the runs p50s_of counts: summarize's runs_busy, for compare."""
    return count_busy(_runs_of(frame, row))


def failures_of(frame: pd.DataFrame, row: pd.Series) -> tuple[int, str]:
    """(how many runs of `row`'s configuration on its host in `frame` that ran `row`'s software ended
    in a failure (RAN_AND_FAILED: error, crashed, timeout, invalid), "status: error" of the newest of
    them or ""): summarize's runs_failed."""
    same = frame["config_hash"] == row["config_hash"]
    if "hostname" in frame:
        host = row.get("hostname") if isinstance(row.get("hostname"), str) else ""
        same &= frame["hostname"].fillna("") == host
    runs = standing(frame.loc[same])
    return _failures(runs[runs["status"].isin(RAN_AND_FAILED)], row)


def p50s_of(frame: pd.DataFrame, row: pd.Series) -> np.ndarray:
    """The p50s of every ok run of `row`'s configuration on its host in `frame` that ran `row`'s
    software (same_software)."""
    return pd.to_numeric(_runs_of(frame, row)["latency_ms_p50"], errors="coerce").dropna().to_numpy()


def figures_of(runs: pd.DataFrame, row: pd.Series) -> tuple[str, np.ndarray]:
    """(the column `row` is judged on: analysis.figure_of, else latency_ms_p50; its finite positive
    values in `runs`, in its own units: ms, samples/s or queries/s)."""
    figure, costs = analysis.figure_of(row), _positive_costs(runs)
    return ("latency_ms_p50", costs) if figure is None else (figure[1], 1.0 / costs)


def costs_of(frame: pd.DataFrame, row: pd.Series) -> np.ndarray:
    """As p50s_of, each run's cost of work (analysis.cost_of_work: 1 / throughput offline, 1 / highest
    rate for a qps search, else the p50), finite and positive only."""
    return _positive_costs(_runs_of(frame, row))


def _positive_costs(runs: pd.DataFrame) -> np.ndarray:
    """analysis.cost_of_work of `runs`, its finite positive values only (a qps search where no rate met the
    bound has none)."""
    costs = analysis.cost_of_work(runs).to_numpy(dtype=np.float64)
    return costs[np.isfinite(costs) & (costs > 0)]
