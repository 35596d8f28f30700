"""Bootstrap confidence intervals."""

from __future__ import annotations

import math

import numpy as np

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
