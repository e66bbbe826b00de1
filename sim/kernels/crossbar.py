"""Bit-sliced crossbar MVM: column sums of every read, through the ADC, recombined by shift-and-add.

For every row partition and every input slice t (one DAC read), each stored weight-slice column yields
P = sum_i x_t[i] * digit[i] (analog), the ADC quantizes P (range policy, rounding, clipping), and the
digital side adds scale * ADC(P) into the column's output, with scale = +-2**(cell_bits*s) x the slice's
input weight (2**(dac_bits*t), or -2**(input_bits-1) for the two's-complement sign read). Flipped columns
(ISAAC) store 2**c-1-digit and are recovered as (2**c-1)*sum(x_t) - ADC(P'). Offsets are removed
digitally (offset) or by an analog unit column (unit_column); differential columns subtract.

The numba kernels take arrays only. The ideal-device path packs several weight-slice columns into one
word (each field wide enough for a column sum) and sums rows by table look-up: for every group of rows a
table holds the packed column sums of every DAC digit pattern, so one add covers 8 rows x 8 columns
(ISAAC); the ADC is a table of its output per column sum, and shift-and-add follows in the same loop.
Where every ADC output is an integer (ideal, full-scale, granular ADCs) and no sum can reach 2**53
(`exact_in_int64`; ISAAC's 16-bit layers are far below), this runs in int64 (`packed_table`,
`lut_exact`); otherwise (a calibrated ADC's fractional steps, very wide operands) in float64 words of 52
exact bits (`lookup_table`, `lut_partition`), whose operation order the numbers depend on. Both give the
same bits wherever both apply. Non-ideal devices take float conductances and BLAS. `crossbar_mvm` is the
thin wrapper that returns outputs, the exact integer result, the error and the ADC bits each column needs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from sim.errors import MappingError
from sim.hardware.spec import NonIdealitySpec
from sim.mapping.crossbar import BitSlicing, bits_for

ROUNDING_CODES = {"half_even": 0, "half_up": 1, "floor": 2}
# Packed column sums live in float64 words: integers below 2**52 add exactly and split with vector ops.
PACK_BITS = 52


@njit(cache=True, inline="always")
def adc_convert(value, low, step, levels, rounding):
    """One conversion: levels == 0 is an ideal ADC; else clip(round((value-low)/step), 0, levels-1)."""
    if levels == 0:
        return value
    u = (value - low) / step
    if rounding == 0:
        r = np.rint(u)
    elif rounding == 1:
        r = np.floor(u + 0.5)
    else:
        r = np.floor(u)
    if r < 0.0:
        r = 0.0
    elif r > levels - 1:
        r = levels - 1.0
    return low + r * step


def _adc_shift_add(sums, read_weight, col_output, col_scale, col_flip, flip_max, xsum, low, step, levels, rounding,
                   out):
    """Quantize column sums (reads x V x C) and shift-add them into out (V x outputs), in place."""
    n_read, n_vec, n_col = sums.shape
    for v in prange(n_vec):
        for t in range(n_read):
            for c in range(n_col):
                q = adc_convert(sums[t, v, c], low, step, levels, rounding)
                if col_flip[c]:
                    q = flip_max * xsum[t, v] - q
                out[v, col_output[c]] += read_weight[t] * col_scale[c] * q


def _lut_partition(patterns, xsum, table, field_bits, n_cols, read_weight, col_output, col_scale, col_flip, flip_max,
                   adc_table, adc_identity, out):
    """One row partition of every read, fused: column sums by table look-up, ADC, shift-and-add into out.

    patterns (T x V x G) give, per read and vector, the DAC digit pattern of each group of rows
    (`read_patterns`, transposed); xsum (T x V) the digit sum over the partition. table (G x E x packs)
    float64 holds, for each group and pattern, the column sums of that group: column c sits in word
    c % packs, field c // packs, as c's sum x 2**(field x field_bits); words stay below 2**52, so every add
    is exact and fields never carry.
    adc_table[s] is the ADC's output for the column sum s (`adc_levels`), so a conversion is one load;
    `adc_identity` says the table is s -> s for every sum this partition can produce.
    """
    n_read, n_vec, n_group = patterns.shape
    n_pack = table.shape[2]
    fields = -(-n_cols // n_pack)
    field_scale = float(1 << field_bits)
    field_inverse = 1.0 / field_scale  # exact: a power of two
    flip_add = np.where(col_flip, 1.0, 0.0)  # flipped columns: (2**c - 1) * sum(x) - ADC(P')
    flip_sign = np.where(col_flip, -1.0, 1.0)
    chunks = min(n_vec, 16)  # scratch arrays per chunk of vectors, not per vector (allocation serializes threads)
    for chunk in prange(chunks):
        acc = np.empty(n_pack)
        rest = np.empty(n_pack)
        shifted = np.empty(n_cols)  # per column: sum over reads of read weight x ADC output
        for v in range(chunk * n_vec // chunks, (chunk + 1) * n_vec // chunks):
            shifted[:] = 0.0
            for t in range(n_read):
                acc[:] = 0.0
                for g in range(n_group):
                    index = patterns[t, v, g]
                    if index:
                        entry = table[g, index]
                        for p in range(n_pack):
                            acc[p] += entry[p]
                weight = read_weight[t]
                flipped = weight * flip_max * xsum[t, v]
                for f in range(fields):
                    base = f * n_pack
                    count = min(n_pack, n_cols - base)
                    # peel the lowest field off every word: acc = field + field_scale * rest, exact in float64
                    for p in range(n_pack):
                        rest[p] = np.floor(acc[p] * field_inverse)
                        acc[p] = acc[p] - rest[p] * field_scale
                    if adc_identity:
                        for p in range(count):
                            shifted[base + p] += flip_add[base + p] * flipped + flip_sign[base + p] * weight * acc[p]
                    else:
                        for p in range(count):
                            q = adc_table[np.int64(acc[p])]
                            shifted[base + p] += flip_add[base + p] * flipped + flip_sign[base + p] * weight * q
                    acc, rest = rest, acc
            for c in range(n_cols):
                out[v, col_output[c]] += col_scale[c] * shifted[c]


@njit(cache=True, parallel=True)
def weight_digits(weights, offset, cell_bits, slices, differential):
    """(K x slices*polarity*N) uint8 cell digits: column (s*polarity + part)*N + n holds slice s of output n's
    offset weight (part 0), or of |w| on the positive (part 0) / negative (part 1) column when differential."""
    k, n = weights.shape
    polarity = 2 if differential else 1
    out = np.empty((k, slices * polarity * n), dtype=np.uint8)
    mask = (1 << cell_bits) - 1
    for i in prange(k):
        for j in range(n):
            w = weights[i, j]
            for part in range(polarity):
                if differential:
                    magnitude = max(w, 0) if part == 0 else max(-w, 0)
                else:
                    magnitude = w + offset
                for sl in range(slices):
                    out[i, (sl * polarity + part) * n + j] = (magnitude >> (cell_bits * sl)) & mask
    return out


@njit(cache=True, inline="always")
def _top_digit(e, dac_bits, group_rows):
    """Digit pattern e (> 0) of a row group: (row j of its highest nonzero digit, that digit, e without it), so a
    lookup table builds entry e from entry `lower` with one row add."""
    digit_mask = (1 << dac_bits) - 1
    j = group_rows - 1
    while (e >> (dac_bits * j)) & digit_mask == 0:
        j -= 1
    d = (e >> (dac_bits * j)) & digit_mask
    return j, d, e - (d << (dac_bits * j))


@njit(cache=True)
def lookup_table(digits, flips, top, field_bits, group_rows, dac_bits):
    """(G x E x packs) float64 packed column sums of every digit pattern of every group of `group_rows` rows.

    Column c is stored flipped (top - digit) where flips[c]; it sits in word c % packs at field c // packs.
    Entry e adds its highest digit's row to the entry without that digit, so each entry costs one row add.
    """
    rows, n_cols = digits.shape
    fields = max(1, PACK_BITS // field_bits)
    n_pack = (n_cols + fields - 1) // fields
    n_group = (rows + group_rows - 1) // group_rows
    packed = np.zeros((n_group * group_rows, n_pack), dtype=np.int64)
    for i in range(rows):
        for c in range(n_cols):
            d = np.int64(digits[i, c])
            if flips[c]:
                d = top - d
            packed[i, c % n_pack] += d << ((c // n_pack) * field_bits)
    patterns = 1 << (dac_bits * group_rows)
    table = np.zeros((n_group, patterns, n_pack))
    for g in range(n_group):
        for e in range(1, patterns):
            j, d, lower = _top_digit(e, dac_bits, group_rows)
            row = packed[g * group_rows + j]
            for p in range(n_pack):
                table[g, e, p] = table[g, lower, p] + np.float64(d * row[p])
    return table


@njit(cache=True)
def adc_levels(field_bits, low, step, levels, rounding):
    """The ADC's output for every integer column sum 0 .. 2**field_bits - 1."""
    out = np.empty(1 << field_bits)
    for value in range(out.shape[0]):
        out[value] = adc_convert(np.float64(value), low, step, levels, rounding)
    return out


