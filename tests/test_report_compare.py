"""Reports, compare verdicts and single-row re-runs: synthetic result sets with known
differences, and a real tiny sweep."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import analysis, compare, report, results
from harness.cli import check_command_line

ENV = {"cpu_model": "CPU X", "cpu_flags": "avx2", "hostname": "h", "python_version": "3.11.7",
       "torch_version": "2.13.0", "runtime_version": "1", "harness_git_sha": "abc", "threads": 2}  # fmt: skip


def make_set(directory: Path, rows: list[dict], seed: int, env: dict | None = None) -> Path:
    """Rows of known medians (ms) with 300 raw latencies each, 2% spread."""
    rng = np.random.default_rng(seed)
    for k, spec in enumerate(rows):
        median = spec.pop("median")
        latencies = rng.normal(median, 0.02 * median, 300)
        row = {
            "run_id": f"{directory.name}-{k}", "config_hash": f"h{k}", "workload": "bert", "batch_size": 1,
            "precision_requested": "fp32", "precision_effective": "fp32", "status": "ok", "accuracy": 0.9,
            "agreement": 1.0, "started_at": f"2026-01-01T00:00:{k:02d}", "latency_ms_p50": float(np.median(latencies)),
            "latency_ms_p50_ci_low": float(np.percentile(latencies, 45)),
            "latency_ms_p50_ci_high": float(np.percentile(latencies, 55)), "latency_ms_p99": float(median * 1.1),
            "throughput_sps": 1000 / median, "first_inference_ms": 1.0, "prepare_s": 1.0,
            **(env or ENV), **spec,
        }  # fmt: skip
        results.append_result(directory, row, latencies)
    return directory


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0},
                                  {"runtime": "compile", "median": 8.0}], seed=1)  # fmt: skip
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 6.0},
                                  {"runtime": "compile", "median": 6.4, "accuracy": 0.85}], seed=2,
                 env={**ENV, "torch_version": "2.14.0"})  # fmt: skip
    return a, b


def test_a_single_run_verdict_tests_the_p50s_it_names() -> None:
    """Found by breaking it: Mann-Whitney (do B's calls tend to be smaller?) read "slower" at p=1e-16 for
    a B whose calls were mostly faster, from the sign of a p50 ratio of 1.005 it never tested. Mood's
    median test tests the medians: by hand, the counts above and below the pooled median, chi-square
    with Yates' correction (scipy.stats.median_test's default)."""
    from scipy import stats

    rng = np.random.default_rng(0)
    a = rng.normal(10, 0.2, 1000)
    b = np.concatenate([rng.normal(10.15, 0.05, 520), rng.normal(5, 0.1, 480)])
    assert stats.mannwhitneyu(a, b).pvalue < 1e-10 and analysis.median_test_p(a, b) > analysis.SIGNIFICANCE_P
    pooled = np.median(np.concatenate([a, b]))
    table = [[int((a > pooled).sum()), int((b > pooled).sum())], [int((a <= pooled).sum()), int((b <= pooled).sum())]]
    assert analysis.median_test_p(a, b) == pytest.approx(stats.chi2_contingency(table, correction=True).pvalue)
    assert analysis.median_test_p(a, a * 1.05) < 1e-10  # medians 5% apart: shown
    # every value at or under the pooled median (ties at the top): counted the other way, no exception
    assert 0 < analysis.median_test_p(np.array([1.0, 1, 1, 2, 2, 2]), np.full(6, 2.0)) <= 1


def test_compare_gives_the_known_verdicts(two_sets: tuple[Path, Path]) -> None:
    table, env_diff = compare.compare([two_sets[0]], [two_sets[1]])
    verdicts = table.set_index("runtime")["verdict"].to_dict()
    assert verdicts == {"eager": "no significant difference", "openvino": "slower", "compile": "faster"}
    ratios = table.set_index("runtime")["p50_ratio"]
    assert ratios["openvino"] == pytest.approx(1.2, rel=0.02) and ratios["compile"] == pytest.approx(0.8, rel=0.02)
    assert table.set_index("runtime").loc["compile", "accuracy_change"] == pytest.approx(-0.05)
    assert env_diff == {"torch_version": (["2.13.0"], ["2.14.0"])}
    assert table["evidence"].str.startswith("Mood's median test p=").all()


def test_compare_gates_on_regressions(two_sets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    a, b = two_sets
    assert compare.main([str(a), str(b), "--fail-on-regression", "10"]) == 1
    assert compare.main([str(a), str(b), "--fail-on-regression", "30"]) == 0
    assert compare.main([str(a / "results.csv"), str(b / "results.parquet")]) == 0
    out = capsys.readouterr().out
    assert "torch_version: 2.13.0 -> 2.14.0" in out and "slower" in out


def test_compare_min_effect_turns_small_significant_differences_into_no_meaningful_difference(
    two_sets: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    table, _ = compare.compare([two_sets[0]], [two_sets[1]], min_effect_pct=21)
    verdicts = table.set_index("runtime")["verdict"].to_dict()
    # openvino's p50 is x1.2 (under 21%: not meaningful); compile's x0.8 is a change of 25% the other way
    # (1/0.8), as large as x1.25 slower would be: the rule is the same in both directions
    assert verdicts == {"eager": "no significant difference", "openvino": "no meaningful difference (< 21%)",
                        "compile": "faster"}  # fmt: skip
    table, _ = compare.compare([two_sets[0]], [two_sets[1]], min_effect_pct=26)
    assert table.set_index("runtime")["verdict"]["compile"] == "no meaningful difference (< 26%)"
    assert compare.main([str(two_sets[0]), str(two_sets[1]), "--min-effect", "15"]) == 0
    summary = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("verdicts: "))
    expected = {"1 no significant difference", "1 slower", "1 faster"}
    assert set(summary.removeprefix("verdicts: ").split(", ")) == expected


def test_compare_without_raw_latencies_uses_the_confidence_intervals(
    two_sets: tuple[Path, Path], tmp_path: Path
) -> None:
    alone = []  # results.csv files sent on their own, without the row files that hold raw latencies
    for directory in two_sets:
        (tmp_path / f"{directory.name}-csv").mkdir()
        alone.append(tmp_path / f"{directory.name}-csv" / "results.csv")
        alone[-1].write_bytes((directory / "results.csv").read_bytes())
    table, _ = compare.compare([alone[0]], [alone[1]])
    assert table.set_index("runtime")["verdict"].to_dict()["openvino"] == "slower"
    assert table["evidence"].str.startswith("p50 95% CIs").all()


def test_compare_names_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert compare.main([str(tmp_path / "nope"), str(tmp_path)]) == 2
    assert "nope does not exist" in capsys.readouterr().err


def test_compare_says_when_both_sides_are_the_same_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`compare A A` answered "no significant difference" for every row without a word that nothing was
    measured twice (found by a new user)."""
    make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}], seed=3)
    assert compare.main([str(tmp_path / "s"), str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "harness.compare: A and B share 2 of their runs (the same rows on both sides)" in err, err
    make_set(tmp_path / "t", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}], seed=4)
    assert compare.main([str(tmp_path / "s"), str(tmp_path / "t")]) == 0
    assert "share" not in capsys.readouterr().err


