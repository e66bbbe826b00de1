"""load_trace: dispatch on suffix and header, the explicit form, and file-level errors."""
from pathlib import Path

from dataclasses import replace

import pytest

import sim.workload.maestro
from sim.errors import TraceError
from sim.workload.load import check_trace, load_trace, sniff_csv_form
from sim.workload.trace import Trace

CONV = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("header, form", [
    (CONV, "conv"),
    ("layer name,ifmap height,ifmap width,filter height,filter width,channels,num filter,strides\n", "conv"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides, Sparsity\n",
     "conv"),
    ("Layer, M, N, K,\n", "gemm"),
    ("# a comment\nname,type,m,n,k\n", "extended"),
    (CONV.rstrip(",\n") + ", type,\n", "extended"),
])
def test_csv_form_is_sniffed_from_the_header(tmp_path, header: str, form: str) -> None:
    assert sniff_csv_form(write(tmp_path, "t.csv", header + "x\n")) == form


def test_each_form_loads_with_the_file_stem_as_name(tmp_path) -> None:
    conv = load_trace(write(tmp_path, "mynet.csv", CONV + "c, 5, 5, 3, 3, 1, 1, 1,\n"))
    gemm = load_trace(write(tmp_path, "g.csv", "Layer, M, N, K,\nq, 4, 5, 6,\n"))
    ext = load_trace(write(tmp_path, "e.csv", "name,type,m,n,k\nq,gemm,4,5,6\n"))
    assert isinstance(conv, Trace) and conv.name == "mynet" and conv.source_file.endswith("mynet.csv")
    # SCALE-Sim's words are 1 byte for every operand, ofmap included; ours default to a 32-bit ofmap
    assert gemm.layers == tuple(replace(layer, ofmap_bits=8) for layer in ext.layers)
    assert check_trace(tmp_path / "g.csv") == gemm


def test_explicit_form_overrides_suffix_and_header(tmp_path) -> None:
    path = write(tmp_path, "topo.txt", "whatever header\nq, 4, 5, 6,\n")
    with pytest.raises(TraceError, match=r"unsupported trace file type \(got '\.txt'\)"):
        load_trace(path)
    assert load_trace(path, form="gemm").layers[0].gemm.k == 6
    with pytest.raises(TraceError, match=r"form: unknown trace form \(got 'pdf'\); allowed: conv, gemm, extended"):
        load_trace(path, form="pdf")


def test_maestro_files_go_to_the_maestro_loader(tmp_path, monkeypatch) -> None:
    seen = []

    def fake(path):
        seen.append(path)
        return Trace("m", ())

    monkeypatch.setattr(sim.workload.maestro, "load_maestro_trace", fake)
    path = write(tmp_path, "net.m", "Network x {}\n")
    load_trace(path)
    assert seen == [path]
    with pytest.raises(TraceError, match="trace file not found"):
        load_trace(tmp_path / "missing.m")


@pytest.mark.parametrize("name, content, pattern", [
    ("empty.csv", b"", r"empty\.csv: trace file is empty"),
    ("blank.csv", b"  \n\n", r"blank\.csv: trace file is empty"),
    ("comments.csv", b"# just a comment\n", r"comments\.csv: trace file has only comments"),
    ("latin1.csv", "name,type\nK\u00f6ln,gemm\n".encode("latin-1"), r"latin1\.csv: trace file is not UTF-8"),
    ("header.csv", b"foo,bar\n1,2\n", r"header\.csv:1: cannot tell the CSV trace format"),
    ("only_header.csv", CONV.encode(), r"only_header\.csv: trace has no layers"),
])
def test_file_level_errors(tmp_path, name: str, content: bytes, pattern: str) -> None:
    with pytest.raises(TraceError, match=pattern):
        load_trace(write(tmp_path, name, content))


def test_missing_file_and_directory(tmp_path) -> None:
    with pytest.raises(TraceError, match=r"nope\.csv: trace file not found"):
        load_trace(tmp_path / "nope.csv")
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(TraceError, match="not a file"):
        load_trace(tmp_path / "dir.csv")


def test_byte_order_mark_is_accepted(tmp_path) -> None:
    path = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + CONV.encode() + b"c, 5, 5, 3, 3, 1, 1, 1,\n")
    assert load_trace(path).layers[0].name == "c"
