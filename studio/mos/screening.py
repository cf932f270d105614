"""Rater screening: which raters' scores a researcher may want to leave out, and why.

Five checks, each a column of :func:`screen_raters`:

- ITU-R BT.500 (Annex 2, 2.3.1): for every stimulus the raters' mean, standard deviation and
  kurtosis beta2 are computed; a score above mean + 2 sd (below mean - 2 sd) counts in P (Q),
  with sqrt(20) sd instead of 2 sd when the scores are not normal (beta2 outside 2..4). A rater
  with (P + Q) / N > 0.05 and |P - Q| / (P + Q) < 0.3 is rejected: often far off, in both
  directions (a consistently strict or lenient rater is not, that is what z-scores are for);
- gold items (known answer, ITU-T P.808): more than one step away from the answer;
- trap items ("please select 2"): anything but the asked score;
- calibration (nearest = 1, HR = 5, shown with their scores): more than one step away;
- repeated trials: the rater's mean absolute difference between the first and the repeated
  score of the same stimulus is above one step.

Rows of flagged raters stay in the CSV; the analysis only leaves them out when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from studio.mos.protocol import CALIBRATION, GOLD, REPEAT, TRAP_KIND, TRIAL

SCREENING_COLUMNS = [
    "rater_id",
    "ratings",
    "mean",
    "sd",
    "bt500_P",
    "bt500_Q",
    "bt500",
    "gold_failed",
    "trap_failed",
    "calibration_off",
    "repeat_pairs",
    "repeat_mad",
    "flagged",
    "reasons",
]


@dataclass(frozen=True)
class ScreeningRules:
    """Thresholds of the checks; the defaults are BT.500's and P.808's."""

    bt500_fraction: float = 0.05
    bt500_symmetry: float = 0.3
    gold_tolerance: int = 1
    calibration_tolerance: int = 1
    repeat_limit: float = 1.0


DEFAULT_RULES = ScreeningRules()


def rater_stimulus_scores(trials: pd.DataFrame) -> pd.DataFrame:
    """Raters x stimuli ((image_id, method) columns): each rater's mean first-presentation score, NaN where unrated."""
    return trials.pivot_table(index="rater_id", columns=["image_id", "method"], values="score", aggfunc="mean")


def bt500_counts(scores: pd.DataFrame, rules: ScreeningRules = DEFAULT_RULES) -> pd.DataFrame:
    """Per rater (index): P, Q, N (stimuli rated) and whether BT.500 rejects the rater.

    ``scores`` as :func:`rater_stimulus_scores` gives them.
    """
    matrix = scores.to_numpy(dtype=np.float64)
    high = np.zeros(matrix.shape, dtype=bool)
    low = np.zeros(matrix.shape, dtype=bool)
    for column in range(matrix.shape[1]):
        rated = ~np.isnan(matrix[:, column])
        values = matrix[rated, column]
        if values.size < 2 or values.std(ddof=1) == 0:
            continue
        mean, sd = values.mean(), values.std(ddof=1)
        second, fourth = ((values - mean) ** 2).mean(), ((values - mean) ** 4).mean()
        width = 2.0 if 2.0 <= fourth / second**2 <= 4.0 else np.sqrt(20.0)
        high[rated, column] = values >= mean + width * sd
        low[rated, column] = values <= mean - width * sd
    counts = pd.DataFrame(
        {"P": high.sum(axis=1), "Q": low.sum(axis=1), "N": (~np.isnan(matrix)).sum(axis=1)}, index=scores.index
    )
    outliers = counts["P"] + counts["Q"]
    balance = (counts["P"] - counts["Q"]).abs() / outliers.where(outliers > 0)
    counts["rejected"] = (outliers / counts["N"] > rules.bt500_fraction) & (balance < rules.bt500_symmetry)
    return counts


def screen_raters(ratings: pd.DataFrame, rules: ScreeningRules = DEFAULT_RULES) -> pd.DataFrame:
    """One row per rater with every check's outcome, ``flagged`` when any check fails and the ``reasons`` in words."""
    trials = ratings[ratings["kind"] == TRIAL]
    raters = sorted(ratings["rater_id"].unique())
    table = pd.DataFrame(index=pd.Index(raters, name="rater_id"))
    by_rater = trials.groupby("rater_id")["score"]
    table["ratings"] = by_rater.size().reindex(raters, fill_value=0)
    table["mean"] = by_rater.mean().reindex(raters)
    table["sd"] = by_rater.std(ddof=1).reindex(raters)
    bt500 = bt500_counts(rater_stimulus_scores(trials), rules).reindex(raters)
    table["bt500_P"] = bt500["P"].fillna(0).astype(int)
    table["bt500_Q"] = bt500["Q"].fillna(0).astype(int)
    table["bt500"] = bt500["rejected"].fillna(False).astype(bool)
    table["gold_failed"] = _misses(ratings, GOLD, rules.gold_tolerance).reindex(raters, fill_value=0)
    table["trap_failed"] = _misses(ratings, TRAP_KIND, 0).reindex(raters, fill_value=0)
    table["calibration_off"] = _misses(ratings, CALIBRATION, rules.calibration_tolerance).reindex(raters, fill_value=0)
    pairs = _repeat_differences(ratings)
    table["repeat_pairs"] = pairs.groupby("rater_id").size().reindex(raters, fill_value=0)
    table["repeat_mad"] = pairs.groupby("rater_id")["difference"].mean().reindex(raters)
    reasons = pd.Series([[] for _ in raters], index=table.index)
    checks = {
        "BT.500 outlier": table["bt500"],
        "failed a gold item": table["gold_failed"] > 0,
        "failed a trap item": table["trap_failed"] > 0,
        "off on calibration": table["calibration_off"] > 0,
        "inconsistent on repeats": table["repeat_mad"] > rules.repeat_limit,
    }
    for reason, failed in checks.items():
        for rater in table.index[failed.fillna(False).astype(bool)]:
            reasons[rater].append(reason)
    table["flagged"] = reasons.map(bool)
    table["reasons"] = reasons.map("; ".join)
    return table.reset_index()[SCREENING_COLUMNS]


def _misses(ratings: pd.DataFrame, kind: str, tolerance: int) -> pd.Series:
    """Per rater: how many items of ``kind`` were answered more than ``tolerance`` steps from their expected score."""
    items = ratings[(ratings["kind"] == kind) & ratings["expected"].notna()]
    missed = (items["score"] - items["expected"].astype(float)).abs() > tolerance
    return missed.groupby(items["rater_id"]).sum().astype(int)


def _repeat_differences(ratings: pd.DataFrame) -> pd.DataFrame:
    """(rater_id, difference): |repeat - first| for each repeated stimulus, matched within its session."""
    keys = ["session_id", "image_id", "method"]
    first = ratings[ratings["kind"] == TRIAL].groupby(keys, as_index=False)["score"].first()
    repeats = ratings[ratings["kind"] == REPEAT][[*keys, "rater_id", "score"]]
    matched = repeats.merge(first, on=keys, suffixes=("", "_first"))
    return pd.DataFrame(
        {"rater_id": matched["rater_id"], "difference": (matched["score"] - matched["score_first"]).abs()}
    )
