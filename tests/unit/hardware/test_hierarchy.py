"""The memory hierarchy: today's sections convert into it, a level's name prices it, an explicit [[memory]] list
is validated and (in today's special case) gives the same hardware and the same numbers."""
from dataclasses import replace
from pathlib import Path

import pytest

import sim
from sim.errors import ConfigError
from sim.hardware.hierarchy import level_energy
from sim.hardware.toml_loader import dump_hardware_toml, hardware_from_toml_text

ROOT = Path(__file__).resolve().parents[3]
CONFIGS = sorted((ROOT / "hw_configs").glob("*.toml")) + [ROOT / "hw_configs" / "maestro" / "accelerator_1.m",
                                                          ROOT / "hw_configs" / "scalesim" / "scale.cfg"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_has_a_hierarchy_from_the_pes_out_priced_by_its_level_names(path):
    hw = sim.load_hardware(path)
    levels = hw.hierarchy
    if hw.kind == "reram":
        assert levels == ()
        return
    assert levels[-1].kind == "dram" and set(levels[-1].operands) == {"ifmap", "filter", "ofmap"}
    for level in levels[:-1]:
        assert level.size_bytes and set(level_energy(hw, level)) == {"read", "write"}, level.name
        assert all(entry.source for entry in level_energy(hw, level).values())
    if hw.kind == "systolic" and not hw.memory:
        assert [level.name for level in levels] == ["ifmap_sram", "filter_sram", "ofmap_sram", "dram"]
        for level in levels[:-1]:
            sram = getattr(hw.buffers, level.operands[0])
            assert (level.size_bytes, level.double_buffered) == (sram.size_bytes, sram.double_buffered)
        assert levels[-1].bandwidth_bytes_per_cycle == hw.dram.bandwidth_bytes_per_cycle


def _memory_tables(hw) -> str:
    """The hierarchy of `hw` written as [[memory]] tables (what a user writes instead of [buffers])."""
    lines = []
    for level in hw.hierarchy:
        lines += ["", "[[memory]]", f'name = "{level.name}"', f'kind = "{level.kind}"',
                  "operands = [" + ", ".join(f'"{name}"' for name in level.operands) + "]"]
        if level.size_bytes is not None:
            lines.append(f"size_bytes = {level.size_bytes}")
        lines += [f"word_bytes = {level.word_bytes}", f"double_buffered = {str(level.double_buffered).lower()}",
                  f"bandwidth_bytes_per_cycle = {level.bandwidth_bytes_per_cycle}",
                  f"latency_cycles = {level.latency_cycles}", 'source = "test"']
    return "\n".join(lines) + "\n"


def _without_buffers(text: str) -> str:
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.startswith("[buffers")
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


@pytest.mark.parametrize("name", ["scalesim_32x32_ws_ddr4.toml", "eyeriss_12x14.toml"])
def test_a_config_written_as_memory_levels_is_the_same_hardware_with_the_same_numbers(name):
    path = ROOT / "hw_configs" / name
    hw = sim.load_hardware(path)
    text = _without_buffers(path.read_text()) + _memory_tables(hw)
    assert "[buffers" not in text
    levels_hw = hardware_from_toml_text(text, path)
    assert levels_hw.buffers == hw.buffers and len(levels_hw.memory) == 4
    assert [replace_source(level) for level in levels_hw.hierarchy] == [replace_source(level) for level in hw.hierarchy]
    trace = sim.load_trace(ROOT / "traces" / "scalesim" / "test.csv")
    for model in (sim.estimate, sim.simulate):
        a, b = model(trace, hw), model(trace, levels_hw)
        assert [replace(layer, sim_wall_s=0.0) for layer in a.layers] == [
            replace(layer, sim_wall_s=0.0) for layer in b.layers]
    again = hardware_from_toml_text(dump_hardware_toml(levels_hw), path)
    assert again.memory == levels_hw.memory and again.buffers == levels_hw.buffers


def replace_source(level):
    return level.model_copy(update={"source": ""})


BASE = (ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml")


@pytest.mark.parametrize("edit, field, message", [
    (lambda t: t.replace('kind = "dram"', 'kind = "global_buffer"\nsize_bytes = 64'), "memory.3.kind",
     "ends at one DRAM level"),
    (lambda t: t.replace('name = "filter_sram"', 'name = "ifmap_sram"'), "memory.1.name", "a level name used twice"),
    (lambda t: t.replace('name = "ifmap_sram"\nkind = "global_buffer"', 'name = "ifmap_sram"\nkind = "dram"'),
     "memory", "a \\[pe_array\\] needs a global buffer of its own for ifmap"),
    (lambda t: t.replace('kind = "dram"', 'kind = "dram"\nsize_bytes = 64'), "memory.3.size_bytes", "DRAM has none"),
    (lambda t: t.replace('bandwidth_bytes_per_cycle = 19.2\nlatency_cycles = 0', 'bandwidth_bytes_per_cycle = 19.2\n'
                         'latency_cycles = 7'),
     "memory.3.latency_cycles", "the DRAM level is the \\[dram\\] section"),
    (lambda t: t.replace('[[memory]]\nname = "ifmap_sram"', '[[memory]]\nname = "rf"\nkind = "register_file"\n'
                         'operands = ["filter"]\nsize_bytes = 2\n\n[[memory]]\nname = "ifmap_sram"')
     .replace('name = "ifmap_sram"\nkind = "global_buffer"\noperands = ["ifmap"]',
              'name = "ifmap_sram"\nkind = "global_buffer"\noperands = ["ifmap"]\npartition_bytes = { ifmap = 0 }'),
     "memory.1.partition_bytes.ifmap", "gives it no bytes"),
    (lambda t: t.replace('"ifmap", "filter", "ofmap"]', '"ifmap", "filter", "ofmap", "ofmap"]'), "memory.3.operands",
     "an operand listed twice"),
    (lambda t: t.replace('operands = ["ofmap"]', 'operands = ["ofmap"]\npartition_bytes = { ifmap = 8 }'),
     "memory.2.partition_bytes.ifmap", "a partition for an operand the level does not hold"),
])
def test_a_wrong_hierarchy_is_a_config_error_naming_the_level_field(edit, field, message):
    hw = sim.load_hardware(BASE)
    text = edit(_without_buffers(BASE.read_text()) + _memory_tables(hw))
    with pytest.raises(ConfigError, match=message) as info:
        hardware_from_toml_text(text, BASE)
    assert field in str(info.value)
