"""SCALE-Sim topology CSV: reading both forms, the error messages, and what the writer refuses."""
import re
from dataclasses import replace

import pytest

from sim.errors import TraceError
from sim.workload.layer import Layer
from sim.workload.scalesim_csv import (CONV_HEADER, GEMM_HEADER, format_scalesim_csv, load_scalesim_csv,
                                       parse_scalesim_csv, write_scalesim_csv)


def conv(*rows: str) -> str:
    return CONV_HEADER + "\n" + "\n".join(rows) + "\n"


def test_conv_row_is_read_with_scalesim_output_size_as_bottom_right_padding() -> None:
    (layer,) = parse_scalesim_csv(conv("Conv1, 224, 224, 7, 7, 3, 64, 2,"))
    # SCALE-Sim: ceil((224 - 7 + 2) / 2) = 110 (floor would give 109)
    assert layer.ofmap_hw == (110, 110)
    assert (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right) == (0, 1, 0, 1)
    assert (layer.in_channels, layer.out_channels, layer.stride_h, layer.stride_w) == (3, 64, 2, 2)


def test_resnet_57_ifmap_gives_28_as_in_scalesim() -> None:
    (layer,) = parse_scalesim_csv(conv("layer2.0.conv1, 57, 57, 3, 3, 64, 128, 2,"))
    assert layer.ofmap_hw == (28, 28) and layer.pad_bottom == 0


def test_dp_row_is_one_depthwise_layer_with_the_macs_of_scalesims_expansion() -> None:
    (layer,) = parse_scalesim_csv(conv("Conv3_DP, 10, 10, 3, 3, 8, 2, 1,"))
    assert (layer.groups, layer.in_channels, layer.out_channels) == (8, 8, 16)
    # SCALE-Sim runs 8 one-channel layers of 2 filters, each 8x8 outputs x 9 taps
    assert layer.macs == 8 * (8 * 8 * 9 * 1 * 2)
    assert layer.gemm.groups == 8 and layer.gemm.k == 9 and layer.gemm.n == 2


def test_gemm_form_maps_m_n_k() -> None:
    (layer,) = parse_scalesim_csv(GEMM_HEADER + "\nqkv, 128, 2304, 768,\n", form="gemm")
    assert layer.kind == "gemm"
    assert (layer.gemm.m, layer.gemm.k, layer.gemm.n) == (128, 768, 2304)


def test_kinder_than_scalesim_no_trailing_comma_comments_blank_lines_and_dense_sparsity() -> None:
    text = conv("# comment", "", "A, 5, 5, 3, 3, 1, 1, 1", "B, 5, 5, 3, 3, 1, 1, 1, 1:1,",
                "C, 5, 5, 3, 3, 1, 1, 1, 4:4")
    assert [layer.name for layer in parse_scalesim_csv(text)] == ["A", "B", "C"]


@pytest.mark.parametrize("row, pattern", [
    ("A, 5, 5, 3, 3, 1, 1, 0,", r"t\.csv:2: Strides: must be >= 1 \(got 0\); allowed: an integer >= 1"),
    ("A, 5, 5, 3, 3, 1, 1, -2,", r"t\.csv:2: Strides: must be >= 1 \(got -2\)"),
    ("A, 5, 5.0, 3, 3, 1, 1, 1,", r"t\.csv:2: IFMAP Width: not an integer \(got '5\.0'\); allowed: an integer >= 1"),
    ("A, 5, , 3, 3, 1, 1, 1,", r"t\.csv:2: IFMAP Width: missing value"),
    ("A, 2, 5, 3, 3, 1, 1, 1,", r"t\.csv:2: Filter Height: filter taller than the \(padded\) ifmap \(got 3\); "
                                r"allowed: <= IFMAP Height \(2\)"),
    ("A, 5, 2, 3, 3, 1, 1, 1,", r"t\.csv:2: Filter Width: .*allowed: <= IFMAP Width \(2\)"),
    ("A, 5, 5, 3, 3, 1, 1,", r"t\.csv:2: wrong number of columns .*\(got 7\); allowed: 8 \(Layer name, IFMAP Height"),
    ("A, 5, 5, 3, 3, 1, 1, 1, 1:1, 3,", r"t\.csv:2: wrong number of columns .*\(got 10\)"),
    ("A, 5, 5, 3, 3, 1, 1, 1, 4:2,", r"t\.csv:2: N:M sparsity: N:M sparsity out of range \(got '4:2'\); "
                                     r"allowed: N:M with 1 <= N <= M"),
    ("A, 5, 5, 3, 3, 1, 1, 1, half,", r"t\.csv:2: N:M sparsity: not an N:M sparsity ratio \(got 'half'\)"),
    (", 5, 5, 3, 3, 1, 1, 1,", r"t\.csv:2: Layer name: missing layer name"),
])
def test_conv_errors_name_file_line_column_value_and_allowed(row: str, pattern: str) -> None:
    with pytest.raises(TraceError, match=pattern) as info:
        parse_scalesim_csv(conv(row), file="t.csv")
    assert info.value.line == 2


