"""``mos-prepare`` and ``mos-report``: the table contract, a CSV with only the contract columns, torn lines."""

from mos_helpers import write_study_images

from studio.cli import main
from studio.mos.manifest import RATINGS_NAME
from studio.mos.session import open_desk
from studio.mos.study import StudyDefinition

CONTRACT_HEADER = "timestamp,study_id,session_id,rater_id,trial,image_id,method,score,response_ms,repeat,app_version"
SCORES = {"nearest": [1, 1, 2], "bicubic": [2, 3, 3], "hr": [5, 5, 4]}


def _contract_only_csv(path, torn=True):
    lines = [CONTRACT_HEADER]
    for rater in range(3):
        for trial, (method, scores) in enumerate(SCORES.items(), start=1):
            lines.append(
                f"2025-01-01T00:00:0{trial}Z,ext-1,{rater:032x},r{rater},{trial},img,{method},"
                f"{scores[rater]},800,0,0.0.9"
            )
    text = "\n".join(lines) + "\n" + ("2025-01-01T00:00:09Z,ext-1,00" if torn else "")
    path.write_text(text)
    return path


def _method_rows(stdout):
    """The table's rows: lines that start (unindented) with a method name."""
    return {line.split()[0]: line.split() for line in stdout.splitlines() if line.startswith(tuple(SCORES))}


def test_mos_report_prints_one_row_per_method_from_a_csv_with_only_the_contract_columns(tmp_path, capsys):
    code = main(["mos-report", str(_contract_only_csv(tmp_path / "ratings.csv"))])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.startswith("warning: skipped a torn last line (line 11")
    rows = _method_rows(captured.out)
    assert list(rows) == ["nearest", "bicubic", "hr"]
    _, mos, interval, ratings, raters, images = rows["bicubic"][:6]
    assert mos == "2.67" and interval.startswith("[") and interval.endswith("]")
    low, high = (float(bound) for bound in interval[1:-1].split(","))
    assert low < 2.67 < high
    assert (ratings, raters, images) == ("3", "3", "1")
    assert "Friedman" in captured.out and "Krippendorff" in captured.out


def test_mos_report_writes_the_summary_csv_and_can_leave_out_flagged_raters(tmp_path, capsys):
    summary = tmp_path / "summary.csv"
    code = main(
        [
            "mos-report",
            str(_contract_only_csv(tmp_path / "ratings.csv", torn=False)),
            "--exclude-flagged",
            "--summary-csv",
            str(summary),
        ]
    )
    assert code == 0 and capsys.readouterr().err == ""
    assert summary.read_text().splitlines()[0].startswith("method,MOS,CI low,CI high,ratings,raters,images")


def test_mos_report_of_a_file_that_is_not_a_ratings_csv_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "other.csv").write_text("name,score\nalice,5\n")
    assert main(["mos-report", str(tmp_path / "other.csv")]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "header must start with timestamp,study_id" in error
    assert error.count("\n") == 1
    assert main(["mos-report", str(tmp_path / "missing.csv")]) == 2


def test_mos_prepare_reports_the_study_and_the_methods_it_left_out_then_mos_report_adds_psnr(
    tmp_path, capsys, tiny_weights
):
    tiny_weights()
    images = write_study_images(tmp_path / "hr")
    code = main(
        [
            "mos-prepare",
            "--images",
            str(images),
            "--methods",
            "nearest,bicubic,srcnn,hr",
            "--out",
            str(tmp_path / "mos"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipped srcnn: no weights" in captured.err
    assert "2 rated images, 1 for calibration; methods nearest, bicubic, hr" in captured.out

    desk = open_desk(StudyDefinition(images, ("nearest", "bicubic", "srcnn", "hr")), tmp_path / "mos")
    for score in (2, 4):
        session, view = desk.serve(desk.start())
        while view.trial is not None:
            session = desk.submit(session, view.trial, score)
            session, view = desk.serve(session)
    assert main(["mos-report", str(desk.study.folder / RATINGS_NAME)]) == 0
    out = capsys.readouterr().out
    rows = _method_rows(out)
    assert rows["bicubic"][1] == "3.00" and float(rows["bicubic"][-2]) > 10, "PSNR from the manifest"
    # Every rater gave one score to everything: MOS is constant, so no rank correlation, but n counts the stimuli.
    assert "Spearman correlation of MOS with each metric" in out
    assert "PSNR (higher is better) not defined, n = 4" in out and "LPIPS (lower is better) not defined, n = 4" in out


def test_mos_report_without_a_manifest_says_the_correlations_have_no_stimuli(tmp_path, capsys):
    assert main(["mos-report", str(_contract_only_csv(tmp_path / "ratings.csv", torn=False))]) == 0
    assert "SSIM (higher is better) not defined, n = 0" in capsys.readouterr().out


def test_mos_prepare_strict_fails_naming_the_missing_weights(tmp_path, capsys, tiny_weights):
    tiny_weights()
    code = main(
        [
            "mos-prepare",
            "--images",
            str(write_study_images(tmp_path / "hr")),
            "--out",
            str(tmp_path / "mos"),
            "--strict",
        ]
    )
    assert code == 2
    assert "no weights for srcnn, srgan, esrgan, swiftsrgan" in capsys.readouterr().err


def test_mos_prepare_rates_own_model_files_and_prints_their_sha256_and_refuses_another_scale(
    tmp_path, capsys, tiny_weights
):
    from spandrel_models import save_tiny_model

    from sr_core.weights import sha256_file

    tiny_weights()
    images = write_study_images(tmp_path / "hr")
    mine = save_tiny_model("swinir", tmp_path / "models")
    code = main(
        [
            "mos-prepare",
            "--images",
            str(images),
            "--methods",
            "nearest,bicubic,hr",
            "--out",
            str(tmp_path / "mos"),
            "--weights",
            f"mine={mine}",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "methods nearest, bicubic, mine, hr" in captured.out
    assert f"own model mine: swinir_x4.safetensors (SwinIR), sha256 {sha256_file(mine)}" in captured.err
    x2 = save_tiny_model("compact", tmp_path / "models", scale=2)
    assert main(["mos-prepare", "--images", str(images), "--out", str(tmp_path / "mos2"), "--weights", f"x2={x2}"]) == 2
    error = capsys.readouterr().err
    assert "upscales x2; a MOS study scores x4 models only" in error and error.count("\n") == 1
