"""Training traces: every layer of a trace expanded into its forward, backward-data and weight-gradient operations.

Each operation is an ordinary Layer, so every model (analytical, engine, functional, crossbar) runs it unchanged.
For a forward layer Y = X * W (stride s, dilation d, padding p, groups g, batch B):

- conv, backward-data: dX = a transposed conv (the adjoint of the conv, as Layer's tconv is) of dY with the filter
  transposed in channels (W'[c, r, s, o] = W[o, r, s, c] per group), stride s, dilation d, cropping p; output
  padding restores X's size.
- conv, weight-gradient: dW = the correlation of X with dY: a conv whose "batch" is the C/g input channels, whose
  channels are the B images of each group, whose filters are dY (E x F, one per output channel), with stride d and
  dilation s; it outputs R x S per filter (rows of X no window reads are left out).
- tconv: the adjoints swap: backward-data is a conv of dY with the channel-transposed filter (stride s, dilation
  d, padding p); weight-gradient correlates dY with X (stride d, dilation s): batch O/g, filters X, R x S out.
- gemm (M x K) @ (K x N), batch B: dX = dY W^T (M x N by N x K), dW = X^T dY (K x M*B by M*B x N).

Every operation performs exactly the forward layer's useful MACs (`Layer.effective_macs`), so a step costs 3x the
forward MACs. Operand precisions stay the forward layer's (gradients are kept at the operand precision, as
mixed-precision training keeps them in bf16). The first layer's input gradient is included: a network whose
input needs no gradient can drop that one operation.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from sim.errors import TraceError
from sim.workload.layer import Layer
from sim.workload.trace import Trace

Phase = Literal["forward", "backward_data", "weight_gradient"]
PHASES: tuple[str, ...] = ("forward", "backward_data", "weight_gradient")


@dataclass(frozen=True)
class TensorRef:
    """A tensor an operation reads or writes: its name in the training graph and its size."""

    name: str
    elements: int
    bits: int

    @property
    def bytes(self) -> int:
        return -(-self.elements * self.bits // 8)


@dataclass(frozen=True)
class TrainingOp:
    """One operation of a training step: the Layer it runs as, its phase, and the tensors it reads and writes."""

    layer: Layer
    phase: Phase
    forward_layer: str
    reads: tuple[TensorRef, ...]
    writes: tuple[TensorRef, ...]


def _trim_to(size: int, pad_a: int, pad_b: int, eff: int, stride: int, target: int) -> tuple[int, int]:
    """(size, pad_b) such that a conv over them yields exactly `target` outputs: rows no window reads are dropped,
    padding first, then input rows (they are never read, so their traffic is not counted)."""
    excess = size + pad_a + pad_b - eff - (target - 1) * stride
    from_pad = min(pad_b, excess)
    return size - (excess - from_pad), pad_b - from_pad


def _refuse(layer: Layer, why: str, value: object, allowed: str) -> None:
    raise TraceError(f"layer '{layer.name}' has no training expansion: {why}", field=f"{layer.name}.kind",
                     value=value, allowed=allowed)


def _gemm_ops(layer: Layer) -> tuple[Layer, Layer]:
    m, k, n, g, b = layer.ifmap_h, layer.in_channels, layer.out_channels, layer.groups, layer.batch
    bits = dict(ifmap_bits=layer.ifmap_bits, filter_bits=layer.filter_bits, ofmap_bits=layer.ofmap_bits)
    backward_data = Layer.gemm_layer(f"{layer.name}.backward_data", m=m, n=k, k=n, groups=g, batch=b, **bits)
    # Per group: (K/g x M*B) @ (M*B x N/g); each group reads its own K/g rows of X^T, so they are the m rows and the
    # M*B products the channels of each group.
    weight_gradient = Layer.gemm_layer(f"{layer.name}.weight_gradient", m=k // g, n=n, k=m * b * g, groups=g, **bits)
    return backward_data, weight_gradient


def _conv_ops(layer: Layer) -> tuple[Layer, Layer]:
    e, f = layer.ofmap_hw
    r, s = layer.filter_h, layer.filter_w
    g, b = layer.groups, layer.batch
    span_h, span_w = layer.dilation_h * (r - 1), layer.dilation_w * (s - 1)
    if max(layer.pad_top, layer.pad_bottom) > span_h or max(layer.pad_left, layer.pad_right) > span_w:
        _refuse(layer, "padding wider than the dilated filter's span (its input gradient would crop more than the "
                "transposed conv can)", (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right),
                f"padding <= {span_h} rows and <= {span_w} columns")
    pad_h = layer.ifmap_h + layer.pad_top + layer.pad_bottom - span_h - 1 - (e - 1) * layer.stride_h
    pad_w = layer.ifmap_w + layer.pad_left + layer.pad_right - span_w - 1 - (f - 1) * layer.stride_w
    common = dict(ifmap_bits=layer.ifmap_bits, filter_bits=layer.filter_bits, ofmap_bits=layer.ofmap_bits)
    backward_data = Layer(
        name=f"{layer.name}.backward_data", kind="tconv", ifmap_h=e, ifmap_w=f, in_channels=layer.out_channels,
        out_channels=layer.in_channels, filter_h=r, filter_w=s, stride_h=layer.stride_h, stride_w=layer.stride_w,
        pad_top=layer.pad_top, pad_bottom=layer.pad_bottom, pad_left=layer.pad_left, pad_right=layer.pad_right,
        dilation_h=layer.dilation_h, dilation_w=layer.dilation_w, groups=g, batch=b,
        output_padding_h=pad_h, output_padding_w=pad_w, **common)
    ifmap_h, pad_bottom = _trim_to(layer.ifmap_h, layer.pad_top, layer.pad_bottom,
                                   layer.stride_h * (e - 1) + 1, layer.dilation_h, r)
    ifmap_w, pad_right = _trim_to(layer.ifmap_w, layer.pad_left, layer.pad_right,
                                  layer.stride_w * (f - 1) + 1, layer.dilation_w, s)
    weight_gradient = Layer(
        name=f"{layer.name}.weight_gradient", kind="conv", ifmap_h=ifmap_h, ifmap_w=ifmap_w, in_channels=b * g,
        out_channels=layer.out_channels, filter_h=e, filter_w=f, stride_h=layer.dilation_h,
        stride_w=layer.dilation_w, pad_top=layer.pad_top, pad_bottom=pad_bottom, pad_left=layer.pad_left,
        pad_right=pad_right, dilation_h=layer.stride_h, dilation_w=layer.stride_w, groups=g,
        batch=layer.in_channels // g, **common)
    return backward_data, weight_gradient


def _tconv_ops(layer: Layer) -> tuple[Layer, Layer]:
    out_h, out_w = layer.ofmap_hw
    r, s = layer.filter_h, layer.filter_w
    g, b = layer.groups, layer.batch
    common = dict(ifmap_bits=layer.ifmap_bits, filter_bits=layer.filter_bits, ofmap_bits=layer.ofmap_bits)
    span_h, span_w = layer.dilation_h * (r - 1) + 1, layer.dilation_w * (s - 1) + 1
    ifmap_h, pad_bottom = _trim_to(out_h, layer.pad_top, layer.pad_bottom, span_h, layer.stride_h, layer.ifmap_h)
    ifmap_w, pad_right = _trim_to(out_w, layer.pad_left, layer.pad_right, span_w, layer.stride_w, layer.ifmap_w)
    backward_data = Layer(
        name=f"{layer.name}.backward_data", kind="conv", ifmap_h=ifmap_h, ifmap_w=ifmap_w,
        in_channels=layer.out_channels, out_channels=layer.in_channels, filter_h=r, filter_w=s,
        stride_h=layer.stride_h, stride_w=layer.stride_w, pad_top=layer.pad_top, pad_bottom=pad_bottom,
        pad_left=layer.pad_left, pad_right=pad_right, dilation_h=layer.dilation_h, dilation_w=layer.dilation_w,
        groups=g, batch=b, **common)
    dy_h, dy_pad_bottom = _trim_to(out_h, layer.pad_top, layer.pad_bottom,
                                   layer.stride_h * (layer.ifmap_h - 1) + 1, layer.dilation_h, r)
    dy_w, dy_pad_right = _trim_to(out_w, layer.pad_left, layer.pad_right,
                                  layer.stride_w * (layer.ifmap_w - 1) + 1, layer.dilation_w, s)
    weight_gradient = Layer(
        name=f"{layer.name}.weight_gradient", kind="conv", ifmap_h=dy_h, ifmap_w=dy_w, in_channels=b * g,
        out_channels=layer.in_channels, filter_h=layer.ifmap_h, filter_w=layer.ifmap_w,
        stride_h=layer.dilation_h, stride_w=layer.dilation_w, pad_top=layer.pad_top, pad_bottom=dy_pad_bottom,
        pad_left=layer.pad_left, pad_right=dy_pad_right, dilation_h=layer.stride_h, dilation_w=layer.stride_w,
        groups=g, batch=layer.out_channels // g, **common)
    return backward_data, weight_gradient


def backward_layers(layer: Layer) -> tuple[Layer, Layer]:
    """(backward-data, weight-gradient) of one forward layer, as Layers (the module docstring has the shapes)."""
    if layer.block_size > 1:
        _refuse(layer, "block-circulant weights are trained through their defining vectors, which this expansion "
                "does not model", layer.block_size, "block_size = 1")
    if layer.kind == "gemm":
        return _gemm_ops(layer)
    if layer.kind == "tconv":
        return _tconv_ops(layer)
    return _conv_ops(layer)


def _tensor(name: str, elements: int, bits: int) -> TensorRef:
    return TensorRef(name, elements, bits)


def training_ops(trace: Trace) -> tuple[TrainingOp, ...]:
    """The operations of one training step, in execution order: every forward op in trace order, then per layer in
    reverse order its backward-data and weight-gradient ops. Tensor names: X.<layer> (input activation, saved by the
    forward pass for the weight gradient), W.<layer>, Y.<layer>, dY.<layer>, dX.<layer>, dW.<layer>."""
    forward, backward = [], []
    for layer in trace.layers:
        name = layer.name
        x = _tensor(f"X.{name}", layer.ifmap_elements, layer.ifmap_bits)
        w = _tensor(f"W.{name}", layer.filter_elements, layer.filter_bits)
        y = _tensor(f"Y.{name}", layer.ofmap_elements, layer.ifmap_bits)
        dy = _tensor(f"dY.{name}", layer.ofmap_elements, layer.ifmap_bits)
        dx = _tensor(f"dX.{name}", layer.ifmap_elements, layer.ifmap_bits)
        dw = _tensor(f"dW.{name}", layer.filter_elements, layer.filter_bits)
        data, weight = backward_layers(layer)
        forward.append(TrainingOp(replace(layer, name=f"{name}.forward"), "forward", name, (x, w), (y,)))
        backward.append((TrainingOp(data, "backward_data", name, (dy, w), (dx,)),
                         TrainingOp(weight, "weight_gradient", name, (x, dy), (dw,))))
    ordered = list(forward)
    for pair in reversed(backward):
        ordered.extend(pair)
    return tuple(ordered)


def training_trace(trace: Trace) -> Trace:
    """The trace of one training step (see training_ops); a directive mapping given per layer applies to all three of
    that layer's operations."""
    ops = training_ops(trace)
    dataflows: tuple = ()
    if trace.dataflows:
        by_layer = {layer.name: trace.dataflow_of(i) for i, layer in enumerate(trace.layers)}
        dataflows = tuple(by_layer[op.forward_layer] for op in ops)
    return Trace(name=f"{trace.name}.training", layers=tuple(op.layer for op in ops),
                 source_file=trace.source_file, dataflows=dataflows)


def saved_activation_bytes(trace: Trace) -> int:
    """Bytes the forward pass keeps for the weight gradients (every layer's input), the step's activation footprint."""
    return sum(layer.ifmap_bytes for layer in trace.layers)
