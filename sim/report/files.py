"""Where outputs go and how they are written: safe names, output folders checked before a run, atomic files.

- `safe_name(text)`: one path component of safe characters, for names that come from inputs (a hardware
  `name`, a SCALE-Sim `run_name`, a trace's file name) and become part of an output path.
- `check_out_dir(path)`: before simulating, the output folder is a folder (or can be made one) and writable,
  so a long run does not fail at its very end.
- `staging_folder(out, prefix)`: a set of files written into a hidden folder inside `out` and moved in only when
  all of them are complete; the folder is removed whatever happens.
- `atomic_file(path)`: a file appears complete or not at all (written beside it, then renamed); a failed write
  (a full disk) leaves neither a partial nor a 0-byte file and raises OutputError.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sim.errors import OutputError

# Longest name component we make: well under every common file system's 255-byte limit, with room for suffixes.
MAX_NAME_CHARS = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")
_DOTS = re.compile(r"\.{2,}")


def safe_name(text: object, fallback: str = "run") -> str:
    """`text` as one safe path component: runs of anything but letters, digits and `._+-` become `_`, runs of dots
    one dot, leading dots and dashes are dropped (no hidden files, no `..`, no option-like names), at most
    MAX_NAME_CHARS characters."""
    name = _DOTS.sub(".", _UNSAFE.sub("_", str(text))).lstrip(".-")[:MAX_NAME_CHARS].rstrip(".")
    return name if name.strip("_") else fallback


def _existing_ancestor(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Raise OutputError unless `path` is (or can be created as) a writable folder; creates nothing that stays.

    Checked by writing and removing a probe file in the folder, or in its nearest existing parent."""
    path = Path(path)
    existing = _existing_ancestor(path)
    if not existing.is_dir():
        what = "the output folder" if existing == path else f"'{existing}', a parent of the output folder,"
        raise OutputError(f"{what} is an existing file, not a folder", file=path, field=option,
                          allowed="a folder, or a path that does not exist yet")
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".sim-write-probe-", dir=existing)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise OutputError(f"cannot write into '{existing}': {error.strerror or error}", file=path, field=option,
                          allowed="a writable folder") from None
    return path


def make_out_dir(path: str | Path, option: str = "--out") -> Path:
    """Create the output folder (and its parents); OutputError if it cannot be."""
    path = check_out_dir(path, option)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the output folder: {error.strerror or error}", file=path,
                          field=option) from None
    return path


def replace_into(source: Path, target: Path) -> None:
    """Rename a finished file into place (atomic on one file system); OutputError if it cannot be."""
    try:
        os.replace(source, target)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", file=target) from None


@contextmanager
def staging_folder(out: Path, prefix: str, failure: str = "cannot write") -> Iterator[Path]:
    """A hidden folder inside `out` for files that must appear together: the caller writes them there and moves them
    in; an OSError meanwhile becomes OutputError ("<failure>: ...", naming `out`), and the folder is removed."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out))
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", file=out) from None
    try:
        yield staging
    except OSError as error:  # a full disk, a folder made read-only meanwhile: nothing partial is left behind
        raise OutputError(f"{failure}: {error.strerror or error}", file=out) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def atomic_file(path: str | Path, mode: str = "w", *, newline: str | None = None,
                encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on success it is flushed, synced and renamed to `path`,
    on any error it is removed (an OSError such as a full disk becomes OutputError naming `path`)."""
    path = Path(path)
    binary = "b" in mode
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name[:MAX_NAME_CHARS]}.", suffix=".tmp",
                                                 dir=path.parent)
    except OSError as error:
        raise OutputError(f"cannot write: {error.strerror or error}", file=path) from None
    temporary_path = Path(temporary)
    try:
        with os.fdopen(descriptor, mode, newline=None if binary else newline,
                       encoding=None if binary else encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary_path, path)
    except OSError as error:
        temporary_path.unlink(missing_ok=True)
        raise OutputError(f"cannot write: {error.strerror or error}", file=path) from None
    except BaseException:
        temporary_path.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically (see atomic_file)."""
    with atomic_file(path) as handle:
        handle.write(text)
    return Path(path)
