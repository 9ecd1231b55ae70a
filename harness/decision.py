"""The decision view: which configuration to deploy at each batch size, within an accuracy budget.

Per workload and batch size, every ok (runtime, precision) row is a point of p50 latency against
accuracy. A point is on the Pareto front when no other point is both at least as fast and at least
as accurate (and better in one). The recommendation is the fastest row whose accuracy is within
the budget (default: 1 point) of eager fp32's at that batch size; every faster row says why it was
excluded. The budget is the same rule the report's accuracy flag uses. The runner-up (the next
eligible row) says whether the choice is shown faster: their 95% CIs of the p50 apart (across runs
when a configuration ran 2+ times, else the calls' CI of its one run; an offline throughput or a qps
search's rate has a CI across runs only). Disjoint 95% CIs are a
conservative test (Schenker & Gentleman 2001, "On judging the significance of differences by
examining the overlap between confidence intervals", The American Statistician 55(3)): overlapping
ones say "not shown faster", never "equal".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness import results
from harness.analysis import (
    beyond_budget,
    beyond_text,
    bound_verdict,
    cost_of_work,
    cut_text,
    figure_kinds,
    figure_of,
    workload_settings,
)
from harness.untrusted import file_stem, literal_plot_text, plain_log_ticks

DEFAULT_BUDGET_POINTS = 1.0


def pareto_front(points: pd.DataFrame, cost: str = "latency_ms_p50") -> pd.Series:
    """True for rows no other row dominates (`cost` lower-or-equal — the p50, or another figure taken as
    a cost — and accuracy higher-or-equal, one strictly). Points compare only under one load."""
    front = []
    for _, row in points.iterrows():
        faster = points[cost] <= row[cost]
        better = points["accuracy"] >= row["accuracy"]
        strictly = (points[cost] < row[cost]) | (points["accuracy"] > row["accuracy"])
        front.append(not (faster & better & strictly).any())
    return pd.Series(front, index=points.index)


def _name(row: pd.Series) -> str:
    """`runtime precision`, with what it really ran in when that differs (a bf16 request that ran fp32
    must not be recommended as bf16)."""
    requested, effective = str(row["precision_requested"]), str(row.get("precision_effective"))
    ran = "" if effective in (requested, "nan", "None") else f" (ran {effective})"
    variant = row.get("variant") if isinstance(row.get("variant"), str) and row.get("variant") else ""
    return f"{row['runtime']} {requested}{ran}" + (f" [{variant}]" if variant else "")  # threads=1 vs threads=2


def _cost_ci(row: pd.Series) -> tuple[float, float, str]:
    """A row's 95% CI of its cost (analysis.cost_of_work; lower is faster) and what it spans: "runs"
    (between-run CI, 2+ runs) or "calls" (one process's calls: a p50 only; an offline throughput or a
    qps search's rate is one number per run). NaNs when neither is recorded."""
    several = pd.notna(row.get("n_runs")) and row.get("n_runs", 0) >= 2
    if figure_of(row) is not None:  # the figure's CI (summary.figures_of), as a cost: 1 / figure
        sides = [_number(row.get(f"figure_between_ci_{side}")) if several else np.nan for side in ("high", "low")]
        low, high, basis = 1 / sides[0], 1 / sides[1], "runs"
    elif several:
        low, high, basis = row.get("latency_ms_p50_between_ci_low"), row.get("latency_ms_p50_between_ci_high"), "runs"
    else:
        low, high, basis = row.get("latency_ms_p50_ci_low"), row.get("latency_ms_p50_ci_high"), "calls"
    return _number(low), _number(high), basis


def _number(value: object) -> float:
    return float(pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0])


