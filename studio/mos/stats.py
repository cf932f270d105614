"""The statistics of a MOS study that scipy does not have in the form we need: t intervals, Holm, Krippendorff's alpha."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

ALPHA_LEVELS = ("nominal", "ordinal", "interval")


def mean_ci(scores: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its Student-t confidence interval, as ITU-R BT.500 reports MOS.

    NaN where undefined (no scores; one score has no interval).
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.size == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if values.size == 1:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf((1 + confidence) / 2, values.size - 1) * values.std(ddof=1) / np.sqrt(values.size)
    return mean, mean - float(half), mean + float(half)


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control for all the pairwise tests together).

    The i-th smallest p is multiplied by (m - i + 1), made non-decreasing, and capped at 1; NaN
    entries (tests that could not be run) stay NaN and do not count towards m.
    """
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, (len(order) - rank) * p[index])
        adjusted[index] = min(1.0, running)
    return adjusted


def krippendorff_alpha(reliability: np.ndarray, level: str = "interval") -> float:
    """Krippendorff's alpha of a coders x units matrix (NaN where a coder did not rate a unit).

    Computed from the coincidence matrix as in Krippendorff (2011), "Computing Krippendorff's
    Alpha-Reliability": alpha = 1 - (n - 1) sum o_ck d2_ck / sum n_c n_k d2_ck, over the units
    rated by two coders or more. ``level`` picks the difference function d2: nominal, ordinal or
    interval. NaN when there is no pair of ratings or no variation at all.
    """
    if level not in ALPHA_LEVELS:
        raise ValueError(f"level must be one of {', '.join(ALPHA_LEVELS)}, not {level!r}")
    data = np.asarray(reliability, dtype=np.float64)
    values = np.unique(data[~np.isnan(data)])
    coincidences = np.zeros((values.size, values.size))
    for unit in data.T:
        rated = unit[~np.isnan(unit)]
        if rated.size < 2:
            continue
        counts = np.array([(rated == value).sum() for value in values], dtype=np.float64)
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (rated.size - 1)
    totals = coincidences.sum(axis=1)
    pairable = totals.sum()
    differences = _squared_differences(values, totals, level)
    expected = np.outer(totals, totals) * differences
    if pairable <= 1 or expected.sum() == 0:
        return float("nan")
    return float(1.0 - (pairable - 1) * (coincidences * differences).sum() / expected.sum())


def _squared_differences(values: np.ndarray, totals: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's metric differences d2 between every pair of values."""
    if level == "nominal":
        return 1.0 - np.eye(values.size)
    if level == "interval":
        return np.subtract.outer(values, values) ** 2
    cumulative = np.concatenate([[0.0], np.cumsum(totals)])
    differences = np.zeros((values.size, values.size))
    for low in range(values.size):
        for high in range(low + 1, values.size):
            between = cumulative[high + 1] - cumulative[low] - (totals[low] + totals[high]) / 2
            differences[low, high] = differences[high, low] = between**2
    return differences
