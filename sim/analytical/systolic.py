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
the first row fold read back and rewrite the partial sums of their outputs.

DRAM traffic (elements): each operand is fetched once when it fits the usable part of its buffer (half of
it when double-buffered); otherwise it is re-fetched once per pass the dataflow makes over it:
ifmap once per column fold for os/ws (1 pass for is), filter once per row fold for os and once per column
fold for is (1 pass for ws). Partial sums of ws/is spill to DRAM (written per row fold, read back per row
fold after the first) when the ofmap does not fit its buffer. Stalls follow a roofline bound:
cycles = max(compute cycles, ceil(DRAM bytes / shared bandwidth), ceil(operand bytes / operand port bandwidth)).
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from sim.energy.tables import apply
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import DATAFLOW_CODES, SystolicMapping, map_systolic
from sim.records import ActionCounts, LayerResult, OperandCounts
from sim.workload.layer import Layer

CONVENTIONS = ("native", "scalesim")
OS, WS = DATAFLOW_CODES["os"], DATAFLOW_CODES["ws"]


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise MappingError("unknown cycle convention", field="pe_array.cycle_convention", value=convention,
                           allowed=", ".join(CONVENTIONS))


def fold_cycles(mapping: SystolicMapping, convention: str) -> np.ndarray:
    """int64 (folds,): compute cycles of each fold, in fold order, under `convention` ("native"/"scalesim")."""
    _check_convention(convention)
    used = mapping.fold_used
    rows, cols, temporal = mapping.rows, mapping.cols, mapping.temporal
    if convention == "native":
        return (rows + used[:, 0] + used[:, 1] + temporal - 2).astype(np.int64)
    per_fold = (rows if mapping.dataflow == "os" else 2 * rows) + cols + temporal - 2
    return np.full(mapping.folds, per_fold, dtype=np.int64)


def layer_compute_cycles(mapping: SystolicMapping, convention: str) -> int:
    """The layer's compute cycles: the sum of fold_cycles; "scalesim" subtracts SCALE-Sim's -1 per group."""
    total = int(fold_cycles(mapping, convention).sum())
    return total - mapping.groups if convention == "scalesim" else total


def fold_sram_counts(mapping: SystolicMapping) -> np.ndarray:
    """int64 (folds, 4): ifmap reads, filter reads, ofmap reads (partial-sum read-back), ofmap writes per fold."""
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
        out[:, 2] = np.where(mapping.fold_row_index > 0, m * n, 0)
    return out


