"""ONNX import: models built here with onnx.helper (no binaries committed), every Layer field checked by hand."""
from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper

from sim.errors import TraceError
from sim.workload.layer import Layer
from sim.workload.onnx_loader import load_onnx_trace, onnx_summary

FLOAT = TensorProto.FLOAT


def weight(name: str, dims: list[int], elem: int = FLOAT) -> object:
    """An initializer of zeros: only its shape and type matter to the loader."""
    return helper.make_tensor(name, elem, dims, [0] * math.prod(dims))


def save(tmp_path: Path, nodes: list, inputs: list, outputs: list, inits: list = (), name: str = "net",
         opset: int = 17) -> Path:
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def value(name: str, dims: list, elem: int = FLOAT) -> object:
    return helper.make_tensor_value_info(name, elem, dims)


def expected_conv(ifmap: tuple[int, int], filt: tuple[int, int], c: int, m: int, stride: int, pad: int,
                  dilation: int = 1, groups: int = 1, batch: int = 1) -> tuple[int, int, int]:
    """(E, F, MACs) by the textbook formula, independent of Layer."""
    eff = [dilation * (f - 1) + 1 for f in filt]
    e = (ifmap[0] + 2 * pad - eff[0]) // stride + 1
    f = (ifmap[1] + 2 * pad - eff[1]) // stride + 1
    return e, f, batch * e * f * m * filt[0] * filt[1] * (c // groups)


# ---------------------------------------------------------------------------------------------- conv
def test_conv_stack_every_field(tmp_path: Path) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["y1"], name="conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["y1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["y2"], name="conv2", dilations=[2, 2]),
    ]
    inits = [weight("w1", [8, 3, 3, 3]), weight("w2", [4, 8, 3, 3]), weight("b2", [4])]
    path = save(tmp_path, nodes, [value("x", [2, 3, 16, 16])], [value("y2", None)], inits)
    trace = load_onnx_trace(path)
    assert trace.name == "net" and trace.source_file == str(path)
    conv1, conv2 = trace.layers
    assert conv1 == Layer(name="conv1", kind="conv", ifmap_h=16, ifmap_w=16, in_channels=3, out_channels=8,
                          filter_h=3, filter_w=3, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=1,
                          pad_right=1, batch=2)
    assert conv1.ofmap_hw == (8, 8)
    assert conv1.macs == expected_conv((16, 16), (3, 3), 3, 8, 2, 1, batch=2)[2] == 2 * 8 * 8 * 8 * 27
    assert conv2 == Layer(name="conv2", kind="conv", ifmap_h=8, ifmap_w=8, in_channels=8, out_channels=4,
                          filter_h=3, filter_w=3, dilation_h=2, dilation_w=2, batch=2)
    assert conv2.ofmap_hw == (4, 4)
    assert conv2.macs == 2 * 4 * 4 * 4 * 9 * 8
    assert (conv1.ifmap_bits, conv1.filter_bits, conv1.ofmap_bits) == (8, 8, 32)  # int8 default for float models


def test_depthwise_conv_has_groups_equal_channels(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="dw", group=6, pads=[1, 1, 1, 1])]
    path = save(tmp_path, nodes, [value("x", [1, 6, 10, 12])], [value("y", None)], [weight("w", [6, 1, 3, 3])])
    (layer,) = load_onnx_trace(path).layers
    assert layer.is_depthwise and layer.groups == 6 and layer.in_channels == 6 and layer.out_channels == 6
    assert layer.ofmap_hw == (10, 12)
    assert (layer.gemm.m, layer.gemm.k, layer.gemm.n, layer.gemm.groups) == (120, 9, 1, 6)
    assert layer.macs == 10 * 12 * 6 * 9


def test_auto_pad_same_upper_and_lower_put_the_odd_pixel_on_opposite_sides(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="up", auto_pad="SAME_UPPER", strides=[2, 2]),
             helper.make_node("Conv", ["x", "w"], ["z"], name="low", auto_pad="SAME_LOWER", strides=[2, 2])]
    path = save(tmp_path, nodes, [value("x", [1, 2, 8, 7])], [value("y", None), value("z", None)],
                [weight("w", [3, 2, 4, 4])])
    up, low = load_onnx_trace(path).layers
    # H: out 4, total pad (4-1)*2+4-8 = 2; W: out 4, total (4-1)*2+4-7 = 3
    assert (up.pad_top, up.pad_bottom, up.pad_left, up.pad_right) == (1, 1, 1, 2)
    assert (low.pad_top, low.pad_bottom, low.pad_left, low.pad_right) == (1, 1, 2, 1)
    assert up.ofmap_hw == low.ofmap_hw == (4, 4)


