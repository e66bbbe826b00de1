"""The hardware spec's own validation: physical constraints beyond field types."""
import math

import pytest
from pydantic import ValidationError

from sim.hardware.spec import DramSpec, DramTimingSpec, Hardware, PeArraySpec, SramSpec


def _errors(excinfo):
    return [(e["type"], e.get("ctx", {}).get("field")) for e in excinfo.value.errors()]


def test_sram_size_must_be_whole_words():
    with pytest.raises(ValidationError) as excinfo:
        SramSpec(size_kb=1.5 / 1024, word_bytes=1, double_buffered=False)  # 1.5 bytes
    assert _errors(excinfo) == [("sim_constraint", "size_kb")]
    with pytest.raises(ValidationError, match="multiple of word_bytes"):
        SramSpec(size_kb=6 / 1024, word_bytes=4, double_buffered=False)


def test_sram_banks_and_double_buffer_halves_hold_whole_words():
    SramSpec(size_kb=8 / 1024, word_bytes=2, banks=2, double_buffered=True)  # 2 banks x 2 halves x 2 bytes
    with pytest.raises(ValidationError, match="x 2 halves"):
        SramSpec(size_kb=6 / 1024, word_bytes=2, banks=1, double_buffered=True)  # 3 words cannot be halved
    with pytest.raises(ValidationError, match="banks"):
        SramSpec(size_kb=6 / 1024, word_bytes=1, banks=4, double_buffered=False)


def test_sram_sizes():
    sram = SramSpec(size_kb=64, word_bytes=2)
    assert sram.size_bytes == 65536 and sram.size_words == 32768


def test_bank_row_needs_timing_or_preset():
    with pytest.raises(ValidationError) as excinfo:
        DramSpec(model="bank_row", bandwidth_bytes_per_cycle=8)
    assert _errors(excinfo) == [("sim_constraint", "timing")]
    DramSpec(model="bank_row", bandwidth_bytes_per_cycle=8, preset="DDR4-2400")


def test_dram_row_holds_whole_bursts():
    timing = DramTimingSpec(row_bytes=1000, t_rcd_cycles=1, t_rp_cycles=1, t_cas_cycles=1)
    with pytest.raises(ValidationError, match="whole bursts"):
        DramSpec(model="bank_row", bandwidth_bytes_per_cycle=8, burst_bytes=64, timing=timing)


def test_clock_and_bandwidth_must_be_positive():
    with pytest.raises(ValidationError):
        PeArraySpec(rows=1, cols=1, clock_mhz=0)
    with pytest.raises(ValidationError):
        DramSpec(bandwidth_bytes_per_cycle=0)
    with pytest.raises(ValidationError):
        DramSpec(bandwidth_bytes_per_cycle=math.nan)


def test_operand_bandwidth_is_capped_by_the_shared_channel():
    dram = DramSpec(bandwidth_bytes_per_cycle=16, ifmap_bandwidth_bytes_per_cycle=10,
                    ofmap_bandwidth_bytes_per_cycle=40)
    assert dram.operand_bandwidth("ifmap") == 10
    assert dram.operand_bandwidth("filter") == 16
    assert dram.operand_bandwidth("ofmap") == 16
    assert DramSpec(bandwidth_bytes_per_cycle=math.inf).operand_bandwidth("ifmap") == math.inf


def _systolic(**extra):
    sram = {"size_kb": 1}
    return dict(name="x", pe_array={"rows": 2, "cols": 2}, buffers={"ifmap": sram, "filter": sram, "ofmap": sram},
                dram={"bandwidth_bytes_per_cycle": 1}, **extra)


def test_energy_keys_are_component_actions():
    Hardware(**_systolic(energy={"ifmap_sram.read": {"pj": 1, "source": "s"}, "mac": {"pj": 1, "source": "s"}}))
    with pytest.raises(ValidationError) as excinfo:
        Hardware(**_systolic(energy={"Ifmap SRAM": {"pj": 1, "source": "s"}}))
    assert _errors(excinfo) == [("sim_constraint", "energy.Ifmap SRAM")]


def test_hardware_needs_a_kind_and_a_systolic_array_needs_memory():
    with pytest.raises(ValidationError) as excinfo:
        Hardware(name="x")
    assert _errors(excinfo) == [("sim_constraint", "pe_array")]
    with pytest.raises(ValidationError) as excinfo:
        Hardware(name="x", pe_array={"rows": 1, "cols": 1}, buffers=_systolic()["buffers"])
    assert _errors(excinfo) == [("sim_constraint", "dram")]
    with pytest.raises(ValidationError):
        Hardware(**{**_systolic(), "name": ""})
