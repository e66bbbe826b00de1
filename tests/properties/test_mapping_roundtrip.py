"""Mapping records as files: write -> read gives the identical record and identical numbers; every valid record of
the systolic family (not only the named fitted ones) gives engine DRAM traffic == the analytical model's."""
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive
from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.directives import from_record, map_directive, map_layer_directives, to_record
from sim.mapping.mapping_file import mappings_text, parse_mappings
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import array_mapping, fit_mapping, operand_totals
from sim.workload.layer import Layer
from sim.workload.maestro import parse_dataflow

MAPPINGS = Path(__file__).parents[2] / "mappings"
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 24)), n=draw(st.integers(1, 12)),
                                k=draw(st.integers(1, 24)))
    groups = draw(st.sampled_from([1, 2]))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 7)), ifmap_w=draw(st.integers(f, 7)),
                 in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                 filter_h=f, filter_w=f, stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 groups=groups)


def systolic_hw(dataflow: str, rows: int, cols: int, sizes: list[int]) -> Hardware:
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow},
                    buffers={name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)},
                    dram={"bandwidth_bytes_per_cycle": 4.0, "latency_cycles": 3})


def same_numbers(a, b) -> bool:
    return replace(a, sim_wall_s=0.0) == replace(b, sim_wall_s=0.0)


hardware = st.tuples(st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
                     st.lists(st.sampled_from([64, 256, 1024, 1 << 20]), min_size=3, max_size=3))


@SETTINGS
@given(layers(), hardware)
def test_write_read_gives_the_identical_record_and_identical_numbers(layer, point):
    hw = systolic_hw(*point)
    try:
        mapping = fit_mapping(layer, point[0], point[1], point[2], hw.buffers)
    except MappingError:
        return
    text = mappings_text({layer.name: mapping})
    back = parse_mappings(text)[layer.name]
    assert back == mapping and mappings_text({layer.name: back}) == text
    assert same_numbers(estimate_systolic(layer, hw, back), estimate_systolic(layer, hw, mapping))
    assert same_numbers(simulate_layer(layer, hw, back), simulate_layer(layer, hw, mapping))


@SETTINGS
@given(layers(), hardware, st.integers(0, 4), st.data())
def test_any_valid_record_runs_with_engine_traffic_equal_to_the_closed_form(layer, point, extra_chunks, data):
    """More chunks than the fewest, or an operand streamed although it would fit whole: still a valid mapping, and
    the engine's DRAM counts equal the analytical model's for it."""
    hw = systolic_hw(*point)
    try:
        fitted = fit_mapping(layer, point[0], point[1], point[2], hw.buffers)
    except MappingError:
        return
    whole = tuple(name for name in fitted.whole if data.draw(st.booleans()))
    chunks = min(fitted.chunks + extra_chunks, fitted.temporal)
    mapping = array_mapping(layer, point[0], point[1], point[2], chunks=chunks, whole=whole)
    try:
        engine = simulate_layer(layer, hw, mapping)
    except MappingError as error:  # streaming a formerly whole operand may need more chunks than were given
        with pytest.raises(MappingError, match=str(error.message)[:30]):
            estimate_systolic(layer, hw, mapping)
        return
    model = estimate_systolic(layer, hw, mapping)
    assert (engine.dram_reads, engine.dram_writes) == (model.dram_reads, model.dram_writes)
    assert engine.macs == model.macs == layer.macs
    assert engine.cycles >= model.cycles
    if whole == fitted.whole and chunks == fitted.chunks:
        assert mapping == fitted


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(sorted(p.name for p in MAPPINGS.glob("*.m"))), st.integers(2, 6), st.integers(1, 4),
       st.integers(1, 3), st.sampled_from([1, 2]))
