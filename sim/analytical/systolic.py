"""Closed-form model of a systolic array (os / ws / is) layer: cycles, SRAM and DRAM traffic, stalls, energy.

Timing conventions (docs/systolic.md):
- "native": the per-cycle reference's timing. A fold using r of R rows and c of C columns, streaming T
  elements, takes R + r + c + T - 2 cycles, from the first operand entering the array to the last result
  leaving it through the bottom edge; folds do not overlap.
- "scalesim": SCALE-Sim 3.0.0's per-fold formulas (ws/is: 2R + C + T - 2, os: R + C + T - 2, whatever the
  fold's occupancy), and its per-layer "Total Cycles" = sum over folds - 1, an index rather than a count
  (SCALE-Sim expands a depthwise layer into one layer per channel, so a grouped layer loses 1 per group).

SRAM traffic per fold: every operand element enters the array once per fold and is forwarded PE to PE,
so reads are the fold's operand block sizes (im2col duplicates count, as in SCALE-Sim). ws/is folds after
the first row fold read back and rewrite the partial sums of their outputs. Partial sums that go to DRAM and
back move at accumulator precision (`psum_bits`), finished outputs at output precision (`ofmap_bits`); the
ofmap buffer's elements are the wider of the two.

DRAM traffic (elements) follows the engine's static tile plan (sim/engine/tiling.py, docs/systolic.md) in
closed form, without running it: an operand whose whole tensor fits one slot of its buffer (half of it when
double-buffered) is read once (the ifmap: the elements the layer reads); otherwise each fold's streamed extent T is split into the fewest equal chunks
whose tiles fit, a tile is fetched whenever a step's tile differs from the previous step's, an ifmap tile
counts the distinct stored ifmap elements its im2col block touches (sim.mapping.footprint), and ofmap tiles
drain at every change and are read back when drained before. Per operand this equals the engine exactly.
Cycles price the engine's timeline (docs/systolic.md): max(compute + first-tile fetch + read latency + last drain +
the tile changes a single-buffered operand serializes with the steps + prefetches held up behind them or behind
bursts of writes, the write tail of finished outputs, the read tail (every read before the last step),
ceil(DRAM bytes / shared bandwidth), ceil(operand bytes / operand port bandwidth)). The last drain is the last ofmap
tile, or, for a whole-held ofmap, the whole ofmap; with buffers.ofmap.drain_finished the whole-held ofmap is written
block by block as outputs finish, so the last drain is the last step's block. Terms that average over steps, fills
or column folds keep the closed form within 5 % above the engine at most (tested), not a strict lower bound.
"""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from sim.analytical.levels import (check_fill, check_registers, level_grid, max_row_folds_per_fill,
                                   max_streamed_per_stationary_read, price_levels, stationary_register_reads,
                                   timeline_hardware)
from sim.energy.tables import apply
from sim.errors import MappingError
from sim.hardware.hierarchy import is_today, misfit_error
from sim.hardware.spec import Hardware
from sim.mapping.buffering import auto_names, has_auto, psum_register, resolve, stationary_register
from sim.mapping.footprint import footprint_counter, is_plain_matrix
from sim.mapping.record import OPERANDS, Mapping
from sim.mapping.residency import IN_DRAM, Residency, check_residency
# Scalar-or-array helpers shared with the mapping's chunking: plain Python for scalars (one point), numpy for the
# grid, where numpy on 0-d arrays would cost ~1 us a call.
from sim.mapping.systolic import _ceil_div, _maximum, _minimum, _where
from sim.mapping.systolic import (DATAFLOW_NAMES, ROWS_AND_COLS, ROWS_AND_TIME, SPAN_KIND, buffer_bits,
                                  check_mapping, chunking, map_systolic, operand_totals, slot_elements)
from sim.records import ActionCounts, LayerResult, OperandCounts
from sim.workload.layer import Layer

CONVENTIONS = ("native", "scalesim")
OS, WS, IS = (DATAFLOW_NAMES.index(name) for name in ("os", "ws", "is"))


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise MappingError("unknown cycle convention", field="pe_array.cycle_convention", value=convention,
                           allowed=", ".join(CONVENTIONS))


def fold_cycles(mapping: Mapping, convention: str, double_buffered_stationary: bool = False) -> np.ndarray:
    """int64 (folds,): compute cycles of each fold, in fold order, under `convention` ("native"/"scalesim").

    With `double_buffered_stationary` (pe_array option; ws and is only) a fold's preload of its stationary operand,
    the R (= rows) cycles of its count, runs during the previous fold: a fold after the first is shorter by
    min(R, the previous fold's cycles after its own preload)."""
    _check_convention(convention)
    used = mapping.fold_used
    rows, cols, temporal = mapping.rows, mapping.cols, mapping.temporal
    if convention == "native":
        cycles = (rows + used[:, 0] + used[:, 1] + temporal - 2).astype(np.int64)
    else:
        per_fold = (rows if mapping.dataflow == "os" else 2 * rows) + cols + temporal - 2
        cycles = np.full(mapping.folds, per_fold, dtype=np.int64)
    if double_buffered_stationary and mapping.dataflow != "os" and cycles.size > 1:
        cycles[1:] -= np.minimum(rows, cycles[:-1] - rows)
    return cycles


def step_cycles(mapping: Mapping, convention: str, double_buffered_stationary: bool = False) -> np.ndarray:
    """int64 (array passes,): compute cycles of each pass of the array, in execution order. A pass loads the
    stationary operand once: a fold (chunk order "innermost": a fold's chunks of T share one load), or, with chunks
    of T outside the row folds (Mapping.chunk_order), one chunk of one fold, in the order groups, column folds,
    chunks, row folds, costing a fold's count with the chunk's length as T."""
    if mapping.row_folds_per_fill > 1:
        return _fill_cycles(mapping, convention, double_buffered_stationary)
    if mapping.steps_per_fold == 1:
        return fold_cycles(mapping, convention, double_buffered_stationary)
    _check_convention(convention)
    chunks, rows, temporal = mapping.chunks, mapping.rows, mapping.temporal
    edges = (temporal * np.arange(chunks + 1, dtype=np.int64)) // chunks
    lengths = np.diff(edges).reshape(1, 1, chunks, 1)
    used = mapping.fold_used.reshape(mapping.groups, mapping.col_folds, 1, mapping.row_folds, 2)
    if convention == "native":
        cycles = rows + used[..., 0] + used[..., 1] + lengths - 2
    else:  # os never runs this order (check_mapping), so the per-pass count is ws / is's
        cycles = np.broadcast_to(2 * rows + mapping.cols + lengths - 2,
                                 (mapping.groups, mapping.col_folds, chunks, mapping.row_folds))
    cycles = np.array(cycles, dtype=np.int64).reshape(-1)  # a writable copy of the broadcast
    if double_buffered_stationary and cycles.size > 1:
        cycles[1:] -= np.minimum(rows, cycles[:-1] - rows)
    return cycles


def _fill_cycles(mapping: Mapping, convention: str, double_buffered_stationary: bool) -> np.ndarray:
    """step_cycles with F row folds per stationary fill (ws / is): one pass per fill (and per chunk of T when chunks
    are outside the fills), in the order groups, column folds, [chunks,] fills. A pass of F_i row folds (F or the
    remainder) and T length t: native F_i R + r_last + c + F_i t - 2 (F_i R register rows preloaded, one skew of
    the fill's last row fold and its c columns, F_i t streaming cycles); "scalesim" F_i 2R + C + F_i t - 2.
    Double-buffered, a pass's preload F_i R hides under the previous pass's cycles after its own preload."""
    _check_convention(convention)
    fill, rows, fills, temporal = mapping.row_folds_per_fill, mapping.rows, mapping.fills, mapping.temporal
    passes = mapping.steps_per_fold
    edges = (temporal * np.arange(passes + 1, dtype=np.int64)) // passes
    lengths = np.diff(edges).reshape(1, 1, passes, 1)
    per_fill = np.minimum(fill, mapping.row_folds - fill * np.arange(fills, dtype=np.int64)).reshape(1, 1, 1, fills)
    bounds = mapping.fill_bounds.reshape(mapping.groups, mapping.col_folds, 1, fills, 7)
    row_axis, col_axis, _ = mapping.axes
    # The fill's last row fold's used rows (only the layer's last row fold is partial) and the columns used.
    last_rows = (bounds[..., 2 + 2 * row_axis] - bounds[..., 1 + 2 * row_axis]) - rows * (per_fill - 1)
    used_cols = bounds[..., 2 + 2 * col_axis] - bounds[..., 1 + 2 * col_axis]
    if convention == "native":
        cycles = per_fill * rows + last_rows + used_cols + per_fill * lengths - 2
    else:
        cycles = 2 * rows * per_fill + mapping.cols + per_fill * lengths - 2 + 0 * used_cols
    shape = (mapping.groups, mapping.col_folds, passes, fills)
    cycles = np.array(np.broadcast_to(cycles, shape), dtype=np.int64).reshape(-1)
    if double_buffered_stationary and cycles.size > 1:
        preload = np.array(np.broadcast_to(per_fill * rows, shape), dtype=np.int64).reshape(-1)
        cycles[1:] -= np.minimum(preload[1:], cycles[:-1] - preload[:-1])
    return cycles


