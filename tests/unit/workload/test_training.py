"""Training expansion: MACs, gradient shapes and gradient values against an autograd-free numpy reference.

The reference applies the chain rule directly: for every (input position, output position, filter tap) the forward
pass multiplies, y[out] += x[in] w[tap], so dx[in] += dy[out] w[tap] and dw[tap] += dy[out] x[in].
"""
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.functional.layer import float_ofmap
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from sim.workload.training import backward_layers, training_ops, training_trace


def _pairs(layer: Layer, axis: int):
    """(input index, output index, tap) along one spatial axis, for conv and tconv."""
    if axis == 0:
        size, taps, stride, dil, pad, out = layer.ifmap_h, layer.filter_h, layer.stride_h, layer.dilation_h, \
            layer.pad_top, layer.ofmap_hw[0]
    else:
        size, taps, stride, dil, pad, out = layer.ifmap_w, layer.filter_w, layer.stride_w, layer.dilation_w, \
            layer.pad_left, layer.ofmap_hw[1]
    pairs = []
    if layer.kind == "tconv":
        for i in range(size):
            for r in range(taps):
                o = i * stride + r * dil - pad  # scatter: PyTorch's conv_transpose2d, the adjoint of conv2d
                if 0 <= o < out:
                    pairs.append((i, o, r))
    else:
        for o in range(out):
            for r in range(taps):
                i = o * stride + r * dil - pad
                if 0 <= i < size:
                    pairs.append((i, o, r))
    return pairs


def reference(layer: Layer, x: np.ndarray, w: np.ndarray, dy: np.ndarray):
    """(y, dx, dw) by the chain rule, NHWC activations and (O, R, S, C/g) filters."""
    g = layer.groups
    cg, og = layer.in_channels // g, layer.out_channels // g
    e, f = layer.ofmap_hw
    y = np.zeros((layer.batch, e, f, layer.out_channels))
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for hi, ho, r in _pairs(layer, 0):
        for wi, wo, s in _pairs(layer, 1):
            for gi in range(g):
                cs, os_ = slice(gi * cg, (gi + 1) * cg), slice(gi * og, (gi + 1) * og)
                y[:, ho, wo, os_] += x[:, hi, wi, cs] @ w[os_, r, s, :].T
                dx[:, hi, wi, cs] += dy[:, ho, wo, os_] @ w[os_, r, s, :]
                dw[os_, r, s, :] += dy[:, ho, wo, os_].T @ x[:, hi, wi, cs]
    return y, dx, dw


def _transpose(layer: Layer, w: np.ndarray) -> np.ndarray:
    """W'[c, r, s, o'] = W[o, r, s, c'] per group: the filter the backward-data operation reads."""
    g = layer.groups
    cg, og = layer.in_channels // g, layer.out_channels // g
    out = np.zeros((layer.in_channels, layer.filter_h, layer.filter_w, og))
    for gi in range(g):
        block = w[gi * og:(gi + 1) * og]  # (O/g, R, S, C/g)
        out[gi * cg:(gi + 1) * cg] = block.transpose(3, 1, 2, 0)
    return out


def simulated_gradients(layer: Layer, x: np.ndarray, w: np.ndarray, dy: np.ndarray):
    """dx and dw computed by running the two backward Layers through the model's lowered GEMM."""
    data, weight = backward_layers(layer)
    g = layer.groups
    b = layer.batch
    dy_in = dy[:, :data.ifmap_h, :data.ifmap_w, :]
    dx = float_ofmap(data, dy_in, _transpose(layer, w))
    if layer.kind == "tconv":
        og, cg = layer.out_channels // g, layer.in_channels // g
        rows, cols = weight.ifmap_h, weight.ifmap_w
        ifmap = np.zeros((og, rows, cols, b * g))
        for gi in range(g):
            for bi in range(b):
                ifmap[:, :, :, gi * b + bi] = dy[bi, :rows, :cols, gi * og:(gi + 1) * og].transpose(2, 0, 1)
        filters = x.transpose(3, 1, 2, 0)  # (C, H, W, B)
        out = float_ofmap(weight, ifmap, filters)  # (O/g, R, S, C)
        dw = np.zeros_like(w)
        for gi in range(g):
            dw[gi * og:(gi + 1) * og] = out[:, :, :, gi * cg:(gi + 1) * cg]
        return dx, dw
    if layer.kind == "gemm":
        m, kg = layer.ifmap_h, layer.in_channels // g
        ifmap = np.zeros((1, kg, 1, m * b * g))
        for gi in range(g):
            # column (b, m) of group gi holds X[b, m, gi*K/g + j] at row j
            ifmap[0, :, 0, gi * m * b:(gi + 1) * m * b] = x[:, :, 0, gi * kg:(gi + 1) * kg].reshape(b * m, kg).T
        filters = dy[:, :, 0, :].reshape(b * m, -1).T[:, None, None, :]  # (N, 1, 1, B*M)
        out = float_ofmap(weight, ifmap, filters)  # (1, K/g, 1, N)
        dw = np.zeros_like(w)
        ng = layer.out_channels // g
        for gi in range(g):
            dw[gi * ng:(gi + 1) * ng, 0, 0, :] = out[0, :, 0, gi * ng:(gi + 1) * ng].T
        return dx, dw
    cg = layer.in_channels // g
    rows, cols = weight.ifmap_h, weight.ifmap_w
    ifmap = np.zeros((cg, rows, cols, b * g))
    for gi in range(g):
        for bi in range(b):
            ifmap[:, :, :, gi * b + bi] = x[bi, :rows, :cols, gi * cg:(gi + 1) * cg].transpose(2, 0, 1)
    filters = dy.transpose(3, 1, 2, 0)  # (O, E, F, B)
    out = float_ofmap(weight, ifmap, filters)  # (C/g, R, S, O)
    return dx, out.transpose(3, 1, 2, 0)


