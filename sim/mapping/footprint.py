"""Ifmap footprints of im2col blocks: how many distinct stored ifmap elements a block of the lowered GEMM touches.

The lowered GEMM of one group has rows m = (batch, ofmap row e, ofmap col f) and columns k = (r, s, c) with the
channel c fastest (sim.mapping.operands). Row m with filter tap (r, s) reads the lowered input (padded; for
tconv zero-inserted) at (e*stride_h + r*dilation_h, f*stride_w + s*dilation_w); only *stored* pixels (not
padding, not inserted zeros) count. A block rows m0:m1 x columns k0:k1 splits its channel axis into at most
three segments, each covered by a contiguous range of taps; per segment the footprint is |union over those
taps of the pixels the rows touch| x the segment's channel count.

Nothing is enumerated per row and tap. The stored pixels form a product of two 1-D sets (stored pixel rows x
stored pixel columns; padding and tconv's inserted zeros take whole rows and columns), so:
- one tap maps rows to pixels one to one, and the number of rows before m whose tap reads a stored pixel is
  closed form from 1-D prefix counts over e and over f (rows are raster (batch, e, f));
- a range of raster rows within one image is at most 3 rectangles (e range x f range), a range of taps at most
  3 rectangles (r range x s range), and the pixels a (row rectangle, tap rectangle) pair touches are a product
  {e*stride_h + r*dilation_h} x {f*stride_w + s*dilation_w} of 1-D sets (bitsets over the lowered input's rows
  and columns); the union of these few products is counted exactly by splitting pixel rows into classes by
  which products contain them. Images of a batch touch disjoint pixels, so whole images count alike.
A tiling with many small blocks (a grid's small array extents) counts its unions of taps in one pass instead:
every (row, tap) touch of a stored pixel is linked to the previous row touching the same pixel (one sort per tap
range, kept by the counter), and a block counts the touches whose link leaves it. Both ways are exact; the
cheaper one is chosen per tap range.
The mapper's batches count many tilings at once (FootprintCounter.k_chunkings / m_chunkings / k_tilings: os, ws,
is), from the same links summed into small tables (loops in sim.kernels.footprint_chunks; docs/mapper.md, Cost).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise

import numpy as np

from sim.workload.layer import Layer


def is_plain_matrix(layer: Layer) -> bool:
    """True when im2col is a permutation of the ifmap (1x1, stride 1, no padding): a block's footprint is its size."""
    return (layer.kind != "tconv" and layer.filter_h == layer.filter_w == 1 and layer.lowered_stride == (1, 1)
            and layer.padded_ifmap == (layer.ifmap_h, layer.ifmap_w))


def real_axes(layer: Layer) -> tuple[np.ndarray, np.ndarray]:
    """bool (H',) and (W',) over the lowered input's rows and columns: True where stored ifmap pixels sit.

    The stored pixels are exactly their product (real_plane): padding frames the ifmap, and tconv's inserted
    zeros fill whole rows and columns."""
    height, width = layer.padded_ifmap
    rows = np.zeros(height, dtype=bool)
    cols = np.zeros(width, dtype=bool)
    if layer.kind == "tconv":
        top = layer.dilation_h * (layer.filter_h - 1) - layer.pad_top
        left = layer.dilation_w * (layer.filter_w - 1) - layer.pad_left
        rows[top + layer.stride_h * np.arange(layer.ifmap_h)] = True
        cols[left + layer.stride_w * np.arange(layer.ifmap_w)] = True
    else:
        rows[layer.pad_top:layer.pad_top + layer.ifmap_h] = True
        cols[layer.pad_left:layer.pad_left + layer.ifmap_w] = True
    return rows, cols


def real_plane(layer: Layer) -> np.ndarray:
    """bool (H', W') over the lowered input: True where a stored ifmap pixel sits (not padding, not inserted)."""
    rows, cols = real_axes(layer)
    return rows[:, None] & cols[None, :]


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


