"""sim.check: `sim check FILE...` without typer takes exactly the command lines typer would hand over unchanged,
and ends as the typer command does (exit codes, a broken pipe); it loads neither typer nor click."""
from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import check
from sim.cli import app
from tests.interrupts import interrupt_at

ROOT = Path(__file__).resolve().parents[2]
TOML = "hw_configs/scalesim_32x32_ws.toml"
TRACE = "traces/alexnet.csv"


def test_plain_file_lists_are_taken():
    assert check.plain_check_files(["check", TOML, TRACE, "not_there.csv"]) == [Path(TOML), Path(TRACE),
                                                                               Path("not_there.csv")]


@pytest.mark.parametrize("argv", [
    [], ["check"], ["run", TOML], ["--help"], ["check", "--help"], ["check", "--batch", "2", TRACE],
    ["check", TRACE, "--include-root", "."], ["check", "--", TOML], ["check", "-"], ["check", ""], ["check", "-x"],
])
def test_anything_typer_parses_itself_is_left_to_typer(argv):
    assert check.plain_check_files(argv) is None


def test_shell_completion_is_left_to_typer(monkeypatch):
    monkeypatch.setenv("_SIM_COMPLETE", "bash_complete")
    assert check.plain_check_files(["check", TOML]) is None


def test_an_unreadable_file_is_left_to_typer(monkeypatch):
    # typer refuses an existing path it cannot read with a usage error (root reads everything, so pretend).
    monkeypatch.setattr(check.os, "access", lambda path, mode: Path(path) != Path(TOML))
    monkeypatch.chdir(ROOT)
    assert check.plain_check_files(["check", TRACE, TOML]) is None
    assert check.plain_check_files(["check", TRACE]) == [Path(TRACE)]


WORDS = ["check", "run", TOML, TRACE, "folder", "not_there.m", "--batch", "2", "--include-root", ".", "--", "-",
         "-q", "--help", "a b.toml", "x=y.csv", "ü.toml"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6))
def test_typer_hands_the_same_files_to_the_same_check(argv):
    """Property: whenever the fast path takes a command line, typer parses it to the check command with the same
    files and no option set."""
    files = check.plain_check_files(argv)
    if files is None:
        return
    seen = []
    original = check.check_files
    check.check_files = lambda *args: seen.append(args) or 0
    try:
        with pytest.raises(SystemExit) as stop:
            app(argv, prog_name="sim")
    finally:
        check.check_files = original
    assert stop.value.code == 0 and seen == [(files, None, None)]


def _modules_after_check(path: str) -> set[str]:
    # A finished check ends with os._exit (no teardown); here it raises instead, so the probe can list the modules.
    probe = ("import os, sys\nsys.argv = ['sim', 'check', %r]\ndef stop(code):\n    raise SystemExit(code)\n"
             "os._exit = stop\nfrom sim.__main__ import main\ntry:\n    main()\n"
             "except SystemExit:\n    pass\nimport json\nprint(json.dumps(sorted(sys.modules)))" % path)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize("path", [TOML, "hw_configs/scalesim/scale.cfg", TRACE])
def test_a_check_loads_neither_typer_nor_click_nor_the_models(path):
    loaded = _modules_after_check(path)
    assert not {"typer", "click", "rich", "numpy", "numba", "simpy", "sim.cli", "sim.engine"} & loaded
    assert ("sim.hardware.scalesim_cfg" in loaded) == path.endswith(".cfg")  # each format loads only its reader
    assert ("pydantic" in loaded) == (path != TRACE)


class _BrokenPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


@pytest.mark.parametrize("fast", [True, False])
def test_a_broken_pipe_ends_both_ways_with_exit_1(monkeypatch, fast):
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "stdout", _BrokenPipe())
    with pytest.raises(SystemExit) as stop:
        if fast:
            check.run_check_command([Path(TRACE)])
        else:
            app(["check", TRACE], prog_name="sim")
    assert stop.value.code == 1
    sys.stdout.flush()  # silent after the broken pipe, as click leaves it


@pytest.mark.parametrize("fast", [True, False])
def test_exit_codes_are_the_typer_commands(monkeypatch, capsys, fast):
    monkeypatch.chdir(ROOT)
    for files, code in (([TRACE], 0), ([TRACE, "not_there.csv"], 2)):
        with pytest.raises(SystemExit) as stop:
            if fast:
                check.run_check_command([Path(f) for f in files])
            else:
                app(["check", *files], prog_name="sim")
        assert stop.value.code == code
    out = capsys.readouterr()
    assert out.out.count("ok    traces/alexnet.csv") == 2 and out.err == "error not_there.csv: trace file not found\n"


def test_ctrl_c_during_a_check_is_one_line_and_exit_130():
    # From after sim.__main__ has installed its handler (0.02-0.07 s of CPU: the interpreter's start-up and the
    # package import come first, and a signal there is the interpreter's; docs/robustness.md) through the first
    # imports into the schema build. A check that finished first exits 0 with its line.
    interrupted = 0
    for cpu_s in (0.06, 0.08, 0.1, 0.15, 0.2):
        done = interrupt_at([sys.executable, "-m", "sim", "check", "hw_configs/isaac.toml"], cpu_s, ROOT)
        if done.returncode == 0:
            assert done.stdout.startswith("ok    hw_configs/isaac.toml") and not done.stderr, (cpu_s, done.stderr)
        else:
            assert done.returncode == 130 and done.stderr.strip() == "interrupted", (cpu_s, done.stderr)
            interrupted += 1
    assert interrupted  # the check takes ~0.15 s of CPU: the early signals land in it


class _FailingFlush(io.StringIO):
    def flush(self) -> None:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


@pytest.mark.parametrize("code", [0, 2])
def test_a_finished_check_ends_at_once_after_flushing(monkeypatch, code):
    from sim import __main__ as entry

    ended = []
    monkeypatch.setattr(entry.os, "_exit", ended.append)
    entry._exit_after_check(SystemExit(code))
    assert ended == [code]
    # A flush that fails (stdout closed by a pager) is the interpreter's to report, as before.
    monkeypatch.setattr(sys, "stdout", _FailingFlush())
    with pytest.raises(SystemExit) as stop:
        entry._exit_after_check(SystemExit(code))
    assert stop.value.code == code and ended == [code]


@pytest.mark.parametrize("code", [1, 130, None, "message"])
def test_any_other_ending_is_left_to_the_interpreter(monkeypatch, code):
    from sim import __main__ as entry

    ended = []
    monkeypatch.setattr(entry.os, "_exit", ended.append)
    with pytest.raises(SystemExit) as stop:
        entry._exit_after_check(SystemExit(code))
    assert stop.value.code == code and not ended
