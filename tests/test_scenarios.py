"""Scenarios on the one measuring loop (issue 14): the drivers against arithmetic on fake calls of known
service time, Poisson arrivals, honest p99 tails, every runtime in offline and server, timing over
real inputs, memory by phase, per-operator profiles, and bad input."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.catalog import runtime_names
from harness.config import ConfigError, MeasureConfig, min_server_qps
from harness.measure import (
    Measurement,
    measure_concurrent,
    measure_server,
    poisson_arrivals,
    quantile_ci,
    search_server_qps,
)

PLAN = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1_000_000, min_s=0, max_s=3.0, target_ci_rel=0,
                     max_calls=1_000_000).validate()  # fmt: skip


def _service(ms: float):
    return lambda: time.sleep(ms / 1000)  # sleeping releases the GIL, as runtime calls do


def test_the_concurrent_driver_keeps_streams_in_flight() -> None:
    """Two streams of a 20 ms service: about 100 requests a second over wall time, each taking 20 ms."""
    result = measure_concurrent([[_service(20)], [_service(20)]], PLAN, samples_per_call=4, streams=2)
    summary = result.summary()
    assert summary["streams"] == 2 and summary["driver"] == "threads" and result.stop_reason == "max_s"
    assert summary["throughput_sps"] == pytest.approx(4 * 2 / 0.020, rel=0.3)
    assert summary["latency_ms_p50"] == pytest.approx(20, rel=0.3)


def test_the_server_driver_counts_queueing_from_arrival() -> None:
    """One server, 10 ms service, Poisson arrivals at 50/s (load 0.5): an M/D/1 queue, whose mean time in
    the system is s + rho*s / (2 (1 - rho)) = 15 ms (Pollaczek-Khinchine)."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1_000_000, min_s=0, max_s=6.0, target_ci_rel=0,
                         max_calls=1_000_000).validate()  # fmt: skip
    result = measure_server([[_service(10)]], plan, 1, target_qps=50, latency_bound_ms=40,
                            rng=np.random.default_rng(3))  # fmt: skip
    summary = result.summary()
    assert summary["achieved_qps"] == pytest.approx(50, rel=0.2)
    assert summary["latency_ms_mean"] == pytest.approx(15, rel=0.3)
    assert summary["latency_ms_min"] >= 10, "no request is faster than its service"
    assert summary["meets_latency_bound"] == (summary["latency_ms_p99"] <= 40)


def test_an_overloaded_server_stops_at_its_caps_and_counts_what_it_left_unserved() -> None:
    """10 ms service at 1,000,000 qps: the queue grows without bound. The run stops taking arrivals at max_s
    (0.5 s) or after max_calls (50) arrivals; it drains for at most the bound (100 ms), never the whole
    backlog; every arrival is served or counted, what it gave up on having waited past the bound (a max_calls
    stop gave up on requests that had waited 0.4 ms, and the bound was met), and the bound fails."""
    for plan, cap in (
        (MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=3, min_s=0, max_s=0.5, target_ci_rel=0.5,
                       max_calls=50).validate(), "max_calls"),
        (MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=10**6, min_s=0, max_s=0.5, target_ci_rel=0,
                       max_calls=10**6).validate(), "max_s"),
    ):  # fmt: skip
        started = time.perf_counter()
        result = measure_server([[_service(10)]], plan, 1, target_qps=1_000_000, latency_bound_ms=100,
                                rng=np.random.default_rng(0))  # fmt: skip
        took = time.perf_counter() - started
        summary = result.summary()
        assert took < 3.0, f"{cap}: drained the backlog for {took:.1f} s"
        assert result.stop_reason == cap and len(result.latencies_ms) <= result.wall_s / 0.010 + 2, cap
        assert summary["meets_latency_bound"] is False and result.censored_ms.min() > 100, cap
        counted = summary["requests_unserved"] + len(result.latencies_ms)
        assert counted == 50 if cap == "max_calls" else counted > 400_000, (cap, counted)
        assert summary["achieved_qps"] < 150, "achieved counts requests served (10 ms each), not issued"


