"""Fold-level fast model of a systolic array: the reference's cycles and output values without stepping PEs.

Timing: per fold, the cycles of the first entry and last exit follow from the skew (systolic_reference's
docstring): os ends R cycles after its last MAC at (r-1)+(c-1)+(T-1); ws/is load r rows, then the last
partial sum leaves the bottom edge at r + (T-1) + (R-1) + (c-1). Counts: each operand element enters once
per fold and is forwarded PE to PE.

Values: integer addition is associative, so the per-fold accumulation order of the array gives exactly the
GEMM's values; the whole group GEMM is one BLAS call in a float type where that is exact (every partial sum
of integer products below 2**24 for float32, 2**53 for float64), int64 otherwise. Accumulators are
`accumulator_bits` two's complement: values that do not fit are reported as an overflow and returned
wrapped, as the hardware (and the per-cycle reference, which wraps on every addition) produces them; with
wrapping arithmetic the final value is right whenever it fits, so only final values need checking.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from sim.errors import MappingError
from sim.mapping.operands import (
    FLOAT64_EXACT_LIMIT,
    exact_sum_bound,
    filter_matrix,
    ifmap_matrix,
    ofmap_from_matrix,
    random_operands,
    reference_ofmap,
    signed_range,
)
from sim.mapping.record import Mapping, gemm_problem
from sim.records import FunctionalCheck
from sim.workload.layer import Layer

FLOAT32_EXACT_LIMIT = 2**24


@njit(cache=True)
def fold_loop(bounds, row_index, dataflow, rows, cols):
    """Per fold: cycles (F,), start cycle (F,), SRAM counts (F, 4) (ifmap reads, filter reads, ofmap
    read-back, ofmap writes) and the layer's MACs, from the fold bounds (F, 7) of a mapping."""
    folds = bounds.shape[0]
    cycles = np.zeros(folds, np.int64)
    start = np.zeros(folds, np.int64)
    counts = np.zeros((folds, 4), np.int64)
    macs = 0
    now = 0
    for f in range(folds):
        m = bounds[f, 2] - bounds[f, 1]
        k = bounds[f, 4] - bounds[f, 3]
        n = bounds[f, 6] - bounds[f, 5]
        if dataflow == 0:
            used_rows, used_cols, temporal = m, n, k
            last_mac = (used_rows - 1) + (used_cols - 1) + (temporal - 1)
            last_exit = last_mac + rows  # R shifts move row 0's accumulator out of the bottom edge
        else:
            used_rows, temporal = k, (m if dataflow == 1 else n)
            used_cols = n if dataflow == 1 else m
            last_exit = used_rows + (temporal - 1) + (rows - 1) + (used_cols - 1)
        cycles[f] = last_exit + 1
        start[f] = now
        now += last_exit + 1
        counts[f, 0] = m * k
        counts[f, 1] = k * n
        counts[f, 3] = m * n
        if dataflow != 0 and row_index[f] > 0:
            counts[f, 2] = m * n
        macs += m * k * n
    return cycles, start, counts, macs


def run_layer_timing(mapping: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(fold cycles (F,), fold start cycles (F,), fold SRAM counts (F, 4), MACs) in native timing."""
    cycles, start, counts, macs = fold_loop(mapping.fold_bounds, mapping.fold_row_index, mapping.dataflow_code,
                                            mapping.rows, mapping.cols)
    return cycles, start, counts, int(macs)


def _wrap(values: np.ndarray, accumulator_bits: int) -> np.ndarray:
    if accumulator_bits >= 64:
        return values
    half = np.int64(1) << np.int64(accumulator_bits - 1)
    mask = (np.int64(1) << np.int64(accumulator_bits)) - 1
    return ((values + half) & mask) - half


def _check_accumulator_bits(accumulator_bits: int) -> None:
    if isinstance(accumulator_bits, bool) or not isinstance(accumulator_bits, (int, np.integer)) \
            or not 2 <= accumulator_bits <= 64:
        raise MappingError("accumulator width out of range", field="pe_array.accumulator_bits",
                           value=accumulator_bits, allowed="2..64")


def gemm_exact(a: np.ndarray, b: np.ndarray, bound: int) -> np.ndarray:
    """(G, M, K) @ (G, K, N) of integer matrices, exact, int64; `bound` bounds |every partial sum|."""
    if bound < FLOAT32_EXACT_LIMIT:
        dtype = np.float32
    elif bound < FLOAT64_EXACT_LIMIT:
        dtype = np.float64
    else:
        return np.matmul(a.astype(np.int64), b.astype(np.int64))
    return np.matmul(a.astype(dtype), b.astype(dtype)).astype(np.int64)


def run_layer_functional(layer: Layer, mapping: Mapping, ifmap: np.ndarray, filters: np.ndarray,
                         accumulator_bits: int = 32) -> tuple[np.ndarray, bool]:
    """The array's output values: (ofmap int64 (B, E, F, O), accumulator overflow).

    On overflow the values are the wrapped ones the array produces (they then differ from numpy's).
    """
    _check_accumulator_bits(accumulator_bits)
    if mapping.problem != gemm_problem(layer):
        raise MappingError(f"mapping '{mapping.name}' is for another problem than layer '{layer.name}'",
                           field="mapping.problem", value=mapping.problem.sizes)
    a = ifmap_matrix(layer, ifmap)
    b = filter_matrix(layer, filters)
    if layer.is_sparse_n_of_m:  # the array holds the compressed filter: N of every M, selecting activations by metadata
        from sim.mapping.sparsity import sparse_gemm_exact

        exact = np.stack([sparse_gemm_exact(a[g].astype(np.int64), b[g], layer.sparsity_n, layer.sparsity_m)
                          for g in range(a.shape[0])])
    else:
        exact = gemm_exact(a, b, exact_sum_bound(layer, ifmap, filters))
    low, high = signed_range(accumulator_bits)
    overflow = bool(exact.size) and bool(exact.min() < low or exact.max() > high)
    values = _wrap(exact, accumulator_bits) if overflow else exact
    return ofmap_from_matrix(layer, values), overflow


def check_functional(layer: Layer, mapping: Mapping, seed: int, accumulator_bits: int = 32) -> FunctionalCheck:
    """Random seeded operands through the fast model, compared with numpy's direct convolution."""
    ifmap, filters = random_operands(layer, seed)
    ofmap, overflow = run_layer_functional(layer, mapping, ifmap, filters, accumulator_bits)
    expected = reference_ofmap(layer, ifmap, filters)
    error = float(np.max(np.abs(ofmap - expected))) if ofmap.size else 0.0
    return FunctionalCheck(max_abs_error=error, elements=int(ofmap.size), accumulator_overflow=overflow, seed=seed)
