"""The analysis on synthetic ratings with answers worked out by hand: MOS, CIs, DMOS, ranks, tests, alpha, screening."""

import csv

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from studio.mos.analysis import CORRELATION_COLUMNS, analyse, correlation_summary, friedman, paper_table
from studio.mos.plots import distribution_figure, rank_figure
from studio.mos.stats import holm, krippendorff_alpha, mean_ci
from studio.mos.storage import HEADER, read_ratings

T_975_9 = 2.2621571627409915  # Student's t, 97.5% quantile, 9 degrees of freedom
NEAREST = [1, 1, 1, 1, 1, 2, 2, 1, 1, 1]
BICUBIC = [score + 1 for score in NEAREST]
SRCNN_OFFSETS = [1, -1, 1, -1, 0, 0, 1, -1, 0, 0]
SRCNN = [score + offset for score, offset in zip(BICUBIC, SRCNN_OFFSETS)]
HR = [5] * 9 + [4]
SCORES = {"nearest": NEAREST, "bicubic": BICUBIC, "srcnn": SRCNN, "hr": HR}


def _row(rater, trial, image, method, score, kind="trial", expected=None, session=None):
    session = session or f"{int(rater[1:]):032x}"
    return {
        "timestamp": "2025-01-01T00:00:00Z",
        "study_id": "synthetic-1",
        "session_id": session,
        "rater_id": rater,
        "trial": trial,
        "image_id": image,
        "method": method,
        "score": score,
        "response_ms": 1500,
        "repeat": int(kind == "repeat"),
        "app_version": "0.1.0",
        "kind": kind,
        "expected": "" if expected is None else expected,
        "protocol": "sr-studio-acr-hr/1",
    }


def _write(path, rows):
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, HEADER, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return read_ratings(path).frame


@pytest.fixture
def ten_raters(tmp_path):
    """Ten raters, one image, four methods, scores as in the module's lists (rater r1 .. r10)."""
    rows = [
        _row(f"r{rater + 1}", trial, "img", method, scores[rater])
        for rater in range(10)
        for trial, (method, scores) in enumerate(SCORES.items(), start=1)
    ]
    return _write(tmp_path / "ratings.csv", rows)


def test_mos_and_its_95_percent_interval_per_method_match_the_hand_computation(ten_raters):
    summary = analyse(ten_raters).summary.set_index("method")
    assert list(summary.index) == ["nearest", "bicubic", "srcnn", "hr"]
    half_width = T_975_9 * np.sqrt((8 * 0.2**2 + 2 * 0.8**2) / 9) / np.sqrt(10)
    assert summary.loc["nearest", "MOS"] == pytest.approx(1.2)
    assert summary.loc["nearest", ["CI low", "CI high"]].tolist() == pytest.approx([1.2 - half_width, 1.2 + half_width])
    assert summary.loc["bicubic", "MOS"] == pytest.approx(2.2)
    assert summary.loc["hr", "MOS"] == pytest.approx(4.9)
    assert summary.loc["nearest", ["ratings", "raters", "images"]].tolist() == [10, 10, 1]


def test_dmos_subtracts_each_raters_own_hidden_reference(ten_raters):
    summary = analyse(ten_raters).summary.set_index("method")
    # r10 rated the HR 4, so each of its ratings counts one higher: V - 4 + 5.
    assert summary.loc["nearest", "DMOS"] == pytest.approx(1.3)
    assert summary.loc["bicubic", "DMOS"] == pytest.approx(2.3)
    assert summary.loc["hr", "DMOS"] == pytest.approx(5.0)


def test_mean_ranks_share_ties(ten_raters):
    ranks = analyse(ten_raters).summary.set_index("method")["mean rank"]
    # nearest is last (4) except where srcnn drops to its score (three raters): a tie at 3.5.
    assert ranks["nearest"] == pytest.approx((7 * 4 + 3 * 3.5) / 10)
    assert ranks["hr"] == pytest.approx(1.0)