def test_a_server_that_cannot_keep_up_fails_the_bound_however_short_the_window() -> None:
    """An overloaded server (10 ms service at 150 qps, capacity 100) measured for 1 s against a 1,000 ms
    bound: no request can wait 1,000 ms inside the window, and it was reported as meeting the bound with
    a third of the requests unserved. The drain after the window shows the queue is past the bound. A
    server at half its capacity meets it and leaves nothing unserved (the report called that overloaded)."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=10**6, min_s=0, max_s=1.0, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    overloaded = measure_server([[_service(10)]], plan, 1, target_qps=300, latency_bound_ms=1000,
                                rng=np.random.default_rng(0)).summary()  # fmt: skip
    assert overloaded["meets_latency_bound"] is False and overloaded["requests_unserved"] > 0, overloaded
    calm = measure_server([[_service(10)]], plan, 1, target_qps=30, latency_bound_ms=100,
                          rng=np.random.default_rng(0)).summary()  # fmt: skip
    assert calm["meets_latency_bound"] is True and calm["requests_unserved"] == 0, calm
    assert calm["offered_qps"] == pytest.approx(30, rel=0.5) and calm["achieved_qps"] <= calm["offered_qps"] * 1.05


def test_a_server_window_lasts_max_s_so_achieved_never_exceeds_offered() -> None:
    """10 arrivals in a 3 s window, all served in 1 ms: the issuer stopped at the last arrival (2.84 s) and
    achieved_qps read 3.52 served per second against 3.33 offered, none unserved. Served per second of a
    window of max_s (and the drain) is at most what arrived per second of it."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=10**6, min_s=3.0, max_s=3.0, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    result = measure_server([[_service(1)]], plan, 1, target_qps=5, latency_bound_ms=100,
                            rng=np.random.default_rng(0))  # fmt: skip
    summary = result.summary()
    assert summary["requests_unserved"] == 0 and len(result.latencies_ms) == 10, summary
    assert summary["offered_qps"] == pytest.approx(10 / 3)
    assert result.wall_s >= 3.0 and summary["achieved_qps"] <= summary["offered_qps"], summary


def test_an_issuer_late_for_its_arrivals_counts_them_from_when_they_were_due() -> None:
    """The issuer stalled (a first scipy import took 1.2 s in the timed window) and the arrivals it missed
    were dropped: 11 of 43 requests counted, the bound met. Every arrival due in the window is served or
    counted, from when it was due; a stall longer than the bound fails it."""
    import harness.measure as measure_module

    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=10**6, min_s=0, max_s=1.0, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    stalled = []

    def stall_once() -> None:
        if not stalled:
            stalled.append(True)
            time.sleep(0.4)  # the issuer's thread is not the server's: the sleep holds up only the issuer
        return None

    original = measure_module.quantile_ci
    measure_module.quantile_ci = lambda *a, **k: (stall_once(), original(*a, **k))[1]
    try:
        result = measure_server([[_service(1)]], MeasureConfig(**{**vars(plan), "min_calls": 1}), 1,
                                target_qps=100, latency_bound_ms=50, rng=np.random.default_rng(0))  # fmt: skip
    finally:
        measure_module.quantile_ci = original
    summary = result.summary()
    arrivals = len(poisson_arrivals(100, 1.0, np.random.default_rng(0)))
    assert len(result.latencies_ms) + summary["requests_unserved"] >= arrivals - 1, (summary, arrivals)
    assert summary["latency_ms_max"] > 50 or summary["requests_unserved"] > 0
    assert summary["meets_latency_bound"] is False


def test_offline_wall_time_starts_before_any_stream_is_let_go() -> None:
    """Found by breaking it: the start was read after the barrier, on the caller's thread, while streams
    were already calling: 2 streams of GIL-holding 20 ms calls summed 2.04x the wall time, more than 2
    streams can keep in flight. Summed latency over wall time is at most the number of streams."""

    def spin() -> None:
        end = time.perf_counter_ns() + 20_000_000
        while time.perf_counter_ns() < end:  # holds the GIL, as a Python-heavy call would
            pass

    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1, min_s=0, max_s=0.3, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    for _ in range(3):
        result = measure_concurrent([[spin], [spin]], plan, 1, 2)
        assert result.latencies_ms.sum() / 1000 <= 2 * result.wall_s, (result.latencies_ms.sum(), result.wall_s)


