"""Register files, shared buffers and outer on-chip levels (issue 12 (f), sim.analytical.levels): under ideal
memory the engine and the closed form agree on cycles, every level's and operand's accesses and energy; energy is
the sum of its parts; every level reads at least the unique data it delivers; a level that cannot hold what the
mapping puts there is a MappingError naming the level and the operand."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.levels import check_registers
from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapper.space import layer_space
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import operand_totals
from sim.workload.layer import Layer
from tests.batch_checks import assert_batch_equals_records

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PRICES = {"mac": 0.5, "dram.read_byte": 100.0, "dram.write_byte": 110.0}


def hierarchy_hw(dataflow, rows, cols, registers, shared, partition, outer, sizes, bandwidth=math.inf):
    """A [[memory]] list: per-PE registers for `registers`, one buffer per operand or one shared by all three
    (statically partitioned or dynamic), optionally an outer level holding `outer`, then DRAM."""
    levels = [{"name": f"rf_{name}", "kind": "register_file", "operands": [name], "size_bytes": 4,
               "instances": rows * cols, "word_bytes": 1} for name in registers]
    if shared:
        level = {"name": "glb", "kind": "global_buffer", "operands": list(OPERANDS),
                 "size_bytes": sum(sizes) if partition else 3 * sizes[0],
                 "word_bytes": 4, "bandwidth_bytes_per_cycle": bandwidth}
        if partition:
            level["partition_bytes"] = dict(zip(OPERANDS, sizes))
        levels.append(level)
    else:
        levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size,
                    "word_bytes": 2, "bandwidth_bytes_per_cycle": bandwidth} for name, size in zip(OPERANDS, sizes)]
    if outer:
        levels.append({"name": "l2", "kind": "global_buffer", "operands": list(outer), "size_bytes": 1 << 16,
                       "word_bytes": 8, "bandwidth_bytes_per_cycle": bandwidth})
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS), "bandwidth_bytes_per_cycle": bandwidth})
    energy = {key: {"pj": pj, "source": "test"} for key, pj in PRICES.items()}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index + (action == "write"), "source": "test"}
    return Hardware(name="h", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow},
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 0}, memory=levels, energy=energy)


@st.composite
def layers(draw):
    widths = {"ofmap_bits": 8, "psum_bits": draw(st.sampled_from([16, 24])), "ifmap_bits": 8, "filter_bits": 8}
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)), **widths)
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=draw(st.integers(1, 3)), out_channels=draw(st.integers(1, 4)), filter_h=f, filter_w=f,
                 stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)), **widths)


hierarchies = st.tuples(
    st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
    st.lists(st.sampled_from(OPERANDS), unique=True, max_size=3), st.booleans(), st.booleans(),
    st.lists(st.sampled_from(OPERANDS), unique=True, max_size=3),
    st.lists(st.sampled_from([128, 512, 4096, 1 << 16]), min_size=3, max_size=3))


def _both(layer, hw):
    try:
        closed = estimate_systolic(layer, hw)
    except MappingError as error:
        with pytest.raises(MappingError):
            simulate_layer(layer, hw)
        assert error.field.startswith("memory.")
        return None, None
    return closed, simulate_layer(layer, hw)


@SETTINGS
@given(layers(), hierarchies)
def test_engine_equals_closed_form_on_every_level_under_ideal_memory(layer, point):
    hw = hierarchy_hw(*point)
    closed, engine = _both(layer, hw)
    if closed is None:
        return
    assert closed.levels == engine.levels and closed.levels
    assert (closed.cycles, closed.dram_reads, closed.dram_writes) == (engine.cycles, engine.dram_reads,
                                                                       engine.dram_writes)
    assert closed.actions == engine.actions
    assert closed.energy.total_pj == engine.energy.total_pj


@SETTINGS
@given(layers(), hierarchies)
def test_energy_is_the_sum_of_levels_and_macs_and_every_level_reads_what_it_delivers(layer, point):
    hw = hierarchy_hw(*point)
    closed, _ = _both(layer, hw)
    if closed is None:
        return
    parts = sum(counts.energy_pj for counts in closed.levels) + closed.macs * PRICES["mac"]
    assert math.isclose(closed.energy.total_pj, parts, rel_tol=1e-12)
    width = {"ifmap": 1, "filter": 1}
    unique = operand_totals(layer)
    for counts in closed.levels:
        if counts.operand in width:
            assert counts.read_bytes >= unique[counts.operand] * width[counts.operand], counts
        elif counts.level == "dram":
            assert counts.write_bytes >= unique["ofmap"], counts
        else:
            assert counts.read_bytes >= unique["ofmap"], counts
    # Each MAC reads its operands from a register file where there is one (Timeloop / ZigZag convention).
    for counts in closed.levels:
        if counts.level.startswith("rf_") and counts.operand != "ofmap":
            assert counts.reads == closed.macs


@SETTINGS
@given(layers(), hierarchies)
def test_a_level_bandwidth_bounds_cycles_and_engine_agrees_on_the_counts(layer, point):
    hw = hierarchy_hw(*point, bandwidth=4.0)
    closed, engine = _both(layer, hw)
    if closed is None:
        return
    assert closed.levels == engine.levels
    for name, busy in closed.extra:
        if name.endswith(".busy_cycles") and not name.startswith(("dram", "pe_array")):
            assert closed.cycles >= busy


def test_a_register_too_small_for_a_partial_sum_names_the_level_and_the_operand():
    hw = hierarchy_hw("ws", 2, 2, ["ofmap"], False, False, [], [4096] * 3)
    layer = Layer.gemm_layer("g", m=4, n=4, k=4, psum_bits=48, ofmap_bits=8)
    with pytest.raises(MappingError, match="rf_ofmap.*ofmap") as info:
        estimate_systolic(layer, hw)
    assert info.value.field == "memory.0.size_bytes"


def test_a_shared_buffer_too_small_for_a_tile_names_the_level_and_the_operand():
    hw = hierarchy_hw("os", 4, 4, [], True, True, [], [2, 4096, 4096])
    layer = Layer.gemm_layer("g", m=64, n=64, k=64)
    with pytest.raises(MappingError, match="level 'glb', operand ifmap") as info:
        estimate_systolic(layer, hw)
    assert info.value.field == "memory.0.size_bytes"
    with pytest.raises(MappingError, match="level 'glb', operand ifmap"):
        simulate_layer(layer, hw)


def test_an_outer_level_holding_the_partial_sums_keeps_them_off_dram():
    layer = Layer.gemm_layer("g", m=64, n=8, k=64, psum_bits=16, ofmap_bits=8)
    without = estimate_systolic(layer, hierarchy_hw("ws", 4, 4, [], False, False, [], [64, 4096, 64]))
    with_l2 = estimate_systolic(layer, hierarchy_hw("ws", 4, 4, [], False, False, ["ofmap"], [64, 4096, 64]))
    assert without.dram_reads.ofmap > 0 and with_l2.dram_reads.ofmap == 0
    assert with_l2.dram_writes.ofmap == 64 * 8
    l2 = next(counts for counts in with_l2.levels if counts.level == "l2")
    assert l2.write_bytes == without.dram_reads.ofmap * 2 + 64 * 8


@SETTINGS
@given(layers(), hierarchies, st.integers(0, 2**31))
def test_the_mappers_batched_scores_price_every_level_as_the_one_record_model(layer, point, seed):
    hw = hierarchy_hw(*point, bandwidth=4.0)
    try:
        space = layer_space(layer, hw)
        check_registers(layer, hw)
    except MappingError:
        return
    batch = space.all()
    if not len(batch):
        return
    picks = np.random.default_rng(seed).integers(0, len(batch), size=min(len(batch), 6))
    assert_batch_equals_records(layer, hw, batch, picks)
