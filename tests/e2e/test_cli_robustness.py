"""The CLI under hostile input: devices and FIFOs refused, run-time refusals name the config, an accumulator
overflow says so, Ctrl-C is one line and exit 130."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.interrupts import interrupt_at

ROOT = Path(__file__).resolve().parents[2]


def sim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_check_refuses_fifo_and_device_without_blocking(tmp_path):
    import os

    os.mkfifo(tmp_path / "pipe.toml")
    os.symlink("/dev/zero", tmp_path / "zero.csv")
    done = sim("check", "pipe.toml", "zero.csv", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "pipe.toml" in done.stderr and "FIFO" in done.stderr and "zero.csv" in done.stderr


def test_a_refusal_while_mapping_names_the_config(tmp_path):
    hw = tmp_path / "narrow.toml"
    hw.write_text('name = "narrow"\n[reram]\nweight_bits = 8\n')
    trace = tmp_path / "t.csv"
    trace.write_text("name,type,m,n,k,filter_bits\nfc,gemm,1,8,8,16\n")
    done = sim("run", "--hw", str(hw), "--trace", str(trace), "--analytical", "-q", "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: {hw}") and "filter_bits" in done.stderr


def test_accumulator_overflow_is_reported_as_overflow(tmp_path):
    hw = tmp_path / "acc16.toml"
    hw.write_text((ROOT / "hw_configs/scalesim_32x32_ws.toml").read_text().replace(
        "accumulator_bits = 32", "accumulator_bits = 16").replace('"energy/', f'"{ROOT}/hw_configs/energy/'))
    trace = tmp_path / "t.csv"
    trace.write_text("name,type,m,n,k\nwide,gemm,4,8,512\n")
    done = sim("run", "--hw", str(hw), "--trace", str(trace), "--functional", "-q", "--out", "out",
               "--include-root", str(ROOT), cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "16-bit accumulator overflows in wide" in done.stderr and str(hw) in done.stderr


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    # Past the imports (about 0.6 s of CPU), inside the simulation, however loaded the machine is.
    done = interrupt_at(
        [sys.executable, "-m", "sim", "run", "--hw", str(ROOT / "hw_configs/scalesim_32x32_ws.toml"),
         "--trace", str(ROOT / "traces/vgg16.csv"), "--functional", "-q", "--out", str(tmp_path / "out")],
        2.5, tmp_path)
    assert done.returncode == 130, done.stderr
    assert done.stderr.strip() == "interrupted" and "Traceback" not in done.stderr


def test_ctrl_c_during_the_first_imports_is_one_line_and_exit_130(tmp_path):
    # From after sim.__main__ has installed its handler (0.02-0.07 s of CPU: the interpreter's start-up and the
    # package import come first), through importing typer, pydantic and numpy, into the command.
    for cpu_s in (0.06, 0.1, 0.15, 0.2, 0.3, 0.45, 0.7):
        done = interrupt_at(
            [sys.executable, "-m", "sim", "run", "--hw", str(ROOT / "hw_configs/scalesim_32x32_ws.toml"),
             "--trace", str(ROOT / "traces/vgg16.csv"), "--functional", "-q", "--out", str(tmp_path / "out")],
            cpu_s, tmp_path)
        assert done.returncode == 130, (cpu_s, done.stderr)
        assert done.stderr.strip() == "interrupted" and "Traceback" not in done.stderr, (cpu_s, done.stderr)
