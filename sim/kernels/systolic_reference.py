"""Per-cycle, register-level reference of a rows x cols systolic array (os / ws / is). Ground truth for timing.

Every cycle each PE register takes its neighbour's value: operands move one PE right (rows) or down (cols),
partial sums move one PE down. It runs on small shapes only (tests); the fold-level fast model must match it
cycle for cycle and value for value. Timing of one fold that uses r of R rows and c of C columns, streaming
T elements (cycle 0 = the first operand enters the array):

- os: ifmap row i enters the left edge at cycle t + i (element t of the window), filter column j enters the
  top edge at cycle t + j; PE(i, j) does its MAC for t at cycle t + i + j. After the last MAC (cycle
  L = r + c + T - 3) the accumulators shift down one row per cycle and leave through the bottom edge; row 0's
  result leaves at cycle L + R.
- ws / is: the stationary block shifts in from the top edge, one row per cycle, for r cycles (the deepest used
  row's value enters first). Streamed element t enters row i at cycle r + t + i and moves right; PE(i, j) adds
  its product to the partial sum from PE(i-1, j) at cycle r + t + i + j; sums pass through the unused rows and
  leave the bottom edge at cycle r + t + R - 1 + j.
Both give R + r + c + T - 2 cycles per fold; folds run back to back without overlap.

Accumulators are `accumulator_bits` wide two's complement and wrap on every addition, as hardware does.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def wrap(value: np.int64, accumulator_bits: np.int64) -> np.int64:
    """value reduced to a signed accumulator_bits-bit two's-complement integer (64 bits: unchanged)."""
    if accumulator_bits >= 64:
        return value
    half = np.int64(1) << (accumulator_bits - 1)
    mask = (np.int64(1) << accumulator_bits) - 1
    return ((value + half) & mask) - half


@njit(cache=True)
def os_fold(a_block, b_block, rows, cols, accumulator_bits, out, counts):
    """One output-stationary fold: out (r x c) = a_block (r x T) @ b_block (T x c), per cycle.

    counts (4,) += ifmap elements entered, filter elements entered, 0, results left. Returns
    (cycles, macs, consistent) — consistent is False if a PE ever met operands of different window indices.
    """
    r, temporal = a_block.shape
    c = b_block.shape[1]
    a_val = np.zeros((rows, cols), np.int64)
    a_tok = np.full((rows, cols), -1, np.int64)
    b_val = np.zeros((rows, cols), np.int64)
    b_tok = np.full((rows, cols), -1, np.int64)
    acc = np.zeros((rows, cols), np.int64)
    owner = np.full((rows, cols), -1, np.int64)  # which array row's result a register holds while draining
    macs = 0
    consistent = True
    total_macs = r * c * temporal
    cycle = 0
    while macs < total_macs:
        for i in range(rows):
            for j in range(cols - 1, 0, -1):
                a_val[i, j] = a_val[i, j - 1]
                a_tok[i, j] = a_tok[i, j - 1]
            t = cycle - i
            if i < r and 0 <= t < temporal:
                a_val[i, 0] = a_block[i, t]
                a_tok[i, 0] = t
                counts[0] += 1
            else:
                a_tok[i, 0] = -1
        for j in range(cols):
            for i in range(rows - 1, 0, -1):
                b_val[i, j] = b_val[i - 1, j]
                b_tok[i, j] = b_tok[i - 1, j]
            t = cycle - j
            if j < c and 0 <= t < temporal:
                b_val[0, j] = b_block[t, j]
                b_tok[0, j] = t
                counts[1] += 1
            else:
                b_tok[0, j] = -1
        for i in range(r):
            for j in range(c):
                if a_tok[i, j] >= 0 or b_tok[i, j] >= 0:
                    if a_tok[i, j] != b_tok[i, j]:
                        consistent = False
                    else:
                        acc[i, j] = wrap(acc[i, j] + a_val[i, j] * b_val[i, j], accumulator_bits)
                        macs += 1
        cycle += 1
    for i in range(r):
        for j in range(c):
            owner[i, j] = i
    left = 0
    last = cycle - 1
    while left < r * c:
        for j in range(cols):
            if owner[rows - 1, j] >= 0:
                out[owner[rows - 1, j], j] = acc[rows - 1, j]
                left += 1
                counts[3] += 1
            for i in range(rows - 1, 0, -1):
                acc[i, j] = acc[i - 1, j]
                owner[i, j] = owner[i - 1, j]
            owner[0, j] = -1
        last = cycle
        cycle += 1
    return last + 1, macs, consistent