# The same loops compiled twice: threads pay off only for many vectors (a parallel launch costs ~1 ms).
adc_shift_add = njit(cache=True)(_adc_shift_add)
adc_shift_add_parallel = njit(cache=True, parallel=True)(_adc_shift_add)
lut_partition = njit(cache=True)(_lut_partition)
lut_partition_parallel = njit(cache=True, parallel=True)(_lut_partition)
PARALLEL_MIN_VECTORS = 256
# Analog column sums of one block of vectors are materialized for all reads at once; keep them this small.
BLOCK_BYTES = 32 << 20
# Most rows per look-up group: 2**(dac_bits * rows) patterns, 256 for ISAAC's 1-bit DACs.
LUT_PATTERN_BITS = 8


@njit(cache=True)
def column_digit_sums(digits, starts, stops):
    """Sum of stored digits per (row partition, column): digits (K x C), partitions [starts, stops)."""
    out = np.zeros((starts.shape[0], digits.shape[1]), dtype=np.int64)
    for p in range(starts.shape[0]):
        for i in range(starts[p], stops[p]):
            for c in range(digits.shape[1]):
                out[p, c] += digits[i, c]
    return out


# At least this many (column block, vector range) work items per partition, for the threads.
WORK_ITEMS = 16
# Words per column block of the integer table (1 KB entries; 4 MB per block and partition for ISAAC).
TABLE_BLOCK_WORDS = 128
# Bit masks of the 8 x 8 bit-matrix transpose (swap 1x1, 2x2, then 4x4 blocks across the diagonal), as int64.
TRANSPOSE_KEEP = (0xAA55AA55AA55AA55 - (1 << 64), 0xCCCC3333CCCC3333 - (1 << 64), 0xF0F0F0F00F0F0F0F - (1 << 64))
TRANSPOSE_MOVE = (0x00AA00AA00AA00AA, 0x0000CCCC0000CCCC, 0x00000000F0F0F0F0)