def test_compare_says_which_side_ran_on_a_busy_machine(tmp_path: Path) -> None:
    """A side measured while other processes held the CPU got a verdict like any other (found by a new user);
    the report flags such rows and rerun says so: compare counts them per side."""
    make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0, "other_cpu_share": 0.6},
                              {"runtime": "openvino", "median": 5.0}], seed=3)  # fmt: skip
    make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}], seed=4)
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table.set_index("runtime")["busy_runs"].to_dict() == {"eager": "A 1 of 1", "openvino": ""}
    quiet, _ = compare.compare([tmp_path / "b"], [tmp_path / "b"])
    assert "busy_runs" not in quiet


def test_report_flags_what_deserves_a_second_look(tmp_path: Path) -> None:
    make_set(tmp_path / "s", [
        {"runtime": "eager", "median": 10.0, "accuracy": 0.90},
        {"runtime": "openvino", "median": 5.0, "accuracy": 0.85, "agreement": 0.95, "precision_effective": "bf16"},
        {"runtime": "ipex", "median": 5.0, "status": "error", "error": "boom"},
        {"runtime": "compile", "median": 9.0, "hostname": "other"},
    ], seed=3)  # fmt: skip
    flags = " | ".join(report.build([tmp_path / "s"]).flags)
    # two hosts in the set: each row's flag names its own
    assert "openvino · batch 1 · fp32 · h (CPU X): accuracy 0.8500 is more than 1 point below eager's 0.9000" in flags
    assert "agreement with eager fp32 0.9500" in flags
    assert "effective precision bf16 differs from requested" in flags
    assert "ipex · batch 1 · fp32 · h (CPU X): status error: boom" in flags
    assert "mixed environments: hostname: h, other" in flags


def _rerun_ignoring_time(source: Path, run_id: str, cache: Path, cwd: Path):
    """`harness.rerun` with a tolerance no timing can miss: timing is not what these checks test."""
    return _python("-m", "harness.rerun", str(source), run_id, "--tolerance", "1e9", "--cache-dir", str(cache), cwd=cwd)


def test_report_from_a_real_tiny_sweep(cli, tmp_path: Path, shared_cache: Path) -> None:
    run = cli("-m", "workload=tiny_resnet", "runtime=eager,openvino", "batch=1,2", "hydra.sweep.dir=sweep")
    assert run.returncode == 0, run.stderr[-2000:]
    assert report.main([str(tmp_path / "sweep")]) == 0
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    markdown = (tmp_path / "sweep" / "report.md").read_text()
    assert "## resnet101 · fp32" in markdown and "## Environment" in markdown and "## Flagged rows" in markdown
    for _, row in frame.iterrows():  # every row's numbers appear as in the CSV
        established = pd.notna(row["latency_ms_p50_ci_low"])  # fewer than 6 calls (a slow machine): no CI
        ci = f"\\[{row['latency_ms_p50_ci_low']:.3f}, " if established else "\\[CI needs 6+ calls]"  # `[` escaped
        assert f"{row['latency_ms_p50']:.3f} {ci}" in markdown
        assert f"python -m harness.rerun {tmp_path / 'sweep'} {row['run_id']}" in markdown
    openvino = frame[frame["runtime"] == "openvino"].set_index("batch_size")["latency_ms_p50"]
    eager = frame[frame["runtime"] == "eager"].set_index("batch_size")["latency_ms_p50"]
    table = report.build([tmp_path / "sweep"]).tables["resnet101 · fp32"]
    shown = table[table["runtime"] == "openvino"].set_index("batch")["speed-up vs eager"]
    for batch in (1, 2):
        assert shown[batch] == f"{eager[batch] / openvino[batch]:.2f}"
    plots = sorted(p.name for p in (tmp_path / "sweep" / "plots").glob("*.png"))
    per_precision = [f"resnet101-fp32-{k}.png" for k in ("latency", "speedup", "startup", "throughput")]
    assert plots == sorted([*per_precision, "resnet101-tradeoff.png"])  # the decision view's accuracy vs latency
    assert all((tmp_path / "sweep" / "plots" / p).stat().st_size > 10_000 for p in plots)
    page = (tmp_path / "sweep" / "report.html").read_text()
    assert page.count("<img src='plots/") == 5 and "<table" in page

    run_id = frame["run_id"].iloc[0]
    rerun = _rerun_ignoring_time(tmp_path / "sweep", run_id, shared_cache, tmp_path)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr[-2000:]
    assert re.search(r"accuracy (\S+) -> \1; agreement (\S+) -> \2", rerun.stdout) and "reproduced" in rerun.stdout
    assert "environment differs" not in rerun.stdout
    again = pd.read_csv(tmp_path / "sweep" / "reruns" / "results.csv")
    assert again["config_hash"].tolist() == [frame["config_hash"].iloc[0]]
    assert frame["model_hash"].nunique() == 1 and again["model_hash"].iloc[0] == frame["model_hash"].iloc[0]

    # Ctrl-C while the re-run measures: one line, exit 130, the earlier re-run's row kept (was a traceback)
    import os
    import signal
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent.parent), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "harness.rerun", str(tmp_path / "sweep"), run_id, "--cache-dir",
                             str(shared_cache)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().startswith("re-running ")
    time.sleep(1.0)  # the job's child is starting or measuring
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert err.strip().splitlines()[-1] == "harness.rerun: interrupted; the re-run was not recorded", err[-500:]
    assert pd.read_csv(tmp_path / "sweep" / "reruns" / "results.csv")["run_id"].tolist() == again["run_id"].tolist()

    # A row whose weights were different (as if the checkpoint changed in place) is not reproduced.
    # Its threads read back as 2.0 (as a column with gaps does): that is no environment difference.
    # (A results.csv sent on its own, edited.)
    frame.loc[frame["run_id"] == run_id, "model_hash"] = "0123456789abcdef"
    frame.loc[frame["run_id"] == run_id, "other_cpu_share"] = 0.8  # and it was measured on a busy machine
    frame["threads"] = frame["threads"].astype(float)
    (tmp_path / "sent").mkdir()
    frame.to_csv(tmp_path / "sent" / "results.csv", index=False)
    rerun = _rerun_ignoring_time(tmp_path / "sent" / "results.csv", run_id, shared_cache, tmp_path)
    assert rerun.returncode == 1, rerun.stdout + rerun.stderr[-2000:]
    assert "not the same model: model_hash 0123456789abcdef -> " in rerun.stdout
    assert "machine busy or drifting during the stored row: other processes used 80% of the CPUs" in rerun.stdout
    assert "environment differs" not in rerun.stdout
    assert rerun.stdout.rstrip().endswith("not reproduced")


def _python(*args: str, cwd: Path):
    import os
    import subprocess
    import sys

    from harness.envinfo import PROJECT_ROOT

    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_study_experiment_is_the_studys_grid() -> None:
    from harness.catalog import runtime_names

    runtimes = len(runtime_names())
    errors, n_jobs = check_command_line(["+experiment=study", "-m"])
    assert errors == [] and n_jobs == 2 * runtimes * 3 * 3, "both workloads x runtimes x 3 batch sizes x 3 repeats"
    assert check_command_line(["+experiment=study", "-m", "batch=1"]) == ([], 2 * runtimes * 3)
    assert check_command_line(["+experiment=study", "-m", "batch=1", "repeats=1"]) == ([], 2 * runtimes)