def layer_compute_cycles(mapping: Mapping, convention: str, double_buffered_stationary: bool = False) -> int:
    """The layer's compute cycles: the sum of step_cycles; "scalesim" subtracts SCALE-Sim's -1 per group."""
    total = int(step_cycles(mapping, convention, double_buffered_stationary).sum())
    return total - mapping.groups if convention == "scalesim" else total


def _hidden_preloads(rows, cols, row_folds, col_folds, last_row, last_col, temporal, groups, convention_scalesim,
                     passes=1, fill=1):
    """Cycles of stationary preloads hidden under the previous pass (double_buffered_stationary), summed over a
    layer's passes in closed form: over every pass but the last, min(the next pass's preload F_next R, the pass's
    cycles after its own preload: r_last + c + F_i t - 2 native, F_i R + C + F_i t - 2 "scalesim"). Passes use
    (R or the last row fold's r) x (C or the last column fold's c) x a T of `passes` near-equal chunks (step_cycles):
    T mod passes of them one longer than T // passes, the last one T - T * (passes - 1) // passes long. With F row
    folds per fill (`fill`) a (group, column fold, chunk) runs fills of F row folds, the last of the remainder
    F_last; F_next depends only on a pass's place among them, so the sum goes over three kinds of fill: not among
    the last two (F, next F), the last but one (F, next F_last), the last (F_last, next the first fill)."""
    short, long_count = temporal // passes, temporal % passes
    fills = _ceil_div(row_folds, fill)
    fill_last = row_folds - fill * (fills - 1)

    def after(r, c, f, t):  # a pass's cycles after its own preload
        return _where(convention_scalesim, f * rows + cols + f * t - 2, r + c + f * t - 2)

    def hidden(r, f, f_next, c):  # summed over one (column fold)'s chunks
        return ((passes - long_count) * _minimum(f_next * rows, after(r, c, f, short))
                + long_count * _minimum(f_next * rows, after(r, c, f, short + 1)))

    def over_columns(r, f, f_next):
        return (col_folds - 1) * hidden(r, f, f_next, cols) + hidden(r, f, f_next, last_col)

    first_next = _where(fills > 1, fill, fill_last)
    per_group = (_maximum(fills - 2, 0) * over_columns(rows, fill, fill)
                 + _where(fills > 1, over_columns(rows, fill, fill_last), 0)
                 + over_columns(last_row, fill_last, first_next))
    last_length = temporal - (temporal * (passes - 1)) // passes
    return groups * per_group - _minimum(first_next * rows, after(last_row, last_col, fill_last, last_length))


def fold_sram_counts(mapping: Mapping) -> np.ndarray:
    """int64 (folds, 4): ifmap reads, filter reads, ofmap reads (partial-sum read-back), ofmap writes per fold (the
    stationary operand once per pass: Mapping.steps_per_fold times)."""
    b = mapping.fold_bounds
    m = b[:, 2] - b[:, 1]
    k = b[:, 4] - b[:, 3]
    n = b[:, 6] - b[:, 5]
    out = np.zeros((mapping.folds, 4), dtype=np.int64)
    out[:, 0] = m * k
    out[:, 1] = k * n
    out[:, 3] = m * n
    if mapping.dataflow != "os":
        # The K split across row folds leaves partial sums in the ofmap SRAM; later row folds add to them.
        # With F row folds per fill the partial sums stay in the PEs over a fill: read back at a fill's first
        # row fold after the first fill, written at its last.
        row, fill = mapping.fold_row_index, mapping.row_folds_per_fill
        out[:, 2] = np.where((row > 0) & (row % fill == 0), m * n, 0)
        out[:, 3] = np.where(((row + 1) % fill == 0) | (row == mapping.row_folds - 1), m * n, 0)
        out[:, OPERANDS.index(mapping.stationary)] *= mapping.steps_per_fold
    return out


def _hold_cycles(size_bytes, bandwidth):
    """Cycles a transfer holds a channel (0 when the bandwidth is unlimited): the engine's, before burst padding."""
    if isinstance(bandwidth, float) and not isinstance(size_bytes, np.ndarray):
        return math.ceil(size_bytes / bandwidth) if math.isfinite(bandwidth) else 0
    if np.ndim(bandwidth) == 0:  # one bandwidth for a batch (the mapper's candidates): no masking
        bandwidth = float(bandwidth)
        if not math.isfinite(bandwidth):
            return np.zeros(np.shape(size_bytes), dtype=np.int64)
        return np.ceil(np.asarray(size_bytes) / bandwidth).astype(np.int64)
    bandwidth = np.asarray(bandwidth, dtype=np.float64)
    finite = np.isfinite(bandwidth)
    return np.where(finite, np.ceil(size_bytes / np.where(finite, bandwidth, 1.0)), 0).astype(np.int64)


# From this many ws chunkings of one row extent, counting them together beats one tiling at a time.
MANY_CHUNKINGS = 32
# Or from this many chunks in all per row of M (c * 8 >= M): one tiling's count grows with its chunks, the batch's not.
ROWS_PER_BATCHED_CHUNK = 8


def _edges(extent: int, step: int) -> np.ndarray:
    return np.append(np.arange(0, extent, step, dtype=np.int64), extent)


def _chunk_edges(extent: int, chunks: int) -> np.ndarray:
    return (extent * np.arange(chunks + 1, dtype=np.int64)) // chunks


def _ifmap_blocks(layer: Layer, dataflow, row_ext, col_ext, chunks):
    """Per point: (sum over one group's distinct ifmap tile blocks of their footprints, the first block's).

    The blocks tile the group's im2col matrix: row folds x chunks of T (os: M x K, ws: K x M) or row folds x
    column folds (is: K x M). A plain-matrix layer is closed form; a conv layer is counted exactly once per
    distinct (dataflow, row extent, chunks or column extent) among the points, many at once where they share a row
    partition (os: every chunking of K, is: every row extent) or column blocks (ws: every chunking of M)."""
    g = layer.gemm
    is_os, is_ws = dataflow == OS, dataflow == WS
    t_first = _where(is_os, g.k, g.m) // chunks
    first_m = _where(is_os, row_ext, _where(is_ws, t_first, col_ext))
    first_k = _where(is_os, t_first, row_ext)
    if is_plain_matrix(layer):
        return g.m * g.k, first_m * first_k
    second = _where(dataflow == IS, col_ext, chunks)
    if isinstance(dataflow, int):
        return _one_tiling_footprints(layer, dataflow, int(row_ext), int(second))
    block_footprints = footprint_counter(layer)
    shape = np.broadcast_shapes(np.shape(dataflow), np.shape(row_ext), np.shape(second))
    keys = np.stack([np.broadcast_to(v, shape).ravel() for v in (dataflow, row_ext, second)], axis=1)
    # One int64 key per row (np.unique over rows of a 2-D array is many times slower on large batches).
    bounds = keys.max(axis=0) + 1 if keys.size else np.ones(3, dtype=np.int64)
    flat = (keys[:, 0] * bounds[1] + keys[:, 1]) * bounds[2] + keys[:, 2]
    _, first_row, inverse = np.unique(flat, return_index=True, return_inverse=True)
    # A layer's tilings come back batch after batch (the search's zoom rounds, the other objective's search, the
    # records it validates and prices across layers): each is counted once, kept on the layer's counter.
    known = block_footprints.tilings
    distinct_keys = list(map(tuple, keys[first_row].tolist()))
    new = [n for n, key in enumerate(distinct_keys) if key not in known]
    if new:
        counted = _count_tilings(layer, block_footprints, keys[first_row][new])
        known.update(zip([distinct_keys[n] for n in new], counted))
    found = np.array([known[key] for key in distinct_keys], dtype=np.int64).reshape(-1, 2)
    inverse = inverse.ravel()
    return found[inverse, 0].reshape(shape), found[inverse, 1].reshape(shape)


