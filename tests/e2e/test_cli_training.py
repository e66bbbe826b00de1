"""`sim run --training`: one training step through the CLI, on a systolic array and on ReRAM crossbars."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_training_run_reports_three_ops_per_layer_with_3x_useful_macs(tmp_path):
    forward = tmp_path / "f"
    train = tmp_path / "t"
    common = ("--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", "traces/scalesim/test.csv", "--quiet")
    assert sim("run", *common, "--analytical", "--out", str(forward)).returncode == 0
    done = sim("run", *common, "--training", "--functional", "--out", str(train))
    assert done.returncode == 0, done.stderr
    layers = json.loads((forward / "report.json").read_text())["layers"]
    steps = json.loads((train / "report.json").read_text())
    assert len(steps["layers"]) == 3 * len(layers)
    assert steps["metadata"]["training"] is True
    assert all(layer["functional"]["max_abs_error"] == 0 for layer in steps["layers"])
    phases = {layer["name"].rsplit(".", 1)[1] for layer in steps["layers"]}
    assert phases == {"forward", "backward_data", "weight_gradient"}


def test_training_on_reram_adds_the_crossbar_writes(tmp_path):
    done = sim("run", "--hw", "hw_configs/isaac.toml", "--trace", "traces/scalesim/test.csv", "--training",
               "--analytical", "--out", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    names = [layer["name"] for layer in json.loads((tmp_path / "report.json").read_text())["layers"]]
    assert any(name.endswith(".weight_update") for name in names)
    assert any(name.endswith(".gradient_program") for name in names)