def test_conv1d_becomes_l_by_1(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c1d", pads=[2, 2], strides=[3])]
    path = save(tmp_path, nodes, [value("x", [1, 4, 20])], [value("y", None)], [weight("w", [5, 4, 5])])
    (layer,) = load_onnx_trace(path).layers
    assert (layer.ifmap_h, layer.ifmap_w, layer.filter_h, layer.filter_w) == (20, 1, 5, 1)
    assert (layer.stride_h, layer.pad_top, layer.pad_bottom, layer.pad_left) == (3, 2, 2, 0)
    assert layer.ofmap_hw == ((20 + 4 - 5) // 3 + 1, 1)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(3, 12), w=st.integers(3, 12), c=st.sampled_from([1, 2, 4]), m=st.sampled_from([2, 4]),
       k=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2), dilation=st.integers(1, 2),
       depthwise=st.booleans(), batch=st.integers(1, 3))
def test_random_conv_matches_textbook_formula(tmp_path_factory: pytest.TempPathFactory, h: int, w: int, c: int,
                                              m: int, k: int, stride: int, pad: int, dilation: int,
                                              depthwise: bool, batch: int) -> None:
    eff = dilation * (k - 1) + 1
    if eff > min(h, w) + 2 * pad:
        return
    groups = c if depthwise else 1
    out = c if depthwise else m
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[pad] * 4, strides=[stride] * 2,
                              dilations=[dilation] * 2, group=groups)]
    path = save(tmp_path_factory.mktemp("conv"), nodes, [value("x", [batch, c, h, w])], [value("y", None)],
                [weight("w", [out, c // groups, k, k])])
    (layer,) = load_onnx_trace(path).layers
    e, f, macs = expected_conv((h, w), (k, k), c, out, stride, pad, dilation, groups, batch)
    assert layer.name == "Conv_0"
    assert layer.ofmap_hw == (e, f) and layer.macs == macs and layer.groups == groups


@settings(max_examples=20, deadline=None)
@given(h=st.integers(2, 9), w=st.integers(2, 9), k=st.integers(1, 3), stride=st.integers(1, 3),
       dilation=st.integers(1, 2), auto_pad=st.sampled_from(["VALID", "SAME_UPPER", "SAME_LOWER"]))
def test_random_auto_pad_conv_matches_onnx_reference_output(tmp_path_factory: pytest.TempPathFactory, h: int,
                                                            w: int, k: int, stride: int, dilation: int,
                                                            auto_pad: str) -> None:
    """The Layer's ofmap equals the output shape of ONNX's reference implementation, for each auto_pad."""
    from onnx.reference import ReferenceEvaluator

    if dilation * (k - 1) + 1 > min(h, w):
        return
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], strides=[stride] * 2, dilations=[dilation] * 2,
                              auto_pad=auto_pad)]
    path = save(tmp_path_factory.mktemp("same"), nodes, [value("x", [1, 2, h, w])], [value("y", None)],
                [weight("w", [3, 2, k, k])])
    (layer,) = load_onnx_trace(path).layers
    (y,) = ReferenceEvaluator(str(path)).run(None, {"x": np.zeros((1, 2, h, w), dtype=np.float32)})
    assert y.shape == (1, 3, *layer.ofmap_hw)
    if auto_pad != "VALID":
        assert layer.ofmap_hw == (-(-h // stride), -(-w // stride))


# ---------------------------------------------------------------------------------------------- tconv
def test_conv_transpose_fields_and_output_size(tmp_path: Path) -> None:
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2], pads=[1, 1, 1, 1],
                              output_padding=[1, 1])]
    path = save(tmp_path, nodes, [value("x", [1, 8, 5, 6])], [value("y", None)], [weight("w", [8, 4, 3, 3])])
    (layer,) = load_onnx_trace(path).layers
    assert layer == Layer(name="up", kind="tconv", ifmap_h=5, ifmap_w=6, in_channels=8, out_channels=4,
                          filter_h=3, filter_w=3, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=1,
                          pad_right=1, output_padding_h=1, output_padding_w=1)
    # ONNX: out = stride*(in-1) + output_padding + (k-1)*dil + 1 - pads
    assert layer.ofmap_hw == (2 * 4 + 1 + 3 - 2, 2 * 5 + 1 + 3 - 2)
    assert layer.effective_macs == 5 * 6 * 8 * 9 * 4


