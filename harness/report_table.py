"""The closing results table printed by the CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import analysis, results
from harness.machine import busy_flags
from harness.untrusted import one_line, printable

ERROR_WIDTH = 70


def _fmt(value: Any, spec: str) -> str:
    return "" if value is None or pd.isna(value) else format(value, spec)


def _bound(row: pd.Series) -> str:
    """A server row's verdict on its p99 bound: met, missed or not established (measure.py); "" otherwise."""
    if pd.isna(row.get("latency_bound_ms", np.nan)):
        return ""
    return f"{analysis.bound_verdict(row)} ({row['latency_bound_ms']:g} ms)"


def table(frame: pd.DataFrame) -> str:
    """A compact, readable view of result rows: a `p99 bound` column (met, missed, not established) when
    any row is a server run, a `run` column (1-based repeat) when any row is a repeat
    after the first (`repeats=N`: otherwise N rows look alike), a `load` column when any row ran another
    scenario than single_stream (offline x2 and x1 rows otherwise look alike), and the server search's answer."""
    rows = []
    for _, r in frame.iterrows():
        effective = "" if pd.isna(r["precision_effective"]) else r["precision_effective"]
        p50 = analysis.p50_with_ci(r, 2)
        error = "" if pd.isna(r["error"]) else str(r["error"]).replace("\n", " ")
        repeat = pd.to_numeric(pd.Series([r.get("repeat")]), errors="coerce").iloc[0]
        rows.append({
            "workload": r["workload"], "runtime": r["runtime"], "batch": r["batch_size"],
            "run": "" if pd.isna(repeat) else int(repeat) + 1,
            "precision": f"{r['precision_requested']}->{effective}",
            "threads": r["threads"], "status": r["status"],
            "p50 ms [95% CI]": p50, "p99 ms": _fmt(r["latency_ms_p99"], ".2f"),
            "samples/s": _fmt(r["throughput_sps"], ".1f"), "accuracy": _fmt(r["accuracy"], ".3f"),
            "agreement": _fmt(r["agreement"], ".3f"), "max|diff|": _fmt(r["max_abs_diff"], ".2e"),
            "load": analysis.load_of(r.get("config_json"), with_inputs=False),
            "p99 bound": _bound(r),
            "max qps meeting p99 bound": _fmt(r.get("max_qps_meeting_bound"), ".2f"),
            "error": error if len(error) <= ERROR_WIDTH else error[: ERROR_WIDTH - 3] + "...",
        })  # fmt: skip
    view = pd.DataFrame(rows)
    if set(view["run"]) <= {1, ""}:  # without repeats every row is run 1: no column
        view = view.drop(columns="run")
    for column, empty in (("error", {""}), ("max qps meeting p99 bound", {""}), ("load", {"single_stream", ""}),
                          ("p99 bound", {""})):  # fmt: skip
        if view[column].isin(empty).all():
            view = view.drop(columns=column)
    return view.to_string(index=False)


def print_session_table(results_dirs: Sequence[Path], outcomes: Sequence[Any]) -> None:
    run_ids = {o.row.get("run_id") for o in outcomes if not o.skipped}
    skipped = {(o.row.get("config_hash"), o.row.get("status")) for o in outcomes if o.skipped}
    for results_dir in results_dirs:
        if not Path(results_dir).exists():  # named when its job started; the job wrote nothing there
            continue
        try:
            frame = results.read_results(results_dir)
        except results.ResultsError as exc:  # a row file planted or damaged in the directory: the sweep is done
            print(f"harness: no summary table: {one_line(str(exc))}", file=sys.stderr)
            continue
        if frame.empty:
            continue
        mine = frame["run_id"].isin(run_ids)
        pairs = pd.Series(list(zip(frame["config_hash"], frame["status"], strict=True)), index=frame.index)
        # a skipped job is shown by its newest row of the status it was skipped for (ok, unsupported), unless this
        # session shows one already (repeat 0 ran here, repeat 1 was skipped for its answer)
        earlier = frame[pairs.isin(skipped - set(pairs[mine])) & ~mine]
        earlier = results.by_start(earlier).drop_duplicates("config_hash", keep="last")
        shown = pd.concat([frame[mine], earlier]).sort_values(["workload", "runtime", "batch_size"])
        print()
        print(table(shown))
        print(f"\nresults: {(Path(results_dir) / results.RESULTS_CSV).resolve()}")
        for _, r in shown.iterrows():  # the numbers above are only as good as the machine was quiet
            for flag in busy_flags(r):
                print(f"busy machine: {r['workload']} · {r['runtime']} · batch {r['batch_size']}: {flag}")
    for outcome in outcomes:  # once, whichever directory the job wrote to
        status = outcome.row.get("status")
        if status not in (results.OK, None) and not outcome.skipped:
            print(
                f"harness: {outcome.row.get('workload')} · {outcome.row.get('runtime')} · batch "
                f"{outcome.row.get('batch_size')}: {status}: {printable(str(outcome.row.get('error')))}",
                file=sys.stderr,
            )