def test_paired_wilcoxon_tests_with_holm_correction_decide_as_expected(ten_raters):
    tests = analyse(ten_raters).pairwise.set_index(["method A", "method B"])
    # All differences of one sign: the exact two-sided p is 2 / 2^n (n non-zero differences).
    assert tests.loc[("nearest", "bicubic"), "p"] == pytest.approx(2 / 2**10)
    assert tests.loc[("nearest", "srcnn"), "p"] == pytest.approx(2 / 2**7)
    assert tests.loc[("nearest", "srcnn"), "pairs"] == 10
    # Holm: four p = 2/2^10 become at most 6 x 2/2^10, then 2/2^7 doubles, then p = 1 stays.
    assert tests.loc[("nearest", "bicubic"), "p (Holm)"] == pytest.approx(6 * 2 / 2**10)
    assert tests.loc[("nearest", "srcnn"), "p (Holm)"] == pytest.approx(2 * 2 / 2**7)
    assert tests.loc[("bicubic", "srcnn"), "p (Holm)"] == pytest.approx(1.0)
    significant = {pair for pair, decision in tests["significant"].items() if decision}
    assert significant == {
        ("nearest", "bicubic"),
        ("nearest", "srcnn"),
        ("nearest", "hr"),
        ("bicubic", "hr"),
        ("srcnn", "hr"),
    }
    assert tests.loc[("nearest", "bicubic"), "better"] == "bicubic"
    assert tests.loc[("bicubic", "srcnn"), "better"] == ""


def test_friedman_on_blocks_that_all_rank_the_methods_alike():
    blocks = pd.DataFrame({"a": [1.0] * 10, "b": [2.0] * 10, "c": [3.0] * 10})
    result = friedman(blocks, ["a", "b", "c"])
    # chi2 = 12 / (n k (k + 1)) * sum(R_j^2) - 3 n (k + 1) = 0.1 * (100 + 400 + 900) - 120 = 20.
    assert result.statistic == pytest.approx(20.0)
    assert result.p_value == pytest.approx(np.exp(-10.0))
    assert (result.blocks, result.methods) == (10, 3)


def test_holm_adjusts_step_down_and_keeps_untested_pairs_out():
    assert holm([0.01, 0.04, 0.03, np.nan]).tolist()[:3] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(holm([0.01, np.nan])[1])


def test_mean_ci_uses_students_t():
    mean, _, high = mean_ci([2, 3, 4])
    assert (mean, high - mean) == pytest.approx((3.0, 4.302652729911275 / np.sqrt(3)))
    assert np.isnan(mean_ci([3])[1])


