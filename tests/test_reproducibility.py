"""Verdicts that survive a second run: repeats in fresh children in shuffled rounds, between-run
statistics, paired speed-ups, machine state and the host lock, accuracy scored once, FLOPs
(issue 12). Statistics are checked on synthetic data with known answers; nothing asserts a timing."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import analysis, compare, report, results
from harness.cache import code_fingerprint
from harness.config import MeasureConfig
from harness.envinfo import PROJECT_ROOT
from harness.measure import measure_paired, ratio_ci
from harness.summary import summarize
from harness.sweeper import interleaved_rounds

# -- repeats ----------------------------------------------------------------------------------------------


def test_rounds_run_every_configuration_once_in_a_seeded_shuffle() -> None:
    jobs = [[f"batch={b}"] for b in range(1, 7)]
    rounds = interleaved_rounds(jobs, 3, seed=0)
    assert [len(r) for r in rounds] == [6, 6, 6]
    for r, batch in enumerate(rounds):
        assert sorted(job[:-1] for job in batch) == jobs and all(job[-1] == f"repeat={r}" for job in batch)
    orders = [[job[0] for job in batch] for batch in rounds]
    assert orders[0] != orders[1] or orders[1] != orders[2], "rounds are shuffled"
    assert interleaved_rounds(jobs, 3, seed=0) == rounds and interleaved_rounds(jobs, 3, seed=1) != rounds
    assert interleaved_rounds(jobs, 1, seed=5) == [[[*j, "repeat=0"] for j in jobs]], "one run: Hydra's order"


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_repeat_rows_resume_and_force(cli, tmp_path: Path) -> None:
    args = ("-m", "workload=tiny_resnet", "batch=1,2", "repeats=3", "hydra.sweep.dir=sweep")
    run = cli(*args)
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv").sort_values("started_at")
    assert len(frame) == 6 and (frame["status"] == "ok").all()
    assert frame.groupby("config_hash")["repeat"].apply(sorted).tolist() == [[0, 1, 2], [0, 1, 2]]
    assert frame["repeat"].tolist() == sorted(frame["repeat"]), "round r finishes before round r+1 starts"
    assert "run 3/3" in run.stderr
    summary = pd.read_csv(tmp_path / "sweep" / "summary.csv")
    assert sorted(summary["n_runs"]) == [3, 3] and summary["latency_ms_p50_between_ci_low"].notna().all()

    again = cli(*args)
    assert again.returncode == 0 and again.stderr.count("skipped, an ok row") == 6
    lost = frame.iloc[-1]
    (tmp_path / "sweep" / "rows" / f"{lost['run_id']}.json").unlink()  # as if that run never finished
    resumed = cli(*args)
    assert resumed.returncode == 0 and resumed.stderr.count("skipped, an ok row") == 5
    after = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(after) == 6 and sorted(after.loc[after["config_hash"] == lost["config_hash"], "repeat"]) == [0, 1, 2]
    forced = cli(*args, "force=true")
    assert forced.returncode == 0 and len(pd.read_csv(tmp_path / "sweep" / "results.csv")) == 12
    # a forced sweep interrupted before its last job: force_since=<its start> measures only what it had not
    rows = pd.read_csv(tmp_path / "sweep" / "results.csv").sort_values("started_at")
    since = rows["started_at"].iloc[6]  # the forced sweep's first row
    (tmp_path / "sweep" / "rows" / f"{rows['run_id'].iloc[-1]}.json").unlink()
    finished = cli(*args, f"force_since={since}")
    assert finished.returncode == 0 and finished.stderr.count("skipped, an ok row") == 5, finished.stderr[-3000:]
    after = pd.read_csv(tmp_path / "sweep" / "results.csv")
    assert len(after) == 12 and (after["started_at"] >= since).sum() == 6


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["-m", "repeats=0"], ["repeats=0", "an integer from 1 to 100"]),
        (["-m", "repeats=-1"], ["repeats=-1", "an integer from 1 to 100"]),
        (["-m", "repeats=abc"], ["repeats='abc'", "an integer from 1 to 100"]),
        (["baseline=nope"], ["baseline='nope'", "one of none, paired"]),
        (["repeats=3"], ["repeats=3 runs each configuration 3 times: add -m"]),
        (["-m", "repeats=1,3"], ["repeats cannot be swept"]),
        (["repeat=2"], ["repeat is set by the sweeper"]),
        (["force_since=abc"], ["force_since='abc' is not allowed", "ISO 8601"]),
        (["force_since=2999-01-01T00:00:00Z"], ["force_since='2999-01-01T00:00:00Z'", "must not be in the future"]),
    ],
)
def test_bad_repeat_and_baseline_values_are_one_line(cli, args: list[str], needles: list[str]) -> None:
    run = cli("workload=tiny_resnet", *args)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    for needle in needles:
        assert needle in line, line


# -- between-run statistics ---------------------------------------------------------------------------------


def _runs_frame(p50s: dict[str, list[float]]) -> pd.DataFrame:
    rows = []
    for config, values in p50s.items():
        for r, value in enumerate(values):
            rows.append({"run_id": f"{config}-{r}", "config_hash": config, "repeat": r, "status": "ok",
                         "workload": "bert", "runtime": config, "batch_size": 1, "precision_requested": "fp32",
                         "hostname": "h", "latency_ms_p50": value, "throughput_sps": 1000 / value})  # fmt: skip
    return pd.DataFrame(rows)


def test_between_run_ci_covers_the_true_value_at_its_confidence() -> None:
    """Runs with a known spread (log-normal p50s around 10 ms, sigma 5%): the 95% CI of the geometric
    mean covers 10 ms in about 95% of 400 simulated configurations of 3 runs each."""
    rng = np.random.default_rng(7)
    frame = _runs_frame({f"c{k}": list(10.0 * np.exp(rng.normal(0, 0.05, 3))) for k in range(400)})
    summary = summarize(frame)
    covered = (summary["latency_ms_p50_between_ci_low"] <= 10) & (summary["latency_ms_p50_between_ci_high"] >= 10)
    assert 0.92 <= covered.mean() <= 0.98
    assert summary["between_run_cv"].median() == pytest.approx(0.05, rel=0.25)


def test_a_repeat_measured_again_stands_for_that_repeat(tmp_path: Path) -> None:
    """Found by breaking it: a repeat killed mid-job and redone by a resume still counted as failed (the
    Decision shut the configuration out for good: "1 of its 4 runs failed" of 3 asked for), and a
    repeat forced again was pooled with the run it replaced (2 repeats read as 3 runs). The newest row of
    a (configuration, host, repeat) stands for it; older ones stay in results.csv."""
    frame = _runs_frame({"c": [10.0, 10.1, 9.9]}).assign(started_at=["2026-01-01T00:00:00", "2026-01-01T00:01:00",
                                                                     "2026-01-01T00:02:00"])  # fmt: skip
    crashed = {**frame.iloc[1].to_dict(), "run_id": "c-1-crashed", "status": "crashed", "latency_ms_p50": np.nan,
               "error": "child killed by SIGKILL", "started_at": "2026-01-01T00:00:30"}  # fmt: skip
    redone = summarize(pd.concat([frame, pd.DataFrame([crashed])], ignore_index=True)).iloc[0]
    assert redone["n_runs"] == 3 and redone["runs_failed"] == 0, redone.to_dict()
    forced = {**frame.iloc[0].to_dict(), "run_id": "c-0-forced", "latency_ms_p50": 20.0,
              "started_at": "2026-01-01T00:03:00"}  # fmt: skip
    again = summarize(pd.concat([frame, pd.DataFrame([forced])], ignore_index=True)).iloc[0]
    assert again["n_runs"] == 3, again.to_dict()
    assert again["latency_ms_p50"] == pytest.approx(np.exp(np.log([20.0, 10.1, 9.9]).mean()))
    crashed_last = {**crashed, "started_at": "2026-01-01T00:04:00"}  # the newest attempt of repeat 1 failed
    failed = summarize(pd.concat([frame, pd.DataFrame([crashed_last])], ignore_index=True)).iloc[0]
    assert failed["n_runs"] == 2 and failed["runs_failed"] == 1, failed.to_dict()
    legacy = summarize(frame.drop(columns="repeat")).iloc[0]  # older files: every row a run of its own
    assert legacy["n_runs"] == 3
    never = {**crashed, "status": "unavailable", "started_at": "2026-01-01T00:05:00"}  # a venv missing: never ran
    assert summarize(pd.concat([frame, pd.DataFrame([never])], ignore_index=True)).iloc[0]["n_runs"] == 3


def test_one_run_has_no_between_run_ci_and_the_report_says_single_run(tmp_path: Path) -> None:
    summary = summarize(_runs_frame({"once": [12.0], "wobbly": [10.0, 14.0, 9.0]}))
    once = summary.set_index("config_hash").loc["once"]
    assert once["n_runs"] == 1 and math.isnan(once["latency_ms_p50_between_ci_low"]) and not once["unstable"]
    assert bool(summary.set_index("config_hash").loc["wobbly", "unstable"]), "CV 24% > 10%: unstable"
    frame = _runs_frame({"once": [12.0], "wobbly": [10.0, 14.0, 9.0]})
    for record in frame.to_dict("records"):
        results.write_row(tmp_path, record)
    table = report.build([tmp_path]).tables["bert · fp32"].set_index("runtime")
    assert table.loc["once", "across runs [95% CI]"] == "single run"
    assert "(3 runs, CV" in table.loc["wobbly", "across runs [95% CI]"]
    assert table.loc["wobbly", "across runs [95% CI]"].endswith("unstable")


def test_an_offline_configuration_is_summarized_on_its_throughput(tmp_path: Path) -> None:
    """Offline requests overlap, so their p50s are no speed: the between-run spread, `unstable` and the
    report's across-runs cell are of the runs' throughputs. Steady throughput with p50s 10/14/9 ms is
    stable; throughputs 100/140/90 samples/s are not (CV 24%), centred on their geometric mean."""
    steady = _runs_frame({"steady": [10.0, 14.0, 9.0]}).assign(throughput_sps=[200.0, 201.0, 199.0])
    wobbly = _runs_frame({"wobbly": [10.0, 10.0, 10.0]}).assign(throughput_sps=[100.0, 140.0, 90.0])
    frame = pd.concat([steady, wobbly], ignore_index=True).assign(scenario="offline")
    summary = summarize(frame).set_index("config_hash")
    assert summary.loc["steady", "figure_of_merit"] == "throughput_sps"
    assert not summary.loc["steady", "unstable"] and summary.loc["steady", "between_run_cv"] < 0.01
    assert bool(summary.loc["wobbly", "unstable"])
    assert summary.loc["wobbly", "between_run_cv"] == pytest.approx(np.std([100, 140, 90], ddof=1) / 110)
    assert summary.loc["wobbly", "figure_runs"] == pytest.approx((100 * 140 * 90) ** (1 / 3))
    assert summary.loc["wobbly", "throughput_sps"] == pytest.approx((100 * 140 * 90) ** (1 / 3)), "one centre"
    assert summary.loc["wobbly", "figure_between_ci_low"] < 100 < 140 < summary.loc["wobbly", "figure_between_ci_high"]
    for record in frame.to_dict("records"):
        results.write_row(tmp_path, record)
    built = report.build([tmp_path])
    table = built.tables["bert · fp32"].set_index("runtime")
    assert table.loc["wobbly", "across runs [95% CI]"].startswith(f"{(100 * 140 * 90) ** (1 / 3):.3f} samples/s [")
    assert table.loc["steady", "across runs [95% CI]"].startswith(f"{(200 * 201 * 199) ** (1 / 3):.3f} samples/s [")
    assert any("wobbly" in f and "runs' throughputs vary by 24.1%" in f for f in built.flags)
    assert not any("steady" in f and "unstable" in f for f in built.flags)


def test_a_qps_search_says_how_many_of_its_runs_found_a_rate(tmp_path: Path) -> None:
    """3 runs of a qps search, one finding 50 qps and two no rate meeting the bound: "50.000 qps [nan, nan]
    (3 runs, CV nan%)" read as three runs' figure. Say 1 of 3, and flag the two."""
    frame = _runs_frame({"search": [40.0, 45.0, 42.0]}).assign(
        scenario="server", qps_search="...", max_qps_meeting_bound=[50.0, np.nan, np.nan]
    )
    summary = summarize(frame).iloc[0]
    assert (summary["n_runs"], summary["figure_n_runs"]) == (3, 1) and summary["figure_runs"] == pytest.approx(50)
    for record in frame.to_dict("records"):
        results.write_row(tmp_path, record)
    built = report.build([tmp_path])
    assert built.tables["bert · fp32"].iloc[0]["across runs [95% CI]"] == "50.000 qps from 1 of 3 runs"
    assert any("2 of its 3 runs found no rate meeting the bound" in f for f in built.flags), built.flags


