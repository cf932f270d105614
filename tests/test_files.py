"""Atomic writes: a file is replaced whole or not at all."""

import errno
import stat

import pytest

from sr_core.files import atomic_target


def test_a_completed_write_replaces_the_file_with_the_usual_permissions(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old")
    with atomic_target(target) as temporary, open(temporary, "w") as handle:
        handle.write("new")
    assert target.read_text() == "new" and [path.name for path in tmp_path.iterdir()] == ["scores.csv"]
    plain = tmp_path / "plain.csv"
    plain.write_text("written directly")
    assert stat.S_IMODE(target.stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old")
    with pytest.raises(OSError, match="No space"):
        with atomic_target(target) as temporary, open(temporary, "w") as handle:
            handle.write("half")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert target.read_text() == "old" and [path.name for path in tmp_path.iterdir()] == ["scores.csv"]
