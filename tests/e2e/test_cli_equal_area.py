"""`sim equal-area`: the ReBoc equal-area report from the command line, and its bad-budget error."""
import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_equal_area_writes_one_row_per_variant(tmp_path):
    done = sim("equal-area", "--hw", "hw_configs/reboc.toml", "--trace", "traces/block_circulant_fc.csv",
               "--budget", "1", "--analytical", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "equal_area.csv").open()))
    assert [r["variant"] for r in rows][:3] == ["expanded", "compressed", "equal_area"]
    assert int(rows[2]["chips"]) == 1 and float(rows[2]["speedup"]) > float(rows[1]["speedup"])


def test_a_bad_budget_exits_2_without_output(tmp_path):
    done = sim("equal-area", "--hw", "hw_configs/reboc.toml", "--trace", "traces/block_circulant_fc.csv",
               "--budget", "lots", "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "--budget" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x").exists()