def test_compare_uses_the_runs_when_both_sides_have_them(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    a = {"same": list(10 * np.exp(rng.normal(0, 0.02, 3))), "slower": list(10 * np.exp(rng.normal(0, 0.02, 3)))}
    b = {"same": list(10 * np.exp(rng.normal(0, 0.02, 3))), "slower": list(13 * np.exp(rng.normal(0, 0.02, 3)))}
    for name, runs in (("a", a), ("b", b)):
        for record in _runs_frame(runs).to_dict("records"):
            results.write_row(tmp_path / name, {**record, "run_id": f"{name}-{record['run_id']}",
                                                "started_at": f"2026-01-01T00:00:0{record['repeat']}"})  # fmt: skip
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    by = table.set_index("runtime")
    assert by.loc["slower", "verdict"] == "slower" and by.loc["slower", "p50_ratio"] == pytest.approx(1.3, rel=0.05)
    assert by.loc["same", "verdict"].startswith("no ")
    assert by["evidence"].str.startswith("Welch t on log p50s of 3 vs 3 runs").all()
    assert by["min_effect"].str.startswith("2 x between-run CV").all()
    given, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"], min_effect_pct=50)
    assert given.set_index("runtime").loc["slower", "verdict"] == "no meaningful difference (< 50%)"


# -- paired speed-up ----------------------------------------------------------------------------------------


def test_ratio_ci_covers_a_known_speedup() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    for _ in range(400):
        ratios = 2.0 * np.exp(rng.normal(0, 0.1, 8))
        _, low, high = ratio_ci(ratios)
        covered += low <= 2.0 <= high
    assert 0.92 <= covered / 400 <= 0.98
    assert all(math.isnan(x) for x in ratio_ci(np.array([2.0]))[1:]), "one ratio: no interval"


def test_paired_bursts_on_a_fake_clock_give_the_known_ratio() -> None:
    """Baseline calls take 20 ms, the runtime's 10 ms (each +-5% jitter), on a clock only the calls move;
    a slow drift of the machine multiplies both alike, as it would in one process."""
    rng = np.random.default_rng(5)
    now = [0]
    drift = [1.0]

    def call(ms: float):
        def run() -> None:
            drift[0] *= 1.001
            now[0] += int(ms * 1e6 * drift[0] * rng.uniform(0.95, 1.05))

        return run

    cfg = MeasureConfig(warmup_calls=2, warmup_s=0, min_calls=20, min_s=0, max_s=60, target_ci_rel=0.01,
                        burst_calls=10).validate()  # fmt: skip
    paired = measure_paired(call(10), call(20), cfg, 1, clock=lambda: now[0])
    summary = paired.summary()
    assert summary["speedup_vs_eager_ci_low"] <= 2.0 <= summary["speedup_vs_eager_ci_high"]
    assert summary["speedup_vs_eager"] == pytest.approx(2.0, rel=0.02)
    assert summary["stop_reason"] == "ci_target" and summary["paired_bursts"] >= 5
    assert len(paired.runtime.latencies_ms) == len(paired.baseline_latencies_ms) == 10 * summary["paired_bursts"]


def test_paired_bursts_stop_at_max_s_and_max_calls_as_single_stream_does() -> None:
    """Found by breaking it: max_s and max_calls were checked only after a whole pair of bursts: 1 s calls
    under max_s=5 timed 20 s, and max_calls=11 took 20 runtime calls (a 10**7 cap could overshoot
    results' per-row limit). Each call now ends its burst once max_s has passed."""
    now = [0]

    def second() -> None:
        now[0] += 10**9

    cfg = MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=1, min_s=0, max_s=5, target_ci_rel=0,
                        burst_calls=10).validate()  # fmt: skip
    paired = measure_paired(second, second, cfg, 1, clock=lambda: now[0])
    assert paired.runtime.stop_reason == "max_s"  # 5 baseline calls reach max_s; the first pair's 1 runtime call
    assert len(paired.baseline_latencies_ms) == 5 and len(paired.runtime.latencies_ms) == 1 and len(paired.ratios) == 1
    now[0] = 0
    capped = MeasureConfig(**{**vars(cfg), "max_s": 1000, "max_calls": 11})
    paired = measure_paired(second, second, capped, 1, clock=lambda: now[0])
    assert paired.runtime.stop_reason == "max_calls" and len(paired.runtime.latencies_ms) == 11
    assert len(paired.baseline_latencies_ms) == 11 and len(paired.ratios) == 2


def test_a_paired_row_carries_its_speedup_and_the_report_uses_it(cli, tmp_path: Path) -> None:
    run = cli("-m", "workload=tiny_resnet", "runtime=eager,openvino", "baseline=paired", "hydra.sweep.dir=sweep")
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv").set_index("runtime")
    assert pd.notna(frame.loc["openvino", "speedup_vs_eager"]) and frame.loc["openvino", "paired_bursts"] >= 1
    assert frame.loc["openvino", "baseline"].startswith("eager fp32, torch ")
    # eager fp32 is the baseline: paired with itself it showed "1.63 [0.00, 905.52] paired" on a busy machine
    assert pd.isna(frame.loc["eager", "speedup_vs_eager"]) and frame.loc["eager", "baseline"].startswith("none")
    table = report.build([tmp_path / "sweep"]).tables["resnet101 · fp32"].set_index("runtime")
    assert table.loc["openvino", "speed-up vs eager"].endswith("paired")
    assert table.loc["eager", "speed-up vs eager"].startswith("1.00")