def test_grouped_conv_transpose_and_output_shape_attribute(tmp_path: Path) -> None:
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2], group=2,
                              output_shape=[8, 8])]
    path = save(tmp_path, nodes, [value("x", [1, 4, 4, 4])], [value("y", None)], [weight("w", [4, 3, 3, 3])])
    (layer,) = load_onnx_trace(path).layers
    # total padding 2*3 + 3 - 8 = 1: default puts the larger half at the begin
    assert (layer.groups, layer.out_channels) == (2, 6)
    assert (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right) == (1, 0, 1, 0)
    assert layer.ofmap_hw == (8, 8)


# ---------------------------------------------------------------------------------------------- gemm / matmul
@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
def test_gemm_transposes(tmp_path: Path, trans_a: int, trans_b: int) -> None:
    m, k, n = 5, 7, 3
    a = [k, m] if trans_a else [m, k]
    b = [n, k] if trans_b else [k, n]
    nodes = [helper.make_node("Gemm", ["a", "b", "c"], ["y"], name="fc", transA=trans_a, transB=trans_b)]
    path = save(tmp_path, nodes, [value("a", a)], [value("y", None)], [weight("b", b), weight("c", [n])])
    (layer,) = load_onnx_trace(path).layers
    assert layer == Layer.gemm_layer("fc", m=m, n=n, k=k)
    assert (layer.gemm.m, layer.gemm.k, layer.gemm.n) == (m, k, n) and layer.macs == m * k * n


def test_matmul_2d_and_leading_dims_fold_into_m(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj"),
             helper.make_node("MatMul", ["v", "w"], ["z"], name="vec")]
    path = save(tmp_path, nodes, [value("x", [2, 6, 16]), value("v", [16])], [value("y", None), value("z", None)],
                [weight("w", [16, 4])])
    proj, vec = load_onnx_trace(path).layers
    assert (proj.gemm.m, proj.gemm.k, proj.gemm.n, proj.gemm.groups) == (12, 16, 4, 1)
    assert (vec.gemm.m, vec.gemm.k, vec.gemm.n) == (1, 16, 4)


def test_batched_attention_matmul_makes_groups(tmp_path: Path) -> None:
    # scores = Q @ K^T per (batch, head): both operands activations
    nodes = [helper.make_node("MatMul", ["q", "kt"], ["s"], name="scores"),
             helper.make_node("MatMul", ["s", "v"], ["o"], name="context")]
    path = save(tmp_path, nodes, [value("q", [2, 4, 10, 8]), value("kt", [2, 4, 8, 10]), value("v", [1, 4, 10, 8])],
                [value("o", None)])
    scores, context = load_onnx_trace(path).layers
    assert (scores.gemm.m, scores.gemm.k, scores.gemm.n, scores.gemm.groups) == (10, 8, 10, 8)
    assert (context.gemm.m, context.gemm.k, context.gemm.n, context.gemm.groups) == (10, 10, 8, 8)
    assert scores.macs == 2 * 4 * 10 * 8 * 10


