"""`python -m harness.compare A B [--fail-on-regression PCT]`: a reviewer's verdict.

Joins the rows of two result sets (results files or sweep directories) on their configuration
(workload, runtime, batch size, requested precision, load — scenario and timed inputs — and the
rest of its stored configuration: model, data, sizes, threads, measurement plan) and prints, per
row, the p50 ratio B/A with a verdict — faster / slower / no significant difference — the accuracy
and agreement changes, and every environment difference. A configuration (CONFIG_KEY) run with one
set of settings on each side is paired even when a setting differs (the difference is listed);
where a side ran several (two models, two sequence lengths, two thread counts), rows pair only on
equal settings and a `variant` column tells them apart.
With --fail-on-regression PCT it exits 1 when any row of B is significantly slower than A by more
than PCT percent (a default minimum effect above PCT is lowered to it), so it can gate CI (and
when nothing was compared at all, when a damaged file was skipped on either side (it may hold the
very regression), when a row "cannot decide": its test had no answer, e.g. raw latencies that are not
numbers, or a qps search with fewer than 2 runs that met the bound on a side, and when a configuration
failed (error, invalid output) in some or all runs of B and in no run of A (`failed_runs` says which),
or is ok in A and not ok in B (every run of B that stands failed, or B found it unsupported:
"not comparable (status A=ok, B=crashed)").

The evidence: where both sides ran a configuration several times (`repeats`), Welch's t test on the
logarithms of the runs' p50s (Hsu's conservative degrees of freedom with 2 runs on a side) — what a
reviewer gets by re-running; otherwise Mood's median test on the raw latencies of the two processes
(or, without them, disjoint p50 confidence intervals), which is about calls, not about the machine
between runs: on a shared VM two runs an hour apart differ "significantly" by a few percent, at
times by 20% (docs/RESULTS.md). Where only one side ran it several times, whether the other side's
one run lies outside what those runs predict (a t prediction test on log p50s). With runs,
p50_ms_a/b are the sides' geometric means and p50_ratio their ratio. Significant differences smaller
than the minimum effect — a change of PCT% either way, |log ratio| < log(1 + PCT/100) — are "no
meaningful difference": by default twice the larger between-run CV of the sides with repeats (a side
of 2 runs: at least the A/A runs' median CV, 2.3%), else 0; --min-effect PCT sets it. Each row says
which rule and threshold decided.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from harness import analysis, results
from harness.summary import between_run_cv, busy_of, costs_of, failures_of, p50s_of
from harness.tool_args import ToolParser, bounded, run_tool
from harness.untrusted import one_line

BETWEEN_RUN_FACTOR = 2.0  # default min effect: twice the larger between-run coefficient of variation
# A CV from 2 runs (1 degree of freedom) is no estimate: two runs 0.001% apart made a 2.3% difference
# "faster" at a minimum effect of 0.0%. Such a CV is raised to at least the median between-run CV of
# the A/A runs in docs/RESULTS.md (BERT fp32 grid, repeats=3: 0.8-12%, median 2.3%).
TWO_RUN_CV_FLOOR = 0.023


def min_effect_rule(
    runs_a: np.ndarray, runs_b: np.ndarray, given: float | None, cap: float | None = None
) -> tuple[float, str]:
    """(the smallest change in percent that counts, either way: analysis.beyond_effect; the rule that
    set it). Given on the command line it is used as it is; otherwise, with repeats on a side, it is
    BETWEEN_RUN_FACTOR times the larger between-run CV of the sides that have them (what two honest
    runs already differ by; a side of 2 runs counts at least TWO_RUN_CV_FLOOR); otherwise 0. A default
    above `cap` (the gate's --fail-on-regression PCT: the change its user said matters) is lowered to
    it, so the table says what the gate decides on; so is a given one."""
    if given is not None:
        if cap is not None and given > cap:
            return cap, f"--min-effect {given:g}%, lowered to --fail-on-regression {cap:g}%"
        return given, f"--min-effect {given:g}%"
    with_runs = [r for r in (runs_a, runs_b) if len(r) >= 2]
    if not with_runs:
        return 0.0, "none (single runs: use --min-effect from two runs of your own)"
    cv, measured = max((max(between_run_cv(r), TWO_RUN_CV_FLOOR if len(r) == 2 else 0.0), between_run_cv(r))
                       for r in with_runs)  # fmt: skip
    pct = 100 * BETWEEN_RUN_FACTOR * cv
    raised = f" (of 2 runs {100 * measured:.1f}%, raised to the A/A runs' median)" if cv > measured else ""
    rule = f"{BETWEEN_RUN_FACTOR:g} x between-run CV {100 * cv:.1f}%{raised} = {pct:.1f}%"
    if cap is not None and pct > cap:
        return cap, f"{rule}, lowered to --fail-on-regression {cap:g}%"
    return pct, rule


def runs_center(runs: np.ndarray, row: pd.Series) -> float:
    """A side's p50 as the verdict uses it: the geometric mean of its runs where it has several (the
    ratio is of those), else the row's own p50."""
    return analysis.geometric_mean(runs) if len(runs) >= 2 else row["latency_ms_p50"]