def test_krippendorffs_alpha_reproduces_krippendorffs_own_worked_example():
    nan = np.nan
    # Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers x 12 units.
    data = np.array(
        [
            [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
            [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
        ]
    )
    assert krippendorff_alpha(data, "nominal") == pytest.approx(0.743, abs=5e-4)
    assert krippendorff_alpha(data, "ordinal") == pytest.approx(0.815, abs=5e-4)
    assert krippendorff_alpha(data, "interval") == pytest.approx(0.849, abs=5e-4)


def test_z_scores_standardise_each_rater_by_their_own_mean_and_spread(tmp_path):
    rows = [
        _row("r1", trial, "img", method, score)
        for trial, (method, score) in enumerate(zip(["nearest", "bicubic", "srcnn", "hr"], [1, 2, 2, 5]), 1)
    ]
    trials = analyse(_write(tmp_path / "z.csv", rows)).trials.set_index("method")
    assert trials.loc["hr", "z"] == pytest.approx((5 - 2.5) / np.sqrt(3))


def test_bt500_rejects_a_rater_often_far_off_in_both_directions(tmp_path):
    rng = np.random.default_rng(3)
    truth = rng.integers(2, 5, size=30)
    rows = []
    for rater in range(1, 13):
        for stimulus, true_score in enumerate(truth):
            noise = rng.choice([-1, 0, 0, 0, 1])
            score = int(np.clip(true_score + noise, 1, 5)) if rater < 12 else (5 if stimulus % 2 else 1)
            rows.append(_row(f"r{rater}", stimulus + 1, f"img{stimulus}", "bicubic", score))
    screening = analyse(_write(tmp_path / "bt500.csv", rows)).screening.set_index("rater_id")
    assert screening.loc["r12", "bt500"] and screening.loc["r12", "bt500_P"] > 0 and screening.loc["r12", "bt500_Q"] > 0
    assert not screening.drop("r12")["bt500"].any()


def test_gold_trap_calibration_and_repeat_failures_flag_raters_who_can_then_be_left_out(tmp_path):
    rows = [
        _row(f"r{rater + 1}", trial, "img", method, scores[rater])
        for rater in range(10)
        for trial, (method, scores) in enumerate(SCORES.items(), start=1)
    ]
    rows += [
        _row("r1", 10, "calib", "hr", 3, "trap", 2),  # trap: not the asked 2
        _row("r2", 10, "calib", "hr", 3, "gold", 5),  # gold: two steps off
        _row("r3", 10, "calib", "hr", 4, "gold", 5),  # gold: one step off is fine
        _row("r4", 10, "calib", "nearest", 3, "calibration", 1),
        _row("r5", 10, "img", "nearest", 5, "repeat"),
    ]  # first said 1: four steps apart
    frame = _write(tmp_path / "flags.csv", rows)
    screening = analyse(frame).screening.set_index("rater_id")
    assert screening.loc["r1", "reasons"] == "failed a trap item"
    assert screening.loc["r2", "reasons"] == "failed a gold item"
    assert screening.loc["r4", "reasons"] == "off on calibration"
    assert screening.loc["r5", "reasons"] == "inconsistent on repeats" and screening.loc["r5", "repeat_mad"] == 4
    assert set(screening.index[screening["flagged"]]) == {"r1", "r2", "r4", "r5"}

    kept = analyse(frame, exclude_flagged=True)
    assert set(kept.excluded) == {"r1", "r2", "r4", "r5"}
    nearest = kept.summary.set_index("method").loc["nearest"]
    assert nearest["ratings"] == 6 and nearest["MOS"] == pytest.approx(np.mean([1, 2, 2, 1, 1, 1]))


def test_a_csv_of_several_studies_must_name_the_one_to_analyse(ten_raters):
    from studio.mos.errors import RatingsFileError

    mixed = pd.concat([ten_raters, ten_raters.assign(study_id="synthetic-2")])
    with pytest.raises(RatingsFileError, match="2 studies"):
        analyse(mixed)
    assert analyse(mixed, study_id="synthetic-2").study_id == "synthetic-2"


def test_the_paper_table_and_the_figures_show_every_method(ten_raters):
    report = analyse(ten_raters, metrics={"nearest": (25.0, 0.70), "bicubic": (26.5, 0.75), "hr": (None, 1.0)})
    table = paper_table(report.summary)
    assert list(table.columns) == ["", "nearest", "bicubic", "srcnn", "hr"]
    assert table.set_index("").loc["PSNR"].tolist() == ["25.00", "26.50", "", "∞"]
    assert table.set_index("").loc["MOS"].tolist() == ["1.20", "2.20", "2.20", "4.90"]
    distribution = distribution_figure(report.trials, report.summary)
    assert list(distribution.data[0].x) == ["nearest", "bicubic", "srcnn", "hr"]
    assert distribution.data[0].z[0][0] == pytest.approx(0.8), "80% of nearest's ratings are 1"
    assert list(rank_figure(report.summary).data[0].y) == pytest.approx(report.summary["mean rank"].tolist())


# Two raters, two images: per-stimulus MOS 1.5, 3, 4.5 (i1) and 2, 2.5, 4 (i2) for nearest, bicubic, srcnn.
STIMULUS_SCORES = {
    ("i1", "nearest"): (1, 2),
    ("i1", "bicubic"): (3, 3),
    ("i1", "srcnn"): (4, 5),
    ("i1", "hr"): (5, 5),
    ("i2", "nearest"): (2, 2),
    ("i2", "bicubic"): (2, 3),
    ("i2", "srcnn"): (4, 4),
    ("i2", "hr"): (5, 4),
}
STIMULUS_MOS = [1.5, 3.0, 4.5, 2.0, 2.5, 4.0]
# PSNR ranks the stimuli as the raters do, LPIPS exactly against them, SSIM has one unknown (and a shuffled order).
PSNR = [20.0, 23.0, 26.0, 21.0, 22.0, 25.0]
SSIM = [0.5, 0.6, np.nan, 0.7, 0.4, 0.9]
LPIPS = [0.6, 0.4, 0.1, 0.5, 0.45, 0.2]


@pytest.fixture
def rated_stimuli(tmp_path):
    rows = [
        _row(rater, trial, image, method, scores[index])
        for index, rater in enumerate(("r1", "r2"))
        for trial, ((image, method), scores) in enumerate(STIMULUS_SCORES.items(), start=1)
    ]
    return _write(tmp_path / "ratings.csv", rows)


def _stimulus_metrics():
    rows = [
        [image, method, psnr, ssim, lpips]
        for (image, method), psnr, ssim, lpips in zip(
            [key for key in STIMULUS_SCORES if key[1] != "hr"], PSNR, SSIM, LPIPS
        )
    ]
    rows += [[image, "hr", np.nan, 1.0, 0.0] for image in ("i1", "i2")]
    rows.append(["never rated", "bicubic", 99.0, 0.99, 0.01])
    return pd.DataFrame(rows, columns=["image_id", "method", "PSNR", "SSIM", "LPIPS"])


def test_spearman_correlation_of_mos_with_each_metric_is_over_rated_stimuli_without_the_hidden_reference(rated_stimuli):
    correlations = analyse(rated_stimuli, stimulus_metrics=_stimulus_metrics()).correlations.set_index("metric")
    assert list(correlations.reset_index().columns) == CORRELATION_COLUMNS
    assert correlations.loc["PSNR", ["Spearman rho", "n"]].tolist() == [pytest.approx(1.0), 6]
    assert correlations.loc["LPIPS", ["Spearman rho", "n"]].tolist() == [pytest.approx(-1.0), 6]
    known = [index for index, value in enumerate(SSIM) if not np.isnan(value)]
    expected = scipy_stats.spearmanr([STIMULUS_MOS[i] for i in known], [SSIM[i] for i in known])
    assert correlations.loc["SSIM", "n"] == 5
    assert correlations.loc["SSIM", "Spearman rho"] == pytest.approx(expected.statistic)
    assert correlations.loc["SSIM", "p"] == pytest.approx(expected.pvalue)
    assert correlations.loc["LPIPS", "better"] == "lower" and correlations.loc["PSNR", "better"] == "higher"


def test_correlations_use_the_mos_of_the_raters_analysed(rated_stimuli):
    metrics = _stimulus_metrics()
    everyone = analyse(rated_stimuli, stimulus_metrics=metrics).correlations
    only_r1 = analyse(rated_stimuli[rated_stimuli["rater_id"] == "r1"], stimulus_metrics=metrics).correlations
    assert everyone.loc[0, "Spearman rho"] != pytest.approx(only_r1.loc[0, "Spearman rho"])


def test_without_per_stimulus_metrics_every_correlation_is_undefined_with_n_zero(ten_raters):
    correlations = analyse(ten_raters).correlations
    assert correlations["metric"].tolist() == ["PSNR", "SSIM", "LPIPS"]
    assert correlations["n"].tolist() == [0, 0, 0] and correlations["Spearman rho"].isna().all()
    assert correlation_summary(correlations).endswith("LPIPS (lower is better) not defined, n = 0")


def test_the_correlation_summary_gives_each_rho_with_its_p_and_n(rated_stimuli):
    line = correlation_summary(analyse(rated_stimuli, stimulus_metrics=_stimulus_metrics()).correlations)
    assert "PSNR (higher is better) rho = 1.00, p = " in line and "n = 6" in line
    assert "SSIM (higher is better) rho = " in line and "n = 5" in line
    assert "LPIPS (lower is better) rho = -1.00" in line and "HR left out" in line
