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


def row_label(r: pd.Series) -> str:
    """A row named as the closing table tells rows apart: workload · runtime · batch · precision, then the load
    when not single stream (offline x1 and x2 rows) and the run when the row is a repeat (`run 2`)."""
    load = analysis.load_of(r.get("config_json"), with_inputs=False)
    repeat = pd.to_numeric(pd.Series([r.get("repeat")]), errors="coerce").iloc[0]
    # a failed job's row may lack its precision (a child that died early): named by what it has
    parts = [str(r.get("workload")), str(r.get("runtime")), f"batch {r.get('batch_size')}"]
    parts += [str(r["precision_requested"])] if isinstance(r.get("precision_requested"), str) else []
    parts += [load] if load not in ("", "single_stream") else []
    parts += [f"run {int(repeat) + 1}"] if pd.notna(repeat) and repeat > 0 else []
    return printable(" · ".join(parts))


def _rows_of_skipped_jobs(earlier: pd.DataFrame, ran: pd.DataFrame, skipped: Sequence[dict]) -> pd.DataFrame:
    """The row each skipped job stands on: an `ok` skip by the newest ok row of its (config_hash, repeat) —
    the command's own repeat, not the newest of any (a `repeats=2` resume showed run 3 of an earlier
    `repeats=3` sweep and neither of its own); an `unsupported` skip by its configuration's newest such row,
    once, unless this session's rows show that configuration's answer already."""
    ordered = results.by_start(earlier)
    repeats = pd.to_numeric(ordered["repeat"], errors="coerce").fillna(0) if "repeat" in ordered else 0
    answered = set(zip(ran["config_hash"], ran["status"], strict=True))
    picked: list[Any] = []
    for row in skipped:
        config_hash, status = row.get("config_hash"), row.get("status")
        same = (ordered["config_hash"] == config_hash) & (ordered["status"] == status)
        if status == results.OK:
            same &= repeats == (row.get("repeat") or 0)
        elif (config_hash, status) in answered:
            continue
        if same.any():
            picked.append(ordered.index[same][-1])
    return ordered.loc[list(dict.fromkeys(picked))]


def print_session_table(results_dirs: Sequence[Path], outcomes: Sequence[Any]) -> None:
    run_ids = {o.row.get("run_id") for o in outcomes if not o.skipped}
    skipped = [o.row for o in outcomes if o.skipped and o.row.get("status") is not None]
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
        shown = pd.concat([frame[mine], _rows_of_skipped_jobs(frame[~mine], frame[mine], skipped)])
        order = ["workload", "runtime", "batch_size", *(["repeat"] if "repeat" in shown else [])]
        shown = shown.sort_values(order, kind="stable")  # runs in order, whether measured now or skipped
        print()
        print(table(shown))
        print(f"\nresults: {(Path(results_dir) / results.RESULTS_CSV).resolve()}")
        for _, r in shown.iterrows():  # the numbers above are only as good as the machine was quiet and the run long
            for flag in busy_flags(r):
                print(f"busy machine: {row_label(r)}: {flag}")
            if (min_calls := analysis.cut_short(r)) is not None:
                print(f"cut short: {row_label(r)}: only {int(r['n_calls'])} timed call(s), fewer than "
                      f"measure.min_calls={min_calls}: measure.max_s ended the measurement")  # fmt: skip
    for outcome in outcomes:  # once, whichever directory the job wrote to
        status = outcome.row.get("status")
        if status not in (results.OK, None) and not outcome.skipped:
            named = row_label(pd.Series(outcome.row, dtype=object))
            print(f"harness: {named}: {status}: {printable(str(outcome.row.get('error')))}", file=sys.stderr)
