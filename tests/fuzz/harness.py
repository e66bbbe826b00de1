"""Run one fuzz case through the real CLI entry point (`sim.__main__.main`) in a forked child, under a time and
memory limit, and classify what happened against the input contract:

  accepted     exit 0 and a sane report (finite, non-negative numbers) or `ok` from `sim check`
  clean_error  exit 2, no traceback, first line `error...` naming the fuzzed file, no line over 1,000 chars
  bad_error    any other refusal (wrong exit code, message not naming the file, an echoed file)
  insane       exit 0 but the report holds nulls, NaN, inf or negative counts
  traceback    an uncaught exception
  hang         still running after the time limit (killed)
  memory       MemoryError, or the address-space limit hit

Forking after `sim` is imported makes a case cost milliseconds instead of an interpreter start.
"""
from __future__ import annotations

import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

GIB = 1 << 30
CLASSES = ("accepted", "clean_error", "bad_error", "insane", "traceback", "hang", "memory")
FAILURES = ("bad_error", "insane", "traceback", "hang", "memory")


@dataclass(frozen=True)
class Case:
    """A set of files written into a fresh folder, the `sim` arguments to run there, and the file under test."""

    fmt: str
    argv: tuple[str, ...]
    files: tuple[tuple[str, bytes], ...]
    target: str  # relative path of the fuzzed file: a refusal must name it (or one of `also_named`)
    also_named: tuple[str, ...] = ()
    specials: tuple[tuple[str, str], ...] = ()  # (relative path, "fifo" | "dir" | "symlink:<to>")
    note: str = ""


@dataclass(frozen=True)
class Outcome:
    klass: str
    rc: int | None
    seconds: float
    max_rss_mb: float
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.klass in ("accepted", "clean_error")


def preload() -> None:
    """Import what a run touches, once, in the parent, so every forked case starts warm."""
    import sim.analytical  # noqa: F401
    import sim.api  # noqa: F401
    import sim.__main__  # noqa: F401
    import sim.check  # noqa: F401
    import sim.cli  # noqa: F401
    import sim.engine  # noqa: F401
    import sim.report  # noqa: F401
    import sim.sweep  # noqa: F401
    import sim.workload.maestro  # noqa: F401

    try:
        import onnx  # noqa: F401
    except ImportError:  # the ONNX cases then check the "needs the onnx package" refusal
        pass


def _materialize(case: Case, root: Path) -> None:
    for name, data in case.files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    for name, kind in case.specials:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            path.mkdir(exist_ok=True)
        elif kind.startswith("symlink:"):
            os.symlink(kind.split(":", 1)[1], path)


def _vm_size_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _child(case: Case, root: Path, memory_bytes: int, timeout_s: float) -> None:
    code = 1
    try:
        os.chdir(root)
        for fd, name in ((1, ".stdout"), (2, ".stderr")):
            target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        # pytest (and others) replace sys.stdout / sys.stderr: point Python's streams at the files too
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        limit = _vm_size_bytes() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.alarm(int(timeout_s) + 5)  # a backstop; the parent kills at timeout_s
        sys.argv = ["sim", *case.argv]
        from sim.__main__ import main  # what `sim` runs: `sim check FILE...` without typer, the rest through it

        try:
            main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:  # what the interpreter would do with an uncaught exception
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        try:
            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:
            pass
    os._exit(code)


def _report_sane(root: Path, case: Case) -> bool:
    if not case.argv or case.argv[0] not in ("run", "infer"):
        return True
    out = Path(case.argv[case.argv.index("--out") + 1]) if "--out" in case.argv else None
    if out is None:
        return True
    try:
        report = json.loads((root / out / "report.json").read_text(), parse_constant=lambda c: float("nan"))
    except (OSError, ValueError):
        return False
    for layer in report.get("layers", []):
        for key in ("cycles", "macs", "compute_cycles", "stall_cycles"):
            number = layer.get(key)
            if not isinstance(number, int) or number < 0:
                return False
        energy = (layer.get("energy_pj") or {}).get("total")
        if not isinstance(energy, (int, float)) or not math.isfinite(energy) or energy < 0:
            return False
    return True


def _clean_refusal(stderr: str, case: Case) -> bool:
    lines = stderr.strip().splitlines()
    if not lines or not lines[0].startswith("error"):
        return False
    if any(len(line) > 1000 for line in lines):
        return False
    # the fuzzed file, or another file of the command (a layer that does not fit names the hardware config)
    given = [arg for arg in case.argv[1:] if not arg.startswith("-") and arg != "out"]
    names = {Path(case.target).name, *(Path(n).name for n in (*case.also_named, *given))}
    return any(name in lines[0] for name in names)


def run_case(case: Case, *, timeout_s: float = 20.0, memory_bytes: int = 2 * GIB) -> Outcome:
    """Run `case` in a forked child; never raises for anything the child does."""
    with tempfile.TemporaryDirectory(prefix="simfuzz-") as tmp:
        root = Path(tmp)
        _materialize(case, root)
        sys.stdout.flush()
        sys.stderr.flush()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            _child(case, root, memory_bytes, timeout_s)
        status, usage, timed_out, pause = None, None, False, 0.002
        while True:
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() - start > timeout_s:
                os.kill(pid, signal.SIGKILL)
                _, status, usage = os.wait4(pid, 0)
                timed_out = True
                break
            time.sleep(pause)
            pause = min(pause * 1.5, 0.05)
        seconds = time.monotonic() - start
        rss_mb = usage.ru_maxrss / 1024 if usage else 0.0
        stderr = (root / ".stderr").read_text(errors="replace") if (root / ".stderr").exists() else ""
        stdout = (root / ".stdout").read_text(errors="replace") if (root / ".stdout").exists() else ""
        rc = os.waitstatus_to_exitcode(status) if status is not None else None
        if timed_out:
            klass = "hang"
        elif "MemoryError" in stderr or (rc is not None and rc < 0 and rc != -signal.SIGALRM):
            klass = "memory"
        elif rc == -signal.SIGALRM:
            klass = "hang"
        elif "Traceback" in stderr:
            klass = "traceback"
        elif rc == 0:
            sane = _report_sane(root, case) and (case.argv[0] != "check" or "ok" in stdout)
            klass = "accepted" if sane else "insane"
        elif rc == 2 and _clean_refusal(stderr, case):
            klass = "clean_error"
        else:
            klass = "bad_error"
        return Outcome(klass, rc, seconds, rss_mb, stderr[-2000:])