def test_the_server_verdict_takes_loadgens_percentile_and_window() -> None:
    """Found by breaking it: numpy's interpolated p99 let 1 of 50 requests at 101 ms read 56 ms and meet a
    100 ms bound, and 10 of 1,000 over it met or missed by how far they were over. LoadGen takes the sorted
    latencies' element at floor(n * 0.99) (loadgen/results.cc, ProcessLatencies). And a window whose
    arrivals equalled max_calls ended at its last served request (stop max_calls, offered 3.52 for 3.33,
    no verdict); a window cut short offers (n - 1) / the last request's scheduled time, as LoadGen."""
    from harness.measure import server_p99

    def p99(latencies: list[float]) -> float:
        return server_p99(Measurement(np.asarray(latencies), 0, "max_s", 1, 1.0, {}))

    assert p99([10.0] * 49 + [101.0]) == 101.0
    assert p99([10.0] * 990 + [150.0] * 10) == 150.0 and p99([10.0] * 990 + [1e4] * 10) == 1e4
    assert p99([10.0] * 991 + [150.0] * 9) == 10.0  # 9 of 1,000 over: index 990 is within
    for cap in (10, 11):  # seed 0 at 5 qps: exactly 10 arrivals in 3 s
        plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1, min_s=3.0, max_s=3.0, target_ci_rel=0,
                             max_calls=cap).validate()  # fmt: skip
        result = measure_server([[_service(1)]], plan, 1, 5, 100, rng=np.random.default_rng(0))
        summary = result.summary()
        assert result.stop_reason == "max_s" and summary["offered_qps"] == pytest.approx(10 / 3), (cap, summary)
        assert summary["meets_latency_bound"] is True, (cap, summary)
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1, min_s=0, max_s=3.0, target_ci_rel=0,
                         max_calls=5).validate()  # fmt: skip
    result = measure_server([[_service(1)]], plan, 1, 5, 100, rng=np.random.default_rng(0))
    due = poisson_arrivals(5, 3.0, np.random.default_rng(0))[:5]
    assert result.stop_reason == "max_calls" and result.summary()["offered_qps"] == pytest.approx(4 / due[-1])


def test_a_search_probe_where_nothing_arrived_draws_again() -> None:
    """Found by breaking it: at the floor (min_calls expected arrivals) a window sees none e^-min_calls of
    the time (5% with measure=quick), and the probe's ValueError failed the whole job. A probe with no
    arrival is drawn again; a rate that never sees one counts as failing; none at any rate is one line."""
    from harness.measure import ARRIVAL_DRAWS, NoArrivals

    served = Measurement(np.full(20, 2.0), 1, "max_s", 1, 1.0, {"meets_latency_bound": True})
    draws: list[float] = []

    def empty_once(qps: float) -> Measurement:
        draws.append(qps)
        if len(draws) == 1:
            raise NoArrivals("none")
        return served

    best, tried, _ = search_server_qps(empty_once, start_qps=6.0, latency_bound_ms=20, min_qps=6.0, max_qps=6.0)
    assert best is served and draws == [6.0, 6.0] and tried == [(6.0, 2.0, True)], tried

    def never(qps: float) -> Measurement:
        draws.append(qps)
        raise NoArrivals("none")

    draws.clear()
    with pytest.raises(ValueError, match="no request arrived at any rate tried"):
        search_server_qps(never, start_qps=6.0, latency_bound_ms=20, min_qps=6.0)
    assert draws == [6.0] * ARRIVAL_DRAWS


def test_a_search_where_no_rate_meets_the_bound_says_so() -> None:
    """A bound no request can meet (service 5 ms, bound 1 ms): the bisection halves the rate down to the
    plan's floor (min_calls requests expected in max_s), never to a rate where nothing arrives, and
    returns the lowest run with no rate met — not an exception."""
    plan = MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=3, min_s=0, max_s=0.5, target_ci_rel=0.5,
                         max_calls=50).validate()  # fmt: skip
    floor = min_server_qps(plan)
    best, tried, bracketed = search_server_qps(
        lambda qps: measure_server([[_service(5)]], plan, 1, qps, 1.0, rng=np.random.default_rng(1), warm=False),
        start_qps=50, latency_bound_ms=1.0, min_qps=floor,
    )  # fmt: skip
    assert bracketed  # failing rates were seen (none met the bound)
    assert not any(met for _, _, met in tried) and min(q for q, _, _ in tried) == pytest.approx(floor)
    assert len(best.latencies_ms) >= 1 and best.extra["meets_latency_bound"] is False


