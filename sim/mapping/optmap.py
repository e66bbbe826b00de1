"""SCALE-Sim 3's `OptimizedMapping` (row-wise sparse mapping): a random N per filter column, inferred from runs.

Inferred from real SCALE-Sim 3.0.0 runs (tests/data/scalesim/golden_optmap.csv: ws, csr, BlockSize 4 and 8, seeds
40 and 7, 5 layers; every count below matches all 40 rows), not from its code:
- the topology's N:M column is ignored; M = `BlockSize` (SCALE-Sim asserts BlockSize <= ArrayHeight);
- per layer the legacy numpy generator is re-seeded with `RandomNumberGeneratorSeed` and draws one N per filter
  column, uniform in 1..M/2 (numpy.random.seed(seed); numpy.random.randint(1, M // 2 + 1, size=filters));
- each column keeps min(N, block length) weights of every M-element block of K (the last block may be short):
  DRAM filter reads = stored weights; SPARSE_REPORT csr metadata = stored + K + 1, as for N:M;
- the array holds ceil(ceil(K / M) / 2) x M filter rows whatever the draw (two blocks of at most M/2 per M rows):
  SRAM filter reads = those rows x filters, and cycles are the ws cycles of that row count (seed-independent);
- Mapping Efficiency % = stored weights / (row folds x col folds x ArrayHeight x ArrayWidth).
Wired in through Layer.optmap_block / optmap_seed (set by sim.api from the hardware's [sparsity] optimized_mapping):
the array runs `filter_rows` rows, the filter's DRAM words are `stored`, functional mode prunes per column.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OptimizedMapping:
    """One layer under SCALE-Sim's optimized mapping: N per filter column and the resulting filter words."""

    column_n: tuple[int, ...]  # kept weights per block, one per filter column
    stored: int  # stored (non-zero) filter weights over all columns
    filter_rows: int  # rows of the compressed filter the array holds (seed-independent)


def column_n(filters: int, block_size: int, seed: int) -> tuple[int, ...]:
    """SCALE-Sim's per-column N: legacy numpy generator, re-seeded per layer (a private RandomState, same stream)."""
    draw = np.random.RandomState(seed).randint(1, block_size // 2 + 1, size=filters)
    return tuple(int(n) for n in draw)


def optimized_mapping(window: int, filters: int, block_size: int, seed: int) -> OptimizedMapping:
    """The optimized mapping of a K (`window`) x `filters` filter matrix with blocks of `block_size`."""
    ns = column_n(filters, block_size, seed)
    blocks = math.ceil(window / block_size)
    lengths = [min(block_size, window - b * block_size) for b in range(blocks)]
    stored = sum(min(n, length) for n in ns for length in lengths)
    return OptimizedMapping(column_n=ns, stored=stored, filter_rows=math.ceil(blocks / 2) * block_size)


def prune_per_column(weights: np.ndarray, ns: tuple[int, ...], block_size: int) -> np.ndarray:
    """`weights` (K x filters) with column c keeping its n_c largest-magnitude of every `block_size` rows (ties: the
    lower row; the last block may be short), as the optimized mapping stores them."""
    from sim.mapping.sparsity import prune_n_of_m

    return np.stack([prune_n_of_m(weights[:, c:c + 1], n, block_size)[:, 0] for c, n in enumerate(ns)], axis=1) \
        if weights.shape[1] else weights.copy()
