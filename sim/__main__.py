"""`python -m sim` and the `sim` console script: Ctrl-C handled before the first heavy import (typer, pydantic).

`sim check FILE...` with no option runs without typer and click (sim.check: the same lines and exit codes), whose
import is a sixth of a hardware check's start-up and two fifths of a trace check's; every other command line goes
through the typer CLI.
"""
import gc
import os
import signal
import sys


def _interrupted_while_starting(signum, frame):
    # Nothing has been written yet, so there is nothing to clean up: the message and exit code of sim.entry.
    os.write(2, b"interrupted\n")
    os._exit(130)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    if sys.argv[1:2] == ["check"]:
        # No cyclic garbage collection in this short process: a check leaves ~3 KB of cycles a file, so the collector
        # would only rescan the ~10^5 objects that the imports and the schema build create (3 % of a hardware check).
        gc.disable()
        from sim.check import plain_check_files, run_check_command

        files = plain_check_files(sys.argv[1:])
        if files is not None:
            run_check_command(files)  # installs its own handler, as the CLI does
            return
    from sim.cli import main as cli_main  # installs its own handler once the command can clean up

    cli_main()


if __name__ == "__main__":
    main()