def _judged(qps: float, capacity: float, hiccup: bool = False) -> Measurement:
    """A server run at `qps` judged as measure_server judges it: served latencies of 2 ms, and above
    `capacity` (or with a hiccup) requests given up past the 20 ms bound."""
    served = np.full(200, 2.0)
    censored = np.full(10, 300.0) if (qps > capacity or hiccup) else np.zeros(0)
    every = np.concatenate([served, censored])
    extra = {"meets_latency_bound": bool(np.percentile(every, 99) <= 20)}
    return Measurement(served, 1, "max_s", 1, 1.0, extra, censored)


def test_the_qps_search_finds_rates_far_above_its_start_and_judges_them_as_the_run_does() -> None:
    """Seven doublings from 10 qps stopped at 640 and reported it as the capacity of a server that met
    the bound at 2,000; the search judged a rate by the served requests' p99 while the run itself (its
    unserved requests counted) had failed."""
    best, tried, bracketed = search_server_qps(lambda q: _judged(q, capacity=5000), 10, 20, min_qps=1)
    found = max(q for q, _, met in tried if met)
    assert bracketed and 5000 * 0.95 <= found <= 5000, tried
    _, tried, bracketed = search_server_qps(lambda q: _judged(q, capacity=math.inf), 10, 20, max_qps=100_000)
    assert not bracketed and max(q for q, _, met in tried if met) == 100_000, "a lower bound, said so"
    _, tried, _ = search_server_qps(lambda q: _judged(q, capacity=math.inf, hiccup=q >= 100), 10, 20, min_qps=1)
    assert not any(met for q, _, met in tried if q >= 100) and all(p > 20 for q, p, _ in tried if q >= 100)


def test_driver_threads_run_in_the_callers_mode_and_raise_what_a_call_raised() -> None:
    """torch's inference mode is per thread (a torch.export module failed in a bare thread with "Inference
    tensors cannot be saved for backward", and the row said only "zero-size array"): each driver thread
    enters the given context, and a call's exception reaches the caller."""
    import torch

    modes: list[bool] = []
    record = lambda: modes.append(torch.is_inference_mode_enabled())  # noqa: E731
    measure_concurrent([[record], [record]], PLAN.__class__(**{**vars(PLAN), "max_s": 0.3}), 1, 2,
                       thread_context=torch.inference_mode)  # fmt: skip
    assert modes and all(modes)

    def boom() -> None:
        raise RuntimeError("boom in a stream")

    with pytest.raises(RuntimeError, match="boom in a stream"):
        measure_concurrent([[_service(1)], [boom]], PLAN, 1, 2)
    with pytest.raises(RuntimeError, match="boom in a stream"):
        measure_server([[boom]], PLAN, 1, target_qps=50, latency_bound_ms=40, rng=np.random.default_rng(0))


def test_a_call_longer_than_max_s_still_gives_a_latency() -> None:
    plan = MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=1, min_s=0, max_s=0.05, target_ci_rel=0).validate()
    result = measure_concurrent([[_service(300)]], plan, 1, 1)
    assert len(result.latencies_ms) >= 1 and result.latencies_ms[0] >= 300


def test_poisson_arrivals_have_the_asked_rate_and_are_seeded() -> None:
    times = poisson_arrivals(50.0, 40.0, np.random.default_rng(7))
    assert len(times) == pytest.approx(2000, rel=0.06)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(1 / 50, rel=0.06)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, rel=0.1), "exponential gaps: CV 1"
    assert np.array_equal(times, poisson_arrivals(50.0, 40.0, np.random.default_rng(7)))


def test_p99_ci_from_order_statistics_and_when_it_is_not_established() -> None:
    rng = np.random.default_rng(0)
    low, high = quantile_ci(rng.exponential(1.0, 100), 0.99)
    assert math.isnan(high), "100 calls cannot bound a p99"
    true_p99 = -math.log(0.01)
    covered = 0
    for _ in range(300):
        low, high = quantile_ci(rng.exponential(1.0, 2000), 0.99)
        covered += low <= true_p99 <= high
    assert 0.92 <= covered / 300 <= 0.99