def _runner_up(choice: pd.Series, runner: pd.Series | None) -> str:
    """How the choice stands against the next eligible row: shown faster (95% CIs of the figure it was
    ranked on apart) or not."""
    if runner is None:
        return "none"
    text = f"{_name(runner)} ({_speed(runner)}"
    if figure_of(choice) is not None:  # ranked on throughput or a qps search's rate
        ratio = float(runner["_cost"]) / float(choice["_cost"])
        text += f"; the choice does {ratio:.2f}x its work per second)"
        missing = ": no between-run CI of that figure (run repeats=3 or more), not shown faster"
    else:
        ratio = float(runner["latency_ms_p50"]) / float(choice["latency_ms_p50"])
        text += f", {ratio:.2f}x the choice's)" if np.isfinite(ratio) else ")"
        missing = ": no CI on one side, not shown faster"
    (c_low, c_high, c_basis), (r_low, r_high, r_basis) = _cost_ci(choice), _cost_ci(runner)
    if not np.all(np.isfinite([c_low, c_high, r_low, r_high])):
        return text + missing
    basis = "runs" if c_basis == r_basis == "runs" else "calls of one run" if c_basis == r_basis else "runs/calls"
    if c_high < r_low:
        return text + f": choice shown faster (95% CIs over {basis} apart)"
    return text + f": not shown faster (95% CIs over {basis} overlap)"


def _speed(row: pd.Series) -> str:
    """The figure a row was ranked on, as text: its p50 ("4.000 ms"), else its throughput or highest rate
    with its p50 beside it ("900.0 samples/s, p50 7.000 ms")."""
    p50 = f"{float(row['latency_ms_p50']):.3f} ms"
    figure = figure_of(row)
    if figure is None:
        return p50
    unit = "samples/s" if figure[1] == "throughput_sps" else "qps meeting the bound"
    cost = float(row["_cost"])
    return f"{1 / cost:.1f} {unit}, p50 {p50}" if np.isfinite(cost) and cost > 0 else f"no {unit}, p50 {p50}"


def _unfit(row: pd.Series, reference: float | None) -> str | None:
    """Why a row cannot be chosen whatever its speed (None: it can): a server run that missed its p99
    bound or could not establish meeting it (MLPerf: an invalid run), a qps search where no rate met
    the bound (no figure to rank), an accuracy that was not scored where eager's sets the floor, a
    configuration some of whose repeats failed (error, invalid: no safe choice, however fast the rest)."""
    if pd.notna(row.get("target_qps")) and (verdict := bound_verdict(row)) != "met":
        return (
            "missed its p99 latency bound" if verdict == "missed" else "meeting its p99 latency bound not established"
        )
    if "_cost" in row and not np.isfinite(row["_cost"]):
        return "no figure to rank it on (a qps search where no rate met the bound)"
    if reference is not None and pd.isna(row.get("accuracy")):
        return "no accuracy scored"
    if pd.notna(row.get("runs_failed")) and row["runs_failed"] > 0:  # summary.summarize: a repeat failed
        return f"{int(row['runs_failed'])} of its runs failed ({row.get('runs_failed_why')})"
    return None


