"""Ifmap footprints of im2col blocks: how many distinct stored ifmap elements a block of the lowered GEMM touches.

The lowered GEMM of one group has rows m = (batch, ofmap row e, ofmap col f) and columns k = (r, s, c) with the
channel c fastest (sim.mapping.operands). Row m with filter tap (r, s) reads the lowered input (padded; for
tconv zero-inserted) at (e*stride_h + r*dilation_h, f*stride_w + s*dilation_w); only *stored* pixels (not
padding, not inserted zeros) count. A block rows m0:m1 x columns k0:k1 splits its channel axis into at most
three segments, each covered by a contiguous range of taps; per segment the footprint is |union over those
taps of the pixels the rows touch| x the segment's channel count. A single tap maps rows to pixels one to one,
so its count is a prefix-sum difference; for a union of several taps each touch of a pixel is linked to the
previous row touching the same pixel, and a block counts the touches whose previous one lies before it.
"""
from __future__ import annotations

from itertools import pairwise

import numpy as np

from sim.workload.layer import Layer


def is_plain_matrix(layer: Layer) -> bool:
    """True when im2col is a permutation of the ifmap (1x1, stride 1, no padding): a block's footprint is its size."""
    return (layer.kind != "tconv" and layer.filter_h == layer.filter_w == 1 and layer.lowered_stride == (1, 1)
            and layer.padded_ifmap == (layer.ifmap_h, layer.ifmap_w))


def real_plane(layer: Layer) -> np.ndarray:
    """bool (H', W') over the lowered input: True where a stored ifmap pixel sits (not padding, not inserted)."""
    height, width = layer.padded_ifmap
    real = np.zeros((height, width), dtype=bool)
    if layer.kind == "tconv":
        top = layer.dilation_h * (layer.filter_h - 1) - layer.pad_top
        left = layer.dilation_w * (layer.filter_w - 1) - layer.pad_left
        real[top + layer.stride_h * np.arange(layer.ifmap_h)[:, None],
             left + layer.stride_w * np.arange(layer.ifmap_w)[None, :]] = True
    else:
        real[layer.pad_top:layer.pad_top + layer.ifmap_h, layer.pad_left:layer.pad_left + layer.ifmap_w] = True
    return real


def _segments(k0: int, k1: int, channels: int) -> list[tuple[int, int, int]]:
    """(channel count, first tap, last tap) of each channel segment of columns k0:k1 (taps covering it all)."""
    first, last = k0 // channels, (k1 - 1) // channels
    c_lo, c_hi = k0 - first * channels, k1 - last * channels
    if first == last:
        return [(c_hi - c_lo, first, first)]
    cuts = sorted({0, c_lo, c_hi, channels})
    out = []
    for a, b in pairwise(cuts):
        # Every middle tap covers all channels; the first starts at c_lo, the last stops at c_hi.
        out.append((b - a, first if a >= c_lo else first + 1, last if b <= c_hi else last - 1))
    return [segment for segment in out if segment[1] <= segment[2]]