@pytest.fixture(scope="module")
def scenario_grid(tmp_path_factory: pytest.TempPathFactory, cli_factory) -> pd.DataFrame:
    cwd = tmp_path_factory.mktemp("scenarios")
    cli = cli_factory(cwd)
    everything = ",".join(runtime_names())
    run = cli("-m", "workload=tiny_resnet", f"runtime={everything}", "scenario=offline", "scenario.streams=1,2",
              "hydra.sweep.dir=sweep", timeout=2400)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    run = cli("-m", "workload=tiny_resnet", f"runtime={everything}", "scenario=server", "scenario.target_qps=20",
              "scenario.latency_bound_ms=500", "measure.max_s=1", "hydra.sweep.dir=sweep", timeout=2400)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(cwd / "sweep" / "results.csv")
    frame.attrs["dir"] = cwd / "sweep"
    return frame


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_compare_and_speedups_keep_loads_apart(scenario_grid: pd.DataFrame) -> None:
    """Offline with 1 and 2 streams and a server are different measurements of one configuration key:
    compare joins them by load, never one against another."""
    from harness.compare import compare

    table, _ = compare([scenario_grid.attrs["dir"]], [scenario_grid.attrs["dir"]])
    assert len(table) == len(scenario_grid)
    assert set(table["load"]) == {"offline x1", "offline x2", "server 20.0 qps, p99 bound 500.0 ms"}
    both_ok = table[table["p50_ratio"].notna()]
    assert (both_ok["p50_ratio"] == 1).all(), "each row met itself, not a row of another load"


@pytest.mark.slow  # minutes of real sweeps: `make test-all` (make test stays near 20 min)
def test_every_runtime_runs_every_scenario_or_says_why(scenario_grid: pd.DataFrame) -> None:
    frame = scenario_grid.assign(scenario=scenario_grid["config_json"].map(lambda t: json.loads(t)["scenario"]["name"]))
    assert len(frame) == 3 * len(runtime_names())
    unsupported = frame[frame["status"] == "unsupported"]
    assert unsupported["error"].str.len().gt(20).all(), "an unsupported row says why"
    assert set(unsupported["runtime"]) <= {"openvino_compile", "optimum_openvino"}
    ok = frame[frame["status"] == "ok"]
    assert (frame["status"].isin(["ok", "unsupported"])).all(), frame[["runtime", "status", "error"]].to_string()
    offline = ok[ok["scenario"] == "offline"]
    assert (offline["throughput_sps"] > 0).all() and set(offline["streams"]) == {1, 2}
    openvino = offline[(offline["runtime"] == "openvino") & (offline["streams"] == 2)].iloc[0]
    assert openvino["driver"] == "request queue" and openvino["ov_num_streams"] == 2
    assert openvino["ov_performance_hint"] == "THROUGHPUT"
    server = ok[ok["scenario"] == "server"]
    assert (server["target_qps"] == 20).all() and server["meets_latency_bound"].notna().all()
    assert (server["achieved_qps"] > 0).all()


def test_timing_over_real_inputs_records_the_lengths_and_memory_by_phase(cli, tmp_path: Path) -> None:
    run = cli("-m", "workload=tiny_bert", "workload.padding=longest", "batch=2", "timing_inputs=fixed,dataset",
              "hydra.sweep.dir=sweep")  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    frame = pd.read_csv(tmp_path / "sweep" / "results.csv")
    dataset = frame[frame["timed_batches"] > 1].iloc[0]
    fixed = frame[frame["timed_batches"] == 1].iloc[0]
    assert dataset["timed_len_min"] < dataset["timed_len_max"] <= 16, "padding=longest: lengths change per call"
    assert fixed["timed_len_min"] == fixed["timed_len_max"]
    assert (frame["rss_after_load_mb"] > 0).all() and (
        frame["peak_rss_timed_mb"] >= frame["rss_after_prepare_mb"] * 0.5
    ).all()
    # the report sets the two side by side, per sample
    from harness import report

    table = report.build([tmp_path / "sweep"]).timing_inputs
    assert len(table) == 1, table
    pair = table.iloc[0]
    assert float(pair["p50 ms dataset"]) == pytest.approx(dataset["latency_ms_p50"], abs=1e-3)
    assert float(pair["p50 ms fixed"]) == pytest.approx(fixed["latency_ms_p50"], abs=1e-3)
    assert float(pair["ms per sample fixed"]) == pytest.approx(1000 / fixed["throughput_sps"], abs=1e-3)
    assert f"{dataset['timed_len_min']:.0f}-{dataset['timed_len_max']:.0f} tokens" in pair["dataset: timed"]


