"""sim.report.files: safe output names, the output-folder check before a run, atomic writes."""
import errno
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import OutputError
from sim.report import files
from sim.report.files import MAX_NAME_CHARS, atomic_file, atomic_write_text, check_out_dir, safe_name


@given(st.text(max_size=400))
def test_safe_name_is_one_harmless_path_component(text):
    name = safe_name(text)
    assert 0 < len(name) <= MAX_NAME_CHARS
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
    assert name not in (".", "..") and ".." not in name
    assert not name.startswith((".", "-"))
    assert Path(name).name == name and len(Path(name).parts) == 1


@pytest.mark.parametrize("hostile", ["a/../../x", "../../etc", "/abs/path", "C:\\Windows\\x", "..", ".", "",
                                     "-rf", "x\x00y", "a\nb", "~root", "$HOME"])
def test_safe_name_keeps_a_joined_path_inside_its_folder(hostile, tmp_path):
    joined = (tmp_path / safe_name(hostile)).resolve()
    assert joined.parent == tmp_path.resolve()


def test_safe_name_keeps_ordinary_names():
    assert safe_name("resnet18-scalesim_32x32_ws") == "resnet18-scalesim_32x32_ws"
    assert safe_name("v1.2+fast") == "v1.2+fast"


def test_out_dir_that_is_a_file_is_refused(tmp_path):
    existing = tmp_path / "report"
    existing.write_text("")
    with pytest.raises(OutputError, match="existing file"):
        check_out_dir(existing)
    with pytest.raises(OutputError, match="a parent of the output folder"):
        check_out_dir(existing / "sub" / "deeper")


def test_out_dir_check_creates_nothing(tmp_path):
    check_out_dir(tmp_path / "new" / "folder")
    assert list(tmp_path.iterdir()) == []


def test_unwritable_out_dir_is_refused(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(OutputError, match="cannot write into .*Permission denied"):
        check_out_dir(tmp_path / "out")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_dir_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="cannot write"):
            check_out_dir(folder / "out")
    finally:
        folder.chmod(0o755)


class _FullDisk:
    """A file handle whose writes fail as on a full disk."""

    def __init__(self, handle):
        self.handle = handle

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "points.csv"
    target.write_text("old\n")
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k)))
    with pytest.raises(OutputError, match="points.csv.*No space left"):
        atomic_write_text(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["points.csv"]


def test_failed_write_of_a_new_file_leaves_nothing(tmp_path, monkeypatch):
    real_fdopen = os.fdopen
    monkeypatch.setattr(files.os, "fdopen", lambda *a, **k: _FullDisk(real_fdopen(*a, **k)))
    with pytest.raises(OutputError):
        atomic_write_text(tmp_path / "new.csv", "x")
    assert list(tmp_path.iterdir()) == []


def test_atomic_file_writes_text_and_bytes(tmp_path):
    with atomic_file(tmp_path / "a.txt") as handle:
        handle.write("héllo\n")
    with atomic_file(tmp_path / "b.bin", "wb") as handle:
        handle.write(b"\x00\x01")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "héllo\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_an_exception_inside_the_block_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_file(tmp_path / "a.txt") as handle:
            handle.write("partial")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
