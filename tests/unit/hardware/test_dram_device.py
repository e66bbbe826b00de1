"""The command-level DRAM device ([dram] model = "ddr"): presets, inline overrides, and impossible devices."""
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.presets import ddr_preset_names, resolve_ddr_preset
from sim.hardware.spec import DdrDeviceSpec, DramSpec
from sim.hardware.toml_loader import load_hardware_toml

BASE = """\
name = "t"

[pe_array]
rows = 4
cols = 4

[buffers.ifmap]
size_kb = 1
[buffers.filter]
size_kb = 1
[buffers.ofmap]
size_kb = 1

[dram]
model = "ddr"
bandwidth_bytes_per_cycle = 19.2
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "hw.toml"
    path.write_text(text)
    return load_hardware_toml(path)


def device(**update) -> DdrDeviceSpec:
    values = resolve_ddr_preset("DDR4-2400").model_dump()
    values.update(update)
    return DdrDeviceSpec(**values)


def test_every_preset_is_a_valid_device_with_energies_and_a_source():
    assert set(ddr_preset_names()) == {"DDR4-2400", "DDR4-3200", "LPDDR4-3200", "HBM2"}
    for name in ddr_preset_names():
        d = resolve_ddr_preset(name)
        assert d.source and d.act_pj > 0 and d.rd_pj > 0 and d.wr_pj > 0 and d.ref_pj > 0
        assert d.rc_tck >= d.ras_tck + d.rp_tck


def test_a_preset_fills_the_device_and_inline_keys_override_it(tmp_path):
    hw = load(tmp_path, BASE + 'preset = "ddr4-2400"\n[dram.device]\nqueue_depth = 8\n')
    assert hw.dram.device.queue_depth == 8 and hw.dram.device.cl_tck == 16
    assert hw.dram.device.mapping == ("row", "bank", "bankgroup", "rank", "column", "channel")


def test_a_mapping_in_toml_is_a_list_of_fields(tmp_path):
    mapping = '["row", "rank", "bank", "bankgroup", "column", "channel"]'
    text = BASE + f'preset = "DDR4-2400"\n[dram.device]\nmapping = {mapping}\n'
    assert load(tmp_path, text).dram.device.mapping[1] == "rank"


def test_an_unknown_preset_lists_the_choices_with_its_line(tmp_path):
    with pytest.raises(ConfigError, match=r"hw.toml:\d+: dram.preset: unknown DRAM preset.*DDR4-2400, HBM2"):
        load(tmp_path, BASE + 'preset = "DDR9"\n')


def test_ddr_without_a_preset_or_device_is_an_error():
    with pytest.raises(ValueError, match="model 'ddr' needs a 'preset'"):
        DramSpec(model="ddr", bandwidth_bytes_per_cycle=1)


@pytest.mark.parametrize("update, field, message", [
    ({"rc_tck": 50}, "rc_tck", "tRC must cover tRAS \\+ tRP"),
    ({"rrd_l_tck": 30}, "rrd_l_tck", "tRRD longer than tFAW"),
    ({"ccd_s_tck": 8}, "ccd_s_tck", "other-bank-group timing exceeds"),
    ({"refi_tck": 400}, "refi_tck", "refresh interval must be longer"),
    ({"mapping": ("row", "bank", "column", "channel")}, "mapping", "each address field exactly once"),
    ({"mapping": ("row", "row", "bank", "bankgroup", "column", "channel")}, "mapping", "exactly once"),
    ({"banks_per_group": 3}, "banks_per_group", "powers of two"),
    ({"row_bytes": 8200}, "row_bytes", "whole transactions"),
    ({"write_low_watermark": 0.9}, "write_low_watermark", "low watermark"),
])
def test_contradicting_timings_and_incomplete_mappings_are_errors(update, field, message):
    with pytest.raises(ValueError, match=message):
        device(**update)


def test_tfaw_below_four_trrd_is_allowed():
    assert device(faw_tck=10, rrd_s_tck=4, rrd_l_tck=6).faw_tck == 10


def test_a_contradicting_device_in_toml_names_file_and_field(tmp_path):
    with pytest.raises(ConfigError, match=r"hw.toml.*dram.device.rc_tck.*tRC must cover"):
        load(tmp_path, BASE + 'preset = "DDR4-2400"\n[dram.device]\nrc_tck = 20\n')
