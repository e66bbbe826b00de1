"""The closed form's timing with single-buffered operands (issue 13): a one-slot buffer's tile changes are serialized
with the steps, as in the engine. The batched mapper score stays equal to the one-record model, the closed form
never exceeds the engine by more than 5 %, and on the mappings the issue measured it is within 5 % of the engine."""
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapper.space import layer_space
from sim.mapping.record import OPERANDS
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer
from tests.batch_checks import assert_batch_equals_records

ROOT = Path(__file__).parents[2]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hierarchy_hw(rows: int, cols: int, sizes: list[int], single: list[bool], register_bytes: int) -> Hardware:
    """A per-PE weight register (so ws holds several row folds per fill), one staging buffer per operand, each
    single- or double-buffered, and a narrow DRAM (8 bytes a cycle, latency 1, as zigzag_tpu_like)."""
    levels = [{"name": "rf_w", "kind": "register_file", "operands": ["filter"], "size_bytes": register_bytes,
               "instances": rows * cols, "word_bytes": 1, "double_buffered": True},
              {"name": "rf_p", "kind": "register_file", "operands": ["ofmap"], "size_bytes": 4,
               "instances": rows * cols, "word_bytes": 1}]
    levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size,
                "word_bytes": 8, "double_buffered": not one} for name, size, one in zip(OPERANDS, sizes, single)]
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS), "bandwidth_bytes_per_cycle": 8.0,
                   "latency_cycles": 1})
    energy = {"mac": {"pj": 0.5, "source": "test"}, "dram.read_byte": {"pj": 100.0, "source": "test"},
              "dram.write_byte": {"pj": 110.0, "source": "test"}}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index, "source": "test"}
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": "ws"}, memory=levels, energy=energy,
                    dram={"bandwidth_bytes_per_cycle": 8.0, "latency_cycles": 1})


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(8, 96)), n=draw(st.integers(4, 48)),
                                k=draw(st.integers(8, 96)), ofmap_bits=8)
    f = draw(st.sampled_from([1, 3]))
    size = draw(st.integers(4, 12))
    return Layer(name="c", ifmap_h=size, ifmap_w=size, in_channels=draw(st.integers(2, 16)),
                 out_channels=draw(st.integers(2, 24)), filter_h=f, filter_w=f, pad_top=f // 2, pad_bottom=f // 2,
                 pad_left=f // 2, pad_right=f // 2, stride_h=draw(st.integers(1, 2)), ofmap_bits=8)


points = st.tuples(st.integers(2, 8), st.integers(2, 8),
                   st.lists(st.sampled_from([512, 2048, 8192, 1 << 20]), min_size=3, max_size=3),
                   st.lists(st.booleans(), min_size=3, max_size=3), st.sampled_from([2, 8, 32]))


def candidates(layer: Layer, hw: Hardware):
    try:
        batch = layer_space(layer, hw).all()
    except MappingError:
        return None
    return batch if len(batch) else None


@SETTINGS
@given(layers(), points, st.integers(0, 2**31))
def test_batched_scores_equal_the_one_record_model_single_or_double(layer, point, seed):
    hw = hierarchy_hw(*point)
    batch = candidates(layer, hw)
    if batch is None:
        return
    picks = np.random.default_rng(seed).integers(0, len(batch), size=min(len(batch), 8))
    assert_batch_equals_records(layer, hw, batch, picks)


@SETTINGS
@given(layers(), points, st.integers(0, 2**31))
def test_closed_form_is_at_most_5_percent_above_the_engine(layer, point, seed):
    # Random candidates of the mapper's space (F, chunks, chunk order, whole flags), single or double buffering per
    # operand: the serialization never prices more than the engine's timeline does (5 % for its averages).
    hw = hierarchy_hw(*point)
    batch = candidates(layer, hw)
    if batch is None:
        return
    record = batch.record(layer, hw, int(np.random.default_rng(seed).integers(0, len(batch))))
    model, engine = estimate_systolic(layer, hw, record), simulate_layer(layer, hw, record)
    assert model.compute_cycles <= model.cycles <= 1.05 * engine.cycles
    assert model.energy.total_pj == pytest.approx(engine.energy.total_pj, rel=1e-9)


# The mappings issue 13 measured on zigzag_tpu_like (ResNet-18, 8-bit): (layer, chunks of T, whole, F), the engine's
# cycles, and the closed form's before the serialization (for the record).
ISSUE_CASES = [
    ("layer3.0.conv2", 196, ("ifmap",), 18, 243_918, 124_037),
    ("layer3.0.conv2", 196, ("ifmap", "ofmap"), 18, 124_037, 124_037),
    ("layer2.0.conv2", 11, (), 36, 224_792, 120_793),
    ("layer1.0.conv1", 22, (), 18, 229_480, 118_144),
    ("layer1.0.conv1", 3136, ("ifmap", "ofmap"), 1, 156_129, 140_381),
]


@pytest.fixture(scope="module")
def tpu_like():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_mapper import ZIGZAG_PRECISION

    hw = sim.load_hardware(ROOT / "hw_configs" / "zigzag_tpu_like.toml")
    layers = {layer.name: replace(layer, **ZIGZAG_PRECISION)
              for layer in sim.load_trace(ROOT / "traces" / "resnet18.csv").layers}
    return hw, layers


@pytest.mark.parametrize("name,chunks,whole,fill,engine_cycles,before", ISSUE_CASES)
def test_issue_cases_agree_with_the_engine_within_5_percent(tpu_like, name, chunks, whole, fill, engine_cycles,
                                                            before):
    hw, layers = tpu_like
    layer = layers[name]
    record = array_mapping(layer, "ws", hw.pe_array.rows, hw.pe_array.cols, chunks=chunks, whole=whole,
                           row_folds_per_fill=fill)
    # Measured when the config declared the weight registers double-buffered and sram_2mb single (now "auto").
    record = replace(record, double_buffered=("rf_128b",))
    model, engine = estimate_systolic(layer, hw, record), simulate_layer(layer, hw, record)
    assert engine.cycles == engine_cycles  # the engine's numbers did not change
    assert abs(engine.cycles / model.cycles - 1) <= 0.05
    assert model.energy.total_pj == pytest.approx(engine.energy.total_pj, rel=1e-9)
