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
And os / ws / is are instances of the one mapping record: the named systolic record and the record the shipped
directive file translates into spread the same GEMM dimensions over the array's rows and columns and stream the
same one in time.
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive
from sim.analytical.systolic import layer_compute_cycles
from sim.engine.directives import simulate_directive_layer
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.directives import map_directive
from sim.mapping.record import Mapping
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer
from sim.workload.maestro import parse_dataflow

MAPPINGS = Path(__file__).parents[2] / "mappings"
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def directive_file(dataflow: str, cols: int):
    """The shipped 32 x 32 file with the array's columns written in (its header says how)."""
    return parse_dataflow((MAPPINGS / f"systolic_{dataflow}.m").read_text().replace("32", str(cols)))


def directive_array(pes: int, bandwidth: float, latency: int, convention: str = "native") -> Hardware:
    return Hardware(name="t", directive_array=DirectiveArraySpec(
        num_pes=pes, l1_size_bytes=1024, l2_size_bytes=1 << 20, noc_bandwidth_words_per_cycle=bandwidth,
        offchip_bandwidth_words_per_cycle=bandwidth, noc_latency_cycles=latency, cycle_convention=convention))


@st.composite
def gemm_layers(draw):
    if draw(st.booleans()):
        return Layer(name="g", kind="gemm", ifmap_h=draw(st.integers(1, 9)), in_channels=draw(st.integers(1, 9)),
                     out_channels=draw(st.integers(1, 9)))
    conv = Layer(name="c", ifmap_h=draw(st.integers(2, 5)), ifmap_w=draw(st.integers(2, 5)),
                 in_channels=draw(st.integers(1, 3)), out_channels=draw(st.integers(1, 6)), filter_h=2, filter_w=2)
    g = conv.gemm
    return Layer(name="c_as_gemm", kind="gemm", ifmap_h=g.m, in_channels=g.k, out_channels=g.n)


def unrolling(record: Mapping) -> tuple[tuple[str, int], tuple[str, int], str]:
    """(dimension, units) spread over the rows and over the columns, and the dimension streamed one per step.

    A systolic record names its axes; a directive record spreads level 0 over rows of the array (its sub-clusters)
    and the innermost level over the PEs of a row, and streams the dimension its level-0 size-1 temporal loop
    walks (the column folds walk the columns' dimension)."""
    if record.spatial_loop("rows") is not None:
        rows, cols = record.spatial_loop("rows"), record.spatial_loop("cols")
        return (rows.dim, rows.units), (cols.dim, cols.units), record.temporal_dim
    outer, inner = record.levels[0], record.levels[-1]
    rows = next(loop for loop in outer.loops if loop.spatial)
    cols = next(loop for loop in inner.loops if loop.spatial)
    sizes = record.problem.sizes
    streamed = [loop.dim for loop in outer.loops
                if not loop.spatial and loop.size == 1 and sizes[loop.dim] > 1 and loop.dim != cols.dim]
    return (rows.dim, rows.units), (cols.dim, cols.units), streamed[0] if streamed else ""


@SETTINGS
@given(gemm_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(1, 4), st.integers(1, 4))
def test_named_systolic_mappings_and_their_directive_files_are_the_same_record(layer, dataflow, rows, cols):
    systolic = array_mapping(layer, dataflow, rows, cols)
    directive = map_directive(layer, directive_array(rows * cols, 1.0, 0), directive_file(dataflow, cols))
    assert isinstance(systolic, Mapping) and isinstance(directive, Mapping)
    # Both describe the same GEMM (the directive view names MAESTRO's M, N, K; groups are 1 here).
    assert dict(systolic.problem.dims) == {"G": 1, **dict(directive.problem.dims)}
    expected = unrolling(systolic)
    got = unrolling(directive)
    assert got[:2] == expected[:2]
    sizes = systolic.problem.sizes
    if sizes[expected[2]] > 1:
        assert got[2] == expected[2]


@SETTINGS
@given(gemm_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(1, 4), st.integers(1, 4))
def test_systolic_directive_engine_three_way(layer, dataflow, rows, cols):
    systolic = array_mapping(layer, dataflow, rows, cols)
    directives = directive_file(dataflow, cols)
    ideal = directive_array(rows * cols, float("inf"), 0)
    engine = simulate_directive_layer(layer, ideal, directives, functional=True)
    model = estimate_directive(layer, directive_array(rows * cols, 10**9, 0, "maestro"), directives)
    assert estimate_directive(layer, ideal, directives).cycles == engine.cycles  # the native model
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