# Digit patterns for both paths, then the integer path. When every ADC output is an integer and every
# partial sum stays below 2**53, the float kernels above compute exact integers, so any order of the same
# integer operations gives the same numbers; the integer kernels use that freedom: int64 words of
# 64 // field_bits fields (8 for ISAAC, not 6), the look-ups of all reads of a vector interleaved, and
# shift-add by shifts.
@njit(cache=True)
def _transposed_patterns(inputs, v, low_bits, signed, starts, stops, group_rows, first_group, patterns):
    """`read_patterns` of vector v for 1-bit DACs: per group and 8 reads, one 8 x 8 bit-matrix transpose."""
    n_read = patterns.shape[1]
    low_mask = (np.int64(1) << low_bits) - 1
    for p in range(starts.shape[0]):
        for g in range(first_group[p + 1] - first_group[p]):
            lo = starts[p] + g * group_rows
            hi = min(lo + group_rows, stops[p])
            for byte in range((n_read + 7) // 8):
                # byte j = row j's digits of reads 8*byte.. (bit t: read 8*byte+t); transposed, byte t = read
                # 8*byte+t's digits of every row (bit j: row j), i.e. its pattern
                matrix = np.int64(0)
                for i in range(lo, hi):
                    x = inputs[v, i]
                    digits = (x & low_mask) | (np.int64(1 if signed and x < 0 else 0) << low_bits)
                    matrix |= ((digits >> (8 * byte)) & 255) << (8 * (i - lo))
                matrix = (matrix & TRANSPOSE_KEEP[0]) | ((matrix & TRANSPOSE_MOVE[0]) << 7) \
                    | ((matrix >> 7) & TRANSPOSE_MOVE[0])
                matrix = (matrix & TRANSPOSE_KEEP[1]) | ((matrix & TRANSPOSE_MOVE[1]) << 14) \
                    | ((matrix >> 14) & TRANSPOSE_MOVE[1])
                matrix = (matrix & TRANSPOSE_KEEP[2]) | ((matrix & TRANSPOSE_MOVE[2]) << 28) \
                    | ((matrix >> 28) & TRANSPOSE_MOVE[2])
                for t in range(8 * byte, min(8 * byte + 8, n_read)):
                    patterns[v, t, first_group[p] + g] = (matrix >> (8 * (t - 8 * byte))) & 255


@njit(cache=True)
def _shifted_patterns(inputs, v, low_bits, dac_bits, signed, starts, stops, group_rows, first_group, patterns):
    """`read_patterns` of vector v, digit by digit (any dac_bits)."""
    n_read = patterns.shape[1]
    n_low = n_read - 1 if signed else n_read
    digit_mask = (1 << dac_bits) - 1
    low_mask = (np.int64(1) << low_bits) - 1
    for p in range(starts.shape[0]):
        for i in range(starts[p], stops[p]):
            x = inputs[v, i]
            offset = i - starts[p]
            g = first_group[p] + offset // group_rows
            position = dac_bits * (offset % group_rows)
            magnitude = x & low_mask
            for t in range(n_low):
                patterns[v, t, g] |= ((magnitude >> (dac_bits * t)) & digit_mask) << position
            if signed and x < 0:
                patterns[v, n_read - 1, g] |= 1 << position


@njit(cache=True, parallel=True)
def read_patterns(inputs, input_bits, dac_bits, signed, starts, stops, group_rows, first_group, patterns):
    """Fill patterns (V x T x groups) with the DAC digit pattern of every read; first_group: each row
    partition's first group (`patterns_of` allocates both).

    Read t < T-1 (or every read when unsigned) drives digit (x >> dac_bits*t) & (2**dac_bits - 1) of the
    two's-complement low bits; a signed input's last read drives its sign bit. Groups of `group_rows` rows
    never straddle a partition; a group's pattern is sum_j digit_j << (dac_bits * j).
    """
    low_bits = input_bits - 1 if signed else input_bits
    transpose = dac_bits == 1 and patterns.shape[1] <= 63
    for v in prange(inputs.shape[0]):
        if transpose:
            _transposed_patterns(inputs, v, low_bits, signed, starts, stops, group_rows, first_group, patterns)
        else:
            _shifted_patterns(inputs, v, low_bits, dac_bits, signed, starts, stops, group_rows, first_group,
                              patterns)


def _packed_table(digits, flips, top, field_bits, group_rows, dac_bits, block):
    """(column blocks x G x E x block) int64 packed column sums of every digit pattern of every row group.

    Column c sits in word c % packs at field c // packs (fields of `field_bits`, 64 // field_bits per word;
    the top field may use the sign bit: adds wrap and fields are read back by shift and mask). Word w is
    entry position w % block of column block w // block.
    """
    rows, n_cols = digits.shape
    fields = 64 // field_bits
    n_pack = (n_cols + fields - 1) // fields
    n_block = (n_pack + block - 1) // block
    n_group = (rows + group_rows - 1) // group_rows
    patterns = 1 << (dac_bits * group_rows)
    table = np.empty((n_block, n_group, patterns, block), dtype=np.int64)
    for g in prange(n_group):
        words = np.zeros((group_rows, n_block * block), dtype=np.int64)
        for j in range(min(group_rows, rows - g * group_rows)):
            i = g * group_rows + j
            for f in range(fields):
                for w in range(min(n_pack, n_cols - f * n_pack)):
                    d = np.int64(digits[i, f * n_pack + w])
                    if flips[f * n_pack + w]:
                        d = top - d
                    words[j, w] += d << (f * field_bits)
        for b in range(n_block):
            table[b, g, 0, :] = 0
            for e in range(1, patterns):
                j, d, lower = _top_digit(e, dac_bits, group_rows)
                for w in range(block):
                    table[b, g, e, w] = table[b, g, lower, w] + d * words[j, b * block + w]
    return table


def _lut_exact(patterns, first_group, table, field_bits, n_cols, read_shift, read_negative, adc_table, adc_identity,
               col_flip, flip_max, input_sums, column_sums):
    """One row partition of every read in int64: column sums by table look-up, ADC, shift-add into column_sums.

    patterns (V x T x all groups), this partition's groups start at first_group; table from `packed_table`;
    read t adds (or subtracts, read_negative) ADC(P) << read_shift[t] into column_sums (V x columns). A
    flipped column's reads add up to flip_max x input_sums (the inputs' sums over the partition) minus its
    ADC'd sums. adc_identity: the ADC table is s -> s, so the sums are taken as they are.
    Work items are (column block, range of vectors): each writes its own columns, no races.
    """
    n_vec, n_read = patterns.shape[0], patterns.shape[1]
    n_block, n_group, _, block = table.shape
    fields = 64 // field_bits
    n_pack = (n_cols + fields - 1) // fields
    mask = (np.int64(1) << field_bits) - 1
    vector_chunks = min(n_vec, (WORK_ITEMS + n_block - 1) // n_block)
    for item in prange(n_block * vector_chunks):
        b = item % n_block
        chunk = item // n_block
        words = min(block, n_pack - b * block)
        acc = np.empty((n_read, block), dtype=np.int64)  # packed column sums of every read of one vector
        shifted = np.empty((fields, block), dtype=np.int64)  # per column of the block: shift-added ADC outputs
        for v in range(chunk * n_vec // vector_chunks, (chunk + 1) * n_vec // vector_chunks):
            acc[:, :] = 0
            for g in range(n_group):
                for t in range(n_read):  # reads inside: independent adds overlap their loads
                    index = patterns[v, t, first_group + g]
                    for w in range(block):
                        acc[t, w] += table[b, g, index, w]
            shifted[:, :] = 0
            for t in range(n_read):
                shift = read_shift[t]
                negative = read_negative[t]
                for f in range(fields):
                    low_bit = f * field_bits
                    if adc_identity and negative:
                        for w in range(block):
                            shifted[f, w] -= ((acc[t, w] >> low_bit) & mask) << shift
                    elif adc_identity:
                        for w in range(block):
                            shifted[f, w] += ((acc[t, w] >> low_bit) & mask) << shift
                    elif negative:
                        for w in range(block):
                            shifted[f, w] -= adc_table[(acc[t, w] >> low_bit) & mask] << shift
                    else:
                        for w in range(block):
                            shifted[f, w] += adc_table[(acc[t, w] >> low_bit) & mask] << shift
            for f in range(fields):
                for w in range(words):
                    c = f * n_pack + b * block + w
                    if c < n_cols:
                        total = shifted[f, w]
                        if col_flip[c]:
                            total = flip_max * input_sums[v] - total
                        column_sums[v, c] += total


@njit(cache=True)
def scatter_columns(column_sums, col_output, col_scale, out):
    """out[v, col_output[c]] += col_scale[c] x column_sums[v, c], in int64."""
    for v in range(column_sums.shape[0]):
        for c in range(column_sums.shape[1]):
            out[v, col_output[c]] += col_scale[c] * column_sums[v, c]


packed_table = njit(cache=True)(_packed_table)
packed_table_parallel = njit(cache=True, parallel=True)(_packed_table)
lut_exact = njit(cache=True)(_lut_exact)
lut_exact_parallel = njit(cache=True, parallel=True)(_lut_exact)


@dataclass(frozen=True)
class CrossbarOutput:
    """What the functional crossbar model returns for one weight matrix and a batch of input vectors."""

    outputs: np.ndarray  # (V x N) float64: recombined ADC results
    exact: np.ndarray  # (V x N) int64: the exact integer W^T x
    output_error: float  # max |outputs - exact|
    required_bits: np.ndarray  # (columns,) lossless ADC bits each mapped column needs (max over row partitions)
    configured_bits: int | None  # None: ideal ADC
    columns: int  # mapped columns per row partition (weight slices x polarity x N, + unit column)


@dataclass(frozen=True)
class _Columns:
    digits: np.ndarray  # (K x C) stored digits before flipping (uint8 up to 8-bit cells)
    output: np.ndarray  # (C,) output index; N for the unit column
    scale: np.ndarray  # (C,) float64 weight-slice scale with sign
    flippable: np.ndarray  # (C,) bool


def encode_weights(weights: np.ndarray, slicing: BitSlicing) -> _Columns:
    """Slice signed integer weights (K x N) into cell digits, one column per (output, slice, polarity)."""
    if slicing.cell_bits > 8:
        raise MappingError("cells of more than 8 bits are not modelled", field="reram.cell_bits",
                           value=slicing.cell_bits, allowed="1..8")
    k, n = weights.shape
    c_bits, slices = slicing.cell_bits, slicing.weight_slices
    offset = 1 << (slicing.weight_bits - 1)
    differential = slicing.signed_weights == "differential"
    signs = (1.0, -1.0) if differential else (1.0,)
    digit_matrix = weight_digits(weights, 0 if differential else offset, c_bits, slices, differential)
    out_index = np.tile(np.arange(n, dtype=np.int64), slices * len(signs))
    scales = np.concatenate([np.full(n, sign * float(1 << (c_bits * s))) for s in range(slices) for sign in signs])
    flippable = np.ones(digit_matrix.shape[1], dtype=np.bool_)
    if slicing.signed_weights == "unit_column":
        # one column of ones whose ADC'd sum times the offset is subtracted from every output
        digit_matrix = np.concatenate([digit_matrix, np.ones((k, 1), dtype=np.uint8)], axis=1)
        out_index = np.append(out_index, n)
        scales = np.append(scales, -float(offset))
        flippable = np.append(flippable, False)
    return _Columns(digit_matrix, out_index, scales, flippable)


def slice_inputs(inputs: np.ndarray, slicing: BitSlicing) -> list[tuple[np.ndarray, float]]:
    """(digits V x K, weight) per read: dac_bits magnitude slices, then the sign read for signed inputs."""
    d = slicing.dac_bits
    if slicing.signed_inputs:
        low_bits = slicing.input_bits - 1
        magnitude = inputs & ((1 << low_bits) - 1)  # two's-complement low bits
        reads = [((magnitude >> (d * t)) & ((1 << d) - 1), float(1 << (d * t)))
                 for t in range(-(-low_bits // d))]
        reads.append(((inputs < 0).astype(np.int64), -float(1 << low_bits)))
        return reads
    return [((inputs >> (d * t)) & ((1 << d) - 1), float(1 << (d * t))) for t in range(slicing.input_slices)]


def adc_parameters(slicing: BitSlicing) -> tuple[float, float, int]:
    """(low, step, levels) of the ADC; levels 0 means ideal (no quantization)."""
    if slicing.adc_bits is None:
        return 0.0, 1.0, 0
    bits = slicing.adc_bits
    levels = 1 << bits
    if slicing.range_policy == "granular":
        return 0.0, 1.0, levels
    if slicing.range_policy == "calibrated":
        low = slicing.calibrated_min * slicing.full_scale
        high = slicing.calibrated_max * slicing.full_scale
        return low, (high - low) / (levels - 1), levels
    return 0.0, float(1 << max(0, slicing.full_scale_bits - bits)), levels


def patterns_of(inputs: np.ndarray, slicing: BitSlicing, starts: np.ndarray, stops: np.ndarray,
                group_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(V x T x groups) DAC digit patterns of every read (`read_patterns`; uint8 where they fit) and each row
    partition's first group."""
    groups = (stops - starts + group_rows - 1) // group_rows
    first_group = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(groups, dtype=np.int64)])
    dtype = np.uint8 if slicing.dac_bits * group_rows <= 8 else np.int64
    patterns = np.zeros((inputs.shape[0], slicing.input_slices, int(first_group[-1])), dtype=dtype)
    read_patterns(inputs, slicing.input_bits, slicing.dac_bits, slicing.signed_inputs, starts, stops, group_rows,
                  first_group, patterns)
    return patterns, first_group


def exact_in_int64(slicing: BitSlicing, cols: _Columns, k: int, partitions: int, input_max: int,
                   adc_max: float) -> bool:
    """True when every partial sum of the float kernels is an integer below 2**53 (so the integer path is
    bit-identical): bounds each output by the sum of |every term| it ever receives."""
    top = (1 << slicing.cell_bits) - 1
    dac_max = (1 << slicing.dac_bits) - 1
    reads = slice_inputs(np.zeros((1, 1), dtype=np.int64), slicing)
    read_sum = sum(abs(weight) for _, weight in reads)
    column = read_sum * (top * dac_max * slicing.rows_per_partition + adc_max) * partitions
    n = int(cols.output.max(initial=0))
    per_output = np.bincount(cols.output, weights=np.abs(cols.scale), minlength=n + 1) * column
    unit = per_output[-1] if slicing.signed_weights == "unit_column" else 0.0
    offset = float(1 << (slicing.weight_bits - 1)) * k * input_max
    return float(per_output.max(initial=0.0)) + unit + offset < 2.0 ** 52


def _check_range(name: str, values: np.ndarray, low: int, high: int) -> None:
    smallest, largest = (values.min(), values.max()) if values.size else (low, high)
    if smallest < low or largest > high:
        bad = smallest if smallest < low else largest
        raise MappingError(f"{name} outside the crossbar's precision", field=name, value=int(bad),
                           allowed=f"{low}..{high}")


def _integers(name: str, values: np.ndarray) -> np.ndarray:
    """int64 operands; a non-integer value is an error, never truncated (quantize floats first)."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return array.astype(np.int64)
    hint = f"{name} must be integers: quantize float tensors first (sim.functional.quantize)"
    if array.dtype.kind != "f":
        raise MappingError(hint, field=name, value=str(array.dtype), allowed="an integer or float array")
    flat = array.ravel()
    bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.rint(flat)))
    if bad.size:
        raise MappingError(hint, field=name, value=float(flat[bad[0]]), allowed="integer values")
    return array.astype(np.int64)


def exact_product(weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """inputs @ weights exactly; float64 BLAS when every partial sum stays below 2**53."""
    bound = float(np.abs(weights).max(initial=0)) * float(np.abs(inputs).max(initial=0)) * weights.shape[0]
    if bound < 2.0 ** 53:
        return (inputs.astype(np.float64) @ weights.astype(np.float64)).astype(np.int64)
    return inputs.astype(np.int64) @ weights.astype(np.int64)


def _conductances(digits: np.ndarray, slicing: BitSlicing, non_ideal: NonIdealitySpec,
                  rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Programmed conductances in units of one level, and G_off in the same units."""
    top = float((1 << slicing.cell_bits) - 1)
    g_off = top / (non_ideal.on_off_ratio - 1.0) if non_ideal.on_off_ratio else 0.0
    g = digits.astype(np.float64)
    if non_ideal.levels is not None and non_ideal.levels - 1 < top:
        spacing = top / max(non_ideal.levels - 1, 1)
        g = np.rint(g / spacing) * spacing if non_ideal.levels > 1 else np.zeros_like(g)
    g = g + g_off
    if non_ideal.programming_sigma:
        g = g * (1.0 + non_ideal.programming_sigma * rng.standard_normal(g.shape))
    if non_ideal.stuck_at_on or non_ideal.stuck_at_off:
        draw = rng.random(g.shape)
        g = np.where(draw < non_ideal.stuck_at_on, top + g_off, g)
        g = np.where((draw >= non_ideal.stuck_at_on) & (draw < non_ideal.stuck_at_on + non_ideal.stuck_at_off),
                     g_off, g)
    return g, g_off


def _integer_partitions(inputs, n_outputs, slicing, cols, starts, stops, flips, field_bits, group_rows,
                        read_weight, adc, parallel):
    """(V x N+1) float64 sums of every partition (the unit column's last), computed in int64: only where
    `exact_in_int64` holds, so the numbers equal the float path's."""
    low, step, levels, rounding = adc
    n_vec, n_cols = inputs.shape[0], cols.digits.shape[1]
    top = (1 << slicing.cell_bits) - 1
    patterns, first_group = patterns_of(inputs, slicing, starts, stops, group_rows)
    input_sums = np.add.reduceat(inputs, starts, axis=1).T.copy()  # (partitions x V): sum_t w_t x_t = x
    read_shift = np.array([abs(int(weight)).bit_length() - 1 for weight in read_weight], dtype=np.int64)
    read_negative = read_weight < 0
    column_sums = np.zeros((n_vec, n_cols), dtype=np.int64)
    table_kernel = packed_table_parallel if parallel else packed_table
    kernel = lut_exact_parallel if parallel else lut_exact
    for p in range(starts.shape[0]):
        words = -(-n_cols // (64 // field_bits[p]))
        table = table_kernel(cols.digits[starts[p]:stops[p]], flips[p], top, field_bits[p], group_rows,
                             slicing.dac_bits, min(words, TABLE_BLOCK_WORDS))
        adc_table = adc_levels(field_bits[p], low, step, levels, rounding)
        kernel(patterns, first_group[p], table, field_bits[p], n_cols, read_shift, read_negative,
               adc_table.astype(np.int64), bool(np.array_equal(adc_table, np.arange(adc_table.shape[0]))),
               flips[p], top, input_sums[p], column_sums)
    out = np.zeros((n_vec, n_outputs + 1), dtype=np.int64)
    scatter_columns(column_sums, cols.output, cols.scale.astype(np.int64), out)
    return out.astype(np.float64)


def _float_partitions(inputs, n_outputs, slicing, cols, starts, stops, flips, field_bits, group_rows, reads,
                      read_weight, adc, non_ideal, rng, parallel):
    """(V x N+1) float64 sums of every partition: table look-ups (ideal devices) or conductances and BLAS."""
    low, step, levels, rounding = adc
    n_vec, n_cols, n_read = inputs.shape[0], cols.digits.shape[1], len(reads)
    top = (1 << slicing.cell_bits) - 1
    out = np.zeros((n_vec, n_outputs + 1), dtype=np.float64)
    if non_ideal is None:
        patterns, first_group = patterns_of(inputs, slicing, starts, stops, group_rows)
        # digit sums per read, vector and partition: the digits of each group's pattern, summed per partition
        group_sums = np.zeros(patterns.shape, dtype=np.int64)
        for j in range(group_rows):
            group_sums += (patterns.astype(np.int64) >> (slicing.dac_bits * j)) & ((1 << slicing.dac_bits) - 1)
        part_sums = np.zeros((patterns.shape[1], n_vec, starts.shape[0]), dtype=np.int64)
        if starts.shape[0]:
            part_sums = np.add.reduceat(group_sums, first_group[:-1], axis=2).transpose(1, 0, 2)
        patterns = patterns.transpose(1, 0, 2)  # (T x V x groups)
    else:
        read_digits = np.stack([digits for digits, _ in reads]).astype(np.float64)  # (T, V, K)
    for p in range(starts.shape[0]):
        lo_row, hi_row = int(starts[p]), int(stops[p])
        if non_ideal is None:
            table = lookup_table(cols.digits[lo_row:hi_row], flips[p], top, field_bits[p], group_rows,
                                 slicing.dac_bits)
            adc_table = adc_levels(field_bits[p], low, step, levels, rounding)
            kernel = lut_partition_parallel if parallel else lut_partition
            kernel(patterns[:, :, first_group[p]:first_group[p + 1]], part_sums[:, :, p], table, field_bits[p],
                   n_cols, read_weight, cols.output, cols.scale, flips[p], float(top), adc_table,
                   bool(np.array_equal(adc_table, np.arange(adc_table.shape[0]))), out)
            continue
        stored = np.where(flips[p][None, :], top - cols.digits[lo_row:hi_row], cols.digits[lo_row:hi_row])
        matrix, g_off = _conductances(stored, slicing, non_ideal, rng)
        block = max(1, BLOCK_BYTES // (8 * n_read * matrix.shape[1]))
        for v0 in range(0, n_vec, block):
            v1 = min(n_vec, v0 + block)
            x_part = read_digits[:, v0:v1, lo_row:hi_row]
            xsum = x_part.sum(axis=2)
            sums = x_part @ matrix - g_off * xsum[:, :, None]  # G_off removed by a reference column (NeuroSim)
            if non_ideal.read_noise_sigma:
                # each driven cell's conductance fluctuates by sigma levels, independently (CrossSim's model):
                # the column sum's variance is sigma**2 x sum of the squared input digits
                spread = np.sqrt(np.einsum("tvk,tvk->tv", x_part, x_part))
                sums += non_ideal.read_noise_sigma * spread[:, :, None] * rng.standard_normal(sums.shape)
            kernel = adc_shift_add_parallel if parallel else adc_shift_add
            kernel(sums, read_weight, cols.output, cols.scale, flips[p], float(top), xsum, low, step, levels,
                   rounding, out[v0:v1])
    return out


def crossbar_mvm(weights: np.ndarray, inputs: np.ndarray, slicing: BitSlicing,
                 non_ideal: NonIdealitySpec | None = None, seed: int = 0) -> CrossbarOutput:
    """Evaluate inputs (V x K) @ weights (K x N) on bit-sliced crossbars; both signed integer arrays."""
    weights = _integers("weights", weights)
    inputs = np.atleast_2d(_integers("inputs", inputs))
    k, n = weights.shape
    if inputs.shape[1] != k:
        raise MappingError("inputs and weights disagree on K", field="inputs", value=inputs.shape,
                           allowed=f"(vectors, {k})")
    half_w = 1 << (slicing.weight_bits - 1)
    _check_range("weights", weights, -half_w, half_w - 1)
    if slicing.signed_inputs:
        half_x = 1 << (slicing.input_bits - 1)
        _check_range("inputs", inputs, -half_x, half_x - 1)
    else:
        _check_range("inputs", inputs, 0, (1 << slicing.input_bits) - 1)

    cols = encode_weights(weights, slicing)
    n_cols = cols.digits.shape[1]
    rows = slicing.rows_per_partition
    starts = np.arange(0, k, rows, dtype=np.int64)
    stops = np.minimum(starts + rows, k)
    top = (1 << slicing.cell_bits) - 1
    digit_sums = column_digit_sums(cols.digits, starts, stops)
    flips = np.zeros_like(digit_sums, dtype=np.bool_)
    if slicing.column_flip:
        # store the complement where the column could exceed half of its full scale (ISAAC)
        flips = (2 * digit_sums > (stops - starts)[:, None] * top) & cols.flippable[None, :]
    stored_sums = np.where(flips, (stops - starts)[:, None] * top - digit_sums, digit_sums)
    dac_max = (1 << slicing.dac_bits) - 1
    required = np.array([bits_for(int(v)) for v in (dac_max * stored_sums.max(axis=0))], dtype=np.int64)

    low, step, levels = adc_parameters(slicing)
    rounding = ROUNDING_CODES[slicing.rounding]
    non_ideal = non_ideal if non_ideal is not None and not non_ideal.ideal else None
    rng = np.random.default_rng(seed)
    n_vec = inputs.shape[0]
    reads = slice_inputs(inputs[:1], slicing) if non_ideal is None else slice_inputs(inputs, slicing)
    read_weight = np.array([weight for _, weight in reads], dtype=np.float64)
    # a table of 2**pattern_bits entries per group pays off only when the reads outnumber its entries
    pattern_bits = min(LUT_PATTERN_BITS, max(slicing.dac_bits, (n_vec * len(reads)).bit_length() - 2))
    group_rows = max(1, pattern_bits // slicing.dac_bits)
    parallel = n_vec >= PARALLEL_MIN_VECTORS
    field_bits = [bits_for(int(dac_max * stored_sums[p].max(initial=0))) for p in range(starts.shape[0])]
    widest = max(field_bits, default=0)
    adc_max = float(max(abs(low), abs(low + (levels - 1) * step))) if levels else float((1 << widest) - 1)
    integer = (non_ideal is None and k > 0 and float(low).is_integer() and float(step).is_integer()
               and slicing.dac_bits * group_rows <= 8 and widest <= 62
               and exact_in_int64(slicing, cols, k, starts.shape[0], int(np.abs(inputs).max(initial=0)), adc_max))
    if integer:
        out = _integer_partitions(inputs, n, slicing, cols, starts, stops, flips, field_bits, group_rows,
                                  read_weight, (low, step, levels, rounding), parallel)
    else:
        out = _float_partitions(inputs, n, slicing, cols, starts, stops, flips, field_bits, group_rows, reads,
                                read_weight, (low, step, levels, rounding), non_ideal, rng, parallel)
    outputs = out[:, :n] + out[:, n:]
    if slicing.signed_weights == "offset":
        outputs -= float(half_w) * inputs.sum(axis=1, dtype=np.int64).astype(np.float64)[:, None]
    exact = exact_product(weights, inputs)
    error = float(np.abs(outputs - exact).max(initial=0.0))
    return CrossbarOutput(outputs=outputs, exact=exact, output_error=error, required_bits=required,
                          configured_bits=slicing.adc_bits, columns=n_cols)
