"""Between-run statistics: what a reviewer gets by running a configuration again.

Each repeat of a configuration runs in a fresh child, in shuffled rounds (harness/sweeper.py);
its row's CI describes the calls inside that one process. The summary describes the runs:
per configuration and host, the median of the runs' p50s, a 95% CI across runs — a Student t
interval on the logarithms of the p50s (a CI of the geometric mean: latencies are positive and
their run-to-run changes multiplicative) — and the between-run coefficient of variation. A
configuration whose runs spread more than `UNSTABLE_CV` is flagged `unstable`, as pyperf warns
when "the standard deviation is greater than 10% of the mean"
(https://pyperf.readthedocs.io/en/latest/analyze.html#checks). One run gives no between-run CI:
it stays empty, and the report says "single run".

Written beside results.csv as summary.csv and summary.parquet at every gather.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness import results
from harness.measure import ratio_ci

UNSTABLE_CV = 0.10
KEY = ["config_hash", "hostname"]
DESCRIBE = ["workload", "runtime", "batch_size", "precision_requested", "threads"]
SUMMARY_CSV = "summary.csv"
SUMMARY_PARQUET = "summary.parquet"


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, host) with ok runs: n_runs, latency_ms_p50 (median of the runs'
    p50s), latency_ms_p50_between_ci_low/high (95%, t on log p50s; empty for one run), between_run_cv,
    unstable, and the same across runs for the paired speed-up where rows carry one."""
    ok = frame[frame["status"] == results.OK].copy()
    if ok.empty:
        return pd.DataFrame(columns=[*KEY, *DESCRIBE, "n_runs", "latency_ms_p50"])
    ok["hostname"] = ok["hostname"].fillna("")
    rows = []
    for key, group in ok.groupby(KEY, sort=False):
        p50 = pd.to_numeric(group["latency_ms_p50"], errors="coerce").dropna().to_numpy()
        if not len(p50):
            continue
        first = group.iloc[-1]
        row = {**dict(zip(KEY, key, strict=True)), **{c: first.get(c) for c in DESCRIBE}, "n_runs": len(p50)}
        row["latency_ms_p50"] = float(np.median(p50))
        _, low, high = ratio_ci(p50)
        row["latency_ms_p50_between_ci_low"], row["latency_ms_p50_between_ci_high"] = low, high
        cv = float(np.std(p50, ddof=1) / np.mean(p50)) if len(p50) > 1 else math.nan
        row["between_run_cv"] = cv
        row["unstable"] = bool(cv > UNSTABLE_CV) if len(p50) > 1 else False
        row["throughput_sps"] = float(pd.to_numeric(group["throughput_sps"], errors="coerce").median())
        for column in ("accuracy", "agreement"):
            row[column] = pd.to_numeric(group.get(column), errors="coerce").iloc[-1] if column in group else None
        if "speedup_vs_eager" in group:
            ratios = pd.to_numeric(group["speedup_vs_eager"], errors="coerce").dropna().to_numpy()
            if len(ratios):
                center, low, high = ratio_ci(ratios)
                row["speedup_vs_eager"] = float(np.median(ratios))
                row["speedup_vs_eager_between_ci_low"], row["speedup_vs_eager_between_ci_high"] = low, high
        rows.append(row)
    return pd.DataFrame(rows)


def p50s_of(frame: pd.DataFrame, row: pd.Series) -> np.ndarray:
    """The p50s of every ok run of `row`'s configuration on its host in `frame`."""
    same = (frame["config_hash"] == row["config_hash"]) & (frame["status"] == results.OK)
    if "hostname" in frame and isinstance(row.get("hostname"), str):
        same &= frame["hostname"] == row["hostname"]
    return pd.to_numeric(frame.loc[same, "latency_ms_p50"], errors="coerce").dropna().to_numpy()
