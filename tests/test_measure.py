"""The measuring loop's stopping rules and statistics, on synthetic calls (no timing asserted)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from harness.config import ConfigError, MeasureConfig
from harness.measure import Measurement, ci_relative_half_width, measure, median_ci


def test_median_ci_brackets_the_median_and_narrows_with_more_data() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(10, 1, 50), rng.normal(10, 1, 5000)
    for data in (small, large):
        low, high = median_ci(data)
        assert low <= np.median(data) <= high
    assert ci_relative_half_width(large) < ci_relative_half_width(small)


def test_median_ci_is_not_established_below_six_calls() -> None:
    """[min, max] of n calls covers the median with 1 - 2 * 0.5**n: 50% for 2 calls, under 95% up to 5."""
    for n in range(1, 6):
        assert all(np.isnan(median_ci(np.arange(1.0, n + 1))))
    low, high = median_ci(np.arange(1.0, 7.0))
    assert low == 1.0 and high == 6.0


def test_median_ci_covers_the_median_with_at_least_95_percent_for_every_n() -> None:
    """Exact coverage of [X_(l), X_(u)] (1-based ranks) is P(l <= B <= u - 1), B ~ Binomial(n, 0.5):
    the count of calls below the true median. A normal approximation of the ranks fell short at n = 21
    (94.75%), 26, 31, 75, 84, 104: n values a run cut short by max_s gives."""
    from scipy import stats

    for n in [21, 26, 31, 75, 84, 104, *range(6, 400)]:
        low, high = median_ci(np.arange(1.0, n + 1))  # values equal their 1-based ranks
        coverage = stats.binom.cdf(high - 1, n, 0.5) - stats.binom.cdf(low - 1, n, 0.5)
        assert coverage >= 0.95, (n, coverage)


def test_median_ci_of_constant_latencies_is_a_point() -> None:
    assert median_ci(np.full(100, 3.0)) == (3.0, 3.0)


def test_summary_percentiles_and_throughput() -> None:
    lat = np.arange(1, 101, dtype=float)  # 1..100 ms
    s = Measurement(lat, warmup_calls=2, stop_reason="ci_target", samples_per_call=4).summary()
    assert s["n_calls"] == 100
    assert s["latency_ms_p50"] == pytest.approx(50.5)
    assert s["latency_ms_p99"] == pytest.approx(99.01)
    assert s["latency_ms_min"] == 1 and s["latency_ms_max"] == 100
    assert s["latency_ms_p50_ci_low"] <= s["latency_ms_p50"] <= s["latency_ms_p50_ci_high"]
    assert s["throughput_sps"] == pytest.approx(4 * 100 / (lat.sum() / 1000))


def test_measure_runs_warmup_then_stops_on_ci_target() -> None:
    calls = []
    cfg = MeasureConfig(warmup_calls=3, warmup_s=0, min_calls=20, min_s=0, max_s=60, target_ci_rel=0.5)
    result = measure(lambda: calls.append(1), cfg, samples_per_call=1)
    assert result.warmup_calls == 3
    assert result.stop_reason == "ci_target"
    assert len(result.latencies_ms) >= 20
    assert len(calls) == 3 + len(result.latencies_ms)


def test_measure_respects_max_calls_and_max_time() -> None:
    cfg = MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=5, min_s=0, max_s=60, target_ci_rel=0.0, max_calls=37)
    assert len(measure(lambda: None, cfg, 1).latencies_ms) == 37
    rng = np.random.default_rng(0)
    jittery = lambda: time.sleep(float(rng.uniform(0, 2e-4)))  # noqa: E731 - never a zero-width CI
    cfg = MeasureConfig(warmup_calls=0, warmup_s=0, min_calls=1, min_s=0, max_s=0.05, target_ci_rel=0.0)
    assert measure(jittery, cfg, 1).stop_reason == "max_s"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("min_calls", 0, "measure.min_calls"), ("max_s", -1, "measure.max_s"), ("warmup_calls", "x", "warmup_calls")],
)
def test_bad_measure_config_names_the_value(field: str, value: object, expected: str) -> None:
    cfg = MeasureConfig(**{field: value})
    with pytest.raises(ConfigError, match=expected):
        cfg.validate()