@pytest.mark.parametrize("runtime", ["eager", "openvino", "onnxruntime"])
def test_profiles_are_written_and_parsed_for_each_runtime_family(cli, tmp_path: Path, runtime: str) -> None:
    run = cli("workload=tiny_resnet", f"runtime={runtime}", "profile=true", "results_dir=res")
    assert run.returncode == 0, run.stderr[-3000:]
    row = pd.read_csv(tmp_path / "res" / "results.csv").iloc[0]
    assert Path(row["profile_file"]).is_file() and Path(row["profile_file"]).stat().st_size > 100
    top = json.loads(row["profile_top_ops"])
    assert 1 <= len(top) <= 10 and all(name for name, _ in top)
    shares = [share for _, share in top]
    assert shares == sorted(shares, reverse=True) and 0 < sum(shares) <= 1.0001


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["scenario=offline", "scenario.streams=0"], "scenario.streams=0 is not allowed"),
        (["scenario=server", "scenario.target_qps=-1"], "scenario.target_qps=-1 is not allowed"),
        (["scenario=nope"], "unknown scenario 'nope'; allowed: offline, server, single_stream"),
        (["scenario=server", "scenario.latency_bound_ms=0"], "scenario.latency_bound_ms=0 is not allowed"),
        # measure=quick: max_s 0.5, min_calls 3 -> at least 6 qps, or the window is likely empty
        (
            ["scenario=server", "scenario.target_qps=0.001"],
            "scenario.target_qps=0.001 is not allowed with "
            "measure.max_s=0.5 and measure.min_calls=3: it expects fewer than min_calls requests in the window; "
            "use at least 6 qps",
        ),
        (["scenario=offline", "scenario.streams=64"], "scenario.streams=64 is not allowed"),
        (["scenario.streams=2"], "not allowed with single_stream"),
        (["scenario=offline", "baseline=paired"], "baseline=paired times one call at a time"),
        (["timing_inputs=random"], "timing_inputs='random' is not allowed"),
    ],
)
def test_bad_scenario_input_is_one_line(cli, args: list[str], needle: str) -> None:
    run = cli("workload=tiny_resnet", *args)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    assert needle in line, line


def test_a_glob_that_matches_nothing_is_bad_input(cli) -> None:
    run = cli("-m", "workload=tiny_resnet", "runtime=glob(zzz*)")
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr[-2000:]
    (line,) = run.harness_lines()
    assert "'runtime=glob(zzz*)' matches no runtime; allowed: compile, eager" in line, line


def test_the_timed_eval_batches_leave_out_a_last_batch_filled_with_repeats() -> None:
    """9 samples at batch 4: the third batch holds one sample repeated four times, and a throughput of
    4 samples per call counted the repeats (33% high). Timed: the two full batches. 3 samples at batch 4
    (no full batch) timed their one filled-up batch as 4 samples per call (found by breaking it): bad
    input found late, one line (an `invalid` row)."""
    import torch

    from harness.job import timed_batches
    from workloads.base import Workload

    class Fake:
        def __init__(self, n: int) -> None:
            self.labels = list(range(n))

        n_samples = property(lambda self: len(self.labels))
        batches = Workload.batches
        make_batch = staticmethod(lambda indices: {"x": torch.tensor(indices)})

    spec = type("Spec", (), {"batch": 4})()
    assert [b["x"].tolist() for b in timed_batches(Fake(9), spec)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b["x"].tolist() for b in timed_batches(Fake(8), spec)] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    with pytest.raises(ConfigError, match="timing_inputs=dataset at batch=4 needs at least 4 eval samples; "
                       "the eval set has 3"):  # fmt: skip
        timed_batches(Fake(3), spec)