def test_ipex_pairs_with_eager_in_its_own_interpreter(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_resnet", "runtime=ipex", "baseline=paired", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["status"] == "ok" and row["baseline"].startswith("eager fp32, torch 2.8")


# -- machine state and the host lock ------------------------------------------------------------------------


# pinned to the job's core: an unpinned hog is moved by the scheduler to the core the job does not hold
# (the job read other_cpu_share 0.0 with two hogs on a 2-core host, rightly: its own core was free)
HOG = "import os, time\nos.sched_setaffinity(0, {{0}})\nend = time.time() + {s}\nwhile time.time() < end:\n    pass\n"


def test_a_cpu_hog_during_the_measurement_shows_in_the_row_and_the_report(cli, tmp_path: Path) -> None:
    hogs = [subprocess.Popen([sys.executable, "-c", HOG.format(s=40)]) for _ in range(2)]  # bounded: 40 s
    try:
        run = cli("workload=tiny_resnet", "threads=1", "measure.min_s=2", "measure.max_s=3", "results_dir=res")
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert row["other_cpu_share"] > 0.25, row["other_cpu_share"]
    assert str(row["cpu_affinity"]) == "0" and row["load_avg_1min"] >= 0
    flags = report.build([tmp_path / "res"]).flags
    assert any("busy or drifting machine: other processes used" in f for f in flags), flags


LOCKER = """
import sys, time
from harness.machine import host_lock
with host_lock(sys.argv[1]):
    start = time.time(); time.sleep(1.5); end = time.time()
print(start, end)
"""


def test_the_host_lock_serialises_two_processes(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), HARNESS_HOST_LOCK=str(tmp_path / "host.lock"))
    procs = [subprocess.Popen([sys.executable, "-c", LOCKER, name], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for name in ("first", "second")]  # fmt: skip
    outs = [p.communicate(timeout=60) for p in procs]
    (s1, e1), (s2, e2) = ([float(x) for x in out.split()] for out, _ in outs)
    assert e1 <= s2 or e2 <= s1, "the two locked windows overlap"
    assert any("waiting for the host lock" in err for _, err in outs)


def test_two_sweeps_started_at_once_never_overlap_their_timed_windows(cli_factory, tmp_path: Path) -> None:
    import threading

    outcomes = []

    def sweep(name: str) -> None:
        (tmp_path / name).mkdir()
        outcomes.append(cli_factory(tmp_path / name)("-m", "workload=tiny_resnet", "batch=1,2", "measure.min_s=0.5",
                                                     "measure.max_s=1", "hydra.sweep.dir=out"))  # fmt: skip

    threads = [threading.Thread(target=sweep, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(o.returncode == 0 for o in outcomes), [o.stderr[-2000:] for o in outcomes]
    windows = pd.concat([pd.read_csv(tmp_path / n / "out" / "results.csv") for n in ("a", "b")])
    windows = windows.sort_values("measure_started_at")[["measure_started_at", "measure_ended_at"]].to_numpy()
    assert len(windows) == 4
    assert all(windows[k][1] <= windows[k + 1][0] for k in range(3)), windows


# -- accuracy once, eager as its own reference ----------------------------------------------------------------


def test_accuracy_is_scored_once_and_eager_is_its_own_reference(cli, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = cli("workload=tiny_resnet", f"cache_dir={cache}", "results_dir=res")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "computing eager fp32 reference" not in first.stderr, "eager's own pass is the reference"
    assert len(list((cache / "reference").glob("*/logits.npy"))) == 1
    second = cli("workload=tiny_resnet", f"cache_dir={cache}", "results_dir=res", "force=true")
    assert second.returncode == 0, second.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "res" / "results.csv").sort_values("started_at")
    assert rows["accuracy_source"].tolist() == ["measured", "cached"]
    # how long the pass took is on the row that made it; the cached row made none
    assert rows.iloc[0]["accuracy_s"] > 0 and pd.isna(rows.iloc[1]["accuracy_s"])
    assert rows["accuracy"].nunique() == 1 and rows["agreement"].tolist() == [1.0, 1.0]
    log = Path(rows.iloc[-1]["log_path"]).read_text() + second.stderr
    assert "no accuracy pass" in log


def test_cached_scores_that_cannot_be_right_are_scored_again(tmp_path: Path) -> None:
    """A cache handed over by someone else verifies (its manifest matches) yet may hold doctored scores:
    values score() cannot produce are not shown; the entry goes and the next job scores again."""
    import json

    from harness.cache import cached_entry
    from harness.job import ACCURACY_COLUMNS, ACCURACY_FILE, cached_accuracy

    right = {name: 0.5 for name in ACCURACY_COLUMNS} | {"f1": None, "max_abs_diff": float("nan")}
    for key, doctored in [("right", {}), ("over", {"accuracy": 7.0}), ("negative", {"max_rel_diff": -1.0}),
                          ("none", {"agreement": None}), ("text", {"f1": "high"}), ("bool", {"accuracy": True}),
                          ("quoted", {"agreement": "0.25"})]:  # fmt: skip
        scores = right | doctored
        cached_entry(tmp_path, "accuracy", key, lambda d, s=scores: (d / ACCURACY_FILE).write_text(json.dumps(s)))
        got = cached_accuracy(tmp_path, key)
        if key == "right":
            assert got is not None and got["accuracy"] == 0.5 and got["f1"] is None
        else:
            assert got is None and not (tmp_path / "accuracy" / key).exists(), key


@pytest.mark.slow  # minutes on a 2-core AVX2 machine: `make test-all` (make test stays nearer 20 min)
def test_eager_after_another_runtime_is_scored_on_the_reference_pass_it_made(cli, tmp_path: Path) -> None:
    """When another runtime's job ran first, it made eager fp32's pass over the eval set (the reference
    outputs); eager fp32's own job is scored on it instead of making the same pass again, with the same
    scores as its own pass gives."""
    cache = tmp_path / "cache"
    other = cli("workload=tiny_resnet", "runtime=openvino", f"cache_dir={cache}", "results_dir=res")
    assert other.returncode == 0, other.stderr[-3000:]
    assert "computing eager fp32 reference" in other.stderr
    eager = cli("workload=tiny_resnet", f"cache_dir={cache}", "results_dir=res")
    assert eager.returncode == 0, eager.stderr[-3000:]
    rows = pd.read_csv(tmp_path / "res" / "results.csv").sort_values("started_at")
    assert rows["accuracy_source"].tolist() == ["measured", "reference"]
    # openvino's job made both passes (the reference and its own); eager made none
    assert rows.iloc[0]["reference_s"] > 0 and rows.iloc[0]["accuracy_s"] > 0
    assert pd.isna(rows.iloc[1]["accuracy_s"]) and pd.isna(rows.iloc[1]["reference_s"])
    assert "no second eager pass" in Path(rows.iloc[-1]["log_path"]).read_text() + eager.stderr
    own = cli("workload=tiny_resnet", f"cache_dir={tmp_path / 'fresh'}", "results_dir=own")
    assert own.returncode == 0, own.stderr[-3000:]
    own_row = pd.read_csv(tmp_path / "own" / "results.csv").iloc[0]
    assert own_row["accuracy_source"] == "measured"
    assert rows.iloc[-1]["accuracy"] == own_row["accuracy"] and rows.iloc[-1]["agreement"] == 1.0


# -- FLOPs ---------------------------------------------------------------------------------------------------


def test_gflops_are_of_the_calls_timed_not_of_every_prepared_batch() -> None:
    """Found by breaking it: 64 eval batches (50 of 16 GFLOP, 14 of 128) and a run stopped after 10 calls
    timed only short ones, yet gflops_per_call averaged all 64 (40.5 instead of 16: 2.5x). Offline
    threads each cycle from the first batch."""
    from harness.job import mean_flops_of_timed_calls

    per_batch = [16.0] * 50 + [128.0] * 14
    assert mean_flops_of_timed_calls(per_batch, 10) == 16.0
    assert mean_flops_of_timed_calls(per_batch, 64) == pytest.approx(np.mean(per_batch))
    assert mean_flops_of_timed_calls(per_batch, 70) == pytest.approx((sum(per_batch) + 6 * 16) / 70)
    assert mean_flops_of_timed_calls(per_batch, 100, streams=2) == pytest.approx(16.0)  # 50 calls each
    assert mean_flops_of_timed_calls([3.0, 5.0], 3, streams=2) == pytest.approx((3 + 5 + 3) / 3)
    assert math.isnan(mean_flops_of_timed_calls(per_batch, 0))


def test_flops_of_a_tiny_model_match_a_hand_count(tmp_path: Path) -> None:
    import torch

    from harness.job import flops_per_call
    from workloads.base import ModelHandle, model_hash

    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).eval()
    batch = {"x": torch.ones(3, 8)}
    handle = ModelHandle(model, ["x"], {"x": {0: "batch"}}, batch, model_hash(model), "mlp", 4)
    # 2 FLOPs per multiply-add: 3 samples x (8x16 + 16x4) multiply-adds
    assert flops_per_call(handle, batch, tmp_path) == 2 * 3 * (8 * 16 + 16 * 4)
    from harness.cache import write_manifest

    (entry,) = (tmp_path / "flops").glob("*/flops.json")
    for doctored in ('{"flops": -5}', '{"flops": 1e300}', '{"flops": true}', '{"flops": "768"}'):
        entry.write_text(doctored)  # doctored, manifest and all: counted again
        write_manifest(entry.parent)
        assert flops_per_call(handle, batch, tmp_path) == 2 * 3 * (8 * 16 + 16 * 4), doctored
    # an entry that is no plain directory: a file, or a symlink to a directory of doctored counts
    import shutil

    shutil.rmtree(entry.parent)
    entry.parent.write_text("not a directory")
    assert flops_per_call(handle, batch, tmp_path) == 2 * 3 * (8 * 16 + 16 * 4)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(entry.parent, elsewhere)
    (elsewhere / "flops.json").write_text('{"flops": 5}')
    write_manifest(elsewhere)
    shutil.rmtree(entry.parent)
    entry.parent.symlink_to(elsewhere)
    assert flops_per_call(handle, batch, tmp_path) == 2 * 3 * (8 * 16 + 16 * 4)
    assert not entry.parent.is_symlink(), "replaced by a plain directory"


def test_the_flops_of_calls_cycling_over_batches_of_many_lengths_are_their_mean(tmp_path: Path) -> None:
    """timing_inputs=dataset with padding=longest: each timed batch has its own length, and so its own
    FLOPs; the first batch's count alone goes with none of the other calls' latencies."""
    import torch

    from harness.job import flops_by_batch, mean_flops_of_timed_calls
    from workloads.base import ModelHandle, model_hash

    model = torch.nn.Linear(8, 4).eval()  # per token: 8x4 multiply-adds
    batches = [{"x": torch.ones(2, length, 8)} for length in (3, 5, 3)]
    handle = ModelHandle(model, ["x"], {"x": {0: "batch"}}, batches[0], model_hash(model), "tokens", 4)
    per_token = 2 * 8 * 4
    per_batch = flops_by_batch(handle, batches, tmp_path)
    assert per_batch == [per_token * 2 * length for length in (3, 5, 3)]
    assert mean_flops_of_timed_calls(per_batch, 30) == pytest.approx(per_token * 2 * (3 + 5 + 3) / 3)
    assert len(list((tmp_path / "flops").glob("*/flops.json"))) == 2, "counted once per shape"


def test_other_cpu_use_is_read_on_the_jobs_own_cores() -> None:
    """Found by breaking it: the probe read /proc/stat's aggregate line, so on a 64-core host a neighbour
    sharing the job's 2 cores (half their time) read 1.6% and went unflagged, one on 8 other cores 12.5%
    and was flagged. Per-CPU lines of the job's cores, by hand: cpu0 and cpu1, 100 jiffies each."""
    from harness.machine import _cpu_jiffies

    def stat(busy: dict[int, int], steal: int = 0) -> str:  # user, nice, system, idle, iowait, irq, softirq, steal
        lines = [f"cpu {sum(busy.values())} 0 0 0 0 0 0 0"]
        lines += [f"cpu{n} {busy.get(n, 0)} 0 0 {100 - busy.get(n, 0) - steal} 0 0 0 {steal}" for n in range(64)]
        return "\n".join(lines) + "\nintr 1 2 3\n"

    neighbour_on_mine = stat({0: 100, 1: 100})  # the job (50 each) and a neighbour (50 each)
    assert _cpu_jiffies({0, 1}, neighbour_on_mine) == (200, 200, 0)
    assert _cpu_jiffies({5}, stat({5: 30}, steal=10)) == (100, 30, 10)
    # no per-CPU line for the cores asked (an unusual kernel): the aggregate line
    assert _cpu_jiffies({99}, "cpu 7 0 0 3 0 0 0 0\n") == (10, 7, 0)


def test_rows_carry_flops_and_the_machines_peak(cli, tmp_path: Path) -> None:
    run = cli("workload=tiny_resnet", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    # the rate the timed window sustained: FLOPs per call x calls per second
    assert row["gflops_per_s"] == pytest.approx(row["gflops_per_call"] * row["throughput_sps"] / row["batch_size"])
    assert row["gflops_per_call"] > 0 and row["gflops_per_s"] > 0
    assert row["gemm_peak_gflops_fp32"] > 0 and row["gemm_peak_gflops_bf16"] > 0
    assert "% of peak" in report.build([tmp_path / "res"]).tables["resnet101 · fp32"]["compute"].iloc[0]


def test_the_gemm_peak_is_bounded_in_time_on_a_cpu_that_only_emulates_a_dtype(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without native bf16 (an AVX2-only CPU) one 2048^3 bf16 torch.mm took 110-134 s, so each job of a
    busy machine spent 9-14 minutes on the peak. A fake kernel at 2 GFLOP/s on a fake clock: the
    climb stops at the first size whose next step would not fit the budget, and reads 2 GFLOP/s."""
    from harness import machine

    sizes: list[int] = []

    def kernels(dtype: object, size: int) -> dict[str, object]:
        sizes.append(size)
        return {"emulated": size}  # the "call" is its size; the fake clock below times it

    monkeypatch.setattr(machine, "_gemm_kernels", kernels)
    monkeypatch.setattr(machine, "_timed", lambda size: 2 * size**3 / 2e9)  # 2 GFLOP/s
    assert machine._gemm_gflops("bf16") == pytest.approx(2.0)
    spent = sum((machine.PEAK_CALLS + 1) * 2 * s**3 / 2e9 for s in sizes[1:])
    assert sizes[1:] == [128, 256] and spent <= machine.PEAK_BUDGET_S, (sizes, spent)
    sizes.clear()
    monkeypatch.setattr(machine, "_timed", lambda size: 2 * size**3 / 1e15)  # a fast CPU climbs to the top
    assert machine._gemm_gflops("fp32") == pytest.approx(1e6) and sizes[-1] == machine.PEAK_SIZE


def test_the_gemm_peak_runs_on_the_jobs_threads_and_is_kept_only_when_measured_on_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An offline x2 job leaves torch on 1 thread before the peak is measured: the peak then read
    102 GFLOP/s fp32 instead of 465 on 2 Zen 5 cores and was cached for every later job."""
    import torch

    from harness import machine

    monkeypatch.setenv("HARNESS_HOST_CACHE", str(tmp_path))
    monkeypatch.setattr(machine, "busy_flags", lambda window: [])  # a quiet machine, whatever runs beside
    seen: list[int] = []
    real_timed = machine._timed
    monkeypatch.setattr(machine, "_timed", lambda call: (seen.append(torch.get_num_threads()), real_timed(call))[1])
    assert "onednn matmul" in machine._gemm_kernels(torch.float32, 64), "oneDNN's GEMM beats MKL's fp32 on AMD"
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0})  # one core for two threads
        machine.gemm_peak_gflops(2)
        assert set(seen) == {2} and torch.get_num_threads() == 1, "run on the given threads, then restored"
        assert len(seen) >= 2 * 2 * (machine.PEAK_CALLS + 1), "two kernels for each of fp32 and bf16"
        assert not list(tmp_path.glob("gemm-peak-*")), "measured short of the cores: used once, not kept"
        monkeypatch.setattr(machine.os, "sched_getaffinity", lambda pid: {0, 1})
        peak = machine.gemm_peak_gflops(2)
        kept = list(tmp_path.glob("gemm-peak-*"))
        assert len(kept) == 1 and machine.gemm_peak_gflops(2) == peak
        monkeypatch.setattr(machine, "_gemm_gflops", lambda dtype: 123.0)  # what measuring again reads
        damages = ['{"fp32": NaN, "bf16": 1}', '{"fp32": -1, "bf16": 1}', '{"fp32": "x"}', "[]", "\x00",
                   '{"fp32": true, "bf16": true}', '{"fp32": "465", "bf16": "900"}',
                   '{"fp32": 1e308, "bf16": 5}']  # fmt: skip
        for damage in damages:
            kept[0].write_text(damage)  # the host cache is a file anyone could have written: measured again
            assert machine.gemm_peak_gflops(2) == {"fp32": 123.0, "bf16": 123.0}, damage
        kept[0].unlink()
        kept[0].mkdir()  # a directory where the file goes: measured and used, not kept
        assert machine.gemm_peak_gflops(2)["fp32"] == 123.0 and kept[0].is_dir()
        monkeypatch.setenv("HARNESS_HOST_CACHE", str(tmp_path / "afile"))
        (tmp_path / "afile").write_text("")  # a cache place that cannot be a directory
        assert machine.gemm_peak_gflops(2)["fp32"] == 123.0
    finally:
        torch.set_num_threads(saved)


def test_the_calibration_gemm_runs_on_the_jobs_threads_whatever_the_job_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline with 2 streams leaves torch on 1 thread per stream: the GEMM after the job must still run
    on the job's threads (it read as a machine twice as slow, flagging every offline x2 row)."""
    import torch

    from harness import machine

    seen: list[int] = []
    real_mm = torch.mm
    monkeypatch.setattr(torch, "mm", lambda a, b: (seen.append(torch.get_num_threads()), real_mm(a, b))[1])
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # what a job with 2 streams on 2 cores leaves behind
        assert machine.calibration_ms(2) > 0
        assert set(seen) == {2} and torch.get_num_threads() == 1, "run on the given threads, then restored"
    finally:
        torch.set_num_threads(saved)


def test_cached_content_is_keyed_by_the_harness_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An accuracy score, a reference or a conversion made by other code (another commit, or local edits
    that harness_git_sha cannot see) is never reused: a runtime changed to return other outputs was
    still scored from the cache (agreement 1.0 where a fresh cache gave 0.0)."""
    import shutil
    from types import SimpleNamespace

    from harness import job
    from harness.config import ComponentConfig, JobSpec, RuntimeConfig
    from runtimes import artifacts

    def fingerprint(root: Path) -> str:
        code = "from harness.cache import code_fingerprint; print(code_fingerprint())"
        env = dict(os.environ, PYTHONPATH=str(root))
        return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    for package in ("harness", "runtimes", "workloads"):
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = fingerprint(tmp_path)
    assert before == fingerprint(PROJECT_ROOT), "the code's content decides, not where the checkout lies"
    with (tmp_path / "runtimes" / "onnxruntime.py").open("a") as edited:
        edited.write("\nNEGATE = True\n")
    assert fingerprint(tmp_path) != before

    spec = JobSpec(workload=ComponentConfig("tiny", "workloads.resnet101", {}),
                   runtime=RuntimeConfig("onnxruntime", "runtimes.onnxruntime"), batch=1)  # fmt: skip
    handle = SimpleNamespace(model_hash="m", calibration=None, graph_options={}, artifact_identity=lambda: {})
    runtime = SimpleNamespace(conversion_options=lambda: {})

    def keys() -> tuple[str, str, dict]:
        return (job.accuracy_key(spec, handle, "d", "1.0"), job._reference_key(spec.workload, handle, "d", 1),
                artifacts.artifact_identity(runtime, handle, "onnx", {}))  # fmt: skip

    old = keys()
    monkeypatch.setattr(job, "code_fingerprint", lambda: "other code")
    monkeypatch.setattr(artifacts, "code_fingerprint", lambda: "other code")
    new = keys()
    assert all(o != n for o, n in zip(old, new, strict=True))


def _write_runs(
    directory: Path, runs: dict[str, list[float]], software: str = "sha-1", start: int = 0, host: str = "h"
) -> None:
    for record in _runs_frame(runs).to_dict("records"):
        results.write_row(directory, {**record, "run_id": f"{directory.name}-{software}-{host}-{record['run_id']}",
                                      "harness_code": software, "harness_git_sha": f"commit-{software}",
                                      "hostname": host,
                                      "started_at": f"2026-01-01T00:{start + record['repeat']:02d}:00"})  # fmt: skip


def test_the_minimum_effect_is_the_same_either_way(tmp_path: Path) -> None:
    """A 13x speed-up with noisy runs was "no meaningful difference (< 133%)" while the same data swapped
    was "13.1 slower": |ratio - 1| can never reach 100% for a speed-up. The rule is on |log ratio|."""
    _write_runs(tmp_path / "a", {"c": [100.0, 101.0, 99.0, 300.0]})
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1, 9.9, 10.05]})
    forward, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    backward, _ = compare.compare([tmp_path / "b"], [tmp_path / "a"])
    assert forward["verdict"].tolist() == ["faster"] and backward["verdict"].tolist() == ["slower"]
    assert forward["p50_ratio"].iloc[0] == pytest.approx(1 / backward["p50_ratio"].iloc[0])
    _write_runs(tmp_path / "c", {"c": [10.0, 10.1, 9.9, 10.05]})
    _write_runs(tmp_path / "d", {"c": [13.5, 13.6, 13.4, 13.55]})
    there, _ = compare.compare([tmp_path / "c"], [tmp_path / "d"], min_effect_pct=30)
    back, _ = compare.compare([tmp_path / "d"], [tmp_path / "c"], min_effect_pct=30)
    assert (there["verdict"].tolist(), back["verdict"].tolist()) == (["slower"], ["faster"])
    # the p50 columns are what the ratio is of: the sides' geometric means
    row = forward.iloc[0]
    assert row["p50_ms_b"] / row["p50_ms_a"] == pytest.approx(row["p50_ratio"])
    assert (row["runs_a"], row["runs_b"]) == (4, 4)


def test_runs_of_other_software_leave_the_summary_and_the_verdict(tmp_path: Path) -> None:
    """force=true after a change of version: five older runs pooled with two new ones 2.4x slower made
    the summary 'unstable' and compare 'no significant difference'. The new repeats 0-2 replace the old
    repeats 0-2 (summary.standing); all five older runs are counted as runs of other software, replaced or
    not (the same history read 2 or 5 by how the new repeats were numbered)."""
    old = [20.0, 21.0, 19.5, 20.5, 20.2]
    _write_runs(tmp_path / "a", {"c": old})
    _write_runs(tmp_path / "b", {"c": old})
    _write_runs(tmp_path / "b", {"c": [48.0, 49.0, 48.5]}, software="sha-2", start=10)
    summary = summarize(results.read_results(tmp_path / "b")).iloc[0]
    assert (summary["n_runs"], summary["runs_other_software"]) == (3, 5)
    # the same code under another commit (a README edit: -dirty) is the same software
    frame = results.read_results(tmp_path / "a")
    frame.loc[frame.index[-2:], "harness_git_sha"] = "commit-sha-1-dirty"
    assert summarize(frame).iloc[0]["n_runs"] == 5
    assert summary["latency_ms_p50"] == pytest.approx((48 * 49 * 48.5) ** (1 / 3))
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table["verdict"].tolist() == ["slower"] and table["runs_b"].tolist() == [3]
    flags = report.build([tmp_path / "b"]).flags
    assert any("5 earlier run(s) with other software" in flag for flag in flags), flags
    # in a directory of its own, every older run of other software is counted
    _write_runs(tmp_path / "c", {"c": old})
    _write_runs(tmp_path / "c", {"c": [48.0, 49.0, 48.5]}, software="sha-2", start=10, host="h")
    frame = results.read_results(tmp_path / "c")
    frame.loc[frame["harness_code"] == "sha-2", "repeat"] += 5
    assert summarize(frame).iloc[0][["n_runs", "runs_other_software"]].tolist() == [3, 5]  # however numbered


def test_the_summary_centre_lies_in_its_own_interval() -> None:
    """8 runs at 10 ms and 7 at 20: the median (10) lay outside the t interval on log p50s [11.3, 16.8];
    the centre is the geometric mean that interval belongs to."""
    row = summarize(_runs_frame({"c": [10.0] * 8 + [20.0] * 7})).iloc[0]
    assert row["latency_ms_p50_between_ci_low"] < row["latency_ms_p50"] < row["latency_ms_p50_between_ci_high"]
    assert row["latency_ms_p50"] == pytest.approx(10 * 2 ** (7 / 15))


def test_one_run_against_several_is_judged_by_the_runs(tmp_path: Path) -> None:
    """Repeats on one side only: the other side's single run is tested against what the runs predict
    (not one process's calls), and the minimum effect comes from the side with runs."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.2, 9.9, 10.1, 10.05]})
    _write_runs(tmp_path / "b", {"c": [14.0]})
    _write_runs(tmp_path / "same", {"c": [10.1]})
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    row = table.iloc[0]
    assert row["verdict"] == "slower" and row["evidence"].startswith("t prediction test of 1 run against 5 runs")
    assert row["min_effect"].startswith("2 x between-run CV")
    same, _ = compare.compare([tmp_path / "same"], [tmp_path / "a"])
    assert same["verdict"].tolist() == ["no significant difference"]


def test_a_between_run_cv_of_two_runs_is_not_taken_at_face_value(tmp_path: Path) -> None:
    """Found by a new user: two runs 13.8389 and 13.8387 ms apart (CV 0.001%) against one run of 14.167 made
    a 2.3% difference "faster" at a minimum effect of 0.0%. A 2-run side's CV counts at least the A/A
    runs' median (2.3%, docs/RESULTS.md); three runs give an estimate of their own."""
    _write_runs(tmp_path / "one", {"c": [14.167]})
    _write_runs(tmp_path / "two", {"c": [13.8389, 13.8387]})
    table, _ = compare.compare([tmp_path / "one"], [tmp_path / "two"])
    row = table.iloc[0]
    assert row["test_verdict"] == "faster" and row["verdict"] == "no meaningful difference (< 4.6%)", row.to_dict()
    assert row["min_effect"] == "2 x between-run CV 2.3% (of 2 runs 0.0%, raised to the A/A runs' median) = 4.6%"
    _write_runs(tmp_path / "three", {"c": [13.8389, 13.8387, 13.8388]})
    three, _ = compare.compare([tmp_path / "one"], [tmp_path / "three"])
    assert three["verdict"].tolist() == ["faster"] and three["min_effect"].iloc[0] == "2 x between-run CV 0.0% = 0.0%"


def test_the_environment_differences_are_of_the_rows_compared(tmp_path: Path) -> None:
    """A runtime that ran on one side only ('only in B') is no environment difference: its version was
    listed as 'runtime_version: 1.24.1 -> 1.24.1, 2.13.0+cpu'."""
    versions = {"eager": "2.13", "onnxruntime": "1.24"}
    for name, runtimes in (("a", ["eager"]), ("b", ["eager", "onnxruntime"])):
        for record in _runs_frame({r: [10.0] for r in runtimes}).to_dict("records"):
            results.write_row(tmp_path / name, {**record, "run_id": f"{name}-{record['run_id']}",
                                                "runtime_version": versions[record["runtime"]]})  # fmt: skip
    table, env_diff = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert "only in B" in table["verdict"].tolist() and "runtime_version" not in env_diff, env_diff


def test_equal_runs_are_no_difference_and_the_threshold_cuts_both_ways_alike(tmp_path: Path) -> None:
    """Three runs at 49.73 ms against two at 49.73 were 'slower' at p=0 (the means of the logs differ in
    the last bit); a change of exactly 30% was 'slower' one way and 'no meaningful difference' the other."""
    _write_runs(tmp_path / "three", {"c": [49.73] * 3})
    _write_runs(tmp_path / "two", {"c": [49.73] * 2})
    table, _ = compare.compare([tmp_path / "three"], [tmp_path / "two"])
    assert table["verdict"].tolist() == ["no significant difference"]
    _write_runs(tmp_path / "ten", {"c": [10.0] * 3})
    _write_runs(tmp_path / "thirteen", {"c": [13.0] * 3})
    there, _ = compare.compare([tmp_path / "ten"], [tmp_path / "thirteen"], min_effect_pct=30)
    back, _ = compare.compare([tmp_path / "thirteen"], [tmp_path / "ten"], min_effect_pct=30)
    assert (there["verdict"].tolist(), back["verdict"].tolist()) == (["slower"], ["faster"])
    from harness.analysis import beyond_effect, within_effect

    assert beyond_effect(1.2, 20) and beyond_effect(1 / 1.2, 20) and not beyond_effect(1.19, 20)
    assert within_effect(1.2, 20) and within_effect(1 / 1.2, 20) and not within_effect(1.21, 20)


def test_the_gate_fails_on_a_significant_regression_beyond_its_threshold_whatever_the_spread(tmp_path: Path) -> None:
    """12 runs a side, B 25% slower at p=0.001, between-run CV 15%: the default minimum effect (2 x CV =
    30%) called it "no meaningful difference" and --fail-on-regression 10 passed."""
    z = np.array([-1.5, -1, -0.6, -0.3, -0.1, 0, 0.1, 0.3, 0.6, 1, 1.5, 0])
    z = (z - z.mean()) / z.std(ddof=1)
    _write_runs(tmp_path / "a", {"c": list(10 * np.exp(0.15 * z))})
    _write_runs(tmp_path / "b", {"c": list(12.5 * np.exp(0.15 * z))})
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table["verdict"].iloc[0].startswith("no meaningful difference"), "without a gate: 2 x CV decides"
    gated, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"], gate_pct=10)
    assert (
        gated["verdict"].tolist() == ["slower"] and "lowered to --fail-on-regression 10%" in gated["min_effect"].iloc[0]
    )
    assert len(compare.regressions(gated, 10)) == 1
    given, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"], min_effect_pct=50, gate_pct=10)
    assert len(compare.regressions(given, 10)) == 1, "the gate's PCT decides the gate, whatever --min-effect says"
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "10"]) == 1
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "30"]) == 0