# ---------------------------------------------------------------------------------------------- quantized
def test_quantized_ops_take_bits_from_tensor_types(tmp_path: Path) -> None:
    u8, i8 = TensorProto.UINT8, TensorProto.INT8
    scalar = [weight("s", [], FLOAT), weight("zu", [], u8), weight("zi", [], i8)]
    nodes = [
        helper.make_node("QLinearConv", ["x", "s", "zu", "w", "s", "zi", "s", "zu"], ["y"], name="qconv",
                         pads=[1, 1, 1, 1]),
        helper.make_node("ConvInteger", ["y", "w"], ["y32"], name="iconv"),
        helper.make_node("QLinearMatMul", ["a", "s", "zu", "b", "s", "zi", "s", "zu"], ["c"], name="qmm"),
        helper.make_node("MatMulInteger", ["a", "b"], ["c32"], name="imm"),
    ]
    path = save(tmp_path, nodes, [value("x", [1, 4, 6, 6], u8), value("a", [3, 5], u8)],
                [value("y32", None), value("c", None), value("c32", None)],
                scalar + [weight("w", [4, 4, 3, 3], i8), weight("b", [5, 2], i8)])
    qconv, iconv, qmm, imm = load_onnx_trace(path).layers
    assert qconv == Layer(name="qconv", ifmap_h=6, ifmap_w=6, in_channels=4, out_channels=4, filter_h=3,
                          filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    assert iconv.ofmap_hw == (4, 4)
    assert qmm == imm.__class__.gemm_layer("qmm", m=3, n=2, k=5)
    assert (imm.gemm.m, imm.gemm.k, imm.gemm.n) == (3, 5, 2)


def test_int16_quantized_operands_widen_the_layer(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMulInteger", ["a", "b"], ["c"], name="imm")]
    path = save(tmp_path, nodes, [value("a", [3, 5], TensorProto.INT16)], [value("c", None)],
                [weight("b", [5, 2], TensorProto.INT8)])
    (layer,) = load_onnx_trace(path).layers
    assert (layer.ifmap_bits, layer.filter_bits, layer.ofmap_bits) == (16, 8, 32)


# ---------------------------------------------------------------------------------------------- whole network
def resnet_block(tmp_path: Path, batch_dim: object = 1) -> tuple[Path, list]:
    """conv-bn-relu-conv-bn + 1x1 stride-2 projection shortcut, add, relu, global pool, fc."""
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c1", "g", "b", "mu", "var"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c2", "g", "b", "mu", "var"], ["n2"]),
        helper.make_node("Conv", ["x", "wp"], ["p"], name="proj", strides=[2, 2]),
        helper.make_node("Add", ["n2", "p"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"]),
        helper.make_node("Gemm", ["flat", "wf", "bf"], ["logits"], name="fc", transB=1),
    ]
    inits = [weight("w1", [16, 8, 3, 3]), weight("w2", [16, 16, 3, 3]), weight("wp", [16, 8, 1, 1]),
             weight("wf", [10, 16]), weight("bf", [10])] + [weight(n, [16]) for n in ("g", "b", "mu", "var")]
    path = save(tmp_path, nodes, [value("x", [batch_dim, 8, 14, 14])], [value("logits", None)], inits,
                name="block")
    return path, nodes


def independent_macs(model_path: Path, batch: int) -> int:
    """MACs from the ONNX attributes and initializer dims alone, walking the graph by hand."""
    model = onnx.load(str(model_path))
    dims = {i.name: list(i.dims) for i in model.graph.initializer}
    hw = {"x": (14, 14)}
    total = 0
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            m, c, r, s = dims[node.input[1]]
            pads, strides = attrs.get("pads", [0] * 4), attrs.get("strides", [1, 1])
            h, w = hw[node.input[0]]
            e, f = (h + pads[0] + pads[2] - r) // strides[0] + 1, (w + pads[1] + pads[3] - s) // strides[1] + 1
            hw[node.output[0]] = (e, f)
            total += batch * e * f * m * r * s * c
        elif node.op_type == "Gemm":
            n, k = dims[node.input[1]]
            total += batch * n * k
        elif node.input and node.input[0] in hw:
            hw[node.output[0]] = hw[node.input[0]]
    return total


def test_resnet_block_total_macs_and_summary(tmp_path: Path) -> None:
    path, _ = resnet_block(tmp_path)
    trace = load_onnx_trace(path)
    assert [layer.name for layer in trace.layers] == ["conv1", "conv2", "proj", "fc"]
    assert sum(layer.macs for layer in trace.layers) == independent_macs(path, 1)
    assert onnx_summary(path) == {"model": "block", "nodes": 11, "mapped": {"Conv": 3, "Gemm": 1},
                                  "skipped": {"Add": 1, "BatchNormalization": 2, "Flatten": 1,
                                              "GlobalAveragePool": 1, "Relu": 2}}


def test_dynamic_batch_needs_batch_argument(tmp_path: Path) -> None:
    path, _ = resnet_block(tmp_path, batch_dim="N")
    with pytest.raises(TraceError, match=r"tensor 'x' dim 0 is not static.*--batch") as info:
        load_onnx_trace(path)
    assert info.value.file == str(path) and info.value.field == "conv1.input"
    trace = load_onnx_trace(path, batch=3)
    assert [layer.batch for layer in trace.layers[:3]] == [3, 3, 3]
    assert trace.layers[3].gemm.m == 3
    assert sum(layer.macs for layer in trace.layers) == independent_macs(path, 3)
    assert onnx_summary(path)["mapped"] == {"Conv": 3, "Gemm": 1}  # the summary needs no shapes


def test_dynamic_inner_dim_is_an_error_even_with_batch(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c")]
    path = save(tmp_path, nodes, [value("x", ["N", 3, "H", 8])], [value("y", None)], [weight("w", [4, 3, 3, 3])])
    with pytest.raises(TraceError, match=r"tensor 'x' dim 2 is not static") as info:
        load_onnx_trace(path, batch=2)
    assert info.value.value == "H"


def test_unnamed_and_repeated_names_are_made_unique(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["x", "w"], ["y1"], name="mm"),
             helper.make_node("MatMul", ["y1", "w"], ["y2"], name="mm"),
             helper.make_node("Relu", ["y2"], ["r"]),
             helper.make_node("MatMul", ["r", "w"], ["y3"])]
    path = save(tmp_path, nodes, [value("x", [4, 4])], [value("y3", None)], [weight("w", [4, 4])])
    assert [layer.name for layer in load_onnx_trace(path).layers] == ["mm", "mm_2", "MatMul_3"]


def test_nodes_out_of_order_are_sorted_topologically(tmp_path: Path) -> None:
    nodes = [helper.make_node("MatMul", ["y1", "w2"], ["y2"], name="second"),
             helper.make_node("MatMul", ["x", "w1"], ["y1"], name="first")]
    graph = helper.make_graph(nodes, "g", [value("x", [2, 3])], [value("y2", None)],
                              initializer=[weight("w1", [3, 5]), weight("w2", [5, 7])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "unsorted.onnx"
    path.write_bytes(model.SerializeToString())  # onnx.save would not object, but be explicit: no checker run
    first, second = load_onnx_trace(path).layers
    assert (first.name, second.name) == ("first", "second")
    assert (second.gemm.m, second.gemm.k, second.gemm.n) == (2, 5, 7)


# ---------------------------------------------------------------------------------------------- errors
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TraceError, match="not found") as info:
        load_onnx_trace(tmp_path / "absent.onnx")
    assert info.value.file == str(tmp_path / "absent.onnx")


def test_text_file_is_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "net.onnx"
    path.write_text("Layer name, IFMAP Height\nconv1, 3\n")
    with pytest.raises(TraceError) as info:
        load_onnx_trace(path)
    assert info.value.file == str(path)


def test_model_without_compute_layers(tmp_path: Path) -> None:
    path = save(tmp_path, [helper.make_node("Relu", ["x"], ["y"])], [value("x", [1, 4])], [value("y", None)])
    with pytest.raises(TraceError, match="no compute layers"):
        load_onnx_trace(path)
    assert onnx_summary(path)["skipped"] == {"Relu": 1}


def test_conv3d_is_rejected_with_node_name(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c3d")]
    path = save(tmp_path, nodes, [value("x", [1, 2, 4, 4, 4])], [value("y", None)], [weight("w", [2, 2, 2, 2, 2])])
    with pytest.raises(TraceError, match="1-D and 2-D") as info:
        load_onnx_trace(path)
    assert info.value.field == "c3d.input" and info.value.file == str(path)


def test_bad_batch_argument(tmp_path: Path) -> None:
    path, _ = resnet_block(tmp_path, batch_dim="N")
    with pytest.raises(TraceError, match="batch"):
        load_onnx_trace(path, batch=0)


def test_invalid_layer_from_attributes_is_located(tmp_path: Path) -> None:
    # tconv padding beyond the filter span cannot be lowered: the Layer's TraceError gains the file
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="tc", strides=[4, 4], pads=[3, 3, 3, 3])]
    path = save(tmp_path, nodes, [value("x", [1, 2, 6, 6])], [value("y", None)], [weight("w", [2, 2, 2, 2])])
    with pytest.raises(TraceError) as info:
        load_onnx_trace(path)
    assert info.value.file == str(path) and info.value.field.startswith("tc.")


def test_onnx_missing_gives_install_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    real_import = builtins.__import__

    def no_onnx(name: str, *args: object, **kwargs: object) -> object:
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    with pytest.raises(TraceError, match=r"pip install 'sim\[onnx\]'"):
        load_onnx_trace(tmp_path / "any.onnx")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 40), cut=st.floats(0.0, 1.0))
