"""Our TOML loader and writer: messages that name file, line, field, value and what is allowed."""
import math
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.presets import ns_to_cycles, resolve_dram_preset
from sim.hardware.toml_loader import (
    dump_hardware_toml,
    flatten_entries,
    hardware_from_toml_text,
    load_hardware_toml,
    toml_line_of,
)

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


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_loads_and_sets_source_file(tmp_path):
    path = _write(tmp_path, "hw.toml", BASE)
    hw = load_hardware_toml(path)
    assert hw.name == "t" and hw.pe_array.rows == 4 and hw.source_file == str(path)
    assert hw.buffers.ifmap.size_bytes == 1024


def test_syntax_error_names_file_and_line(tmp_path):
    path = _write(tmp_path, "bad.toml", BASE.replace("cols = 4", "cols = = 4"))
    with pytest.raises(ConfigError) as excinfo:
        load_hardware_toml(path)
    assert excinfo.value.file == str(path) and excinfo.value.line == 5
    assert str(excinfo.value).startswith(f"{path}:5: TOML syntax error")


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_hardware_toml(tmp_path / "nope.toml")


def test_out_of_range_value_names_field_line_value_and_bound():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace("rows = 4", "rows = 0"), "hw.toml")
    err = excinfo.value
    assert (err.file, err.line, err.field, err.value, err.allowed) == ("hw.toml", 4, "pe_array.rows", 0, ">= 1 and <= 65536")
    assert str(err) == "hw.toml:4: pe_array.rows: out of range (got 0); allowed: >= 1 and <= 65536"


def test_unknown_dataflow_lists_the_choices():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace('"ws"', '"rs"'), "hw.toml")
    assert excinfo.value.field == "pe_array.dataflow" and excinfo.value.value == "rs"
    assert "'os', 'ws' or 'is'" in excinfo.value.allowed


def test_unknown_key_lists_the_allowed_keys():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace("[buffers.ifmap]\n", "[buffers.ifmap]\nsize_kib = 2\n"), "hw.toml")
    err = excinfo.value
    assert err.field == "buffers.ifmap.size_kib" and err.line == 9
    assert "unknown key" in str(err) and "size_kb, word_bytes, banks, ports, double_buffered" in err.allowed


def test_strings_are_not_numbers_and_integers_are_not_booleans():
    text = BASE.replace("rows = 4", 'rows = "4"').replace("[buffers.ofmap]\n", "[buffers.ofmap]\ndouble_buffered = 1\n")
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(text, "hw.toml")
    lines = str(excinfo.value).splitlines()
    assert len(lines) == 2  # every problem of the file, one per line, raised once
    assert lines[0] == "hw.toml:4: pe_array.rows: wrong type (got '4'); allowed: an integer"
    assert lines[1] == ("hw.toml:13: buffers.ofmap.double_buffered: not an allowed value (got 1); allowed: true or "
                        "false or 'auto'")
    assert excinfo.value.field == "pe_array.rows"


def test_missing_required_key_points_at_its_table():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace("bandwidth_bytes_per_cycle = 8\n", "latency_cycles = 3\n"), "hw.toml")
    assert excinfo.value.field == "dram.bandwidth_bytes_per_cycle" and excinfo.value.line == 15
    assert "missing required key" in str(excinfo.value)


def test_cross_field_rule_names_the_field():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.replace("[buffers.filter]\nsize_kb = 1", "[buffers.filter]\nsize_kb = 1\n"
                                             "word_bytes = 3"), "hw.toml")
    assert excinfo.value.field == "buffers.filter.size_kb" and excinfo.value.line == 11
    assert "multiple of word_bytes (3)" in str(excinfo.value)


def test_section_errors_without_a_pe_array_dram():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(BASE.split("[dram]")[0], "hw.toml")
    assert excinfo.value.field == "dram"


ENERGY_TABLE = """\
description = "test table"
[energy.mac]
pj = 0.5
source = "paper A"
[energy.ifmap_sram.read]
pj = 2.0
source = "paper A"
[area.mac]
mm2 = 0.001
source = "paper A"
"""


def test_energy_tables_are_merged_and_inline_entries_win(tmp_path):
    _write(tmp_path, "energy/t.toml", ENERGY_TABLE)
    text = 'energy_tables = ["energy/t.toml"]\n' + BASE + '[energy."ifmap_sram.read"]\npj = 9.0\nsource = "mine"\n'
    path = _write(tmp_path, "hw.toml", text)
    hw = load_hardware_toml(path)
    assert hw.energy["mac"].pj == 0.5 and hw.energy["mac"].source == "paper A"
    assert hw.energy["ifmap_sram.read"].pj == 9.0 and hw.energy["ifmap_sram.read"].source == "mine"
    assert hw.area["mac"].mm2 == 0.001


def test_later_energy_tables_override_earlier_ones(tmp_path):
    _write(tmp_path, "a.toml", ENERGY_TABLE)
    _write(tmp_path, "b.toml", '[energy.mac]\npj = 7.0\nsource = "paper B"\n')
    path = _write(tmp_path, "hw.toml", 'energy_tables = ["a.toml", "b.toml"]\n' + BASE)
    assert load_hardware_toml(path).energy["mac"].pj == 7.0