def _count_tilings(layer: Layer, block_footprints, distinct: np.ndarray) -> list[tuple[int, int]]:
    """(sum, first block's) per row of `distinct` (dataflow, row extent, chunks or column extent), counted many at
    once where they share a row partition (os: every chunking of K, is: every row extent) or column blocks (ws: every
    chunking of M)."""
    g = layer.gemm
    total = np.empty(len(distinct), dtype=np.int64)
    first = np.empty(len(distinct), dtype=np.int64)
    # os: every chunking of K over one row extent at once (the mapper's long chunk ladders); the rest one by one.
    chunked = distinct[:, 0] == OS
    for step in np.unique(distinct[chunked, 1]).tolist():
        rows = np.flatnonzero(chunked & (distinct[:, 1] == step))
        total[rows], first[rows] = block_footprints.k_chunkings(_edges(g.m, step), g.k, distinct[rows, 2])
    # ws: many chunkings of M over one row extent at once where the linked-touch work is small enough.
    for step in np.unique(distinct[distinct[:, 0] == WS, 1]).tolist():
        rows = np.flatnonzero((distinct[:, 0] == WS) & (distinct[:, 1] == step))
        if rows.size >= MANY_CHUNKINGS or int(distinct[rows, 2].sum()) * ROWS_PER_BATCHED_CHUNK >= g.m:
            counted = block_footprints.m_chunkings(_edges(g.k, step), g.m, distinct[rows, 2])
            if counted is not None:
                total[rows], first[rows] = counted
                chunked[rows] = True
    # is: every row extent over one column extent at once (the fills F).
    for col_ext in np.unique(distinct[distinct[:, 0] == IS, 2]).tolist():
        rows = np.flatnonzero((distinct[:, 0] == IS) & (distinct[:, 2] == col_ext))
        total[rows], first[rows] = block_footprints.k_tilings(_edges(g.m, col_ext), g.k, distinct[rows, 1])
        chunked[rows] = True
    for i in np.flatnonzero(~chunked).tolist():
        flow, step, other = distinct[i].tolist()
        total[i], first[i] = _tiling_footprints(g, block_footprints, flow, step, other)
    return list(zip(total.tolist(), first.tolist()))


def _one_tiling_footprints(layer: Layer, flow: int, step: int, other: int) -> tuple[int, int]:
    counter = footprint_counter(layer)
    key = (flow, step, other)
    if key not in counter.tilings:
        counter.tilings[key] = _tiling_footprints(layer.gemm, counter, flow, step, other)
    return counter.tilings[key]


def _tiling_footprints(g, block_footprints, flow: int, step: int, other: int) -> tuple[int, int]:
    """(sum of the footprints of one group's ifmap blocks, the first block's) for one tiling: row extent `step`
    and `other` = chunks of T (os, ws) or the column extent (is)."""
    if flow == OS:
        m_edges, k_edges = _edges(g.m, step), _chunk_edges(g.k, other)
    elif flow == WS:
        m_edges, k_edges = _chunk_edges(g.m, other), _edges(g.k, step)
    else:
        m_edges, k_edges = _edges(g.m, other), _edges(g.k, step)
    blocks = block_footprints(m_edges, k_edges)
    return int(blocks.sum()), int(blocks[0, 0])


def _dram_traffic(layer: Layer, rows, cols, dataflow, capacity: dict, geometry=None, drain_finished=False,
                  chunks_outside=False, residency: Residency = IN_DRAM) -> dict:
    """DRAM elements per operand under the engine's tile plan (sim/engine/tiling.py semantics), in closed form.

    A tile is fetched when the step's tile key differs from the previous step's. Folds run groups, column
    folds, row folds (innermost), each fold in `chunks` steps of its streamed axis T. So, per group, with U the
    sum of the operand's distinct block sizes (for the ifmap: footprints): a tile over rows x columns is new every
    fold (U); a tile over rows x T is new every fold when there are several row folds or chunks (col_folds x U),
    else once (U); a tile over columns x T is new every step when T is chunked (row_folds x U), else once per
    column fold (U). A whole-resident operand is read once. Ofmap tiles are written at every change and read
    back when their key was written before: read-backs = writes - distinct ofmap = writes - M*N per group.
    With `chunks_outside` (Mapping.chunk_order "outside_row_folds": groups, column folds, chunks, row folds) a tile
    over columns x T stays over the row folds (U: a ws / is partial-sum block is never drained mid-sum) and a tile
    over rows x columns, the stationary one, is new every step when there are several row folds (chunks x U).
    Across layers (`residency`, sim.mapping.residency): an ifmap on chip from the previous layer is not read, a kept
    ofmap is not written (both are held whole then).
    """
    g = layer.gemm
    totals = operand_totals(layer)
    if geometry is None:  # a grid point's tiling; one mapping's comes from its record (check_mapping)
        geometry = chunking(rows, cols, dataflow, g.m, g.k, g.n, totals, capacity)
    chunks, row_folds, col_folds = geometry["chunks"], geometry["row_folds"], geometry["col_folds"]
    ifmap_sum, ifmap_first = _ifmap_blocks(layer, dataflow, geometry["row_ext"], geometry["col_ext"], chunks)
    unique = {"ifmap": ifmap_sum, "filter": g.k * g.n, "ofmap": g.m * g.n}
    fetched, tiles, blocks = {}, {}, {}
    for name in OPERANDS:
        kind = SPAN_KIND[name][dataflow] if isinstance(dataflow, int) else np.asarray(SPAN_KIND[name])[dataflow]
        times = _where(kind == ROWS_AND_COLS, _where(chunks_outside & (row_folds > 1), chunks, 1),
                       _where(kind == ROWS_AND_TIME, _where((chunks > 1) | (row_folds > 1), col_folds, 1),
                              _where(chunks_outside, 1, _where(chunks > 1, row_folds, 1))))
        fetched[name] = _where(geometry["whole"][name], totals[name], g.groups * unique[name] * times)
        # Distinct blocks of one group (row folds x column folds, row folds x chunks, column folds x chunks) and the
        # tiles the layer moves: a block is fetched `times` times.
        blocks[name] = _where(kind == ROWS_AND_COLS, row_folds * col_folds,
                              _where(kind == ROWS_AND_TIME, row_folds * chunks, col_folds * chunks))
        tiles[name] = _where(geometry["whole"][name], 1, g.groups * blocks[name] * times)
    readback = _where(geometry["whole"]["ofmap"], 0, fetched["ofmap"] - g.groups * g.m * g.n)
    if residency.ifmap_on_chip:
        fetched["ifmap"] = 0
    if residency.ofmap_kept:
        fetched["ofmap"] = 0
    # First step's ifmap and filter tiles (the layer cannot start before both arrive), last step's ofmap tile.
    is_os, is_ws = dataflow == OS, dataflow == WS
    temporal = geometry["temporal"]
    t_first = temporal // chunks
    t_last = temporal - (temporal * (chunks - 1)) // chunks
    last_row = geometry["spatial_rows"] - rows * (row_folds - 1)
    last_col = geometry["spatial_cols"] - cols * (col_folds - 1)
    first_k = _where(is_os, t_first, geometry["row_ext"])
    first_n = _where(is_os | is_ws, geometry["col_ext"], t_first)
    last_m = _where(is_os, last_row, _where(is_ws, t_last, last_col))
    last_n = _where(is_os | is_ws, last_col, t_last)
    whole = geometry["whole"]
    return {
        "dram_ifmap_reads": fetched["ifmap"], "dram_filter_reads": fetched["filter"],
        "dram_ofmap_reads": readback, "dram_ofmap_writes": fetched["ofmap"],
        "first_ifmap_tile": 0 if residency.ifmap_on_chip else _where(whole["ifmap"], totals["ifmap"], ifmap_first),
        "first_filter_tile": _where(whole["filter"], totals["filter"], first_k * first_n),
        # A whole ofmap drained as it finishes (buffers.ofmap.drain_finished) ends with the last step's block.
        "last_ofmap_tile": 0 if residency.ofmap_kept else _where(_where(drain_finished, False, whole["ofmap"]),
                                                                  totals["ofmap"], last_m * last_n),
        "chunks": chunks, "misfit": geometry["misfit"],
        "tiles": tiles, "whole": whole, "ofmap_readbacks": _where(geometry["whole"]["ofmap"], 0,
                                                  tiles["ofmap"] - g.groups * blocks["ofmap"]),
    }


