"""DRAM request traces: parsing with (line, field) errors, our format and Ramulator's, the reference streams."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.workload.dram_trace import (
    DramTrace,
    format_dram_trace,
    format_ramulator_trace,
    load_dram_trace,
    synthetic_streams,
)


def write(tmp_path, text):
    path = tmp_path / "t.req"
    path.write_text(text)
    return path


def test_a_trace_with_comments_hex_and_extra_fields_loads(tmp_path):
    trace = load_dram_trace(write(tmp_path, "# header\n0 R 0x40 64\n\n12.5 w 128 100 ofmap  # note\n"))
    assert trace.issue_ns.tolist() == [0.0, 12.5]
    assert trace.write.tolist() == [False, True]
    assert trace.address.tolist() == [64, 128] and trace.size_bytes.tolist() == [64, 100]
    assert trace.operand == ("", "ofmap")


@pytest.mark.parametrize("line, field", [
    ("0 R 0x40", "size_bytes"),
    ("x R 0x40 64", "issue_ns"),
    ("-1 R 0x40 64", "issue_ns"),
    ("0 X 0x40 64", "kind"),
    ("0 R 0xzz 64", "address"),
    ("0 R -64 64", "address"),
    ("0 R 64 0", "size_bytes"),
    ("0 R 64 lots", "size_bytes"),
])
def test_a_malformed_line_names_its_line_and_field(tmp_path, line, field):
    with pytest.raises(TraceError, match=rf"t.req:3: {field}:"):
        load_dram_trace(write(tmp_path, f"# header\n0 R 0 64\n{line}\n"))


def test_an_empty_or_missing_trace_is_an_error(tmp_path):
    with pytest.raises(TraceError, match="no requests"):
        load_dram_trace(write(tmp_path, "# nothing\n"))
    with pytest.raises(TraceError, match="request trace not found"):
        load_dram_trace(tmp_path / "missing.req")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), st.integers(0, 1 << 40), st.integers(1, 4096)),
                min_size=1, max_size=30))
def test_our_format_round_trips(requests):
    trace = DramTrace("t", np.array([r[0] for r in requests], dtype=float), np.array([r[1] for r in requests]),
                      np.array([r[2] for r in requests], dtype=np.int64), np.array([r[3] for r in requests],
                                                                                   dtype=np.int64))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "t.req"
        path.write_text(format_dram_trace(trace))
        back = load_dram_trace(path)
    for name in ("issue_ns", "write", "address", "size_bytes"):
        assert np.array_equal(getattr(back, name), getattr(trace, name)), name


def test_ramulator_format_has_one_aligned_transaction_a_line():
    trace = DramTrace("t", np.zeros(2), np.array([False, True]), np.array([32, 256]), np.array([64, 64]))
    assert format_ramulator_trace(trace) == "LD 0x0\nLD 0x40\nST 0x100\n"


def test_the_reference_streams_have_the_documented_sizes():
    streams = synthetic_streams()
    sizes = {name: len(trace) for name, trace in streams.items()}
    assert sizes == {"seq_64k": 1024, "seq_1m": 16384, "seq_16m": 262144, "stride_row": 16384,
                     "stride_bankrow": 16384, "random_256m": 65536, "rw_seq_2to1": 262144, "rw_3stream": 262143}
    assert streams["rw_seq_2to1"].write.sum() == 262144 // 3
    assert streams["stride_bankrow"].address[1] == 16 * 8192
    assert streams["random_256m"].address.max() < 256 << 20
    assert np.array_equal(synthetic_streams()["random_256m"].address, streams["random_256m"].address)
