"""Laws of the directive engine on random layers and random legal directive mappings.

- every MAC of the layer happens exactly once (count and functional execution with a coverage count),
  edge tiles and overlapping tiles included;
- halving the NoC bandwidth never reduces the cycles;
- with unlimited NoC / off-chip bandwidth and no NoC latency the engine is compute bound:
  cycles == compute_cycles. The directive analytical model (bandwidth 10**9, latency 0) is compute bound
  too; its runtime equals the engine's compute cycles for single-level mappings whose Y / X tiles hold
  whole windows (asserted), and differs elsewhere (its per-case edge-tile estimate; measured, see
  docs/directive_engine.md).
"""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive
from sim.engine.directives import simulate_directive_layer
from sim.hardware.load import load_hardware
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.workload.layer import Layer
from sim.workload.maestro import ClusterDirective, Dataflow, MapDirective, SizeExpr

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hardware(num_pes: int, noc: float = 4, offchip: float = 2, latency: int = 1, convention: str = "native",
             l2_size_bytes: int = 256, double_buffered: bool = True) -> Hardware:
    return Hardware(name="t", directive_array=DirectiveArraySpec(
        num_pes=num_pes, l1_size_bytes=1024, l2_size_bytes=l2_size_bytes, noc_bandwidth_words_per_cycle=noc,
        offchip_bandwidth_words_per_cycle=offchip, noc_latency_cycles=latency, cycle_convention=convention,
        double_buffered=double_buffered))


def lit(value: int) -> SizeExpr:
    return SizeExpr(value=value)


def directive(kind: str, size: int, offset: int, dim: str) -> MapDirective:
    return MapDirective(kind, lit(size), lit(offset), dim)


@st.composite
def layers(draw):
    stride = draw(st.integers(1, 2))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    out_y, out_x = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return Layer(name="L", ifmap_h=(out_y - 1) * stride + r, ifmap_w=(out_x - 1) * stride + s,
                 in_channels=draw(st.integers(1, 5)), out_channels=draw(st.integers(1, 5)), filter_h=r, filter_w=s,
                 stride_h=stride, stride_w=stride, batch=draw(st.integers(1, 2)))


def _level(draw, layer: Layer, extents: dict[str, int], overlap: bool) -> tuple[list[MapDirective], dict[str, int]]:
    """One cluster level: a tile per dimension (whole windows along Y / X), one of them spatial."""
    stride = layer.stride_h
    chosen: dict[str, tuple[int, int]] = {}
    for dim in ("N", "K", "C"):
        size = draw(st.integers(1, extents[dim]))
        offset = draw(st.integers(1, size)) if overlap else size
        chosen[dim] = (size, offset)
    for dim, window in (("Y", layer.filter_h), ("X", layer.filter_w)):
        windows = (extents[dim] - window) // stride + 1
        count = draw(st.integers(1, windows))
        chosen[dim] = ((count - 1) * stride + window, count * stride)
    chosen["R"] = (layer.filter_h, layer.filter_h)
    chosen["S"] = (layer.filter_w, layer.filter_w)
    order = draw(st.permutations(list(chosen)))
    spatial = draw(st.sampled_from(["N", "K", "C", "Y", "X"]))
    directives = [directive("spatial" if d == spatial else "temporal", *chosen[d], d) for d in order]
    return directives, {d: min(size, extents[d]) for d, (size, _) in chosen.items()}


@st.composite
def mappings(draw, layer: Layer):
    """(dataflow, num_pes): one or two cluster levels of random legal directives."""
    extents = {"N": layer.batch, "K": layer.out_channels, "C": layer.in_channels, "Y": layer.ifmap_h,
               "X": layer.ifmap_w, "R": layer.filter_h, "S": layer.filter_w}
    overlap = draw(st.booleans())
    outer, inner_extents = _level(draw, layer, extents, overlap)
    num_pes = draw(st.integers(1, 12))
    if draw(st.booleans()):
        cluster = draw(st.sampled_from([c for c in range(1, num_pes + 1) if num_pes % c == 0]))
        inner, _ = _level(draw, layer, inner_extents, False)
        return Dataflow(tuple(outer) + (ClusterDirective(lit(cluster)),) + tuple(inner)), num_pes
    return Dataflow(tuple(outer)), num_pes


@st.composite
def cases(draw):
    layer = draw(layers())
    dataflow, num_pes = draw(mappings(layer))
    return layer, dataflow, num_pes


@SETTINGS
@given(cases(), st.integers(0, 2**16))
def test_every_mac_happens_exactly_once(case, seed):
    layer, dataflow, num_pes = case
    result = simulate_directive_layer(layer, hardware(num_pes), dataflow, seed=seed, functional=True)
    assert result.macs == layer.macs
    assert result.actions.get("mac") == layer.macs
    assert result.functional is not None and result.functional.max_abs_error == 0.0


@SETTINGS
@given(cases(), st.sampled_from([1, 2, 3, 8]), st.integers(0, 3))
def test_halving_noc_bandwidth_never_reduces_cycles(case, bandwidth, latency):
    layer, dataflow, num_pes = case
    fast = simulate_directive_layer(layer, hardware(num_pes, noc=bandwidth, latency=latency), dataflow)
    slow = simulate_directive_layer(layer, hardware(num_pes, noc=bandwidth / 2, latency=latency), dataflow)
    assert slow.cycles >= fast.cycles
    assert slow.compute_cycles == fast.compute_cycles
    assert slow.actions == fast.actions  # bandwidth changes time, never what is moved


@SETTINGS
@given(cases())
def test_unlimited_bandwidth_is_compute_bound(case):
    layer, dataflow, num_pes = case
    unlimited = hardware(num_pes, noc=float("inf"), offchip=float("inf"), latency=0)
    result = simulate_directive_layer(layer, unlimited, dataflow)
    assert result.cycles == result.compute_cycles and result.stall_cycles == 0
    assert estimate_directive(layer, unlimited, dataflow).cycles == result.cycles  # the native model
    maestro = hardware(num_pes, noc=10**9, offchip=10**9, latency=0, convention="maestro")
    analytical = estimate_directive(layer, maestro, dataflow)
    single_level = not any(isinstance(d, ClusterDirective) for d in dataflow.directives)
    if single_level and layer.stride_h == 1:
        assert analytical.cycles == result.compute_cycles


@SETTINGS
@given(cases())
def test_energy_is_the_table_applied_to_the_counts(case):
    layer, dataflow, num_pes = case
    maestro = load_hardware(Path(__file__).parents[2] / "hw_configs" / "maestro" / "accelerator_1.m")
    hw = maestro.model_copy(update={"directive_array": hardware(num_pes).directive_array})
    result = simulate_directive_layer(layer, hw, dataflow)
    assert result.energy.total_pj == sum(result.energy.as_dict().values()) > 0
    assert result.energy.as_dict()["mac"] == layer.macs * hw.energy["mac"].pj
    counts = result.actions.as_dict()
    assert set(counts) == {"mac", "l1.read", "l1.write", "l2.read", "l2.write", "noc.transfer", "dram.read_byte",
                           "dram.write_byte"}
    assert counts["l1.read"] == 3 * layer.macs
    assert result.stall_cycles == result.cycles - result.compute_cycles >= 0
