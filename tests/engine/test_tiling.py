"""Tile planning: footprints equal a brute-force im2col count; chunks fit their slots; cycles are conserved; plans
equal the step-by-step reference below (the planner before it was rewritten for speed) field by field."""
import dataclasses
import math
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import fold_cycles
from sim.engine.pe_array import step_schedule
from sim.engine.tiling import (
    OPERANDS,
    REGION_BASE,
    LayerPlan,
    Tile,
    _chunked_steps,
    _ifmap_footprints,
    ifmap_footprint,
    plan_layer,
)
from sim.errors import MappingError
from sim.hardware.spec import BuffersSpec
from sim.mapping.footprint import is_plain_matrix, real_plane
from sim.mapping.operands import ifmap_matrix
from sim.mapping.record import Mapping
from sim.mapping.systolic import array_mapping, buffer_slots, fit_mapping
from sim.workload.layer import Layer


@st.composite
def conv_layers(draw):
    kind = draw(st.sampled_from(["conv", "tconv"]))
    f = draw(st.integers(1, 3))
    stride = draw(st.integers(1, 2))
    pad = draw(st.integers(0, f - 1 if kind == "tconv" else f // 2))
    dilation = draw(st.integers(1, 2))
    size = draw(st.integers(dilation * (f - 1) + 1, 7))
    return Layer(name="x", kind=kind, ifmap_h=size, ifmap_w=size + 1, in_channels=draw(st.integers(1, 3)),
                 out_channels=2, filter_h=f, filter_w=f, stride_h=stride, stride_w=stride, pad_top=pad,
                 pad_bottom=pad, pad_left=pad, pad_right=pad, dilation_h=dilation, dilation_w=dilation,
                 batch=draw(st.integers(1, 2)))


def _block(layer, data):
    """A random non-empty im2col block (rows m0:m1, columns k0:k1) of `layer`."""
    g = layer.gemm
    m0 = data.draw(st.integers(0, g.m - 1))
    m1 = data.draw(st.integers(m0 + 1, g.m))
    k0 = data.draw(st.integers(0, g.k - 1))
    k1 = data.draw(st.integers(k0 + 1, g.k))
    return m0, m1, k0, k1


@settings(max_examples=40)
@given(conv_layers(), st.data())
def test_ifmap_footprint_equals_distinct_pixels_of_the_im2col_block(layer, data):
    m0, m1, k0, k1 = _block(layer, data)
    ids = np.arange(1, layer.ifmap_elements + 1, dtype=np.int64).reshape(
        layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)
    block = ifmap_matrix(layer, ids)[0, m0:m1, k0:k1]
    expected = np.unique(block[block > 0]).size  # 0 marks padding / inserted zeros
    assert ifmap_footprint(layer, m0, m1, k0, k1) == expected


def buffers(kb):
    sram = {"size_kb": kb}
    return BuffersSpec(ifmap=sram, filter=sram, ofmap=sram)


@settings(max_examples=30)
@given(st.integers(1, 40), st.integers(1, 20), st.integers(1, 40), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from([0.25, 1.0, 64.0]))
def test_steps_conserve_cycles_and_tiles_fit_their_slots(m, n, k, dataflow, kb):
    layer = Layer.gemm_layer("g", m=m, n=n, k=k)
    mapping = fit_mapping(layer, dataflow, 4, 4, buffers(kb))
    cycles = fold_cycles(mapping, "native")
    plan = plan_layer(layer, buffers(kb), mapping, cycles)
    assert plan.compute_cycles == int(cycles.sum())
    assert sorted(set(plan.steps[:, 0].tolist())) == list(range(mapping.folds))
    for name, tiles in plan.tiles.items():
        assert all(t.elements <= plan.slot_elements[name] for t in tiles)
        assert np.all(np.diff(plan.steps[:, 2 + ("ifmap", "filter", "ofmap").index(name)]) >= 0)


def test_a_stationary_block_larger_than_a_slot_is_a_mapping_error():
    layer = Layer.gemm_layer("g", m=64, n=64, k=64)
    # a 32x32 filter block = 1024 bytes > 512-byte slot
    with pytest.raises(MappingError, match="buffers.filter.size_kb: .*stationary filter block.*got 512"):
        fit_mapping(layer, "ws", 32, 32, buffers(1.0))
    mapping = array_mapping(layer, "ws", 32, 32)  # the same record written by hand: refused by the planner too
    with pytest.raises(MappingError, match="stationary filter block"):
        plan_layer(layer, buffers(1.0), mapping, fold_cycles(mapping, "native"))


def test_double_buffering_halves_the_slot():
    layer = Layer.gemm_layer("g", m=4, n=4, k=4)
    slots, slot = buffer_slots(buffers(1.0), layer)
    assert slots["ifmap"] == 2 and slot["ifmap"] == 512 and slot["ofmap"] == 128  # 32-bit ofmap elements
    assert math.isclose(slot["filter"] * slots["filter"], 1024)


# ---------------------------------------------------------------- references: the planner before its rewrite
def reference_ifmap_footprint(layer: Layer, m0: int, m1: int, k0: int, k1: int) -> int:
    """Distinct stored ifmap pixels x channels of the block, from boolean planes: one plane per (r, s) tap marks
    the pixels the rows touch; per channel segment, the union of the planes of the taps covering it."""
    if is_plain_matrix(layer):
        return (m1 - m0) * (k1 - k0)
    channels = layer.in_channels // layer.groups
    e, f = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    rows = np.zeros(layer.batch * e * f, dtype=bool)
    rows[m0:m1] = True
    rows = rows.reshape(layer.batch, e, f)
    real = real_plane(layer)
    height, width = real.shape
    first, last = k0 // channels, (k1 - 1) // channels
    planes = []
    for pair in range(first, last + 1):
        r, s = divmod(pair, layer.filter_w)
        plane = np.zeros((layer.batch, height, width), dtype=bool)
        top, left = r * layer.dilation_h, s * layer.dilation_w
        plane[:, top:top + stride_h * (e - 1) + 1:stride_h, left:left + stride_w * (f - 1) + 1:stride_w] = rows
        c_lo = k0 - pair * channels if pair == first else 0
        c_hi = k1 - pair * channels if pair == last else channels
        planes.append((plane & real, c_lo, c_hi))
    cuts = sorted({c for _, lo, hi in planes for c in (lo, hi)})
    total = 0
    for a, b in pairwise(cuts):
        covering = [plane for plane, lo, hi in planes if lo <= a and hi >= b]
        if covering:
            total += int(np.logical_or.reduce(covering).sum()) * (b - a)
    return total


def reference_plan_layer(layer: Layer, buffers: BuffersSpec, mapping: Mapping,
                         fold_cycles: np.ndarray) -> LayerPlan:
    """The plan built step by step: chunk each fold, and look up or create each operand's tile per step."""
    bits = {"ifmap": layer.ifmap_bits, "filter": layer.filter_bits, "ofmap": layer.ofmap_bits}
    slots, slot = buffer_slots(buffers, layer)
    gemm = layer.gemm
    m_total, k_total, n_total = gemm.m, gemm.k, gemm.n
    # A whole ifmap is the elements the layer reads (a stride above the filter skips some), by the plane reference.
    read = reference_ifmap_footprint(layer, 0, m_total, 0, k_total) * gemm.groups if m_total and k_total else 0
    totals = {"ifmap": read, "filter": gemm.groups * k_total * n_total, "ofmap": layer.ofmap_elements}
    whole = {name: name in mapping.whole for name in OPERANDS}
    elem_bytes = {name: -(-bits[name] // 8) for name in OPERANDS}
    temporal_axis = mapping.axes[2]
    steps, tiles = [], {name: [] for name in OPERANDS}
    current = dict.fromkeys(OPERANDS)
    last_of_key = {}

    def tile_index(name, block):
        group, m0, m1, k0, k1, n0, n1 = block
        key = ("whole",) if whole[name] else {
            "ifmap": (group, m0, m1, k0, k1), "filter": (group, k0, k1, n0, n1), "ofmap": (group, m0, m1, n0, n1),
        }[name]
        if current[name] == key:
            return len(tiles[name]) - 1
        base = REGION_BASE[name]
        if whole[name]:
            tile = Tile(totals[name], base, key)
        elif name == "ifmap":
            tile = Tile(reference_ifmap_footprint(layer, m0, m1, k0, k1),
                        base + ((group * m_total + m0) * k_total + k0) * elem_bytes[name], key)
        elif name == "filter":
            tile = Tile((k1 - k0) * (n1 - n0), base + ((group * k_total + k0) * n_total + n0) * elem_bytes[name], key)
        else:
            elements = (m1 - m0) * (n1 - n0)
            previous = last_of_key.get(key, -1)
            tile = Tile(elements, base + ((group * m_total + m0) * n_total + n0) * elem_bytes[name], key,
                        elements if previous >= 0 else 0, previous)
            if previous >= 0:  # the earlier drain of this block was partial sums, read back now
                tiles[name][previous] = dataclasses.replace(tiles[name][previous], partial=True)
            last_of_key[key] = len(tiles[name])
        tiles[name].append(tile)
        current[name] = key
        return len(tiles[name]) - 1

    all_cycles = np.asarray(fold_cycles).tolist()
    for fold, (group, m0, m1, k0, k1, n0, n1) in enumerate(np.asarray(mapping.fold_bounds).tolist()):
        lo, hi = [m0, k0, n0], [m1, k1, n1]
        temporal = hi[temporal_axis] - lo[temporal_axis]
        chunks = mapping.chunks
        cycles = int(all_cycles[fold])
        spent = 0
        for i in range(chunks):
            lo_c, hi_c = list(lo), list(hi)
            lo_c[temporal_axis] = lo[temporal_axis] + (temporal * i) // chunks
            hi_c[temporal_axis] = lo[temporal_axis] + (temporal * (i + 1)) // chunks
            block = (group, lo_c[0], hi_c[0], lo_c[1], hi_c[1], lo_c[2], hi_c[2])
            share = (cycles * (i + 1)) // chunks - spent
            spent += share
            steps.append((fold, share, tile_index("ifmap", block), tile_index("filter", block),
                          tile_index("ofmap", block)))
    return LayerPlan(steps=np.asarray(steps, dtype=np.int64).reshape(-1, 5),
                     tiles={name: tuple(value) for name, value in tiles.items()}, slots=slots, slot_elements=slot,
                     whole=whole)


def reference_step_schedule(plan: LayerPlan) -> dict[str, list]:
    steps = plan.steps
    total = len(steps)

    def last_use(column):
        return np.append(steps[1:, column] != steps[:-1, column], True).tolist() if total else []

    # Quiet: the next step exists and reads the same three tiles, and this one drains nothing.
    quiet = [position + 1 < total and bool((steps[position + 1, 2:] == steps[position, 2:]).all())
             and not (plan.drains and plan.drains[position][0]) for position in range(total)]
    return {"cycles": steps[:, 1].tolist(), "ifmap_tile": steps[:, 2].tolist(), "filter_tile": steps[:, 3].tolist(),
            "ofmap_tile": steps[:, 4].tolist(), "ifmap_last": last_use(2), "filter_last": last_use(3),
            "ofmap_last": last_use(4), "quiet": quiet}


@st.composite
def planned_layers(draw):
    """Convs (strided, dilated, padded, grouped, batched), tconvs and GEMMs small enough for the references."""
    kind = draw(st.sampled_from(["conv", "conv", "tconv", "gemm"]))
    if kind == "gemm":
        return Layer.gemm_layer("g", m=draw(st.integers(1, 40)), n=draw(st.integers(1, 24)),
                                k=draw(st.integers(1, 40)), ofmap_bits=draw(st.sampled_from([8, 16, 32])))
    f = draw(st.integers(1, 3))
    dilation = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 1, 2]))
    return Layer(name="x", kind=kind, ifmap_h=draw(st.integers(dilation * (f - 1) + 1, 8)),
                 ifmap_w=draw(st.integers(dilation * (f - 1) + 1, 8)), in_channels=groups * draw(st.integers(1, 4)),
                 out_channels=groups * draw(st.integers(1, 6)), filter_h=f, filter_w=f,
                 stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)),
                 pad_top=draw(st.integers(0, f - 1)), pad_bottom=0, pad_left=draw(st.integers(0, f - 1)),
                 pad_right=0, dilation_h=dilation, dilation_w=dilation, groups=groups,
                 batch=draw(st.integers(1, 2)), ifmap_bits=draw(st.sampled_from([4, 8, 16])))


