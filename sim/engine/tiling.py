"""Which operand tiles each step of a layer needs: pure functions from (layer, mapping, buffer sizes) to a plan.

A *step* is a fold, or a chunk of one: when a fold's streamed operands do not fit one buffer slot, the fold's
temporal extent (T) is split into the fewest equal chunks that fit, and the fold's compute cycles are split in
proportion (they still sum to the fold's cycles exactly). With the mapping's chunks of T outside its row folds
(`Mapping.chunk_order`, ws / is) the steps run groups, column folds, chunks, row folds instead, and each step is an
array pass of its own (it reloads the stationary operand: its cycles are `step_cycles`'), so that a chunk's
partial-sum block stays in the ofmap buffer over the row folds. Each step names one tile per operand:
- a tile used by consecutive steps is fetched once (the stationary operand of a fold, an ofmap tile that
  accumulates over K chunks);
- an operand whose whole tensor fits one slot is one tile for the whole layer, fetched once (so DRAM reads
  equal its unique size: the ifmap elements the layer reads, the expanded filter matrix a digital array
  stores, block-circulant or not, every ofmap element);
- ofmap tiles that receive partial sums (a row fold after the first on ws / is) are read back from DRAM
  when they were drained before; such partial sums move at accumulator precision (`Layer.partial_sum_bits`),
  finished outputs at output precision (`ofmap_bits`).

Tile sizes are unique elements: an ifmap tile is the set of distinct (unpadded, non-inserted) ifmap pixels x
channels its im2col block (rows m0:m1, columns k0:k1; K ordered (r, s, c) with c fastest, as
sim.mapping.operands) touches; a filter tile is its k x n block; an ofmap tile its m x n block. Addresses are
the tile's first element in a row-major layout of its operand (for the DRAM row-buffer model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.hardware.spec import BuffersSpec
from sim.mapping.footprint import block_footprints
from sim.mapping.record import OPERAND_DIMS, OPERANDS, Mapping
from sim.mapping.residency import IN_DRAM, Residency, check_residency
from sim.mapping.systolic import buffer_slots, check_mapping, operand_totals
from sim.workload.layer import Layer

# Separate address regions per operand (multiples of any row size x banks, so the bank mapping is aligned).
REGION_BASE = {"ifmap": 0, "filter": 1 << 40, "ofmap": 2 << 40}


@dataclass(frozen=True, init=False)
class Tile:
    """One residency of an operand tile in its buffer."""

    elements: int
    address: int
    key: tuple[int, ...]
    readback_elements: int = 0  # ofmap only: partial sums read back from DRAM before the step
    previous: int = -1  # ofmap only: index of the earlier tile with the same key (its drain precedes the read)
    partial: bool = False  # ofmap only: drained as partial sums (a later tile reads them back), at psum precision

    def __init__(self, elements: int, address: int, key: tuple[int, ...], readback_elements: int = 0,
                 previous: int = -1, partial: bool = False) -> None:
        # Fills the instance dict directly (a plan makes a tile per step; the frozen __init__'s five
        # object.__setattr__ calls cost twice as much); assignment afterwards still raises FrozenInstanceError.
        values = self.__dict__
        values["elements"] = elements
        values["address"] = address
        values["key"] = key
        values["readback_elements"] = readback_elements
        values["previous"] = previous
        values["partial"] = partial


@dataclass(frozen=True)
class LayerPlan:
    """Steps in execution order and, per operand, the tiles they use.

    `steps` is int64 (steps, 5): fold, compute cycles, ifmap tile, filter tile, ofmap tile.
    """

    steps: np.ndarray
    tiles: dict[str, tuple[Tile, ...]]
    slots: dict[str, int]
    slot_elements: dict[str, int]
    whole: dict[str, bool]  # operand held for the whole layer in one tile
    # A whole-held ofmap drained as it finishes (buffers.ofmap.drain_finished): per step, the (elements, address)
    # of the outputs the step finishes (its block at the last chunk of K), written after it; () otherwise.
    drains: tuple[tuple[int, int], ...] = ()
    # Across layers (sim.mapping.residency): the whole ifmap is already on chip (placed, not read from DRAM); the whole
    # ofmap stays on chip for the next layer (its slot is freed, nothing is written).
    ifmap_on_chip: bool = False
    ofmap_kept: bool = False

    @property
    def compute_cycles(self) -> int:
        return int(self.steps[:, 1].sum())


def ifmap_footprint(layer: Layer, m0: int, m1: int, k0: int, k1: int) -> int:
    """Distinct stored ifmap elements (of one group) that the im2col block rows m0:m1, columns k0:k1 touch."""
    return int(block_footprints(layer, np.array([m0, m1]), np.array([k0, k1]))[0, 0])


# Where each GEMM dimension sits in a step's block (group, m0, m1, k0, k1, n0, n1); an operand's tile key is the
# entries of the dimensions it spans.
_BLOCK_ENTRIES = {"G": (0,), "M": (1, 2), "K": (3, 4), "N": (5, 6)}
KEY_COLUMNS = {name: [entry for dim in OPERAND_DIMS[name] for entry in _BLOCK_ENTRIES[dim]] for name in OPERANDS}


def _ifmap_footprints(layer: Layer, keys: list[tuple[int, ...]]) -> list[int]:
    """ifmap_footprint of each ifmap tile key (group, m0, m1, k0, k1). A plan's ifmap blocks are the cells of one
    grid (fold edges on the array's axes, chunk edges on the temporal one), counted in one footprint_counter call;
    a block that is not one cell of it is counted alone."""
    m_edges = sorted({m for _, m0, m1, _, _ in keys for m in (m0, m1)})
    k_edges = sorted({k for _, _, _, k0, k1 in keys for k in (k0, k1)})
    row = {m: i for i, m in enumerate(m_edges)}
    column = {k: j for j, k in enumerate(k_edges)}
    grid = block_footprints(layer, np.array(m_edges, dtype=np.int64), np.array(k_edges, dtype=np.int64)).tolist()
    return [grid[row[m0]][column[k0]] if row[m1] == row[m0] + 1 and column[k1] == column[k0] + 1
            else ifmap_footprint(layer, m0, m1, k0, k1) for _, m0, m1, k0, k1 in keys]


def _chunked_steps(bounds: list[list[int]], all_cycles: list[int], temporal_axis: int,
                   chunks: int, fold_of: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fold, compute cycles, block) of every step: each fill's temporal extent in `chunks` near-equal chunks
    (the mapping's parts of T), one step per chunk; `fold_of`: each fill's first fold. Whole arrays at once: a
    layer may have millions of steps."""
    lo_at, hi_at = 1 + 2 * temporal_axis, 2 + 2 * temporal_axis
    count = min(len(bounds), len(all_cycles), len(fold_of))
    if not count:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros((0, 7), dtype=np.int64)
    fills = np.asarray(bounds[:count], dtype=np.int64)
    i = np.tile(np.arange(chunks, dtype=np.int64), len(fills))
    blocks = np.repeat(fills, chunks, axis=0)
    lo = blocks[:, lo_at].copy()
    temporal = blocks[:, hi_at] - lo
    blocks[:, lo_at] = lo + (temporal * i) // chunks
    blocks[:, hi_at] = lo + (temporal * (i + 1)) // chunks
    # Cycles in proportion to the chunk's share of T; the integer parts add up to the fold's cycles.
    fold_cycles = np.repeat(np.asarray(all_cycles[:count], dtype=np.int64), chunks)
    cycles = (fold_cycles * (i + 1)) // chunks - (fold_cycles * i) // chunks
    return np.repeat(np.asarray(fold_of[:count], dtype=np.int64), chunks), cycles, blocks


def _chunks_outside_steps(mapping: Mapping, bounds: list[list[int]], pass_cycles: list[int],
                          fold_of: list[int]) -> tuple[list[int], list[int], list[list[int]]]:
    """(fold, compute cycles, block) of every step when the chunks of T run outside the fills (groups, column
    folds, chunks, fills): each step is one array pass with its own cycles (`pass_cycles`, in this order)."""
    chunks, fills, temporal_axis = mapping.chunks, mapping.fills, mapping.axes[2]
    lo_at, hi_at = 1 + 2 * temporal_axis, 2 + 2 * temporal_axis
    folds: list[int] = []
    blocks: list[list[int]] = []
    for first in range(0, len(bounds), fills):  # the fills of one (group, column fold)
        for i in range(chunks):
            for fill in range(first, first + fills):
                chunk = bounds[fill].copy()
                lo, temporal = chunk[lo_at], chunk[hi_at] - chunk[lo_at]
                chunk[lo_at] = lo + (temporal * i) // chunks
                chunk[hi_at] = lo + (temporal * (i + 1)) // chunks
                folds.append(fold_of[fill])
                blocks.append(chunk)
    return folds, list(map(int, pass_cycles)), blocks


def plan_steps(mapping: Mapping, pass_cycles: list[int]) -> tuple:
    """(fold, compute cycles, GEMM block [group, m0, m1, k0, k1, n0, n1]) of every step in execution order, from the
    cycles of each array pass (sim.analytical.systolic.step_cycles) and the mapping's chunks and chunk order. With F
    row folds per stationary fill (Mapping.row_folds_per_fill) a step's block is the union of a fill's F row-fold
    blocks (Mapping.fill_bounds) and its fold is the fill's first. Lists, or int64 arrays (blocks: steps x 7) when
    the fills are chunked (a layer may have millions of steps)."""
    bounds = np.asarray(mapping.fill_bounds).tolist()
    fill = mapping.row_folds_per_fill
    fold_of = list(range(len(bounds)))
    if fill > 1:
        fills, row_folds = mapping.fills, mapping.row_folds
        fold_of = [(i // fills) * row_folds + (i % fills) * fill for i in fold_of]
    if mapping.chunks == 1:  # no fill is chunked: a step per fill
        return fold_of, list(map(int, pass_cycles)), bounds
    if mapping.steps_per_fold > 1:  # chunks outside several fills: a step is an array pass
        return _chunks_outside_steps(mapping, bounds, pass_cycles, fold_of)
    return _chunked_steps(bounds, pass_cycles, mapping.axes[2], mapping.chunks, fold_of)


def plan_layer(layer: Layer, buffers: BuffersSpec, mapping: Mapping, fold_cycles: np.ndarray,
               residency: Residency = IN_DRAM, doubled: dict[str, bool] | None = None) -> LayerPlan:
    """The steps and tiles of one layer under `mapping`'s folds, whole operands and chunks of T (see the module
    docstring); MappingError when the mapping does not cover the layer or a tile cannot fit. `fold_cycles` are the
    cycles of each array pass (sim.analytical.systolic.step_cycles): per fold, or per step when the chunks of T run
    outside the row folds (Mapping.chunk_order), where a step reloads the stationary operand."""
    check_mapping(layer, buffers, mapping, doubled)
    check_residency(mapping, residency)
    bits = layer.operand_bits
    slots, slot = buffer_slots(buffers, layer, doubled)  # `doubled`: the mapping's decision (sim.mapping.buffering)
    gemm = layer.gemm
    m_total, k_total, n_total = gemm.m, gemm.k, gemm.n
    totals = operand_totals(layer)
    whole = {name: name in mapping.whole for name in OPERANDS}
    elem_bytes = {name: -(-bits[name] // 8) for name in OPERANDS}
    # Plain Python ints (tolist) for the per-step loops: numpy scalars are slow to index and compare one by one.
    all_cycles = np.asarray(fold_cycles).tolist()

    folds, cycles, blocks = plan_steps(mapping, all_cycles)
    blocks = np.asarray(blocks, dtype=np.int64).reshape(-1, 7)
    count = len(blocks)
    steps = np.zeros((count, 5), dtype=np.int64)
    steps[:, 0], steps[:, 1] = folds, cycles
    tiles: dict[str, tuple[Tile, ...]] = {}
    for column, name in enumerate(OPERANDS, start=2):
        base = REGION_BASE[name]
        if whole[name]:
            tiles[name] = (Tile(totals[name], base, ("whole",)),) if count else ()
            continue
        # A tile used by consecutive steps is fetched once: a new tile where a step's key differs from the last.
        entries = blocks[:, KEY_COLUMNS[name]]
        changed = (entries[1:] != entries[:-1]).any(axis=1)
        if count:
            steps[1:, column] = np.cumsum(changed)
        keys = list(map(tuple, entries[np.flatnonzero(np.concatenate([[count > 0], changed]))].tolist()))
        size = elem_bytes[name]
        if name == "ifmap":
            tiles[name] = tuple(Tile(elements, base + ((group * m_total + m0) * k_total + k0) * size, key)
                                for key, (group, m0, _, k0, _), elements
                                in zip(keys, keys, _ifmap_footprints(layer, keys)))
        elif name == "filter":
            tiles[name] = tuple(Tile((k1 - k0) * (n1 - n0), base + ((group * k_total + k0) * n_total + n0) * size, key)
                                for key, (group, k0, k1, n0, n1) in zip(keys, keys))
        else:
            last_of_key: dict[tuple[int, ...], int] = {}
            previous_of = []
            for position, key in enumerate(keys):
                previous_of.append(last_of_key.get(key, -1))
                last_of_key[key] = position
            # A drain is partial sums when a later tile of the same block reads them back.
            read_back = set(previous_of)
            ofmap: list[Tile] = []
            for position, (key, previous) in enumerate(zip(keys, previous_of)):
                group, m0, m1, n0, n1 = key
                elements = (m1 - m0) * (n1 - n0)
                # Partial sums wait in DRAM only when an earlier row fold drained this same block.
                ofmap.append(Tile(elements, base + ((group * m_total + m0) * n_total + n0) * size, key,
                                  elements if previous >= 0 else 0, previous, position in read_back))
            tiles[name] = tuple(ofmap)
    drains: tuple[tuple[int, int], ...] = ()
    if whole["ofmap"] and buffers.ofmap.drain_finished and not residency.ofmap_kept:
        # A step whose block reaches the end of K finishes its outputs: every output exactly once, in step order.
        base, size = REGION_BASE["ofmap"], elem_bytes["ofmap"]
        group, m0, m1, k1, n0, n1 = (blocks[:, i] for i in (0, 1, 2, 4, 5, 6))
        done = k1 == k_total
        elements = np.where(done, (m1 - m0) * (n1 - n0), 0)
        address = np.where(done, base + ((group * m_total + m0) * n_total + n0) * size, 0)
        drains = tuple(zip(elements.tolist(), address.tolist()))
    return LayerPlan(
        steps=steps,
        tiles=tiles,
        slots=slots,
        slot_elements=slot,
        whole=whole,
        drains=drains,
        ifmap_on_chip=residency.ifmap_on_chip,
        ofmap_kept=residency.ofmap_kept,
    )
