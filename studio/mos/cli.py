"""``python -m sr_core mos-prepare`` and ``mos-report``: prepare a study's stimuli, analyse its ratings.

    python -m sr_core mos-prepare [--images DIR] [--methods nearest,bicubic,...,hr] [--weights NAME=FILE ...] [--strict]
    python -m sr_core mos-report data/mos/<study_id>/ratings.csv [--exclude-flagged] [--summary-csv FILE]

``mos-report`` prints one row per method: its name, the MOS (two decimals), the 95% CI, the
counts (ratings, raters, images), then DMOS, z-MOS, mean rank and, when the study's
``manifest.json`` lies beside the CSV (or is given), PSNR and SSIM; then the Friedman and
Holm-corrected Wilcoxon tests, Krippendorff's alpha, the Spearman correlation of MOS with PSNR,
SSIM and LPIPS over the stimuli (with n) and the rater screening. Warnings (a torn
last line, malformed rows) go to stderr.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import pandas as pd

from sr_core import settings
from sr_core.files import atomic_target
from studio.mos.analysis import MosReport, correlation_summary
from studio.mos.manifest import DEFAULT_METHODS, MANIFEST_NAME
from studio.mos.results import results_of
from studio.mos.study import StudyDefinition, prepare_study


def format_report(report: MosReport) -> str:
    """The report as text: the per-method table first (the contract), then tests, agreement and screening."""
    lines = [
        (
            f"{'method':<14}{'MOS':>6}  {'95% CI':<13}{'ratings':>8}{'raters':>7}{'images':>7}"
            f"{'DMOS':>7}{'z-MOS':>7}{'rank':>6}{'PSNR':>7}{'SSIM':>8}"
        )
    ]
    for row in report.summary.to_dict("records"):
        interval = f"[{_number(row['CI low'], 2)},{_number(row['CI high'], 2)}]"
        lines.append(
            f"{row['method']:<14}{row['MOS']:>6.2f}  {interval:<13}{row['ratings']:>8}{row['raters']:>7}"
            f"{row['images']:>7}{_number(row['DMOS'], 2):>7}{_number(row['z-MOS'], 2):>7}"
            f"{_number(row['mean rank'], 2):>6}{_number(row['PSNR'], 2):>7}{_number(row['SSIM'], 4):>8}"
        )
    friedman = report.friedman
    lines.append("")
    lines.append(
        "Friedman: "
        + (
            f"chi2 = {friedman.statistic:.2f}, p = {friedman.p_value:.3g} over {friedman.blocks} "
            f"(rater, image) blocks of {friedman.methods} methods"
            if friedman
            else "not defined (needs 3 methods and 2 (rater, image) blocks rating all of them, not all alike)"
        )
    )
    lines.append("Wilcoxon signed-rank per pair, Holm-corrected (significant: p (Holm) < 0.05):")
    for test in report.pairwise.to_dict("records"):
        verdict = f"{test['better']} better" if test["significant"] else "no significant difference"
        lines.append(
            f"  {test['method A']} vs {test['method B']}: n = {test['pairs']}, "
            f"mean difference {_number(test['mean A - B'], 2)}, p = {_number(test['p'], 4)}, "
            f"p (Holm) = {_number(test['p (Holm)'], 4)}: {verdict}"
        )
    lines.append(
        f"Krippendorff's alpha: interval {_number(report.alpha_interval, 3)}, "
        f"ordinal {_number(report.alpha_ordinal, 3)}"
    )
    lines.append(correlation_summary(report.correlations))
    flagged = report.screening[report.screening["flagged"]]
    lines.append(
        f"Raters: {len(report.screening)}, flagged: {len(flagged)}"
        + (f", excluded: {', '.join(report.excluded)}" if report.excluded else "")
    )
    lines += [f"  {rater}: {reasons}" for rater, reasons in zip(flagged["rater_id"], flagged["reasons"])]
    return "\n".join(lines)


def _number(value: float, digits: int) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def _report(args: argparse.Namespace) -> int:
    results = results_of(
        Path(args.csv), Path(args.manifest) if args.manifest else None, args.exclude_flagged, args.study
    )
    for warning in results.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    trials = results.report.trials
    print(
        f"study {results.report.study_id}: {len(trials)} ratings by {trials['rater_id'].nunique()} raters "
        f"of {trials['image_id'].nunique()} images ({args.csv})"
    )
    print(format_report(results.report))
    if args.summary_csv:
        with atomic_target(args.summary_csv) as temporary:
            results.report.summary.to_csv(temporary, index=False, float_format="%.4f")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from studio.cli import _parse_weights_overrides

    methods = tuple(name.strip() for name in args.methods.split(",") if name.strip())
    model_files = {name: Path(path) for name, path in _parse_weights_overrides(args.weights).items()}
    definition = StudyDefinition(
        Path(args.images) if args.images else settings.mos_study(), methods, args.calibration, model_files
    )
    study = prepare_study(
        definition,
        Path(args.out) if args.out else None,
        require_weights=args.strict,
        progress=lambda _fraction, text: print(text, file=sys.stderr),
    )
    manifest = study.manifest
    for method, reason in manifest.skipped.items():
        print(f"skipped {method}: {reason}", file=sys.stderr)
    for method, label in manifest.model_files.items():
        print(f"own model {method}: {label}, sha256 {manifest.weights[method]}", file=sys.stderr)
    print(
        f"study {manifest.study_id}: {len(manifest.images)} rated images, {len(manifest.calibration_images)} "
        f"for calibration; methods {', '.join(manifest.methods)} -> {study.folder}"
    )
    frame = pd.DataFrame(
        [(method, *scores) for method, scores in manifest.mean_metrics().items()], columns=["method", "PSNR", "SSIM"]
    )
    print(frame.to_string(index=False, float_format=lambda value: f"{value:.4f}", na_rep="inf"))
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register ``mos-prepare`` and ``mos-report`` (their one-line help is in :data:`studio.cli.COMMANDS`)."""
    prepare = subparsers.add_parser("mos-prepare")
    prepare.add_argument("--images", help=f"folder of HR images (default {settings.MOS_STUDY.name}, else assets/)")
    prepare.add_argument(
        "--methods", default=",".join(DEFAULT_METHODS), help="comma-separated method names; hr is the hidden reference"
    )
    prepare.add_argument(
        "--calibration",
        type=int,
        default=1,
        help="how many images (first in name order) are kept for calibration, gold and trap items",
    )
    prepare.add_argument("--out", help=f"studies folder (default {settings.MOS_DIR.name}, else data/mos)")
    prepare.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="NAME=FILE",
        help="rate a model file of your own (x4, any architecture spandrel recognises) as method "
        "NAME; placed where --methods names it, else just before hr",
    )
    prepare.add_argument(
        "--strict", action="store_true", help="fail when a method has no weights instead of leaving it out of the study"
    )
    prepare.set_defaults(handler=_prepare)

    report = subparsers.add_parser("mos-report")
    report.add_argument("csv", help="a ratings CSV (header starting timestamp,study_id,...)")
    report.add_argument(
        "--exclude-flagged",
        action="store_true",
        help="leave out raters flagged by the screening (their rows stay in the CSV)",
    )
    report.add_argument("--study", help="the study id, when the CSV holds several studies")
    report.add_argument("--manifest", help=f"the study's manifest (default: {MANIFEST_NAME} beside the CSV)")
    report.add_argument("--summary-csv", help="also write the per-method table to this CSV")
    report.set_defaults(handler=_report)