@njit(cache=True)
def stationary_fold(stationary, streamed, rows, cols, accumulator_bits, out, accumulate, counts):
    """One weight- or input-stationary fold: out (T x c) (+)= streamed (T x r) @ stationary (r x c), per cycle.

    `accumulate`: the fold adds to partial sums already in `out` (a later row fold). counts (4,) += stationary
    elements loaded, streamed elements entered, partial sums read back, results left. Returns
    (cycles, macs, consistent).
    """
    r, c = stationary.shape
    temporal = streamed.shape[0]
    weight = np.zeros((rows, cols), np.int64)
    a_val = np.zeros((rows, cols), np.int64)
    a_tok = np.full((rows, cols), -1, np.int64)
    p_val = np.zeros((rows, cols), np.int64)
    p_tok = np.full((rows, cols), -1, np.int64)
    new_p = np.zeros(cols, np.int64)
    new_tok = np.full(cols, -1, np.int64)
    for cycle in range(r):  # shift the stationary block in from the top, deepest row first
        for j in range(cols):
            for i in range(rows - 1, 0, -1):
                weight[i, j] = weight[i - 1, j]
            if j < c:
                weight[0, j] = stationary[r - 1 - cycle, j]
                counts[0] += 1
            else:
                weight[0, j] = 0
    macs = 0
    consistent = True
    left = 0
    cycle = r
    last = r - 1
    while left < temporal * c:
        s = cycle - r
        for i in range(rows):
            for j in range(cols - 1, 0, -1):
                a_val[i, j] = a_val[i, j - 1]
                a_tok[i, j] = a_tok[i, j - 1]
            t = s - i
            if i < r and 0 <= t < temporal:
                a_val[i, 0] = streamed[t, i]
                a_tok[i, 0] = t
                counts[1] += 1
            else:
                a_tok[i, 0] = -1
        # Partial sums move down one row: update bottom-up so each PE reads the value from above of last cycle.
        for j in range(cols):
            for i in range(rows - 1, -1, -1):
                if i > 0:
                    value = p_val[i - 1, j]
                    token = p_tok[i - 1, j]
                else:
                    value = 0
                    token = a_tok[0, j] if j < c else -1
                if i < r and j < c and a_tok[i, j] >= 0:
                    if token != a_tok[i, j]:
                        consistent = False
                    value = wrap(value + a_val[i, j] * weight[i, j], accumulator_bits)
                    macs += 1
                if i == rows - 1:
                    new_p[j] = value
                    new_tok[j] = token
                else:
                    p_val[i, j] = value
                    p_tok[i, j] = token
            p_val[rows - 1, j] = new_p[j]
            p_tok[rows - 1, j] = new_tok[j]
            if new_tok[j] >= 0:  # the bottom PE's sum leaves the array this cycle
                t = new_tok[j]
                if accumulate:
                    out[t, j] = wrap(out[t, j] + new_p[j], accumulator_bits)
                    counts[2] += 1
                else:
                    out[t, j] = new_p[j]
                counts[3] += 1
                left += 1
                last = cycle
        cycle += 1
    return last + 1, macs, consistent


@njit(cache=True)
def reference_layer(ifmap_matrix, filter_matrix, bounds, row_index, dataflow, rows, cols, accumulator_bits):
    """Run every fold of a layer per cycle.

    ifmap_matrix (G, M, K), filter_matrix (G, K, N) int64; bounds (F, 7) and row_index (F,) from the mapping;
    dataflow 0 = os, 1 = ws, 2 = is. Returns (ofmap matrix (G, M, N) int64, fold cycles (F,), fold counts
    (F, 4): ifmap reads, filter reads, ofmap reads, ofmap writes, macs, consistent).
    """
    groups, m_total, _ = ifmap_matrix.shape
    n_total = filter_matrix.shape[2]
    out = np.zeros((groups, m_total, n_total), np.int64)
    folds = bounds.shape[0]
    cycles = np.zeros(folds, np.int64)
    counts = np.zeros((folds, 4), np.int64)
    macs = 0
    consistent = True
    for f in range(folds):
        g, m0, m1, k0, k1, n0, n1 = bounds[f]
        a = ifmap_matrix[g, m0:m1, k0:k1]
        b = filter_matrix[g, k0:k1, n0:n1]
        fold_counts = np.zeros(4, np.int64)
        if dataflow == 0:
            block = np.zeros((m1 - m0, n1 - n0), np.int64)
            fold_cycles, fold_macs, ok = os_fold(np.ascontiguousarray(a), np.ascontiguousarray(b), rows, cols,
                                                 accumulator_bits, block, fold_counts)
            out[g, m0:m1, n0:n1] = block
        elif dataflow == 1:
            block = np.ascontiguousarray(out[g, m0:m1, n0:n1])
            fold_cycles, fold_macs, ok = stationary_fold(np.ascontiguousarray(b), np.ascontiguousarray(a), rows,
                                                         cols, accumulator_bits, block, row_index[f] > 0,
                                                         fold_counts)
            out[g, m0:m1, n0:n1] = block
        else:
            block = np.ascontiguousarray(out[g, m0:m1, n0:n1].T)
            fold_cycles, fold_macs, ok = stationary_fold(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T),
                                                         rows, cols, accumulator_bits, block, row_index[f] > 0,
                                                         fold_counts)
            out[g, m0:m1, n0:n1] = block.T
        if dataflow == 1:
            # ws: the stationary (loaded) operand is the filter, the streamed one the ifmap.
            loaded = fold_counts[0]
            fold_counts[0] = fold_counts[1]
            fold_counts[1] = loaded
        cycles[f] = fold_cycles
        counts[f] = fold_counts
        macs += fold_macs
        consistent = consistent and ok
    return out, cycles, counts, macs, consistent
