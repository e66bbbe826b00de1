"""Physical bounds on hardware fields and confined includes: nonsense is a ConfigError naming file, field and range."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.load import load_hardware
from sim.hardware.toml_loader import hardware_from_toml_text

BASE = """\
name = "t"

[pe_array]
rows = 4
cols = 4
dataflow = "ws"

[buffers.ifmap]
size_kb = 1
[buffers.filter]
size_kb = 1
[buffers.ofmap]
size_kb = 1

[dram]
bandwidth_bytes_per_cycle = 8
"""
RERAM = 'name = "r"\n[reram]\n'
TABLE = '[energy.mac]\npj = 1.0\nsource = "test"\n'


@pytest.mark.parametrize("old, new, field, allowed", [
    ("bandwidth_bytes_per_cycle = 8", "bandwidth_bytes_per_cycle = 1e-300", "dram.bandwidth_bytes_per_cycle",
     "0.001 .. 1e+12, or inf (unlimited)"),
    ("bandwidth_bytes_per_cycle = 8", "bandwidth_bytes_per_cycle = nan", "dram.bandwidth_bytes_per_cycle", None),
    ("bandwidth_bytes_per_cycle = 8", "bandwidth_bytes_per_cycle = 8\nlatency_cycles = 4611686018427387904",
     "dram.latency_cycles", ">= 0 and <= 1000000"),
    ('dataflow = "ws"', 'dataflow = "ws"\nclock_mhz = inf', "pe_array.clock_mhz", "a finite number"),
    ("size_kb = 1\n[buffers.filter]", "size_kb = inf\n[buffers.filter]", "buffers.ifmap.size_kb", "a finite number"),
    ("rows = 4", "rows = 1000000", "pe_array.rows", ">= 1 and <= 65536"),
])
def test_nonsense_numbers_are_refused_with_the_range(old, new, field, allowed):
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace(old, new), "hw.toml")
    err = excinfo.value
    assert err.file == "hw.toml" and err.field == field and err.line is not None
    if allowed:
        assert err.allowed == allowed


def test_unlimited_bandwidth_is_still_inf():
    hw = hardware_from_toml_text(BASE.replace("= 8", "= inf"), "hw.toml")
    assert hw.dram.bandwidth_bytes_per_cycle == float("inf")


@pytest.mark.parametrize("key, value, allowed", [
    ("dac_bits", "32", ">= 1 and <= 8"), ("cell_bits", "16", ">= 1 and <= 8"),
    ("input_bits", "64", ">= 1 and <= 32"), ("crossbar_rows", "1048576", ">= 1 and <= 65536"),
])
def test_crossbar_bits_are_bounded(key, value, allowed):
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(f"{RERAM}{key} = {value}\n", "hw.toml")
    assert excinfo.value.field == f"reram.{key}" and excinfo.value.allowed == allowed


def test_adc_bits_are_bounded():
    with pytest.raises(ConfigError, match="reram.adc.bits"):
        hardware_from_toml_text(f"{RERAM}[reram.adc]\nbits = 40\n", "hw.toml")


def test_an_infinite_energy_is_refused():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE + '[energy.mac]\npj = inf\nsource = "x"\n', "hw.toml")
    assert excinfo.value.field == "energy.mac.pj"


def _config(tmp_path: Path, include: str) -> Path:
    (tmp_path / "cfg").mkdir(exist_ok=True)
    path = tmp_path / "cfg" / "hw.toml"
    path.write_text(f'energy_tables = ["{include}"]\n' + BASE)  # `include` is TOML basic-string text
    return path


@pytest.mark.parametrize("include, message", [
    ("/etc/hostname", "absolute include paths are not allowed"),
    ("../outside.toml", "leaves the config's folder tree"),
    ("sub/../../outside.toml", "leaves the config's folder tree"),
    ("link.toml", "leaves the config's folder tree"),
    ("fifo.toml", "FIFO"),
    ("sub", "directory"),
    ("a\\u0000b.toml", "control character"),
])
def test_includes_are_confined_and_regular(tmp_path, include, message):
    (tmp_path / "outside.toml").write_text(TABLE)
    config = _config(tmp_path, include)
    (config.parent / "sub").mkdir()
    os.symlink("/dev/zero", config.parent / "link.toml")
    os.mkfifo(config.parent / "fifo.toml")
    with pytest.raises(ConfigError) as excinfo:
        load_hardware(config)
    assert message in str(excinfo.value) and excinfo.value.file == str(config)
    assert excinfo.value.field == "energy_tables"


def test_include_root_widens_the_tree(tmp_path):
    (tmp_path / "outside.toml").write_text(TABLE)
    config = _config(tmp_path, "../outside.toml")
    assert load_hardware(config, include_root=tmp_path).energy["mac"].pj == 1.0


def test_errors_do_not_echo_an_included_file(tmp_path):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "secret.toml").write_text('password = "hunter2-' + "x" * 500 + '"\n')
    config = _config(tmp_path, "secret.toml")
    with pytest.raises(ConfigError) as excinfo:
        load_hardware(config)
    assert "hunter2" not in str(excinfo.value) and "password" in str(excinfo.value)


def test_long_values_are_truncated_in_errors():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace('dataflow = "ws"', f'dataflow = "{"w" * 10_000}"'), "hw.toml")
    assert len(str(excinfo.value)) < 400 and "10,002 characters" in str(excinfo.value)