def sized_buffers(ifmap_bytes, filter_bytes, ofmap_bytes, double_buffered):
    return BuffersSpec(**{name: {"size_kb": size / 1024, "double_buffered": double_buffered}
                          for name, size in zip(OPERANDS, (ifmap_bytes, filter_bytes, ofmap_bytes))})


def plan_or_error(plan, *args):
    try:
        return plan(*args)
    except MappingError as error:
        return str(error)


@settings(max_examples=150, deadline=None)
@given(planned_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(1, 6), st.integers(1, 6),
       st.lists(st.one_of(st.integers(2, 256).map(lambda half: 2 * half), st.just(1 << 20)), min_size=3, max_size=3), st.booleans(),
       st.sampled_from(["native", "scalesim"]))
# Ofmap tiles read back between row folds (ws, chunked); a grid of ifmap tiles (is, a 3x3 conv).
@example(Layer.gemm_layer("g", m=8, n=8, k=8), "ws", 2, 2, [1 << 20, 1 << 20, 64], True, "native")
@example(Layer(name="c", ifmap_h=6, ifmap_w=6, in_channels=3, out_channels=4, filter_h=3, filter_w=3, pad_top=1,
               pad_left=1, pad_bottom=1, pad_right=1), "is", 4, 3, [64, 1 << 20, 256], False, "scalesim")