# Counting one block's union by product sets costs about as much as this many (row, tap) touches of the other way.
TOUCHES_PER_PRODUCT_COUNT = 500
# Up to this many blocks (one tiling of one point), a Python loop over blocks beats numpy calls on tiny arrays.
FEW_BLOCKS = 64
# Memory bound (int64 entries) of the batched ws count; above it the caller counts tiling by tiling.
MAX_CROSSING_TABLE = 1 << 24  # ws chunkings: a prefix count over M per distinct span of a linked pair
KEPT_CROSSING_TABLE = 1 << 20  # ... kept for the next batch of the same column blocks up to this size


def _raster_rectangles(start: int, stop: int, width: int) -> list[tuple[int, int, int, int]]:
    """Items start:stop of a raster order over rows of `width` items, as at most 3 rectangles
    (first row, stop row, first column, stop column): a partial first row, whole middle rows, a partial last row."""
    first, first_col = divmod(start, width)
    last, last_col = divmod(stop, width)
    if first == last:
        return [(first, first + 1, first_col, last_col)]
    out = []
    if first_col:
        out.append((first, first + 1, first_col, width))
        first += 1
    if first < last:
        out.append((first, last, 0, width))
    if last_col:
        out.append((last, last + 1, 0, last_col))
    return out


def _bitset(mask: np.ndarray) -> int:
    """A bool vector as a Python int whose bit i is mask[i] (exact set algebra on a few hundred bits at C speed)."""
    return int.from_bytes(np.packbits(mask, bitorder="little").tobytes(), "little")


def _union_area(products: list[tuple[int, int]]) -> int:
    """|union of the sets rows_k x cols_k| for bitsets (rows_k, cols_k): pixel rows are split into classes by
    which rows_k hold them; a class counts its rows times the size of the union of its products' cols_k."""
    if len(products) == 1:
        return products[0][0].bit_count() * products[0][1].bit_count()
    every_row, overlap = 0, False
    for rows, _ in products:
        overlap = overlap or bool(every_row & rows)
        every_row |= rows
    if not overlap:  # products on disjoint pixel rows just add up
        return sum(rows.bit_count() * cols.bit_count() for rows, cols in products)
    classes = [(every_row, 0)]
    for rows, cols in products:
        refined = []
        for members, covered in classes:
            inside = members & rows
            if inside:
                refined.append((inside, covered | cols))
                if inside != members:
                    refined.append((members ^ inside, covered))
            else:
                refined.append((members, covered))
        classes = refined
    return sum(members.bit_count() * covered.bit_count() for members, covered in classes)


