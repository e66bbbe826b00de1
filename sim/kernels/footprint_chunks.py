"""Ifmap footprints of many tilings of one layer at once (the mapper's batches): numba loops, arrays in, arrays out.

- tap_range_touches: over fixed row blocks (os row folds, is column folds), each (row, tap) touch of a stored pixel
  linked to the previous tap touching the same pixel within the block; a taps x taps count table gives the union of
  every tap range (sim.mapping.footprint turns it into sums).
- segment_pair_tables / chunking_crossings (ws chunkings of M): every touch linked to the previous row touching
  the same pixel (a pair p < r with a weight: the channels it stands for), summed into chunking_crossings' tables in
  the same walk (the pairs are never listed: they are many, M x taps per segment). A chunk of rows [a, b) counts
  as new, beyond its touches with no earlier row, the pairs that enter it from before: X(a, b) = weight of the
  pairs with p < a <= r < b. A chunking's footprint sum is the unlinked touches plus X summed over its chunks after
  the first.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Below this many rows, floor(m * i / c) is computed exactly in float64 (error << 0.5 / c); above, by integers.
FLOAT_EXACT_ROWS = 1 << 24


@njit(cache=True, inline="always")
def _floor_ratio(i: int, numerator: int, denominator: int, ratio: float, offset: float) -> int:
    """floor(i * numerator / denominator) (offset 0.5 / denominator) or ceil(...) - 1 (offset -0.5 / denominator),
    for i >= 1: the float's error is far below the half step that separates it from the next integer."""
    if numerator < FLOAT_EXACT_ROWS:
        return int(i * ratio + offset)
    if offset > 0:
        return (i * numerator) // denominator
    return (i * numerator - 1) // denominator


@njit(cache=True)
def chunking_crossings(m: int, chunks: np.ndarray, entering: np.ndarray, ending: np.ndarray, spans: np.ndarray,
                       starting: np.ndarray) -> np.ndarray:
    """Per chunk count c: X summed over the chunks [b_i, b_(i+1)), b_i = m*i // c, for i = 1 .. c-1.

    entering[a] = X(a, m), the pairs with p < a <= r; ending[x]: the pairs with r < x; spans: the distinct
    r - p, increasing; starting[k, x]: the pairs of span spans[k] with p < x. When every chunk has at least the
    largest span of rows, X(a, b) = entering[a], and with more chunks than half the rows the sum is every row's
    entering[] less the rows that start no chunk (m - c of them: ceil(m*j / (m - c)) - 1, j = 1 .. m - c).
    Otherwise X(a, b) = (pairs ending in [a, b)) - (pairs inside [a, b)); the first terms telescope, and a chunk
    holds a pair of span d only when it has more than d rows: pairs inside = sum over d < b - a of
    starting[d, b - d] - starting[d, a]; with chunks of 1 or 2 rows only the 2-row ones hold pairs (of span 1),
    one per row that starts no chunk."""
    out = np.zeros(chunks.size, dtype=np.int64)
    every_row = 0
    for a in range(1, m):
        every_row += entering[a]
    smallest, largest = spans[0], spans[spans.size - 1]
    second = spans[1] if spans.size > 1 else largest + 1
    for j in range(chunks.size):
        c = chunks[j]
        ratio, half = m / c, 0.5 / c
        step = m // c
        if step >= largest:
            total = 0
            if 2 * c <= m:
                for i in range(1, c):
                    total += entering[_floor_ratio(i, m, c, ratio, half)]
            else:
                gaps = m - c
                gap_ratio, gap_half = m / max(gaps, 1), 0.5 / max(gaps, 1)
                total = every_row
                for i in range(1, gaps + 1):
                    total -= entering[_floor_ratio(i, m, gaps, gap_ratio, -gap_half)]
        else:
            total = ending[m] - ending[step]
            if step == 1 and smallest == 1:
                # Chunks of 1 or 2 rows: a 2-row chunk ends at each of the m - c rows that start no chunk.
                gaps = m - c
                gap_ratio, gap_half = m / max(gaps, 1), 0.5 / max(gaps, 1)
                for i in range(1, gaps + 1):
                    row = _floor_ratio(i, m, gaps, gap_ratio, -gap_half)
                    total -= starting[0, row] - starting[0, row - 1]
            elif step + 1 > smallest:  # else no chunk is long enough to hold a pair
                start = step
                if step + 1 <= second:  # every chunk holds pairs of the smallest span only
                    for i in range(1, c):
                        stop = _floor_ratio(i + 1, m, c, ratio, half)
                        if stop - start > smallest:
                            total -= starting[0, stop - smallest] - starting[0, start]
                        start = stop
                else:
                    for i in range(1, c):
                        stop = _floor_ratio(i + 1, m, c, ratio, half)
                        length = stop - start
                        for k in range(spans.size):
                            d = spans[k]
                            if d >= length:
                                break
                            total -= starting[k, stop - d] - starting[k, start]
                        start = stop
        out[j] = total
    return out


