"""Sweep specs: NaN / inf refused in ranges and lists, grid size bounded before any value is generated."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.sweep.spec import MAX_GRID_POINTS, load_sweep_spec

ROOT = Path(__file__).resolve().parents[3]


def _spec(tmp_path: Path, parameters: str) -> Path:
    path = tmp_path / "spec.toml"
    path.write_text(f'[sweep]\ntraces = ["{ROOT / "sweeps/tiny_fc.csv"}"]\n'
                    f'hardware = "{ROOT / "hw_configs/scalesim_32x32_ws.toml"}"\n'
                    f"[sweep.parameters]\n{parameters}\n")
    return path


@pytest.mark.parametrize("parameters, message", [
    ('"pe_array.rows" = { start = 1, stop = inf, step = 1 }', "must be a finite number"),
    ('"pe_array.rows" = { start = nan, stop = 8, step = 1 }', "must be a finite number"),
    ('"dram.bandwidth_bytes_per_cycle" = [8.0, nan]', "must be finite"),
    ('"pe_array.rows" = { start = 1, stop = 1e12, step = 1 }', "range has 1,000,000,000,000 values"),
    ('"pe_array.rows" = { start = 1, stop = 8, num = 1000000000000 }', "range has"),
    ('"pe_array.rows" = { start = 1, stop = 1e15, factor = 1.000001 }', "range has"),
    ('"pe_array.rows" = { start = 1, stop = 10000, step = 1 }\n'
     '"pe_array.cols" = { start = 1, stop = 10000, step = 1 }', "grid has 100,000,000 points"),
])
def test_hostile_ranges_are_refused_fast(tmp_path, parameters, message):
    started = time.monotonic()
    with pytest.raises(ConfigError, match=message) as excinfo:
        load_sweep_spec(_spec(tmp_path, parameters))
    assert time.monotonic() - started < 5
    assert excinfo.value.file.endswith("spec.toml") and excinfo.value.field.startswith("sweep.parameters")
    if "grid" in message:
        assert f"{MAX_GRID_POINTS:,}" in excinfo.value.allowed


def test_a_fifo_spec_is_refused(tmp_path):
    import os

    os.mkfifo(tmp_path / "spec.toml")
    with pytest.raises(ConfigError, match="FIFO"):
        load_sweep_spec(tmp_path / "spec.toml")
