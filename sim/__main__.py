"""`python -m sim` and the `sim` console script: Ctrl-C handled before the first heavy import (typer, pydantic)."""
import os
import signal


def _interrupted_while_starting(signum, frame):
    # Nothing has been written yet, so there is nothing to clean up: the message and exit code of sim.cli.main.
    os.write(2, b"interrupted\n")
    os._exit(130)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupted_while_starting)
    from sim.cli import main as cli_main  # installs its own handler once the command can clean up

    cli_main()


if __name__ == "__main__":
    main()