def test_plan_equals_the_step_by_step_reference(layer, dataflow, rows, cols, sizes, double_buffered, convention):
    from sim.engine.simulate import layer_fold_cycles

    buffers = sized_buffers(*sizes, double_buffered)
    mapping = plan_or_error(fit_mapping, layer, dataflow, rows, cols, buffers)
    if isinstance(mapping, str):  # the tiling cannot fit: the hand-written record is refused alike
        assert plan_or_error(plan_layer, layer, buffers, array_mapping(layer, dataflow, rows, cols), ()) == mapping
        return
    cycles = layer_fold_cycles(mapping, convention)
    plan = plan_or_error(plan_layer, layer, buffers, mapping, cycles)
    expected = plan_or_error(reference_plan_layer, layer, buffers, mapping, cycles)
    if isinstance(expected, str):
        assert plan == expected
        return
    assert plan.steps.dtype == expected.steps.dtype and plan.steps.shape == expected.steps.shape
    assert np.array_equal(plan.steps, expected.steps)
    assert plan.tiles == expected.tiles
    for name in OPERANDS:  # plain Python ints, as the engine's requests and reports take them
        assert all(type(value) is int for tile in plan.tiles[name]
                   for value in (tile.elements, tile.address, tile.readback_elements, tile.previous, *tile.key)
                   if not isinstance(value, str))
    assert (plan.slots, plan.slot_elements, plan.whole) == (expected.slots, expected.slot_elements, expected.whole)
    assert vars(step_schedule(plan)) == reference_step_schedule(expected)


