"""sim.inputs: every reader bounded before it parses (regular files only, size, TOML nesting / key / number length)."""
from __future__ import annotations

import os
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import ConfigError, TraceError
from sim.inputs import (
    MAX_KEY_PARTS,
    MAX_TOKEN_CHARS,
    MAX_TOML_DEPTH,
    check_toml_shape,
    read_bytes,
    read_text,
)


def test_regular_file_is_read(tmp_path):
    path = tmp_path / "a.toml"
    path.write_bytes(b"\xef\xbb\xbfx = 1\n")
    assert read_text(path, ConfigError, limit=100) == "x = 1\n"


@pytest.mark.parametrize("kind", ["fifo", "dir", "device", "missing", "symlink_to_device"])
def test_non_regular_files_are_refused_without_blocking(tmp_path, kind):
    path = tmp_path / "x.toml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    elif kind == "device":
        path = "/dev/zero"
    elif kind == "symlink_to_device":
        os.symlink("/dev/zero", path)
    started = time.monotonic()
    with pytest.raises(ConfigError) as excinfo:
        read_bytes(path, ConfigError, limit=1 << 20)
    assert time.monotonic() - started < 5
    expected = {"fifo": "FIFO", "dir": "directory", "device": "device", "missing": "not found",
                "symlink_to_device": "device"}[kind]
    assert expected in str(excinfo.value) and str(path) in str(excinfo.value)


def test_size_limit_is_checked_before_reading(tmp_path):
    path = tmp_path / "big.csv"
    path.write_bytes(b"x" * 2000)
    with pytest.raises(TraceError, match=r"too large \(2,000 bytes\); allowed: at most 1 KiB"):
        read_bytes(path, TraceError, limit=1024)


def test_nul_in_path_and_in_text_and_bad_utf8(tmp_path):
    with pytest.raises(ConfigError, match="NUL byte"):
        read_bytes(str(tmp_path / "a\x00b"), ConfigError, limit=10)
    path = tmp_path / "a.csv"
    path.write_bytes(b"a\nb\x00c\n")
    with pytest.raises(TraceError, match=r"NUL byte \(line 2\)"):
        read_text(path, TraceError, limit=100)
    path.write_bytes(b"ok\n\xff\n")
    with pytest.raises(TraceError, match=r"not UTF-8 text \(byte 3, line 2\)"):
        read_text(path, TraceError, limit=100)


def test_an_include_error_names_the_including_file(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        read_bytes(tmp_path / "none.toml", ConfigError, limit=10, what="energy table", field="energy_tables",
                   file="hw.toml")
    assert excinfo.value.file == "hw.toml" and excinfo.value.field == "energy_tables"


@pytest.mark.parametrize("text, message", [
    ("a = " + "[" * 5000 + "]" * 5000, "nested too deeply"),
    ("a = " + "{b = " * 3000 + "1" + "}" * 3000, "nested too deeply"),
    (".".join(["k"] * 100_000) + " = 1", "too long"),
    (" . ".join(["k"] * 100) + " = 1", "too many parts"),
    ("[" + " . ".join(["t"] * 100) + "]", "too many parts"),
    ("x = " + "9" * 5000, "too long"),
    ("k" * 200 + " = 1", "too long"),
])
def test_hostile_toml_shapes_are_refused_fast(text, message):
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as excinfo:
        check_toml_shape(text, "f.toml", ConfigError)
    assert time.monotonic() - started < 1
    assert excinfo.value.file == "f.toml" and excinfo.value.line == 1


def test_strings_and_comments_may_hold_anything():
    text = ('a = "' + "[" * 100 + '"\n# ' + "{" * 100 + "\n" + "b = '''\n" + "k." * 200 + "\n'''\n"
            + 'c = [[1, 2], [3]]\n[x.y.z]\nd = { e = { f = 1 } }\n')
    check_toml_shape(text, "f.toml", ConfigError)


@given(st.integers(1, MAX_TOML_DEPTH - 1), st.integers(1, MAX_KEY_PARTS), st.integers(1, MAX_TOKEN_CHARS))
def test_shapes_within_the_limits_pass(depth, parts, length):
    import tomllib

    text = f"{'.'.join(['k'] * parts)} = {'[' * depth}1{']' * depth}\nv = {'9' * min(length, 18)}\n"
    check_toml_shape(text, "f.toml", ConfigError)
    tomllib.loads(text)