def test_compare_lists_only_real_differences() -> None:
    same = analysis.same_recorded
    assert same(2, 2.0) and same(np.int64(2), 2.0) and same("fp32", "fp32")
    assert same(None, "0a98") and same(float("nan"), 3)  # not recorded on one side
    assert not same(2, 1) and not same("fp32", "bf16") and not same("ab", "cd")
    assert not same("1e50000000000000", "2e50000000000000")  # hashes are not numbers
    assert not same(2.5, 2) and same(2.5, np.float64(2.5))
    # The environment block reads the same rule: threads 2 in A and 2.0 in B is one environment.
    ints, floats = pd.DataFrame({"threads": [2, 2]}), pd.DataFrame({"threads": [2.0, np.nan]})
    assert analysis.environment(ints) == analysis.environment(floats) == {"threads": ["2"]}


def test_compare_says_when_a_row_has_no_readable_configuration(tmp_path: Path) -> None:
    """A row whose config_json cannot be read has an unknown load: it is never joined with a row of
    a known load, and compare says so instead of only listing it as 'only in B'."""
    config = '{"scenario": {"name": "single_stream"}, "timing_inputs": "fixed"}'
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0, "config_json": config}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0, "config_json": '{"scenario": [1,'}], seed=2)
    notes: list[str] = []
    table, _ = compare.compare([a], [b], notes=notes)
    assert sorted(table["verdict"]) == ["only in A", "only in B"]
    assert [n for n in notes if "without a readable config_json" in n and str(b) in n], notes
    assert not [n for n in notes if str(a) in n], "a readable configuration is never noted"


def test_two_models_of_one_workload_stay_apart_in_speedups_and_compare(tmp_path: Path) -> None:
    """One result set holding MiniLM and BERT-base rows of workload `bert`: a speed-up is taken against
    eager on the same model (it was taken against whichever eager came last), and compare keeps both
    models' rows (it kept the newest row per configuration, dropping the other model's)."""
    small = '{"workload": {"name": "bert", "options": {"model": "small"}}}'
    large = '{"workload": {"name": "bert", "options": {"model": "large"}}}'
    rows = [{"runtime": "eager", "median": 20.0, "model": "small", "config_json": small},
            {"runtime": "compile", "median": 10.0, "model": "small", "config_json": small},
            {"runtime": "eager", "median": 200.0, "model": "large", "config_json": large},
            {"runtime": "compile", "median": 50.0, "model": "large", "config_json": large}]  # fmt: skip
    for k, row in enumerate(rows):
        row["config_hash"] = f"c{k}"
    a = make_set(tmp_path / "a", [dict(r) for r in rows], seed=1)
    b = make_set(tmp_path / "b", [dict(r) for r in rows], seed=2)
    shown = analysis.with_speedup(analysis.load([a]))
    speedups = shown[shown["runtime"] == "compile"].set_index("model")["speedup_vs_eager"]
    assert speedups["small"] == pytest.approx(2.0, rel=0.05) and speedups["large"] == pytest.approx(4.0, rel=0.05)
    # eager at another thread count is no baseline either
    other = make_set(tmp_path / "threads", [{"runtime": "eager", "median": 20.0, "threads": 1},
                                            {"runtime": "compile", "median": 10.0, "threads": 2}], seed=3)  # fmt: skip
    assert analysis.with_speedup(analysis.load([other]))["speedup_vs_eager"].isna().tolist() == [False, True]
    table, _ = compare.compare([a], [b])
    assert len(table) == 4 and sorted(table["variant"]) == ["workload.options.model=large"] * 2 + [
        "workload.options.model=small"] * 2  # fmt: skip
    assert not table["verdict"].str.startswith("only in").any()
    ratios = table.set_index(["runtime", "variant"])["p50_ratio"]
    assert ratios.between(0.9, 1.1).all(), "each row met its own model's row on the other side"


def _config(**options: object) -> str:
    return json.dumps({"workload": {"name": "bert", "options": options}})


def test_compare_keeps_rows_that_differ_only_in_a_workload_setting(tmp_path: Path) -> None:
    """Two sequence lengths of one runtime in one result set are two configurations: compare keeps
    both and pairs each with its own (it kept the newest and dropped the other)."""
    rows = [{"runtime": "eager", "median": 10.0, "config_json": _config(seq_len=64)},
            {"runtime": "eager", "median": 40.0, "config_json": _config(seq_len=256)}]  # fmt: skip
    a = make_set(tmp_path / "a", [dict(r) for r in rows], seed=1)
    b = make_set(tmp_path / "b", [dict(r) for r in rows[::-1]], seed=2)
    table, _ = compare.compare([a], [b])
    assert sorted(table["variant"]) == ["workload.options.seq_len=256", "workload.options.seq_len=64"]
    by_variant = table.set_index("variant")
    assert by_variant.loc["workload.options.seq_len=64", "p50_ms_a"] == pytest.approx(10.0, rel=0.02)
    assert by_variant.loc["workload.options.seq_len=256", "p50_ms_b"] == pytest.approx(40.0, rel=0.02)
    assert set(table["verdict"]) == {"no significant difference"}
    # one setting more on one side: it is "only in B", named by its setting
    b2 = make_set(tmp_path / "b2", [dict(r) for r in rows] + [
        {"runtime": "eager", "median": 20.0, "config_json": _config(seq_len=128)}], seed=3)  # fmt: skip
    table, _ = compare.compare([a], [b2])
    assert table.set_index("variant").loc["workload.options.seq_len=128", "verdict"] == "only in B"
    # the same for any other part of the configuration, e.g. two thread counts in one set
    by_threads = [
        {"runtime": "eager", "median": m, "config_json": json.dumps({"threads": t})} for t, m in ((1, 20.0), (2, 10.0))
    ]
    table, _ = compare.compare([make_set(tmp_path / "t1", [dict(r) for r in by_threads], 4)],
                               [make_set(tmp_path / "t2", [dict(r) for r in by_threads], 5)])  # fmt: skip
    assert sorted(table["variant"]) == ["threads=1", "threads=2"]
    assert table.set_index("variant").loc["threads=1", "p50_ms_b"] == pytest.approx(20.0, rel=0.02)