def test_a_host_on_both_sides_is_compared_with_itself(tmp_path: Path) -> None:
    """Two hosts on each side, the same figures on both: the newest row of A was host `small`'s, of B
    host `big`'s, and compare read identical result sets as 2x "faster"."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1, 9.9]}, host="big", start=0)
    _write_runs(tmp_path / "a", {"c": [20.0, 20.2, 19.8]}, host="small", start=5)
    _write_runs(tmp_path / "b", {"c": [20.0, 20.2, 19.8]}, host="small", start=0)
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1, 9.9]}, host="big", start=5)
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert sorted(table["host"]) == ["big", "small"] and set(table["verdict"]) == {"no significant difference"}
    assert table["p50_ratio"].tolist() == pytest.approx([1.0, 1.0])
    # hosts on one side only (your machine, mine): paired across, and the environment says so
    _write_runs(tmp_path / "c", {"c": [10.0, 10.1, 9.9]}, host="mine")
    _write_runs(tmp_path / "d", {"c": [10.0, 10.1, 9.9]}, host="yours")
    table, env_diff = compare.compare([tmp_path / "c"], [tmp_path / "d"])
    assert "host" not in table and table["verdict"].tolist() == ["no significant difference"]
    assert env_diff["hostname"] == (["mine"], ["yours"])
    # two hosts on B only (an older 2x slower one): each meets A's; the newest alone hid the slow one
    _write_runs(tmp_path / "e", {"c": [20.0, 20.2, 19.8]}, host="slow", start=0)
    _write_runs(tmp_path / "e", {"c": [10.0, 10.1, 9.9]}, host="yours", start=5)
    table, env_diff = compare.compare([tmp_path / "c"], [tmp_path / "e"])
    verdicts = dict(zip(table["host"], table["verdict"], strict=True))
    assert verdicts == {"mine -> slow": "slower", "mine -> yours": "no significant difference"}, verdicts
    assert env_diff["hostname"] == (["mine"], ["slow", "yours"])
    assert compare.main([str(tmp_path / "c"), str(tmp_path / "e"), "--fail-on-regression", "5"]) == 1


def test_the_between_run_test_holds_its_false_alarm_rate_with_two_runs_on_a_side() -> None:
    """Welch-Satterthwaite's degrees of freedom with 2 runs on a side called 5.4% of equal pairs different
    at a stated 1% (5 runs of log-SD 0.02 against 2 of 0.08): such a side gets Hsu's min(n) - 1. From 3
    runs a side Welch's own stay (about 2% at worst, a 4x SD ratio). Seeded simulation: deterministic."""
    from scipy import stats

    from harness.analysis import SIGNIFICANCE_P, between_run_verdict

    rng = np.random.default_rng(0)
    for n_a, sd_a, n_b, sd_b, at_most in ((5, 0.02, 2, 0.08, 1.0), (10, 0.01, 2, 0.1, 1.0), (3, 0.01, 3, 0.01, 1.0),
                                          (5, 0.02, 3, 0.08, 3.0)):  # fmt: skip
        alarms = sum(between_run_verdict(np.exp(rng.normal(0, sd_a, n_a)), np.exp(rng.normal(0, sd_b, n_b)))[0]
                     for _ in range(3000))  # fmt: skip
        assert alarms / 3000 <= at_most * SIGNIFICANCE_P, (n_a, n_b, alarms / 3000)
    # by hand: t = (mean_b - mean_a) / sqrt(var_a/n_a + var_b/n_b), p = 2 x t.sf(|t|, min(n) - 1) with 2 runs
    a, b = np.array([10.0, 10.2, 9.9, 10.1, 10.0]), np.array([11.0, 12.5])
    la, lb = np.log(a), np.log(b)
    t = (lb.mean() - la.mean()) / np.sqrt(la.var(ddof=1) / 5 + lb.var(ddof=1) / 2)
    _, _, how = between_run_verdict(a, b)
    assert how.endswith(f"p={2 * stats.t.sf(abs(t), 1):.2g}") and "Hsu's df=1 (a side has 2 runs)" in how, how
    # and from 3 runs a side, scipy's Welch test
    b3 = np.array([11.0, 12.5, 11.7])
    expected = stats.ttest_ind(np.log(b3), la, equal_var=False).pvalue
    assert between_run_verdict(a, b3)[2].endswith(f"p={expected:.2g}")


