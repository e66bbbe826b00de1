"""SCALE-Sim .cfg -> Hardware: the key mapping and the refusals."""
import math
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.scalesim_cfg import (
    DEFAULT_ENERGY_TABLE,
    hardware_from_cfg_text,
    load_scalesim_cfg,
)
from sim.hardware.toml_loader import load_hardware_toml

ROOT = Path(__file__).resolve().parents[3]
SCALESIM = ROOT / "hw_configs" / "scalesim"

CFG = """\
[general]
run_name = my_run

[architecture_presets]
ArrayHeight:    16
ArrayWidth:     8
IfmapSramSzkB:    32
FilterSramSzkB:   64
OfmapSramSzkB:    16
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 7, 3
Dataflow : is
MemoryBanks:   1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 5
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 6
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def test_calc_mode_maps_every_used_key():
    hw = hardware_from_cfg_text(CFG, "x.cfg")
    assert hw.name == "my_run" and hw.source_file == "x.cfg"
    pe = hw.pe_array
    assert (pe.rows, pe.cols, pe.dataflow, pe.cycle_convention) == (16, 8, "is", "scalesim")
    assert [hw.buffers.ifmap.size_kb, hw.buffers.filter.size_kb, hw.buffers.ofmap.size_kb] == [32, 64, 16]
    for sram in (hw.buffers.ifmap, hw.buffers.filter, hw.buffers.ofmap):
        assert sram.word_bytes == 1 and sram.double_buffered
    assert hw.buffers.ifmap.size_words == 32 * 1024  # KiB of 1-byte words
    assert math.isinf(hw.dram.bandwidth_bytes_per_cycle) and hw.dram.latency_cycles == 0
    assert hw.dram.ifmap_bandwidth_bytes_per_cycle is None
    assert hw.energy["mac"].pj > 0 and "Horowitz" in hw.energy["mac"].source


def test_user_mode_maps_per_operand_bandwidths():
    hw = hardware_from_cfg_text(CFG.replace("CALC", "USER"), "x.cfg")
    dram = hw.dram
    assert dram.ifmap_bandwidth_bytes_per_cycle == 5 and dram.filter_bandwidth_bytes_per_cycle == 6
    assert dram.ofmap_bandwidth_bytes_per_cycle == 7  # only Bandwidth[0], as the OFMAP drain
    assert dram.bandwidth_bytes_per_cycle == 18  # their sum: the shared cap never binds
    assert [dram.operand_bandwidth(op) for op in ("ifmap", "filter", "ofmap")] == [5, 6, 7]


def test_keys_and_sections_are_case_insensitive_and_equals_works():
    text = CFG.replace("ArrayHeight:    16", "arrayheight = 16").replace("[run_presets]", "[Run_Presets]")
    assert hardware_from_cfg_text(text, "x.cfg").pe_array.rows == 16


def test_minimal_v3_default_without_layout_and_sparsity_sections():
    hw = load_scalesim_cfg(SCALESIM / "scale.cfg")
    assert (hw.pe_array.rows, hw.pe_array.cols, hw.pe_array.dataflow) == (32, 32, "os")
    assert hw.buffers.ofmap.size_kb == 64


def test_cfg_and_toml_twins_agree():
    for dataflow, cfg in (("os", "scale.cfg"), ("ws", "scale_ws.cfg"), ("is", "scale_is.cfg")):
        from_cfg = load_scalesim_cfg(SCALESIM / cfg)
        from_toml = load_hardware_toml(ROOT / "hw_configs" / f"scalesim_32x32_{dataflow}.toml")
        for section in ("pe_array", "buffers", "dram", "energy"):
            assert getattr(from_cfg, section) == getattr(from_toml, section), (cfg, section)


def test_unknown_dataflow_is_refused_not_run_as_os():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace("Dataflow : is", "Dataflow : rs"), "x.cfg")
    err = excinfo.value
    assert (err.file, err.field, err.line, err.value) == ("x.cfg", "architecture_presets.Dataflow", 14, "rs")
    assert err.allowed == "os, ws, is" and "silently" in err.message


@pytest.mark.parametrize("section,key", [("architecture_presets", "ArrayHeight"), ("general", "run_name"),
                                         ("run_presets", "InterfaceBandwidth"),
                                         ("architecture_presets", "OfmapSramSzkB")])
def test_missing_required_key_names_section_and_key(section, key):
    lines = [line for line in CFG.splitlines() if not line.lower().startswith(key.lower())]
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text("\n".join(lines), "x.cfg")
    assert excinfo.value.field == f"{section}.{key}" and "missing required key" in str(excinfo.value)


def test_user_mode_needs_its_bandwidths():
    text = CFG.replace("CALC", "USER").replace("FilterSRAMBankBandwidth: 6\n", "")
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(text, "x.cfg")
    assert excinfo.value.field == "layout.FilterSRAMBankBandwidth"


def test_missing_section_is_named():
    text = CFG.split("[run_presets]")[0]
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(text, "x.cfg")
    assert excinfo.value.field == "run_presets" and "missing required section" in str(excinfo.value)


@pytest.mark.parametrize("old,new,field", [
    ("UseRamulatorTrace: False", "UseRamulatorTrace: True", "run_presets.UseRamulatorTrace"),
    ("IfmapCustomLayout: False", "IfmapCustomLayout: True", "layout.IfmapCustomLayout"),
])
def test_unmodelled_features_are_refused(old, new, field):
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace(old, new), "x.cfg")
    assert excinfo.value.field == field and "not supported" in str(excinfo.value)


@pytest.mark.parametrize("old,new,field,allowed", [
    ("ArrayWidth:     8", "ArrayWidth: 0", "architecture_presets.ArrayWidth", "an integer >= 1"),
    ("ArrayWidth:     8", "ArrayWidth: eight", "architecture_presets.ArrayWidth", "an integer >= 1"),
    ("IfmapSramSzkB:    32", "IfmapSramSzkB: -4", "architecture_presets.IfmapSramSzkB", "an integer >= 1"),
    ("InterfaceBandwidth: CALC", "InterfaceBandwidth: AUTO", "run_presets.InterfaceBandwidth", "CALC, USER"),
    ("SparsitySupport : false", "SparsitySupport : maybe", "sparsity.SparsitySupport", "True or False"),
])
def test_bad_values_name_the_key(old, new, field, allowed):
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace(old, new), "x.cfg")
    assert excinfo.value.field == field and excinfo.value.allowed == allowed and excinfo.value.line is not None


def test_unknown_key_and_section_list_what_is_allowed():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace("MemoryBanks:   1", "MemoryBank: 1"), "x.cfg")
    assert excinfo.value.field == "architecture_presets.memorybank" and "ArrayHeight" in excinfo.value.allowed
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG + "\n[extras]\nfoo = 1\n", "x.cfg")
    assert excinfo.value.field == "extras" and "run_presets" in excinfo.value.allowed


def test_ini_syntax_errors_have_a_line():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace("MemoryBanks:   1", "MemoryBanks 1"), "x.cfg")
    assert excinfo.value.line == 15 and "not a valid INI file" in str(excinfo.value)
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_cfg_text(CFG.replace("MemoryBanks:   1", "ArrayWidth: 4"), "x.cfg")
    assert excinfo.value.line == 15


def test_energy_table_can_be_replaced_or_left_out(tmp_path):
    assert hardware_from_cfg_text(CFG, "x.cfg", energy_table=None).energy == {}
    table = tmp_path / "t.toml"
    table.write_text('[energy.mac]\npj = 4.0\nsource = "s"\n')
    assert hardware_from_cfg_text(CFG, "x.cfg", energy_table=table).energy["mac"].pj == 4.0
    assert DEFAULT_ENERGY_TABLE.is_file()
    with pytest.raises(ConfigError, match="default energy table"):
        hardware_from_cfg_text(CFG, "x.cfg", energy_table=tmp_path / "none.toml")


@pytest.mark.parametrize("rep", ["csr", "csc", "ellpack_block"])
def test_sparsity_support_becomes_a_sparsity_section(rep):
    text = CFG.replace("SparsitySupport : false", "SparsitySupport : true").replace(
        "SparseRep : ellpack_block", f"SparseRep : {rep}")
    hw = hardware_from_cfg_text(text, "x.cfg")
    assert (hw.sparsity.representation, hw.sparsity.block_size, hw.sparsity.seed) == (rep, 8, 40)
    assert hardware_from_cfg_text(CFG, "x.cfg").sparsity is None
    with pytest.raises(ConfigError, match="SparseRep"):
        hardware_from_cfg_text(text.replace(f"SparseRep : {rep}", "SparseRep : coo"), "x.cfg")


def test_memory_convention_is_scalesim_in_calc_and_user_mode():
    # the scalesim memory convention reproduces CALC mode and USER mode (finite per-operand ports)
    assert hardware_from_cfg_text(CFG, "x.cfg").pe_array.memory_convention == "scalesim"
    assert hardware_from_cfg_text(CFG.replace("CALC", "USER"), "x.cfg").pe_array.memory_convention == "scalesim"