def _sram_counts(m, k, n, groups, row_folds, col_folds, is_os, is_ws, passes=1):
    """SRAM ifmap reads, filter reads, ofmap reads (partial sums read back) and ofmap writes of a whole layer: the
    per-fold counts of `fold_sram_counts` summed, in closed form (scalars or arrays); ws / is read their stationary
    block once per pass (`passes` per fold)."""
    gemm_mk, gemm_kn, gemm_mn = groups * m * k, groups * k * n, groups * m * n
    ifmap = _where(is_os | is_ws, col_folds * gemm_mk, passes * gemm_mk)
    filter_ = _where(is_os, row_folds * gemm_kn, _where(is_ws, passes * gemm_kn, col_folds * gemm_kn))
    ofmap_reads = _where(is_os, 0, (row_folds - 1) * gemm_mn)
    ofmap_writes = _where(is_os, gemm_mn, row_folds * gemm_mn)
    return ifmap, filter_, ofmap_reads, ofmap_writes


def sram_count_totals(mapping: Mapping) -> tuple[int, int, int, int]:
    """`fold_sram_counts(mapping).sum(axis=0)` as Python ints, without building the per-fold arrays."""
    m, k, n = mapping.gemm_dims
    code = mapping.dataflow_code
    return _sram_counts(m, k, n, mapping.groups, mapping.fills, mapping.col_folds, code == OS, code == WS,
                        mapping.steps_per_fold)


def _serialized(traffic: dict, single: dict, input_bytes: dict, readback_bytes, drain_bytes, bandwidth, ports: dict,
                latency_cycles, finished_bytes=0, finishing_steps=1):
    """Cycles the array waits, beyond the first tiles and the last drain, for tiles of single-buffered operands
    (one slot): a new tile's fetch can start only when the step before has released the slot, and the next step
    needs it, so every tile change but the first is serialized with the steps (the engine's timeline). An input's
    fetch costs its transfer plus the read latency; an ofmap tile change costs the drain of the old tile (its slot
    frees when written) and then the read-back of the new one's partial sums. `input_bytes`: each input's bytes
    beyond its first tile; `drain_bytes`: ofmap bytes written beyond the last tile. Operands change tiles at nested
    step boundaries (every step, fill, column fold), so their transfers at one boundary run together: the shared
    channel carries all of them, each operand's port (if slower) its own, and one read latency is exposed per
    boundary with a read. A whole ofmap drained as it finishes (`finished_bytes` beyond the last block, written
    after each of `finishing_steps` steps) queues its writes on the channel before the next step's fetches."""
    # Operands whose buffer has two slots everywhere (a plain bool) take no part: skip their arrays.
    never = {name for name in OPERANDS if isinstance(single[name], bool) and not single[name]}
    if len(never) == len(OPERANDS):
        return 0, 0
    tiles, whole = traffic["tiles"], traffic["whole"]
    serial = {name: 0 if name in never else _where(_where(whole[name], False, single[name]), input_bytes[name], 0)
              for name in ("ifmap", "filter")}
    ofmap_single = _where(whole["ofmap"], False, single["ofmap"])
    waits = (serial["ifmap"] > 0) | (serial["filter"] > 0)
    # A double-buffered ofmap's drains, like a whole one's finished blocks, are queued before the next fetches.
    queued = _where(whole["ofmap"], finished_bytes, drain_bytes)
    serial["ofmap"] = _where(ofmap_single, drain_bytes + readback_bytes, _where(waits, queued, 0))
    changes = {"ifmap": tiles["ifmap"] - 1, "filter": tiles["filter"] - 1,
               "ofmap": _where(whole["ofmap"], finishing_steps, tiles["ofmap"]) - 1}
    taking = [name for name in OPERANDS if name not in never or name == "ofmap"]
    held = _boundary_cycles([serial[name] for name in taking], [_where(serial[name] > 0, changes[name], 0)
                                                                for name in taking],
                            bandwidth, [ports[name] for name in taking])
    reads = _maximum(_maximum(_where(serial["ifmap"] > 0, tiles["ifmap"] - 1, 0),
                              _where(serial["filter"] > 0, tiles["filter"] - 1, 0)),
                     _where(ofmap_single, traffic["ofmap_readbacks"], 0))
    boundaries = _maximum(_maximum(_where(serial["ifmap"] > 0, tiles["ifmap"] - 1, 0),
                                   _where(serial["filter"] > 0, tiles["filter"] - 1, 0)),
                          _where(ofmap_single, tiles["ofmap"] - 1, 0))
    return held + latency_cycles * reads, boundaries


def _boundary_cycles(sizes: list, changes: list, bandwidth, ports: list):
    """Transfer cycles of the serialized tile changes: operand i moves sizes[i] bytes over changes[i] step
    boundaries; the boundaries are nested (a column fold's is also a fill's and a step's), so the rarest operand's
    boundaries carry every operand, and so on. At a boundary the transfers share the channel and each runs on its
    own port: it lasts max(bytes / channel, each operand's bytes / its port)."""
    def rate(value):  # cycles per byte (0 for an unlimited link)
        value = np.asarray(value, dtype=np.float64)
        return np.where(np.isfinite(value), 1.0 / np.where(np.isfinite(value), value, 1.0), 0.0)

    count = [np.asarray(change, dtype=np.int64) for change in changes]
    per = [np.asarray(size, dtype=np.float64) / np.maximum(change, 1) for size, change in zip(sizes, count)]
    alone = [bytes_ * rate(port) for bytes_, port in zip(per, ports)]
    channel = rate(bandwidth)
    total = 0.0
    for i in range(len(sizes)):
        # Operand i's own level of boundaries (ties broken by position): every operand changing at least as often
        # moves there, over the boundaries beyond the next rarer level.
        together = [(count[j] > count[i]) | ((count[j] == count[i]) & (j >= i)) for j in range(len(sizes))]
        rarer = 0
        for j in range(len(sizes)):
            rarer = np.maximum(rarer, np.where(together[j], 0, count[j]))
        shared = sum(np.where(together[j], per[j], 0.0) for j in range(len(sizes))) * channel
        own = 0.0
        for j in range(len(sizes)):
            own = np.maximum(own, np.where(together[j], alone[j], 0.0))
        levels = np.where(together[i], count[i] - rarer, 0)
        total = total + levels * np.maximum(shared, own)
    held = np.floor(np.asarray(total) + 1e-9).astype(np.int64)
    return int(held) if held.ndim == 0 else held


def _blocking(traffic: dict, single: dict, input_bytes: dict, bandwidth, boundaries, compute):
    """Cycles a double-buffered input's prefetches hold up the serialized chain (`_serialized`): the channel serves
    requests in arrival order, so a single-buffered operand's next tile waits behind a prefetch issued before it,
    and only the steps up to the next serialized tile change (compute / (boundaries + 1) each) can run meanwhile."""
    tiles, whole = traffic["tiles"], traffic["whole"]
    cover = compute // (boundaries + 1)
    total = 0
    for name in ("ifmap", "filter"):
        prefetched = _where(_where(whole[name], False, single[name]), False, True)
        held = _hold_cycles(input_bytes[name], bandwidth)
        total = total + _where(prefetched, _maximum(held - (tiles[name] - 1) * cover, 0), 0)
    return _where(boundaries > 0, total, 0)


