"""Environment settings: one table, read at call time, malformed values refused in one line, in the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sr_core import settings
from sr_core.errors import SettingsError

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *(path for part in ("sr_core", "studio", "labs") for path in ROOT.glob(f"{part}/**/*.py"))]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No SR Studio variable set, so every reader gives its default."""
    for setting in settings.SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    return monkeypatch


def test_every_variable_the_code_reads_is_in_the_settings_table():
    mentioned = {name for path in SOURCES for name in re.findall(r"SR_STUDIO_[A-Z0-9_]+", path.read_text())}
    assert mentioned <= {setting.name for setting in settings.SETTINGS}


def test_every_setting_sr_studio_reads_has_a_reader_and_the_external_ones_none():
    own = {setting.name for setting in settings.SETTINGS if not setting.external}
    assert set(settings.READERS) == own


def test_the_readme_settings_table_is_the_settings_module_table():
    assert settings.markdown_table() in (ROOT / "README.md").read_text()


def test_defaults_apply_when_nothing_is_set(clean_environment):
    assert settings.data_dir() == ROOT / "data"
    assert settings.mos_dir() == ROOT / "data" / "mos"
    assert settings.mos_study() == ROOT / "assets"
    assert settings.weights_dir() == ROOT / "weights"
    assert (settings.pixel_cap(), settings.concurrency(), settings.queue_size()) == (4096 * 4096, 1, 64)
    assert (settings.max_file_size(), settings.weights_source()) == ("25mb", "bundled")
    assert settings.hf_token() is None and settings.dataset_repo() is None and settings.cpu_bf16()


def test_values_are_read_when_asked_so_later_changes_are_seen(clean_environment, tmp_path):
    clean_environment.setenv("SR_STUDIO_DATA_DIR", str(tmp_path))
    assert settings.mos_dir() == tmp_path / "mos", "the MOS folder follows the data folder"
    clean_environment.setenv("SR_STUDIO_MOS_DIR", str(tmp_path / "elsewhere"))
    clean_environment.setenv("SR_STUDIO_CONCURRENCY", " 3 ")
    clean_environment.setenv("SR_STUDIO_MAX_FILE_SIZE", "10 MB")
    clean_environment.setenv("SR_STUDIO_WEIGHTS_SOURCE", "Hub")
    clean_environment.setenv("SR_STUDIO_DATASET_REPO", "sr-studio/mos-ratings")
    assert settings.mos_dir() == tmp_path / "elsewhere"
    assert (settings.concurrency(), settings.max_file_size(), settings.weights_source()) == (3, "10mb", "hub")
    assert settings.dataset_repo() == "sr-studio/mos-ratings"


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("SR_STUDIO_PIXEL_CAP", "lots", settings.pixel_cap),
        ("SR_STUDIO_QUEUE_SIZE", "0", settings.queue_size),
        ("SR_STUDIO_CONCURRENCY", "-1", settings.concurrency),
        ("SR_STUDIO_CONCURRENCY", "1.5", settings.concurrency),
        ("SR_STUDIO_MAX_FILE_SIZE", "big", settings.max_file_size),
        ("SR_STUDIO_WEIGHTS_SOURCE", "internet", settings.weights_source),
        ("SR_STUDIO_DATASET_REPO", "not a repo", settings.dataset_repo),
        ("SR_STUDIO_CPU_BF16", "yes", settings.cpu_bf16),
    ],
)
def test_a_malformed_value_is_refused_naming_the_variable_and_the_value(clean_environment, name, value, reader):
    clean_environment.setenv(name, value)
    with pytest.raises(SettingsError, match=rf"{name} must be .*{re.escape(repr(value))}"):
        reader()


def test_printed_settings_hide_the_token(clean_environment):
    clean_environment.setenv("HF_TOKEN", "hf_secret_value")
    shown = settings.effective_settings()
    assert shown["HF_TOKEN"] == "(set, hidden)" and "hf_secret_value" not in str(shown)
    assert "GRADIO_SERVER_PORT" not in shown, "Gradio's own variables are documented, not read by us"


def _check_settings(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, "SR_STUDIO_DATA_DIR": str(tmp_path / "data"), **variables}
    return subprocess.run(
        [sys.executable, "-m", "sr_core.settings"],
        cwd=ROOT,
        env=environment,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_settings_check_prints_the_settings_and_creates_the_data_folder(tmp_path):
    checked = _check_settings(tmp_path, HF_TOKEN="hf_secret_value")
    assert checked.returncode == 0, checked.stderr
    assert f"SR_STUDIO_DATA_DIR={tmp_path / 'data'}" in checked.stdout and "hf_secret_value" not in checked.stdout
    assert (tmp_path / "data").is_dir()


def test_the_settings_check_stops_with_one_line_on_a_malformed_value(tmp_path):
    checked = _check_settings(tmp_path, SR_STUDIO_CONCURRENCY="many")
    assert checked.returncode == 2 and checked.stdout == ""
    assert checked.stderr.startswith("error: SR_STUDIO_CONCURRENCY must be") and checked.stderr.count("\n") == 1


def test_the_settings_check_refuses_a_data_folder_it_cannot_create(tmp_path):
    (tmp_path / "a_file").write_text("not a folder")
    checked = _check_settings(tmp_path, SR_STUDIO_DATA_DIR=str(tmp_path / "a_file" / "data"))
    assert checked.returncode == 2 and "cannot create SR_STUDIO_DATA_DIR" in checked.stderr
