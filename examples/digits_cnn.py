"""A small CNN for scikit-learn's 8x8 digits, trained in numpy and exported to ONNX with onnx.helper.

    python examples/digits_cnn.py [DIR]      # writes digits_cnn.onnx and digits_test.npz (default: examples/)

Conv 3x3 (1 -> 8 channels, pad 1) -> ReLU -> MaxPool 2x2 -> Flatten -> Gemm (128 -> 10). Pixels are scaled to
0..1. Training is minibatch SGD with momentum, in float64 with a fixed seed and split, so the
same numpy gives the same model. The held-out 360 images (stratified, seed 0) and their labels are shipped
beside the model; `sim infer --hw hw_configs/isaac.toml --model examples/digits_cnn.onnx
--data examples/digits_test.npz --labels examples/digits_test.npz` runs it end to end.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CHANNELS = 8
CLASSES = 10
TEST_SAMPLES = 360


def load_digits_split(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train x, train y, test x, test y); x is N x 1 x 8 x 8 float32 in 0..1."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    test, train = order[:TEST_SAMPLES], order[TEST_SAMPLES:]
    return x[train], y[train], x[test], y[test]


def _im2col(x: np.ndarray) -> np.ndarray:
    """(N, 1, 8, 8) -> (N, 64, 9): 3x3 windows of the zero-padded image."""
    padded = np.pad(x[:, 0], ((0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))
    return windows.reshape(x.shape[0], 64, 9)


def _forward(params: dict[str, np.ndarray], x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    cols = _im2col(x)
    conv = cols @ params["conv_w"].reshape(CHANNELS, 9).T + params["conv_b"]  # (N, 64, C)
    relu = np.maximum(conv, 0.0).reshape(-1, 8, 8, CHANNELS)
    pooled = relu.reshape(-1, 4, 2, 4, 2, CHANNELS).max(axis=(2, 4))  # (N, 4, 4, C)
    flat = pooled.transpose(0, 3, 1, 2).reshape(-1, CHANNELS * 16)  # ONNX Flatten of N x C x 4 x 4
    logits = flat @ params["fc_w"].T + params["fc_b"]
    return logits, {"cols": cols, "relu": relu, "pooled": pooled, "flat": flat}


def train(seed: int = 0, epochs: int = 30, batch: int = 32, rate: float = 0.05) -> dict[str, np.ndarray]:
    """Trained float32 parameters: conv_w (8, 1, 3, 3), conv_b (8,), fc_w (10, 128), fc_b (10,)."""
    x, y, _, _ = load_digits_split()
    rng = np.random.default_rng(seed)
    params = {"conv_w": rng.normal(0, np.sqrt(2 / 9), (CHANNELS, 1, 3, 3)), "conv_b": np.zeros(CHANNELS),
              "fc_w": rng.normal(0, np.sqrt(1 / 128), (CLASSES, CHANNELS * 16)), "fc_b": np.zeros(CLASSES)}
    velocity = {k: np.zeros_like(v) for k, v in params.items()}
    x = x.astype(np.float64)
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            logits, cache = _forward(params, x[idx])
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            probs /= probs.sum(axis=1, keepdims=True)
            probs[np.arange(len(idx)), y[idx]] -= 1.0
            d_logits = probs / len(idx)
            grads = {"fc_w": d_logits.T @ cache["flat"], "fc_b": d_logits.sum(axis=0)}
            d_pooled = (d_logits @ params["fc_w"]).reshape(-1, CHANNELS, 4, 4).transpose(0, 2, 3, 1)
            relu = cache["relu"].reshape(-1, 4, 2, 4, 2, CHANNELS)
            # ties inside a window are (almost) only zeros, whose gradient the ReLU mask removes below
            winner = relu == cache["pooled"][:, :, None, :, None, :]
            d_relu = (winner * d_pooled[:, :, None, :, None, :]).reshape(-1, 64, CHANNELS)
            d_conv = d_relu * (cache["relu"].reshape(-1, 64, CHANNELS) > 0)
            grads["conv_w"] = np.einsum("npc,npk->ck", d_conv, cache["cols"]).reshape(CHANNELS, 1, 3, 3)
            grads["conv_b"] = d_conv.sum(axis=(0, 1))
            for k in params:
                velocity[k] = 0.9 * velocity[k] - rate * grads[k]
                params[k] = params[k] + velocity[k]
    return {k: v.astype(np.float32) for k, v in params.items()}


def accuracy(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> float:
    logits, _ = _forward({k: v.astype(np.float64) for k, v in params.items()}, x.astype(np.float64))
    return float(np.mean(np.argmax(logits, axis=1) == y))


def to_onnx(params: dict[str, np.ndarray]):
    """The ONNX model (opset 13, dynamic batch N) of the trained parameters."""
    from onnx import TensorProto, helper, numpy_helper

    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("MaxPool", ["relu"], ["pool"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "digits_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", CLASSES])],
        [numpy_helper.from_array(v, name=k) for k, v in params.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="sim-examples")
    model.ir_version = 8  # readable by onnxruntime releases of the last years
    return model


def main() -> None:
    import sys

    import onnx

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE  # an output folder (default: beside this script)
    params = train()
    _, _, x_test, y_test = load_digits_split()
    onnx.save(to_onnx(params), str(out / "digits_cnn.onnx"))
    np.savez_compressed(out / "digits_test.npz", image=x_test, labels=y_test)
    print(f"test accuracy (float): {accuracy(params, x_test, y_test):.4f}")


if __name__ == "__main__":
    main()
