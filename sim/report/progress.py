"""Progress of a long run on stderr: a rich bar on a terminal, plain lines anywhere else (a pipe, a CI log).

`layer_progress(label, total)` is a context manager yielding `advance(done)`, called with the number of layers
finished so far. `PlainLines` writes `label: done/total unit (p %)` at most once per `interval_s` and once at
the end, so the log of a 20,000-layer run (or a million-point sweep) stays short.
"""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO


class PlainLines:
    """Progress as plain text lines, rate-limited."""

    def __init__(self, label: str, total: int, unit: str = "layers", *, stream: TextIO | None = None,
                 interval_s: float = 2.0) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        self.last_time, self.last_done = time.monotonic(), 0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if done >= self.total or now - self.last_time >= self.interval_s:
            self.last_time, self.last_done = now, done
            self.stream.write(f"{self.label}: {done}/{self.total} {self.unit} "
                              f"({100 * done / max(self.total, 1):.0f} %)\n")
            self.stream.flush()

    def close(self) -> None:
        """The closing line, unless the last one already said everything was done."""
        if self.last_done < self.total:
            self.update(self.total)


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
    lines = PlainLines(label, total, "layers", stream=stream, interval_s=interval_s)
    yield lines.update
    lines.close()
