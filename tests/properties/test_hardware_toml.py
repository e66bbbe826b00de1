"""Properties of our hardware TOML: any valid Hardware round-trips through the writer, and any corruption of a
valid file is a ConfigError that names the file and the field, never another exception."""
import math
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.hardware.spec import (
    DATAFLOWS,
    AdcSpec,
    AreaEntry,
    BuffersSpec,
    DirectiveArraySpec,
    DramSpec,
    DramTimingSpec,
    EnergyEntry,
    Hardware,
    PeArraySpec,
    ReramSpec,
    SramSpec,
)
from sim.hardware.toml_loader import dump_hardware_toml, hardware_from_toml_text

FILE = "configs/random.toml"
ACTIONS = ("mac", "ifmap_sram.read", "filter_sram.read", "ofmap_sram.read", "ofmap_sram.write", "ifmap_sram.write",
           "filter_sram.write", "dram.read_byte", "dram.write_byte", "leakage.cycle", "crossbar.read", "adc.convert",
           "noc.transfer")
texts = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
finite = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def srams(draw):
    word_bytes = draw(st.sampled_from([1, 2, 4, 8]))
    banks = draw(st.integers(1, 4))
    double = draw(st.booleans())
    size_bytes = word_bytes * banks * (2 if double else 1) * draw(st.integers(1, 4096))
    return SramSpec(size_kb=size_bytes / 1024, word_bytes=word_bytes, banks=banks, ports=draw(st.integers(1, 4)),
                    double_buffered=double)


@st.composite
def drams(draw):
    burst = draw(st.sampled_from([1, 8, 32, 64]))
    model = draw(st.sampled_from(["bandwidth", "bank_row"]))
    timing, preset = None, None
    if model == "bank_row" or draw(st.booleans()):
        # A preset comes with its timing, as the loader leaves it (inline [dram.timing] keys win on reload).
        preset = draw(st.sampled_from([None, "DDR4-2400", "hbm2"]))
        timing = DramTimingSpec(channels=draw(st.integers(1, 8)), banks=draw(st.integers(1, 32)),
                                row_bytes=burst * draw(st.integers(1, 256)), t_rcd_cycles=draw(st.integers(0, 50)),
                                t_rp_cycles=draw(st.integers(0, 50)), t_cas_cycles=draw(st.integers(0, 50)),
                                source=draw(texts))
    optional_bw = st.none() | finite
    return DramSpec(model=model, bandwidth_bytes_per_cycle=draw(finite | st.just(math.inf)),
                    latency_cycles=draw(st.integers(0, 1000)), burst_bytes=burst, preset=preset, timing=timing,
                    ifmap_bandwidth_bytes_per_cycle=draw(optional_bw),
                    filter_bandwidth_bytes_per_cycle=draw(optional_bw),
                    ofmap_bandwidth_bytes_per_cycle=draw(optional_bw))


def entries(entry):
    return st.dictionaries(st.sampled_from(ACTIONS), entry, max_size=4)


energy_entries = st.builds(EnergyEntry, pj=st.floats(0, 1e4, allow_nan=False), source=texts, note=texts)
area_entries = st.builds(AreaEntry, mm2=st.floats(0, 1e3, allow_nan=False), count=st.integers(1, 1000),
                         source=texts)


@st.composite
def hardwares(draw, kinds=("systolic", "reram", "directive", "systolic+reram")):
    kind = draw(st.sampled_from(kinds))
    sections: dict = {}
    if "systolic" in kind:
        sections["pe_array"] = PeArraySpec(
            rows=draw(st.integers(1, 512)), cols=draw(st.integers(1, 512)), dataflow=draw(st.sampled_from(DATAFLOWS)),
            clock_mhz=draw(st.floats(1, 5000, allow_nan=False)), accumulator_bits=draw(st.integers(8, 64)),
            cycle_convention=draw(st.sampled_from(["native", "scalesim"])))
        sections["buffers"] = BuffersSpec(ifmap=draw(srams()), filter=draw(srams()), ofmap=draw(srams()))
        sections["dram"] = draw(drams())
    if "reram" in kind:
        sections["reram"] = ReramSpec(crossbar_rows=draw(st.integers(1, 512)), cell_bits=draw(st.integers(1, 4)),
                                      adc=AdcSpec(bits=draw(st.integers(1, 12) | st.just("lossless"))))
    if kind == "directive":
        sections["directive_array"] = DirectiveArraySpec(
            num_pes=draw(st.integers(1, 1024)), l1_size_bytes=draw(st.integers(1, 10**6)),
            l2_size_bytes=draw(st.integers(1, 10**8)), noc_bandwidth_words_per_cycle=draw(finite),
            offchip_bandwidth_words_per_cycle=draw(finite))
    return Hardware(name=draw(texts.filter(bool)), description=draw(texts), energy=draw(entries(energy_entries)),
                    area=draw(entries(area_entries)), **sections)


