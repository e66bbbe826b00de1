"""The cyclic garbage collector around long computations that allocate many short-lived objects (the mapper's search:
engine runs, batches of candidates).

CPython's full collections scan every tracked object; after the imports (numba, pydantic, the schema) that is
~10^5 objects that live as long as the process, and a search triggers a full collection every few engine runs
(docs/mapper.md, "Search time"). `frozen_heap` moves the objects alive at entry out of those scans for its duration
(gc.freeze) and back at exit (gc.unfreeze): what the computation allocates is collected as before, and garbage that
was alive at entry is collected at a later collection instead.
"""
from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def frozen_heap() -> Iterator[None]:
    """The objects alive now are left out of full collections until the block ends; a no-op when objects are frozen
    already (by the caller, or an enclosing block): those stay as their owner left them."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
