"""ONNX import: the compute layers of an ONNX model (Conv, ConvTranspose, Gemm, MatMul and their quantized forms).

The `onnx` package is an optional dependency (`pip install 'sim[onnx]'`). Shapes come from ONNX shape inference;
a dim that stays unknown is a TraceError unless it is the first (batch) dim of a graph input and `batch` is given.
Ops without MACs (activations, pooling, normalization, reshapes ...) are skipped; `onnx_summary` counts them.
Conventions (MatMul batching, padding, precisions): docs/onnx.md.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any, NoReturn

from sim.errors import SimError, TraceError
from sim.inputs import MAX_ONNX_BYTES, read_bytes
from sim.workload.layer import MAX_DIMENSION, Layer
from sim.workload.trace import Trace

# op type -> (index of the ifmap input, index of the filter / second-operand input)
CONV_OPS: dict[str, tuple[int, int]] = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3)}
TCONV_OPS: dict[str, tuple[int, int]] = {"ConvTranspose": (0, 1)}
MATMUL_OPS: dict[str, tuple[int, int]] = {"MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}
GEMM_OPS: dict[str, tuple[int, int]] = {"Gemm": (0, 1)}
MAPPED_OPS: frozenset[str] = frozenset(CONV_OPS) | frozenset(TCONV_OPS) | frozenset(MATMUL_OPS) | frozenset(GEMM_OPS)
# Quantized ops take their operand precisions from the tensor types; float models default to int8 operands.
QUANTIZED_OPS: frozenset[str] = frozenset({"ConvInteger", "QLinearConv", "MatMulInteger", "QLinearMatMul"})
_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")
_INSTALL_HINT = "pip install 'sim[onnx]' (or: pip install onnx)"
_STATIC_HINT = "pass --batch N for a dynamic first dim, or export the model with static shapes"

Shape = tuple[Any, ...]  # ints for static dims, str (dim_param) or None for unknown ones


def _import_onnx() -> Any:
    try:
        import onnx  # optional dependency, imported only when an ONNX trace is read
    except ImportError as err:
        raise TraceError("reading ONNX models needs the onnx package", value="onnx not installed",
                         allowed=_INSTALL_HINT) from err
    return onnx


def _read_model(path: Path) -> Any:
    """The parsed ModelProto (local functions inlined), or a TraceError for a missing or non-ONNX file."""
    onnx = _import_onnx()
    data = read_bytes(path, TraceError, limit=MAX_ONNX_BYTES, what="ONNX model")
    try:
        # weights are not needed, only their shapes: external data stays on disk
        model = onnx.load_model_from_string(data)
    except Exception as err:  # protobuf raises several unrelated types on garbage input
        raise TraceError(f"not a readable ONNX model: {type(err).__name__}: {str(err)[:200]}", file=path,
                         allowed="an ONNX ModelProto file (.onnx)") from err
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise TraceError("ONNX model has no graph nodes", file=path, allowed="an ONNX model with a graph")
    _check_names(model.graph, path)
    if len(model.functions):
        try:
            model = onnx.inliner.inline_local_functions(model)
        except Exception as err:  # a corrupted function body must not surface as a traceback
            raise TraceError(f"cannot inline the model's local functions: {err}", file=path) from err
    return model


def _check_names(graph: Any, path: Path) -> None:
    """A corrupted file can parse with invalid UTF-8 in string fields, which protobuf then hands back as bytes."""
    names: list[Any] = [graph.name]
    for node in graph.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output]
    for values in (graph.input, graph.output, graph.value_info, graph.initializer):
        names += [v.name for v in values]
    bad = next((n for n in names if not isinstance(n, str)), None)
    if bad is not None:
        raise TraceError("ONNX model is corrupted: a name is not valid UTF-8", file=path, value=bad)


def _dims(type_proto: Any) -> Shape | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    dims: list[Any] = []
    for dim in type_proto.tensor_type.shape.dim:
        if dim.HasField("dim_value") and dim.dim_value > 0:
            dims.append(int(dim.dim_value))
        else:
            dims.append(dim.dim_param or None)
    return tuple(dims)


def _fix_batch(model: Any, batch: int | None, path: Path) -> Any:
    """A copy of the model whose graph inputs have `batch` as their first dim where it was unknown."""
    if batch is None:
        return model
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_DIMENSION:
        raise TraceError("batch must be an integer >= 1", file=path, field="batch", value=batch,
                         allowed=f">= 1 and <= {MAX_DIMENSION}")
    fixed = type(model)()
    fixed.CopyFrom(model)
    weights = {init.name for init in fixed.graph.initializer}
    for value in fixed.graph.input:
        if value.name in weights or not value.type.HasField("tensor_type"):
            continue
        shape = value.type.tensor_type.shape
        if len(shape.dim) and not (shape.dim[0].HasField("dim_value") and shape.dim[0].dim_value > 0):
            shape.dim[0].Clear()
            shape.dim[0].dim_value = batch
    return fixed


def _infer(model: Any, path: Path) -> tuple[dict[str, Shape | None], dict[str, int]]:
    """Shapes and element types of every tensor that shape inference could resolve."""
    onnx = _import_onnx()
    try:
        inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    except Exception as err:  # InferenceError, or protobuf errors on a corrupted graph
        raise TraceError(f"ONNX shape inference failed: {err}", file=path) from err
    shapes: dict[str, Shape | None] = {}
    types: dict[str, int] = {}
    graph = inferred.graph
    for init in graph.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
        types[init.name] = int(init.data_type)
    for value in list(graph.input) + list(graph.value_info) + list(graph.output):
        if value.name in shapes and shapes[value.name] is not None and value.name in types:
            continue
        shapes[value.name] = _dims(value.type)
        if value.type.HasField("tensor_type"):
            types[value.name] = int(value.type.tensor_type.elem_type)
    return shapes, types


def _topological(graph: Any, path: Path) -> list[tuple[int, Any]]:
    """(index, node) in an order where every node follows its producers (ONNX's own order when it already is)."""
    available = {v.name for v in graph.input} | {i.name for i in graph.initializer} | {""}
    pending = list(enumerate(graph.node))
    order: list[tuple[int, Any]] = []
    while pending:
        remaining = []
        for index, node in pending:
            if all(name in available for name in node.input):
                order.append((index, node))
                available.update(node.output)
            else:
                remaining.append((index, node))
        if len(remaining) == len(pending):
            index, node = remaining[0]
            missing = [n for n in node.input if n not in available]
            raise TraceError("ONNX graph has a cycle or an input nobody produces", file=path,
                             field=node.name or f"{node.op_type}_{index}", value=missing)
        pending = remaining
    return order


def _node_names(graph: Any) -> list[str]:
    """Layer names: the node name, else op_type_index; a repeat gets the first free _2, _3 ... suffix."""
    names: list[str] = []
    used: set[str] = set()
    for index, node in enumerate(graph.node):
        base = node.name.strip() or f"{node.op_type}_{index}"
        name, suffix = base, 2
        while name in used:
            name, suffix = f"{base}_{suffix}", suffix + 1
        used.add(name)
        names.append(name)
    return names


class _NodeReader:
    """Reads one node's attributes and operand shapes, raising TraceErrors located at the file and the node."""

    def __init__(self, node: Any, name: str, path: Path, shapes: dict[str, Shape | None],
                 types: dict[str, int]) -> None:
        onnx = _import_onnx()
        self.node = node
        self.name = name
        self.path = path
        self.shapes = shapes
        self.types = types
        try:
            self.attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        except Exception as err:  # an attribute of unknown type in a corrupted file
            raise TraceError(f"{node.op_type}: unreadable attribute: {err}", file=path,
                             field=f"{name}.attribute") from err

    def fail(self, message: str, *, field: str | None = None, value: Any = None,
             allowed: str | None = None) -> NoReturn:
        where = f"{self.name}.{field}" if field else self.name
        raise TraceError(f"{self.node.op_type}: {message}", file=self.path, field=where, value=value, allowed=allowed)

    def shape(self, index: int) -> tuple[int, ...]:
        if index >= len(self.node.input) or not self.node.input[index]:
            self.fail(f"missing input {index}", value=list(self.node.input))
        tensor = self.node.input[index]
        dims = self.shapes.get(tensor)
        if dims is None:
            self.fail(f"shape of tensor '{tensor}' is unknown after shape inference", field="input",
                      value=tensor, allowed=_STATIC_HINT)
        for axis, dim in enumerate(dims):
            if not isinstance(dim, int):
                self.fail(f"tensor '{tensor}' dim {axis} is not static", field="input", value=dim,
                          allowed=_STATIC_HINT)
        return tuple(dims)

    def output_shape(self) -> tuple[int, ...] | None:
        dims = self.shapes.get(self.node.output[0]) if self.node.output else None
        if dims is None or not all(isinstance(d, int) for d in dims):
            return None
        return tuple(dims)

    def ints(self, key: str, default: list[int], length: int) -> list[int]:
        value = self.attrs.get(key, default)
        if not isinstance(value, (list, tuple)) or len(value) != length or \
                not all(isinstance(v, int) for v in value):
            self.fail(f"attribute '{key}' must be {length} integers", field=key, value=value,
                      allowed=f"{length} integers")
        return [int(v) for v in value]

    def int_attr(self, key: str, default: int) -> int:
        value = self.attrs.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"attribute '{key}' must be an integer", field=key, value=value, allowed="an integer")
        return int(value)

    def bits(self, index: int) -> int:
        """Operand precision: from the tensor type for quantized ops, int8 for float models."""
        if self.node.op_type not in QUANTIZED_OPS:
            return 8
        onnx = _import_onnx()
        elem = self.types.get(self.node.input[index])
        width = {onnx.TensorProto.INT8: 8, onnx.TensorProto.UINT8: 8, onnx.TensorProto.INT16: 16,
                 onnx.TensorProto.UINT16: 16, onnx.TensorProto.INT32: 32, onnx.TensorProto.UINT32: 32}
        for name in ("INT4", "UINT4"):
            if hasattr(onnx.TensorProto, name):
                width[getattr(onnx.TensorProto, name)] = 4
        if elem not in width:
            self.fail(f"operand '{self.node.input[index]}' has no integer type", field="input",
                      value=_type_name(onnx, elem),
                      allowed="int4, uint4, int8, uint8, int16, uint16, int32, uint32")
        return width[elem]


