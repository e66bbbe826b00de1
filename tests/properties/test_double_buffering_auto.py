"""double_buffered = "auto" (sim.mapping.buffering): the hardware can run a level as one buffer or two halves and the
mapping decides. With the decision as a random input the engine and the closed form agree wherever they agree
today (ideal memory: every number; a finite channel: the counts, the closed form a lower bound); a decision equal to
a static config's declaration gives that config's numbers exactly; the decision survives a mapping file; the mapper
on an "auto" config is never worse than on either static choice; a decision against a static declaration is a
MappingError naming the level."""
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic, estimate_systolic_mappings
from sim.engine.simulate import simulate_layer
from sim.errors import ConfigError, MappingError
from sim.hardware.load import load_hardware
from sim.hardware.spec import Hardware
from sim.mapper.search import objective_of, search_layer
from sim.mapping.buffering import auto_decision, declarations, resolve
from sim.mapping.mapping_file import mappings_text, parse_mappings
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import DATAFLOW_NAMES, array_mapping, fit_mapping
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CHOICES = (True, False, "auto")


def auto_hw(dataflow, rows, cols, sizes, register_bytes, declared, stationary, shared=False, bandwidth=math.inf):
    """Per-PE registers for filter and ifmap (the ws / is stationary operands), a buffer per operand (or ifmap and
    ofmap sharing one), DRAM; `declared`: each on-chip level's double_buffered, in order; `stationary`: the
    pe_array's double_buffered_stationary."""
    levels = [{"name": f"rf_{name}", "kind": "register_file", "operands": [name], "size_bytes": register_bytes,
               "instances": rows * cols} for name in ("filter", "ifmap")]
    if shared:
        levels += [{"name": "filter_buf", "kind": "global_buffer", "operands": ["filter"], "size_bytes": sizes[1]},
                   {"name": "glb", "kind": "global_buffer", "operands": ["ifmap", "ofmap"],
                    "size_bytes": 2 * sizes[0]}]
    else:
        levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size}
                   for name, size in zip(OPERANDS, sizes)]
    for level, value in zip(levels, declared):
        level["double_buffered"] = value
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS), "bandwidth_bytes_per_cycle": bandwidth})
    energy = {"mac": {"pj": 0.5, "source": "test"}, "dram.read_byte": {"pj": 100.0, "source": "test"},
              "dram.write_byte": {"pj": 110.0, "source": "test"}, "leakage.cycle": {"pj": 3.0, "source": "test"}}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index + (action == "write"), "source": "test"}
    return Hardware(name="h", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "double_buffered_stationary": stationary},
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 0}, memory=levels, energy=energy)


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=draw(st.integers(1, 3)), out_channels=draw(st.integers(1, 4)), filter_h=f, filter_w=f,
                 stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)))


@st.composite
def points(draw):
    """(dataflow, rows, cols, buffer sizes, register bytes, declarations, stationary, shared): some level "auto"."""
    shared = draw(st.booleans())
    declared = draw(st.lists(st.sampled_from(CHOICES), min_size=4 + (not shared), max_size=4 + (not shared)))
    return (draw(st.sampled_from(["os", "ws", "is"])), draw(st.integers(1, 6)), draw(st.integers(1, 6)),
            draw(st.lists(st.sampled_from([64, 256, 1024, 1 << 16]), min_size=3, max_size=3)),
            draw(st.sampled_from([2, 4, 8])), declared, draw(st.sampled_from(CHOICES)), shared)


def _record(layer, hw, data):
    """A random record of the config's dataflow (F, chunks) with a random decision on the "auto" levels that is
    consistent with the static ones; None when it does not fit."""
    flow = hw.pe_array.dataflow
    try:
        base = fit_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, hw.buffers)
    except MappingError:
        return None
    fill = 1 if flow == "os" else data.draw(st.integers(1, max(base.row_folds, 1)))
    chunks = data.draw(st.integers(base.chunks, max(base.temporal, base.chunks)))
    record = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, chunks=chunks, whole=base.whole,
                           row_folds_per_fill=fill)
    declared = declarations(hw, record.stationary)
    picked = [name for name, value in declared.items()
              if value is True or (value == "auto" and data.draw(st.booleans()))]
    record = replace(record, double_buffered=tuple(picked))
    try:
        estimate_systolic(layer, hw, record)
    except MappingError:
        return None
    return record


