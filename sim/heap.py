"""The cyclic garbage collector around long computations that allocate many short-lived objects (the mapper's search:
engine runs, batches of candidates).

CPython's collector runs a young collection every 700 net allocations and a full one every few hundred young ones;
a full one scans every tracked object, and after the imports (numba, pydantic, the schema) that is ~10^5 objects
that live as long as the process. The mapper's search makes no reference cycles (its objects die by reference count:
`gc.collect()` after a ResNet-18 search finds nothing), so the collector only rescans what is alive: 10-20 % of a
ResNet-18 search's time (benchmarks/bench_mapper.py --search-time). `rare_collections` moves the objects alive at
entry out of the scans (gc.freeze) and collects the young generation every YOUNG_THRESHOLD allocations instead of
700, for its duration; at exit both are restored. Collection stays automatic, so a computation that does make cycles
still has them collected.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 100_000  # net allocations between young collections within the block (CPython's default: 700)


@contextmanager
def rare_collections() -> Iterator[None]:
    """The objects alive now are left out of collections, and young collections are rare, until the block ends. A
    no-op when objects are frozen already (by the caller, or an enclosing block): the collector stays as its owner
    set it."""
    if gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], YOUNG_THRESHOLD), *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
