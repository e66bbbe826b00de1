"""One sweep at a time per output folder, and pool workers that do not outlive their sweep.

`folder_lock(out_dir)`: an exclusive advisory lock (flock) on `out_dir/.sweep.lock`, held while a sweep runs. A
second sweep on the same folder waits for it and then resumes from the database, where every point the first
one finished is already stored, so no point is computed twice. The kernel drops the lock when its holder dies,
even by SIGKILL, so a killed sweep never leaves a stale lock. Without fcntl (Windows) there is no lock.

`die_with_parent()`: a pool worker's initializer. On Linux the kernel sends the worker SIGKILL when the process
that started it dies (prctl PR_SET_PDEATHSIG); elsewhere a daemon thread checks once a second whether the parent
is still there.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sim.errors import OutputError

LOCK_NAME = ".sweep.lock"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@contextmanager
def folder_lock(out_dir: Path, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the sweep lock of `out_dir` (created if need be); `on_wait(holder)` once if another sweep holds it."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        handle = open(out_dir / LOCK_NAME, "a+")
    except OSError as error:
        raise OutputError(f"cannot create the sweep lock: {error.strerror or error}", file=out_dir / LOCK_NAME) \
            from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            if on_wait is not None:
                on_wait(handle.read().strip() or "another process")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def die_with_parent(parent: int | None = None) -> None:
    """Make this process (a pool worker) end when `parent` (default: its current parent) ends."""
    parent = os.getppid() if parent is None else parent
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                if os.getppid() != parent:  # the parent died before the request took effect
                    os._exit(1)
                return
        except (OSError, AttributeError):
            pass
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="sim-parent-watchdog").start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)