def test_compare_survives_odd_workload_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Settings nested too deep to flatten, a missing key value, and settings that differ in no flat
    key (null vs {}): no traceback, one setting per side still pairs, and rows stay told apart."""
    deep = '{"workload": ' + '{"k": ' * 600 + "1" + "}" * 600 + "}"
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0, "config_json": deep}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0, "config_json": deep.replace("1}", "2}", 1)}],
                 seed=2)  # fmt: skip
    assert compare.main([str(a), str(b)]) == 0
    assert "only in" not in capsys.readouterr().out
    # a key column missing on both sides (NaN) still pairs one setting per side
    rows = [{"runtime": "eager", "median": 10.0, "precision_requested": None, "config_json": _config(seq_len=n)}
            for n in (64, 128)]  # fmt: skip
    table, _ = compare.compare([make_set(tmp_path / "c", [rows[0]], 3)], [make_set(tmp_path / "d", [rows[1]], 4)])
    assert len(table) == 1 and "workload.options.seq_len: 64 -> 128" in table.loc[0, "differs"]
    # null vs {}: no flat key differs, the settings text names the rows
    odd = [{"runtime": "eager", "median": 10.0, "config_json": json.dumps({"workload": w})} for w in (None, {})]
    table, _ = compare.compare([make_set(tmp_path / "e", [dict(r) for r in odd], 5)],
                               [make_set(tmp_path / "f", [dict(r) for r in odd], 6)])  # fmt: skip
    assert sorted(table["variant"]) == ['configuration {"workload": null}', 'configuration {"workload": {}}']


def test_compare_pairs_one_setting_per_side_and_names_the_difference(tmp_path: Path) -> None:
    """A configuration run once per side with a different accuracy-set size is the same timed
    configuration: paired, with the setting listed among the differences."""
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0, "config_json": _config(n_samples=100)}], 1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0, "config_json": _config(n_samples=500)}], 2)
    table, _ = compare.compare([a], [b])
    assert len(table) == 1 and "variant" not in table
    assert table.loc[0, "verdict"] == "no significant difference"
    assert "workload.options.n_samples: 100 -> 500" in table.loc[0, "differs"]


def test_report_labels_rows_of_one_configuration_by_the_settings_that_differ(tmp_path: Path) -> None:
    """The report names rows that share workload, runtime, batch and precision by what tells them
    apart, as compare does (one function): a thread count, which the tables show nowhere else, and
    not where the run kept its cache, which changes no measurement."""
    rows = [{"runtime": "eager", "median": m, "threads": t, "config_json": json.dumps({"threads": t, "cache_dir": c})}
            for t, m, c in ((1, 20.0, "/cache/a"), (2, 10.0, "/cache/b"))]  # fmt: skip
    rows.append({"runtime": "compile", "median": 8.0, "config_json": json.dumps({"threads": 2, "cache_dir": "/c"})})
    table = report.build([make_set(tmp_path / "s", rows, seed=1)]).tables["bert · fp32"]
    labels = table.set_index("variant")
    assert sorted(table["variant"]) == ["", "threads=1", "threads=2"]
    assert labels.loc["", "runtime"] == "compile" and labels.loc["threads=1", "runtime"] == "eager"
    long = [{"runtime": "eager", "median": 10.0, "config_json": _config(tokenizer="x" * n)} for n in (300, 301)]
    table = report.build([make_set(tmp_path / "long", long, seed=2)]).tables["bert · fp32"]
    assert table["variant"].str.len().max() == analysis.MAX_VARIANT_CHARS


def test_rerun_sees_the_same_cache_written_another_way_as_the_same(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Every rerun of a default configuration said 'cache_dir: stored /abs/outputs/cache, this run uses
    outputs/cache': the same directory."""
    from harness.config import ComponentConfig, JobSpec, RuntimeConfig
    from harness.rerun import trusted_spec

    monkeypatch.chdir(tmp_path)
    stored = JobSpec(workload=ComponentConfig("resnet101", "workloads.resnet101", {}),
                     runtime=RuntimeConfig("eager", "runtimes.eager"), batch=1,
                     cache_dir=str(tmp_path / "outputs" / "cache")).to_dict()  # fmt: skip
    _, said = trusted_spec(stored, None, "outputs/cache")
    assert not [line for line in said if line.startswith("cache_dir")], said
    _, said = trusted_spec(stored, None, "elsewhere/cache")
    assert [line for line in said if line.startswith("cache_dir")], said


def test_rerun_tolerance_caps_the_change_whatever_the_test_says() -> None:
    """A re-run 87% slower was 'reproduced' under --tolerance 50 because too few calls made the change
    'not significant': the tolerance is a cap, either way."""
    import numpy as np

    from harness.rerun import speed_verdict

    def row(p50: float) -> pd.Series:  # wide p50 CIs and no raw latencies: the test cannot tell them apart
        return pd.Series({"latency_ms_p50": p50, "latency_ms_p50_ci_low": 1.0, "latency_ms_p50_ci_high": 100.0,
                          "source": "/nonexistent", "run_id": "r"})  # fmt: skip

    within, line = speed_verdict(row(17.9), row(33.5), np.array([17.9]), 50)
    assert not within and "beyond --tolerance 50% either way" in line and "no significant difference" in line
    assert speed_verdict(row(17.9), row(20.0), np.array([17.9]), 50)[0]
    assert (
        speed_verdict(row(20.0), row(18.5), np.array([20.0]), 10)[0]
        and not speed_verdict(row(20.0), row(10.0), np.array([20.0]), 50)[0]
    ), "a halving is a change of 100%"
    within, line = speed_verdict(row(10.0), row(13.0), np.array([10.0, 10.2, 9.8]), 10)
    assert not within and "stored runs" in line
    # stored runs 1593 ms and 804 ms apart (CV 70%): their 2 x CV allowed a halving and called it reproduced
    within, line = speed_verdict(row(1593.0), row(804.0), np.array([1593.0, 804.0, 1200.0]), 10)
    assert not within and "cannot be confirmed: the stored runs are unstable (between-run CV" in line, line
    assert not speed_verdict(row(1593.0), row(1200.0), np.array([1593.0, 804.0, 1200.0]), 1e9)[0]


def test_ipex_own_torch_is_no_mixed_environment_but_two_torches_in_one_runtime_are(tmp_path: Path) -> None:
    """Every glob(*) sweep was flagged 'mixed environments: torch_version' because IPEX runs in its own
    interpreter with its own torch."""
    make_set(tmp_path / "own", [{"runtime": "eager", "median": 10.0, "torch_version": "2.13.0+cpu"},
                                {"runtime": "ipex", "median": 8.0, "torch_version": "2.8.0"}], seed=3)  # fmt: skip
    assert not [f for f in report.build([tmp_path / "own"]).flags if "mixed environments" in f]
    make_set(tmp_path / "two", [{"runtime": "eager", "median": 10.0, "torch_version": "2.13.0+cpu"},
                                {"runtime": "eager", "median": 10.0, "batch_size": 2, "torch_version": "2.12.0"}],
             seed=3)  # fmt: skip
    flags = report.build([tmp_path / "two"]).flags
    assert [f for f in flags if "mixed environments: torch_version" in f], flags


def test_speedups_over_a_doubtful_eager_row_are_flagged(tmp_path: Path) -> None:
    """Eager at batch 1 ran on a busy machine (other processes 50%); onnxruntime and openvino showed
    138x and 148x over it with no word: only the eager row itself was flagged."""
    make_set(tmp_path / "s", [{"runtime": "eager", "median": 10.0, "other_cpu_share": 0.5},
                              {"runtime": "openvino", "median": 5.0}], seed=3)  # fmt: skip
    flags = report.build([tmp_path / "s"]).flags
    assert [f for f in flags if "doubt the speed-ups of openvino at this batch and precision: they are taken over "
            "this eager row" in f and "other processes" in f], flags  # fmt: skip
    make_set(tmp_path / "quiet", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}],
             seed=3)  # fmt: skip
    assert not [f for f in report.build([tmp_path / "quiet"]).flags if "taken over this eager row" in f]