def recommend(frame: pd.DataFrame, budget_points: float = DEFAULT_BUDGET_POINTS) -> pd.DataFrame:
    """One row per (workload, batch size): the fastest ok configuration with accuracy no more than
    `budget_points` below eager fp32's at that batch size on the same samples (a quantized row's own
    `accuracy_delta_vs_fp32` decides; rows of other workload settings are chosen apart, a `workload
    settings` column), exactly the budget being within it, and why each faster one was excluded.
    Rows with no eager fp32 row to set the floor are recommended on speed alone and say so. Rows from
    several hosts are chosen per host (a `host` column): one machine's figure is no choice for another.
    `runner-up` names the next eligible row and whether the choice is shown faster than it (module
    docstring)."""
    out = []
    hosts = frame["hostname"].fillna("") if "hostname" in frame else pd.Series("", index=frame.index)
    several_hosts = hosts.nunique() > 1
    # rows on other samples (another n_samples, model or data) are another choice: eager's accuracy on
    # 500 samples is no floor for a row scored on 1,000
    settings = frame["config_json"].map(workload_settings) if "config_json" in frame else pd.Series("", frame.index)
    several_settings = frame.assign(_settings=settings).groupby("workload")["_settings"].nunique().max() > 1
    # and under one load: an offline row's p50 (requests overlapping) is no rival of a single-stream one
    loads = frame["load"].fillna("") if "load" in frame else pd.Series("", index=frame.index)
    several_loads = loads.nunique() > 1
    keys = ["workload", "batch_size", *([hosts] if several_hosts else []), *([settings] if several_settings else []),
            *([loads] if several_loads else [])]  # fmt: skip
    frame = frame.assign(_cost=cost_of_work(frame))  # ranked by the load's figure of merit (throughput offline)
    # accuracy is scored once per model, data, runtime, precision and batch, whatever the load: eager
    # fp32's under any load sets the floor of every load (a load without its own eager row has one)
    floor_keys = keys[: len(keys) - several_loads]
    eager = (frame["runtime"] == "eager") & (frame["precision_requested"] == "fp32")
    scored = frame[eager & (frame["status"] == results.OK) & frame["accuracy"].notna()]
    references = scored.groupby(floor_keys)["accuracy"].first()
    for key, group in frame.groupby(keys):
        workload, batch = key[0], key[1]
        ok = group[group["status"] == results.OK].sort_values("_cost")
        floor_key = key[: len(floor_keys)]
        reference = float(references[floor_key]) if floor_key in references.index else None
        floor = reference - budget_points / 100 if reference is not None else None
        excluded = []
        choice, runner = None, None
        for _, row in ok.iterrows():
            name = _name(row)
            if (unfit := _unfit(row, reference)) is not None:  # no eligible choice, whatever its speed
                if choice is None:
                    excluded.append(f"{name} ({_speed(row)}): {unfit}")
                continue
            # a quantized row's own delta was scored on exactly eager fp32's samples: it decides
            delta = row.get("accuracy_delta_vs_fp32")
            points = -100 * float(delta) if pd.notna(delta) else None
            if points is None and reference is not None:
                points = 100 * (reference - float(row["accuracy"]))
            if points is not None and beyond_budget(points, budget_points):
                if choice is not None:
                    continue  # slower than the choice: not "faster but excluded"
                excluded.append(f"{name} ({_speed(row)}): accuracy {row['accuracy']:.4f}, "
                                f"{beyond_text(points, budget_points)} points below eager fp32")  # fmt: skip
                continue
            if choice is not None:
                runner = row
                break
            choice = row
        failed = group[group["status"] != results.OK]
        out.append({
            "workload": workload, "batch": batch, **({"host": key[2]} if several_hosts else {}),
            **({"workload settings": cut_text(key[2 + several_hosts])} if several_settings else {}),
            **({"load": key[-1]} if several_loads else {}),
            "recommended": "" if choice is None else _name(choice),
            "p50 ms": None if choice is None else round(float(choice["latency_ms_p50"]), 3),
            "ranked on": "" if choice is None else _speed(choice),
            "accuracy": None if choice is None else round(float(choice["accuracy"]), 4),
            "accuracy floor": "no eager fp32 row" if floor is None else round(floor, 4),
            "runner-up": "" if choice is None else _runner_up(choice, runner),
            "faster but excluded": "; ".join(excluded) or "none",
            "not measured": "; ".join(f"{r['runtime']} {r['precision_requested']}: {r['status']}"
                                      for _, r in failed.iterrows()) or "none",
        })  # fmt: skip
    return pd.DataFrame(out)


MAX_PANELS = 12


