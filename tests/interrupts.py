"""Ctrl-C sent to a `python -m sim ...` child at a point of its CPU time (not wall time: a loaded machine moves the
signal along with the child)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

# CPU seconds a signal is moved on by when it landed before sim/__main__.py's handler (the clock below ticks at
# 10 ms and charges whole ticks, so a child can read 0.08 s having run 0.02 s).
LATER_S = 0.02


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def before_handler(returncode: int, stderr: str) -> bool:
    """The signal landed in the interpreter's start-up or the package import, before `main()` of sim/__main__.py
    installed the handler (docs/robustness.md: outside what the handler covers): killed before Python's own
    handler, or its KeyboardInterrupt with no frame of `main`."""
    return ((returncode == -signal.SIGINT and not stderr)
            or (returncode == 1 and stderr.rstrip().endswith("KeyboardInterrupt") and ", in main" not in stderr))


def interrupt_at(args: list[str], cpu_s: float, cwd, tries: int = 5) -> subprocess.CompletedProcess:
    """Run `args`, send SIGINT once the child has spent `cpu_s` CPU seconds (or has ended), and return how it ended.
    A signal that landed before the handler is sent to a fresh child LATER_S later, up to `tries` times."""
    for attempt in range(tries):
        process = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while cpu_seconds(process.pid) < cpu_s + attempt * LATER_S and process.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.002)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        if not before_handler(process.returncode, stderr):
            break
    return subprocess.CompletedProcess(args, process.returncode, stdout, stderr)