@settings(max_examples=60, deadline=None)
@given(conv_layers(), st.data())
def test_ifmap_footprint_equals_the_boolean_plane_count(layer, data):
    m0, m1, k0, k1 = _block(layer, data)
    assert ifmap_footprint(layer, m0, m1, k0, k1) == reference_ifmap_footprint(layer, m0, m1, k0, k1)


@settings(max_examples=30, deadline=None)
@given(conv_layers(), st.data())
def test_ifmap_footprints_of_blocks_that_are_not_one_grid_cell(layer, data):
    g = layer.gemm
    keys = []
    for _ in range(data.draw(st.integers(1, 4))):  # overlapping and nested blocks: no common grid of cells
        m0 = data.draw(st.integers(0, g.m - 1))
        k0 = data.draw(st.integers(0, g.k - 1))
        keys.append((0, m0, data.draw(st.integers(m0 + 1, g.m)), k0, data.draw(st.integers(k0 + 1, g.k))))
    assert _ifmap_footprints(layer, keys) == [reference_ifmap_footprint(layer, *key[1:]) for key in keys]


def test_tiles_stay_frozen():
    tile = Tile(4, 0, (0, 0, 2, 0, 2))
    with pytest.raises(AttributeError):
        tile.elements = 5
    assert tile == Tile(4, 0, (0, 0, 2, 0, 2), 0, -1) and tile.readback_elements == 0 and tile.previous == -1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 40), st.integers(0, 10 ** 6)),
                min_size=0, max_size=8), st.integers(0, 2), st.integers(1, 50))
def test_chunked_steps_equal_the_chunk_by_chunk_loop(fills, axis, chunks):
    """The vectorized chunking equals the loop it replaced: each fill's temporal extent in `chunks` near-equal parts,
    cycles in proportion, integer parts adding up to the fill's cycles."""
    bounds = [[group, 0, 5, 1, 9, 2, 7] for group, _, _, _ in fills]
    for block, (_, lo, extent, _) in zip(bounds, fills):
        block[1 + 2 * axis], block[2 + 2 * axis] = lo, lo + extent
    cycles = [c for *_, c in fills]
    fold_of = list(range(0, 2 * len(fills), 2))
    folds, step_cycles, blocks = [], [], []
    for fold, block, fold_cycles in zip(fold_of, bounds, cycles):
        lo, temporal = block[1 + 2 * axis], block[2 + 2 * axis] - block[1 + 2 * axis]
        for i in range(chunks):
            chunk = block.copy()
            chunk[1 + 2 * axis] = lo + (temporal * i) // chunks
            chunk[2 + 2 * axis] = lo + (temporal * (i + 1)) // chunks
            folds.append(fold)
            step_cycles.append((fold_cycles * (i + 1)) // chunks - (fold_cycles * i) // chunks)
            blocks.append(chunk)
    got = _chunked_steps(bounds, cycles, axis, chunks, fold_of)
    assert [part.tolist() for part in got] == [folds, step_cycles, blocks]