def _ceil_div(a, b):
    return -(-a // b)


def _closed_form(m, k, n, groups, rows, cols, dataflow, convention_scalesim,
                 ifmap_unique, filter_unique, ofmap_unique,
                 ifmap_capacity, filter_capacity, ofmap_capacity,
                 ifmap_element_bytes, filter_element_bytes, ofmap_element_bytes, bandwidth,
                 ifmap_bandwidth=np.inf, filter_bandwidth=np.inf, ofmap_bandwidth=np.inf):
    """Every count of the model as numpy expressions, broadcast over any of the hardware arguments."""
    is_os = dataflow == OS
    is_ws = dataflow == WS
    spatial_rows = np.where(is_os, m, k)
    spatial_cols = np.where(is_ws | is_os, n, m)
    temporal = np.where(is_os, k, np.where(is_ws, m, n))
    row_folds = _ceil_div(spatial_rows, rows)
    col_folds = _ceil_div(spatial_cols, cols)
    folds_per_group = row_folds * col_folds
    folds = groups * folds_per_group
    # Native: sum over folds of R + r + c + T - 2; the used rows sum to Sr per column fold (and cols likewise).
    native = groups * (folds_per_group * (rows + temporal - 2) + col_folds * spatial_rows + row_folds * spatial_cols)
    scalesim = folds * (np.where(is_os, rows, 2 * rows) + cols + temporal - 2) - groups
    compute = np.where(convention_scalesim, scalesim, native)
    mapping_efficiency = (spatial_rows * spatial_cols) / (folds_per_group * rows * cols)

    gemm_mk, gemm_kn, gemm_mn = groups * m * k, groups * k * n, groups * m * n
    sram_ifmap = np.where(is_os | is_ws, col_folds * gemm_mk, gemm_mk)
    sram_filter = np.where(is_os, row_folds * gemm_kn, np.where(is_ws, gemm_kn, col_folds * gemm_kn))
    sram_ofmap_writes = np.where(is_os, gemm_mn, row_folds * gemm_mn)
    sram_ofmap_reads = np.where(is_os, 0, (row_folds - 1) * gemm_mn)

    ifmap_passes = np.where(is_os | is_ws, col_folds, 1)
    filter_passes = np.where(is_os, row_folds, np.where(is_ws, 1, col_folds))
    dram_ifmap = np.where(ifmap_unique <= ifmap_capacity, ifmap_unique, ifmap_passes * ifmap_unique)
    dram_filter = np.where(filter_unique <= filter_capacity, filter_unique, filter_passes * filter_unique)
    spills = (~is_os) & (ofmap_unique > ofmap_capacity)
    dram_ofmap_writes = np.where(spills, row_folds * ofmap_unique, ofmap_unique)
    dram_ofmap_reads = np.where(spills, (row_folds - 1) * ofmap_unique, 0)
    dram_read_bytes = (dram_ifmap * ifmap_element_bytes + dram_filter * filter_element_bytes
                       + dram_ofmap_reads * ofmap_element_bytes)
    dram_write_bytes = dram_ofmap_writes * ofmap_element_bytes
    ofmap_bytes = (dram_ofmap_reads + dram_ofmap_writes) * ofmap_element_bytes
    # The shared channel carries all bytes; an operand's own port (if any) caps that operand's bytes.
    transfer = np.maximum(np.maximum((dram_read_bytes + dram_write_bytes) / bandwidth,
                                     dram_ifmap * ifmap_element_bytes / ifmap_bandwidth),
                          np.maximum(dram_filter * filter_element_bytes / filter_bandwidth,
                                     ofmap_bytes / ofmap_bandwidth))
    memory_cycles = np.ceil(transfer).astype(np.int64)
    cycles = np.maximum(compute, memory_cycles)
    return {
        "folds": folds, "row_folds": row_folds, "col_folds": col_folds,
        "compute_cycles": compute, "memory_cycles": memory_cycles, "cycles": cycles,
        "stall_cycles": cycles - compute,
        "utilization": groups * m * k * n / (rows * cols * np.maximum(cycles, 1)),
        "mapping_efficiency": mapping_efficiency,
        "sram_ifmap_reads": sram_ifmap, "sram_filter_reads": sram_filter,
        "sram_ofmap_reads": sram_ofmap_reads, "sram_ofmap_writes": sram_ofmap_writes,
        "dram_ifmap_reads": dram_ifmap, "dram_filter_reads": dram_filter,
        "dram_ofmap_reads": dram_ofmap_reads, "dram_ofmap_writes": dram_ofmap_writes,
        "dram_read_bytes": dram_read_bytes, "dram_write_bytes": dram_write_bytes,
    }


def _element_bytes(bits: int) -> int:
    return -(-bits // 8)


def _dense_filter_elements(layer: Layer) -> int:
    # A digital array has no circulant datapath: it stores and streams the expanded filter matrix.
    g = layer.gemm
    return g.groups * g.k * g.n


def _capacity(size_bytes, element_bytes, double_buffered):
    usable = np.where(double_buffered, np.asarray(size_bytes) // 2, size_bytes)
    return usable // element_bytes


def _layer_terms(layer: Layer) -> dict:
    g = layer.gemm
    return {
        "m": g.m, "k": g.k, "n": g.n, "groups": g.groups,
        "ifmap_unique": layer.ifmap_elements, "filter_unique": _dense_filter_elements(layer),
        "ofmap_unique": layer.ofmap_elements,
        "ifmap_element_bytes": _element_bytes(layer.ifmap_bits),
        "filter_element_bytes": _element_bytes(layer.filter_bits),
        "ofmap_element_bytes": _element_bytes(layer.ofmap_bits),
    }


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
) -> dict[str, np.ndarray]:
    """The closed forms of `estimate_systolic`, vectorized over hardware parameters (design-space sweeps).

    Every hardware argument is an array (or scalar) and all broadcast together: `rows`, `cols` (ints >= 1),
    `dataflow` (a name "os"/"ws"/"is" or an int array of DATAFLOW_CODES: os=0, ws=1, is=2), buffer sizes
    in KiB (np.inf: unlimited), the shared DRAM bandwidth in bytes per cycle (np.inf: no stalls) and optional
    per-operand port bandwidths (np.inf: only the shared channel limits; the smaller applies), `double_buffered`
    (half of each buffer usable) and the cycle `convention`. Returns arrays of the broadcast shape:
    folds, row_folds, col_folds, compute_cycles, memory_cycles, cycles, stall_cycles (int64), utilization,
    mapping_efficiency (float64), sram_{ifmap,filter,ofmap}_reads, sram_ofmap_writes,
    dram_{ifmap,filter,ofmap}_reads, dram_ofmap_writes (elements), dram_read_bytes, dram_write_bytes.
    For one point it equals estimate_systolic on the same hardware.
    """
    _check_convention(convention)
    if isinstance(dataflow, str):
        if dataflow not in DATAFLOW_CODES:
            raise MappingError("unknown dataflow", field="pe_array.dataflow", value=dataflow, allowed="os, ws, is")
        dataflow = DATAFLOW_CODES[dataflow]
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    dataflow = np.asarray(dataflow, dtype=np.int64)
    for name, value, allowed in (("pe_array.rows", rows, ">= 1"), ("pe_array.cols", cols, ">= 1")):
        if value.size and value.min() < 1:
            raise MappingError("array size must be positive", field=name, value=int(value.min()), allowed=allowed)
    if dataflow.size and (dataflow.min() < 0 or dataflow.max() > 2):
        raise MappingError("unknown dataflow code", field="pe_array.dataflow", value=int(dataflow.max()),
                           allowed="0 (os), 1 (ws), 2 (is)")
    terms = _layer_terms(layer)

    def capacity(kb, element_bytes):
        kb = np.asarray(kb, dtype=np.float64)
        finite = np.isfinite(kb)
        size = np.where(finite, np.floor(np.where(finite, kb, 0) * 1024), 0).astype(np.int64)
        cap = _capacity(size, element_bytes, np.asarray(double_buffered))
        return np.where(finite, cap, np.iinfo(np.int64).max)

    result = _closed_form(
        terms["m"], terms["k"], terms["n"], terms["groups"], rows, cols, dataflow, convention == "scalesim",
        terms["ifmap_unique"], terms["filter_unique"], terms["ofmap_unique"],
        capacity(ifmap_kb, terms["ifmap_element_bytes"]), capacity(filter_kb, terms["filter_element_bytes"]),
        capacity(ofmap_kb, terms["ofmap_element_bytes"]),
        terms["ifmap_element_bytes"], terms["filter_element_bytes"], terms["ofmap_element_bytes"],
        np.asarray(bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(ifmap_bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(filter_bandwidth_bytes_per_cycle, dtype=np.float64),
        np.asarray(ofmap_bandwidth_bytes_per_cycle, dtype=np.float64),
    )
    shape = np.broadcast_shapes(*(np.shape(v) for v in result.values()))
    return {key: np.broadcast_to(value, shape) for key, value in result.items()}


def estimate_systolic(layer: Layer, hw: Hardware, mapping: SystolicMapping | None = None) -> LayerResult:
    """The analytical LayerResult of `layer` on `hw`'s systolic array (model="analytical")."""
    start = time.perf_counter()
    if mapping is None:
        mapping = map_systolic(layer, hw)
    elif mapping.layer != layer:
        raise MappingError(f"mapping is for layer '{mapping.layer.name}', not '{layer.name}'", field="mapping")
    if hw.pe_array is None or hw.buffers is None or hw.dram is None:
        raise MappingError(f"hardware '{hw.name}' is not a systolic array", field="pe_array")
    convention = hw.pe_array.cycle_convention
    terms = _layer_terms(layer)
    buffers = hw.buffers
    values = _closed_form(
        terms["m"], terms["k"], terms["n"], terms["groups"], mapping.rows, mapping.cols,
        mapping.dataflow_code, convention == "scalesim",
        terms["ifmap_unique"], terms["filter_unique"], terms["ofmap_unique"],
        _capacity(buffers.ifmap.size_bytes, terms["ifmap_element_bytes"], buffers.ifmap.double_buffered),
        _capacity(buffers.filter.size_bytes, terms["filter_element_bytes"], buffers.filter.double_buffered),
        _capacity(buffers.ofmap.size_bytes, terms["ofmap_element_bytes"], buffers.ofmap.double_buffered),
        terms["ifmap_element_bytes"], terms["filter_element_bytes"], terms["ofmap_element_bytes"],
        hw.dram.bandwidth_bytes_per_cycle,
        hw.dram.operand_bandwidth("ifmap"), hw.dram.operand_bandwidth("filter"), hw.dram.operand_bandwidth("ofmap"),
    )
    v = {key: (float(val) if key in ("utilization", "mapping_efficiency") else int(val)) for key, val in values.items()}
    sram_reads = OperandCounts(v["sram_ifmap_reads"], v["sram_filter_reads"], v["sram_ofmap_reads"])
    # SRAM writes: the fills from DRAM for ifmap/filter, the partial sums and outputs for ofmap.
    sram_writes = OperandCounts(v["dram_ifmap_reads"], v["dram_filter_reads"], v["sram_ofmap_writes"])
    dram_reads = OperandCounts(v["dram_ifmap_reads"], v["dram_filter_reads"], v["dram_ofmap_reads"])
    dram_writes = OperandCounts(0, 0, v["dram_ofmap_writes"])
    actions = ActionCounts.of({
        "mac": layer.macs,
        "ifmap_sram.read": sram_reads.ifmap,
        "filter_sram.read": sram_reads.filter,
        "ofmap_sram.read": sram_reads.ofmap,
        "ofmap_sram.write": sram_writes.ofmap,
        "ifmap_sram.write": sram_writes.ifmap,
        "filter_sram.write": sram_writes.filter,
        "dram.read_byte": v["dram_read_bytes"],
        "dram.write_byte": v["dram_write_bytes"],
        "leakage.cycle": v["cycles"],
    })
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
        energy=apply(actions, hw.energy),
    )
    result = result.with_extra({
        "row_folds": v["row_folds"],
        "col_folds": v["col_folds"],
        "memory_cycles": v["memory_cycles"],
        "dram_read_bytes": v["dram_read_bytes"],
        "dram_write_bytes": v["dram_write_bytes"],
    })
    return replace(result, sim_wall_s=time.perf_counter() - start)
