"""The analysis of a MOS study, from its ratings CSV to the SRGAN paper's kind of table.

Per method: the MOS with its 95% Student-t interval over the ratings, the numbers of ratings,
raters and images, DMOS against the hidden reference (ACR-HR, ITU-T P.910: each rating minus
the same rater's rating of the same image's HR, plus 5; values above 5 are kept), the mean of
per-rater z-scores (each rater's scores standardised by their own mean and sd, which removes
strict and lenient raters' offsets), and the mean rank within a rater's view of one image.
Between methods: paired Wilcoxon signed-rank tests for every pair, over (rater, image) blocks,
with Holm's correction across all pairs, and a Friedman test across all methods on the blocks
that rated every method. Agreement: Krippendorff's alpha (interval and ordinal) with raters as
coders and stimuli as units. Metrics: Spearman's rank correlation of each stimulus's MOS with its
PSNR, SSIM and LPIPS, the SRGAN paper's point (PSNR and SSIM track what people see poorly)
measured on this study's raters.

MOS and tests use the first showing of each stimulus (``kind`` = trial); repeats, calibration,
gold and trap rows only feed the rater screening (:mod:`studio.mos.screening`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from studio.mos.errors import RatingsFileError
from studio.mos.manifest import DEFAULT_METHODS, HR
from studio.mos.protocol import TRIAL
from studio.mos.screening import DEFAULT_RULES, ScreeningRules, rater_stimulus_scores, screen_raters
from studio.mos.stats import holm, krippendorff_alpha, mean_ci

SIGNIFICANCE = 0.05
SUMMARY_COLUMNS = [
    "method",
    "MOS",
    "CI low",
    "CI high",
    "ratings",
    "raters",
    "images",
    "SD",
    "DMOS",
    "z-MOS",
    "mean rank",
    "PSNR",
    "SSIM",
]
PAIRWISE_COLUMNS = ["method A", "method B", "pairs", "mean A - B", "W", "p", "p (Holm)", "significant", "better"]
CORRELATION_COLUMNS = ["metric", "better", "Spearman rho", "p", "n"]
# Each metric's better direction: a metric that tracks people correlates with MOS in that direction.
METRIC_DIRECTIONS = {"PSNR": "higher", "SSIM": "higher", "LPIPS": "lower"}


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman's chi-square over ``blocks`` (rater, image) that rated all ``methods``."""

    statistic: float
    p_value: float
    blocks: int
    methods: int


@dataclass(frozen=True)
class MosReport:
    """Everything the Results tab and ``mos-report`` show; ``excluded`` are the raters left out (flagged and asked to)."""

    study_id: str
    summary: pd.DataFrame
    screening: pd.DataFrame
    excluded: tuple[str, ...]
    pairwise: pd.DataFrame
    friedman: FriedmanResult | None
    alpha_interval: float
    alpha_ordinal: float
    trials: pd.DataFrame
    correlations: pd.DataFrame


def analyse(
    ratings: pd.DataFrame,
    exclude_flagged: bool = False,
    study_id: str | None = None,
    methods: Sequence[str] | None = None,
    metrics: Mapping[str, tuple[float | None, float | None]] | None = None,
    rules: ScreeningRules = DEFAULT_RULES,
    stimulus_metrics: pd.DataFrame | None = None,
) -> MosReport:
    """Analyse the ratings (as :func:`~studio.mos.storage.read_ratings` gives them) of one study.

    ``study_id`` picks one study from a CSV holding several; ``methods`` gives the table's order
    (default: the SRGAN paper's order, then others, HR last); ``metrics`` adds PSNR / SSIM
    per method (from the study's manifest); ``stimulus_metrics`` (see :func:`metric_correlations`)
    gives the correlations of MOS with each metric (n = 0 without it).
    """
    ratings = _one_study(ratings, study_id)
    screening = screen_raters(ratings, rules)
    excluded = tuple(screening.loc[screening["flagged"], "rater_id"]) if exclude_flagged else ()
    trials = ratings[(ratings["kind"] == TRIAL) & ~ratings["rater_id"].isin(excluded)].copy()
    if trials.empty:
        raise RatingsFileError("no ratings to analyse" + (" after leaving out the flagged raters" if excluded else ""))
    trials["z"] = _z_scores(trials)
    order = method_order(trials["method"].unique(), methods)
    scores = rater_stimulus_scores(trials)
    blocks = _blocks(trials, order)
    summary = _summary(trials, order, _dmos(trials), _mean_ranks(blocks, order), metrics or {})
    return MosReport(
        study_id=str(ratings["study_id"].iloc[0]),
        summary=summary,
        screening=screening,
        excluded=excluded,
        pairwise=pairwise_wilcoxon(blocks, order),
        friedman=friedman(blocks, order),
        alpha_interval=krippendorff_alpha(scores.to_numpy(dtype=np.float64), "interval"),
        alpha_ordinal=krippendorff_alpha(scores.to_numpy(dtype=np.float64), "ordinal"),
        trials=trials,
        correlations=metric_correlations(trials, stimulus_metrics),
    )