def test_directive_files_translate_to_the_record_and_back_exactly(name, size, channels, filters, stride):
    dataflow = parse_dataflow((MAPPINGS / name).read_text())
    layer = Layer(name="c", ifmap_h=size + 2, ifmap_w=size + 3, in_channels=channels, out_channels=filters,
                  filter_h=3, filter_w=3, stride_h=stride, stride_w=stride)
    hw = Hardware(name="d", directive_array=DirectiveArraySpec(
        num_pes=64, l1_size_bytes=1024, l2_size_bytes=1 << 20, noc_bandwidth_words_per_cycle=8,
        offchip_bandwidth_words_per_cycle=8, noc_latency_cycles=1))
    try:
        view = map_layer_directives(layer, dataflow, 64)
    except MappingError:
        return
    record = to_record(view)
    assert from_record(record, 64) == view
    back = parse_mappings(mappings_text({"c": record}))["c"]
    assert back == record
    assert (map_directive(layer, hw, dataflow).problem, map_directive(layer, hw, dataflow).levels) == (
        record.problem, record.levels)
    assert same_numbers(estimate_directive(layer, hw, back), estimate_directive(layer, hw, dataflow))


def test_a_record_for_another_layer_is_refused_by_every_model():
    layer, other = Layer.gemm_layer("a", m=8, n=8, k=8), Layer.gemm_layer("b", m=9, n=8, k=8)
    hw = systolic_hw("ws", 4, 4, [1 << 20] * 3)
    mapping = fit_mapping(other, "ws", 4, 4, hw.buffers)
    for model in (estimate_systolic, simulate_layer):
        with pytest.raises(MappingError, match="mapping.problem: mapping 'ws' is for another problem than layer 'a'"):
            model(layer, hw, mapping)


def test_a_whole_operand_that_does_not_fit_names_the_level_and_the_operand():
    layer = Layer.gemm_layer("a", m=64, n=8, k=8)
    hw = systolic_hw("ws", 4, 4, [256, 1 << 20, 1 << 20])
    mapping = array_mapping(layer, "ws", 4, 4, chunks=8, whole=("ifmap",))
    assert operand_totals(layer)["ifmap"] == 512
    with pytest.raises(MappingError, match="buffers.ifmap.size_kb: the mapping holds the whole ifmap tensor "
                                           "\\(512 elements\\) in the global buffer"):
        estimate_systolic(layer, hw, mapping)


def test_too_few_chunks_name_the_loop():
    layer = Layer.gemm_layer("a", m=64, n=8, k=8)
    hw = systolic_hw("ws", 4, 4, [64, 1 << 20, 1 << 20])  # ifmap slot 32 elements: 4 rows x 8 of M a chunk
    assert fit_mapping(layer, "ws", 4, 4, hw.buffers).chunks == 8
    with pytest.raises(MappingError, match="dram.M.parts: 2 chunks of M leave streamed tiles larger than a buffer "
                                           "slot.*allowed: 8..64"):
        simulate_layer(layer, hw, array_mapping(layer, "ws", 4, 4, chunks=2))


def test_precision_per_operand_defaults_to_today_and_a_distinct_psum_width_runs():
    layer = Layer.gemm_layer("a", m=8, n=8, k=8, ifmap_bits=4, filter_bits=2)
    assert layer.precision == {"ifmap": 4, "filter": 2, "psum": 32, "ofmap": 32}
    assert replace(layer, psum_bits=32, ofmap_bits=8).precision == {"ifmap": 4, "filter": 2, "psum": 32, "ofmap": 8}
    hw = systolic_hw("ws", 4, 4, [1 << 20] * 3)
    narrow = replace(layer, psum_bits=24)
    # Run, not refused: partial sums at their own width (tests/properties/test_psum_precision.py).
    for model in (estimate_systolic, simulate_layer):
        assert model(narrow, hw, fit_mapping(narrow, "ws", 4, 4, hw.buffers)).macs == narrow.macs
    assert same_numbers(estimate_systolic(replace(layer, psum_bits=32), hw), estimate_systolic(layer, hw))
    with pytest.raises(Exception, match="psum_bits: partial-sum precision too wide"):
        replace(layer, psum_bits=65)