def test_a_speedup_is_over_eager_under_the_same_conditions(tmp_path: Path) -> None:
    """Eager pinned 10 ms and unpinned 20 ms, openvino pinned 5 and unpinned 10: every speed-up over eager
    of its own pinning (2.00 each, eager 1.00); keyed without pin_cores, pinned eager read 2.00x over
    unpinned eager. A doubt about h1's eager row says nothing of openvino timed on h2 only."""

    def config(pinned: bool) -> str:
        return json.dumps({"workload": {"name": "bert", "options": {}}, "runtime": {"name": "x"}, "batch": 1,
                           "threads": 2, "pin_cores": pinned, "scenario": {"name": "single_stream"}})  # fmt: skip

    make_set(tmp_path / "pins", [
        {"runtime": "eager", "median": 10.0, "config_json": config(True)},
        {"runtime": "openvino", "median": 5.0, "config_json": config(True)},
        {"runtime": "eager", "median": 20.0, "config_json": config(False)},
        {"runtime": "openvino", "median": 10.0, "config_json": config(False)},
    ], seed=1)  # fmt: skip
    table = report.build([tmp_path / "pins"]).tables["bert · fp32"]
    speedups = dict(zip(table["runtime"] + " " + table["variant"], table["speed-up vs eager"], strict=True))
    assert speedups == {"eager pin_cores=True": "1.00", "openvino pin_cores=True": "2.00",
                        "eager pin_cores=False": "1.00", "openvino pin_cores=False": "2.00"}, speedups  # fmt: skip
    make_set(tmp_path / "hosts", [
        {"runtime": "eager", "median": 10.0, "hostname": "h1", "latency_ms_p50_ci_low": np.nan},
        {"runtime": "eager", "median": 10.0, "hostname": "h2"},
        {"runtime": "openvino", "median": 5.0, "hostname": "h2"},
    ], seed=1)  # fmt: skip
    assert not [f for f in report.build([tmp_path / "hosts"]).flags if "doubt the speed-ups" in f]


def test_the_report_names_short_measurements_emulated_bf16_and_what_a_choice_ran_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a new user's walk-through: a 1-call row (measure.max_s cut it short, min_calls 3) fed the
    figures without a word; bf16 on an AVX2-only CPU (emulated) was not said; the Decision section
    recommended "openvino bf16" for a row that ran fp32; compare printed a pandas warning and "1.0" runs."""
    import json
    import warnings

    quick = json.dumps({"measure": {"min_calls": 3}})
    make_set(tmp_path / "s", [
        {"runtime": "eager", "median": 10.0, "precision_requested": "bf16", "precision_effective": "bf16",
         "cpu_flags": "avx2 fma", "n_calls": 1, "config_json": quick},
        {"runtime": "openvino", "median": 5.0, "precision_requested": "bf16", "precision_effective": "fp32",
         "cpu_flags": "avx2 fma", "n_calls": 40, "config_json": quick},
    ], seed=3)  # fmt: skip
    built = report.build([tmp_path / "s"])
    assert any("only 1 timed call(s), fewer than measure.min_calls=3" in f for f in built.flags), built.flags
    assert any("eager · batch 1 · bf16: bf16 ran on a CPU without native bf16" in f for f in built.flags)
    assert not any("openvino · batch 1 · bf16: bf16 ran" in f for f in built.flags), "it ran fp32"
    assert built.decision["recommended"].tolist() == ["openvino bf16 (ran fp32)"]
    make_set(tmp_path / "t", [{"runtime": "eager", "median": 10.0}], seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compare.main([str(tmp_path / "s"), str(tmp_path / "t")]) == 0
    assert " 1.0 " not in capsys.readouterr().out


def test_speedups_compare_what_each_scenario_measures() -> None:
    """An offline onnxruntime row read x37.15 (eager's p50 over its own) where its throughput was 29.9x
    eager's; a qps search's p50s were taken at different rates (x10.5) where the rates reached differ 16.5x.
    Single stream and a fixed-rate server still compare p50s."""
    from harness import analysis

    def row(runtime: str, scenario: str, p50: float, **more: object) -> dict:
        return {"workload": "bert", "runtime": runtime, "batch_size": 1, "precision_requested": "fp32",
                "threads": 2, "hostname": "h", "status": "ok", "scenario": scenario, "load": scenario,
                "latency_ms_p50": p50, **more}  # fmt: skip

    frame = pd.DataFrame([
        row("eager", "offline", 7.324, throughput_sps=297.5),
        row("onnxruntime", "offline", 0.197, throughput_sps=8889.0),
        row("eager", "server", 30.0, qps_search="...", max_qps_meeting_bound=38.75),
        row("onnxruntime", "server", 2.85, qps_search="...", max_qps_meeting_bound=640.0),
        row("eager", "single_stream", 8.0), row("onnxruntime", "single_stream", 2.0),
    ]).assign(load=["offline x2"] * 2 + ["server search"] * 2 + ["single_stream"] * 2)  # fmt: skip
    speedup = analysis.with_speedup(frame).set_index(["runtime", "scenario"])["speedup_vs_eager"]
    assert speedup["onnxruntime", "offline"] == pytest.approx(8889 / 297.5)
    assert speedup["onnxruntime", "server"] == pytest.approx(640 / 38.75)
    assert speedup["onnxruntime", "single_stream"] == pytest.approx(4.0)


def test_offline_rows_are_compared_on_throughput_across_runs(tmp_path: Path) -> None:
    """Offline rows were judged on their requests' p50: B did half the work per second (throughput 50%
    with the same per-request p50, e.g. half the streams kept busy) and compare said "no significant
    difference". With runs on both sides their throughputs decide; single runs say throughput is untested."""

    def runs(directory: Path, throughputs: list[float], seed: int) -> Path:
        rows = [{"runtime": "openvino", "median": 5.0, "config_hash": "off", "scenario": "offline",
                 "throughput_sps": t, "started_at": f"2026-01-01T00:00:0{k}"}
                for k, t in enumerate(throughputs)]  # fmt: skip
        return make_set(directory, rows, seed=seed)

    a = runs(tmp_path / "a", [400.0, 404.0, 398.0], 1)
    b = runs(tmp_path / "b", [200.0, 203.0, 199.0], 2)
    row = compare.compare([a], [b])[0].iloc[0]
    assert row["verdict"] == "slower" and row["p50_ratio"] == pytest.approx(2.0, rel=0.02), row.to_dict()
    assert row["evidence"].startswith("throughput (samples/s): Welch")
    single = compare.compare([runs(tmp_path / "a1", [400.0], 3)], [runs(tmp_path / "b1", [200.0], 4)])[0].iloc[0]
    assert "throughput (samples/s) x0.500 B/A untested" in single["evidence"], single["evidence"]