def _static(hw, record):
    """The config that declares `record`'s decision: each "auto" level true or false as decided, the stationary
    preload as resolved."""
    buffering = resolve(hw, record)
    memory = tuple(level.model_copy(update={"double_buffered": level.name in buffering.doubled})
                   if level.double_buffered == "auto" else level for level in hw.memory)
    stationary = hw.pe_array.double_buffered_stationary
    if stationary == "auto":
        stationary = buffering.stationary_preload
    return Hardware(name=hw.name, pe_array=hw.pe_array.model_copy(update={"double_buffered_stationary": stationary}),
                    dram=hw.dram, memory=[level.model_dump() for level in memory],
                    energy={key: entry.model_dump() for key, entry in hw.energy.items()})


def strip(result):
    return replace(result, sim_wall_s=0.0)


@SETTINGS
@given(layers(), points(), st.data())
def test_engine_equals_closed_form_with_the_decision_as_an_input(layer, point, data):
    hw = auto_hw(*point)
    record = _record(layer, hw, data)
    if record is None:
        return
    closed, engine = estimate_systolic(layer, hw, record), simulate_layer(layer, hw, record)
    assert (closed.cycles, closed.compute_cycles, closed.levels) == (engine.cycles, engine.compute_cycles,
                                                                      engine.levels)
    assert closed.actions == engine.actions and closed.energy.total_pj == engine.energy.total_pj
    # The batch closed form with the decision per candidate: the point's numbers.
    declared = declarations(hw, record.stationary)
    batch = estimate_systolic_mappings(
        layer, hw, np.array([DATAFLOW_NAMES.index(record.dataflow)]), np.array([record.chunks]),
        {name: np.array([name in record.whole]) for name in OPERANDS},
        row_folds_per_fill=np.array([record.row_folds_per_fill]),
        streamed_per_stationary_read=np.array([record.streamed_per_stationary_read]),
        double_buffered={name: np.array([name in record.double_buffered]) for name, value in declared.items()
                         if value == "auto"})
    assert bool(batch["valid"][0])
    assert int(batch["cycles"][0]) == closed.cycles
    assert math.isclose(float(batch["energy_pj"][0]), closed.energy.total_pj, rel_tol=1e-12)
    # A finite channel: the same counts, the closed form a lower bound of the engine's timeline.
    slow = auto_hw(*point, bandwidth=2.0)
    closed, engine = estimate_systolic(layer, slow, record), simulate_layer(layer, slow, record)
    assert (closed.dram_reads, closed.dram_writes, closed.sram_reads) == (engine.dram_reads, engine.dram_writes,
                                                                           engine.sram_reads)
    assert closed.cycles <= engine.cycles


@SETTINGS
@given(layers(), points(), st.sampled_from([math.inf, 2.0]), st.data())
def test_a_decision_equal_to_a_static_declaration_gives_that_configs_numbers(layer, point, bandwidth, data):
    hw = auto_hw(*point, bandwidth=bandwidth)
    record = _record(layer, hw, data)
    if record is None:
        return
    static = _static(hw, record)
    plain = replace(record, double_buffered=None)
    assert strip(estimate_systolic(layer, hw, record)) == strip(estimate_systolic(layer, static, plain))
    assert strip(simulate_layer(layer, hw, record)) == strip(simulate_layer(layer, static, plain))


@SETTINGS
@given(layers(), points(), st.data())
def test_the_rule_doubles_exactly_the_levels_the_tiles_fit_half_of(layer, point, data):
    hw = auto_hw(*point)
    record = _record(layer, hw, data)
    if record is None:
        return
    decided = auto_decision(layer, hw, replace(record, double_buffered=None))
    estimate_systolic(layer, hw, decided)  # valid
    declared = declarations(hw, record.stationary)
    for name, value in declared.items():
        if value != "auto" or name in decided.double_buffered:
            continue
        # Not doubled: running this level in halves (with the rule's others) does not fit the record's tiles.
        more = replace(decided, double_buffered=decided.double_buffered + (name,))
        with pytest.raises(MappingError):
            estimate_systolic(layer, hw, more)


