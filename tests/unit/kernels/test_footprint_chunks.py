"""The ws chunking sweep (sim.kernels.footprint_chunks): for random touch layouts, the tables built while linking the
touches equal their definitions over the pairs listed one by one, the crossings summed over every chunking of the
rows equal a brute-force count, and the float floor equals the integer one."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels.footprint_chunks import _floor_ratio, chunking_crossings, segment_pair_tables


def tables(m: int, previous: np.ndarray, rows: np.ndarray, weight: np.ndarray):
    """The sweep's inputs built by definition, one row at a time."""
    spans = np.unique(rows - previous)
    entering = np.array([weight[(previous < a) & (rows >= a)].sum() for a in range(m + 1)], dtype=np.int64)
    ending = np.array([weight[rows < x].sum() for x in range(m + 1)], dtype=np.int64)
    starting = np.array([[weight[(rows - previous == d) & (previous < x)].sum() for x in range(m + 1)]
                         for d in spans], dtype=np.int64)
    return entering, ending, spans.astype(np.int64), starting


@st.composite
def linked_pairs(draw):
    m = draw(st.integers(2, 60))
    longest = draw(st.integers(1, m - 1))
    rows = draw(st.lists(st.integers(1, m - 1), min_size=1, max_size=40))
    pairs = [(max(0, r - draw(st.integers(1, longest))), r, draw(st.integers(1, 3))) for r in rows]
    previous, rows, weight = (np.array(column, dtype=np.int64) for column in zip(*pairs))
    return m, previous, rows, weight


@settings(max_examples=200, deadline=None)
@given(linked_pairs())
def test_crossings_summed_over_every_chunking_equal_brute_force(pairs):
    m, previous, rows, weight = pairs
    chunks = np.arange(1, m + 1, dtype=np.int64)
    got = chunking_crossings(m, chunks, *tables(m, previous, rows, weight))
    for c, total in zip(chunks.tolist(), got.tolist()):
        edges = (m * np.arange(c + 1)) // c
        expected = sum(int(weight[(previous < a) & (rows >= a) & (rows < b)].sum())
                       for a, b in zip(edges[1:-1], edges[2:]))
        assert total == expected


@given(st.integers(1, 1 << 20), st.integers(1, 1 << 20), st.integers(1, 1 << 20))
def test_float_floor_equals_the_integer_floor(numerator, denominator, i):
    ratio, half = numerator / denominator, 0.5 / denominator
    assert _floor_ratio.py_func(i, numerator, denominator, ratio, half) == (i * numerator) // denominator
    assert _floor_ratio.py_func(i, numerator, denominator, ratio, -half) == (i * numerator - 1) // denominator


@st.composite
def touch_layouts(draw):
    """Rows touching positions base[row] + offsets[tap] of a random stored mask, and segments of taps with weights."""
    m = draw(st.integers(1, 30))
    taps = draw(st.integers(1, 6))
    offsets = np.array(draw(st.lists(st.integers(0, 12), min_size=taps, max_size=taps, unique=True)), dtype=np.int64)
    base = np.sort(np.array(draw(st.lists(st.integers(0, 20), min_size=m, max_size=m)), dtype=np.int64))
    stored = np.array(draw(st.lists(st.booleans(), min_size=33, max_size=33)), dtype=bool)
    segments = []
    for _ in range(draw(st.integers(1, 4))):
        lo = draw(st.integers(0, taps - 1))
        segments.append((lo, draw(st.integers(lo, taps - 1)), draw(st.integers(1, 3)), draw(st.booleans())))
    return m, base, offsets, stored, segments


def listed_pairs(m, base, offsets, stored, segments):
    """Every touch linked to the previous row touching the same pixel within its segment, one by one: the pairs
    (previous, row, weight), the weighted unlinked touches and their prefix count by row over the head segments."""
    pairs, unlinked, head = [], 0, np.zeros(m + 1, dtype=np.int64)
    for lo, hi, weight, is_head in segments:
        last = {}
        for row in range(m):
            for tap in range(lo, hi + 1):
                position = int(base[row] + offsets[tap])
                if stored[position]:
                    if position in last:
                        pairs.append((last[position], row, weight))
                    else:
                        unlinked += weight
                        head[row + 1:] += weight if is_head else 0
                    last[position] = row
    return pairs, unlinked, head


@settings(max_examples=150, deadline=None)
@given(touch_layouts())
def test_segment_pair_tables_equal_their_definitions_over_the_listed_pairs(layout):
    m, base, offsets, stored, segments = layout
    lows, highs, weights, heads = (np.array(column, dtype=np.int64) for column in zip(*segments))
    unlinked, head, *built, fits = segment_pair_tables(base, offsets, stored, lows, highs, weights,
                                                       heads.astype(bool), m, 1 << 20)
    pairs, expected_unlinked, expected_head = listed_pairs(m, base, offsets, stored, segments)
    assert fits and unlinked == expected_unlinked and np.array_equal(head, expected_head)
    if not pairs:
        assert built[2].size == 0
        return
    previous, rows, weight = (np.array(column, dtype=np.int64) for column in zip(*pairs))
    for table, expected in zip(built, tables(m, previous, rows, weight)):
        assert np.array_equal(table, expected)
