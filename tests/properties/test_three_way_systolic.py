"""Three descriptions of os / ws / is on a rows x cols array: the systolic closed form, the directive
analytical model and the directive engine, on random small GEMM and conv layers (a conv as its im2col GEMM).

What is equal, exactly:
- MACs: layer MACs == engine MACs == the directive model's "Num MACs" == the systolic folds' MACs;
- steps: the engine's steps == systolic folds x T (one directive step per streamed element of each fold);
- compute cycles (engine, directive model compute bound) == folds x T: a directive step is one lock-step
  cycle of every PE;
- and the systolic native compute cycles == folds x T + sum over folds of (rows + used rows + used cols - 2):
  the skew and fill / drain of the systolic wavefront, which the directive descriptions do not have.
The engine's functional execution of the directive files is exact (every MAC once).
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive
from sim.analytical.systolic import layer_compute_cycles
from sim.engine.directives import simulate_directive_layer
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer
from sim.workload.maestro import parse_dataflow

MAPPINGS = Path(__file__).parents[2] / "mappings"
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def directive_file(dataflow: str, cols: int):
    """The shipped 32 x 32 file with the array's columns written in (its header says how)."""
    return parse_dataflow((MAPPINGS / f"systolic_{dataflow}.m").read_text().replace("32", str(cols)))


def directive_array(pes: int, bandwidth: float, latency: int) -> Hardware:
    return Hardware(name="t", directive_array=DirectiveArraySpec(
        num_pes=pes, l1_size_bytes=1024, l2_size_bytes=1 << 20, noc_bandwidth_words_per_cycle=bandwidth,
        offchip_bandwidth_words_per_cycle=bandwidth, noc_latency_cycles=latency))


@st.composite
def gemm_layers(draw):
    if draw(st.booleans()):
        return Layer(name="g", kind="gemm", ifmap_h=draw(st.integers(1, 9)), in_channels=draw(st.integers(1, 9)),
                     out_channels=draw(st.integers(1, 9)))
    conv = Layer(name="c", ifmap_h=draw(st.integers(2, 5)), ifmap_w=draw(st.integers(2, 5)),
                 in_channels=draw(st.integers(1, 3)), out_channels=draw(st.integers(1, 6)), filter_h=2, filter_w=2)
    g = conv.gemm
    return Layer(name="c_as_gemm", kind="gemm", ifmap_h=g.m, in_channels=g.k, out_channels=g.n)


@SETTINGS
@given(gemm_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(1, 4), st.integers(1, 4))
def test_systolic_directive_engine_three_way(layer, dataflow, rows, cols):
    systolic = array_mapping(layer, dataflow, rows, cols)
    directives = directive_file(dataflow, cols)
    ideal = directive_array(rows * cols, float("inf"), 0)
    engine = simulate_directive_layer(layer, ideal, directives, functional=True)
    model = estimate_directive(layer, directive_array(rows * cols, 10**9, 0), directives)
    folds_times_t = systolic.folds * systolic.temporal
    assert engine.macs == layer.macs == dict(model.extra)["Num MACs"]
    assert engine.functional is not None and engine.functional.max_abs_error == 0.0
    assert engine.folds == folds_times_t
    assert engine.compute_cycles == engine.cycles == model.cycles == folds_times_t
    used = systolic.fold_used
    skew = int((rows + used[:, 0] + used[:, 1] - 2).sum())
    assert layer_compute_cycles(systolic, "native") == folds_times_t + skew


@SETTINGS
@given(gemm_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(1, 4), st.integers(1, 4),
       st.integers(1, 4), st.integers(0, 3))
def test_systolic_directive_files_with_a_real_noc_only_add_stalls(layer, dataflow, rows, cols, bandwidth, latency):
    directives = directive_file(dataflow, cols)
    engine = simulate_directive_layer(layer, directive_array(rows * cols, bandwidth, latency), directives)
    systolic = array_mapping(layer, dataflow, rows, cols)
    assert engine.compute_cycles == systolic.folds * systolic.temporal
    assert engine.cycles >= engine.compute_cycles