@SETTINGS
@given(layers(), points(), st.data())
def test_the_decision_survives_a_mapping_file(layer, point, data):
    hw = auto_hw(*point)
    record = _record(layer, hw, data)
    if record is None:
        return
    for decision in (record.double_buffered, None, ()):
        written = replace(record, double_buffered=decision)
        assert parse_mappings(mappings_text({layer.name: written}))[layer.name] == written


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers(), points(), st.sampled_from(["latency", "energy", "edp"]))
def test_the_mapper_on_auto_is_never_worse_than_on_either_static_choice(layer, point, objective):
    dataflow, rows, cols, sizes, register_bytes, declared, stationary, shared = point
    best = {}
    for name, value in (("auto", "auto"), ("halves", True), ("single", False)):
        hw = auto_hw(dataflow, rows, cols, sizes, register_bytes, [value] * len(declared), value, shared,
                     bandwidth=2.0)
        try:
            found = search_layer(layer, hw, objective=objective, budget=1 << 20, top_k=0)
        except MappingError:
            continue
        best[name] = float(objective_of(objective, found.best.cycles, found.best.energy_pj))
    if "auto" not in best:
        assert not best  # the whole levels fit whatever the halves fit
        return
    assert all(best["auto"] <= value * (1 + 1e-12) for value in best.values()), best


def test_a_decision_against_a_static_declaration_names_the_level():
    layer = Layer.gemm_layer("g", m=8, n=8, k=8)
    hw = auto_hw("ws", 4, 4, [1024] * 3, 8, [True, False, "auto", "auto", False], "auto")
    record = fit_mapping(layer, "ws", 4, 4, hw.buffers)
    with pytest.raises(MappingError, match="level 'rf_filter' is declared double_buffered = true"):
        estimate_systolic(layer, hw, replace(record, double_buffered=()))
    with pytest.raises(MappingError, match="level 'ofmap_buf' is declared double_buffered = false"):
        simulate_layer(layer, hw, replace(record, double_buffered=("ofmap_buf", "rf_filter")))
    with pytest.raises(MappingError, match="no such on-chip level") as info:
        estimate_systolic(layer, hw, replace(record, double_buffered=("rf_filter", "sram_9")))
    assert info.value.field == "mapping.double_buffered"
    # The rule: an "auto" level the tiles fit half of runs double-buffered; None on "auto" runs single.
    decided = auto_decision(layer, hw, record)
    assert set(decided.double_buffered) == {"rf_filter", "filter_buf", "ifmap_buf"}
    assert resolve(hw, record).operand_doubled() == {"ifmap": False, "filter": False, "ofmap": False}
    assert resolve(hw, decided).operand_doubled() == {"ifmap": True, "filter": True, "ofmap": False}


def test_auto_is_an_allowed_value_and_anything_else_is_named(tmp_path):
    text = (ROOT / "hw_configs" / "zigzag_eyeriss_like.toml").read_text()
    assert text.count('double_buffered = "auto"') == 6
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('double_buffered = "auto"', 'double_buffered = "yes"', 1))
    with pytest.raises(ConfigError, match="memory.0.double_buffered.*allowed: true or false or 'auto'"):
        load_hardware(bad)
    hw = load_hardware(ROOT / "hw_configs" / "zigzag_eyeriss_like.toml")
    assert hw.buffers.ifmap.double_buffered == "auto" and hw.pe_array.double_buffered_stationary == "auto"


def test_the_mapper_reports_and_writes_its_decision():
    from sim.mapper.report import result_dict
    from sim.mapper.search import map_trace
    from sim.workload.trace import Trace

    hw = auto_hw("ws", 4, 4, [256, 256, 1024], 8, ["auto"] * 5, "auto", bandwidth=2.0)
    layer = Layer.gemm_layer("g", m=16, n=8, k=24)
    result = map_trace(Trace(name="t", layers=(layer,)), hw, top_k=1)
    chosen = result.layers[0].best.mapping
    assert chosen.double_buffered is not None
    assert result_dict(result)["layers"][0]["double_buffered"] == list(chosen.double_buffered)
    assert parse_mappings(mappings_text(result.mappings()))["g"] == chosen
    # The decided record runs in the engine with the numbers the mapper validated.
    assert simulate_layer(layer, hw, chosen).cycles == result.layers[0].best.engine_cycles
