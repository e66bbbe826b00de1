"""An ONNX graph executed in numpy, its Conv / Gemm / MatMul handed to a caller-supplied `Compute`.

`load_graph` reads the model (weights included) and refuses, before anything runs, an operator it cannot
execute, naming the node. `run_graph` evaluates the nodes in file order (ONNX requires a topological order):
each Conv / Gemm / MatMul becomes its `Layer` record (from `sim.workload.onnx_loader`, resized to the actual
batch) and the compute callback gets the float ifmap and filters in the Layer layouts (B x H x W x C,
O x R x S x C/g) and returns the ofmap (B x E x F x O); biases, alpha / beta and every other operator stay
in float64 numpy here. The float run, the hardware run and the integer reference differ only in `Compute`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from sim.errors import SimError, TraceError
from sim.workload.layer import Layer

# (index of the compute node, its Layer, ifmap, filters) -> ofmap
Compute = Callable[[int, Layer, np.ndarray, np.ndarray], np.ndarray]

HARDWARE_OPS = ("Conv", "Gemm", "MatMul")


@dataclass(frozen=True)
class Node:
    op: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: dict[str, Any]


@dataclass(frozen=True)
class Graph:
    name: str
    source_file: str
    nodes: tuple[Node, ...]
    initializers: dict[str, np.ndarray]
    inputs: dict[str, tuple[Any, ...]]  # graph input -> shape (int, or None / str for a dynamic dim)
    outputs: tuple[str, ...]
    layers: tuple[Layer, ...]  # one per compute node, in order (batch as the loader read it)

    @property
    def compute_nodes(self) -> tuple[Node, ...]:
        return tuple(node for node in self.nodes if node.op in HARDWARE_OPS)


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        return [_attr(v) for v in value]
    return value


def load_graph(path: str | Path) -> Graph:
    """The model's nodes, weights, inputs and outputs; an operator outside `SUPPORTED_OPS` is a TraceError naming
    it and its node."""
    from sim.workload.onnx_loader import load_onnx_trace

    path = Path(path)
    # validates the file (and that onnx is installed) and gives the compute layers, resized by run_graph
    trace = load_onnx_trace(path, batch=1)
    import onnx
    from onnx import numpy_helper

    from sim.inputs import MAX_ONNX_BYTES, read_bytes

    # From bytes read bounded: onnx.load would also follow external-data references to any file.
    model = onnx.load_model_from_string(read_bytes(path, TraceError, limit=MAX_ONNX_BYTES, what="ONNX model"))
    initializers = {}
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise TraceError("ONNX weights in external data are not read", file=path, field=f"initializer {init.name}",
                             allowed="weights stored inside the .onnx file")
        try:
            initializers[init.name] = numpy_helper.to_array(init)
        except Exception as error:  # noqa: BLE001 (hostile protobuf: onnx raises ValueError, TypeError, ...)
            raise TraceError(f"malformed ONNX weights ({type(error).__name__})", file=path,
                             field=f"initializer {init.name[:120]}", allowed="a tensor whose data matches its dims") \
                from None
    nodes = []
    for index, proto in enumerate(model.graph.node):
        name = proto.name or f"{proto.op_type}_{index}"
        if proto.domain not in ("", "ai.onnx") or proto.op_type not in SUPPORTED_OPS:
            raise TraceError(f"ONNX operator '{proto.op_type}' is not supported by sim infer", file=path,
                             field=f"node {name}", value=proto.op_type, allowed=", ".join(sorted(SUPPORTED_OPS)))
        attrs = {a.name: _attr(onnx.helper.get_attribute_value(a)) for a in proto.attribute}
        if proto.op_type == "Constant":
            attrs = {"value": numpy_helper.to_array(attrs["value"])} if "value" in attrs else attrs
        nodes.append(Node(proto.op_type, name, tuple(proto.input), tuple(proto.output), attrs))
    weights = set(initializers)
    inputs = {}
    for value in model.graph.input:
        if value.name in weights:
            continue
        dims = value.type.tensor_type.shape.dim
        inputs[value.name] = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims)
    graph = Graph(name=path.stem, source_file=str(path), nodes=tuple(nodes), initializers=initializers,
                  inputs=inputs, outputs=tuple(o.name for o in model.graph.output), layers=trace.layers)
    if len(graph.compute_nodes) != len(graph.layers):
        raise TraceError("compute nodes and layers disagree (quantized ONNX operators are not executed)",
                         file=path, value=len(graph.layers), allowed=f"{len(graph.compute_nodes)}")
    return graph


# ---------------------------------------------------------------- the compute nodes
def _conv(node: Node, layer: Layer, x: np.ndarray, w: np.ndarray, bias: np.ndarray | None,
          compute: Compute, index: int) -> np.ndarray:
    if x.ndim != 4:
        raise TraceError("sim infer executes 2-D convolutions only", field=f"node {node.name}", value=x.shape,
                         allowed="N x C x H x W")
    layer = replace(layer, batch=x.shape[0])
    ofmap = compute(index, layer, x.transpose(0, 2, 3, 1), w.transpose(0, 2, 3, 1))
    out = ofmap.transpose(0, 3, 1, 2)
    return out + bias.reshape(1, -1, 1, 1) if bias is not None else out


def _matrix_product(node: Node, layer: Layer, a: np.ndarray, b: np.ndarray, compute: Compute,
                    index: int) -> np.ndarray:
    """(M x K) @ (K x N) as the gemm layer: ifmap (1, M, 1, K), filters (N, 1, 1, K)."""
    m, k = a.shape
    layer = replace(layer, ifmap_h=m)
    ofmap = compute(index, layer, a.reshape(1, m, 1, k), b.T.reshape(b.shape[1], 1, 1, k))
    return ofmap.reshape(m, b.shape[1])


def _gemm(node: Node, layer: Layer, args: list[np.ndarray | None], compute: Compute, index: int) -> np.ndarray:
    a = args[0].T if node.attrs.get("transA", 0) else args[0]
    b = args[1].T if node.attrs.get("transB", 0) else args[1]
    out = node.attrs.get("alpha", 1.0) * _matrix_product(node, layer, a, b, compute, index)
    if len(args) > 2 and args[2] is not None:
        out = out + node.attrs.get("beta", 1.0) * args[2]
    return out


def _matmul(node: Node, layer: Layer, a: np.ndarray, b: np.ndarray, compute: Compute, index: int) -> np.ndarray:
    if b.ndim != 2 or a.ndim < 2:
        raise TraceError("sim infer executes MatMul with a 2-D second operand only", field=f"node {node.name}",
                         value=(a.shape, b.shape), allowed="A (..., M, K) @ B (K, N)")
    out = _matrix_product(node, layer, a.reshape(-1, a.shape[-1]), b, compute, index)
    return out.reshape(*a.shape[:-1], b.shape[1])


# ---------------------------------------------------------------- every other operator, in numpy
def _pool_windows(node: Node, x: np.ndarray, pad_value: float) -> np.ndarray:
    """(N, C, E, F, kH, kW) windows of a 2-D pooling node, padded with pad_value."""
    kernel = node.attrs["kernel_shape"]
    strides = node.attrs.get("strides", [1, 1])
    pads = node.attrs.get("pads", [0, 0, 0, 0])
    if node.attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID") or node.attrs.get("ceil_mode", 0) \
            or any(d != 1 for d in node.attrs.get("dilations", [1, 1])) or len(kernel) != 2:
        raise TraceError(f"{node.op}: only 2-D pooling with explicit pads, no ceil_mode or dilation",
                         field=f"node {node.name}", value=node.attrs)
    padded = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=pad_value)
    windows = np.lib.stride_tricks.sliding_window_view(padded, kernel, axis=(2, 3))
    return windows[:, :, ::strides[0], ::strides[1]]


def _max_pool(node: Node, x: np.ndarray) -> np.ndarray:
    return _pool_windows(node, x, -np.inf).max(axis=(4, 5))


def _average_pool(node: Node, x: np.ndarray) -> np.ndarray:
    windows = _pool_windows(node, x, 0.0)
    if node.attrs.get("count_include_pad", 0) or not any(node.attrs.get("pads", [0])):
        return windows.mean(axis=(4, 5))
    counts = _pool_windows(node, np.ones_like(x[:1, :1]), 0.0).sum(axis=(4, 5))
    return windows.sum(axis=(4, 5)) / counts


def _batch_norm(node: Node, x: np.ndarray, scale: np.ndarray, bias: np.ndarray, mean: np.ndarray,
                var: np.ndarray) -> np.ndarray:
    shape = (1, -1) + (1,) * (x.ndim - 2)
    factor = scale / np.sqrt(var + node.attrs.get("epsilon", 1e-5))
    return x * factor.reshape(shape) + (bias - mean * factor).reshape(shape)


def _softmax(node: Node, x: np.ndarray) -> np.ndarray:
    axis = node.attrs.get("axis", -1)
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def _reshape(node: Node, x: np.ndarray, shape: np.ndarray) -> np.ndarray:
    target = [int(d) for d in shape]
    if not node.attrs.get("allowzero", 0):
        target = [x.shape[i] if d == 0 else d for i, d in enumerate(target)]
    return x.reshape(target)


def _flatten(node: Node, x: np.ndarray) -> np.ndarray:
    axis = node.attrs.get("axis", 1)
    axis = axis if axis >= 0 else x.ndim + axis
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _axes(node: Node, args: list[Any]) -> list[int] | None:
    if len(args) > 1 and args[1] is not None:
        return [int(a) for a in args[1]]
    return node.attrs.get("axes")


def _clip(node: Node, args: list[Any]) -> np.ndarray:
    low = args[1] if len(args) > 1 and args[1] is not None else node.attrs.get("min", -np.inf)
    high = args[2] if len(args) > 2 and args[2] is not None else node.attrs.get("max", np.inf)
    return np.clip(args[0], low, high)


# op -> f(node, args) for the operators without MACs (Conv / Gemm / MatMul go to the Compute callback)
OPS: dict[str, Callable[[Node, list[Any]], Any]] = {
    "Relu": lambda n, a: np.maximum(a[0], 0.0),
    "LeakyRelu": lambda n, a: np.where(a[0] > 0, a[0], n.attrs.get("alpha", 0.01) * a[0]),
    "Sigmoid": lambda n, a: np.exp(-np.logaddexp(0.0, -a[0])),  # no overflow for large |x|
    "Tanh": lambda n, a: np.tanh(a[0]),
    "Clip": _clip,
    "MaxPool": lambda n, a: _max_pool(n, a[0]),
    "AveragePool": lambda n, a: _average_pool(n, a[0]),
    "GlobalAveragePool": lambda n, a: a[0].mean(axis=tuple(range(2, a[0].ndim)), keepdims=True),
    "GlobalMaxPool": lambda n, a: a[0].max(axis=tuple(range(2, a[0].ndim)), keepdims=True),
    "Add": lambda n, a: a[0] + a[1],
    "Sub": lambda n, a: a[0] - a[1],
    "Mul": lambda n, a: a[0] * a[1],
    "Div": lambda n, a: a[0] / a[1],
    "Concat": lambda n, a: np.concatenate(a, axis=n.attrs["axis"]),
    "BatchNormalization": lambda n, a: _batch_norm(n, *a[:5]),
    "Softmax": lambda n, a: _softmax(n, a[0]),
    "Reshape": lambda n, a: _reshape(n, a[0], a[1]),
    "Flatten": lambda n, a: _flatten(n, a[0]),
    "Transpose": lambda n, a: np.transpose(a[0], n.attrs.get("perm")),
    "Squeeze": lambda n, a: np.squeeze(a[0], axis=tuple(_axes(n, a))) if _axes(n, a) else np.squeeze(a[0]),
    "Unsqueeze": lambda n, a: np.expand_dims(a[0], axis=tuple(_axes(n, a))),
    "Identity": lambda n, a: a[0],
    "Dropout": lambda n, a: a[0],
    "Constant": lambda n, a: n.attrs["value"],
    "Shape": lambda n, a: np.array(a[0].shape, dtype=np.int64),
    "Gather": lambda n, a: np.take(a[0], a[1], axis=n.attrs.get("axis", 0)),
    "ReduceMean": lambda n, a: a[0].mean(axis=tuple(_axes(n, a) or range(a[0].ndim)),
                                         keepdims=bool(n.attrs.get("keepdims", 1))),
}


SUPPORTED_OPS = frozenset(OPS) | frozenset(HARDWARE_OPS)


def run_graph(graph: Graph, feeds: dict[str, np.ndarray], compute: Compute,
              keep: Callable[[int, Layer, np.ndarray, np.ndarray], None] | None = None) -> dict[str, np.ndarray]:
    """The graph outputs for `feeds` (float64); `keep(index, layer, ifmap, ofmap)` sees every compute node's
    layer (at the actual batch), ifmap and ofmap."""
    values: dict[str, Any] = {name: value for name, value in graph.initializers.items()}
    values.update({name: np.asarray(value, dtype=np.float64) for name, value in feeds.items()})
    values[""] = None
    index = 0
    for node in graph.nodes:
        missing = [name for name in node.inputs if name not in values]
        if missing:
            raise TraceError("ONNX node input is produced by no earlier node", file=graph.source_file,
                             field=f"node {node.name}", value=missing)
        args = [values[name] for name in node.inputs]
        try:
            if node.op in HARDWARE_OPS:
                layer = graph.layers[index]
                floats = [None if a is None else np.asarray(a, dtype=np.float64) for a in args]
                seen: dict[str, np.ndarray] = {}

                def recorded(i: int, lay: Layer, ifmap: np.ndarray, filters: np.ndarray) -> np.ndarray:
                    seen["layer"], seen["ifmap"], seen["ofmap"] = lay, ifmap, compute(i, lay, ifmap, filters)
                    return seen["ofmap"]

                if node.op == "Conv":
                    result = _conv(node, layer, floats[0], floats[1], floats[2] if len(floats) > 2 else None,
                                   recorded, index)
                elif node.op == "Gemm":
                    result = _gemm(node, layer, floats, recorded, index)
                else:
                    result = _matmul(node, layer, floats[0], floats[1], recorded, index)
                if keep is not None:
                    keep(index, seen["layer"], seen["ifmap"], seen["ofmap"])
                index += 1
            else:
                result = OPS[node.op](node, args)
        except SimError as err:
            raise err.with_context(file=graph.source_file) from None
        except (ValueError, KeyError, IndexError, TypeError) as err:
            raise TraceError(f"{node.op} failed: {err}", file=graph.source_file, field=f"node {node.name}") from err
        results = result if isinstance(result, tuple) else (result,)
        for name, value in zip(node.outputs, results):
            values[name] = value
    return {name: np.asarray(values[name], dtype=np.float64) for name in graph.outputs}