def block_footprints(layer: Layer, m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
    """int64 (len(m_edges)-1, len(k_edges)-1): footprint (one group) of every block m_edges[i]:m_edges[i+1] x
    k_edges[j]:k_edges[j+1]. Edges are increasing within [0, M] and [0, K]; they need not cover the GEMM."""
    return footprint_counter(layer)(m_edges, k_edges)


def footprint_counter(layer: Layer):
    """`block_footprints` for one layer, as a function that keeps what it derived per filter tap or tap range
    (prefix sums, touched pixels) between calls: for callers that count many tilings of one layer (a grid)."""
    if is_plain_matrix(layer):
        def plain(m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
            return np.diff(np.asarray(m_edges, dtype=np.int64))[:, None] * np.diff(
                np.asarray(k_edges, dtype=np.int64))[None, :]
        return plain
    channels = layer.in_channels // layer.groups
    e, f = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    real = real_plane(layer)
    height, width = real.shape
    m = np.arange(layer.gemm.m, dtype=np.int64)
    # Flat position of each row's (0, 0) tap in a (batch, H', W') layout, and each tap's offset from it.
    base = (m // (e * f)) * (height * width) + ((m // f) % e) * stride_h * width + (m % f) * stride_w
    taps = layer.filter_h * layer.filter_w
    tap = np.arange(taps, dtype=np.int64)
    offset = (tap // layer.filter_w) * layer.dilation_h * width + (tap % layer.filter_w) * layer.dilation_w
    real_flat = np.tile(real.ravel(), layer.batch)
    single: list[np.ndarray] = []
    union: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}

    def single_hits() -> np.ndarray:
        """(taps, M + 1) prefix sums over rows of 'this tap of the row reads a stored pixel' (a tap maps rows
        to pixels one to one, so a block's count for one tap is a difference of two prefix sums)."""
        if not single:
            reads = real_flat[offset[:, None] + base[None, :]]
            single.append(np.concatenate([np.zeros((taps, 1), dtype=np.int64),
                                          np.cumsum(reads, axis=1, dtype=np.int64)], axis=1))
        return single[0]

    def union_touches(pa: int, pb: int) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, earlier row touching the same pixel or -1) pair of taps pa..pb, stored pixels only."""
        if (pa, pb) not in union:
            # Taps last-first, rows in order: each tap's positions are an increasing run, and a pixel's touches
            # from later taps come from earlier rows; a stable sort (merging the runs) keeps rows increasing.
            positions = (offset[pb:pa - 1 if pa else None:-1, None] + base[None, :]).ravel()
            rows = np.tile(m, pb - pa + 1)
            touched = real_flat[positions]
            positions, rows = positions[touched], rows[touched]
            order = np.argsort(positions, kind="stable")
            positions, rows = positions[order], rows[order]
            same = np.concatenate([[False], positions[1:] == positions[:-1]])
            union[(pa, pb)] = rows, np.where(same, np.concatenate([[-1], rows[:-1]]), -1)
        return union[(pa, pb)]

    def count(m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
        m_edges = np.asarray(m_edges, dtype=np.int64)
        k_edges = np.asarray(k_edges, dtype=np.int64)
        blocks = m_edges.size - 1
        k0, k1 = k_edges[:-1], k_edges[1:]
        first, last = k0 // channels, (k1 - 1) // channels
        within = first == last
        # Blocks whose columns lie within one tap (the common case when channels >= array rows): all at once.
        hits = single_hits()
        tap_of = first[within]
        out = np.zeros((blocks, k_edges.size - 1), dtype=np.int64)
        out[:, within] = (k1 - k0)[within][None, :] * (hits[tap_of][:, m_edges[1:]] - hits[tap_of][:, m_edges[:-1]]).T
        # Block of every row (-1 outside the edges): a gather instead of a binary search per touch.
        block_of_row = np.full(m.size + 1, -1, dtype=np.int64)
        block_of_row[m_edges[0]:m_edges[-1]] = np.repeat(np.arange(blocks, dtype=np.int64), np.diff(m_edges))
        for j in np.flatnonzero(~within).tolist():
            for channel_count, pa, pb in _segments(int(k0[j]), int(k1[j]), channels):
                if pa == pb:
                    out[:, j] += channel_count * (hits[pa, m_edges[1:]] - hits[pa, m_edges[:-1]])
                    continue
                # A pixel counts once per block: at its first touch in the block (its previous touch is
                # outside the block). Rows outside the edges fall in no block.
                rows, previous = union_touches(pa, pb)
                block = block_of_row[rows]
                first_touch = (block >= 0) & (block_of_row[previous] != block)
                out[:, j] += channel_count * np.bincount(block[first_touch], minlength=blocks)[:blocks]
        return out

    return count
