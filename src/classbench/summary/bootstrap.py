"""Means with percentile-bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from classbench.seeding import rng_for

# Bound on resampled values held at once (R x n index matrix is processed in row chunks).
_MAX_CHUNK_ELEMENTS = 4_000_000


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    keys: Sequence[object] = (),
) -> tuple[float, float, float]:
    """Mean and percentile bootstrap interval: ``(mean, q_{α/2}, q_{1-α/2})`` of resampled means.

    Each of the ``n_resamples`` replicas draws n values with replacement; α = 1 - confidence.
    Deterministic under ``(seed, keys)``. n == 0 gives NaNs; n == 1 gives a zero-width interval.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    n = values.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if n == 1 or n_resamples <= 0:
        return mean, mean, mean
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")

    rng = rng_for(seed, "bootstrap", *keys)
    chunk = max(1, _MAX_CHUNK_ELEMENTS // n)
    means = np.empty(n_resamples, dtype=np.float64)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        index = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = values[index].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return mean, float(low), float(high)


def summarise(
    values: Sequence[float] | np.ndarray,
    valid: Sequence[bool] | np.ndarray | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    keys: Sequence[object] = (),
) -> dict[str, float | int]:
    """Mean over valid samples with its bootstrap interval.

    A sample is invalid when ``valid`` is False or its value is NaN; invalid samples are left out
    of the mean and counted. Returns ``value, ci_low, ci_high, n`` (samples averaged) and
    ``n_invalid`` (samples left out), so ``n + n_invalid`` is the number of samples given.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    mask = ~np.isnan(values)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool).ravel()
        if valid.shape != values.shape:
            raise ValueError("values and valid differ in length")
        mask &= valid
    value, low, high = bootstrap_ci(values[mask], n_resamples, confidence, seed, keys)
    return {
        "value": value,
        "ci_low": low,
        "ci_high": high,
        "n": int(mask.sum()),
        "n_invalid": int((~mask).sum()),
    }
