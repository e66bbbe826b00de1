"""The inter-layer pipeline's batching, shared by the crossbar pipeline (sim.engine.crossbar) and its run on the
tile mesh (sim.engine.tile_noc): a layer's work in near-equal batches, and how much of the upstream layer's
output a batch waits for."""
from __future__ import annotations

import math


def batches_of(total: int, count: int) -> list[int]:
    """`total` split into `count` near-equal integer parts."""
    base, rest = divmod(total, count)
    return [base + (1 if b < rest else 0) for b in range(count)]


def upstream_needed(batch: int, batches: int, upstream_batches: int, lag: float) -> int:
    """Upstream batches that must be done before batch `batch` (of `batches`) starts: its share of the layer plus
    the window `lag` (a fraction of the upstream output) it reads ahead."""
    fraction = min(1.0, (batch + 1) / batches + lag)
    return min(upstream_batches, math.ceil(fraction * upstream_batches - 1e-9))