def compare(
    a_paths: list[Path],
    b_paths: list[Path],
    min_effect_pct: float | None = None,
    notes: list[str] | None = None,
    gate_pct: float | None = None,
) -> tuple[pd.DataFrame, dict[str, tuple[list[str], list[str]]]]:
    """(one row per shared configuration with the verdict, environment differences A vs B). Where
    both sides hold several runs of a configuration, the runs' p50s decide (summary.p50s_of). A host
    that measured on both sides is compared with itself only (`host` column); hosts found on one side
    only pair with the other side's (environment differences list them). `gate_pct` (the gate's
    --fail-on-regression) caps the default minimum effect (min_effect_rule); `test_verdict` keeps the
    test's own verdict, before the minimum effect, for the gate (regressions). Damaged files skipped on
    the way are named in `notes` (one line each)."""
    a_all, b_all = analysis.load(a_paths, notes), analysis.load(b_paths, notes)
    shared_runs = set(a_all["run_id"].dropna()) & set(b_all["run_id"].dropna()) if len(a_all) and len(b_all) else set()
    if shared_runs and notes is not None:  # `compare A A`, or a copy: said, as no verdict shows it
        notes.append(f"A and B share {len(shared_runs)} of their runs (the same rows on both sides): those are "
                     "compared with themselves, not with a second measurement")  # fmt: skip
    # the join names each side's columns <name>_a / <name>_b: a file's own column so named is not the harness's
    a_all, b_all = (f.drop(columns=[c for c in f.columns if str(c).endswith(("_a", "_b"))]) for f in (a_all, b_all))
    a_all, b_all = with_host(a_all, b_all)
    # the rest of the configuration too: one result set may hold two models (MiniLM and BERT-base rows
    # of `bert`), two sequence lengths or two thread counts, and keeping only the newest row per
    # CONFIG_KEY would silently drop all but one of them
    config_key = [*analysis.CONFIG_KEY, "host", "settings"]
    a_all, b_all = (f.assign(settings=f["config_json"].map(analysis.configuration_settings)
                             if "config_json" in f else "")
                    for f in (a_all, b_all))  # fmt: skip
    # a host on one side only keeps its own newest row (`own_host`): two such hosts of B each meet A's, and
    # the newest alone hid the other (a 2x slower cluster node passed the gate)
    a, b = (analysis.latest(f, [*config_key, "own_host"]).assign(settings_original=lambda f: f["settings"])
            for f in (a_all, b_all))  # fmt: skip
    b = pair_single_settings(a, b)
    joined = a.merge(b, on=config_key, how="outer", suffixes=("_a", "_b"), indicator=True).copy()  # defragmented
    joined["variant"] = analysis.variant_labels(joined, joined["settings"])
    several_own = max(f["own_host"].nunique() for f in (a, b)) > 1
    rows = []
    for _, row in joined.iterrows():
        key = {k: row[k] for k in [*analysis.CONFIG_KEY, "host", "variant"]}
        if several_own and not key["host"]:  # which of the hosts found on one side only met which
            key["host"] = " -> ".join(str(h) if isinstance(h, str) and h else "?" for h in
                                      (row.get("own_host_a"), row.get("own_host_b")))  # fmt: skip
        if row["_merge"] != "both":
            rows.append({**key, "verdict": f"only in {'A' if row['_merge'] == 'left_only' else 'B'}"})
            continue
        side_a = pd.Series({c[:-2]: row[c] for c in row.index if c.endswith("_a")})
        side_b = pd.Series({c[:-2]: row[c] for c in row.index if c.endswith("_b")})
        out = {**key, "p50_ms_a": side_a["latency_ms_p50"], "p50_ms_b": side_b["latency_ms_p50"]}
        if side_a["status"] != results.OK or side_b["status"] != results.OK:
            out["verdict"] = f"not comparable (status A={side_a['status']}, B={side_b['status']})"
        else:
            runs_a, runs_b = p50s_of(a_all, side_a), p50s_of(b_all, side_b)
            out.update(runs_a=len(runs_a), runs_b=len(runs_b), p50_ms_a=runs_center(runs_a, side_a),
                       p50_ms_b=runs_center(runs_b, side_b))  # fmt: skip
            verdict, ratio, method = analysis.latency_verdict(side_a, side_b, runs_a, runs_b)
            if (figure := analysis.figure_of(side_a)) is not None:
                # offline and a qps search are judged on their own figure (cost_of_work), across runs; the
                # ratio is then of costs (1 / throughput, 1 / highest rate): above 1, B does less work per second
                name = figure[0]
                costs_a, costs_b = costs_of(a_all, side_a), costs_of(b_all, side_b)
                if not len(costs_a) or not len(costs_b):  # a qps search that met the bound at no rate, in any run
                    sides = [side for side, costs in (("A", costs_a), ("B", costs_b)) if not len(costs)]
                    verdict, ratio = analysis.CANNOT_DECIDE, math.nan  # its p50s were taken at other rates
                    method = f"{name}: none in any run of {' or '.join(sides)} (no rate tried met the bound)"
                elif len(costs_a) >= 2 and len(costs_b) >= 2:
                    what = "costs (1 / throughput)" if figure[1] == "throughput_sps" else "costs (1 / rate)"
                    significant, ratio, method = analysis.between_run_verdict(costs_a, costs_b, what)
                    verdict = ("slower" if ratio > 1 else "faster") if significant else "no significant difference"
                    # the minimum effect from the spread of the figure itself, as summary.csv's between_run_cv
                    method, runs_a, runs_b = f"{name}: {method}", 1.0 / costs_a, 1.0 / costs_b
                else:  # fewer than 2 figures on a side: the figure has no test
                    cost_ratio = analysis.geometric_mean(costs_b) / analysis.geometric_mean(costs_a)
                    untested = (f"{name} x{1 / cost_ratio:.3f} B/A untested: a test needs 2+ runs with one on each "
                                f"side (A {len(costs_a)}, B {len(costs_b)})")  # fmt: skip
                    if figure[1] == "max_qps_meeting_bound":  # its requests' p50s were taken at other rates
                        verdict, ratio, method = analysis.CANNOT_DECIDE, math.nan, untested
                    else:  # offline: the requests' p50s, under the same streams, have a test
                        method = f"p50 of the requests ({method}); {untested}"
            threshold, rule = min_effect_rule(runs_a, runs_b, min_effect_pct, gate_pct)
            out["test_verdict"] = verdict
            if verdict in ("faster", "slower") and not analysis.beyond_effect(ratio, threshold):
                verdict = f"no meaningful difference (< {threshold:.3g}%)"
            out.update(p50_ratio=ratio, verdict=verdict, evidence=method, min_effect=rule)
            out["accuracy_change"] = side_b["accuracy"] - side_a["accuracy"]
            # a verdict is only as good as the machine was quiet (the report flags such rows; rerun says so)
            busy = [(side, busy_of(frame, row), n) for side, frame, row, n in
                    (("A", a_all, side_a, len(runs_a) or 1), ("B", b_all, side_b, len(runs_b) or 1))]  # fmt: skip
            out["busy_runs"] = "; ".join(f"{side} {k} of {n}" for side, k, n in busy if k)
            out["agreement_change"] = side_b["agreement"] - side_a["agreement"]
        failed = [(side, *failures_of(frame, row)) for side, frame, row in (("A", a_all, side_a), ("B", b_all, side_b))]
        out["failed_a"], out["failed_b"] = failed[0][1], failed[1][1]
        out["failed_runs"] = "; ".join(f"{side} {n}: {why}" for side, n, why in failed if n)
        differs = [c for c in ("runtime_version", "threads", "precision_effective", "config_hash", "model_hash",
                               "data_hash")
                   if not analysis.same_recorded(side_a.get(c), side_b.get(c))]  # fmt: skip
        out["differs"] = ", ".join(
            [f"{c}: {side_a.get(c)} -> {side_b.get(c)}" for c in differs]
            + settings_change(side_a.get("settings_original"), side_b.get("settings_original"))
        )
        rows.append(out)
    # the environment of what was compared: a runtime present on one side only is no difference
    compared = joined.loc[joined["_merge"] == "both", config_key].drop_duplicates()
    if not compared.empty:
        a, b = (side.merge(compared, on=config_key) for side in (a, b))
    env_a, env_b = analysis.environment(a), analysis.environment(b)
    env_diff = {c: (env_a[c], env_b.get(c, [])) for c in env_a if env_a[c] != env_b.get(c, [])}
    table = pd.DataFrame(rows)
    for column in ("variant", "host", "failed_runs", "busy_runs"):  # only when some row has one
        if table.empty or column not in table or not table[column].fillna("").astype(bool).any():
            table = table.drop(columns=column, errors="ignore")
    return table, env_diff