def test_with_repeats_the_reports_speedup_and_choice_rest_on_the_runs_not_the_newest_one(tmp_path: Path) -> None:
    """eager's runs 10, 10.1 and a slow newest 20; the runtime's about 10: the report said 2.01x (20 /
    9.95, one run each); the runs' geometric means give 1.26x. A busy run among them is named too."""
    _write_runs(tmp_path / "r", {"eager": [10.0, 10.1, 20.0], "onnxruntime": [10.0, 10.05, 9.95]})
    busy = {**_runs_frame({"eager": [10.0]}).iloc[0].to_dict(), "run_id": "busy", "repeat": 3,
            "harness_code": "sha-1", "other_cpu_share": 0.9, "started_at": "2026-01-01T00:30:00"}  # fmt: skip
    results.write_row(tmp_path / "r", busy)
    built = report.build([tmp_path / "r"])
    table = built.tables["bert · fp32"]
    speedup = table.set_index("runtime").loc["onnxruntime", "speed-up vs eager"]
    eager_runs = np.array([10.0, 10.1, 20.0, 10.0])
    expected = np.exp(np.log(eager_runs).mean()) / np.exp(np.log([10.0, 10.05, 9.95]).mean())
    assert speedup.endswith(" (runs)") and float(speedup.split()[0]) == pytest.approx(expected, abs=0.006), speedup
    assert any("1 of its 4 runs measured on a busy" in flag for flag in built.flags), built.flags


