"""`sim run --power-grid` writes the power trace next to the report, `sim plot` draws it, bad grids exit 2."""
import csv
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_power_grid_writes_csv_that_sums_to_the_dynamic_energy_and_plots(tmp_path):
    out = tmp_path / "run"
    done = sim("run", "--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", "traces/scalesim/test.csv",
               "--out", str(out), "--power-grid", "2x4", "--power-window", "256", "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    with open(out / "power_trace.csv") as stream:
        rows = list(csv.DictReader(stream))
    with open(out / "power_regions.csv") as stream:
        header = next(csv.reader(stream))
    assert header == ["window"] + [f"r{i}c{j}_mw" for i in range(2) for j in range(4)]
    window_ns = 256 * 1000.0 / report["metadata"]["clock_mhz"]
    energy = sum(float(row["chip_mw"]) for row in rows) * window_ns
    leakage = sum(layer["energy_pj"].get("leakage", 0.0) for layer in report["layers"])
    dynamic = report["totals"]["energy_pj"]["total"] - leakage
    assert abs(energy - dynamic) <= 1e-9 * dynamic
    assert report["metadata"]["power.peak_mw"] == max(float(row["chip_mw"]) for row in rows)
    plotted = sim("plot", str(out))
    assert plotted.returncode == 0, plotted.stderr
    assert (out / "power_trace.png").is_file() and (out / "power_heatmap.svg").is_file()


def test_bad_power_grid_exits_2_without_output(tmp_path):
    out = tmp_path / "bad"
    done = sim("run", "--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", "traces/scalesim/test.csv",
               "--out", str(out), "--power-grid", "64x1", "--quiet")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "power" in done.stderr and not (out / "report.json").exists()
    done = sim("run", "--hw", "hw_configs/isaac.toml", "--trace", "traces/alexnet.csv", "--out", str(out),
               "--power-grid", "2x2", "--quiet")
    assert done.returncode == 2 and "--power-grid" in done.stderr
