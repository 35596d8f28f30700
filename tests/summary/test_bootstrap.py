"""Bootstrap confidence intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from classbench.seeding import rng_for
from classbench.summary import bootstrap as stats


def test_bootstrap_ci_contains_mean_and_narrows_with_n():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 500, 5000):
        values = (rng.random(n) < 0.3).astype(float)
        mean, low, high = stats.bootstrap_ci(values, seed=1, keys=("acc", n))
        assert mean == values.mean()
        assert low <= mean <= high
        widths.append(high - low)
    assert widths[0] > widths[1] > widths[2]
    # Binary mean: the width is close to the normal approximation 2 * 1.96 * sqrt(p(1-p)/n).
    np.testing.assert_allclose(widths[2], 2 * 1.96 * math.sqrt(0.3 * 0.7 / 5000), rtol=0.15)


def test_bootstrap_ci_deterministic_under_seed_and_keys():
    values = np.random.default_rng(3).normal(size=300)
    first = stats.bootstrap_ci(values, seed=5, keys=("a",))
    assert first == stats.bootstrap_ci(values, seed=5, keys=("a",))
    assert first != stats.bootstrap_ci(values, seed=6, keys=("a",))
    assert first != stats.bootstrap_ci(values, seed=5, keys=("b",))


def test_bootstrap_ci_chunking_matches_one_block(monkeypatch):
    values = np.random.default_rng(4).random(200)
    whole = stats.bootstrap_ci(values, n_resamples=500, seed=2)
    monkeypatch.setattr(stats, "_MAX_CHUNK_ELEMENTS", 200 * 7)  # 7 replicas per chunk
    chunked = stats.bootstrap_ci(values, n_resamples=500, seed=2)
    np.testing.assert_allclose(chunked, whole)


def test_bootstrap_ci_degenerate_sizes():
    assert all(math.isnan(x) for x in stats.bootstrap_ci([]))
    assert stats.bootstrap_ci([0.25]) == (0.25, 0.25, 0.25)
    assert stats.bootstrap_ci([1.0] * 10) == (1.0, 1.0, 1.0)


def test_summarise_excludes_invalid():
    values = np.array([1.0, 0.0, 1.0, np.nan, 1.0])
    valid = np.array([True, True, True, True, False])
    out = stats.summarise(values, valid, seed=0)
    assert out["n"] == 3 and out["n_invalid"] == 2
    assert out["value"] == 2 / 3
    assert out["ci_low"] <= out["value"] <= out["ci_high"]
    assert set(out) == {"value", "ci_low", "ci_high", "n", "n_invalid"}
    assert stats.summarise([1.0, 0.0])["n_invalid"] == 0


# --------------------------------------------------------------------------------------------
# The interval against an independent computation, and its coverage
# --------------------------------------------------------------------------------------------


def reference_interval(values, n_resamples, confidence, seed, keys):
    """The documented bootstrap computed by hand: the same seeded draws, means summed in Python,
    percentiles by linear interpolation between sorted replica means."""
    values = [float(v) for v in values]
    n = len(values)
    draws = rng_for(seed, "bootstrap", *keys).integers(0, n, size=(n_resamples, n))
    means = sorted(sum(values[i] for i in row) / n for row in draws.tolist())

    def percentile(q: float) -> float:
        position = q * (n_resamples - 1)
        below = math.floor(position)
        above = min(below + 1, n_resamples - 1)
        return means[below] + (means[above] - means[below]) * (position - below)

    alpha = (1 - confidence) / 2
    return sum(values) / n, percentile(alpha), percentile(1 - alpha)


def test_bootstrap_ci_defaults_are_a_95_percent_interval_of_1000_resamples_seed_0():
    values = np.random.default_rng(7).random(40)
    expected = reference_interval(values, 1000, 0.95, 0, ())
    np.testing.assert_allclose(stats.bootstrap_ci(values), expected, rtol=0, atol=1e-12)
    summary = stats.summarise(values)
    assert (summary["value"], summary["ci_low"], summary["ci_high"]) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("n_resamples", "confidence", "seed", "keys"),
    [(1000, 0.95, 3, ("acc", "m")), (500, 0.9, 1, ()), (1, 0.95, 2, ("x",)), (37, 0.5, 0, (4,))],
)
def test_bootstrap_ci_matches_the_independent_computation(n_resamples, confidence, seed, keys):
    values = np.random.default_rng(seed).normal(size=25)
    expected = reference_interval(values, n_resamples, confidence, seed, keys)
    got = stats.bootstrap_ci(values, n_resamples, confidence, seed, keys)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    summary = stats.summarise(values, n_resamples=n_resamples, confidence=confidence,
                              seed=seed, keys=keys)  # fmt: skip
    assert [summary[c] for c in ("value", "ci_low", "ci_high")] == pytest.approx(expected)


@pytest.mark.parametrize("position", [0, -1])
def test_every_value_can_be_drawn(position):
    # One value of 1 among 19 zeros: about 36% of resamples miss it, the rest contain it, so the
    # interval runs from 0 to well above it. A resampler that skips the first or the last index
    # gives the zero-width interval (0, 0) when the 1 sits there.
    values = np.zeros(20)
    values[position] = 1.0
    mean, low, high = stats.bootstrap_ci(values, seed=4)
    assert mean == 0.05
    assert low == 0.0
    assert high >= 0.1


def test_two_values_give_a_real_interval():
    mean, low, high = stats.bootstrap_ci([0.0, 1.0], seed=0)
    assert (mean, low, high) == (0.5, 0.0, 1.0)


def test_no_resamples_gives_the_mean_as_its_own_interval():
    values = [0.0, 1.0, 1.0, 0.5]
    assert stats.bootstrap_ci(values, n_resamples=0) == (0.625, 0.625, 0.625)
    assert stats.bootstrap_ci(values, n_resamples=-3) == (0.625, 0.625, 0.625)


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1])
def test_confidence_outside_the_open_unit_interval_is_refused(confidence):
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\)"):
        stats.bootstrap_ci([0.0, 1.0, 0.5], confidence=confidence)


def test_summarise_reads_flags_and_missing_values_of_any_type():
    out = stats.summarise([1, None, 0, 1], valid=[1, 1, 1, 0])
    assert (out["value"], out["n"], out["n_invalid"]) == (0.5, 2, 2)
    with pytest.raises(ValueError, match=r"^values and valid differ in length$"):
        stats.summarise([1.0, 0.0], valid=[True])


@pytest.mark.parametrize("confidence", [0.9, 0.95])
# No shrinking: a statistical failure has no smaller example, and shrinking one takes minutes.
@settings(max_examples=2, deadline=None, derandomize=True, phases=[Phase.generate])
@given(location=st.floats(-5, 5), scale=st.floats(0.1, 10), draw=st.integers(0, 2**16))
def test_coverage_is_the_nominal_level_within_binomial_error(confidence, location, scale, draw):
    # 600 normal samples of 60 values: the share of intervals that contain the true mean is a
    # binomial proportion around the nominal level (the percentile bootstrap runs ~1 point
    # narrow at n = 60, inside the 4-sigma band).
    n_samples, n = 600, 60
    samples = rng_for(draw, "coverage", confidence).normal(location, scale, size=(n_samples, n))
    covered = 0
    for i, sample in enumerate(samples):
        _, low, high = stats.bootstrap_ci(sample, 400, confidence, seed=i)
        covered += low <= location <= high
    sigma = math.sqrt(confidence * (1 - confidence) / n_samples)
    assert abs(covered / n_samples - confidence) <= 4 * sigma