def _write_bursts(traffic: dict, later_inputs: dict, drain_bytes, final_bytes, finishing, is_os, folds,
                  column_passes, steps, compute, hold, latency_cycles=0):
    """Cycles the array waits for double-buffered inputs' prefetches (no serialized chain): a prefetch is requested
    one input tile ahead, so it must arrive within the compute between two input changes, and the channel serves
    requests in arrival order, so the writes issued before it (a streamed ofmap tile's drain, or a column fold's
    finished outputs block by block) go first. Per input change: max(0, writes queued ahead + the fetch - the compute
    between changes, the read latency included). Writes as frequent as the input changes spread over them; rarer ones
    come in bursts (a burst of `run` consecutive writing steps overlaps its own steps' compute); the last burst is the
    layer's tail."""
    tiles, whole = traffic["tiles"], traffic["whole"]
    streamed = {name: _where(whole[name], False, tiles[name] > 1) for name in ("ifmap", "filter")}
    change = {name: later_inputs[name] // _maximum(tiles[name] - 1, 1) for name in ("ifmap", "filter")}
    finest = _maximum(_where(streamed["ifmap"], tiles["ifmap"], 1), _where(streamed["filter"], tiles["filter"], 1))
    # Both slots fill at the start, so the first change's tile is fetched before any write; the others are requested
    # as the tile before them is released.
    changes = _maximum(finest - 2, 0)
    # The inputs that change at (nearly) every input boundary, and those that change at every step.
    per_change = sum(_where(streamed[name] & (2 * tiles[name] > finest), hold(change[name]), 0)
                     for name in ("ifmap", "filter"))
    per_step = sum(_where(streamed[name] & (tiles[name] >= steps), hold(change[name]), 0)
                   for name in ("ifmap", "filter"))
    between, step = compute // finest, compute // steps
    # Finished outputs: per column fold (os: per fold), over its last fill's steps; a streamed ofmap: per tile change.
    groups_of = _where(is_os, folds, column_passes)
    issued = _where(finishing, groups_of - 1, _where(whole["ofmap"], 0, tiles["ofmap"] - 1))
    written = _where(finishing, final_bytes - final_bytes // _maximum(groups_of, 1), drain_bytes)
    bursts = _minimum(issued, changes)
    run = _where(finishing & ~np.asarray(is_os), steps // column_passes // _maximum(traffic["fills"], 1), 1)
    run = _where(bursts < changes, run, 1)
    backlog = _maximum(hold(written // _maximum(issued, 1)) + (run - 1) * (per_step - step), 0)
    # Without a burst, two fetches are in flight (two slots): the read latency is paid once per two changes.
    steady = _maximum(per_change - between, (per_change + latency_cycles - between) // 2)
    return (bursts * _maximum(backlog + per_change + latency_cycles - between, 0)
            + (changes - bursts) * _maximum(steady, 0))


def _write_tail(final_bytes, column_passes, fills, chunks, is_os, chunks_outside, compute, hold):
    """Cycles from the first step to the last finished output written: outputs are finished only by a column
    fold's last fill (os: by each fold), so all of them are written after the first such step, and the last column
    fold's after its last fill's first step. Per (group, column fold) the compute is taken as the average."""
    per_column = compute // column_passes
    fill_cycles = per_column // fills
    first_step = _where(chunks_outside, per_column // chunks, fill_cycles // chunks)
    first_finish = _where(is_os, fill_cycles, _where(chunks_outside, first_step, per_column - fill_cycles + first_step))
    everything = first_finish + hold(final_bytes)
    last = compute - fill_cycles + first_step + hold(final_bytes // column_passes)
    return _maximum(everything, _where(is_os | chunks_outside, 0, last))


def _closed_form(layer: Layer, rows, cols, dataflow, convention_scalesim, capacity: dict, bandwidth,
                 ifmap_bandwidth=np.inf, filter_bandwidth=np.inf, ofmap_bandwidth=np.inf, latency_cycles=0,
                 geometry=None, drain_finished=False, double_buffered_stationary=False, chunks_outside=False,
                 residency: Residency = IN_DRAM, fill=1, single=None):
    """Every count of the model as numpy expressions, broadcast over any of the hardware arguments;
    `chunks_outside`: the mapping's chunks of T run outside its row folds (Mapping.chunk_order, ws / is only);
    `fill`: F, row folds per stationary fill (Mapping.row_folds_per_fill, ws / is only; 1 = today); `single`: per
    operand, whether its buffer has one slot (not double-buffered), bools or arrays (None: every buffer has two)."""
    single = single if single is not None else dict.fromkeys(OPERANDS, False)
    g = layer.gemm
    m, k, n, groups = g.m, g.k, g.n, g.groups
    is_os = dataflow == OS
    is_ws = dataflow == WS
    spatial_rows = _where(is_os, m, k)
    spatial_cols = _where(is_ws | is_os, n, m)
    temporal = _where(is_os, k, _where(is_ws, m, n))
    row_folds = _ceil_div(spatial_rows, rows)
    col_folds = _ceil_div(spatial_cols, cols)
    folds_per_group = row_folds * col_folds
    folds = groups * folds_per_group
    # A fill's tiles span F x rows of the rows' dimension: the tiling is that of an array F x rows high.
    fill_rows = rows * fill
    fills = _ceil_div(spatial_rows, fill_rows)
    traffic = _dram_traffic(layer, fill_rows, cols, dataflow, capacity, geometry, drain_finished, chunks_outside,
                            residency)
    # Array passes per fill: each chunk of T reloads the stationary operand when chunks are outside the fills.
    passes = _where(chunks_outside & (fills > 1), traffic["chunks"], 1)
    last_row = spatial_rows - rows * (row_folds - 1)
    # Native: sum over passes of F_i R + r_last + c + F_i t - 2 (step_cycles); per column fold and pass the F_i sum
    # to the row folds and the r_last to (fills - 1) R + the last row fold's rows, the c of a column to Sc per fill.
    native = groups * (col_folds * (passes * (row_folds * rows + (fills - 1) * rows + last_row - 2 * fills)
                                    + row_folds * temporal) + passes * fills * spatial_cols)
    scalesim = groups * col_folds * (passes * (row_folds * _where(is_os, rows, 2 * rows) + fills * (cols - 2))
                                     + row_folds * temporal) - groups
    compute = _where(convention_scalesim, scalesim, native)
    hidden = _hidden_preloads(rows, cols, row_folds, col_folds, last_row,
                              spatial_cols - cols * (col_folds - 1), temporal, groups, convention_scalesim, passes,
                              fill)
    compute = compute - _where(_where(is_os, False, double_buffered_stationary), hidden, 0)
    mapping_efficiency = (spatial_rows * spatial_cols) / (folds_per_group * rows * cols)

    sram_ifmap, sram_filter, sram_ofmap_reads, sram_ofmap_writes = _sram_counts(m, k, n, groups, fills,
                                                                                col_folds, is_os, is_ws, passes)
    dram_ifmap, dram_filter = traffic["dram_ifmap_reads"], traffic["dram_filter_reads"]
    dram_ofmap_reads, dram_ofmap_writes = traffic["dram_ofmap_reads"], traffic["dram_ofmap_writes"]
    bits = {**layer.operand_bits, "psum": layer.partial_sum_bits}
    element_bytes = {name: _element_bytes(size) for name, size in bits.items()}
    # Every ofmap read is a partial sum read back, drained once before: as many partial-sum writes, at accumulator
    # precision; the other writes are finished outputs, at output precision.
    dram_final_writes = dram_ofmap_writes - dram_ofmap_reads
    dram_read_bytes = (dram_ifmap * element_bytes["ifmap"] + dram_filter * element_bytes["filter"]
                       + dram_ofmap_reads * element_bytes["psum"])
    dram_write_bytes = dram_final_writes * element_bytes["ofmap"] + dram_ofmap_reads * element_bytes["psum"]

    # Timing on the engine's timeline, in packed bytes (tiles move ceil(elements * bits / 8) bytes).
    def packed(elements, name):
        return _ceil_div(elements * bits[name], 8)

    ifmap_bytes = packed(dram_ifmap, "ifmap")
    filter_bytes = packed(dram_filter, "filter")
    ofmap_bytes = 2 * packed(dram_ofmap_reads, "psum") + packed(dram_final_writes, "ofmap")
    # The channel carries all bytes; an operand's own port (if any) caps that operand's bytes.
    memory_cycles = _maximum(_maximum(_hold_cycles(ifmap_bytes + filter_bytes + ofmap_bytes, bandwidth),
                                      _hold_cycles(ifmap_bytes, ifmap_bandwidth)),
                             _maximum(_hold_cycles(filter_bytes, filter_bandwidth),
                                      _hold_cycles(ofmap_bytes, ofmap_bandwidth)))
    first_ifmap = packed(traffic["first_ifmap_tile"], "ifmap")
    first_filter = packed(traffic["first_filter_tile"], "filter")
    last_ofmap = packed(traffic["last_ofmap_tile"], "ofmap")
    # The first step waits for its ifmap and filter tiles (one after the other on the channel, then the read
    # latency); the layer ends when the last ofmap tile has been written after the last step.
    prologue = latency_cycles + _maximum(
        _hold_cycles(first_ifmap, bandwidth) + _hold_cycles(first_filter, bandwidth),
        _maximum(_hold_cycles(first_ifmap, ifmap_bandwidth), _hold_cycles(first_filter, filter_bandwidth)))
    epilogue = _maximum(_hold_cycles(last_ofmap, bandwidth), _hold_cycles(last_ofmap, ofmap_bandwidth))
    later_inputs = {"ifmap": ifmap_bytes - first_ifmap, "filter": filter_bytes - first_filter}
    # A whole ofmap written block by block as its outputs finish (buffers.ofmap.drain_finished).
    finishing = _where(traffic["whole"]["ofmap"], _where(residency.ofmap_kept, False, drain_finished), False)
    serial, boundaries = _serialized(
        traffic, single, later_inputs, packed(dram_ofmap_reads, "psum"),
        ofmap_bytes - packed(dram_ofmap_reads, "psum") - last_ofmap, bandwidth,
        {"ifmap": ifmap_bandwidth, "filter": filter_bandwidth, "ofmap": ofmap_bandwidth}, latency_cycles,
        _where(finishing, packed(dram_final_writes, "ofmap") - last_ofmap, 0),
        _where(is_os, folds, groups * col_folds * traffic["chunks"]))
    serial = serial + _blocking(traffic, single, later_inputs, bandwidth, boundaries, compute)
    steps = groups * col_folds * fills * traffic["chunks"]
    serial = serial + _where(boundaries > 0, 0, _write_bursts(
        {**traffic, "fills": fills}, later_inputs, ofmap_bytes - packed(dram_ofmap_reads, "psum") - last_ofmap,
        packed(dram_final_writes, "ofmap"), finishing, is_os, folds, groups * col_folds, steps, compute,
        lambda size: _maximum(_hold_cycles(size, bandwidth), _hold_cycles(size, ofmap_bandwidth)), latency_cycles))
    tail = _write_tail(packed(dram_final_writes, "ofmap"), groups * col_folds, fills, traffic["chunks"], is_os,
                       chunks_outside & (fills > 1), compute, lambda size: _maximum(_hold_cycles(size, bandwidth),
                                                                                   _hold_cycles(size, ofmap_bandwidth)))
    # Every read arrives before the last step starts (the channel serves them in order), which then computes and
    # drains its tile.
    readback_bytes = packed(dram_ofmap_reads, "psum")
    reads = _maximum(_maximum(_hold_cycles(ifmap_bytes + filter_bytes + readback_bytes, bandwidth),
                              _hold_cycles(ifmap_bytes, ifmap_bandwidth)),
                     _maximum(_hold_cycles(filter_bytes, filter_bandwidth),
                              _hold_cycles(readback_bytes, ofmap_bandwidth)))
    last_step = compute // steps
    read_tail = latency_cycles + reads + last_step + epilogue
    cycles = _maximum(_maximum(compute + prologue + epilogue + serial, prologue + tail),
                      _maximum(memory_cycles, read_tail))
    return {
        "folds": folds, "row_folds": row_folds, "col_folds": col_folds,
        "compute_cycles": compute, "memory_cycles": memory_cycles, "cycles": cycles,
        "stall_cycles": cycles - compute,
        "utilization": groups * m * k * n / (rows * cols * _maximum(cycles, 1)),
        "mapping_efficiency": mapping_efficiency,
        "sram_ifmap_reads": sram_ifmap, "sram_filter_reads": sram_filter,
        "sram_ofmap_reads": sram_ofmap_reads, "sram_ofmap_writes": sram_ofmap_writes,
        "dram_ifmap_reads": dram_ifmap, "dram_filter_reads": dram_filter,
        "dram_ofmap_reads": dram_ofmap_reads, "dram_ofmap_writes": dram_ofmap_writes,
        "dram_read_bytes": dram_read_bytes, "dram_write_bytes": dram_write_bytes,
        "chunks": traffic["chunks"], "fits": traffic["misfit"] == "", "misfit": traffic["misfit"],
    }


def _one_slot(double_buffered):
    """The grid's `double_buffered` as one-slot flags: a plain bool for one value (the serialized terms skip it)."""
    flags = ~np.asarray(double_buffered, dtype=bool)
    return bool(flags) if flags.ndim == 0 else flags


def _element_bytes(bits: int) -> int:
    return -(-bits // 8)


def estimate_systolic_grid(
    layer: Layer,
    rows: np.ndarray,
    cols: np.ndarray,
    dataflow: np.ndarray | str,
    *,
    ifmap_kb: np.ndarray | float = np.inf,
    filter_kb: np.ndarray | float = np.inf,
    ofmap_kb: np.ndarray | float = np.inf,
    bandwidth_bytes_per_cycle: np.ndarray | float = np.inf,
    ifmap_bandwidth_bytes_per_cycle: np.ndarray | float = np.inf,
    filter_bandwidth_bytes_per_cycle: np.ndarray | float = np.inf,
    ofmap_bandwidth_bytes_per_cycle: np.ndarray | float = np.inf,
    double_buffered: np.ndarray | bool = True,
    convention: str = "native",
    latency_cycles: np.ndarray | int = 0,
    drain_finished: np.ndarray | bool = False,
    double_buffered_stationary: np.ndarray | bool = False,
) -> dict[str, np.ndarray]:
    """The closed forms of `estimate_systolic`, vectorized over hardware parameters (design-space sweeps).

    Every hardware argument is an array (or scalar) and all broadcast together: `rows`, `cols` (ints >= 1),
    `dataflow` (a name "os"/"ws"/"is" or an int array of their DATAFLOW_NAMES index: os=0, ws=1, is=2), buffer sizes
    in KiB (np.inf: unlimited), the shared DRAM bandwidth in bytes per cycle (np.inf: no stalls) and optional
    per-operand port bandwidths (np.inf: only the shared channel limits; the smaller applies), `double_buffered`
    (half of each buffer usable), `drain_finished` (buffers.ofmap.drain_finished), `double_buffered_stationary`
    (pe_array option) and the cycle `convention`. Returns arrays of the broadcast shape:
    folds, row_folds, col_folds, compute_cycles, memory_cycles, cycles, stall_cycles (int64), utilization,
    mapping_efficiency (float64), sram_{ifmap,filter,ofmap}_reads, sram_ofmap_writes,
    dram_{ifmap,filter,ofmap}_reads, dram_ofmap_writes (elements), dram_read_bytes, dram_write_bytes, chunks
    (steps per fold) and fits (bool: False where a fold's tile cannot fit its slot, a point estimate_systolic
    and the engine refuse with a MappingError; its other values are then meaningless). `latency_cycles` is the
    DRAM read latency. For one point it equals estimate_systolic on the same hardware, exactly: a GEMM layer is
    closed form; a conv layer's ifmap footprints are counted once per distinct (dataflow, row extent, chunks or
    column extent) among the points, so a conv grid costs a footprint count per distinct tiling.
    """
    _check_convention(convention)
    if isinstance(dataflow, str):
        if dataflow not in DATAFLOW_NAMES:
            raise MappingError("unknown dataflow", field="pe_array.dataflow", value=dataflow, allowed="os, ws, is")
        dataflow = DATAFLOW_NAMES.index(dataflow)
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    dataflow = np.asarray(dataflow, dtype=np.int64)
    for name, value, allowed in (("pe_array.rows", rows, ">= 1"), ("pe_array.cols", cols, ">= 1")):
        if value.size and value.min() < 1:
            raise MappingError("array size must be positive", field=name, value=int(value.min()), allowed=allowed)
    if dataflow.size and (dataflow.min() < 0 or dataflow.max() > 2):
        raise MappingError("unknown dataflow code", field="pe_array.dataflow", value=int(dataflow.max()),
                           allowed="0 (os), 1 (ws), 2 (is)")
    bits = buffer_bits(layer)

    def capacity(kb, name):
        kb = np.asarray(kb, dtype=np.float64)
        finite = np.isfinite(kb)
        size = np.where(finite, np.floor(np.where(finite, kb, 0) * 1024), 0).astype(np.int64)
        cap = slot_elements(size, _element_bytes(bits[name]), np.asarray(double_buffered))
        return np.where(finite, cap, np.iinfo(np.int64).max)

    result = _closed_form(
        layer, rows, cols, dataflow, convention == "scalesim",
        {"ifmap": capacity(ifmap_kb, "ifmap"), "filter": capacity(filter_kb, "filter"),
         "ofmap": capacity(ofmap_kb, "ofmap")},
        np.asarray(bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(ifmap_bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(filter_bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(ofmap_bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(latency_cycles, dtype=np.int64), drain_finished=np.asarray(drain_finished, dtype=bool),
        double_buffered_stationary=np.asarray(double_buffered_stationary, dtype=bool),
        single=dict.fromkeys(OPERANDS, _one_slot(double_buffered)),
    )
    result.pop("misfit")
    shape = np.broadcast_shapes(*(np.shape(v) for v in result.values()))
    return {key: np.broadcast_to(value, shape) for key, value in result.items()}


def systolic_actions(macs: Any, *, sram_reads: OperandCounts, sram_writes: OperandCounts, dram_read_bytes: Any,
                     dram_write_bytes: Any, cycles: Any) -> dict[str, Any]:
    """The actions a systolic layer is charged for, keyed by energy-table entry (one definition for the closed
    form, its grid and the engine, so their energies can only differ through the counts).

    Counts may be numbers or numpy arrays (the grid); `sram_writes.ifmap/filter` are the fills from DRAM.
    """
    return {
        "mac": macs,
        "ifmap_sram.read": sram_reads.ifmap,
        "filter_sram.read": sram_reads.filter,
        "ofmap_sram.read": sram_reads.ofmap,
        "ofmap_sram.write": sram_writes.ofmap,
        "ifmap_sram.write": sram_writes.ifmap,
        "filter_sram.write": sram_writes.filter,
        "dram.read_byte": dram_read_bytes,
        "dram.write_byte": dram_write_bytes,
        "leakage.cycle": cycles,
    }


def estimate_systolic(layer: Layer, hw: Hardware, mapping: Mapping | None = None, *,
                      residency: Residency = IN_DRAM) -> LayerResult:
    """The analytical LayerResult of `layer` on `hw`'s systolic array (model="analytical"); `residency`: how its
    tensors cross layers in a trace (sim.mapping.residency.trace_residency; alone, both in DRAM)."""
    start = time.perf_counter()
    if hw.pe_array is None or hw.buffers is None or hw.dram is None:
        raise MappingError(f"hardware '{hw.name}' is not a systolic array", field="pe_array")
    if mapping is None:
        mapping = map_systolic(layer, hw)
    plain = is_today(hw)
    check_fill(layer, hw, mapping)
    buffering = resolve(hw, mapping)
    try:
        geometry = check_mapping(layer, hw.buffers, mapping, buffering.operand_doubled())
    except MappingError as error:
        raise error if plain else misfit_error(hw, error) from None
    check_residency(mapping, residency)
    convention = hw.pe_array.cycle_convention
    capacity = geometry["capacity"]
    # The tiling is the record's: its whole operands and chunks of T, checked against the buffers.
    dram = hw.dram if plain else timeline_hardware(hw).dram
    values = _closed_form(
        layer, mapping.rows, mapping.cols, mapping.dataflow_code, convention == "scalesim", capacity,
        dram.bandwidth_bytes_per_cycle,
        dram.operand_bandwidth("ifmap"), dram.operand_bandwidth("filter"), dram.operand_bandwidth("ofmap"),
        dram.latency_cycles, geometry=geometry, drain_finished=hw.buffers.ofmap.drain_finished,
        double_buffered_stationary=buffering.stationary_preload,
        chunks_outside=mapping.chunk_order == "outside_row_folds", residency=residency,
        fill=mapping.row_folds_per_fill,
        single={name: not doubled for name, doubled in buffering.operand_doubled().items()},
    )
    values.pop("misfit")
    v = {key: (float(val) if key in ("utilization", "mapping_efficiency") else int(val)) for key, val in values.items()}
    sram_reads = OperandCounts(v["sram_ifmap_reads"], v["sram_filter_reads"], v["sram_ofmap_reads"])
    # SRAM writes: the fills from DRAM for ifmap/filter, the partial sums and outputs for ofmap.
    sram_writes = OperandCounts(v["dram_ifmap_reads"], v["dram_filter_reads"], v["sram_ofmap_writes"])
    dram_reads = OperandCounts(v["dram_ifmap_reads"], v["dram_filter_reads"], v["dram_ofmap_reads"])
    dram_writes = OperandCounts(0, 0, v["dram_ofmap_writes"])
    actions = ActionCounts.of(systolic_actions(
        layer.macs, sram_reads=sram_reads, sram_writes=sram_writes, dram_read_bytes=v["dram_read_bytes"],
        dram_write_bytes=v["dram_write_bytes"], cycles=v["cycles"]))
    energy = apply(actions, hw.energy)
    extra = {key: v[key] for key in ("row_folds", "col_folds", "memory_cycles", "chunks", "dram_read_bytes",
                                     "dram_write_bytes")}
    # Built once, with its extra in LayerResult.with_extra's sorted form, rather than copied twice by replace().
    result = LayerResult(
        name=layer.name,
        kind=layer.kind,
        model="analytical",
        macs=layer.macs,
        cycles=v["cycles"],
        compute_cycles=v["compute_cycles"],
        stall_cycles=v["stall_cycles"],
        utilization=v["utilization"],
        mapping_efficiency=v["mapping_efficiency"],
        folds=v["folds"],
        sram_reads=sram_reads,
        sram_writes=sram_writes,
        dram_reads=dram_reads,
        dram_writes=dram_writes,
        actions=actions,
        energy=energy,
        extra=tuple(sorted(extra.items())),
        sim_wall_s=time.perf_counter() - start,
    )
    # A hierarchy beyond one SRAM per operand: every level priced from these counts (the engine does the same).
    return result if plain else price_levels(layer, hw, mapping, result)


def estimate_systolic_mappings(layer: Layer, hw: Hardware, dataflow: np.ndarray, chunks: np.ndarray,
                               whole: dict[str, np.ndarray],
                               chunks_outside: np.ndarray | bool = False,
                               row_folds_per_fill: np.ndarray | int = 1,
                               streamed_per_stationary_read: np.ndarray | int = 1,
                               double_buffered: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The closed form of `estimate_systolic` over a batch of named-family mappings of `layer` on `hw` (the mapper's
    candidates): per candidate its dataflow code, chunks of T, which operands are held whole (bool arrays) and
    whether its chunks run outside the row folds (Mapping.chunk_order "outside_row_folds"; refused on os) and its
    row folds per stationary fill (Mapping.row_folds_per_fill; > 1 refused on os, beyond the row folds or beyond
    what the stationary operand's per-PE register holds) and its streamed elements per stationary read
    (Mapping.streamed_per_stationary_read; > 1 refused on os, beyond the longest chunk of T or beyond what the psum
    register holds). `double_buffered`: per "auto" level name (and the pseudo-level pe_array), whether each
    candidate runs it as two halves (Mapping.double_buffered); None: ZigZag's rule per candidate
    (sim.mapping.buffering.auto_decision), which the mapper scores: it dominates every other decision on the same
    tiles (the same counts, no fewer overlaps), so no other needs scoring.
    Returns the grid's arrays plus `valid` (the record passes check_mapping) and `energy_pj`; a valid candidate's
    numbers equal estimate_systolic on its record (with that decision) exactly."""
    from sim.mapping.systolic import buffer_slots

    g = layer.gemm
    _, capacity = buffer_slots(hw.buffers, layer)
    totals = operand_totals(layer)
    dataflow = np.asarray(dataflow, dtype=np.int64)
    chunks = np.asarray(chunks, dtype=np.int64)
    rows = hw.pe_array.rows
    fill = np.asarray(row_folds_per_fill, dtype=np.int64)
    row_folds = _ceil_div(np.where(dataflow == OS, g.m, g.k), rows)
    chunks_outside = np.asarray(chunks_outside, dtype=bool)
    whole = {name: np.asarray(whole[name], dtype=bool) for name in OPERANDS}
    run = np.asarray(streamed_per_stationary_read, dtype=np.int64)
    temporal = np.where(dataflow == OS, g.k, np.where(dataflow == WS, g.m, g.n))
    psum = psum_register(hw)

    def check(capacity, register_halved, psum_halved):
        """(valid, geometry, F, u ok) of the batch when the operands' slots hold `capacity` and each candidate's
        stationary register is halved where `register_halved`, its psum register where `psum_halved`."""
        # The most F each candidate's stationary register holds (ws: filter, is: ifmap); os has none to hold.
        most = {code: np.where(register_halved, max_row_folds_per_fill(layer, hw, name, True)[0],
                               max_row_folds_per_fill(layer, hw, name, False)[0])
                for code, name in ((WS, "filter"), (IS, "ifmap"))}
        fill_ok = (fill == 1) | ((fill >= 1) & (dataflow != OS) & (fill <= row_folds)
                                 & (fill <= np.where(dataflow == WS, most[WS], most[IS])))
        fill_used = np.where(fill_ok, fill, 1)
        most_run = np.where(psum_halved, max_streamed_per_stationary_read(layer, hw, True)[0],
                            max_streamed_per_stationary_read(layer, hw, False)[0])
        run_ok = (run == 1) | ((run >= 1) & (dataflow != OS) & (run <= _ceil_div(temporal, np.maximum(chunks, 1)))
                              & (run <= most_run))
        geometry = chunking(rows * fill_used, hw.pe_array.cols, dataflow, g.m, g.k, g.n, totals, capacity, whole)
        valid = ((geometry["misfit"] == "") & (chunks >= geometry["chunks"])
                 & (chunks <= np.maximum(geometry["temporal"], 1))
                 & ~(chunks_outside & (dataflow == OS) & (chunks > 1)) & fill_ok & run_ok)
        return valid, geometry, fill_used, run_ok

    if double_buffered is None and not has_auto(hw):
        halved = {}
        for code, name in ((WS, "filter"), (IS, "ifmap")):
            level = stationary_register(hw, name)
            halved[code] = level is not None and level.double_buffered is True
        valid, geometry, fill_used, run_ok = check(capacity, np.where(dataflow == WS, halved[WS], halved[IS]),
                                                   psum is not None and psum.double_buffered is True)
        preload = hw.pe_array.double_buffered_stationary
        single = {name: not getattr(hw.buffers, name).double_buffered for name in OPERANDS}
    else:
        decision = _batch_decision(layer, hw, dataflow, fill, run, double_buffered, check)
        capacity, single, register_halved, psum_halved, preload = _batch_buffering(layer, hw, dataflow, decision)
        valid, geometry, fill_used, run_ok = check(capacity, register_halved, psum_halved)
    geometry["chunks"] = np.where(valid, chunks, 1)
    plain = is_today(hw)
    dram = hw.dram if plain else timeline_hardware(hw).dram
    values = _closed_form(layer, hw.pe_array.rows, hw.pe_array.cols, dataflow,
                          hw.pe_array.cycle_convention == "scalesim", capacity, dram.bandwidth_bytes_per_cycle,
                          dram.operand_bandwidth("ifmap"), dram.operand_bandwidth("filter"),
                          dram.operand_bandwidth("ofmap"), dram.latency_cycles, geometry=geometry,
                          drain_finished=hw.buffers.ofmap.drain_finished,
                          double_buffered_stationary=preload,
                          chunks_outside=chunks_outside & (dataflow != OS), fill=fill_used, single=single)
    values.pop("misfit")
    shape = dataflow.shape
    values = {key: np.broadcast_to(value, shape) for key, value in values.items()}
    energy = np.zeros(shape, dtype=np.float64)
    actions = systolic_actions(
        layer.macs, sram_reads=OperandCounts(values["sram_ifmap_reads"], values["sram_filter_reads"],
                                             values["sram_ofmap_reads"]),
        sram_writes=OperandCounts(values["dram_ifmap_reads"], values["dram_filter_reads"], values["sram_ofmap_writes"]),
        dram_read_bytes=values["dram_read_bytes"], dram_write_bytes=values["dram_write_bytes"],
        cycles=values["cycles"])
    for action, count in actions.items():
        entry = hw.energy.get(action)
        if entry is not None:
            energy = energy + np.asarray(count, dtype=np.float64) * entry.pj
    values["energy_pj"] = energy
    if not plain:
        # Every level of the hierarchy priced as price_levels does for one mapping (register misfits: none valid).
        try:
            check_registers(layer, hw)
        except MappingError:
            valid = np.zeros(shape, dtype=bool)
        reads = stationary_register_reads(layer.macs, temporal, geometry["chunks"], np.where(run_ok, run, 1))
        cycles, values["energy_pj"] = level_grid(layer, hw, {**values, "dataflow": np.broadcast_to(dataflow, shape),
                                                             "stationary_register_reads": np.broadcast_to(reads, shape)})
        values["stall_cycles"] = cycles - values["compute_cycles"]
        values["utilization"] = layer.macs / (hw.pe_array.pes * np.maximum(cycles, 1))
        values["cycles"] = cycles
    values["valid"] = np.asarray(valid, dtype=bool)
    return values


def _batch_buffering(layer: Layer, hw: Hardware, dataflow: np.ndarray, decision: dict[str, np.ndarray]):
    """(slot capacity per operand, whether each operand's slot is single (one buffer), stationary register halved,
    psum register halved, stationary preload overlapped), per candidate, under `decision` on the "auto" levels
    (sim.mapping.buffering.resolve, vectorized)."""
    from sim.mapping.buffering import STATIONARY_PSEUDO_LEVEL, stage_name

    def doubled(name: str, declared) -> np.ndarray | bool:
        if declared == "auto":
            return decision.get(name, False)
        return declared is True

    levels = {level.name: level.double_buffered for level in hw.hierarchy[:-1]}
    bits = buffer_bits(layer)
    capacity, single = {}, {}
    for name in OPERANDS:
        spec = getattr(hw.buffers, name)
        stage = stage_name(hw.hierarchy, name)
        declared = spec.double_buffered if spec.double_buffered != "auto" else levels[stage]
        halves = np.asarray(doubled(stage, declared), dtype=bool)
        capacity[name] = slot_elements(spec.size_bytes, _element_bytes(bits[name]), halves)
        single[name] = bool(~halves) if halves.ndim == 0 else ~halves
    register, preload = {}, {}
    for code, stationary in ((WS, "filter"), (IS, "ifmap")):
        level = stationary_register(hw, stationary)
        if level is None:
            register[code] = False
            own = doubled(STATIONARY_PSEUDO_LEVEL, hw.pe_array.double_buffered_stationary)
        else:
            register[code] = doubled(level.name, level.double_buffered)
            own = register[code]
        declared = hw.pe_array.double_buffered_stationary
        preload[code] = own if declared == "auto" else declared
    register_halved = np.where(dataflow == WS, register[WS], register[IS])
    psum = psum_register(hw)
    psum_halved = psum is not None and doubled(psum.name, psum.double_buffered)
    overlap = (dataflow != OS) & np.where(dataflow == WS, preload[WS], preload[IS])
    return capacity, single, register_halved, psum_halved, overlap


def _batch_decision(layer: Layer, hw: Hardware, dataflow: np.ndarray, fill: np.ndarray, run: np.ndarray,
                    given: dict[str, np.ndarray] | None, check) -> dict[str, np.ndarray]:
    """The decision per "auto" level and candidate: `given`, else ZigZag's rule (auto_decision, vectorized): a
    level is doubled where the candidate's tiles still fit with it alone halved."""
    from sim.hardware.hierarchy import share_bytes
    from sim.mapping.buffering import stage_name

    names = auto_names(hw)
    shape = dataflow.shape
    if given is not None:
        return {name: np.broadcast_to(np.asarray(given.get(name, False), dtype=bool), shape) for name in names}
    none = {name: np.zeros(shape, dtype=bool) for name in names}
    # A level that stages no operand's slot and is no stationary register changes nothing: halves always fit.
    psum = psum_register(hw)
    stages = {stage_name(hw.hierarchy, operand) for operand in OPERANDS}
    used = stages | {
        level.name for level in (stationary_register(hw, "filter"), stationary_register(hw, "ifmap"), psum) if level}
    decision = {}
    # Halving a level that stages no operand's slot leaves the slots as they are: those trials share one check.
    checked: dict[str | None, np.ndarray] = {}
    for name in names:
        if name not in used:
            decision[name] = np.ones(shape, dtype=bool)
            continue
        slots = name if name in stages else None
        if slots not in checked:
            trial = none if slots is None else {**none, name: np.ones(shape, dtype=bool)}
            capacity = _batch_buffering(layer, hw, dataflow, trial)[0]
            checked[slots] = check(capacity, np.zeros(shape, dtype=bool), False)[0]
        valid = checked[slots]
        # The stationary register's half must hold the candidate's F row-fold elements per PE.
        for code, stationary in ((WS, "filter"), (IS, "ifmap")):
            level = stationary_register(hw, stationary)
            if level is not None and level.name == name:
                element = _element_bytes(layer.operand_bits[stationary])
                fits = fill * element <= share_bytes(level, stationary) // 2
                valid = valid & np.where(dataflow == code, fits, True)
        # The psum register's half must hold the candidate's run of u partial sums per PE.
        if psum is not None and psum.name == name:
            valid = valid & (run * _element_bytes(layer.partial_sum_bits) <= share_bytes(psum, "ofmap") // 2)
        decision[name] = np.asarray(valid, dtype=bool)
    return decision
