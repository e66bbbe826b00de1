"""Layer dimensions are bounded so no count overflows int64 and no model allocates absurd memory downstream."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.workload.layer import MAX_DIMENSION, MAX_ELEMENTS, MAX_MACS, Layer
from sim.workload.trace_csv import parse_trace_csv


@pytest.mark.parametrize("row, message", [
    ("huge,gemm,4611686018427387904,4,4", "integer too long|too large"),
    ("huge,gemm,9223372036854775807,1,1", "integer too long"),
    ("huge,gemm,16777217,1,1", "too large"),
    ("huge,gemm,16777216,16777216,16777216", "layer too large"),
    ("big,gemm," + "9" * 5000 + ",1,1", "integer too long"),
    ("arabic,gemm,١٢,1,1", "not an integer"),
])
def test_absurd_dimensions_are_trace_errors(row, message):
    with pytest.raises(TraceError, match=message) as excinfo:
        parse_trace_csv(f"name,type,m,n,k\n{row}\n", file="t.csv")
    assert excinfo.value.file == "t.csv" and excinfo.value.line == 2


def test_transposed_conv_zero_insertion_is_bounded():
    with pytest.raises(TraceError, match="ifmap too large"):
        Layer("t", kind="tconv", ifmap_h=1 << 20, ifmap_w=4, filter_h=3, filter_w=3, stride_h=1 << 10)


@given(st.integers(1, 1 << 24), st.integers(1, 1 << 24), st.integers(1, 1 << 24))
def test_every_accepted_gemm_stays_inside_the_bounds(m, n, k):
    try:
        layer = Layer.gemm_layer("g", m=m, n=n, k=k)
    except TraceError as err:
        assert "too large" in str(err)
        assert max(m * k, k * n, m * n) > MAX_ELEMENTS or m * n * k > MAX_MACS
        return
    assert layer.macs <= MAX_MACS < 2**63 and max(m, n, k) <= MAX_DIMENSION
