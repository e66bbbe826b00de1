"""Properties of the workload CSV formats: writers and readers round-trip, SCALE-Sim's semantics are kept, and any
corruption of a valid file gives a TraceError that names the file and line (never another exception type)."""
from __future__ import annotations

from dataclasses import replace

import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.workload.layer import Layer
from sim.workload.load import load_trace
from sim.workload.scalesim_csv import CONV_HEADER, GEMM_HEADER, format_scalesim_csv, parse_scalesim_csv
from sim.workload.trace import Trace
from sim.workload.trace_csv import format_trace_csv, parse_trace_csv, write_trace_csv

# Printable names without commas, surrounding spaces or a leading '#': what our CSVs can hold.
_NAME_CHARS = st.characters(categories=("L", "N"), max_codepoint=0x2FFF) | st.sampled_from("._-/[]()+ ")
names = st.text(_NAME_CHARS, min_size=1, max_size=12).map(str.strip).filter(
    lambda s: bool(s) and s.isprintable() and "," not in s and not s.startswith("#"))


def _try(**fields: object) -> Layer:
    try:
        return Layer(**fields)
    except TraceError:
        assume(False)
        raise  # unreachable: assume(False) aborts the example


@st.composite
def conv_layers(draw: st.DrawFn, *, kinds: tuple[str, ...] = ("conv", "tconv")) -> Layer:
    kind = draw(st.sampled_from(kinds))
    groups = draw(st.sampled_from((1, 1, 2, 3)))
    filter_h, filter_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation_h, dilation_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    stride_h, stride_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fields: dict[str, object] = dict(
        name=draw(names), kind=kind, groups=groups,
        in_channels=groups * draw(st.integers(1, 4)), out_channels=groups * draw(st.integers(1, 4)),
        filter_h=filter_h, filter_w=filter_w, stride_h=stride_h, stride_w=stride_w,
        dilation_h=dilation_h, dilation_w=dilation_w,
        batch=draw(st.integers(1, 3)), ifmap_bits=draw(st.integers(1, 32)), filter_bits=draw(st.integers(1, 32)),
        ofmap_bits=draw(st.integers(1, 64)), block_size=draw(st.sampled_from((1, 1, 2))),
    )
    if kind == "tconv":
        span_h, span_w = dilation_h * (filter_h - 1), dilation_w * (filter_w - 1)
        fields.update(pad_top=draw(st.integers(0, span_h)), pad_bottom=draw(st.integers(0, span_h)),
                      pad_left=draw(st.integers(0, span_w)), pad_right=draw(st.integers(0, span_w)),
                      output_padding_h=draw(st.integers(0, max(stride_h, dilation_h) - 1)),
                      output_padding_w=draw(st.integers(0, max(stride_w, dilation_w) - 1)),
                      ifmap_h=draw(st.integers(1, 6)), ifmap_w=draw(st.integers(1, 6)))
    else:
        symmetric = draw(st.booleans())
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        if symmetric:
            pads = [pads[0], pads[0], pads[2], pads[2]]
        fields.update(pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2], pad_right=pads[3],
                      ifmap_h=dilation_h * (filter_h - 1) + 1 + draw(st.integers(0, 6)),
                      ifmap_w=dilation_w * (filter_w - 1) + 1 + draw(st.integers(0, 6)))
    return _try(**fields)


@st.composite
def gemm_layers(draw: st.DrawFn) -> Layer:
    groups = draw(st.sampled_from((1, 1, 2, 4)))
    return _try(name=draw(names), kind="gemm", ifmap_h=draw(st.integers(1, 40)), groups=groups,
                in_channels=groups * draw(st.integers(1, 40)), out_channels=groups * draw(st.integers(1, 40)),
                batch=draw(st.integers(1, 3)), block_size=draw(st.sampled_from((1, 1, 2, 4))),
                ifmap_bits=draw(st.integers(1, 32)), filter_bits=draw(st.integers(1, 32)),
                ofmap_bits=draw(st.integers(1, 64)))


any_layers = st.lists(conv_layers() | gemm_layers(), min_size=1, max_size=6)


@st.composite
def scalesim_conv_rows(draw: st.DrawFn) -> tuple[str, int, int, int, int, int, int, int]:
    """(name, H, W, R, S, C, F, stride) of a valid SCALE-Sim conv row; names with 'DP' are depthwise."""
    name = draw(names.filter(lambda s: "DP" not in s))
    if draw(st.booleans()):
        name += "_DP"
    r, s = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    return (name, r + draw(st.integers(0, 9)), s + draw(st.integers(0, 9)), r, s, draw(st.integers(1, 6)),
            draw(st.integers(1, 6)), draw(st.integers(1, 4)))


@st.composite
def scalesim_gemm_rows(draw: st.DrawFn) -> tuple[str, int, int, int]:
    return (draw(names), draw(st.integers(1, 300)), draw(st.integers(1, 300)), draw(st.integers(1, 300)))


