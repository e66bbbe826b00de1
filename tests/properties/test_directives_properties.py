"""Laws of the directive (MAESTRO-style) model on random layers and random legal mappings."""
from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.analytical.directives import estimate_directive, runtime_grid
from sim.errors import MappingError
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.directives import map_layer_directives
from sim.workload.layer import Layer
from sim.workload.maestro import ClusterDirective, Dataflow, MapDirective, SizeExpr

SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: the profile


def hardware(num_pes: int, noc: int = 8, offchip: int = 4) -> Hardware:
    return Hardware(name="t", directive_array=DirectiveArraySpec(cycle_convention="maestro", 
        num_pes=num_pes, l1_size_bytes=1024, l2_size_bytes=65536, noc_bandwidth_words_per_cycle=noc,
        offchip_bandwidth_words_per_cycle=offchip))


def lit(value: int) -> SizeExpr:
    return SizeExpr(value=value)


@st.composite
def problems(draw):
    stride = draw(st.integers(1, 2))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    out_y, out_x = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    layer = Layer(name="L", ifmap_h=(out_y - 1) * stride + r, ifmap_w=(out_x - 1) * stride + s,
                  in_channels=draw(st.integers(1, 6)), out_channels=draw(st.integers(1, 6)), filter_h=r, filter_w=s,
                  stride_h=stride, stride_w=stride, batch=draw(st.integers(1, 2)))
    return layer


@st.composite
def tiles(draw, layer: Layer, outer: dict[str, tuple[int, int]] | None = None):
    """(size, offset) per dimension: whole windows along Y/X, plain tiles elsewhere, within `outer`'s tiles."""
    out: dict[str, tuple[int, int]] = {}
    stride = layer.stride_h
    extents = {"N": layer.batch, "K": layer.out_channels, "C": layer.in_channels}
    for dim, extent in extents.items():
        limit = outer[dim][0] if outer else extent
        size = draw(st.integers(1, limit))
        out[dim] = (size, size)
    for dim, window, windows in (("Y", layer.filter_h, layer.ofmap_h), ("X", layer.filter_w, layer.ofmap_w)):
        limit = (outer[dim][0] - window) // stride + 1 if outer else windows
        count = draw(st.integers(1, limit))
        out[dim] = ((count - 1) * stride + window, count * stride)
    out["R"] = (layer.filter_h, layer.filter_h)
    out["S"] = (layer.filter_w, layer.filter_w)
    return out


def level(draw, chosen: dict[str, tuple[int, int]]) -> list[MapDirective]:
    order = draw(st.permutations(list(chosen)))
    spatial = draw(st.sampled_from(order))
    return [MapDirective("spatial" if dim == spatial else "temporal", lit(chosen[dim][0]), lit(chosen[dim][1]), dim)
            for dim in order]


@st.composite
def mappings(draw):
    layer = draw(problems())
    num_pes = draw(st.integers(1, 12))
    outer = draw(tiles(layer))
    directives: list = level(draw, outer)
    if draw(st.booleans()) and num_pes > 1:
        cluster = draw(st.integers(1, num_pes))
        directives.append(ClusterDirective(lit(cluster)))
        directives.extend(level(draw, draw(tiles(layer, outer))))
    return layer, num_pes, Dataflow(tuple(directives))


@SETTINGS
@given(mappings())
def test_partial_sums_equal_layer_macs(case):
    layer, num_pes, dataflow = case
    result = estimate_directive(layer, hardware(num_pes), dataflow)
    extra = dict(result.extra)
    assert extra["Num MACs"] == layer.macs
    assert extra["MAC Coverage"] == 1.0
    assert result.macs == layer.macs


@SETTINGS
@given(mappings())
def test_buffers_hold_at_least_one_step_tile(case):
    layer, num_pes, dataflow = case
    extra = dict(estimate_directive(layer, hardware(num_pes), dataflow).extra)
    pe_input, pe_filter = extra["PE Input Tile (Elements)"], extra["PE Filter Tile (Elements)"]
    pe_output = extra["PE Output Tile (Elements)"]
    assert min(pe_input, pe_filter, pe_output) >= 1
    # L1 is double buffered: two copies of a PE's tile of each tensor.
    assert extra["L1 SRAM Size Req (Bytes)"] == 2 * (pe_input + pe_filter + pe_output)
    # L2 holds (twice) at least the first step's data, which includes one PE's input and filter tiles (with a
    # stride larger than the filter, the input rows no window reads are not fetched).
    if layer.stride_h <= layer.filter_h and layer.stride_w <= layer.filter_w:
        assert extra["L2 SRAM Size Req (Bytes)"] >= 2 * (pe_input + pe_filter)
    assert extra["L2 SRAM Size Req (Bytes)"] >= 2 * (pe_filter + 1)
    assert 1 <= extra["Avg number of utilized PEs"] <= num_pes


