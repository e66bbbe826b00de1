"""The shipped digits CNN: it loads, reaches its recorded accuracy, and retraining reproduces it."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
pytest.importorskip("sklearn")
ROOT = Path(__file__).parents[2]
RECORDED_ACCURACY = 350 / 360  # float top-1 on the 360 held-out images, as printed by examples/digits_cnn.py


def example():
    spec = importlib.util.spec_from_file_location("digits_cnn", ROOT / "examples" / "digits_cnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shipped_params():
    model = onnx.load(str(ROOT / "examples" / "digits_cnn.onnx"))
    return {init.name: onnx.numpy_helper.to_array(init) for init in model.graph.initializer}


def test_shipped_files_are_small_and_match_the_split():
    module = example()
    _, _, x_test, y_test = module.load_digits_split()
    data = np.load(ROOT / "examples" / "digits_test.npz")
    np.testing.assert_array_equal(data["image"], x_test)
    np.testing.assert_array_equal(data["labels"], y_test)
    for name in ("digits_cnn.onnx", "digits_test.npz"):
        assert (ROOT / "examples" / name).stat().st_size < 1 << 20


def test_shipped_model_reaches_its_recorded_accuracy():
    data = np.load(ROOT / "examples" / "digits_test.npz")
    assert example().accuracy(shipped_params(), data["image"], data["labels"]) == RECORDED_ACCURACY


def test_retraining_reproduces_the_shipped_model():
    module = example()
    params = module.train()
    shipped = shipped_params()
    for name, value in params.items():
        np.testing.assert_allclose(value, shipped[name], rtol=1e-4, atol=1e-5)
    _, _, x_test, y_test = module.load_digits_split()
    assert module.accuracy(params, x_test, y_test) == RECORDED_ACCURACY