def block_footprints(layer: Layer, m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
    """int64 (len(m_edges)-1, len(k_edges)-1): footprint (one group) of every block m_edges[i]:m_edges[i+1] x
    k_edges[j]:k_edges[j+1]. Edges are increasing within [0, M] and [0, K]; they need not cover the GEMM."""
    return footprint_counter(layer)(m_edges, k_edges)


def footprint_counter(layer: Layer, *, few_blocks: int = FEW_BLOCKS,
                      touches_per_product_count: int = TOUCHES_PER_PRODUCT_COUNT):
    """`block_footprints` for one layer, as a function that keeps what it derived (1-D prefix counts, bitsets of
    touched pixel rows and columns, whole-image unions, linked touches) between calls: for callers that count many
    tilings of one layer (a grid). The two thresholds only choose between exact ways of counting (tests vary them).
    One counter per layer: the mapper's batches, its single records and the engine's plans of one layer all count
    with the same counter, and what one derived serves the next."""
    return _layer_counter(layer, few_blocks, touches_per_product_count)


# A counter keeps tables per tiling it counted (some of M x taps entries): the few latest shapes only, which is what a
# layer's search, its batches one after another, asks for.
@lru_cache(maxsize=8)
def _layer_counter(layer: Layer, few_blocks: int, touches_per_product_count: int):
    if is_plain_matrix(layer):
        def plain(m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
            return np.diff(np.asarray(m_edges, dtype=np.int64))[:, None] * np.diff(
                np.asarray(k_edges, dtype=np.int64))[None, :]
        return plain
    channels = layer.in_channels // layer.groups
    ofmap_h, ofmap_w = layer.ofmap_hw
    per_image = ofmap_h * ofmap_w
    stride_h, stride_w = layer.lowered_stride
    dilation_h, dilation_w = layer.dilation_h, layer.dilation_w
    taps_w = layer.filter_w
    real_rows, real_cols = real_axes(layer)
    # reads_e[r, e]: ofmap row e with filter row r reads a stored pixel row (reads_f likewise for columns).
    reads_e = real_rows[np.arange(layer.filter_h)[:, None] * dilation_h + np.arange(ofmap_h) * stride_h]
    reads_f = real_cols[np.arange(taps_w)[:, None] * dilation_w + np.arange(ofmap_w) * stride_w]
    prefix_e = np.zeros((layer.filter_h, ofmap_h + 1), dtype=np.int64)
    np.cumsum(reads_e, axis=1, out=prefix_e[:, 1:])
    prefix_f = np.zeros((taps_w, ofmap_w + 1), dtype=np.int64)
    np.cumsum(reads_f, axis=1, out=prefix_f[:, 1:])
    # Flat tables (index r*(ofmap_h + 1) + e, s*(ofmap_w + 1) + f, r*ofmap_h + e): numpy arrays for gathers over
    # many blocks, the same as Python lists for one block at a time (indexing a list is ~10x cheaper).
    arrays = (prefix_e.ravel(), prefix_f.ravel(), reads_e.ravel())
    lists: list[list] = []
    real_bits: list[int] = []  # stored pixel rows and columns as bitsets, made at the first union of taps
    touched: dict[tuple, int] = {}
    tap_rectangles: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
    whole_image: dict[tuple[int, int], int] = {}
    links: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
    row_tables: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # per row-block edges: tap range unions
    layout: list[np.ndarray] = []  # touch_layout's arrays, made at the first batched count
    pair_tables: dict[tuple, tuple] = {}  # per (column edges, rows, table limit): m_chunkings' fixed part

    def tap_prefix(tap, m, tables):
        """Rows before m (ints, or arrays that broadcast) whose tap reads a stored pixel: whole images, then whole
        ofmap rows of this image, then columns of row e (the product plane makes each a product of 1-D counts)."""
        prefix_rows, prefix_cols, reads_rows = tables
        r, s = tap // taps_w, tap % taps_w
        image, rest = m // per_image, m % per_image
        e, f = rest // ofmap_w, rest % ofmap_w
        per_row = prefix_cols[s * (ofmap_w + 1) + ofmap_w]
        return ((image * prefix_rows[r * (ofmap_h + 1) + ofmap_h] + prefix_rows[r * (ofmap_h + 1) + e]) * per_row
                + reads_rows[r * ofmap_h + e] * prefix_cols[s * (ofmap_w + 1) + f])

    def touched_bits(axis: int, lo: int, hi: int, tap_lo: int, tap_hi: int) -> int:
        """Stored pixel rows (axis 0) or columns (axis 1) that ofmap rows/cols lo:hi touch with filter rows/cols
        tap_lo:tap_hi: the bitset of {e*stride + r*dilation} intersected with the stored ones."""
        key = (axis, lo, hi, tap_lo, tap_hi)
        bits = touched.get(key)
        if bits is None:
            if not real_bits:
                real_bits.extend((_bitset(real_rows), _bitset(real_cols)))
            stride, dilation = (stride_h, dilation_h) if axis == 0 else (stride_w, dilation_w)
            if hi - lo < tap_hi - tap_lo:  # shift the shorter progression along the longer one
                lo, hi, tap_lo, tap_hi, stride, dilation = tap_lo, tap_hi, lo, hi, dilation, stride
            # Bits lo*stride, (lo+1)*stride, ..., (hi-1)*stride: a geometric series.
            progression = ((1 << (hi * stride)) - (1 << (lo * stride))) // ((1 << stride) - 1)
            bits = 0
            for tap in range(tap_lo, tap_hi):
                bits |= progression << (tap * dilation)
            bits = touched[key] = bits & real_bits[axis]
        return bits

    def image_union(start: int, stop: int, pa: int, pb: int) -> int:
        """Distinct stored pixels that rows start:stop of one image touch with taps pa..pb (inclusive)."""
        if (pa, pb) not in tap_rectangles:
            tap_rectangles[(pa, pb)] = _raster_rectangles(pa, pb + 1, taps_w)
        products = []
        for e_lo, e_hi, f_lo, f_hi in _raster_rectangles(start, stop, ofmap_w):
            for r_lo, r_hi, s_lo, s_hi in tap_rectangles[(pa, pb)]:
                rows = touched_bits(0, e_lo, e_hi, r_lo, r_hi)
                cols = touched_bits(1, f_lo, f_hi, s_lo, s_hi)
                if rows and cols:
                    products.append((rows, cols))
        return _union_area(products)

    def union_count(m0: int, m1: int, pa: int, pb: int) -> int:
        """Distinct stored pixels that rows m0:m1 touch with taps pa..pb; images touch disjoint pixels."""
        first, last = m0 // per_image, (m1 - 1) // per_image
        if first == last:
            return image_union(m0 - first * per_image, m1 - first * per_image, pa, pb)
        total = image_union(m0 - first * per_image, per_image, pa, pb) + image_union(0, m1 - last * per_image, pa, pb)
        if last - first > 1:
            if (pa, pb) not in whole_image:
                whole_image[(pa, pb)] = image_union(0, per_image, pa, pb)
            total += (last - first - 1) * whole_image[(pa, pb)]
        return total

    def union_links(pa: int, pb: int) -> tuple[np.ndarray, np.ndarray]:
        """Every (row, earlier row touching the same stored pixel or -1) pair of taps pa..pb."""
        if (pa, pb) not in links:
            height, width = real_rows.size, real_cols.size
            m = np.arange(layer.gemm.m, dtype=np.int64)
            # Flat position of each row's (0, 0) tap in a (batch, H', W') layout, and each tap's offset from it.
            base = ((m // per_image) * (height * width) + ((m // ofmap_w) % ofmap_h) * stride_h * width
                    + (m % ofmap_w) * stride_w)
            tap = np.arange(pa, pb + 1, dtype=np.int64)
            offset = (tap // taps_w) * dilation_h * width + (tap % taps_w) * dilation_w
            real_flat = np.tile(real_plane(layer).ravel(), layer.batch)
            # Taps last-first, rows in order: each tap's positions are an increasing run, and a pixel's touches
            # from later taps come from earlier rows; a stable sort (merging the runs) keeps rows increasing.
            positions = (offset[::-1, None] + base[None, :]).ravel()
            rows = np.tile(m, tap.size)
            stored = real_flat[positions]
            positions, rows = positions[stored], rows[stored]
            order = np.argsort(positions, kind="stable")
            positions, rows = positions[order], rows[order]
            same = np.concatenate([[False], positions[1:] == positions[:-1]])
            links[(pa, pb)] = rows, np.where(same, np.concatenate([[-1], rows[:-1]]), -1)
        return links[(pa, pb)]

    def union_counts(m_edges: np.ndarray, pa: int, pb: int) -> np.ndarray:
        """union_count of every block m_edges[i]:m_edges[i+1] with taps pa..pb. Few blocks: product sets, each
        in microseconds. Many blocks (small array extents in a grid): one pass over every (row, tap) touch, each
        linked to the previous row touching the same pixel; a block counts the touches whose link leaves it."""
        blocks = m_edges.size - 1
        if blocks * touches_per_product_count < layer.gemm.m * (pb - pa + 1):
            return np.array([union_count(m0, m1, pa, pb) for m0, m1 in pairwise(m_edges.tolist())], dtype=np.int64)
        rows, previous = union_links(pa, pb)
        block_of_row = np.full(layer.gemm.m + 1, -1, dtype=np.int64)
        block_of_row[m_edges[0]:m_edges[-1]] = np.repeat(np.arange(blocks, dtype=np.int64), np.diff(m_edges))
        block = block_of_row[rows]
        first_touch = (block >= 0) & (block_of_row[previous] != block)
        return np.bincount(block[first_touch], minlength=blocks)[:blocks]

    def touch_layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(base, offset, stored): each row's flat position of its (0, 0) tap in a (batch, H', W') layout, each
        tap's offset from it, and True where a position holds a stored pixel (for the numba counts)."""
        if not layout:
            height, width = real_rows.size, real_cols.size
            m = np.arange(layer.gemm.m, dtype=np.int64)
            tap = np.arange(layer.filter_h * taps_w, dtype=np.int64)
            layout.extend(((m // per_image) * (height * width) + ((m // ofmap_w) % ofmap_h) * stride_h * width
                           + (m % ofmap_w) * stride_w,
                           (tap // taps_w) * dilation_h * width + (tap % taps_w) * dilation_w,
                           np.tile(real_plane(layer).ravel(), layer.batch)))
        return layout[0], layout[1], layout[2]

    def row_block_unions(m_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(summed, first): int64 (taps, taps + 1) tables; summed[pa, pb + 1] - summed[pa, pa] is union_count of taps
        pa..pb summed over the row blocks m_edges[i]:m_edges[i+1], first[...] likewise the first block's. One pass
        serves every tap range: within a block a pixel's touches are linked to the previous tap touching it, and
        taps pa..pb reach a pixel first at a touch whose previous tap is below pa (one tap maps rows to pixels one
        to one, so a (pixel, tap) is touched once per block)."""
        key = m_edges.tobytes()
        if key not in row_tables:
            from sim.kernels import footprint_chunks  # numba: its start-up only when a batch of tilings needs it
            base, offset, stored = touch_layout()
            reached = footprint_chunks.tap_range_touches(base[m_edges[0]:m_edges[-1]], offset, stored, m_edges)
            taps = offset.size
            tables = []
            for table in reached:  # table[t, q + 1]: touches by tap t whose previous tap is q
                new = np.cumsum(table, axis=1)[:, :taps]  # new[t, pa]: those with q < pa
                summed = np.zeros((taps, taps + 1), dtype=np.int64)
                np.cumsum(new.T, axis=1, out=summed[:, 1:])  # summed[pa, t]: new[0..t-1, pa]
                tables.append(summed)
            row_tables[key] = tables[0], tables[1]
        return row_tables[key]

    def tap_range_unions(m_edges: np.ndarray, pa: np.ndarray, pb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(union_count of taps pa..pb summed over the row blocks, the first block's), elementwise over arrays."""
        return tuple(table[pa, pb + 1] - table[pa, pa] for table in row_block_unions(m_edges))

    def column_blocks(m_edges: np.ndarray, k0: np.ndarray, k1: np.ndarray,
                      mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(footprint summed over the row blocks, the first row block's) of the column blocks k0:k1 (where mask):
        the block's channels form at most four groups, each reading a union over a contiguous tap range."""
        first, last = k0 // channels, (k1 - 1) // channels
        a, b = k0 % channels, (k1 - 1) % channels + 1
        single = first == last
        size = np.stack([np.where(single, k1 - k0, np.maximum(b - a, 0)),
                         np.where(single, 0, channels - np.maximum(a, b)),
                         np.where(single, 0, np.minimum(a, b)),
                         np.where(single, 0, np.maximum(a - b, 0))])
        pa = np.stack([first, first, first + 1, first + 1])
        pb = np.stack([last, last - 1, last, last - 1])
        used = mask[None] & (size > 0) & (pa <= pb)  # a group with no channel or no tap adds nothing
        total = np.zeros(k0.shape, dtype=np.int64)
        head = np.zeros(k0.shape, dtype=np.int64)
        if used.any():
            distinct, inverse = np.unique(pa[used] * (pb.max() + 1) + pb[used], return_inverse=True)
            lo, hi = np.divmod(distinct, pb.max() + 1)
            sums_of, heads_of = tap_range_unions(m_edges, lo, hi)
            sums = np.zeros(size.shape, dtype=np.int64)
            heads = np.zeros(size.shape, dtype=np.int64)
            sums[used], heads[used] = sums_of[inverse.ravel()], heads_of[inverse.ravel()]
            total = (size * sums).sum(axis=0)
            head = (size * heads).sum(axis=0)
        return total, head

    def block(m0: int, m1: int, k0: int, k1: int) -> int:
        """One block's footprint: per channel segment, a difference of one tap's prefix counts or a union."""
        if not lists:
            lists.extend(table.tolist() for table in arrays)
        total = 0
        for channel_count, pa, pb in _segments(k0, k1, channels):
            if pa == pb:
                total += channel_count * (tap_prefix(pa, m1, lists) - tap_prefix(pa, m0, lists))
            else:
                total += channel_count * union_count(m0, m1, pa, pb)
        return total

    def count(m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
        m_edges = np.asarray(m_edges, dtype=np.int64)
        k_edges = np.asarray(k_edges, dtype=np.int64)
        if (m_edges.size - 1) * (k_edges.size - 1) <= few_blocks:
            return np.array([[block(m0, m1, k0, k1) for k0, k1 in pairwise(k_edges.tolist())]
                             for m0, m1 in pairwise(m_edges.tolist())], dtype=np.int64).reshape(
                m_edges.size - 1, k_edges.size - 1)
        k0, k1 = k_edges[:-1], k_edges[1:]
        first, last = k0 // channels, (k1 - 1) // channels
        within = first == last
        out = np.zeros((m_edges.size - 1, k_edges.size - 1), dtype=np.int64)
        # Blocks whose columns lie within one tap (the common case when channels >= array rows): all at once.
        if within.any():
            prefix = tap_prefix(first[within][:, None], m_edges[None, :], arrays)
            out[:, within] = (np.diff(prefix, axis=1) * (k1 - k0)[within][:, None]).T
        for j in np.flatnonzero(~within).tolist():
            for channel_count, pa, pb in _segments(int(k0[j]), int(k1[j]), channels):
                if pa == pb:
                    out[:, j] += channel_count * np.diff(tap_prefix(pa, m_edges, arrays))
                else:
                    out[:, j] += channel_count * union_counts(m_edges, pa, pb)
        return out

    def k_chunkings(m_edges: np.ndarray, k: int, chunks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For every chunk count c in `chunks`: (sum of the footprints of the blocks m_edges x (k * j) // c, the
        first block's), exactly count()'s numbers, for many chunkings of K at once. K is taps x channels (tap
        outer); a block within one tap reads its channels of that tap's pixels (a prefix difference), so a
        chunking's sum is channels x the sum over taps, corrected only at the at most taps - 1 blocks that cross
        a tap boundary, where the channels form at most four groups each reading a union over a contiguous tap
        range. Those unions, summed over the row blocks, form one small table shared by every chunking."""
        m_edges = np.asarray(m_edges, dtype=np.int64)
        chunks = np.asarray(chunks, dtype=np.int64)[:, None]
        taps = layer.filter_h * layer.filter_w
        every_tap = np.arange(taps, dtype=np.int64)
        single_tap = tap_range_unions(m_edges, every_tap, every_tap)[0]
        before = np.concatenate([[0], np.cumsum(single_tap)])  # sum of the single-tap counts of taps < t
        totals = np.full(chunks.shape[0], channels * int(before[-1]), dtype=np.int64)
        # The block holding each tap boundary x = t * channels; it crosses x unless x is its first index.
        boundary = np.arange(1, taps, dtype=np.int64)[None, :] * channels
        j = ((boundary + 1) * chunks + k - 1) // k - 1
        k0, k1 = (k * j) // chunks, (k * (j + 1)) // chunks
        crosses = k0 < boundary
        crossing = crosses.copy()
        crossing[:, 1:] &= ~(crosses[:, :-1] & (j[:, 1:] == j[:, :-1]))  # a block crossing several counts once
        if crossing.any():
            actual, _ = column_blocks(m_edges, k0, k1, crossing)
            first, last = k0 // channels, (k1 - 1) // channels
            a, b = k0 % channels, (k1 - 1) % channels + 1
            # What the channels x sum-over-taps base counted for the block: its channels of each tap it touches.
            assumed = ((channels - a) * single_tap[first] + b * single_tap[np.minimum(last, taps - 1)]
                       + channels * (before[np.maximum(last, first + 1)] - before[first + 1]))
            totals += np.where(crossing, actual - assumed, 0).sum(axis=1)
        head_k1 = k // chunks
        _, firsts = column_blocks(m_edges, np.zeros_like(head_k1), head_k1, np.ones(head_k1.shape, dtype=bool))
        return totals, firsts[:, 0]

    def k_tilings(m_edges: np.ndarray, k: int, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For every column extent s in `steps`: (sum of the footprints of the blocks m_edges x (0, s, 2s, .., k),
        the first block's), exactly count()'s numbers (is tilings)."""
        m_edges = np.asarray(m_edges, dtype=np.int64)
        steps = np.asarray(steps, dtype=np.int64)
        totals = np.empty(steps.size, dtype=np.int64)
        firsts = np.empty(steps.size, dtype=np.int64)
        for i, step in enumerate(steps.tolist()):
            k0 = np.arange(0, k, step, dtype=np.int64)
            k1 = np.minimum(k0 + step, k)
            total, head = column_blocks(m_edges, k0, k1, np.ones(k0.shape, dtype=bool))
            totals[i], firsts[i] = int(total.sum()), int(head[0])
        return totals, firsts

    def m_chunkings(k_edges: np.ndarray, m: int, chunks: np.ndarray,
                    max_table: int = MAX_CROSSING_TABLE) -> tuple[np.ndarray, np.ndarray] | None:
        """For every chunk count c in `chunks`: (sum of the footprints of the blocks (m * i) // c x k_edges, the
        first block's), exactly count()'s numbers; None when the prefix counts per distinct pair span (spans x M)
        exceed `max_table` (the caller then counts tiling by tiling). A chunk [a, b) of a channel group over a
        tap range counts its touches with no earlier row touching the same pixel, plus the pairs (earlier row p,
        row r touching the same pixel) entering it: p < a <= r < b. Pooled over the groups (weight: the group's
        channels), the first count is one number for every chunking and the second a sum over its chunks after the
        first, a few prefix look-ups each (sim.kernels.footprint_chunks); a group within one tap has no pair."""
        from sim.kernels import footprint_chunks  # numba: its start-up only when a batch of tilings needs it
        k_edges = np.asarray(k_edges, dtype=np.int64)
        chunks = np.asarray(chunks, dtype=np.int64)
        key = (k_edges.tobytes(), m, max_table)
        prepared = pair_tables.get(key)
        if prepared is None:  # the chunk counts vary per batch, the column blocks and their pairs do not
            prepared = chunking_tables(k_edges, m, max_table)
        unlinked, first_taps, tables = prepared
        if tables is not None:
            linked_unlinked, head, entering, ending, spans, starting, fits = tables
        if tables is None or starting.size <= KEPT_CROSSING_TABLE:  # a refusal (fits False) is kept too: empty
            pair_tables[key] = prepared
        if tables is not None and not fits:
            return None
        first_end = m // chunks  # the first row chunk is rows 0:m // c
        firsts = np.zeros(chunks.size, dtype=np.int64)
        for size, tap in first_taps:
            firsts += size * (tap_prefix(tap, first_end, arrays) - tap_prefix(tap, 0, arrays))
        totals = np.full(chunks.size, unlinked, dtype=np.int64)
        if tables is not None:
            # Within rows 0:e every touch linked to an earlier one is linked inside: count first touches.
            firsts += head[first_end]
            totals += linked_unlinked
            if spans.size:
                totals += footprint_chunks.chunking_crossings(m, chunks, entering, ending, spans, starting)
        return totals, firsts

    def chunking_tables(k_edges: np.ndarray, m: int, max_table: int) -> tuple:
        """m_chunkings' part that does not depend on the chunk counts: (the touches of single-tap segments, the
        (channels, tap) of the first block's single-tap segments, segment_pair_tables' tables of the segments over
        several taps or None)."""
        from sim.kernels import footprint_chunks
        # Blocks within one tap (most, when channels >= the row extent): every touch unlinked, all at once.
        k0s, k1s = k_edges[:-1], k_edges[1:]
        tap_of = k0s // channels
        within = tap_of == (k1s - 1) // channels
        every_tap = np.arange(layer.filter_h * taps_w, dtype=np.int64)
        single = tap_prefix(every_tap, m, arrays) - tap_prefix(every_tap, 0, arrays)
        unlinked = int(((k1s - k0s) * single[tap_of])[within].sum())
        first_taps = []
        if within.size and within[0]:
            first_taps.append((int(k1s[0] - k0s[0]), int(tap_of[0])))
        segments = []  # (first tap, last tap, channels, in the first block) of the groups over several taps
        for j in np.flatnonzero(~within).tolist():
            for size, pa, pb in _segments(int(k0s[j]), int(k1s[j]), channels):
                if pa == pb:
                    unlinked += size * int(single[pa])
                    if j == 0:
                        first_taps.append((size, pa))
                else:
                    segments.append((pa, pb, size, j == 0))
        if not segments:
            return unlinked, first_taps, None
        base, offset, stored = touch_layout()
        lows, highs, weights, heads = (np.array(column, dtype=np.int64) for column in zip(*segments))
        return unlinked, first_taps, footprint_chunks.segment_pair_tables(
            base, offset, stored, lows, highs, weights, heads.astype(bool), m, max_table)

    return FootprintCounter(count, k_chunkings, m_chunkings, k_tilings)


@dataclass(frozen=True)
class FootprintCounter:
    """`block_footprints` of one layer (call it with edges) that keeps what it derived between calls, and
    `k_chunkings` / `m_chunkings` / `k_tilings`: the footprint sums of many chunkings of K (os) or M (ws), or of many
    column extents (is), at once (the mapper's batches)."""

    count: Callable[[np.ndarray, np.ndarray], np.ndarray]
    k_chunkings: Callable[[np.ndarray, int, np.ndarray], tuple[np.ndarray, np.ndarray]]
    m_chunkings: Callable[..., tuple[np.ndarray, np.ndarray] | None]
    k_tilings: Callable[[np.ndarray, int, np.ndarray], tuple[np.ndarray, np.ndarray] | None]
    # Whole tilings' counts, kept by the caller under its own keys (sim.analytical.systolic): a layer's tilings come
    # back batch after batch. On the counter, so that a counter swapped in (tests, baselines) starts empty.
    tilings: dict = field(default_factory=dict, compare=False)

    def __call__(self, m_edges: np.ndarray, k_edges: np.ndarray) -> np.ndarray:
        return self.count(m_edges, k_edges)


# A layer's read set is asked for by its mapping, its check and its closed form alike: computed once per layer shape.
@lru_cache(maxsize=4096)
def ifmap_read_elements(layer: Layer) -> int:
    """Distinct stored ifmap elements the whole layer reads, over all groups: fewer than the tensor where a stride
    larger than the (dilated) filter skips rows or columns (a stride-2 1x1 convolution reads a quarter)."""
    g = layer.gemm
    if g.m == 0 or g.k == 0:
        return 0
    edges_m, edges_k = np.array([0, g.m], dtype=np.int64), np.array([0, g.k], dtype=np.int64)
    return int(block_footprints(layer, edges_m, edges_k)[0, 0]) * g.groups