@SETTINGS
@given(mappings())
def test_reuse_factors_at_least_one_and_counts_consistent(case):
    layer, num_pes, dataflow = case
    result = estimate_directive(layer, hardware(num_pes), dataflow)
    extra = dict(result.extra)
    for tensor in ("input", "filter"):
        assert extra[f"{tensor} reuse factor"] >= 1.0
        # Every element of a tensor is read from L2 at least once (per its used footprint).
        assert extra[f"{tensor} l2 read"] >= 1
    assert result.cycles >= extra["Top Level Steps"]
    assert result.energy.total_pj == pytest.approx(sum(result.energy.as_dict().values()))
    assert 0 < result.utilization <= 1.0


@SETTINGS
@given(mappings(), st.data())
def test_order_of_whole_dimension_maps_does_not_matter(case, data):
    """Directives that map a dimension whole (one step) can be listed in any order: nothing changes."""
    layer, num_pes, dataflow = case
    directives = list(dataflow.directives)
    cut = next((i for i, d in enumerate(directives) if isinstance(d, ClusterDirective)), len(directives))
    top = directives[:cut]
    sizes = {"N": layer.batch, "K": layer.out_channels, "C": layer.in_channels, "R": layer.filter_h,
             "S": layer.filter_w, "Y": layer.ifmap_h, "X": layer.ifmap_w}
    whole = [i for i, d in enumerate(top) if d.kind == "temporal" and d.size.value >= sizes[d.dim]]
    if len(whole) < 2:
        return
    i, j = data.draw(st.sampled_from([(a, b) for a in whole for b in whole if a < b]))
    swapped = list(top)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    other = Dataflow(tuple(swapped + directives[cut:]))
    first = dict(estimate_directive(layer, hardware(num_pes), dataflow).extra)
    second = dict(estimate_directive(layer, hardware(num_pes), other).extra)
    for key in ("Runtime (Cycles)", "Num MACs", "L1 SRAM Size Req (Bytes)", "L2 SRAM Size Req (Bytes)",
                "NoC BW Req (Elements/cycle)", "input l2 read", "filter l2 read", "output l2 write"):
        assert first[key] == second[key], key


@settings(deadline=None)
@given(problems(), st.integers(1, 8), st.integers(1, 4))
def test_cluster_larger_than_pes_is_a_mapping_error(layer, num_pes, extra_pes):
    dataflow = Dataflow((MapDirective("spatial", lit(1), lit(1), "K"), ClusterDirective(lit(num_pes + extra_pes)),
                         MapDirective("spatial", lit(1), lit(1), "C")))
    with pytest.raises(MappingError, match="cluster larger than the PEs"):
        map_layer_directives(layer, dataflow, num_pes)


@settings(deadline=None)
@given(problems(), st.integers(2, 6), st.integers(2, 6))
def test_nested_cluster_that_does_not_divide_is_a_mapping_error(layer, inner, factor):
    outer = inner * factor + 1  # never a multiple of inner
    dataflow = Dataflow((MapDirective("spatial", lit(1), lit(1), "K"), ClusterDirective(lit(outer)),
                         MapDirective("spatial", lit(1), lit(1), "C"), ClusterDirective(lit(inner)),
                         MapDirective("spatial", lit(1), lit(1), "N")))
    with pytest.raises(MappingError, match="must divide"):
        map_layer_directives(layer, dataflow, math.lcm(outer, 64))


def test_level_without_spatial_map_and_skipping_offset_are_mapping_errors():
    layer = Layer(name="L", ifmap_h=4, ifmap_w=4, in_channels=2, out_channels=2)
    with pytest.raises(MappingError, match="needs a SpatialMap"):
        map_layer_directives(layer, Dataflow((MapDirective("temporal", lit(1), lit(1), "K"),)), 4)
    with pytest.raises(MappingError, match="offset larger than the map size"):
        map_layer_directives(layer, Dataflow((MapDirective("spatial", lit(1), lit(2), "K"),)), 4)


@SETTINGS
@given(mappings(), st.lists(st.integers(1, 40), min_size=1, max_size=3),
       st.lists(st.integers(1, 40), min_size=1, max_size=3))
def test_vectorized_bandwidth_grid_equals_point_by_point(case, nocs, offchips):
    layer, num_pes, dataflow = case
    grid = runtime_grid(layer, hardware(num_pes), dataflow, nocs, offchips)
    for i, noc in enumerate(nocs):
        for j, offchip in enumerate(offchips):
            assert grid[i, j] == estimate_directive(layer, hardware(num_pes, noc, offchip), dataflow).cycles