def test_too_few_calls_is_cannot_decide_not_no_difference(tmp_path: Path) -> None:
    """A run of 4 calls (no p50 CI, no raw latencies to test) was "no significant difference", and the
    regression gate passed it; README promises "cannot decide", which the gate fails on."""
    from harness import analysis

    side = pd.Series({"latency_ms_p50": 10.0, "latency_ms_p50_ci_low": np.nan, "latency_ms_p50_ci_high": np.nan,
                      "source": str(tmp_path / "nowhere"), "run_id": "r"})  # fmt: skip
    slower = pd.Series({**side.to_dict(), "latency_ms_p50": 20.0})
    verdict, ratio, method = analysis.latency_verdict(side, slower)
    assert verdict == analysis.CANNOT_DECIDE and ratio == 2.0 and "too few calls" in method


def test_two_runs_are_flagged_as_too_few_to_decide(tmp_path: Path) -> None:
    """Two runs of 37 and 610 ms gave a between-run CI of [0.000, 7942339066.919] and compare called a 6.46x
    change "no significant difference", with no word that two runs cannot decide."""
    rows = [{"runtime": "eager", "median": m, "config_hash": "e", "started_at": f"2026-01-01T00:00:0{k}"}
            for k, m in enumerate((37.0, 610.0))]  # fmt: skip
    flags = " | ".join(report.build([make_set(tmp_path / "two", rows, seed=1)]).flags)
    assert "bert · eager · batch 1 · fp32: only 2 runs" in flags, flags


def test_a_run_cut_short_among_the_runs_is_flagged(tmp_path: Path) -> None:
    """Run 1 of a repeats sweep timed 1 call (min_calls=3): its 610 ms p50 pulled the runs' mean, yet only the
    newest run was checked for it, and no flag said so."""
    plan = json.dumps({"measure": {"min_calls": 3}})
    rows = [{"runtime": "eager", "median": m, "config_hash": "e", "started_at": f"2026-01-01T00:00:0{k}",
             "n_calls": n, "config_json": plan}
            for k, (m, n) in enumerate([(610.0, 1), (37.0, 40), (38.0, 40)])]  # fmt: skip
    flags = " | ".join(report.build([make_set(tmp_path / "short", rows, seed=1)]).flags)
    assert "1 of its 3 runs timed fewer calls than measure.min_calls" in flags, flags


def test_rerun_judges_an_offline_row_on_its_throughput() -> None:
    """rerun judged every row on its p50: an offline re-run doing half the work per second with the same
    per-request p50 was "reproduced"."""
    from harness.rerun import figure_verdict

    old = pd.Series({"scenario": "offline", "throughput_sps": 400.0, "latency_ms_p50": 5.0})
    half = pd.Series({"scenario": "offline", "throughput_sps": 200.0, "latency_ms_p50": 5.0})
    costs = 1 / np.array([400.0, 404.0, 398.0])
    within, line = figure_verdict(old, half, costs, 10, "throughput (samples/s)")
    assert not within and "x0.499 of 3 runs: outside the stored runs' spread" in line, line
    within, line = figure_verdict(old, old, costs[:1], 10, "throughput (samples/s)")
    assert within and "one number per run: no test" in line, line


def test_an_offline_speedup_stands_for_all_runs_not_the_newest(tmp_path: Path) -> None:
    """Offline speed-ups took the newest run's throughput although the configuration ran three times (the p50
    ones use the runs' geometric mean): eager's runs at 100, 100 and 300 samples/s made onnxruntime's 400 read
    1.33x instead of 2.77x."""
    rows = [{"runtime": runtime, "median": 5.0, "config_hash": runtime, "scenario": "offline", "throughput_sps": t,
             "started_at": f"2026-01-01T00:00:{k:02d}"}
            for k, (runtime, t) in enumerate([("eager", 100.0), ("eager", 100.0), ("eager", 300.0),
                                              *[("onnxruntime", 400.0)] * 3])]  # fmt: skip
    table = report.build([make_set(tmp_path / "off", rows, seed=1)]).tables["bert · fp32"].set_index("runtime")
    assert table.loc["onnxruntime", "speed-up vs eager"].startswith("2.77"), table["speed-up vs eager"]


def test_the_int8_guard_and_the_hosts_view_judge_speed_as_the_speed_ups_do(tmp_path: Path) -> None:
    """Found by breaking it: "INT8 is no faster than fp32" compared the newest run's p50s whatever the load
    (an offline INT8 row at 2x the throughput, a qps search sustaining 2.4x the rate, and a single-stream
    INT8 configuration whose 3 runs' centre is 9.2 ms against 10, all flagged); the hosts view showed a
    paired configuration's newest run's speed-up (1.00x) beside its runs' centre (1.59x)."""
    offline = json.dumps({"scenario": {"name": "offline", "streams": 2}, "workload": {"name": "bert"}})
    single = json.dumps({"scenario": {"name": "single_stream"}, "workload": {"name": "bert"}})
    search = json.dumps({"scenario": {"name": "server", "search": True, "latency_bound_ms": 100.0},
                         "workload": {"name": "bert"}})  # fmt: skip
    int8 = {"precision_requested": "int8", "precision_effective": "int8"}
    rows = [
        {"runtime": "openvino", "median": 20.0, "scenario": "offline", "throughput_sps": 100.0, "config_json": offline},
        {"runtime": "openvino", "median": 22.0, "scenario": "offline", "throughput_sps": 200.0, "config_json": offline,
         **int8},
        {"runtime": "openvino", "median": 40.0, "scenario": "server", "qps_search": "...", "config_json": search,
         "max_qps_meeting_bound": 50.0},
        {"runtime": "openvino", "median": 45.0, "scenario": "server", "qps_search": "...", "config_json": search,
         "max_qps_meeting_bound": 120.0, **int8},
        {"runtime": "openvino", "median": 10.0, "scenario": "single_stream", "config_json": single},
        *({"runtime": "openvino", "median": m, "scenario": "single_stream", "config_json": single, "config_hash": "I",
           "started_at": f"2026-01-01T00:01:0{k}", **int8} for k, m in enumerate([8.0, 8.0, 12.0])),
    ]  # fmt: skip
    flags = report.build([make_set(tmp_path / "guard", [dict(r) for r in rows], seed=1)]).flags
    assert not [f for f in flags if "no faster" in f], flags
    slower = [{**rows[0], "throughput_sps": 300.0}, rows[1]]
    flags = report.build([make_set(tmp_path / "slower", slower, seed=1)]).flags
    assert any("INT8 is no faster than openvino fp32 (200.0 against 300.0 samples/s)" in f for f in flags), flags

    paired = []
    for host in ("h1", "h2"):
        paired.append({"runtime": "eager", "median": 10.0, "config_hash": "E", "hostname": host})
        for k, (ratio, median) in enumerate([(2.0, 5.0), (2.0, 5.0), (1.0, 10.0)]):
            paired.append(
                {
                    "runtime": "openvino",
                    "median": median,
                    "config_hash": "O",
                    "hostname": host,
                    "speedup_vs_eager": ratio,
                    "paired_bursts": 10,
                    "started_at": f"2026-01-01T00:00:0{k + 1}",
                }
            )
    hosts = report.build([make_set(tmp_path / "hosts", paired, seed=1)]).hosts.set_index("runtime")
    centre = 4 ** (1 / 3)  # the geometric mean of 2, 2 and 1
    assert all(f"{centre:.2f}x its eager" in hosts.loc["openvino", column] for column in hosts.columns
               if column.startswith("h")), hosts.to_string()  # fmt: skip