def test_rows_without_a_hostname_are_a_host_of_their_own(tmp_path: Path) -> None:
    """The runs of a row without a hostname took in every host's runs: 10 ms against 20 ms read as 1.4x
    "no significant difference" beside a correct h1 row, and the gate passed a 2x regression."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1, 9.9]}, host="h1")
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1, 9.9]}, host="h1")
    for side, value in (("a", 10.0), ("b", 20.0)):
        frame = _runs_frame({"c": [value, value * 1.01, value * 0.99]})
        for record in frame.assign(hostname=None).to_dict("records"):
            results.write_row(tmp_path / side, {**record, "run_id": f"{side}-nohost-{record['run_id']}",
                                                "started_at": f"2026-01-01T00:1{record['repeat']}:00"})  # fmt: skip
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    unknown = table[table["host"] == ""].iloc[0]
    assert (unknown["runs_a"], unknown["runs_b"]) == (3, 3) and unknown["verdict"] == "slower", unknown.to_dict()
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "5"]) == 1


def test_the_gate_and_the_table_apply_one_rule(tmp_path: Path) -> None:
    """--min-effect 20 above --fail-on-regression 5: the table said "no meaningful difference" while
    the gate failed; and a ratio of exactly 1.05 was "slower" in the table but passed the gate at 5."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.01, 9.99]})
    _write_runs(tmp_path / "b", {"c": [11.0, 11.011, 10.989]})
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"], min_effect_pct=20, gate_pct=5)
    assert table["verdict"].tolist() == ["slower"] and "lowered to --fail-on-regression 5%" in table["min_effect"][0]
    base = np.tile([10, 10.5, 9.5, 10, 10.3, 9.7], 5)
    _write_runs(tmp_path / "c", {"c": list(base)})
    _write_runs(tmp_path / "d", {"c": list(base * 1.05)})
    table, _ = compare.compare([tmp_path / "c"], [tmp_path / "d"], gate_pct=5)
    assert table["verdict"].tolist() == ["slower"] and len(compare.regressions(table, 5)) == 1


