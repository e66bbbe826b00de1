"""Extended trace CSV: columns, aliases, defaults, spellings, and the error for each kind of mistake."""
import pytest

from sim.errors import TraceError
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from sim.workload.trace_csv import COLUMN_NAMES, format_trace_csv, load_trace_csv, parse_trace_csv, write_trace_csv

CONV = "name,type,ifmap_h,ifmap_w,filter_h,filter_w,channels,num_filter"


def one(text: str) -> Layer:
    (layer,) = parse_trace_csv(text, file="t.csv")
    return layer


def test_conv_defaults_for_empty_cells() -> None:
    layer = one(CONV + ",stride,pad,batch,ifmap_bits\nc1,conv,8,8,3,3,2,4,,,,\n")
    assert layer == Layer(name="c1", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=2, out_channels=4)


def test_spellings_of_stride_and_padding() -> None:
    assert one(CONV + ",stride,pad\nc,conv,8,8,3,3,1,1,2,1\n") == Layer(
        name="c", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, stride_h=2, stride_w=2,
        pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    layer = one(CONV + ",stride_h,stride_w,pad_h,pad_w\nc,conv,8,8,3,3,1,1,2,1,0,2\n")
    assert (layer.stride_h, layer.stride_w, layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right) == \
        (2, 1, 0, 0, 2, 2)
    layer = one(CONV + ",pad_top,pad_bottom,pad_left,pad_right,dilation\nc,conv,8,8,3,3,1,1,0,1,2,0,2\n")
    assert (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right, layer.dilation_h) == (0, 1, 2, 0, 2)


def test_dwconv_fc_gemm_and_tconv() -> None:
    dw = one(CONV + "\ndw,dwconv,8,8,3,3,16,\n")
    assert (dw.groups, dw.out_channels, dw.is_depthwise) == (16, 16, True)
    fc = one("name,type,m,n,k,batch\nfc,fc,,10,20,4\n")
    assert fc == Layer.gemm_layer("fc", m=1, n=10, k=20, batch=4) and fc.gemm.m == 4
    heads = one("name,type,m,n,k,groups\nscores,gemm,128,128,64,12\n")
    assert (heads.gemm.m, heads.gemm.k, heads.gemm.n, heads.gemm.groups) == (128, 64, 128, 12)
    tconv = one(CONV + ",stride,pad,output_padding\nt,tconv,4,4,5,5,8,4,2,2,1\n")
    assert tconv.kind == "tconv" and tconv.ofmap_hw == (8, 8)


def test_scalesim_header_names_are_aliases() -> None:
    text = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides, type, "
            "pad,\nconv1, 224, 224, 7, 7, 3, 64, 2, conv, 3,\n")
    layer = one(text)
    assert layer.ofmap_hw == (112, 112) and layer.macs == 118_013_952