@njit(cache=True)
def tap_range_touches(base: np.ndarray, offsets: np.ndarray, stored: np.ndarray, m_edges: np.ndarray) -> np.ndarray:
    """int64 (2, taps, taps + 1): [0, t, q + 1] the touches of tap t (over every row block m_edges[i]:m_edges[i+1])
    whose pixel the block last touched with tap q (-1: none); [1] the first block's alone. `base`: each row's
    position of tap 0 (rows m_edges[0]:m_edges[-1]), `offsets`: each tap's offset from it, `stored`: True where
    a position holds a stored ifmap pixel."""
    taps = offsets.size
    reached = np.zeros((2, taps, taps + 1), dtype=np.int64)
    last_tap = np.full(stored.size, -1, dtype=np.int64)
    last_block = np.full(stored.size, -1, dtype=np.int64)
    for block in range(m_edges.size - 1):
        lo, hi = m_edges[block] - m_edges[0], m_edges[block + 1] - m_edges[0]
        for tap in range(taps):
            for row in range(lo, hi):
                position = base[row] + offsets[tap]
                if stored[position]:
                    previous = last_tap[position] if last_block[position] == block else -1
                    reached[0, tap, previous + 1] += 1
                    if block == 0:
                        reached[1, tap, previous + 1] += 1
                    last_tap[position], last_block[position] = tap, block
    return reached


@njit(cache=True)
def _forget_rows(base: np.ndarray, offsets: np.ndarray, last_row: np.ndarray, lo: int, hi: int) -> None:
    """No row has touched the pixels of taps lo..hi yet: a segment's links start afresh (rows in increasing order)."""
    for row in range(base.size):
        for tap in range(lo, hi + 1):
            last_row[base[row] + offsets[tap]] = -1


@njit(cache=True)
def segment_pair_tables(base: np.ndarray, offsets: np.ndarray, stored: np.ndarray, lows: np.ndarray,
                        highs: np.ndarray, weights: np.ndarray, heads: np.ndarray, m: int, max_table: int):
    """chunking_crossings' tables of the linked pairs of several channel segments, without listing the pairs:
    entering[a] (pairs with p < a <= r), ending[x] (pairs with r < x), the distinct spans r - p increasing, and
    starting[k, x] (pairs of span spans[k] with p < x), weighted, over x = 0..m. Segment i covers taps
    lows[i]..highs[i] (offsets from `base`, each row's position of tap 0) and stands for weights[i] channels. Every
    touch of a stored pixel is linked to the previous row touching the same pixel with a tap of the same segment
    (-1: none). Returns (unlinked: the weighted touches with no previous row, head[x]: those of the
    segments flagged in `heads` by rows < x, entering, ending, spans, starting, fits); `fits` is False (and
    `starting` empty) when spans x (m + 1) exceeds `max_table`."""
    last_row = np.empty(stored.size, dtype=np.int64)
    entering = np.zeros(m + 1, dtype=np.int64)
    ending = np.zeros(m + 1, dtype=np.int64)
    head = np.zeros(m + 1, dtype=np.int64)
    index = np.full(m + 1, -1, dtype=np.int64)
    unlinked = 0
    for i in range(lows.size):
        _forget_rows(base, offsets, last_row, lows[i], highs[i])
        w = weights[i]
        for row in range(base.size):
            for tap in range(lows[i], highs[i] + 1):
                position = base[row] + offsets[tap]
                if stored[position]:
                    p = last_row[position]
                    if p < 0:
                        unlinked += w
                        if heads[i]:
                            head[row + 1] += w
                    else:
                        entering[p + 1] += w
                        if row + 1 <= m:
                            entering[row + 1] -= w
                            ending[row + 1] += w
                        index[row - p] = 0
                    last_row[position] = row
    count = 0
    for d in range(m + 1):
        if index[d] == 0:
            index[d] = count
            count += 1
    spans = np.empty(count, dtype=np.int64)
    for d in range(m + 1):
        if index[d] >= 0:
            spans[index[d]] = d
    for a in range(1, m + 1):
        head[a] += head[a - 1]
    if count * (m + 1) > max_table:
        return unlinked, head, entering, ending, spans, np.zeros((0, m + 1), dtype=np.int64), False
    starting = np.zeros((count, m + 1), dtype=np.int64)
    for i in range(lows.size):  # the pairs again, now that each span has its row in `starting`
        _forget_rows(base, offsets, last_row, lows[i], highs[i])
        w = weights[i]
        for row in range(base.size):
            for tap in range(lows[i], highs[i] + 1):
                position = base[row] + offsets[tap]
                if stored[position]:
                    p = last_row[position]
                    if p >= 0 and p + 1 <= m:
                        starting[index[row - p], p + 1] += w
                    last_row[position] = row
    for a in range(1, m + 1):
        entering[a] += entering[a - 1]
        ending[a] += ending[a - 1]
        for k in range(count):
            starting[k, a] += starting[k, a - 1]
    return unlinked, head, entering, ending, spans, starting, True
