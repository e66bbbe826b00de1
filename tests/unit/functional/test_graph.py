"""The numpy graph executor: every supported operator agrees with onnxruntime's float run, and an operator it
cannot execute is refused before anything runs, naming the node."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from sim.errors import TraceError  # noqa: E402
from sim.functional.graph import load_graph, run_graph  # noqa: E402
from sim.functional.layer import float_ofmap  # noqa: E402


def _save(tmp_path, nodes, inputs, outputs, weights, name="model"):
    graph = helper.make_graph(nodes, name, inputs, outputs,
                              [numpy_helper.from_array(v.astype(np.float32) if v.dtype.kind == "f" else v, name=k)
                               for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    path = tmp_path / f"{name}.onnx"
    onnx.save(model, str(path))
    return path


def many_ops_model(tmp_path):
    """Conv (grouped, strided, biased) -> BN -> Relu -> pools -> Concat -> Add/Mul -> Flatten -> Gemm -> Softmax,
    with a MatMul branch and a Reshape / Transpose."""
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.normal(size=(4, 1, 3, 3)), "b1": rng.normal(size=4),
        "bn_scale": rng.uniform(0.5, 1.5, 4), "bn_bias": rng.normal(size=4), "bn_mean": rng.normal(size=4),
        "bn_var": rng.uniform(0.5, 1.5, 4),
        "w2": rng.normal(size=(4, 2, 1, 1)),
        "fc": rng.normal(size=(64, 5)), "fc_b": rng.normal(size=5),
        "mm": rng.normal(size=(5, 3)), "shape": np.array([0, 5], dtype=np.int64),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1], group=2),
        helper.make_node("BatchNormalization", ["c1", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"]),
        helper.make_node("Relu", ["bn"], ["r"]),
        helper.make_node("Conv", ["r", "w2"], ["c2"], name="conv2", strides=[2, 2], group=2),
        helper.make_node("MaxPool", ["r"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("AveragePool", ["r"], ["ap"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["mp", "ap"], ["cat"], axis=1),
        helper.make_node("Add", ["c2", "mp"], ["sum"]),
        helper.make_node("Mul", ["sum", "sum"], ["sq"]),
        helper.make_node("GlobalAveragePool", ["cat"], ["gap"]),
        helper.make_node("Flatten", ["sq"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc", "fc_b"], ["logits"], name="fc", alpha=0.5, beta=2.0),
        helper.make_node("Reshape", ["logits", "shape"], ["re"]),
        helper.make_node("MatMul", ["re", "mm"], ["proj"], name="proj"),
        helper.make_node("Sigmoid", ["proj"], ["sig"]),
        helper.make_node("Softmax", ["logits"], ["prob"], axis=1),
        helper.make_node("Transpose", ["gap"], ["gap_t"], perm=[0, 2, 3, 1]),
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 8, 8])]
    outputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("prob", "sig", "gap_t")]
    return _save(tmp_path, nodes, inputs, outputs, weights)


def test_every_operator_agrees_with_onnxruntime(tmp_path):
    path = many_ops_model(tmp_path)
    graph = load_graph(path)
    x = np.random.default_rng(1).normal(size=(3, 2, 8, 8)).astype(np.float32)
    ours = run_graph(graph, {"x": x}, lambda i, layer, ifmap, filters: float_ofmap(layer, ifmap, filters))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    theirs = dict(zip(graph.outputs, session.run(None, {"x": x})))
    assert set(ours) == {"prob", "sig", "gap_t"}
    for name in ours:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5)
    assert [layer.name for layer in graph.layers] == ["conv1", "conv2", "fc", "proj"]


def test_unsupported_operator_is_named_with_its_node(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("LRN", ["c"], ["y"], name="norm7", size=3)]
    path = _save(tmp_path, nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], {"w": np.ones((1, 1, 3, 3))})
    with pytest.raises(TraceError, match="'LRN' is not supported") as err:
        load_graph(path)
    assert err.value.field == "node norm7" and str(path) in str(err.value)