def test_the_hosts_view_and_the_choice_are_per_host_and_of_the_runs(tmp_path: Path) -> None:
    """The hosts view showed one run's p50 beside a speed-up of geometric means (10 ms and 10 ms, yet
    1.59x); the decision view recommended one host's figure without naming the host."""
    _write_runs(tmp_path / "r", {"eager": [10.0, 10.0, 20.0], "ov": [5.0]}, host="h1")
    _write_runs(tmp_path / "r", {"eager": [10.0], "ov": [5.0, 5.0, 10.0]}, host="h2", start=10)
    built = report.build([tmp_path / "r"])
    cell = built.hosts.set_index("runtime").loc["ov"]
    h2 = next(c for c in built.hosts.columns if c.startswith("h2"))
    assert cell[h2].startswith(f"{5 * 2 ** (1 / 3):.3f} ms"), cell[h2]
    assert sorted(built.decision["host"]) == ["h1", "h2"], built.decision


def _fail_runs(directory: Path, repeats: list[int], start: int, software: str = "sha-1", host: str = "h",
               status: str = "crashed") -> None:  # fmt: skip
    """Failed rows of configuration "c" (as _write_runs writes it) for `repeats`, started at minute start + r."""
    row = _runs_frame({"c": [10.0]}).iloc[0].to_dict()
    for r in repeats:
        results.write_row(directory, {**row, "repeat": r, "status": status, "latency_ms_p50": np.nan,
                                      "throughput_sps": np.nan, "error": "child killed by SIGKILL",
                                      "run_id": f"{directory.name}-{software}-{host}-failed-{r}-{start}",
                                      "harness_code": software, "harness_git_sha": f"commit-{software}",
                                      "hostname": host, "started_at": f"2026-01-01T00:{start + r:02d}:00"})  # fmt: skip


def test_an_ok_run_replaced_by_a_failed_re_run_stands_nowhere(tmp_path: Path) -> None:
    """Found by breaking it: two ok repeats forced again, both crashing. The summary let the crashes stand,
    but the report raised ValueError (NaN runs), compare judged B on the replaced ok runs (runs_b 0 beside
    a p50) and a resume skipped both repeats as finished. The newest row of a repeat stands everywhere."""
    code = code_fingerprint()  # a resume skips only repeats of this harness code
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1]}, software=code)
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1]}, software=code)
    assert {("c", 0), ("c", 1)} <= set(results.completed(tmp_path / "b").ok)
    _fail_runs(tmp_path / "b", [0, 1], start=10, software=code)
    assert not {("c", 0), ("c", 1)} & set(results.completed(tmp_path / "b").ok)
    flags = report.build([tmp_path / "b"]).flags
    assert "bert · c · batch 1 · fp32: status crashed (2 of its 2 runs failed): child killed by SIGKILL" in flags
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    row = table.iloc[0]
    assert row["verdict"] == "not comparable (status A=ok, B=crashed)", row.to_dict()
    assert (row["failed_a"], row["failed_b"]) == (0, 2)
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "10"]) == 1
    # one of two replaced: that repeat is measured again by a resume, and the other stands as the run
    _write_runs(tmp_path / "c", {"c": [10.0, 10.1]}, software=code)
    _fail_runs(tmp_path / "c", [1], start=10, software=code)
    assert {("c", 0), ("c", 1)} & set(results.completed(tmp_path / "c").ok) == {("c", 0)}
    flags = report.build([tmp_path / "c"]).flags
    assert any("1 of its 2 runs failed" in f and "its figures are of the others" in f for f in flags), flags
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "c"])
    assert (table.iloc[0]["runs_b"], table.iloc[0]["failed_b"]) == (1, 1)
    # a failure redone by a resume: the ok row stands, the repeat is finished
    _write_runs(tmp_path / "d", {"c": [10.0, 10.1]}, start=20, software=code)
    _fail_runs(tmp_path / "d", [0, 1], start=10, software=code)
    assert {("c", 0), ("c", 1)} <= set(results.completed(tmp_path / "d").ok)
    assert summarize(results.read_results(tmp_path / "d")).iloc[0][["n_runs", "runs_failed"]].tolist() == [2, 0]


def test_a_crash_under_newer_software_is_counted_and_named(tmp_path: Path) -> None:
    """Found by breaking it: three ok runs, then a new repeat crashing under another library version. Failures
    were counted only of the newest ok run's software: compare exited 0. A failure newer than every ok run
    counts whatever its software, and says which; an older failure of other software (fixed since) does not."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1, 9.9]})
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1, 9.9]}, start=10)
    _fail_runs(tmp_path / "b", [3], start=20, software="sha-2")
    _fail_runs(tmp_path / "b", [5], start=0, software="sha-0")  # before every ok run: another software's past
    summary = summarize(results.read_results(tmp_path / "b")).iloc[0]
    assert summary["runs_failed"] == 1
    assert summary["runs_failed_why"].startswith("under other software (harness_code sha-2) crashed:")
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table.iloc[0]["failed_b"] == 1 and "B 1: under other software" in table.iloc[0]["failed_runs"]
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "10"]) == 1


@pytest.mark.parametrize("host", ["12345", "007"])
def test_text_that_looks_like_a_number_stays_text(tmp_path: Path, host: str) -> None:
    """Found by breaking it: a results.csv from a host named 12345 or 007 read its hostname as an int (007 as
    7); its runs and failures were then grouped under no host: runs_a 0, no failed run, the gate passed."""
    for side in ("a", "b"):
        _write_runs(tmp_path / side, {"c": [10.0, 10.1, 9.9]}, host=host)
    _fail_runs(tmp_path / "b", [3], start=10, host=host)
    for side in ("a", "b"):
        results.gather(tmp_path / side)
    frame = results.read_results(tmp_path / "b" / "results.csv")
    assert frame["hostname"].tolist() == [host] * 4
    table, _ = compare.compare([tmp_path / "a" / "results.csv"], [tmp_path / "b" / "results.csv"])
    assert (table.iloc[0]["runs_a"], table.iloc[0]["runs_b"], table.iloc[0]["failed_b"]) == (3, 3, 1)
    assert compare.main([str(tmp_path / "a" / "results.csv"), str(tmp_path / "b" / "results.csv"),
                         "--fail-on-regression", "10"]) == 1  # fmt: skip
    # a version such as 3.10 is no float 3.1; a parquet file holding numbers is read as text too
    frame = frame.assign(python_version="3.10", hostname=int(host))
    frame.to_parquet(tmp_path / "numbers.parquet")
    read = results.read_results(tmp_path / "numbers.parquet")
    assert read["hostname"].tolist() == [str(int(host))] * 4
    frame.assign(hostname=host).to_csv(tmp_path / "numbers.csv", index=False)
    assert results.read_results(tmp_path / "numbers.csv")["python_version"].tolist() == ["3.10"] * 4


def test_force_since_counts_only_rows_started_at_or_after_it(tmp_path: Path) -> None:
    """force_since=T (an interrupted force=true sweep finished): a repeat is finished only when its newest
    row is ok and started at or after T; a time without a zone is UTC, as started_at is written."""
    code = code_fingerprint()
    _write_runs(tmp_path / "s", {"c": [10.0, 10.1, 9.9]}, software=code)  # started 00:00, 00:01, 00:02 (no zone)
    since = results.utc_time("2026-01-01T00:01:00Z")
    assert set(results.completed(tmp_path / "s", since=since).ok) == {("c", 1), ("c", 2)}
    assert set(results.completed(tmp_path / "s", since=results.utc_time("2026-01-01T01:01:00+01:00")).ok) == {
        ("c", 1), ("c", 2)}  # fmt: skip
    assert set(results.completed(tmp_path / "s").ok) == {("c", 0), ("c", 1), ("c", 2)}
    assert [results.utc_time(v) for v in ("", "yesterday", None, 3.0)] == [None] * 4
    # the skip line says why under force_since (it read as an ordinary resume's)
    assert results.completed(tmp_path / "s", since=since).reason("c", 1) == (
        "ok",
        "an ok row with config_hash c, repeat 1, started at or after force_since=2026-01-01T00:01:00Z, exists",
    )
    assert results.completed(tmp_path / "s").reason("c", 1)[1] == "an ok row with config_hash c, repeat 1, exists"


def _row_file(directory: Path, run_id: str, **fields: object) -> None:
    """One row of configuration "c" (as _write_runs writes it) with `fields` changed."""
    row = _runs_frame({"c": [10.0]}).iloc[0].to_dict()
    row.update({"run_id": run_id, "harness_code": "sha-1", "harness_git_sha": "commit-sha-1", "hostname": "h"})
    failed = fields.get("status", "ok") != "ok"
    row.update({"latency_ms_p50": np.nan, "throughput_sps": np.nan, "error": "segv"} if failed else {})
    results.write_row(directory, {**row, **fields})


def test_the_gate_fails_when_every_standing_run_of_b_failed_whatever_a_failed_once(tmp_path: Path) -> None:
    """Found by breaking it: A ok with one flaky error of its own, B's two repeats re-run and both crashed:
    "not comparable (status A=ok, B=crashed)", and the gate exited 0 (it failed only when A had no failure)."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1], "d": [5.0, 5.1]})  # d: compared, so the gate has a row
    _row_file(tmp_path / "a", "a-flaky", repeat=2, status="error", started_at="2026-01-01T00:05:00")
    _write_runs(tmp_path / "b", {"c": [10.0, 10.1], "d": [5.0, 5.1]})
    _fail_runs(tmp_path / "b", [0, 1], start=10)
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    by = table.set_index("runtime")
    assert by.loc["c", "verdict"] == "not comparable (status A=ok, B=crashed)"
    assert (by.loc["c", "failed_a"], by.loc["c", "failed_b"]) == (1, 2)
    assert by.loc["d", "verdict"] == "no significant difference"
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "10"]) == 1
    # and when B's newest row says it cannot run it now (unsupported: a library gone), the gate fails too
    _row_file(tmp_path / "b", "b-unsupported", repeat=None, status="unsupported", started_at="2026-01-01T00:30:00",
              error="no such op")  # fmt: skip
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table.set_index("runtime").loc["c", "verdict"] == "not comparable (status A=ok, B=unsupported)"
    assert compare.main([str(tmp_path / "a"), str(tmp_path / "b"), "--fail-on-regression", "10"]) == 1


