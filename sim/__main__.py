"""`python -m sim` and the `sim` console script: Ctrl-C handled before the first heavy import (typer, pydantic).

`sim check FILE...` with no option runs without typer and click (sim.check: the same lines and exit codes), whose
import is a sixth of a hardware check's start-up and two fifths of a trace check's, and ends without the
interpreter's teardown (`_exit_after_check`); every other command line goes through the typer CLI.
"""
import gc
import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    # Nothing has been written yet, so there is nothing to clean up: the message and exit code of sim.entry.
    os.write(2, b"interrupted\n")
    os._exit(130)


def _exit_after_check(done: SystemExit) -> None:
    """End a finished check (exit 0 or 2) at once: the interpreter's teardown (clearing the ~10^5 objects of pydantic
    and the schema, a last garbage collection) is ~6 % of a hardware check's instructions and has nothing to
    release. Streams are flushed first; a flush that fails, and any other ending, is left to the interpreter, so
    what it prints and the exit code stay its own."""
    if done.code not in (0, 2):
        raise done
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        raise done from None
    os._exit(done.code)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    if sys.argv[1:2] == ["check"]:
        # No cyclic garbage collection in this short process: a check leaves ~3 KB of cycles a file, so the collector
        # would only rescan the ~10^5 objects that the imports and the schema build create (3 % of a hardware check).
        gc.disable()
        from sim.check import plain_check_files, run_check_command

        files = plain_check_files(sys.argv[1:])
        if files is not None:
            try:
                run_check_command(files)  # installs its own handler, as the CLI does
            except SystemExit as done:
                _exit_after_check(done)
            return
    from sim.cli import main as cli_main  # installs its own handler once the command can clean up

    cli_main()


if __name__ == "__main__":
    main()