@given(hardwares())
def test_any_valid_hardware_round_trips_through_the_writer(hw):
    loaded = hardware_from_toml_text(dump_hardware_toml(hw), FILE)
    assert loaded == hw.model_copy(update={"source_file": FILE})


# --- corruption -------------------------------------------------------------------------------------------------

def _paths(data: dict, prefix: str = "") -> list[str]:
    out = []
    for key, value in data.items():
        path = f"{prefix}{key}"
        out.append(path)
        if isinstance(value, dict):
            out.extend(_paths(value, f"{path}."))
    return out


def _get_parent(data: dict, path: str) -> tuple[dict, str]:
    *parents, last = path.split(".")
    for part in parents:
        data = data[part]
    return data, last


REQUIRED = ["name", "pe_array.rows", "pe_array.cols", "buffers.ifmap.size_kb", "buffers.filter.size_kb",
            "buffers.ofmap.size_kb", "dram.bandwidth_bytes_per_cycle"]
NUMBERS = ["pe_array.rows", "pe_array.cols", "pe_array.clock_mhz", "pe_array.accumulator_bits",
           "buffers.ifmap.size_kb", "buffers.filter.word_bytes", "buffers.ofmap.banks", "dram.latency_cycles",
           "dram.bandwidth_bytes_per_cycle", "dram.burst_bytes"]
POSITIVE = ["pe_array.rows", "pe_array.cols", "pe_array.clock_mhz", "buffers.ifmap.size_kb",
            "buffers.filter.size_kb", "buffers.ofmap.size_kb", "buffers.ifmap.word_bytes", "dram.burst_bytes",
            "dram.bandwidth_bytes_per_cycle"]
SECTIONS = ["", "pe_array.", "buffers.", "buffers.ifmap.", "buffers.ofmap.", "dram."]
identifiers = st.text(string.ascii_lowercase + "_", min_size=1, max_size=10)


def _systolic_data(hw: Hardware) -> dict:
    import tomllib
    return tomllib.loads(dump_hardware_toml(hw))


systolic_hardware = hardwares(kinds=("systolic",))


@st.composite
def corruptions(draw):
    """(corrupted TOML text, the field the error must name or None for a syntax error)."""
    import tomli_w
    data = _systolic_data(draw(systolic_hardware))
    kind = draw(st.sampled_from(["delete", "wrong_type", "negative", "dataflow", "unknown_key", "syntax"]))
    if kind == "syntax":
        lines = tomli_w.dumps(data).splitlines()
        at = draw(st.integers(0, len(lines)))
        bad = draw(st.sampled_from(["rows = = 1", "[pe_array", "x = [1, 2", 'name = "unterminated', "= 3"]))
        return "\n".join(lines[:at] + [bad] + lines[at:]) + "\n", None
    if kind == "delete":
        field = draw(st.sampled_from(REQUIRED))
        parent, key = _get_parent(data, field)
        del parent[key]
    elif kind == "wrong_type":
        field = draw(st.sampled_from(NUMBERS + ["name", "buffers.ifmap.double_buffered", "pe_array.dataflow"]))
        parent, key = _get_parent(data, field)
        parent[key] = draw(st.sampled_from(["abc", [1, 2], {"x": 1}])) if field in NUMBERS else 5
    elif kind == "negative":
        field = draw(st.sampled_from(POSITIVE))
        parent, key = _get_parent(data, field)
        parent[key] = -draw(st.integers(0, 100)) if isinstance(parent[key], int) else -draw(finite)
    elif kind == "dataflow":
        field = "pe_array.dataflow"
        data["pe_array"]["dataflow"] = draw(st.text(max_size=5).filter(lambda s: s not in DATAFLOWS))
    else:
        section = draw(st.sampled_from(SECTIONS))
        parent, _ = _get_parent(data, section + "x") if section else (data, "")
        key = draw(identifiers.filter(lambda k: k not in parent and k != "energy_tables"))
        parent[key] = draw(st.integers() | st.text(max_size=3))
        field = section + key
    return tomli_w.dumps(data), field


@settings(max_examples=80)
@given(corruptions())
def test_any_corruption_is_a_config_error_naming_file_and_field(case):
    text, field = case
    with pytest.raises(ConfigError) as excinfo:
        hardware_from_toml_text(text, FILE)
    err = excinfo.value
    assert err.file == FILE and str(err).startswith(FILE)
    if field is None:
        assert err.line is not None and "syntax" in err.message
    else:
        assert err.field == field, str(err)
        assert field in str(err)