@st.composite
def conv_layers(draw, kind=None):
    kind = kind or draw(st.sampled_from(["conv", "tconv"]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin = groups * draw(st.integers(1, 3))
    cout = groups * draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride_h, stride_w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dil_h, dil_w = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    span_h, span_w = dil_h * (r - 1), dil_w * (s - 1)
    pads = [draw(st.integers(0, span_h)), draw(st.integers(0, span_h)),
            draw(st.integers(0, span_w)), draw(st.integers(0, span_w))]
    h = draw(st.integers(span_h + 1, span_h + 7))
    w = draw(st.integers(span_w + 1, span_w + 7))
    extra = {}
    if kind == "tconv":
        extra = dict(output_padding_h=draw(st.integers(0, max(stride_h, dil_h) - 1)),
                     output_padding_w=draw(st.integers(0, max(stride_w, dil_w) - 1)))
        h, w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    try:
        return Layer(name="l", kind=kind, ifmap_h=h, ifmap_w=w, in_channels=cin, out_channels=cout, filter_h=r,
                     filter_w=s, stride_h=stride_h, stride_w=stride_w, dilation_h=dil_h, dilation_w=dil_w,
                     pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2], pad_right=pads[3], groups=groups,
                     batch=draw(st.integers(1, 3)), **extra)
    except TraceError:  # a tconv whose output would be empty
        assume(False)


@st.composite
def gemm_layers(draw):
    groups = draw(st.sampled_from([1, 1, 2]))
    return Layer.gemm_layer("g", m=draw(st.integers(1, 9)), k=groups * draw(st.integers(1, 6)),
                            n=groups * draw(st.integers(1, 6)), groups=groups, batch=draw(st.integers(1, 3)))


@given(st.one_of(conv_layers(), gemm_layers()))
def test_each_backward_op_does_the_forward_useful_macs(layer):
    data, weight = backward_layers(layer)
    assert data.effective_macs == weight.effective_macs == layer.effective_macs


@given(st.lists(st.one_of(conv_layers("conv"), gemm_layers()), min_size=1, max_size=4))
def test_training_step_is_three_forward_passes_of_macs(layers):
    layers = [replace(layer, name=f"l{i}") for i, layer in enumerate(layers)]
    trace = Trace("t", tuple(layers))
    train = training_trace(trace)
    # Useful products: a strided conv's input gradient, lowered to a transposed conv, also multiplies the zeros
    # inserted between dY's pixels (Layer.macs counts those; the engine times them as it runs them).
    assert sum(op.effective_macs for op in train.layers) == 3 * sum(layer.macs for layer in layers)
    assert len(train.layers) == 3 * len(layers)


@given(st.one_of(conv_layers(), gemm_layers()), st.integers(0, 2**31))
def test_gradients_match_the_chain_rule_reference(layer, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, (layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)).astype(float)
    w = rng.integers(-4, 5, (layer.out_channels, layer.filter_h, layer.filter_w,
                             layer.in_channels // layer.groups)).astype(float)
    e, f = layer.ofmap_hw
    dy = rng.integers(-4, 5, (layer.batch, e, f, layer.out_channels)).astype(float)
    y, dx_ref, dw_ref = reference(layer, x, w, dy)
    np.testing.assert_array_equal(y, float_ofmap(layer, x, w))  # the reference's forward is the model's
    dx, dw = simulated_gradients(layer, x, w, dy)
    assert dx.shape == dx_ref.shape == x.shape
    assert dw.shape == dw_ref.shape == w.shape
    np.testing.assert_array_equal(dx, dx_ref)
    np.testing.assert_array_equal(dw, dw_ref)


def test_linear_layer_gradients_are_the_two_transposed_products():
    rng = np.random.default_rng(3)
    m, k, n = 5, 4, 3
    layer = Layer.gemm_layer("fc", m=m, k=k, n=n)
    x, w, dy = rng.normal(size=(m, k)), rng.normal(size=(n, k)), rng.normal(size=(m, n))  # y = x @ w.T
    dx, dw = simulated_gradients(layer, x.reshape(1, m, 1, k), w.reshape(n, 1, 1, k), dy.reshape(1, m, 1, n))
    np.testing.assert_allclose(dx.reshape(m, k), dy @ w)
    np.testing.assert_allclose(dw.reshape(n, k), dy.T @ x)


def test_ops_are_ordered_forward_then_reversed_backward_with_their_tensors():
    a = Layer(name="a", ifmap_h=8, ifmap_w=8, in_channels=3, out_channels=4, filter_h=3, filter_w=3)
    b = Layer.gemm_layer("b", m=36, k=4, n=10)
    ops = training_ops(Trace("t", (a, b)))
    assert [(op.forward_layer, op.phase) for op in ops] == [
        ("a", "forward"), ("b", "forward"), ("b", "backward_data"), ("b", "weight_gradient"),
        ("a", "backward_data"), ("a", "weight_gradient")]
    weight_gradient = ops[-1]
    assert [t.name for t in weight_gradient.reads] == ["X.a", "dY.a"]
    assert weight_gradient.writes[0].elements == a.filter_elements


def test_block_circulant_layer_is_refused_naming_it():
    layer = Layer.gemm_layer("circ", m=4, k=8, n=8, block_size=4)
    with pytest.raises(TraceError, match="circ.*block-circulant"):
        training_trace(Trace("t", (layer,)))