def test_corrupted_bytes_give_trace_error(tmp_path_factory: pytest.TempPathFactory, seed: int, flips: int,
                                          cut: float) -> None:
    """Random byte flips and truncation: either a valid trace or a TraceError, never another exception."""
    base = tmp_path_factory.getbasetemp() / "fuzz_base"
    base.mkdir(exist_ok=True)
    source, _ = resnet_block(base)
    data = bytearray(source.read_bytes())
    rng = random.Random(seed)
    for _ in range(flips):
        data[rng.randrange(len(data))] = rng.randrange(256)
    data = data[: max(1, int(len(data) * cut))] if cut < 0.9 else data
    path = tmp_path_factory.mktemp("fuzz") / "broken.onnx"
    path.write_bytes(bytes(data))
    try:
        trace = load_onnx_trace(path)
    except TraceError as err:
        assert err.file == str(path)
    else:
        assert all(layer.macs > 0 for layer in trace.layers)
    try:
        onnx_summary(path)
    except TraceError as err:
        assert err.file == str(path)


def test_unknown_auto_pad_names_the_node(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="odd", auto_pad="SAME_MIDDLE")]
    path = save(tmp_path, nodes, [value("x", [1, 2, 6, 6])], [value("y", None)], [weight("w", [2, 2, 3, 3])])
    with pytest.raises(TraceError) as info:
        load_onnx_trace(path)
    assert info.value.file == str(path)
    assert info.value.field == "odd.auto_pad" and "unknown auto_pad" in str(info.value)