def test_missing_energy_table_names_both_files(tmp_path):
    path = _write(tmp_path, "hw.toml", 'energy_tables = ["energy/none.toml"]\n' + BASE)
    with pytest.raises(ConfigError) as excinfo:
        load_hardware_toml(path)
    assert excinfo.value.file == str(path) and excinfo.value.field == "energy_tables"
    assert "none.toml" in str(excinfo.value)


def test_bad_energy_table_names_both_files(tmp_path):
    table = _write(tmp_path, "t.toml", ENERGY_TABLE.replace("pj = 0.5", "pj = -1.0"))
    path = _write(tmp_path, "hw.toml", 'energy_tables = ["t.toml"]\n' + BASE)
    with pytest.raises(ConfigError) as excinfo:
        load_hardware_toml(path)
    err = excinfo.value
    assert err.file == str(table) and err.line == 3 and err.field.startswith("energy.mac.pj")
    assert str(path) in str(err)


def test_energy_table_syntax_error_and_unknown_key_name_both_files(tmp_path):
    table = _write(tmp_path, "t.toml", "[energy.mac\n")
    path = _write(tmp_path, "hw.toml", 'energy_tables = ["t.toml"]\n' + BASE)
    with pytest.raises(ConfigError) as excinfo:
        load_hardware_toml(path)
    assert excinfo.value.file == str(table) and str(path) in str(excinfo.value)
    _write(tmp_path, "t.toml", 'pe_array = 3\n')
    with pytest.raises(ConfigError) as excinfo:
        load_hardware_toml(path)
    assert excinfo.value.field == "pe_array" and str(path) in str(excinfo.value)


def test_energy_tables_must_be_a_list_of_paths():
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text('energy_tables = "x.toml"\n' + BASE, "hw.toml")
    assert excinfo.value.field == "energy_tables"


def test_nested_and_quoted_energy_keys_are_the_same():
    assert flatten_entries({"a": {"read": {"pj": 1}}, "b.write": {"pj": 2}, "mac": {"pj": 3}}) == {
        "a.read": {"pj": 1}, "b.write": {"pj": 2}, "mac": {"pj": 3}}


def test_dram_preset_resolves_into_timing_at_the_array_clock():
    text = BASE.replace("[dram]\n", '[dram]\nmodel = "bank_row"\npreset = "ddr4_2400"\n')
    hw = hardware_from_toml_text(text.replace("dataflow", "clock_mhz = 500.0\ndataflow"), "hw.toml")
    timing = hw.dram.timing
    assert timing.t_rcd_cycles == timing.t_rp_cycles == timing.t_cas_cycles == 7  # 13.32 ns at 500 MHz
    assert timing.banks == 16 and timing.row_bytes == 8192 and "JESD79-4" in timing.source


def test_inline_timing_overrides_the_preset():
    text = BASE.replace("[dram]\n", '[dram.timing]\nt_cas_cycles = 99\n[dram]\nmodel = "bank_row"\npreset = "HBM2"\n')
    hw = hardware_from_toml_text(text, "hw.toml")
    assert hw.dram.timing.t_cas_cycles == 99 and hw.dram.timing.t_rcd_cycles == 14
    assert hw.dram.timing.row_bytes == 2048


def test_unknown_preset_lists_the_choices():
    text = BASE.replace("[dram]\n", '[dram]\nmodel = "bank_row"\npreset = "DDR9"\n')
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(text, "hw.toml")
    err = excinfo.value
    assert (err.file, err.field, err.value, err.line) == ("hw.toml", "dram.preset", "DDR9", 17)
    assert "DDR4-2400" in err.allowed and "HBM2" in err.allowed


def test_ns_to_cycles_rounds_up_and_never_shortens():
    assert ns_to_cycles(13.32, 1000) == 14 and ns_to_cycles(14.0, 1000) == 14 and ns_to_cycles(14.0, 500) == 7
    assert ns_to_cycles(0.0, 1000) == 0
    assert resolve_dram_preset("hbm2", 1000).t_cas_cycles == 14


def test_dump_loads_back_equal(tmp_path):
    text = BASE.replace("[dram]\n", '[dram]\nmodel = "bank_row"\npreset = "DDR4-2400"\n')
    hw = hardware_from_toml_text(text, "hw.toml")
    path = _write(tmp_path, "out.toml", dump_hardware_toml(hw))
    assert load_hardware_toml(path) == hw.model_copy(update={"source_file": str(path)})


def test_infinite_bandwidth_round_trips():
    hw = hardware_from_toml_text(BASE.replace("= 8\n", "= inf\n"), "hw.toml")
    assert math.isinf(hw.dram.bandwidth_bytes_per_cycle)
    assert hardware_from_toml_text(dump_hardware_toml(hw), "hw.toml") == hw


def test_toml_line_of_finds_keys_headers_and_dotted_keys():
    text = 'a = 1\n[b.c]\nd = 2\n[e]\n"f.g" = { h = 1 }\ni.j = 3\n'
    assert toml_line_of(text, "a") == 1
    assert toml_line_of(text, "b.c.d") == 3
    assert toml_line_of(text, "b.c.missing") == 2
    assert toml_line_of(text, "e.f.g.h") == 5
    assert toml_line_of(text, "e.i.j") == 6
    assert toml_line_of(text, "zzz") is None
