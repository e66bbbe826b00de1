"""Operand tensors of a layer and their GEMM form: seeded random operands, im2col, the filter matrix, and an
independent direct numpy convolution that the functional checks compare against.

Layouts (channel-fastest, as SCALE-Sim's address matrices):
- ifmap  (batch, ifmap_h, ifmap_w, in_channels)             — unpadded, as the layer record describes it
- filters (out_channels, filter_h, filter_w, in_channels/groups)
- ofmap  (batch, ofmap_h, ofmap_w, out_channels)
- ifmap matrix (groups, M, K) with M = (batch, e, f) and K = (r, s, c) in row-major order
- filter matrix (groups, K, N), ofmap matrix (groups, M, N)

Transposed convolutions use scatter semantics for `filters` (out[i*stride + r*dilation - pad] += in[i] * w[r],
as PyTorch's ConvTranspose); their lowered stride-1 convolution therefore uses the spatially flipped filters.
"""
from __future__ import annotations

import math

import numpy as np

from sim.errors import MappingError
from sim.workload.layer import Layer

# float64 represents every integer below 2**53 exactly, so BLAS sums of integer products are exact below it.
FLOAT64_EXACT_LIMIT = 2**53


def operand_dtype(bits: int) -> np.dtype:
    """The narrowest signed numpy integer type holding a `bits`-bit two's-complement operand."""
    for dtype in (np.int8, np.int16, np.int32, np.int64):
        if bits <= np.iinfo(dtype).bits:
            return np.dtype(dtype)
    raise MappingError("operand precision too wide", field="ifmap_bits", value=bits, allowed="1..64")


def signed_range(bits: int) -> tuple[int, int]:
    """Smallest and largest value of a signed `bits`-bit integer."""
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def ifmap_shape(layer: Layer) -> tuple[int, int, int, int]:
    return (layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)