@st.composite
def scalesim_writable_convs(draw: st.DrawFn) -> Layer:
    """Plain convolutions SCALE-Sim can express, with any (also asymmetric) padding."""
    r, s, stride = draw(st.integers(1, 5)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    pads = [draw(st.integers(0, 3)) for _ in range(4)]
    return _try(name=draw(names.filter(lambda n: "DP" not in n)), filter_h=r, filter_w=s, stride_h=stride,
                stride_w=stride, pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2], pad_right=pads[3],
                ifmap_h=r + draw(st.integers(0, 9)), ifmap_w=s + draw(st.integers(0, 9)),
                in_channels=draw(st.integers(1, 6)), out_channels=draw(st.integers(1, 6)))


def _conv_text(rows: list[tuple]) -> str:
    return CONV_HEADER + "\n" + "".join(", ".join(map(str, row)) + ",\n" for row in rows)


def _gemm_text(rows: list[tuple]) -> str:
    return GEMM_HEADER + "\n" + "".join(", ".join(map(str, row)) + ",\n" for row in rows)


# ---------------------------------------------------------------------------------------------- round trips
@given(any_layers)
def test_extended_writer_reads_back_equal_layers(layers: list[Layer]) -> None:
    text = format_trace_csv(layers, comments=["source: hypothesis", "second line"])
    assert parse_trace_csv(text, file="t.csv") == tuple(layers)