def test_attribute_of_the_wrong_type_is_a_trace_error(tmp_path: Path) -> None:
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c", strides=[1.5, 1.5])]
    path = save(tmp_path, nodes, [value("x", [1, 2, 6, 6])], [value("y", None)], [weight("w", [2, 2, 3, 3])])
    with pytest.raises(TraceError) as info:
        load_onnx_trace(path)
    assert info.value.file == str(path)


@settings(max_examples=25, deadline=None)
@given(h=st.integers(1, 6), w=st.integers(1, 6), k=st.integers(1, 4), stride=st.integers(1, 3),
       dilation=st.integers(1, 2), data=st.data())
def test_random_conv_transpose_matches_onnx_reference_output(tmp_path_factory: pytest.TempPathFactory, h: int,
                                                             w: int, k: int, stride: int, dilation: int,
                                                             data: st.DataObject) -> None:
    """The tconv Layer's ofmap equals the output shape of ONNX's own reference implementation."""
    from onnx.reference import ReferenceEvaluator

    span = dilation * (k - 1)
    pads = [data.draw(st.integers(0, span)) for _ in range(4)]
    # < stride: ONNX's reference col2im fails on output padding that only the dilation allows
    out_pad = [data.draw(st.integers(0, stride - 1)) for _ in range(2)]
    out_hw = [stride * (n - 1) + p + span + 1 - a - b for n, p, a, b in zip((h, w), out_pad, pads[:2], pads[2:])]
    if min(out_hw) < 1:
        return
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="tc", strides=[stride] * 2, pads=pads,
                              dilations=[dilation] * 2, output_padding=out_pad)]
    path = save(tmp_path_factory.mktemp("tconv"), nodes, [value("x", [1, 2, h, w])], [value("y", None)],
                [weight("w", [2, 3, k, k])])
    (layer,) = load_onnx_trace(path).layers
    (y,) = ReferenceEvaluator(str(path)).run(None, {"x": np.zeros((1, 2, h, w), dtype=np.float32)})
    assert y.shape == (1, 3, *layer.ofmap_hw)
    assert layer.effective_macs == h * w * 2 * k * k * 3


def test_conv_transpose_same_upper_and_full_output_shape(tmp_path: Path) -> None:
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="same", strides=[2, 2], auto_pad="SAME_UPPER"),
             helper.make_node("ConvTranspose", ["x", "w"], ["z"], name="full", strides=[2, 2],
                              output_shape=[1, 3, 9, 9])]
    path = save(tmp_path, nodes, [value("x", [1, 2, 5, 5])], [value("y", None), value("z", None)],
                [weight("w", [2, 3, 4, 4])])
    same, full = load_onnx_trace(path).layers
    # SAME: out 10, total 2*4 + 4 - 10 = 2 -> 1/1; full: out 9, total 3 -> larger half (2) first
    assert same.ofmap_hw == (10, 10) and (same.pad_top, same.pad_bottom) == (1, 1)
    assert full.ofmap_hw == (9, 9) and (full.pad_top, full.pad_bottom, full.pad_left) == (2, 1, 2)


def test_load_trace_dispatches_onnx_suffix(tmp_path: Path) -> None:
    from sim.workload.load import load_trace

    path, _ = resnet_block(tmp_path)
    assert load_trace(path) == load_onnx_trace(path)