def method_order(present: Sequence[str], preferred: Sequence[str] | None = None) -> list[str]:
    """The methods in ``present``: those of ``preferred`` (default the paper's order) first, others sorted, HR last."""
    preferred = list(preferred or DEFAULT_METHODS)
    known = [method for method in preferred if method in present and method != HR]
    others = sorted(method for method in present if method not in preferred and method != HR)
    return known + others + ([HR] if HR in present else [])


def pairwise_wilcoxon(blocks: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """Every pair of methods: the paired Wilcoxon signed-rank test over the blocks that rated both, Holm-corrected.

    ``blocks`` has one row per (rater, image) and one column per method (mean score, NaN when
    not rated). Zero differences are dropped (Wilcoxon's convention); a pair whose differences
    are all zero gets p = 1.
    """
    rows = []
    for first, second in itertools.combinations(order, 2):
        both = blocks[[first, second]].dropna()
        differences = (both[first] - both[second]).to_numpy()
        statistic = p_value = float("nan")
        if differences.size and not np.any(differences):
            statistic, p_value = 0.0, 1.0
        elif differences.size:
            result = scipy_stats.wilcoxon(differences)
            statistic, p_value = float(result.statistic), float(result.pvalue)
        rows.append(
            [
                first,
                second,
                differences.size,
                differences.mean() if differences.size else float("nan"),
                statistic,
                p_value,
            ]
        )
    table = pd.DataFrame(rows, columns=PAIRWISE_COLUMNS[:6])
    table["p (Holm)"] = holm(table["p"].to_numpy())
    table["significant"] = table["p (Holm)"] < SIGNIFICANCE
    table["better"] = np.where(
        ~table["significant"], "", np.where(table["mean A - B"] > 0, table["method A"], table["method B"])
    )
    return table


def friedman(blocks: pd.DataFrame, order: Sequence[str]) -> FriedmanResult | None:
    """Friedman's test across all methods on the blocks that rated every one.

    None when it is undefined: fewer than 3 methods or 2 such blocks, or no block telling any
    two methods apart (the statistic's tie correction is then 0 / 0).
    """
    complete = blocks[list(order)].dropna()
    if len(order) < 3 or len(complete) < 2 or (complete.nunique(axis=1) == 1).all():
        return None
    result = scipy_stats.friedmanchisquare(*(complete[method].to_numpy() for method in order))
    return FriedmanResult(float(result.statistic), float(result.pvalue), len(complete), len(order))


def metric_correlations(trials: pd.DataFrame, stimulus_metrics: pd.DataFrame | None) -> pd.DataFrame:
    """Spearman's rank correlation of MOS with PSNR, SSIM and LPIPS over the rated (image, method) stimuli.

    ``trials`` are first-showing ratings (``image_id``, ``method``, ``score``); each stimulus's
    MOS is its mean score. ``stimulus_metrics`` has one row per stimulus with ``image_id``,
    ``method`` and the metrics (NaN where unknown). The hidden reference is left out (its PSNR is
    infinite and its SSIM and LPIPS perfect by definition: it would show what the metrics were
    built to know, not how they track people), as is any stimulus without the metric; ``n``
    counts the stimuli used. rho and p are NaN below 3 stimuli or when either side is constant.
    """
    rated = trials[trials["method"] != HR].groupby(["image_id", "method"])["score"].mean().rename("MOS")
    if stimulus_metrics is None:
        stimulus_metrics = pd.DataFrame(columns=["image_id", "method", *METRIC_DIRECTIONS])
    joined = stimulus_metrics.set_index(["image_id", "method"]).join(rated, how="inner")
    rows = []
    for metric, better in METRIC_DIRECTIONS.items():
        pairs = joined[["MOS", metric]].astype(float).replace([np.inf, -np.inf], np.nan).dropna()
        rho = p_value = float("nan")
        if len(pairs) >= 3 and pairs["MOS"].nunique() > 1 and pairs[metric].nunique() > 1:
            result = scipy_stats.spearmanr(pairs["MOS"], pairs[metric])
            rho, p_value = float(result.statistic), float(result.pvalue)
        rows.append([metric, better, rho, p_value, len(pairs)])
    return pd.DataFrame(rows, columns=CORRELATION_COLUMNS)


def correlation_summary(correlations: pd.DataFrame) -> str:
    """One line of :func:`metric_correlations` for the report and the Results tab, each rho with its p and n."""
    parts = [
        f"{row['metric']} ({row['better']} is better) "
        + (
            f"rho = {row['Spearman rho']:.2f}, p = {row['p']:.3g}, n = {row['n']}"
            if not pd.isna(row["Spearman rho"])
            else f"not defined, n = {row['n']}"
        )
        for row in correlations.to_dict("records")
    ]
    return "Spearman correlation of MOS with each metric over the rated (image, method) stimuli, HR left out: " + (
        "; ".join(parts)
    )


def paper_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The SRGAN paper's table layout: methods as columns, rows PSNR, SSIM and MOS (HR's PSNR is infinite)."""
    rows = {}
    if summary["PSNR"].notna().any() or summary["SSIM"].notna().any():
        rows["PSNR"] = [
            "∞" if method == HR else _fixed(value, 2) for method, value in zip(summary["method"], summary["PSNR"])
        ]
        rows["SSIM"] = [_fixed(value, 4) for value in summary["SSIM"]]
    rows["MOS"] = [_fixed(value, 2) for value in summary["MOS"]]
    table = pd.DataFrame(rows, index=summary["method"]).T
    table.columns.name = None
    return table.reset_index(names="")


def _one_study(ratings: pd.DataFrame, study_id: str | None) -> pd.DataFrame:
    studies = sorted(ratings["study_id"].unique())
    if study_id is not None:
        if study_id not in studies:
            raise RatingsFileError(f"no ratings of study {study_id!r}; the file has {', '.join(studies) or 'none'}")
        return ratings[ratings["study_id"] == study_id]
    if len(studies) > 1:
        raise RatingsFileError(
            f"the ratings are of {len(studies)} studies ({', '.join(studies)}), whose stimuli "
            "differ; pick one (--study ID)"
        )
    if not studies:
        raise RatingsFileError("the file holds no ratings yet")
    return ratings


def _z_scores(trials: pd.DataFrame) -> pd.Series:
    """Each rating standardised by its rater's mean and sd; NaN for a rater with no spread (nothing to standardise)."""
    grouped = trials.groupby("rater_id")["score"]
    spread = grouped.transform(lambda scores: scores.std(ddof=1))
    return (trials["score"] - grouped.transform("mean")) / spread.where(spread > 0)


