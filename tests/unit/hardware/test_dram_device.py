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


# Datasheet currents (mA) per supply (V) and the timings (ns) the presets' energies were derived from, as cited in
# sim/hardware/dram_presets.toml; devices per rank last.
DATASHEET = {
    # Micron MT40A1G8 DDR4-2400, TN-40-07; tRC, tRAS, tBL, tRFC.
    "DDR4-2400": ({1.2: dict(idd0=48, idd2n=34, idd3n=43, idd4r=135, idd4w=123, idd5=250)}, 45.8, 32.5, 3.332, 350, 8),
    "DDR4-3200": ({1.2: dict(idd0=48, idd2n=34, idd3n=43, idd4r=135, idd4w=123, idd5=250)}, 46.25, 32.5, 2.5, 350, 8),
    # Micron 6 Gb LPDDR4-3200 (DRAMPower memspec), VDD1 and VDD2, one x16 channel.
    "LPDDR4-3200": ({1.8: dict(idd0=3.5, idd2n=2.0, idd3n=2.25, idd4r=2.25, idd4w=2.25, idd5=10.0),
                     1.1: dict(idd0=45, idd2n=27, idd3n=30, idd4r=275, idd4w=210, idd5=90)}, 60.625, 42.5, 5.0, 280, 1),
}


@pytest.mark.parametrize("preset", sorted(DATASHEET))
def test_command_energies_follow_from_the_datasheet_currents(preset):
    """Micron TN-40-07: ACT+PRE = V (IDD0 tRC - IDD3N tRAS - IDD2N (tRC - tRAS)), RD / WR = V (IDD4R/W - IDD3N) tBL,
    REF = V (IDD5 - IDD3N) tRFC, background = V IDD3N; summed over supplies, times the devices of a rank."""
    supplies, rc, ras, bl, rfc, devices = DATASHEET[preset]

    def energy(term):
        return devices * sum(volts * term(i) for volts, i in supplies.items())

    d = resolve_ddr_preset(preset)
    assert d.act_pj + d.pre_pj == pytest.approx(
        energy(lambda i: i["idd0"] * rc - i["idd3n"] * ras - i["idd2n"] * (rc - ras)), rel=2e-3)
    assert d.rd_pj == pytest.approx(energy(lambda i: (i["idd4r"] - i["idd3n"]) * bl), rel=2e-3)
    assert d.wr_pj == pytest.approx(energy(lambda i: (i["idd4w"] - i["idd3n"]) * bl), rel=2e-3)
    assert d.ref_pj == pytest.approx(energy(lambda i: (i["idd5"] - i["idd3n"]) * rfc), rel=2e-3)
    assert d.background_mw == pytest.approx(energy(lambda i: i["idd3n"]), rel=2e-3)


# source: O'Connor et al., "Fine-Grained DRAM", MICRO 2017: access energy per bit, I/O included (pJ/bit).
PUBLISHED_PJ_PER_BIT = {"LPDDR4-3200": 4.0, "HBM2": 3.9}


@pytest.mark.parametrize("preset", sorted(PUBLISHED_PJ_PER_BIT))
def test_access_energies_are_within_range_of_the_published_per_bit_figures(preset):
    """A burst's RD or WR energy per bit within a factor 2 of the published figure (which adds I/O and a share of
    activation; datasheet IDDs are maxima); an ACT costs 0.01-0.5 pJ per bit of the row it opens."""
    d = resolve_ddr_preset(preset)
    bits = d.transaction_bytes * 8
    published = PUBLISHED_PJ_PER_BIT[preset]
    for access_pj in (d.rd_pj, d.wr_pj):
        assert published / 2 <= access_pj / bits <= published * 2
    assert 0.01 <= (d.act_pj + d.pre_pj) / (d.row_bytes * 8) <= 0.5
