"""os / ws / is as named instances of the one mapping record, and the tiling that fits them to the buffers.

The GEMM of group g is (M x K) @ (K x N). Each dataflow puts two GEMM dimensions on the array and streams
the third in time (SCALE-Sim's Sr / Sc / T):

| dataflow | array rows hold | array cols hold | streamed (T) | stationary |
|----------|-----------------|-----------------|--------------|------------|
| os       | M (pixels)      | N (filters)     | K (window)   | ofmap      |
| ws       | K (window)      | N (filters)     | M (pixels)   | filter     |
| is       | K (window)      | M (pixels)      | N (filters)  | ifmap      |

As a loop nest (sim.mapping.record): level "dram" walks groups, column folds (tiles of `cols` along the
cols dimension), row folds (tiles of `rows`) and, when a fold's streamed tiles do not fit one buffer slot,
the fewest near-equal chunks of T that fit; level "global_buffer" spreads the fold over the array and
streams T one element per cycle. An operand whose whole tensor fits one slot is held whole for the layer.
`chunking` is the one derivation of that tiling (scalars for one mapping, arrays for design-space grids).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from sim.errors import MappingError
from sim.hardware.hierarchy import is_today, misfit_error
from sim.hardware.spec import BuffersSpec, Hardware
from sim.mapping.buffering import auto_decision
from sim.mapping.footprint import ifmap_read_elements
from sim.mapping.record import CHUNK_ORDERS, OPERAND_DIMS, OPERANDS, LevelLoops, Loop, Mapping, gemm_problem
from sim.workload.layer import Layer

# The named instances: the GEMM dimensions on the array's rows, on its cols, and streamed.
NAMED_DATAFLOWS: dict[str, tuple[str, str, str]] = {"os": ("M", "N", "K"), "ws": ("K", "N", "M"),
                                                    "is": ("K", "M", "N")}
DATAFLOW_NAMES = tuple(NAMED_DATAFLOWS)  # index = the integer code kernels and grids take
# How an operand's tile spans a fold: the array's rows and cols (new every fold), rows and T, or cols and T.
ROWS_AND_COLS, ROWS_AND_TIME, COLS_AND_TIME = 0, 1, 2


def span_kind(operand: str, row_dim: str, temporal_dim: str) -> int:
    dims = OPERAND_DIMS[operand]
    if temporal_dim not in dims:
        return ROWS_AND_COLS
    return ROWS_AND_TIME if row_dim in dims else COLS_AND_TIME


# Per operand, its span kind under each named dataflow (by code), for closed forms vectorized over dataflows.
SPAN_KIND = {name: tuple(span_kind(name, rows, time) for rows, _, time in NAMED_DATAFLOWS.values())
             for name in OPERANDS}


def array_mapping(layer: Layer, dataflow: str, rows: int, cols: int, *, chunks: int = 1,
                  whole: tuple[str, ...] = (), chunk_order: str = "innermost", row_folds_per_fill: int = 1,
                  streamed_per_stationary_read: int = 1) -> Mapping:
    """The named mapping `dataflow` of `layer` on a rows x cols array, with T in `chunks`, `whole` operands
    held whole, the chunks of T placed by `chunk_order` (CHUNK_ORDERS) and `row_folds_per_fill` row folds' stationary
    blocks per register fill (Mapping.row_folds_per_fill), `streamed_per_stationary_read` elements of T per read of a
    stationary element (Mapping.streamed_per_stationary_read; no buffer check: `map_systolic` derives chunks and whole
    operands from the buffers)."""
    if dataflow not in NAMED_DATAFLOWS:
        raise MappingError("unknown dataflow", field="pe_array.dataflow", value=dataflow, allowed="os, ws, is")
    if chunk_order not in CHUNK_ORDERS:
        raise MappingError("unknown chunk order", field="mapping.chunk_order", value=chunk_order,
                           allowed=", ".join(CHUNK_ORDERS))
    held = tuple(name for name in OPERANDS if name in whole)
    if not isinstance(row_folds_per_fill, int) or row_folds_per_fill < 1:
        raise MappingError("row folds per stationary fill must be a positive integer", field="mapping.pe",
                           value=row_folds_per_fill, allowed=">= 1")
    if not isinstance(streamed_per_stationary_read, int) or streamed_per_stationary_read < 1:
        raise MappingError("streamed elements per stationary read must be a positive integer", field="mapping.pe",
                           value=streamed_per_stationary_read, allowed=">= 1")
    return Mapping(dataflow, gemm_problem(layer),
                   _array_levels(dataflow, rows, cols, chunks, held, chunk_order, row_folds_per_fill,
                                 streamed_per_stationary_read))


# Frozen levels of a few (dataflow, array, chunks, whole) combinations serve every layer of a network: building
# them once per combination keeps mapping a layer cheap beside the closed form it feeds.
@lru_cache(maxsize=1024)
def _array_levels(dataflow: str, rows: int, cols: int, chunks: int, whole: tuple[str, ...],
                  chunk_order: str = "innermost", row_folds_per_fill: int = 1,
                  streamed_per_stationary_read: int = 1) -> tuple[LevelLoops, ...]:
    row_dim, col_dim, time_dim = NAMED_DATAFLOWS[dataflow]
    outer = [Loop("G", size=1), Loop(col_dim, size=cols), Loop(row_dim, size=rows * row_folds_per_fill)]
    if chunks > 1:
        outer.insert(3 if chunk_order == "innermost" else 2, Loop(time_dim, parts=chunks))
    inner = (Loop(row_dim, size=1, spatial="rows", units=rows), Loop(col_dim, size=1, spatial="cols", units=cols),
             Loop(time_dim, size=1))
    # Level pe: the PEs' registers walk the fill's row-fold blocks, and under each a run of u elements of T.
    pe = ((Loop(row_dim, size=rows),) if row_folds_per_fill > 1 else ()) + (
        (Loop(time_dim, size=streamed_per_stationary_read),) if streamed_per_stationary_read > 1 else ())
    if pe:
        return LevelLoops("dram", tuple(outer), whole), LevelLoops("global_buffer", inner), LevelLoops("pe", pe)
    return LevelLoops("dram", tuple(outer), whole), LevelLoops("global_buffer", inner)


def _ceil_div(a, b):
    return -(-a // b)


def _where(condition, yes, no):
    if isinstance(condition, bool):
        return yes if condition else no
    return np.where(condition, yes, no)


def _maximum(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.maximum(a, b)
    return max(a, b)


def _minimum(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.minimum(a, b)
    return min(a, b)


def slot_elements(size_bytes, element_bytes, double_buffered):
    """Elements one slot of a buffer holds: elements take whole bytes; double buffering halves the capacity."""
    usable = _where(double_buffered, size_bytes // 2, size_bytes)
    return usable // element_bytes


def buffer_bits(layer: Layer) -> dict[str, int]:
    """Bits an element of each operand takes in its buffer: the ofmap buffer holds partial sums as well as finished
    outputs, so its elements are the wider of the two (issue 12, precision)."""
    bits = layer.operand_bits
    return {**bits, "ofmap": max(bits["ofmap"], layer.partial_sum_bits)}


def buffer_slots(buffers: BuffersSpec, layer: Layer,
                 doubled: dict[str, bool] | None = None) -> tuple[dict[str, int], dict[str, int]]:
    """(slots, elements per slot) of each operand's buffer for `layer`'s element widths (`buffer_bits`); `doubled`:
    a mapping's resolved double buffering per operand (sim.mapping.buffering), else the declaration ("auto":
    single, the largest slot any mapping may use)."""
    bits = buffer_bits(layer)
    slots, slot = {}, {}
    for name in OPERANDS:
        spec = getattr(buffers, name)
        double = doubled[name] if doubled is not None else spec.double_buffered is True
        slots[name] = 2 if double else 1
        slot[name] = int(slot_elements(spec.size_bytes, -(-bits[name] // 8), double))
    return slots, slot


def operand_totals(layer: Layer) -> dict[str, int]:
    """Elements of each operand the layer touches, what a buffer holding it whole stores and fetches once: the
    ifmap elements its windows read (a strided layer skips some), the expanded filter matrix (a digital array has
    no circulant datapath), every ofmap element."""
    g = layer.gemm
    return {"ifmap": ifmap_read_elements(layer), "filter": g.groups * g.k * g.n, "ofmap": layer.ofmap_elements}


def chunking(rows, cols, dataflow, m, k, n, totals, capacity, whole=None):
    """The tiling of the named dataflow `dataflow` (code) per point: row/column folds and extents, T, which
    operands are held whole (those whose tensor fits a slot, unless `whole` is given), how many near-equal
    chunks each fold's T needs so every streamed tile of the largest fold fits its slot, and `misfit`: "" or
    the first operand whose tile cannot fit. Scalars or arrays, broadcast together."""
    is_os, is_ws = dataflow == 0, dataflow == 1
    spatial_rows = _where(is_os, m, k)
    spatial_cols = _where(is_ws | is_os, n, m)
    temporal = _where(is_os, k, _where(is_ws, m, n))
    row_ext = _minimum(rows, spatial_rows)
    col_ext = _minimum(cols, spatial_cols)
    if whole is None:
        whole = {name: totals[name] <= capacity[name] for name in OPERANDS}
    length = temporal if isinstance(temporal, int) else np.asarray(temporal, dtype=np.int64)
    misfit = ""
    if isinstance(dataflow, np.ndarray):
        shape = np.broadcast_shapes(np.shape(row_ext), np.shape(col_ext), np.shape(dataflow))
        misfit = np.full(shape, "", dtype=object)
    for name in OPERANDS:
        kind = SPAN_KIND[name][dataflow] if isinstance(dataflow, int) else np.asarray(SPAN_KIND[name])[dataflow]
        # Elements of one fold's tile per unit of T (the whole block when the tile does not span T).
        units = _where(kind == ROWS_AND_COLS, row_ext * col_ext, _where(kind == ROWS_AND_TIME, row_ext, col_ext))
        held = whole[name]
        bad = _where(held, totals[name] > capacity[name], units > capacity[name])
        misfit = _where(bad & (misfit == ""), name, misfit)
        streamed = ~np.asarray(held) & (kind != ROWS_AND_COLS) if isinstance(held, np.ndarray) else (
            (not held) & (kind != ROWS_AND_COLS))
        length = _where(streamed, _minimum(length, capacity[name] // _maximum(units, 1)), length)
    # A point that cannot fit gets one chunk: its counts are meaningless, and need no footprints of tiny tiles.
    chunks = _where(misfit == "", _maximum(_ceil_div(temporal, _maximum(length, 1)), 1), 1)
    return {
        "spatial_rows": spatial_rows, "spatial_cols": spatial_cols, "temporal": temporal,
        "row_folds": _ceil_div(spatial_rows, rows), "col_folds": _ceil_div(spatial_cols, cols),
        "row_ext": row_ext, "col_ext": col_ext, "chunks": chunks, "whole": whole, "misfit": misfit,
    }


def raise_misfit(name: str, mapping: Mapping, capacity: dict[str, int], totals: dict[str, int]) -> None:
    """The MappingError for operand `name` whose tile does not fit a slot of its buffer: the field names the buffer
    level's size (the operand's SRAM: level global_buffer of the record), the message the operand."""
    field = f"buffers.{name}.size_kb"
    if name in mapping.whole:
        raise MappingError(f"the mapping holds the whole {name} tensor ({totals[name]} elements) in the global "
                           f"buffer, more than a slot of the {name} SRAM", field=field, value=capacity[name],
                           allowed=f">= {totals[name]} elements per slot")
    row_ext = min(mapping.fill_rows, mapping.spatial_rows)
    col_ext = min(mapping.cols, mapping.spatial_cols)
    row_dim, _, time_dim = ("M", "K", "N")[mapping.axes[0]], None, mapping.temporal_dim
    kind = span_kind(name, row_dim, time_dim)
    if kind == ROWS_AND_COLS:
        units = row_ext * col_ext
        raise MappingError(
            f"one {'fill' if mapping.row_folds_per_fill > 1 else 'fold'}'s stationary {name} block ({units} elements) "
            f"does not fit a slot of the {name} SRAM",
            field=field, value=capacity[name], allowed=f">= {units} elements per slot")
    units = row_ext if kind == ROWS_AND_TIME else col_ext
    raise MappingError(
        f"one temporal step of a fold needs {units} {name} elements, more than a slot of the {name} SRAM",
        field=field, value=capacity[name], allowed=f">= {units} elements per slot")


def check_mapping(layer: Layer, buffers: BuffersSpec, mapping: Mapping, doubled: dict[str, bool] | None = None) -> dict:
    """MappingError unless `mapping` covers `layer` and each of its global-buffer tiles fits its slot (`doubled`: the
    mapping's resolved double buffering per operand, buffer_slots); else the tiling geometry (`chunking`'s, with the
    record's own chunks, and the slot `capacity`) for the closed form."""
    expected = gemm_problem(layer)
    if mapping.problem != expected:
        raise MappingError(f"mapping '{mapping.name}' is for another problem than layer '{layer.name}'",
                           field="mapping.problem", value=mapping.problem.sizes, allowed=str(expected.sizes))
    if mapping.dataflow == "custom":
        raise MappingError("the systolic models run os, ws and is loop nests only", field="mapping.global_buffer",
                           value=mapping.axes, allowed="rows/cols over M/N (os), K/N (ws) or K/M (is)")
    _check_loop_order(mapping)
    _, capacity = buffer_slots(buffers, layer, doubled)
    totals = operand_totals(layer)
    whole = {name: name in mapping.whole for name in OPERANDS}
    g = layer.gemm
    # A step's tiles span a fill (F row folds) along the rows' dimension.
    geometry = chunking(mapping.fill_rows, mapping.cols, mapping.dataflow_code, g.m, g.k, g.n, totals, capacity,
                        whole)
    if geometry["misfit"]:
        raise_misfit(geometry["misfit"], mapping, capacity, totals)
    if not geometry["chunks"] <= mapping.chunks <= max(mapping.temporal, 1):
        raise MappingError(f"{mapping.chunks} chunks of {mapping.temporal_dim} leave streamed tiles larger than a "
                           "buffer slot", field=f"dram.{mapping.temporal_dim}.parts", value=mapping.chunks,
                           allowed=f"{geometry['chunks']}..{max(mapping.temporal, 1)}")
    geometry["chunks"] = mapping.chunks
    geometry["capacity"] = capacity
    return geometry


def _check_loop_order(mapping: Mapping) -> None:
    """The systolic models walk groups, column folds, row folds, chunks of T (SCALE-Sim's order), or, on ws / is,
    groups, column folds, chunks of T, row folds (Mapping.chunk_order "outside_row_folds")."""
    names = [level.level for level in mapping.levels]
    if names not in (["dram", "global_buffer"], ["dram", "global_buffer", "pe"]):
        raise MappingError("a systolic mapping has two levels, or three with the PEs' register loop",
                           field="mapping.levels", value=names, allowed="dram, global_buffer[, pe]")
    row_dim, col_dim, time_dim = (("M", "K", "N")[axis] for axis in mapping.axes)
    fill = mapping.row_folds_per_fill
    if len(names) == 3:
        pe = [(loop.dim, loop.size, loop.parts, loop.spatial) for loop in mapping.levels[2].loops]
        run = mapping.streamed_per_stationary_read
        expected_pe = ([(row_dim, mapping.rows, 0, "")] if fill > 1 else []) + (
            [(time_dim, run, 0, "")] if run > 1 else [])
        if pe != expected_pe or not pe:
            raise MappingError("level pe walks the row-fold blocks a fill holds (a temporal loop of rows), then a run "
                               "of u elements of T per stationary read (a temporal loop of u >= 2), at least one",
                               field="mapping.pe", value=pe,
                               allowed=f"[({row_dim}, size={mapping.rows})] and/or [({time_dim}, size=u)], in this "
                                       "order")
        if mapping.dataflow == "os":
            raise MappingError("os keeps its partial sums stationary: it has no stationary operand to hold several "
                               "row folds of or to read once per run of T", field="mapping.pe",
                               value=mapping.dataflow, allowed="ws or is")
        longest = -(-mapping.temporal // mapping.chunks)
        if run > longest:
            raise MappingError("streamed elements per stationary read beyond a chunk's T", field="mapping.pe",
                               value=run, allowed=f"1..{longest} (the longest chunk of {time_dim})")
        if fill > 1 and not fill <= mapping.row_folds:
            raise MappingError("row folds per fill out of range", field="mapping.pe", value=fill,
                               allowed=f"2..{mapping.row_folds} (the layer's row folds; two levels for 1)")
    expected = [("G", 1, 0), (col_dim, mapping.cols, 0), (row_dim, mapping.rows * fill, 0)]
    got = [(loop.dim, loop.size, loop.parts) for loop in mapping.levels[0].loops]
    chunk_at = next((i for i, loop in enumerate(got) if loop[0] == time_dim), None)
    folds = [loop for loop in got if loop[0] != time_dim]
    if (folds != expected or len(got) > 4
            or (chunk_at is not None and (chunk_at < 2 or not got[chunk_at][2]))):
        raise MappingError("the systolic models walk G, then column folds, row folds and chunks of T at level dram "
                           "(or chunks of T before the row folds)", field="mapping.dram", value=got,
                           allowed=f"{expected} and optionally ({time_dim}, parts=chunks) after the column or the "
                                   "row folds")
    if mapping.chunk_order == "outside_row_folds" and mapping.dataflow == "os":
        raise MappingError("os keeps its partial sums in the PEs over chunks of K: chunks outside the row folds "
                           "would drain them mid-sum", field="mapping.dram", value=got,
                           allowed="chunks of K after the row folds (chunk order innermost) on os; either order "
                                   "on ws / is")
    inner = [(loop.dim, loop.size, loop.spatial) for loop in mapping.levels[1].loops]
    if inner != [(row_dim, 1, "rows"), (col_dim, 1, "cols"), (time_dim, 1, "")]:
        raise MappingError("the systolic models spread one element per PE and stream T one element a cycle",
                           field="mapping.global_buffer", value=inner,
                           allowed=f"[({row_dim}, 1, rows), ({col_dim}, 1, cols), ({time_dim}, 1, temporal)]")


def fit_mapping(layer: Layer, dataflow: str, rows: int, cols: int, buffers: BuffersSpec | None) -> Mapping:
    """The named mapping `dataflow` of `layer` on a rows x cols array, tiled to `buffers`: an operand whose tensor
    fits a slot is held whole, else T takes the fewest chunks that fit; MappingError when no chunking fits."""
    if buffers is None:
        return array_mapping(layer, dataflow, rows, cols)
    if dataflow not in NAMED_DATAFLOWS:
        raise MappingError("unknown dataflow", field="pe_array.dataflow", value=dataflow, allowed="os, ws, is")
    _, capacity = buffer_slots(buffers, layer)
    totals = operand_totals(layer)
    g = layer.gemm
    geometry = chunking(rows, cols, DATAFLOW_NAMES.index(dataflow), g.m, g.k, g.n, totals, capacity)
    whole = tuple(name for name in OPERANDS if geometry["whole"][name])
    if geometry["misfit"]:
        raise_misfit(geometry["misfit"], array_mapping(layer, dataflow, rows, cols, whole=whole), capacity, totals)
    return array_mapping(layer, dataflow, rows, cols, chunks=int(geometry["chunks"]), whole=whole)


def map_systolic(layer: Layer, hw: Hardware, dataflow: str | None = None) -> Mapping:
    """The named mapping of `layer` on `hw.pe_array` (`dataflow` overrides the config's), fitted to its buffers."""
    if hw.pe_array is None:
        raise MappingError(f"hardware '{hw.name}' has no [pe_array] to map layer '{layer.name}' onto",
                           field="pe_array")
    flow = dataflow or hw.pe_array.dataflow
    if flow not in NAMED_DATAFLOWS:
        raise MappingError("unknown dataflow", field="pe_array.dataflow", value=flow, allowed="os, ws, is")
    # A block-circulant layer runs expanded on a digital array: it has no circulant datapath.
    try:
        # On "auto" levels: fitted to the whole level, then double-buffered where the tiles fit half (ZigZag's rule).
        return auto_decision(layer, hw, fit_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, hw.buffers))
    except MappingError as error:
        # With a [[memory]] hierarchy the buffers are its levels: name the level and the operand.
        raise error if is_today(hw) else misfit_error(hw, error) from None
