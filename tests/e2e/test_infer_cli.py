"""`sim infer`: outputs.npz under the model's output names beside report.json; bad input exits 2 with one
message and no partial output."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
ROOT = Path(__file__).parents[2]
MODEL = ROOT / "examples" / "digits_cnn.onnx"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "sim", "infer", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def test_infer_writes_outputs_and_report(tmp_path):
    data = np.load(ROOT / "examples" / "digits_test.npz")
    np.save(tmp_path / "x.npy", data["image"][:30])
    np.save(tmp_path / "y.npy", data["labels"][:30])
    out = tmp_path / "out"
    done = run_cli("--hw", ROOT / "hw_configs" / "isaac.toml", "--model", MODEL, "--data", tmp_path / "x.npy",
                   "--labels", tmp_path / "y.npy", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "top-1 accuracy" in done.stdout
    outputs = np.load(out / "outputs.npz")
    assert outputs.files == ["logits"] and outputs["logits"].shape == (30, 10)
    report = json.loads((out / "report.json").read_text())
    summary = report["metadata"]["inference"]
    assert summary["accuracy"] == summary["float_accuracy"] and summary["samples"] == 30
    assert [layer["name"] for layer in report["layers"]] == ["conv", "fc"]


@pytest.mark.parametrize("problem, message", [
    ("data", "dataset does not match the model input"),
    ("op", "'LRN' is not supported"),
])
def test_bad_input_exits_2_without_traceback_or_output(tmp_path, problem, message):
    onnx = pytest.importorskip("onnx")
    model = MODEL
    data = tmp_path / "x.npy"
    np.save(data, np.zeros((2, 1, 8, 8), dtype=np.float32))
    if problem == "data":
        np.save(data, np.zeros((2, 64), dtype=np.float32))
    else:
        proto = onnx.load(str(MODEL))
        proto.graph.node[1].op_type = "LRN"
        proto.graph.node[1].attribute.append(onnx.helper.make_attribute("size", 3))
        model = tmp_path / "lrn.onnx"
        onnx.save(proto, str(model))
    out = tmp_path / "out"
    done = run_cli("--hw", ROOT / "hw_configs" / "isaac.toml", "--model", model, "--data", data, "--out", out)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
