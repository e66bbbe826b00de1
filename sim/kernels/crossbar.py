"""Bit-sliced crossbar MVM: column sums of every read, through the ADC, recombined by shift-and-add.

For every row partition and every input slice t (one DAC read), each stored weight-slice column yields
P = sum_i x_t[i] * digit[i] (analog), the ADC quantizes P (range policy, rounding, clipping), and the
digital side adds scale * ADC(P) into the column's output, with scale = +-2**(cell_bits*s) x the slice's
input weight (2**(dac_bits*t), or -2**(input_bits-1) for the two's-complement sign read). Flipped columns
(ISAAC) store 2**c-1-digit and are recovered as (2**c-1)*sum(x_t) - ADC(P'). Offsets are removed
digitally (offset) or by an analog unit column (unit_column); differential columns subtract.

The numba kernels take arrays only. The ideal-device path packs several weight-slice columns into one
float64 (52 exact bits; each field wide enough for a column sum) and sums rows by table look-up: for
every group of rows a table holds the packed column sums of every DAC digit pattern, so one add covers
8 rows x 6 columns (ISAAC); the ADC is a table of its output per column sum, and shift-and-add follows in the same loop.
Non-ideal devices take float conductances and BLAS. `crossbar_mvm` is the thin wrapper that returns outputs, the exact integer result, the error
and the ADC bits each column needs.
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

    patterns (T x V x G) give, per read and vector, the DAC digit pattern of each group of rows; xsum (T x V)
    the digit sum over the partition. table (G x E x packs) float64 holds, for each group and pattern, the
    column sums of that group: column c sits in word c % packs, field c // packs, as c's sum x 2**(field x
    field_bits); words stay below 2**52, so every add is exact and fields never carry.
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
def input_patterns(inputs, input_bits, dac_bits, signed, starts, stops, group_rows):
    """DAC digit patterns of every read: (T x V x groups) and digit sums per row partition (T x V x partitions).

    Read t < T-1 (or every read when unsigned) drives digit (x >> dac_bits*t) & (2**dac_bits - 1) of the
    two's-complement low bits; a signed input's last read drives its sign bit. Groups of `group_rows` rows
    never straddle a partition; a group's pattern is sum_j digit_j << (dac_bits * j).
    """
    n_vec = inputs.shape[0]
    low_bits = input_bits - 1 if signed else input_bits
    n_read = (low_bits + dac_bits - 1) // dac_bits + (1 if signed else 0)
    n_part = starts.shape[0]
    first_group = np.zeros(n_part + 1, dtype=np.int64)
    for p in range(n_part):
        first_group[p + 1] = first_group[p] + (stops[p] - starts[p] + group_rows - 1) // group_rows
    patterns = np.zeros((n_read, n_vec, first_group[n_part]), dtype=np.int64)
    sums = np.zeros((n_read, n_vec, n_part), dtype=np.int64)
    digit_mask = (1 << dac_bits) - 1
    low_mask = (np.int64(1) << low_bits) - 1
    for v in prange(n_vec):
        for t in range(n_read):
            sign_read = signed and t == n_read - 1
            for p in range(n_part):
                total = 0
                for i in range(starts[p], stops[p]):
                    x = inputs[v, i]
                    if sign_read:
                        d = 1 if x < 0 else 0
                    else:
                        d = ((x & low_mask) >> (dac_bits * t)) & digit_mask
                    offset = i - starts[p]
                    patterns[t, v, first_group[p] + offset // group_rows] |= d << (dac_bits * (offset % group_rows))
                    total += d
                sums[t, v, p] = total
    return patterns, sums, first_group


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
    digit_mask = (1 << dac_bits) - 1
    table = np.zeros((n_group, patterns, n_pack))
    for g in range(n_group):
        for e in range(1, patterns):
            j = group_rows - 1
            while (e >> (dac_bits * j)) & digit_mask == 0:
                j -= 1
            d = (e >> (dac_bits * j)) & digit_mask
            lower = e - (d << (dac_bits * j))
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


def _check_range(name: str, values: np.ndarray, low: int, high: int) -> None:
    if values.size and (values.min() < low or values.max() > high):
        bad = values.min() if values.min() < low else values.max()
        raise MappingError(f"{name} outside the crossbar's precision", field=name, value=int(bad),
                           allowed=f"{low}..{high}")


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


def crossbar_mvm(weights: np.ndarray, inputs: np.ndarray, slicing: BitSlicing,
                 non_ideal: NonIdealitySpec | None = None, seed: int = 0) -> CrossbarOutput:
    """Evaluate inputs (V x K) @ weights (K x N) on bit-sliced crossbars; both signed integer arrays."""
    weights = np.asarray(weights, dtype=np.int64)
    inputs = np.atleast_2d(np.asarray(inputs, dtype=np.int64))
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
    out = np.zeros((n_vec, n + 1), dtype=np.float64)
    reads = slice_inputs(inputs[:1], slicing) if non_ideal is None else slice_inputs(inputs, slicing)
    read_weight = np.array([weight for _, weight in reads], dtype=np.float64)
    n_read = len(reads)
    # a table of 2**pattern_bits entries per group pays off only when the reads outnumber its entries
    pattern_bits = min(LUT_PATTERN_BITS, max(slicing.dac_bits, (n_vec * len(reads)).bit_length() - 2))
    group_rows = max(1, pattern_bits // slicing.dac_bits)
    if non_ideal is None:
        patterns, part_sums, first_group = input_patterns(inputs, slicing.input_bits, slicing.dac_bits,
                                                          slicing.signed_inputs, starts, stops, group_rows)
    else:
        read_digits = np.stack([digits for digits, _ in reads]).astype(np.float64)  # (T, V, K)
    parallel = n_vec >= PARALLEL_MIN_VECTORS
    for p in range(starts.shape[0]):
        lo_row, hi_row = int(starts[p]), int(stops[p])
        if non_ideal is None:
            field_bits = bits_for(int(dac_max * stored_sums[p].max(initial=0)))
            table = lookup_table(cols.digits[lo_row:hi_row], flips[p], top, field_bits, group_rows, slicing.dac_bits)
            adc_table = adc_levels(field_bits, low, step, levels, rounding)
            kernel = lut_partition_parallel if parallel else lut_partition
            kernel(patterns[:, :, first_group[p]:first_group[p + 1]], part_sums[:, :, p], table, field_bits,
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
                sums += non_ideal.read_noise_sigma * np.sqrt(xsum)[:, :, None] * rng.standard_normal(sums.shape)
            kernel = adc_shift_add_parallel if parallel else adc_shift_add
            kernel(sums, read_weight, cols.output, cols.scale, flips[p], float(top), xsum, low, step, levels,
                   rounding, out[v0:v1])
    outputs = out[:, :n] + out[:, n:]
    if slicing.signed_weights == "offset":
        outputs -= float(half_w) * inputs.sum(axis=1, dtype=np.int64).astype(np.float64)[:, None]
    exact = exact_product(weights, inputs)
    error = float(np.abs(outputs - exact).max(initial=0.0))
    return CrossbarOutput(outputs=outputs, exact=exact, output_error=error, required_bits=required,
                          configured_bits=slicing.adc_bits, columns=n_cols)