def _blocks(trials: pd.DataFrame, order: Sequence[str]) -> pd.DataFrame:
    """(rater, image) x method: mean score of the rater for that image and method."""
    table = trials.pivot_table(index=["rater_id", "image_id"], columns="method", values="score", aggfunc="mean")
    return table.reindex(columns=list(order))


def _dmos(trials: pd.DataFrame) -> pd.Series:
    """Per method: mean of V - V(HR) + 5 over ratings whose rater also rated that image's HR (ITU-T P.910 ACR-HR)."""
    reference = trials[trials["method"] == HR].groupby(["rater_id", "image_id"])["score"].mean().rename("reference")
    joined = trials.join(reference, on=["rater_id", "image_id"], how="inner")
    return (joined["score"] - joined["reference"] + 5).groupby(joined["method"]).mean()


def _mean_ranks(blocks: pd.DataFrame, order: Sequence[str]) -> pd.Series:
    """Per method: mean rank (1 = best, ties share the mean rank) over the blocks that rated every method."""
    complete = blocks[list(order)].dropna()
    return complete.rank(axis=1, ascending=False).mean() if len(complete) else pd.Series(dtype=float)


def _summary(
    trials: pd.DataFrame,
    order: Sequence[str],
    dmos: pd.Series,
    ranks: pd.Series,
    metrics: Mapping[str, tuple[float | None, float | None]],
) -> pd.DataFrame:
    rows = []
    for method in order:
        rated = trials[trials["method"] == method]
        mos, low, high = mean_ci(rated["score"].to_numpy())
        psnr, ssim = metrics.get(method, (None, None))
        rows.append(
            [
                method,
                mos,
                low,
                high,
                len(rated),
                rated["rater_id"].nunique(),
                rated["image_id"].nunique(),
                rated["score"].std(ddof=1),
                dmos.get(method, np.nan),
                rated["z"].mean(),
                ranks.get(method, np.nan),
                np.nan if psnr is None else psnr,
                np.nan if ssim is None else ssim,
            ]
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def _fixed(value: float, digits: int) -> str:
    return "" if pd.isna(value) else f"{value:.{digits}f}"