def test_a_files_own_summary_columns_are_not_the_summary(tmp_path: Path) -> None:
    """Found by breaking it: a row file carrying runs_failed=0 hid a crashed repeat (the Decision then chose
    that runtime), and one carrying runs_failed_x made the report raise MergeError."""
    _write_runs(tmp_path / "d", {"c": [10.0, 10.1]})
    _fail_runs(tmp_path / "d", [1], start=10)
    _row_file(tmp_path / "d", "d-extra", repeat=2, started_at="2026-01-01T00:20:00", runs_failed=0, runs_failed_x=1,
              runs_failed_why="")  # fmt: skip
    flags = report.build([tmp_path / "d"]).flags
    assert any("1 of its 3 runs failed (newest: crashed: child killed by SIGKILL)" in f for f in flags), flags


def test_two_directories_sharing_runs_are_one_sweep_in_either_order(tmp_path: Path) -> None:
    """Found by breaking it: a copy of a sweep continued elsewhere (its repeat 1 re-run and crashed), given
    with the original: "1 of its 3 runs failed" one way round, "1 of its 2" the other (a run given twice is
    kept from the first source, and each source's repeats stood apart). Independent sweeps stay apart."""
    _write_runs(tmp_path / "s1", {"c": [10.0, 10.1]})
    _write_runs(tmp_path / "b1", {"c": [10.0, 10.1]})
    for path in (tmp_path / "s1" / "rows").glob("*.json"):  # the same runs: a copy
        (tmp_path / "b1" / "rows" / path.name).write_bytes(path.read_bytes())
    for path in (tmp_path / "b1" / "rows").glob("b1-*.json"):
        path.unlink()
    _fail_runs(tmp_path / "b1", [1], start=10)
    one = [f for f in report.build([tmp_path / "s1", tmp_path / "b1"]).flags if "runs failed" in f]
    other = [f for f in report.build([tmp_path / "b1", tmp_path / "s1"]).flags if "runs failed" in f]
    assert one == other and len(one) == 1 and "1 of its 2 runs failed" in one[0], (one, other)
    _write_runs(tmp_path / "s2", {"c": [10.2, 10.3]})  # another sweep of the same configuration: two more runs
    frame = analysis.load([tmp_path / "s1", tmp_path / "s2"])
    assert summarize(frame).iloc[0]["n_runs"] == 4


@pytest.mark.parametrize(
    ("started_at", "replaces"),
    [
        (None, False),  # no time: never the newest (it replaced the ok run unseen)
        ("2026-01-01T00:00:30-05:00", True),  # 05:00:30 UTC, after the ok run at 00:01 UTC (text order said before)
        ("2026-01-01T03:00:00+05:00", False),  # 22:00 UTC the day before
        ("2026-01-01 00:10:00+00:00", True),  # a space for the T, as pandas writes a time
    ],
)
def test_rows_are_ordered_by_their_time_not_its_text(tmp_path: Path, started_at: str | None, replaces: bool) -> None:
    """Found by breaking it: started_at was compared as text, so a crash written with an offset was older or
    newer than it was, and a crash without a time replaced the ok run of its repeat."""
    code = code_fingerprint()
    _write_runs(tmp_path / "s", {"c": [10.0, 10.1]}, software=code)  # 00:00 and 00:01, no zone: UTC
    _row_file(tmp_path / "s", "s-crash", repeat=1, status="crashed", started_at=started_at, harness_code=code)
    summary = summarize(results.read_results(tmp_path / "s")).iloc[0]
    assert summary[["n_runs", "runs_failed"]].tolist() == ([1, 1] if replaces else [2, 0])
    assert (("c", 1) in results.completed(tmp_path / "s").ok) is not replaces


def test_a_resume_redoes_repeat_0_whose_newest_row_failed_after_a_row_without_a_repeat(tmp_path: Path) -> None:
    """Found by breaking it: an ok row without a repeat number (an older file) counted as repeat 0 for the
    resume, but stood alone beside a newer crash of repeat 0: the resume skipped repeat 0."""
    code = code_fingerprint()
    _row_file(tmp_path / "s", "s-old", repeat=None, started_at="2026-01-01T00:00:00", harness_code=code)
    assert ("c", 0) in results.completed(tmp_path / "s").ok
    _row_file(tmp_path / "s", "s-crash", repeat=0, status="crashed", started_at="2026-01-01T00:10:00",
              harness_code=code)  # fmt: skip
    assert ("c", 0) not in results.completed(tmp_path / "s").ok


def test_a_host_named_like_a_missing_value_is_a_host(tmp_path: Path) -> None:
    """Found by breaking it: hostnames NA, None, null read from results.csv as missing (pandas' defaults):
    the directory said 2 runs and no failure, its results.csv 1 run and 1 failure."""
    for host in ("NA", "None", "null"):
        _write_runs(tmp_path / host, {"c": [10.0, 10.1]}, host=host)
        results.gather(tmp_path / host)
        read = results.read_results(tmp_path / host / "results.csv")
        assert read["hostname"].tolist() == [host, host], read["hostname"].tolist()
        assert summarize(read).iloc[0]["n_runs"] == 2


def test_with_no_ok_run_every_failure_counts_whatever_its_software(tmp_path: Path) -> None:
    """Found by breaking it: both repeats failed, under two library versions: "status crashed" without
    "(2 of its 2 runs failed)" and compare's "B 1" (failures of the newest's software only)."""
    _write_runs(tmp_path / "a", {"c": [10.0, 10.1]})
    _fail_runs(tmp_path / "b", [0], start=0)
    _fail_runs(tmp_path / "b", [1], start=5, software="sha-2")
    assert any("status crashed (2 of its 2 runs failed)" in f for f in report.build([tmp_path / "b"]).flags)
    table, _ = compare.compare([tmp_path / "a"], [tmp_path / "b"])
    assert table.iloc[0]["failed_b"] == 2


def test_edge_times_and_rows_without_a_repeat_are_named_or_ordered_not_raised(tmp_path: Path) -> None:
    """Found by breaking it: started_at 0001-01-01T00:00:00+01:00 (valid ISO 8601, before the first UTC time
    Python holds) made gather, report and compare raise OverflowError; a failure without a repeat number
    blocked repeat 0 for the resume while standing alone everywhere else; force_since=20261202 (ISO 8601's
    basic format, a number to Hydra) was refused as "not a string"."""
    assert results.utc_time("0001-01-01T00:00:00+01:00") is None
    assert results.utc_time("9999-12-31T23:59:59-01:00") is None
    code = code_fingerprint()
    _write_runs(tmp_path / "s", {"c": [10.0, 10.1]}, software=code)
    _row_file(tmp_path / "s", "s-odd", repeat=1, status="crashed", started_at="0001-01-01T00:00:00+01:00")
    assert summarize(results.read_results(tmp_path / "s")).iloc[0][["n_runs", "runs_failed"]].tolist() == [2, 0]
    report.build([tmp_path / "s"])
    _row_file(tmp_path / "s", "s-norepeat", repeat=None, status="crashed", started_at="2026-01-01T00:30:00",
              harness_code=code)  # fmt: skip
    assert {("c", 0), ("c", 1)} <= set(results.completed(tmp_path / "s").ok)
    from harness.cli import cli_options

    options = cli_options({"force": False, "results_dir": None, "repeats": 1, "repeat": 0, "force_since": 20261202})
    assert options.since() == results.utc_time("2026-12-02T00:00:00Z")