def test_gemm_error_names_column() -> None:
    with pytest.raises(TraceError, match=r"g\.csv:3: K: must be >= 1 \(got 0\)"):
        parse_scalesim_csv(GEMM_HEADER + "\na, 1, 2, 3,\nb, 1, 2, 0,\n", form="gemm", file="g.csv")


def test_header_only_and_unknown_form_are_errors(tmp_path) -> None:
    with pytest.raises(TraceError, match="no layers"):
        parse_scalesim_csv(CONV_HEADER + "\n")
    with pytest.raises(TraceError, match=r"form: unknown SCALE-Sim topology form \(got 'fc'\); allowed: conv, gemm"):
        parse_scalesim_csv(conv("A, 5, 5, 3, 3, 1, 1, 1,"), form="fc")
    path = tmp_path / "odd.csv"
    path.write_text("foo, bar\nA, 1,\n")
    with pytest.raises(TraceError, match=r"odd\.csv:1: header is neither"):
        load_scalesim_csv(path)


def test_writer_writes_scalesim_exact_format(tmp_path) -> None:
    layers = [Layer(name="c1", ifmap_h=224, ifmap_w=224, filter_h=7, filter_w=7, in_channels=3, out_channels=64,
                    stride_h=2, stride_w=2, pad_top=3, pad_bottom=3, pad_left=3, pad_right=3),
              Layer.gemm_layer("fc", m=1, n=1000, k=512)]
    path = tmp_path / "topo.csv"
    write_scalesim_csv(layers, path)
    assert path.read_text() == (CONV_HEADER + "\nc1, 229, 229, 7, 7, 3, 64, 2,\nfc, 1, 1, 1, 1, 512, 1000, 1,\n")
    assert load_scalesim_csv(path).layers[0].ofmap_hw == (112, 112)


@pytest.mark.parametrize("layer, form, pattern", [
    (Layer(name="t", kind="tconv", ifmap_h=4, ifmap_w=4, filter_h=3, filter_w=3), "conv", "no transposed"),
    (Layer(name="g", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4, groups=2), "conv", "no grouped"),
    (Layer(name="dw", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4, groups=4), "conv", "'DP' in the name"),
    (Layer(name="xDP", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4), "conv", "treats a name containing 'DP'"),
    (Layer(name="d", ifmap_h=5, ifmap_w=5, filter_h=2, filter_w=2, dilation_h=2, dilation_w=2), "conv", "no dilation"),
    (Layer(name="s", ifmap_h=5, ifmap_w=5, stride_h=2), "conv", "one stride"),
    (Layer(name="b", batch=2), "conv", "no batch"),
    (Layer(name="q", ifmap_bits=4), "conv", "no operand precisions"),
    (Layer.gemm_layer("bc", m=1, n=8, k=8, block_size=4), "gemm", "block-circulant"),
    (Layer(name="c"), "gemm", "only gemm layers"),
    (Layer.gemm_layer("gg", m=1, n=8, k=8, groups=2), "gemm", "no grouped GEMMs"),
    (Layer(name="a,b"), "conv", "cannot be written to a CSV"),
])
def test_writer_refuses_what_scalesim_cannot_express(layer: Layer, form: str, pattern: str) -> None:
    with pytest.raises(TraceError, match=re.escape(pattern) if "'" in pattern else pattern):
        format_scalesim_csv([layer], form)


def test_writer_keeps_depthwise_dp_layers() -> None:
    layer = Layer(name="L_DP", ifmap_h=6, ifmap_w=6, filter_h=3, filter_w=3, in_channels=4, out_channels=8, groups=4)
    text = format_scalesim_csv([layer])
    assert text.splitlines()[1] == "L_DP, 6, 6, 3, 3, 4, 2, 1,"
    assert parse_scalesim_csv(text) == (replace(layer, ofmap_bits=8),)  # SCALE-Sim's 1-byte ofmap words


def test_a_missing_header_is_not_silently_skipped() -> None:
    with pytest.raises(TraceError, match=r"t\.csv:1: the first line must be the header"):
        parse_scalesim_csv("A, 5, 5, 3, 3, 1, 1, 1,\nB, 5, 5, 3, 3, 1, 1, 1,\n", file="t.csv")


def test_comment_only_file_is_a_trace_error(tmp_path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("# nothing here\n")
    with pytest.raises(TraceError, match="only comments"):
        load_scalesim_csv(path)


def test_nm_sparsity_column_compresses_k_and_round_trips() -> None:
    layers = parse_scalesim_csv(conv("A, 8, 8, 3, 3, 4, 8, 1, 2:4,\nB, 6, 10, 2, 5, 6, 20, 1, 4:8,\nC, 5, 5, 1, 1, 3, 2, 1, 3:3,"))
    assert [(layer.sparsity_n, layer.sparsity_m) for layer in layers] == [(2, 4), (4, 8), (1, 1)]
    assert layers[0].gemm.k == 18 and layers[0].dense_gemm.k == 36  # SCALE-Sim's compressed filter rows
    assert layers[1].gemm.k == 32  # ceil(60 / 8) blocks of 4 kept
    assert layers[0].macs * 2 == layers[0].dense_macs
    text = format_scalesim_csv(layers)
    assert text.splitlines()[1] == "A, 8, 8, 3, 3, 4, 8, 1, 2:4,"
    assert parse_scalesim_csv(text) == layers
