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


def test_system_command_searches_runs_and_writes_reports_and_plots(tmp_path):
    done = sim("system", "systems/hetero_pair.toml", "--trace", "traces/scalesim/test.csv", "--batch", "2",
               "--analytical", "--plots", "--out", str(tmp_path), "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "system.json").read_text())
    assert report["search"]["candidates"] and report["step_ns"] > 0
    for acc in report["accelerators"]:
        parts = acc["compute_ns"] + acc["memory_stall_ns"] + acc["communication_ns"] + acc["bubble_ns"] + acc["idle_ns"]
        assert abs(parts - report["step_ns"]) <= 1e-6 * report["step_ns"]
    for name in ("timeline.csv", "links.csv", "accelerators.csv", "timeline.png", "link_traffic.svg",
                 "step_breakdown.png"):
        assert (tmp_path / name).exists(), name


def test_system_with_a_link_to_a_missing_accelerator_exits_2_without_traceback(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[[accelerator]]\nname = "a"\nhw = "scalesim_32x32_ws.toml"\n[links]\ntopology = "list"\n'
                      'bandwidth_gbytes_per_s = 1.0\n[[links.link]]\na = "a"\nb = "ghost"\n')
    done = sim("system", str(config), "--trace", "traces/scalesim/test.csv", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert "ghost" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_check_validates_the_shipped_system_configs():
    done = sim("check", "systems")
    assert done.returncode == 0, done.stderr
    assert "system 'tpu4-ring', 4 accelerators, 4 links" in done.stdout
