"""Wall-time measurement shared by the benchmark scripts (imported as a sibling module: the scripts run as
`python benchmarks/<name>.py`, which puts this folder on the import path)."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def best_of(function: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """(fastest wall time of `repeat` calls of `function()`, the last call's result). Warm numba up first: the
    first call also pays its compilation."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def best_time(function: Callable[[], Any], repeat: int = 1) -> float:
    """The fastest wall time of `repeat` calls of `function()`."""
    return best_of(function, repeat)[0]
