"""How a `sim` command ends: a user error (SimError) is one line and exit 2, Ctrl-C is `interrupted` and exit 130.

Shared by the typer CLI (`sim.cli.main`) and the typer-free `sim check` (`sim.check`), so both end alike. Imports
nothing heavy: it runs before the command's own imports.
"""
from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

from sim.errors import SimError

INTERRUPT_GRACE_S = 10  # seconds the clean-up after Ctrl-C may take before the process is ended regardless


def _force_exit(signum, frame):
    os.write(2, b"interrupted\n")
    os._exit(130)


class _Interrupted(BaseException):
    """Ctrl-C, raised past click (which would turn KeyboardInterrupt into 'Aborted!' and exit 1)."""


def run_command(command: Callable[[], object]) -> None:
    """Run `command` (it ends with sys.exit, as click does) under the Ctrl-C handler; a SimError it raises is
    printed as `error: ...` with exit code 2."""
    main_pid = os.getpid()

    def interrupted(signum, frame):
        if os.getpid() != main_pid:  # a forked worker keeps the default behaviour
            raise KeyboardInterrupt
        # A library that swallows the exception (one raised in a __del__ or a callback is only printed) must not
        # keep the run going: if the clean-up below has not ended the process within the grace period, end it.
        signal.signal(signal.SIGALRM, _force_exit)
        signal.alarm(INTERRUPT_GRACE_S)
        raise _Interrupted

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        command()
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except (_Interrupted, KeyboardInterrupt):
        signal.alarm(0)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)
