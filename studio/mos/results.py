"""A study's results from its files: what ``mos-report`` prints and the Results tab shows, computed one way.

A study folder (``<SR_STUDIO_MOS_DIR>/<study_id>``) holds ``ratings.csv`` and ``manifest.json``;
the manifest gives the table's method order and each method's PSNR / SSIM, and with the
stimuli beside it each stimulus's metrics for their correlation with MOS. A CSV from elsewhere
works without a manifest (then without PSNR / SSIM and with n = 0 correlations).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.mos.analysis import MosReport, analyse
from studio.mos.errors import StudyError
from studio.mos.manifest import MANIFEST_NAME, RATINGS_NAME, Manifest
from studio.mos.storage import read_ratings, snapshot_csv
from studio.mos.study import PreparedStudy, stimulus_metrics


@dataclass(frozen=True)
class StudyResults:
    """The report, the warnings met reading the CSV (a torn last line ...), and the manifest if there was one."""

    report: MosReport
    warnings: tuple[str, ...]
    manifest: Manifest | None


def results_of(
    csv_path: Path, manifest_path: Path | None = None, exclude_flagged: bool = False, study_id: str | None = None
) -> StudyResults:
    """Analyse ``csv_path``; the manifest is ``manifest_path``, else ``manifest.json`` beside the CSV when present."""
    table = read_ratings(csv_path)
    manifest_file = manifest_path or Path(csv_path).parent / MANIFEST_NAME
    manifest = read_manifest_file(manifest_file, required=bool(manifest_path))
    per_stimulus = stimulus_metrics(PreparedStudy(manifest_file.parent, manifest)) if manifest else None
    report = analyse(
        table.frame,
        exclude_flagged=exclude_flagged,
        study_id=study_id,
        methods=manifest.methods if manifest else None,
        metrics=manifest.mean_metrics() if manifest else None,
        stimulus_metrics=per_stimulus,
    )
    return StudyResults(report, table.warnings, manifest)


def read_manifest_file(path: Path, required: bool = True) -> Manifest | None:
    """The manifest at ``path``; None when it is absent and not ``required``."""
    if not path.is_file():
        if required:
            raise StudyError(f"no study manifest at {path}")
        return None
    try:
        return Manifest.from_json(path.read_text())
    except (ValueError, KeyError, TypeError) as error:
        raise StudyError(f"{path} is not a study manifest ({error})") from None


def studies_with_ratings(root: Path) -> list[str]:
    """Ids of the studies under ``root`` that have a ratings CSV, most recently rated first."""
    if not root.is_dir():
        return []
    folders = [folder for folder in root.iterdir() if (folder / RATINGS_NAME).is_file()]
    return [
        folder.name
        for folder in sorted(folders, key=lambda folder: (folder / RATINGS_NAME).stat().st_mtime, reverse=True)
    ]


def export_results(results: StudyResults, csv_path: Path, out_dir: Path) -> tuple[Path, Path]:
    """(raw ratings CSV snapshot, per-method summary CSV) in ``out_dir``, named after the study, for download."""
    study_id = results.report.study_id
    raw = snapshot_csv(csv_path, out_dir / f"{study_id}-ratings.csv")
    summary = out_dir / f"{study_id}-summary.csv"
    results.report.summary.to_csv(summary, index=False, float_format="%.4f")
    return raw, summary