def tradeoff_points(frame: pd.DataFrame, workload: str) -> pd.DataFrame:
    """The ok rows of `workload` with an accuracy and a positive figure, as plot_tradeoff draws them:
    `_x` (the load's figure of merit as a time in ms: the p50; 1000 / throughput offline; 1000 / highest
    rate for a qps search), `_kind` (analysis.figure_kinds), `_load`, and `_front` (on the Pareto front
    of its batch size and load)."""
    ok = frame[(frame["workload"] == workload) & (frame["status"] == results.OK)]
    # a point needs both axes: rows without accuracy (e.g. accuracy off) and zero latencies cannot go on a log axis
    accuracy = pd.to_numeric(ok["accuracy"], errors="coerce") if "accuracy" in ok else pd.Series(np.nan, ok.index)
    kinds = figure_kinds(ok)
    cost = cost_of_work(ok) * np.where(kinds == "", 1.0, 1000.0)  # s per sample (query) -> ms
    ok = ok.assign(_x=cost, _kind=kinds, _load=ok["load"].fillna("") if "load" in ok else "", _front=False)
    ok = ok[np.isfinite(accuracy) & np.isfinite(ok["_x"]) & (ok["_x"] > 0)]
    for _, points in ok.groupby(["batch_size", "_load"]):
        ok.loc[points.index, "_front"] = pareto_front(points, "_x")
    return ok


@literal_plot_text()
def plot_tradeoff(frame: pd.DataFrame, workload: str, out_dir: Path) -> Path | None:
    """Accuracy against speed, one panel per batch size and load (an offline row's p50 of overlapping
    requests is no rival of a single-stream p50), the Pareto front joined. The x axis is the load's figure
    of merit as a time (analysis.cost_of_work): the p50 per call, 1000 / throughput (ms per sample) offline,
    1000 / the highest rate meeting the bound (ms per query) for a qps search."""
    import matplotlib.pyplot as plt

    ok = tradeoff_points(frame, workload)
    if ok.empty:
        return None
    every_panel = sorted(ok.groupby(["batch_size", "_load"]).groups)
    panels = every_panel[:MAX_PANELS]  # a panel per batch size and load: the figure's width must stay bounded
    several_loads = ok["_load"].nunique() > 1
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    # one colour per runtime in every panel (the colour cycle followed each panel's order)
    colours = {runtime: f"C{k % 10}" for k, runtime in enumerate(sorted(ok["runtime"].astype(str).unique()))}
    axis_names = {"": "p50 latency per call (ms, log)", "offline": "1000 / throughput: ms per sample (log)",
                  "search": "1000 / highest rate meeting the bound: ms per query (log)"}  # fmt: skip
    for ax, (batch, load) in zip(axes[0], panels, strict=True):
        points = ok[(ok["batch_size"] == batch) & (ok["_load"] == load)]
        for _, row in points.iterrows():
            marker = "s" if str(row["precision_requested"]).startswith("int8") else "o"
            ax.scatter(row["_x"], row["accuracy"], marker=marker, color=colours[str(row["runtime"])])
            ax.annotate(f"{row['runtime']} {row['precision_requested']}", (row["_x"], row["accuracy"]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
        front = points[points["_front"]].sort_values("_x")
        if len(front) > 1:  # one point is no line: no legend entry for it
            ax.plot(front["_x"], front["accuracy"], "k--", linewidth=1, label="Pareto front")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set_xlabel(axis_names.get(points["_kind"].iloc[0], axis_names[""]))
        ax.set_ylabel("accuracy")
        ax.set_title(f"batch {batch}" + (f" · {load}" if several_loads else ""))
        ax.grid(True, alpha=0.3)
        if len(front) > 1:
            ax.legend(fontsize=8)
    shown = f"; the first {MAX_PANELS} of {len(every_panel)} panels" if len(every_panel) > MAX_PANELS else ""
    fig.suptitle(f"{workload}: accuracy against speed (squares: INT8{shown})")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{file_stem(str(workload))}-tradeoff.png"  # a row's name never chooses where it goes
    from harness.report import save_figure

    return save_figure(fig, path)
