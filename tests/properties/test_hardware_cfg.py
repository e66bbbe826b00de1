"""Properties of the SCALE-Sim .cfg loader: any valid array/SRAM/dataflow/mode is mapped exactly, and any
corruption of a valid .cfg is a ConfigError naming the file and the `section.Key`, never another exception."""
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.hardware.scalesim_cfg import UNMODELLED_SWITCHES, hardware_from_cfg_text

FILE = "configs/random.cfg"
SCALESIM = Path(__file__).resolve().parents[2] / "hw_configs" / "scalesim"
TEMPLATE = """\
[general]
run_name = {name}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap}
FilterSramSzkB: {filter}
OfmapSramSzkB: {ofmap}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : {ofmap_bw}
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: {ifmap_bw}
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: {filter_bw}
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {mode}
UseRamulatorTrace: False
"""
values = st.fixed_dictionaries({
    "name": st.text("abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12),
    "rows": st.integers(1, 1024), "cols": st.integers(1, 1024),
    "ifmap": st.integers(1, 1 << 16), "filter": st.integers(1, 1 << 16), "ofmap": st.integers(1, 1 << 16),
    "ofmap_bw": st.integers(1, 1000), "ifmap_bw": st.integers(1, 1000), "filter_bw": st.integers(1, 1000),
    "dataflow": st.sampled_from(["os", "ws", "is"]), "mode": st.sampled_from(["CALC", "USER"]),
})


@given(values)
def test_cfg_values_map_exactly(v):
    hw = hardware_from_cfg_text(TEMPLATE.format(**v), FILE, energy_table=None)
    assert hw.name == v["name"]
    assert (hw.pe_array.rows, hw.pe_array.cols, hw.pe_array.dataflow) == (v["rows"], v["cols"], v["dataflow"])
    for operand in ("ifmap", "filter", "ofmap"):
        assert getattr(hw.buffers, operand).size_words == v[operand] * 1024
    dram = hw.dram
    if v["mode"] == "CALC":
        assert math.isinf(dram.bandwidth_bytes_per_cycle)
    else:
        assert [dram.operand_bandwidth(op) for op in ("ifmap", "filter", "ofmap")] == [
            v["ifmap_bw"], v["filter_bw"], v["ofmap_bw"]]


# (section, key, required in every mode) of the keys the loader reads.
READ_KEYS = [("general", "run_name"), ("architecture_presets", "ArrayHeight"),
             ("architecture_presets", "ArrayWidth"), ("architecture_presets", "IfmapSramSzkB"),
             ("architecture_presets", "FilterSramSzkB"), ("architecture_presets", "OfmapSramSzkB"),
             ("architecture_presets", "Dataflow"), ("run_presets", "InterfaceBandwidth")]
INTEGER_KEYS = [key for key in READ_KEYS if key[1] not in ("run_name", "Dataflow", "InterfaceBandwidth")]
SECTIONS = ["general", "architecture_presets", "layout", "sparsity", "run_presets"]


def _replace_value(text: str, key: str, value: str) -> str:
    out = []
    for line in text.splitlines():
        name = line.split(":")[0].split("=")[0].strip()
        out.append(f"{key} = {value}" if name.lower() == key.lower() else line)
    return "\n".join(out) + "\n"


@st.composite
def corruptions(draw):
    """(corrupted .cfg text, the field the error must name, or None for an INI syntax error)."""
    text = TEMPLATE.format(**draw(values))
    kind = draw(st.sampled_from(["delete", "wrong_type", "negative", "dataflow", "unknown_key", "syntax",
                                 "unmodelled"]))
    if kind == "delete":
        section, key = draw(st.sampled_from(READ_KEYS))
        text = "\n".join(line for line in text.splitlines() if not line.lower().startswith(key.lower()))
        return text, f"{section}.{key}"
    if kind in ("wrong_type", "negative"):
        section, key = draw(st.sampled_from(INTEGER_KEYS))
        bad = draw(st.sampled_from(["abc", "1.5", "3 4", "[1]"])) if kind == "wrong_type" else str(
            -draw(st.integers(0, 100)))
        return _replace_value(text, key, bad), f"{section}.{key}"
    if kind == "dataflow":
        bad = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=4).filter(
            lambda s: s not in ("os", "ws", "is")))
        return _replace_value(text, "Dataflow", bad), "architecture_presets.Dataflow"
    if kind == "unknown_key":
        section = draw(st.sampled_from(SECTIONS))
        key = draw(st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map(lambda s: "zz" + s))
        return text.replace(f"[{section}]\n", f"[{section}]\n{key} = 1\n"), f"{section}.{key}"
    if kind == "unmodelled":
        # The switches sim refuses (scalesim_cfg.UNMODELLED_SWITCHES; OptimizedMapping is modelled since f7f3f33).
        section, key = draw(st.sampled_from(list(UNMODELLED_SWITCHES)))
        return _replace_value(text, key, draw(st.sampled_from(["true", "True", "yes", "1"]))), f"{section}.{key}"
    lines = text.splitlines()
    at = draw(st.integers(0, len(lines)))
    bad = draw(st.sampled_from(["just words", "[general]", "ArrayHeight: 4\nArrayHeight: 5", "[unclosed"]))
    return "\n".join(lines[:at] + [bad] + lines[at:]) + "\n", None


@settings(max_examples=80)
@given(corruptions())
def test_any_cfg_corruption_is_a_config_error_naming_file_and_key(case):
    text, field = case
    try:
        hardware_from_cfg_text(text, FILE, energy_table=None)
    except ConfigError as err:
        assert err.file == FILE and str(err).startswith(FILE)
        if field is None:
            assert err.field is not None or err.line is not None, str(err)
        else:
            assert err.field is not None and err.field.lower() == field.lower(), str(err)
    else:
        # Only a syntax insertion can leave the file valid (e.g. a blank-valued line where a section starts).
        assert field is None
        pytest.skip("the inserted line happened to keep the file valid")


@pytest.mark.parametrize("name", ["scale.cfg", "scale_ws.cfg", "scale_is.cfg", "scale_user.cfg"])
def test_shipped_cfgs_survive_any_single_line_deletion(name):
    """Deleting any one line of a shipped .cfg gives a Hardware or a located ConfigError, nothing else."""
    lines = (SCALESIM / name).read_text().splitlines()
    for index in range(len(lines)):
        text = "\n".join(lines[:index] + lines[index + 1:])
        try:
            hardware_from_cfg_text(text, FILE, energy_table=None)
        except ConfigError as err:
            assert err.file == FILE and (err.field or err.line), str(err)