@pytest.mark.parametrize("text, pattern", [
    (CONV + ",foo\nc,conv,8,8,3,3,1,1,\n",
     r"t\.csv:1: foo: unknown column \(got 'foo'\); allowed: name, type, ifmap_h"),
    ("name,ifmap_h\nc,8\n", r"t\.csv:1: missing required column 'type'.*allowed: name, type"),
    ("type,ifmap_h\nconv,8\n", r"t\.csv:1: missing required column 'name'"),
    ("name,type,Layer name\n", r"t\.csv:1: Layer name: column given twice"),
    (CONV + "\nc,conv,8,8,3,3,1\n",
     r"t\.csv:2: wrong number of cells for the header \(got 7\); allowed: 8 \(name, type"),
    (CONV + "\nc,conv,8,8,3,3,1,1,5\n", r"t\.csv:2: wrong number of cells"),
    (CONV + "\nc,conv2d,8,8,3,3,1,1\n", r"t\.csv:2: type: unknown layer type \(got 'conv2d'\); allowed: conv, dwconv, "
                                        r"tconv, gemm, fc"),
    (CONV + "\nc,conv,8,8,3,x,1,1\n", r"t\.csv:2: filter_w: not an integer \(got 'x'\); allowed: an integer >= 1"),
    (CONV + "\nc,conv,8,8,3,3,1,\n", r"t\.csv:2: num_filter: type conv needs a value in this column"),
    (CONV + ",stride\nc,conv,8,8,3,3,1,1,0\n", r"t\.csv:2: stride: must be >= 1 \(got 0\)"),
    (CONV + ",pad\nc,conv,8,8,3,3,1,1,-1\n", r"t\.csv:2: pad: must be >= 0 \(got -1\); allowed: an integer >= 0"),
    (CONV + ",pad,pad_h\nc,conv,8,8,3,3,1,1,1,1\n", r"t\.csv:2: pad_h: pad_top given by more than one column"),
    (CONV + ",m\nc,conv,8,8,3,3,1,1,4\n", r"t\.csv:2: m: column does not apply to type conv"),
    (CONV + ",output_padding\nc,conv,8,8,3,3,1,1,1\n", r"t\.csv:2: output_padding: column does not apply"),
    (CONV + ",groups\nd,dwconv,8,8,3,3,4,4,2\n", r"t\.csv:2: groups: a dwconv layer has groups == channels \(got 2\)"),
    (CONV + "\nc,conv,2,8,3,3,1,1\n", r"t\.csv:2: filter_h: layer 'c': filter \(dilated\) taller than the padded "
                                      r"ifmap \(got 3\); allowed: <= 2"),
    (CONV + ",groups\nc,conv,8,8,3,3,4,6,4\n", r"t\.csv:2: groups: layer 'c': groups must divide out_channels"),
    (CONV + "\n,conv,8,8,3,3,1,1\n", r"t\.csv:2: name: missing layer name"),
    ("# only a comment\n" + CONV + "\n", r"t\.csv: trace has no layers"),
])
def test_errors_name_file_line_column_value_and_allowed(text: str, pattern: str) -> None:
    with pytest.raises(TraceError, match=pattern):
        parse_trace_csv(text, file="t.csv")


def test_writer_uses_only_needed_columns_and_comments(tmp_path) -> None:
    layers = (Layer(name="c", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, pad_top=1, pad_bottom=1, pad_left=1,
                    pad_right=1),
              Layer.gemm_layer("fc", m=1, n=10, k=36))
    path = tmp_path / "net.csv"
    write_trace_csv(Trace("net", layers), path, comments=["source: a paper", "and its table 1"])
    text = path.read_text()
    assert text.splitlines()[:3] == ["# source: a paper", "# and its table 1",
                                     "name,type,ifmap_h,ifmap_w,filter_h,filter_w,channels,num_filter,pad,m,n,k"]
    assert load_trace_csv(path).layers == layers
    assert set(COLUMN_NAMES) >= set(text.splitlines()[2].split(","))


def test_writer_refuses_names_it_cannot_write_back() -> None:
    for name in ("a,b", "#x", "line\nbreak"):
        with pytest.raises(TraceError, match="cannot be written"):
            format_trace_csv([Layer(name=name)])


def test_layer_errors_name_the_spelling_the_row_used() -> None:
    with pytest.raises(TraceError, match=r"t\.csv:2: output_padding: layer 't': output padding must be smaller"):
        parse_trace_csv(CONV + ",stride,output_padding\nt,tconv,4,4,3,3,1,1,1,1\n", file="t.csv")


def test_trailing_comma_only_when_the_header_has_one() -> None:
    assert one("name,type,m,n,k,\nq,gemm,1,2,3,\n").gemm.k == 3
    assert one("name,type,m,n,k,\nq,gemm,1,2,3\n").gemm.k == 3
    with pytest.raises(TraceError, match=r"t\.csv:2: wrong number of cells"):
        parse_trace_csv("name,type,m,n,k,groups\nq,gemm,1,7,2,3,\n", file="t.csv")  # an extra cell, not a comma