def filter_shape(layer: Layer) -> tuple[int, int, int, int]:
    return (layer.out_channels, layer.filter_h, layer.filter_w, layer.in_channels // layer.groups)


def ofmap_shape(layer: Layer) -> tuple[int, int, int, int]:
    e, f = layer.ofmap_hw
    return (layer.batch, e, f, layer.out_channels)


def _random_signed(rng: np.random.Generator, bits: int, shape: tuple[int, ...]) -> np.ndarray:
    low, high = signed_range(bits)
    return rng.integers(low, high, size=shape, endpoint=True, dtype=np.int64).astype(operand_dtype(bits))


def random_operands(layer: Layer, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random (ifmap, filters) spanning the full signed range of layer.ifmap_bits / filter_bits.

    A block-circulant layer gets filters whose filter matrix is made of circulant k x k blocks; an N:M-sparse
    layer filters with at most N non-zeros in every M window elements of each filter.
    """
    rng = np.random.default_rng(seed)
    ifmap = _random_signed(rng, layer.ifmap_bits, ifmap_shape(layer))
    if layer.ifmap_density < 1:  # a sparse ifmap: all but ceil(density x elements) seeded positions zero
        ifmap = _sparsified(ifmap, layer.ifmap_density, np.random.default_rng([seed, 1]))  # own stream: filters unchanged
    if layer.optimized_mapping is not None:  # SCALE-Sim's optimized mapping: each column its own N of every M
        from sim.mapping.optmap import prune_per_column

        dense = filter_matrix(layer, _random_signed(rng, layer.filter_bits, filter_shape(layer)))
        pruned = np.stack([prune_per_column(group, layer.optimized_mapping.column_n, layer.optmap_block)
                           for group in dense])
        return ifmap, _filters_from_matrix(layer, pruned)
    if layer.is_sparse:  # N:M-sparse weights: random, then pruned to the N largest of every M
        from sim.mapping.sparsity import prune_n_of_m

        dense = filter_matrix(layer, _random_signed(rng, layer.filter_bits, filter_shape(layer)))
        pruned = np.stack([prune_n_of_m(group, layer.sparsity_n, layer.sparsity_m) for group in dense])
        return ifmap, _filters_from_matrix(layer, pruned)
    if layer.weight_density < 1:  # unstructured sparsity: magnitude pruning to exactly the layer's non-zeros
        from sim.mapping.sparsity import prune_unstructured

        dense = filter_matrix(layer, _random_signed(rng, layer.filter_bits, filter_shape(layer)))
        pruned = np.stack([prune_unstructured(group, layer.nonzero_weights_per_group) for group in dense])
        return ifmap, _filters_from_matrix(layer, pruned)
    if layer.block_size == 1:
        return ifmap, _random_signed(rng, layer.filter_bits, filter_shape(layer))
    g = layer.gemm
    k = layer.block_size
    vectors = _random_signed(rng, layer.filter_bits, (g.groups, g.k // k, g.n // k, k))
    # Block (p, q) is circulant: entry (i, j) = v[(i - j) mod k].
    index = (np.arange(k)[:, None] - np.arange(k)[None, :]) % k
    blocks = vectors[..., index]  # (groups, K/k, N/k, k, k)
    matrix = blocks.transpose(0, 1, 3, 2, 4).reshape(g.groups, g.k, g.n)
    return ifmap, _filters_from_matrix(layer, matrix)


def _sparsified(values: np.ndarray, density: float, rng: np.random.Generator) -> np.ndarray:
    keep = max(1, math.ceil(round(density * values.size, 9)))
    flat = np.zeros(values.size, dtype=values.dtype)
    chosen = rng.permutation(values.size)[:keep]
    flat[chosen] = values.ravel()[chosen]
    return flat.reshape(values.shape)


def _filters_from_matrix(layer: Layer, matrix: np.ndarray) -> np.ndarray:
    """Inverse of filter_matrix: (groups, K, N) -> filters (O, R, S, C/g)."""
    g = layer.dense_gemm
    window = matrix.transpose(0, 2, 1).reshape(g.groups * g.n, layer.filter_h, layer.filter_w,
                                               layer.in_channels // layer.groups)
    if layer.kind == "tconv":
        window = window[:, ::-1, ::-1, :]
    return np.ascontiguousarray(window)


def _check_shape(layer: Layer, name: str, array: np.ndarray, expected: tuple[int, ...]) -> None:
    if array.shape != expected:
        raise MappingError(f"{name} tensor has the wrong shape for layer '{layer.name}'", field=name,
                           value=array.shape, allowed=str(expected))


def lowered_input(layer: Layer, ifmap: np.ndarray) -> np.ndarray:
    """The input the lowered convolution slides over: padded, and zero-inserted for tconv. (B, H', W', C)."""
    _check_shape(layer, "ifmap", ifmap, ifmap_shape(layer))
    height, width = layer.padded_ifmap
    out = np.zeros((layer.batch, height, width, layer.in_channels), dtype=ifmap.dtype)
    if layer.kind == "tconv":
        top = layer.dilation_h * (layer.filter_h - 1) - layer.pad_top
        left = layer.dilation_w * (layer.filter_w - 1) - layer.pad_left
        rows = top + layer.stride_h * np.arange(layer.ifmap_h)
        cols = left + layer.stride_w * np.arange(layer.ifmap_w)
        out[:, rows[:, None], cols[None, :], :] = ifmap
    else:
        out[:, layer.pad_top:layer.pad_top + layer.ifmap_h, layer.pad_left:layer.pad_left + layer.ifmap_w, :] = ifmap
    return out


def ifmap_matrix(layer: Layer, ifmap: np.ndarray) -> np.ndarray:
    """im2col: (groups, M, K); row (b, e, f), column (r, s, c) with c the channel within the group."""
    x = lowered_input(layer, ifmap)
    e, f = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    b = x.strides
    # A strided view (B, E, F, R, S, C) without copying; the reshape below makes the one copy.
    windows = np.lib.stride_tricks.as_strided(
        x,
        shape=(layer.batch, e, f, layer.filter_h, layer.filter_w, layer.in_channels),
        strides=(b[0], b[1] * stride_h, b[2] * stride_w, b[1] * layer.dilation_h, b[2] * layer.dilation_w, b[3]),
        writeable=False,
    )
    g = layer.dense_gemm  # the dense window: an N:M-sparse array selects from it with the filter's metadata
    per_group = layer.in_channels // layer.groups
    windows = windows.reshape(layer.batch, e, f, layer.filter_h, layer.filter_w, g.groups, per_group)
    return np.ascontiguousarray(windows.transpose(5, 0, 1, 2, 3, 4, 6)).reshape(g.groups, g.m, g.k)


def filter_matrix(layer: Layer, filters: np.ndarray) -> np.ndarray:
    """(groups, K, N): column n of group g is filter g*N + n flattened in (r, s, c) order (flipped for tconv)."""
    _check_shape(layer, "filters", filters, filter_shape(layer))
    window = filters[:, ::-1, ::-1, :] if layer.kind == "tconv" else filters
    g = layer.dense_gemm
    return np.ascontiguousarray(window.reshape(g.groups, g.n, g.k).transpose(0, 2, 1))


def ofmap_from_matrix(layer: Layer, matrix: np.ndarray) -> np.ndarray:
    """(groups, M, N) -> ofmap (B, E, F, O)."""
    g = layer.gemm
    e, f = layer.ofmap_hw
    return np.ascontiguousarray(
        matrix.reshape(g.groups, layer.batch, e, f, g.n).transpose(1, 2, 3, 0, 4)
    ).reshape(ofmap_shape(layer))


def exact_sum_bound(layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> int:
    """An upper bound on |any partial sum| of the layer: max|x| * max|w| * K."""
    x_max = int(np.max(np.abs(ifmap.astype(np.int64)))) if ifmap.size else 0
    w_max = int(np.max(np.abs(filters.astype(np.int64)))) if filters.size else 0
    return x_max * w_max * layer.gemm.k


def _accumulate_dtype(layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> type:
    bound = exact_sum_bound(layer, ifmap, filters)
    if bound < FLOAT64_EXACT_LIMIT:
        return np.float64
    if bound < 2**63:
        return np.int64
    raise MappingError("operand values too wide for an exact 64-bit accumulation", field=f"{layer.name}.ifmap_bits",
                       value=(layer.ifmap_bits, layer.filter_bits), allowed="max|x| * max|w| * K < 2**63")


def reference_ofmap(layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """Exact output (int64, (B, E, F, O)) by direct convolution, independent of im2col.

    conv/gemm: a sum over filter taps of shifted, strided input slices; tconv: the scatter form of the
    transposed convolution. Both accumulate in float64 when that is exact (BLAS), int64 otherwise.
    """
    _check_shape(layer, "ifmap", ifmap, ifmap_shape(layer))
    _check_shape(layer, "filters", filters, filter_shape(layer))
    dtype = _accumulate_dtype(layer, ifmap, filters)
    groups = layer.groups
    per_in = layer.in_channels // groups
    per_out = layer.out_channels // groups
    e, f = layer.ofmap_hw
    x = ifmap.astype(dtype).reshape(layer.batch, layer.ifmap_h, layer.ifmap_w, groups, per_in)
    w = filters.astype(dtype).reshape(groups, per_out, layer.filter_h, layer.filter_w, per_in)
    if layer.kind == "tconv":
        out = _scatter_tconv(layer, x, w, dtype)
    else:
        padded = np.zeros((layer.batch, layer.ifmap_h + layer.pad_top + layer.pad_bottom,
                           layer.ifmap_w + layer.pad_left + layer.pad_right, groups, per_in), dtype=dtype)
        padded[:, layer.pad_top:layer.pad_top + layer.ifmap_h, layer.pad_left:layer.pad_left + layer.ifmap_w] = x
        out = np.zeros((layer.batch, e, f, groups, per_out), dtype=dtype)
        for r in range(layer.filter_h):
            for s in range(layer.filter_w):
                row0 = r * layer.dilation_h
                col0 = s * layer.dilation_w
                tap = padded[:, row0:row0 + layer.stride_h * (e - 1) + 1:layer.stride_h,
                             col0:col0 + layer.stride_w * (f - 1) + 1:layer.stride_w]
                out += np.einsum("befgc,gnc->befgn", tap, w[:, :, r, s, :], optimize=True)
    return np.rint(out).astype(np.int64).reshape(layer.batch, e, f, layer.out_channels) if dtype is np.float64 \
        else out.astype(np.int64).reshape(layer.batch, e, f, layer.out_channels)


def _scatter_tconv(layer: Layer, x: np.ndarray, w: np.ndarray, dtype: type) -> np.ndarray:
    """out[i*stride + r*dilation - pad] += in[i] * w[r], per axis, over an output of ofmap_hw."""
    e, f = layer.ofmap_hw
    groups, per_out = w.shape[0], w.shape[1]
    out = np.zeros((layer.batch, e, f, groups, per_out), dtype=dtype)
    rows_in = np.arange(layer.ifmap_h)
    cols_in = np.arange(layer.ifmap_w)
    for r in range(layer.filter_h):
        rows_out = rows_in * layer.stride_h + r * layer.dilation_h - layer.pad_top
        keep_rows = (rows_out >= 0) & (rows_out < e)
        for s in range(layer.filter_w):
            cols_out = cols_in * layer.stride_w + s * layer.dilation_w - layer.pad_left
            keep_cols = (cols_out >= 0) & (cols_out < f)
            contrib = np.einsum("bhwgc,gnc->bhwgn", x[:, keep_rows][:, :, keep_cols], w[:, :, r, s, :], optimize=True)
            out[:, rows_out[keep_rows][:, None], cols_out[keep_cols][None, :]] += contrib
    return out
