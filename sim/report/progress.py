"""Progress of a long run on stderr: a rich bar on a terminal, plain lines anywhere else (a pipe, a CI log).

`layer_progress(label, total)` is a context manager yielding `advance(done)`, called with the number of layers
finished so far. Plain lines are written at most once per `interval_s` and once at the end, so a log of a
20,000-layer run stays short.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def layer_progress(label: str, total: int, *, stream: TextIO | None = None, interval_s: float = 2.0,
                   terminal: bool | None = None) -> Iterator[Callable[[int], None]]:
    stream = stream if stream is not None else sys.stderr
    terminal = stream.isatty() if terminal is None else terminal
    if terminal:
        from rich.console import Console
        from rich.progress import Progress

        with Progress(transient=True, console=Console(file=stream)) as bar:
            task = bar.add_task(label, total=total)
            yield lambda done: bar.update(task, completed=done)
        return
    last = [time.monotonic(), 0]

    def advance(done: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= interval_s:
            last[0], last[1] = now, done
            stream.write(f"{label}: {done}/{total} layers ({100 * done / max(total, 1):.0f} %)\n")
            stream.flush()

    yield advance
    if last[1] < total:
        advance(total)