@given(any_layers)
def test_extended_file_round_trip_through_load_trace(layers: list[Layer]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.csv"
        write_trace_csv(Trace("net", tuple(layers)), path)
        trace = load_trace(path)
    assert trace.layers == tuple(layers)
    assert trace.name == "net"


@given(st.lists(scalesim_conv_rows(), min_size=1, max_size=6))
def test_scalesim_conv_rows_round_trip_through_both_writers(rows: list[tuple]) -> None:
    layers = parse_scalesim_csv(_conv_text(rows), form="conv", file="topo.csv")
    assert format_scalesim_csv(layers, "conv") == _conv_text(rows)  # SCALE-Sim's exact format, byte for byte
    assert parse_trace_csv(format_trace_csv(layers)) == layers


@given(st.lists(scalesim_gemm_rows(), min_size=1, max_size=6))
def test_scalesim_gemm_rows_round_trip(rows: list[tuple]) -> None:
    layers = parse_scalesim_csv(_gemm_text(rows), form="gemm", file="gemm.csv")
    assert format_scalesim_csv(layers, "gemm") == _gemm_text(rows)
    assert parse_trace_csv(format_trace_csv(layers)) == layers


@given(st.lists(st.builds(Layer.gemm_layer, names, m=st.integers(1, 99), n=st.integers(1, 99), k=st.integers(1, 99)),
                min_size=1, max_size=5))
def test_plain_gemm_layers_round_trip_through_scalesim_gemm_form(layers: list[Layer]) -> None:
    # SCALE-Sim has 1-byte words for every operand: our 32-bit default ofmap comes back as 8 bits, the rest equal
    words = tuple(replace(layer, ofmap_bits=8) for layer in layers)
    assert parse_scalesim_csv(format_scalesim_csv(layers, "gemm"), form="gemm") == words
    assert parse_scalesim_csv(format_scalesim_csv(words, "gemm"), form="gemm") == words


# ---------------------------------------------------------------------------------------------- SCALE-Sim semantics
@given(scalesim_conv_rows())
def test_scalesim_conv_row_has_scalesim_output_size_and_macs(row: tuple) -> None:
    name, h, w, r, s, channels, filters, stride = row
    (layer,) = parse_scalesim_csv(_conv_text([row]), form="conv")
    # SCALE-Sim: E = ceil((H - R + S) / S); a DP row is Channels one-channel layers of Num Filter filters each
    e, f = math.ceil((h - r + stride) / stride), math.ceil((w - s + stride) / stride)
    per_layer_channels, layer_count = (1, channels) if "DP" in name else (channels, 1)
    assert layer.ofmap_hw == (e, f)
    assert layer.macs == layer_count * e * f * r * s * per_layer_channels * filters
    assert layer.gemm.m == e * f and layer.gemm.k == r * s * per_layer_channels and layer.gemm.n == filters
    assert layer.ifmap_elements == h * w * channels


@given(st.lists(scalesim_writable_convs(), min_size=1, max_size=5))
def test_scalesim_writer_folds_any_padding_into_the_ifmap_without_changing_the_gemm(layers: list[Layer]) -> None:
    back = parse_scalesim_csv(format_scalesim_csv(layers, "conv"), form="conv")
    for original, written in zip(layers, back):
        assert written.ofmap_hw == original.ofmap_hw
        assert written.gemm == original.gemm
        assert (written.pad_top, written.pad_left) == (0, 0)


@given(scalesim_writable_convs())
def test_scalesim_writer_is_a_fixed_point_after_one_pass(layer: Layer) -> None:
    once = parse_scalesim_csv(format_scalesim_csv([layer], "conv"), form="conv")
    assert parse_scalesim_csv(format_scalesim_csv(once, "conv"), form="conv") == once


# ---------------------------------------------------------------------------------------------- corruption
MUTATIONS = ("delete_cell", "add_cell", "non_numeric", "negative", "zero", "zero_stride", "unknown_type",
             "header_column")


@st.composite
def valid_files(draw: st.DrawFn) -> tuple[str, str]:
    """(form, text) of a valid trace file in one of the three CSV forms."""
    form = draw(st.sampled_from(("extended", "conv", "gemm")))
    if form == "conv":
        return form, _conv_text(draw(st.lists(scalesim_conv_rows(), min_size=1, max_size=4)))
    if form == "gemm":
        return form, _gemm_text(draw(st.lists(scalesim_gemm_rows(), min_size=1, max_size=4)))
    return form, format_trace_csv(draw(st.lists(conv_layers() | gemm_layers(), min_size=1, max_size=4)),
                                  comments=["source: hypothesis"])


def _data_lines(lines: list[str]) -> list[int]:
    """0-based indices of data lines (after the header)."""
    content = [i for i, line in enumerate(lines) if line.strip() and not line.strip().startswith("#")]
    return content[1:]


def _mutate(form: str, text: str, mutation: str, data: st.DataObject) -> tuple[str, int]:
    """The corrupted text and the 1-based line the error must name."""
    lines = text.split("\n")
    header_index = [i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")][0]
    header = [c.strip() for c in lines[header_index].split(",")]
    if mutation == "header_column":
        assume(form == "extended")
        lines[header_index] += ",foo"
        return "\n".join(lines), header_index + 1
    index = data.draw(st.sampled_from(_data_lines(lines)))
    cells = lines[index].split(",")
    if form != "extended":
        cells = cells[:-1]  # SCALE-Sim's trailing comma is not a cell (in our writer's extended files every cell is)
    numeric = list(range(1, len(cells))) if form != "extended" else [
        j for j, column in enumerate(header) if column not in ("name", "type")]
    if mutation == "delete_cell":
        del cells[data.draw(st.integers(0, len(cells) - 1))]
    elif mutation == "add_cell":
        cells.insert(data.draw(st.integers(0, len(cells))), "7")
    elif mutation in ("non_numeric", "negative", "zero"):
        assume(numeric)
        j = data.draw(st.sampled_from(numeric))
        if mutation == "zero":
            # zero is allowed for paddings; elsewhere (and in columns a row's type does not use) it is an error
            assume(form != "extended" or not header[j].startswith(("pad", "output_padding")))
        cells[j] = {"non_numeric": "x" + cells[j].strip(), "negative": "-1", "zero": "0"}[mutation]
    elif mutation == "zero_stride":
        column = {"conv": 7, "gemm": None}.get(form, header.index("stride") if "stride" in header else None)
        assume(column is not None)
        cells[column] = "0"
    elif mutation == "unknown_type":
        assume(form == "extended")
        cells[header.index("type")] = "conv3d"
    lines[index] = ",".join(cells) + ("," if form != "extended" else "")
    return "\n".join(lines), index + 1


@settings(max_examples=150)
@given(valid_files(), st.sampled_from(MUTATIONS), st.data())
def test_corrupted_file_raises_trace_error_naming_file_and_line(file: tuple[str, str], mutation: str,
                                                                data: st.DataObject) -> None:
    form, text = file
    corrupted, line = _mutate(form, text, mutation, data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.csv"
        path.write_text(corrupted, encoding="utf-8")
        with pytest.raises(TraceError) as info:
            load_trace(path, form=form)
    assert info.value.file == str(path)
    assert info.value.line == line
    assert f"{path}:{line}:" in str(info.value)


@settings(max_examples=150)
@given(valid_files(), st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(",0123456789-x:#\n DP"),
                                         st.sampled_from(("insert", "replace", "delete"))), min_size=1, max_size=4))
def test_random_edits_load_or_raise_trace_error(file: tuple[str, str], edits: list[tuple[int, str, str]]) -> None:
    _, text = file
    chars = list(text)
    for position, char, action in edits:
        at = position % (len(chars) + 1)
        if action == "insert":
            chars.insert(at, char)
        elif chars and at < len(chars):
            chars[at:at + 1] = [char] if action == "replace" else []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "net.csv"
        path.write_text("".join(chars), encoding="utf-8")
        try:
            trace = load_trace(path)  # sniffing included: the header may be corrupted too
        except TraceError as err:
            assert err.file == str(path)
            assert str(path) in str(err)
        else:
            assert all(isinstance(layer, Layer) for layer in trace.layers) and trace.layers