def _type_name(onnx: Any, elem: int | None) -> str:
    try:
        return onnx.TensorProto.DataType.Name(elem)
    except (ValueError, TypeError):  # unknown or missing enum value (a corrupted file)
        return f"type code {elem}"


def _spatial(reader: _NodeReader, x: tuple[int, ...], w: tuple[int, ...]) -> tuple[list[int], list[int]]:
    """Spatial ifmap and filter sizes as 2-D (a 1-D conv becomes L x 1)."""
    if len(x) != len(w) or len(x) not in (3, 4):
        reader.fail("only 1-D and 2-D convolutions are supported", field="input", value=(x, w),
                    allowed="ifmap N x C x H x W (or N x C x L) and a filter of the same rank")
    in_hw = list(x[2:]) + [1] * (4 - len(x))
    filter_hw = list(w[2:]) + [1] * (4 - len(w))
    return in_hw, filter_hw


def _conv_attrs(reader: _NodeReader, rank: int, filter_hw: list[int]) -> tuple[list[int], list[int], list[int], str]:
    """strides, dilations, pads (begin..., end...) padded out to 2-D, and auto_pad."""
    kernel = reader.ints("kernel_shape", filter_hw[:rank], rank)
    if kernel != filter_hw[:rank]:
        reader.fail("kernel_shape disagrees with the filter tensor", field="kernel_shape", value=list(kernel),
                    allowed=str(filter_hw[:rank]))
    strides = reader.ints("strides", [1] * rank, rank) + [1] * (2 - rank)
    dilations = reader.ints("dilations", [1] * rank, rank) + [1] * (2 - rank)
    pads = reader.ints("pads", [0] * 2 * rank, 2 * rank)
    pads = pads[:rank] + [0] * (2 - rank) + pads[rank:] + [0] * (2 - rank)
    auto_pad = reader.attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode("utf-8", "replace") if isinstance(auto_pad, bytes) else repr(auto_pad)
    if auto_pad not in _AUTO_PADS:
        reader.fail("unknown auto_pad", field="auto_pad", value=auto_pad, allowed=", ".join(_AUTO_PADS))
    if any(s < 1 for s in strides) or any(d < 1 for d in dilations) or any(p < 0 for p in pads):
        reader.fail("strides and dilations must be >= 1, pads >= 0", field="strides",
                    value={"strides": strides, "dilations": dilations, "pads": pads})
    return strides, dilations, pads, auto_pad