def with_host(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both sides with a `host` join column: the hostname where that host measured on both sides,
    else "" (a host on one side only pairs with each of the other side's such hosts), and `own_host`:
    the hostname of a host found on one side only, else "". Two hosts on each side (a
    cluster sweep): without it the newest row of a configuration set one host's figure beside the
    other's, and identical result sets read 2x "faster"."""
    hosts = [set(f["hostname"].dropna()) if "hostname" in f else set() for f in (a, b)]
    shared = hosts[0] & hosts[1]
    out = []
    for f in (a, b):
        names = f["hostname"].fillna("") if "hostname" in f else pd.Series("", index=f.index)
        out.append(f.assign(host=names.where(names.isin(shared), ""), own_host=names.where(~names.isin(shared), "")))
    return out[0], out[1]


def pair_single_settings(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """`b` with its `settings` set to A's where a configuration (CONFIG_KEY) ran with exactly one
    set of settings on each side: those two rows are the same configuration measured twice even when
    a setting differs (e.g. the accuracy set's size), and compare lists the difference. Where a side
    holds several settings of a configuration, rows pair only on equal settings."""
    b = b.copy()
    a_key, b_key = _key_text(a), _key_text(b)  # text: a missing value (NaN) must meet its like
    a_settings = a.groupby(a_key)["settings"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None)
    b_count = b.groupby(b_key)["settings"].transform("nunique")
    for index in b.index[b_count == 1]:
        mine = a_settings.get(b_key[index])
        if isinstance(mine, str):
            b.loc[index, "settings"] = mine
    return b


def _key_text(frame: pd.DataFrame) -> pd.Series:
    """CONFIG_KEY and host of each row as one text (analysis.key_text per column)."""
    return frame[[*analysis.CONFIG_KEY, "host"]].apply(lambda row: "\x1f".join(map(analysis.key_text, row)), axis=1)


def settings_change(a: object, b: object) -> list[str]:
    """`key: A -> B` for each setting that differs between two paired rows (threads is listed
    with the environment columns already)."""
    if not isinstance(a, str) or not isinstance(b, str) or a == b:
        return []
    flat_a, flat_b = analysis.flat_settings(a), analysis.flat_settings(b)
    changes = [f"{k}: {flat_a.get(k)} -> {flat_b.get(k)}" for k in analysis.settings_differences([a, b])
               if k != "threads"]  # fmt: skip
    if not changes and flat_a.get("threads") == flat_b.get("threads"):  # no flat key differs: the texts
        changes = [f"configuration: {a} -> {b}"]
    return [analysis.cut_text(c) for c in changes]


def regressions(table: pd.DataFrame, pct: float) -> pd.DataFrame:
    """Rows of B significantly slower than A (the test's verdict, whatever minimum effect the table
    applied) by at least `pct` percent (analysis.beyond_effect: the rule the table's minimum effect
    uses, so a ratio of exactly 1 + pct/100 is the same change in both): the gate's --fail-on-regression."""
    if "p50_ratio" not in table:
        return table.iloc[0:0]
    beyond = table["p50_ratio"].map(lambda ratio: ratio > 1 and analysis.beyond_effect(ratio, pct))
    return table[(table["test_verdict"] == "slower") & beyond]


def render(table: pd.DataFrame, env_diff: dict[str, tuple[list[str], list[str]]]) -> str:
    view = table.drop(columns=["test_verdict", "failed_a", "failed_b"], errors="ignore")
    for column in ("runs_a", "runs_b"):  # counts: 3, not 3.0 (a row only in A has none)
        if column in view:
            view[column] = view[column].map(lambda v: "" if pd.isna(v) else str(int(v)))
    for column, fmt in (("p50_ms_a", "{:.3f}"), ("p50_ms_b", "{:.3f}"), ("p50_ratio", "{:.3f}"),
                        ("accuracy_change", "{:+.4f}"), ("agreement_change", "{:+.4f}")):  # fmt: skip
        if column in view:
            view[column] = view[column].map(lambda v, f=fmt: "" if pd.isna(v) else f.format(v))
    # a cell from a file (a runtime, host or setting) holding a line break would print a line of its own
    view = view.astype(object).where(view.notna(), "").map(lambda v: one_line(v) if isinstance(v, str) else v)
    lines = [view.to_string(index=False), ""]
    counts = table["verdict"].value_counts()
    lines.append("verdicts: " + ", ".join(f"{n} {verdict}" for verdict, n in counts.items()))
    if env_diff:
        lines.append("environment differences (A -> B):")
        lines += [one_line(f"  {c}: {', '.join(a) or '-'} -> {', '.join(b) or '-'}") for c, (a, b) in env_diff.items()]
    else:
        lines.append("environment: identical (CPU, flags, host, versions, threads)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = ToolParser(prog="python -m harness.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("a", type=Path, help="baseline: a sweep directory or a results file")
    parser.add_argument("b", type=Path, help="candidate: a sweep directory or a results file")
    parser.add_argument("--fail-on-regression", type=bounded(0, 10_000), metavar="PCT", default=None,
                        help="exit 1 if any row of B is significantly slower than A by more than PCT%%")  # fmt: skip
    parser.add_argument(
        "--min-effect",
        type=bounded(0, 10_000),
        metavar="PCT",
        default=None,
        help="call significant differences smaller than PCT%% 'no meaningful difference' (default: twice the "
        "larger between-run CV of the sides with repeats (a 2-run side: at least 2.3%%), else 0; at most "
        "--fail-on-regression)",
    )
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        table, env_diff = compare([args.a], [args.b], args.min_effect, notes, args.fail_on_regression)
    except results.ResultsError as exc:
        print(f"harness.compare: {one_line(str(exc))}", file=sys.stderr)
        return 2
    for note in dict.fromkeys(notes):  # both sides may be one directory
        print(f"harness.compare: {one_line(note)}", file=sys.stderr)
    print(render(table, env_diff))
    compared = int(table["p50_ratio"].notna().sum()) if "p50_ratio" in table else 0
    if args.fail_on_regression is not None:
        if compared == 0:  # a gate that compared nothing must not pass
            print("harness.compare: no configuration has an ok row on both sides; nothing was compared",
                  file=sys.stderr)  # fmt: skip
            return 1
        lost = dict.fromkeys(n for n in notes if isinstance(n, results.LostRows))
        if lost:  # a damaged row file was skipped: it may hold the very regression the gate is for
            print(f"harness.compare: {len(lost)} file(s) could not be read in full (above); a gate cannot vouch "
                  "for rows it did not see, so it fails", file=sys.stderr)  # fmt: skip
            return 1
        undecided = int((table["verdict"] == analysis.CANNOT_DECIDE).sum())
        if undecided:  # a gate cannot pass on a row it has no answer for
            print(f"harness.compare: {undecided} row(s) could not be decided (see evidence); the gate fails",
                  file=sys.stderr)  # fmt: skip
            return 1
        broke = table[(table["failed_b"] > 0) & (table["failed_a"] == 0)] if "failed_b" in table else table.iloc[0:0]
        if not broke.empty:  # ok in every run of A, an error or invalid output in some run of B: a regression
            print(f"harness.compare: {len(broke)} row(s) failed in some or all runs of B and in no run of A "
                  "(failed_runs); the gate fails", file=sys.stderr)  # fmt: skip
            return 1
        # no run of B stands ok where one of A does (failed, or now unsupported or unavailable): whatever A's own
        # failures, B lost the configuration, and a gate cannot vouch for what B did not measure
        lost_b = table["verdict"].astype(str).str.startswith("not comparable (status A=ok, B=")
        if lost_b.any():
            print(f"harness.compare: {int(lost_b.sum())} row(s) ok in A and not ok in B (the verdict says how); "
                  "the gate fails", file=sys.stderr)  # fmt: skip
            return 1
        bad = regressions(table, args.fail_on_regression)
        if not bad.empty:
            print(f"\n{len(bad)} row(s) slower by more than {args.fail_on_regression:g}% with significance",
                  file=sys.stderr)  # fmt: skip
            return 1
    return 0


if __name__ == "__main__":
    run_tool(main, "harness.compare")