class _SlotQueue:
    """A request queue as OpenVINO's AsyncInferQueue behaves: `slots` requests, `start` blocks while all
    are busy, each request takes `ms` on a thread of its own and then calls `done`."""

    def __init__(self, slots: int, ms: float) -> None:
        import threading

        self.free, self.ms, self.threads = threading.Semaphore(slots), ms, []
        self.slots = slots

    def start(self, k: int, done) -> None:
        import threading

        self.free.acquire()

        def serve() -> None:
            time.sleep(self.ms / 1000)
            done()
            self.free.release()

        thread = threading.Thread(target=serve, daemon=True)
        self.threads.append(thread)
        thread.start()

    def wait_idle(self) -> None:
        self.free.acquire()
        self.free.release()

    def wait_all(self) -> None:
        for thread in list(self.threads):
            thread.join()


def test_a_request_queues_latency_starts_when_the_request_is_submitted() -> None:
    """The feeder read the clock before `start`, which blocks while every request is busy: one request of
    10 ms in flight recorded 20 ms (the wait for the previous one included), more than Little's law allows
    at its own throughput."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=10**6, min_s=0, max_s=1.0, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    summary = measure_concurrent(None, plan, 1, 1, request_queue=_SlotQueue(1, 10)).summary()
    assert summary["latency_ms_p50"] == pytest.approx(10, rel=0.3), summary
    assert summary["latency_ms_p50"] <= 1000 / summary["throughput_sps"] * 1.05, "Little's law with one in flight"


def test_a_request_queue_warms_up_for_warmup_s_as_the_other_drivers_do() -> None:
    """The request-queue driver (OpenVINO offline) warmed up max(warmup_calls, inputs, streams) requests and
    ignored measure.warmup_s: 0.3 s of 10 ms requests on 2 slots is about 60 warm-up requests, not 2."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0.3, min_calls=1, min_s=0, max_s=0.2, target_ci_rel=0,
                         max_calls=10**6).validate()  # fmt: skip
    result = measure_concurrent(None, plan, 1, 2, request_queue=_SlotQueue(2, 10), n_inputs=1)
    assert result.warmup_calls >= 40, result.warmup_calls


def test_concurrent_calls_in_flight_at_max_calls_complete_and_count() -> None:
    """max_calls stops new calls; the ones in flight complete inside the wall time and count (dropping them
    read 148 samples/s where 2 streams of 10 ms do 200): n_calls exceeds max_calls by fewer than streams."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1, min_s=0, max_s=5.0, target_ci_rel=0,
                         max_calls=51).validate()  # fmt: skip
    for streams in (2, 3):
        result = measure_concurrent([[_service(10)]] * streams, plan, 1, streams)
        assert 51 <= len(result.latencies_ms) < 51 + streams and result.stop_reason == "max_calls", streams
        assert result.summary()["throughput_sps"] == pytest.approx(streams / 0.010, rel=0.25), streams


def test_a_short_capped_run_cannot_establish_meeting_the_bound_and_the_search_says_so() -> None:
    """measure=quick's 50 calls at 327,680 qps arrived within 0.2 ms and were all served within a 100 ms
    bound: a 1 ms service (capacity 1,000 qps) was reported to meet it there, and the search answered
    327,680 qps. A window shorter than the bound establishes no "met"; the search stops at what the plan
    can establish and says its answer is a lower bound. offered_qps is over the arrival window."""
    plan = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=3, min_s=0, max_s=0.5, target_ci_rel=0.5,
                         max_calls=50).validate()  # fmt: skip
    burst = measure_server([[_service(1)]], plan, 1, 20_000, 100, rng=np.random.default_rng(0))
    assert burst.extra["meets_latency_bound"] is None and burst.stop_reason == "max_calls"
    _, tried, bracketed = search_server_qps(
        lambda q: measure_server([[_service(1)]], plan, 1, q, 100, rng=np.random.default_rng(0), warm=False),
        10, 100, min_qps=min_server_qps(plan), max_qps=1_000_000,
    )  # fmt: skip
    found = max(q for q, _, met in tried if met)
    assert found <= 1100 and not bracketed, tried
    sparse = MeasureConfig(warmup_calls=1, warmup_s=0, min_calls=1, min_s=0, max_s=2.0, target_ci_rel=0,
                           max_calls=10**6).validate()  # fmt: skip
    result = measure_server([[_service(1)]], sparse, 1, 3, 1000, rng=np.random.default_rng(0))
    arrivals = len(poisson_arrivals(3, 2.0, np.random.default_rng(0)))
    assert result.extra["offered_qps"] == pytest.approx(arrivals / 2.0), "over the 2 s window, not to the last arrival"