def _same_pads(in_size: int, stride: int, eff_filter: int, lower: bool) -> tuple[int, int]:
    """SAME_* padding: output ceil(in / stride); the odd extra pixel goes to the end (UPPER) or begin (LOWER)."""
    total = max(0, (math.ceil(in_size / stride) - 1) * stride + eff_filter - in_size)
    small, large = total // 2, total - total // 2
    return (large, small) if lower else (small, large)


def _conv_layer(reader: _NodeReader, x_index: int, w_index: int) -> Layer:
    x, w = reader.shape(x_index), reader.shape(w_index)
    in_hw, filter_hw = _spatial(reader, x, w)
    rank = len(x) - 2
    strides, dilations, pads, auto_pad = _conv_attrs(reader, rank, filter_hw)
    groups = reader.int_attr("group", 1)
    if groups < 1 or x[1] % groups or w[0] % groups or w[1] * groups != x[1]:
        reader.fail("filter channels x group must equal the ifmap channels", field="group", value=groups,
                    allowed=f"ifmap {x[1]} channels, filter {w[1]} per group, {w[0]} filters")
    if auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad.startswith("SAME"):
        pads = [0, 0, 0, 0]
        for axis in range(rank):
            eff = dilations[axis] * (filter_hw[axis] - 1) + 1
            pads[axis], pads[axis + 2] = _same_pads(in_hw[axis], strides[axis], eff, auto_pad == "SAME_LOWER")
    return Layer(name=reader.name, kind="conv", ifmap_h=in_hw[0], ifmap_w=in_hw[1], in_channels=x[1],
                 out_channels=w[0], filter_h=filter_hw[0], filter_w=filter_hw[1], stride_h=strides[0],
                 stride_w=strides[1], pad_top=pads[0], pad_left=pads[1], pad_bottom=pads[2], pad_right=pads[3],
                 dilation_h=dilations[0], dilation_w=dilations[1], groups=groups, batch=x[0],
                 ifmap_bits=reader.bits(x_index), filter_bits=reader.bits(w_index))


