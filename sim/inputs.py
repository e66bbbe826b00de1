"""Bounded reading of user input files: what every loader calls before it parses.

A file is opened without blocking, must be a regular file (not a directory, FIFO or device) and no larger than
its format's limit; TOML text is also scanned for nesting depth and over-long bare tokens (keys, numbers)
before `tomllib` sees it, so a hostile file costs milliseconds. Limits are in docs/robustness.md.
Errors are the caller's type (ConfigError or TraceError) and never quote more of the file than one token.
"""
from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from sim.errors import SimError

KIB, MIB = 1 << 10, 1 << 20
# Per-format size limits: a shipped config is a few KiB, a 20,000-layer trace about 2 MiB.
MAX_CONFIG_BYTES = 1 * MIB  # hardware TOML, energy tables, SCALE-Sim .cfg, MAESTRO hardware, sweep specs
MAX_TRACE_BYTES = 8 * MIB  # trace CSV, SCALE-Sim topology, MAESTRO network and mapping .m (~100,000 layers)
MAX_ONNX_BYTES = 512 * MIB  # weights included (external data is never read)
MAX_MAPPING_BYTES = 32 * MIB  # mapping TOML: ~600 bytes a layer, so ~50,000 layers
MAX_REQUEST_TRACE_BYTES = 64 * MIB  # DRAM request trace (.req): ~30 bytes a request, ~2 million requests
MAX_TOML_DEPTH = 16  # nested arrays / inline tables; our schemas need 4
MAX_TOKEN_CHARS = 128  # a bare key, a dotted-key part or a number
MAX_KEY_PARTS = 16  # parts of one dotted key or table header


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(limit: int) -> str:
    return f"{limit // MIB} MiB" if limit >= MIB else f"{limit // KIB} KiB"


def read_bytes(path: str | Path, error: type[SimError], *, limit: int, what: str = "file",
               field: str | None = None, file: str | Path | None = None) -> bytes:
    """The bytes of `path`, refused (as `error`) unless it is a readable regular file of at most `limit` bytes.

    `file` and `field` locate the error when `path` was named inside another file (an include).
    """
    where = {"file": file if file is not None else path, "field": field}
    name = str(path)
    if "\x00" in name:
        raise error(f"{what} path contains a NUL byte", **where, allowed="a path without control characters")
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat below refuses it.
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(f"{what} not found", **where, value=name) if file is not None else \
            error(f"{what} not found", **where) from None
    except IsADirectoryError:
        raise error(f"{what} is a directory, not a file", **where) from None
    except OSError as err:
        raise error(f"cannot open the {what}: {err.strerror or errno.errorcode.get(err.errno, err)}",
                    **where) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} is {_kind(info.st_mode)}, not a file", **where, allowed="a regular file")
        if info.st_size > limit:
            raise error(f"{what} too large ({info.st_size:,} bytes)", **where, allowed=f"at most {_size(limit)}")
        chunks, total = [], 0
        while True:  # read to EOF, never past the limit (a file may grow while we read)
            chunk = os.read(fd, min(1 * MIB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise error(f"{what} too large (more than {limit:,} bytes)", **where,
                            allowed=f"at most {_size(limit)}")
        return b"".join(chunks)
    except OSError as err:
        raise error(f"cannot read the {what}: {err.strerror or err}", **where) from None
    finally:
        os.close(fd)


MAX_INTEGER_DIGITS = 18  # every count we read fits in int64 with room to multiply


def read_text(path: str | Path, error: type[SimError], *, limit: int, what: str = "file",
              field: str | None = None, file: str | Path | None = None) -> str:
    """`read_bytes` decoded as UTF-8 (a leading byte-order mark dropped); a NUL byte is refused too."""
    data = read_bytes(path, error, limit=limit, what=what, field=field, file=file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise error(f"{what} is not UTF-8 text (byte {err.start}, line {line})", file=file or path, field=field,
                    allowed="UTF-8 (or ASCII) text") from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise error(f"{what} contains a NUL byte (line {line})", file=file or path, field=field,
                    allowed="text without control characters")
    return text


# TOML strings and comments, masked before the structural scan (their content may hold anything).
_TOML_MASK = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*',
                        re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_+\-.:]{%d,}" % (MAX_TOKEN_CHARS + 1))
_DOTTED = re.compile(r"(?:[A-Za-z0-9_\-]+|\"\"|'')(?:[ \t]*\.[ \t]*(?:[A-Za-z0-9_\-]+|\"\"|'')){%d,}" % MAX_KEY_PARTS)


def _masked(match: re.Match) -> str:
    text = match.group(0)
    return '""' + "\n" * text.count("\n") if not text.startswith("#") else ""


def check_toml_shape(text: str, file: str | Path, error: type[SimError]) -> None:
    """Refuse TOML whose structure would make the parser slow or recurse deeply: nesting deeper than
    MAX_TOML_DEPTH, a bare key or number over MAX_TOKEN_CHARS, a dotted key of more than MAX_KEY_PARTS parts."""
    masked = _TOML_MASK.sub(_masked, text)

    def line_of(index: int) -> int:
        return masked.count("\n", 0, index) + 1

    depth = 0
    for match in _BRACKETS.finditer(masked):
        depth += 1 if match.group(0) in "[{" else -1
        if depth > MAX_TOML_DEPTH:
            raise error("arrays or inline tables nested too deeply", file=file, line=line_of(match.start()),
                        allowed=f"at most {MAX_TOML_DEPTH} levels")
        depth = max(depth, 0)
    token = _LONG_TOKEN.search(masked)
    if token:
        raise error("key or number too long", file=file, line=line_of(token.start()),
                    value=f"{len(token.group(0)):,} characters", allowed=f"at most {MAX_TOKEN_CHARS} characters")
    dotted = _DOTTED.search(masked)
    if dotted:
        raise error("dotted key or table name with too many parts", file=file, line=line_of(dotted.start()),
                    allowed=f"at most {MAX_KEY_PARTS} parts")