def test_real_inputs_are_set_beside_the_same_configuration_on_a_fixed_batch(tmp_path: Path) -> None:
    """Found by breaking it: a dataset row (threads=2) was set beside a fixed row of threads=1, the newest
    of its runtime and batch (ratio 0.60 where its own fixed row gives 1.20); an offline pair's ratio and
    per-sample times were of p50s of overlapping requests, not of throughput."""

    def config(threads: int, inputs: str, scenario: str = "single_stream") -> str:
        return json.dumps({"threads": threads, "timing_inputs": inputs, "scenario": {"name": scenario},
                           "workload": {"name": "bert"}})  # fmt: skip

    rows = [
        {"runtime": "eager", "median": 12.0, "config_json": config(2, "dataset"), "timed_batches": 8},
        {"runtime": "eager", "median": 10.0, "config_json": config(2, "fixed"), "timed_shape": "input_ids 1x16"},
        {"runtime": "eager", "median": 20.0, "config_json": config(1, "fixed"), "timed_shape": "input_ids 1x16"},
        {"runtime": "openvino", "median": 30.0, "scenario": "offline", "throughput_sps": 80.0,
         "config_json": config(2, "dataset", "offline"), "timed_batches": 8},
        {"runtime": "openvino", "median": 20.0, "scenario": "offline", "throughput_sps": 100.0,
         "config_json": config(2, "fixed", "offline"), "timed_shape": "input_ids 1x16"},
    ]  # fmt: skip
    table = report.build([make_set(tmp_path / "inputs", rows, seed=1)]).timing_inputs.set_index("runtime")
    assert len(table) == 2, table.to_string()
    assert table.loc["eager", "dataset / fixed"] == "1.20" and float(table.loc["eager", "p50 ms fixed"]) < 11
    assert table.loc["openvino", "dataset / fixed"] == "1.25", "100 samples/s fixed over 80 with real inputs"
    assert (table.loc["openvino", "ms per sample fixed"], table.loc["openvino", "ms per sample dataset"]) == (
        "10.000", "12.500")  # fmt: skip


def test_plots_draw_one_line_per_runtime_and_load() -> None:
    """Found by breaking it: a single-stream and an offline point of one runtime were joined into one line,
    and the speed-up heatmap kept whichever came last in a cell."""
    frame = pd.DataFrame({"runtime": ["eager", "eager", "openvino"], "variant": "",
                          "load": ["single_stream", "offline x2", "single_stream"]})  # fmt: skip
    assert report.series_labels(frame).tolist() == ["eager · single_stream", "eager · offline x2",
                                                    "openvino · single_stream"]  # fmt: skip
    assert report.series_labels(frame.assign(load="single_stream")).tolist() == ["eager", "eager", "openvino"]


def test_real_inputs_not_recorded_read_as_not_recorded() -> None:
    """Found by breaking it: a dataset row without timed_batches (an older file) and rows without
    timed_shape made the table raise (NaN to int; KeyError 'timed_shape_fixed')."""
    config = lambda inputs: json.dumps({"timing_inputs": inputs, "scenario": {"name": "single_stream"}})  # noqa: E731
    frame = pd.DataFrame({
        "workload": "bert", "runtime": "eager", "batch_size": 1, "precision_requested": "fp32", "status": "ok",
        "hostname": "h", "latency_ms_p50": [12.0, 10.0], "throughput_sps": [80.0, 100.0], "timed_batches": np.nan,
        "config_json": [config("dataset"), config("fixed")],
    })  # fmt: skip
    row = report.timing_inputs_table(frame).iloc[0]
    assert (
        row["dataset: timed"] == "batches not recorded"
        and row["fixed: timed"] == ""
        and row["dataset / fixed"] == "1.20"
    )


def test_one_run_given_twice_is_one_run(tmp_path: Path) -> None:
    """Found by breaking it: `report DIR DIR/results.csv` read every run twice: "(2 runs, CV 0.0%)", a
    between-run CI of width 0 from one process, and the Decision's "shown faster" on it."""
    directory = make_set(tmp_path / "d", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 9.9}],
                         seed=1)  # fmt: skip
    built = report.build([directory, directory / "results.csv"])
    table = built.tables["bert · fp32"].set_index("runtime")
    assert (table["across runs [95% CI]"] == "single run").all(), table.to_string()
    assert any("2 row(s) appear in more than one source" in n for n in built.notes), built.notes


def test_raw_latencies_are_read_once_per_result_set_while_it_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by breaking it: compare read every row file again for each side of each row (quadratic: 100
    single-run rows took 212 s). A change to a row file is still seen."""
    directory = make_set(tmp_path / "d", [{"runtime": "eager", "median": 10.0}, {"runtime": "openvino", "median": 5.0}],
                         seed=1)  # fmt: skip
    reads = []
    original = results.read_latencies
    monkeypatch.setattr(results, "read_latencies", lambda d: (reads.append(d), original(d))[1])
    first = [analysis.raw_latencies(str(directory), f"d-{k}") for k in (0, 1, 0, 1)]
    assert len(reads) == 1 and [len(v) for v in first] == [300] * 4
    (path,) = [p for p in (directory / "rows").glob("*.json") if json.loads(p.read_text())["row"]["run_id"] == "d-0"]
    payload = json.loads(path.read_text())
    payload["latencies_ms"] = payload["latencies_ms"][:10]
    path.write_text(json.dumps(payload))
    assert len(analysis.raw_latencies(str(directory), "d-0")) == 10 and len(reads) == 2


def _runs(runtime: str, medians: list[float], config: str, **columns: object) -> list[dict]:
    """One configuration's repeats: one row per median (ms), `columns` per row (a list: one value each)."""
    return [{"runtime": runtime, "median": m, "config_json": config, "config_hash": runtime, "repeat": k,
             "started_at": f"2026-01-01T00:01:{k:02d}",
             **{c: v[k] if isinstance(v, list) else v for c, v in columns.items()}}
            for k, m in enumerate(medians)]  # fmt: skip