def _tconv_layer(reader: _NodeReader, x_index: int, w_index: int) -> Layer:
    x, w = reader.shape(x_index), reader.shape(w_index)
    in_hw, filter_hw = _spatial(reader, x, w)
    rank = len(x) - 2
    strides, dilations, pads, auto_pad = _conv_attrs(reader, rank, filter_hw)
    groups = reader.int_attr("group", 1)
    if groups < 1 or w[0] != x[1] or x[1] % groups:
        reader.fail("filter must be C x (M / group) x kH x kW with C the ifmap channels", field="group",
                    value=groups, allowed=f"ifmap {x[1]} channels, filter first dim {w[0]}")
    out_pad = reader.ints("output_padding", [0] * rank, rank) + [0] * (2 - rank)
    output_shape = reader.attrs.get("output_shape")
    if output_shape is not None or auto_pad.startswith("SAME"):
        # ONNX derives the pads from the requested output size (auto_pad SAME_*: in * stride)
        target = [in_hw[a] * strides[a] for a in range(rank)]
        if output_shape is not None:
            spatial_only = isinstance(output_shape, (list, tuple)) and len(output_shape) == rank
            target = reader.ints("output_shape", [], rank if spatial_only else rank + 2)[-rank:]
        pads = [0, 0, 0, 0]
        for axis in range(rank):
            eff = dilations[axis] * (filter_hw[axis] - 1) + 1
            total = strides[axis] * (in_hw[axis] - 1) + out_pad[axis] + eff - target[axis]
            if total < 0:
                reader.fail("output_shape larger than the transposed conv produces", field="output_shape",
                            value=target, allowed="sizes that need padding >= 0")
            small, large = total // 2, total - total // 2
            pads[axis], pads[axis + 2] = (small, large) if auto_pad == "SAME_UPPER" else (large, small)
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    return Layer(name=reader.name, kind="tconv", ifmap_h=in_hw[0], ifmap_w=in_hw[1], in_channels=x[1],
                 out_channels=w[1] * groups, filter_h=filter_hw[0], filter_w=filter_hw[1], stride_h=strides[0],
                 stride_w=strides[1], pad_top=pads[0], pad_left=pads[1], pad_bottom=pads[2], pad_right=pads[3],
                 dilation_h=dilations[0], dilation_w=dilations[1], output_padding_h=out_pad[0],
                 output_padding_w=out_pad[1], groups=groups, batch=x[0])


def _gemm_layer(reader: _NodeReader, a_index: int, b_index: int) -> Layer:
    a, b = reader.shape(a_index), reader.shape(b_index)
    if len(a) != 2 or len(b) != 2:
        reader.fail("Gemm operands must be 2-D", field="input", value=(a, b), allowed="M x K and K x N")
    m, k = (a[1], a[0]) if reader.int_attr("transA", 0) else a
    k_b, n = (b[1], b[0]) if reader.int_attr("transB", 0) else b
    if k != k_b:
        reader.fail("inner dimensions differ", field="input", value=(a, b), allowed="A's K == B's K")
    return Layer.gemm_layer(reader.name, m=m, n=n, k=k)


