"""The ws chunking sweep (sim.kernels.footprint_chunks): for random linked pairs, the tables built from the pairs equal
their definitions, the crossings summed over every chunking of the rows equal a brute-force count, and the float
floor equals the integer one."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.kernels.footprint_chunks import _floor_ratio, chunking_crossings, pair_tables


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


@settings(max_examples=100, deadline=None)
@given(linked_pairs())
def test_pair_tables_equal_their_definitions(pairs):
    m, previous, rows, weight = pairs
    for built, expected in zip(pair_tables(previous, rows, weight, m), tables(m, previous, rows, weight)):
        assert np.array_equal(built, expected)