def test_compare_of_a_qps_search_that_met_the_bound_at_no_rate_cannot_decide(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by breaking it: B's three runs met the bound at no rate (A's at 50 qps) and compare read
    "faster" from their p50s (taken at other rates): the gate passed a regression. Evidence named "log
    p50s" where it tested throughputs or rates."""
    search = json.dumps({"scenario": {"name": "server", "search": True, "latency_bound_ms": 100.0},
                         "workload": {"name": "bert"}})  # fmt: skip
    a = make_set(tmp_path / "a", _runs("eager", [40.0] * 3, search, scenario="server", qps_search="...",
                                       max_qps_meeting_bound=[50.0, 51.0, 49.0]), seed=1)  # fmt: skip
    b = make_set(tmp_path / "b", _runs("eager", [30.0] * 3, search, scenario="server", qps_search="...",
                                       max_qps_meeting_bound=np.nan), seed=2)  # fmt: skip
    row = compare.compare([a], [b])[0].iloc[0]
    assert row["verdict"] == analysis.CANNOT_DECIDE and "none in any run of B" in row["evidence"], row.to_dict()
    assert compare.main([str(a), str(b), "--fail-on-regression", "5"]) == 1
    capsys.readouterr()
    c = make_set(tmp_path / "c", _runs("eager", [40.0] * 3, search, scenario="server", qps_search="...",
                                       max_qps_meeting_bound=[40.0, 41.0, 39.0]), seed=3)  # fmt: skip
    row = compare.compare([a], [c])[0].iloc[0]
    assert row["verdict"] == "slower" and "on log costs (1 / rate) of 3 vs 3 runs" in row["evidence"], row.to_dict()
    # one of B's runs met the bound (at 100 qps, 2x A's): the Welch test on the runs' p50s read "slower"
    d = make_set(tmp_path / "d", _runs("eager", [60.0] * 3, search, scenario="server", qps_search="...",
                                       max_qps_meeting_bound=[100.0, np.nan, np.nan]), seed=4)  # fmt: skip
    row = compare.compare([a], [d])[0].iloc[0]
    assert row["verdict"] == analysis.CANNOT_DECIDE, row.to_dict()
    assert "x2.000 B/A untested" in row["evidence"] and "(A 3, B 1)" in row["evidence"], row.to_dict()
    # single runs (A 100 qps at p50 50 ms, B 200 qps at p50 60 ms): their p50s read "slower"
    single_a, single_b = (make_set(tmp_path / name, _runs("eager", [p50], search, scenario="server", qps_search="...",
                                                          max_qps_meeting_bound=[rate]), seed=5)
                          for name, p50, rate in (("sa", 50.0, 100.0), ("sb", 60.0, 200.0)))  # fmt: skip
    row = compare.compare([single_a], [single_b])[0].iloc[0]
    assert row["verdict"] == analysis.CANNOT_DECIDE and "x2.000 B/A untested" in row["evidence"], row.to_dict()


def test_a_failed_repeat_is_flagged_never_chosen_and_fails_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by breaking it: openvino's repeats ok, invalid (NaN outputs), ok: the report said "ok, 2 runs"
    with no flag and the Decision recommended it; B's newest repeat invalid passed compare's gate."""
    plain = json.dumps({"workload": {"name": "bert"}})
    failed = {"status": "invalid", "error": "runtime outputs 1000 NaN values", "latency_ms_p50": np.nan}
    runs = [*_runs("eager", [10.0] * 3, plain), *_runs("openvino", [5.0, 5.0, 5.1], plain, started_at=[
        "2026-01-01T00:02:00", "2026-01-01T00:02:01", "2026-01-01T00:02:02"])]  # fmt: skip
    runs[4].update(failed)
    built = report.build([make_set(tmp_path / "s", runs, seed=1)])
    assert [f for f in built.flags if "openvino" in f and "1 of its 3 runs failed (newest: invalid: runtime "
            "outputs 1000 NaN values)" in f], built.flags  # fmt: skip
    decision = built.decision.iloc[0]
    assert decision["recommended"] == "eager fp32", decision.to_dict()
    assert "1 of its runs failed (invalid: runtime outputs 1000 NaN values)" in decision["faster but excluded"]
    a = make_set(tmp_path / "a", _runs("openvino", [5.0, 5.05, 4.95], plain), seed=2)
    b_runs = _runs("openvino", [5.0, 5.02, 5.0], plain)
    b_runs[2].update(failed)
    b = make_set(tmp_path / "b", b_runs, seed=3)
    row = compare.compare([a], [b])[0].iloc[0]
    assert row["failed_runs"] == "B 1: invalid: runtime outputs 1000 NaN values", row.to_dict()
    assert compare.main([str(a), str(b), "--fail-on-regression", "5"]) == 1
    assert "failed in some or all runs of B and in no run of A" in capsys.readouterr().err
    assert compare.main([str(b), str(a), "--fail-on-regression", "5"]) == 0  # fixed in B: no regression
    # a run that never started (IPEX's venv not set up yet) is no failure of the configuration
    c_runs = _runs("openvino", [5.0, 5.02, 5.0], plain)
    c_runs[0].update(status="unavailable", error="no .venv-ipex", latency_ms_p50=np.nan)
    c = make_set(tmp_path / "c", c_runs, seed=4)
    assert compare.compare([a], [c])[0].iloc[0].get("failed_runs", "") in ("", None)
    assert not [f for f in report.build([c]).flags if "failed" in f]


def test_a_run_that_timed_fewer_calls_than_its_input_batches_is_flagged(tmp_path: Path) -> None:
    """timing_inputs=dataset over 64 batches, stopped after 10 calls: only the first 10 batches were timed."""
    make_set(
        tmp_path / "s",
        [
            {"runtime": "eager", "median": 10.0, "timed_batches": 64, "n_calls": 10},
            {"runtime": "openvino", "median": 5.0, "timed_batches": 64, "n_calls": 300},
        ],
        seed=1,
    )
    flags = [f for f in report.build([tmp_path / "s"]).flags if "input batches" in f]
    assert len(flags) == 1 and "eager" in flags[0] and "timed 10 calls over its 64 input batches" in flags[0], flags


def test_compare_and_the_report_print_a_value_with_a_line_break_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by breaking it: a torch_version holding "\\nharness.compare: verdicts: ..." printed a forged line."""
    a = make_set(tmp_path / "a", [{"runtime": "eager", "median": 10.0}], seed=1)
    b = make_set(tmp_path / "b", [{"runtime": "eager", "median": 10.0}], seed=2,
                 env={**ENV, "torch_version": "2.14.0\nharness.compare: all good"})  # fmt: skip
    assert compare.main([str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert not any(line.startswith("harness.compare: all good") for line in out.splitlines()), out
    assert "2.14.0\\nharness.compare: all good" in out


def test_flags_and_the_decision_say_which_host_and_variant(tmp_path: Path) -> None:
    """Found by breaking it: two hosts gave two identical flag lines, and openvino at threads=1 and 2 was
    "openvino fp32" twice in the Decision."""
    one, two = (json.dumps({"threads": t, "workload": {"name": "bert"}}) for t in (1, 2))
    rows = [{"runtime": "eager", "median": 10.0, "config_json": two, "threads": 2},
            {"runtime": "openvino", "median": 5.0, "config_json": two, "threads": 2},
            {"runtime": "openvino", "median": 6.0, "config_json": one, "threads": 1}]  # fmt: skip
    decision_row = report.build([make_set(tmp_path / "v", rows, seed=1)]).decision.iloc[0]
    assert decision_row["recommended"] == "openvino fp32 [threads=2]", decision_row.to_dict()
    assert decision_row["runner-up"].startswith("openvino fp32 [threads=1] ("), decision_row.to_dict()
    hosts = [{"runtime": "eager", "median": 10.0, "hostname": h, "config_hash": "e", "precision_effective": "bf16"}
             for h in ("h1", "h2")]  # fmt: skip
    flags = [f for f in report.build([make_set(tmp_path / "h", hosts, seed=1)]).flags if "effective precision" in f]
    assert len(flags) == 2 and {("h1" in f, "h2" in f) for f in flags} == {(True, False), (False, True)}, flags