def _matmul_layer(reader: _NodeReader, a_index: int, b_index: int) -> Layer:
    """numpy matmul semantics: a shared 2-D B folds A's leading dims into M; a batched B makes groups."""
    a, b = reader.shape(a_index), reader.shape(b_index)
    if not a or not b:
        reader.fail("MatMul operands must have at least one dim", field="input", value=(a, b))
    a2 = (1,) + a if len(a) == 1 else a  # a 1-D operand is a row (A) or a column (B) vector
    b2 = b + (1,) if len(b) == 1 else b
    m, k = a2[-2], a2[-1]
    k_b, n = b2[-2], b2[-1]
    if k != k_b:
        reader.fail("inner dimensions differ", field="input", value=(a, b), allowed="A's last dim == B's second last")
    a_batch, b_batch = a2[:-2], b2[:-2]
    if math.prod(b_batch) == 1:
        # B is one matrix shared by every row of A: A's leading dims are just more M rows
        return Layer.gemm_layer(reader.name, m=math.prod(a_batch) * m, n=n, k=k,
                                ifmap_bits=reader.bits(a_index), filter_bits=reader.bits(b_index))
    width = max(len(a_batch), len(b_batch))
    a_pad, b_pad = (1,) * (width - len(a_batch)) + a_batch, (1,) * (width - len(b_batch)) + b_batch
    batch_dims = []
    for dim_a, dim_b in zip(a_pad, b_pad):
        if dim_a != dim_b and 1 not in (dim_a, dim_b):
            reader.fail("batch dims do not broadcast", field="input", value=(a, b))
        batch_dims.append(max(dim_a, dim_b))
    groups = math.prod(batch_dims)  # one independent (m x k) @ (k x n) product per batch index (e.g. per head)
    return Layer.gemm_layer(reader.name, m=m, n=n * groups, k=k * groups, groups=groups,
                            ifmap_bits=reader.bits(a_index), filter_bits=reader.bits(b_index))


def _check_output(reader: _NodeReader, layer: Layer) -> None:
    """The inferred output shape must match the Layer's ofmap (guards every convention used above)."""
    out = reader.output_shape()
    if out is None or layer.kind == "gemm":
        return
    expected = (layer.batch, layer.out_channels) + layer.ofmap_hw[: len(out) - 2]  # a 1-D conv has ofmap L x 1
    if tuple(out) != expected:
        reader.fail("output shape from ONNX shape inference differs from the layer's ofmap", field="output",
                    value=tuple(out), allowed=str(expected))


def _to_layer(reader: _NodeReader) -> Layer:
    op = reader.node.op_type
    try:
        if op in CONV_OPS:
            layer = _conv_layer(reader, *CONV_OPS[op])
        elif op in TCONV_OPS:
            layer = _tconv_layer(reader, *TCONV_OPS[op])
        elif op in GEMM_OPS:
            layer = _gemm_layer(reader, *GEMM_OPS[op])
        else:
            layer = _matmul_layer(reader, *MATMUL_OPS[op])
    except SimError as err:
        raise err.with_context(file=reader.path) from None
    _check_output(reader, layer)
    return layer


def load_onnx_trace(path: str | Path, *, batch: int | None = None) -> Trace:
    """The compute layers of an ONNX model, in topological order, as a Trace named after the file.

    `batch` fills an unknown first dim of the graph inputs (a static first dim is kept).
    """
    path = Path(path)
    model = _fix_batch(_read_model(path), batch, path)
    shapes, types = _infer(model, path)
    names = _node_names(model.graph)
    layers = []
    for index, node in _topological(model.graph, path):
        if node.op_type in MAPPED_OPS and node.domain in ("", "ai.onnx"):
            layers.append(_to_layer(_NodeReader(node, names[index], path, shapes, types)))
    if not layers:
        raise TraceError("ONNX model has no compute layers", file=path,
                         allowed="a model with " + ", ".join(sorted(MAPPED_OPS)))
    return Trace(name=path.stem, layers=tuple(layers), source_file=str(path))


def onnx_summary(path: str | Path) -> dict[str, Any]:
    """Op counts of an ONNX model: {'model', 'nodes', 'mapped': {op: n}, 'skipped': {op: n}} (needs no shapes)."""
    path = Path(path)
    model = _read_model(path)
    mapped: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for node in model.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        (mapped if key in MAPPED_OPS else skipped)[key] += 1
    return {"model": path.stem, "nodes": len(model.graph.node), "mapped": dict(sorted(mapped.items())),
            "skipped": dict(sorted(skipped.items()))}
