"""Which operand tiles each step of a layer needs: pure functions from (layer, mapping, buffer sizes) to a plan.

A *step* is a fold, or a chunk of one: when a fold's streamed operands do not fit one buffer slot, the fold's
temporal extent (T) is split into the fewest equal chunks that fit, and the fold's compute cycles are split in
proportion (they still sum to the fold's cycles exactly). Each step names one tile per operand:
- a tile used by consecutive steps is fetched once (the stationary operand of a fold, an ofmap tile that
  accumulates over K chunks);
- an operand whose whole tensor fits one slot is one tile for the whole layer, fetched once (so DRAM reads
  equal its unique size; a digital array stores the expanded filter matrix, block-circulant or not);
- ofmap tiles that receive partial sums (a row fold after the first on ws / is) are read back from DRAM
  when they were drained before.

Tile sizes are unique elements: an ifmap tile is the set of distinct (unpadded, non-inserted) ifmap pixels x
channels its im2col block (rows m0:m1, columns k0:k1; K ordered (r, s, c) with c fastest, as
sim.mapping.operands) touches; a filter tile is its k x n block; an ofmap tile its m x n block. Addresses are
the tile's first element in a row-major layout of its operand (for the DRAM row-buffer model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import MappingError
from sim.hardware.spec import BuffersSpec
from sim.mapping.footprint import is_plain_matrix, real_plane
from sim.mapping.systolic import DATAFLOW_AXES, SystolicMapping
from sim.workload.layer import Layer

OPERANDS = ("ifmap", "filter", "ofmap")
# Separate address regions per operand (multiples of any row size x banks, so the bank mapping is aligned).
REGION_BASE = {"ifmap": 0, "filter": 1 << 40, "ofmap": 2 << 40}


@dataclass(frozen=True)
class Tile:
    """One residency of an operand tile in its buffer."""

    elements: int
    address: int
    key: tuple[int, ...]
    readback_elements: int = 0  # ofmap only: partial sums read back from DRAM before the step
    previous: int = -1  # ofmap only: index of the earlier tile with the same key (its drain precedes the read)


@dataclass(frozen=True)
class LayerPlan:
    """Steps in execution order and, per operand, the tiles they use.

    `steps` is int64 (steps, 5): fold, compute cycles, ifmap tile, filter tile, ofmap tile.
    """

    steps: np.ndarray
    tiles: dict[str, tuple[Tile, ...]]
    slots: dict[str, int]
    slot_elements: dict[str, int]
    whole: dict[str, bool]  # operand held for the whole layer in one tile

    @property
    def compute_cycles(self) -> int:
        return int(self.steps[:, 1].sum())


def _bits(layer: Layer) -> dict[str, int]:
    return {"ifmap": layer.ifmap_bits, "filter": layer.filter_bits, "ofmap": layer.ofmap_bits}


def ifmap_footprint(layer: Layer, m0: int, m1: int, k0: int, k1: int, real: np.ndarray | None = None) -> int:
    """Distinct stored ifmap elements (of one group) that the im2col block rows m0:m1, columns k0:k1 touch.

    `real` is `real_plane(layer)`, passed in by callers that ask for many blocks of one layer.
    """
    if is_plain_matrix(layer):
        return (m1 - m0) * (k1 - k0)
    channels = layer.in_channels // layer.groups
    e, f = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    out = np.zeros(layer.batch * e * f, dtype=bool)
    out[m0:m1] = True
    out = out.reshape(layer.batch, e, f)
    if real is None:
        real = real_plane(layer)
    height, width = real.shape
    first, last = k0 // channels, (k1 - 1) // channels
    planes = []
    for pair in range(first, last + 1):
        r, s = divmod(pair, layer.filter_w)
        plane = np.zeros((layer.batch, height, width), dtype=bool)
        top, left = r * layer.dilation_h, s * layer.dilation_w
        plane[:, top:top + stride_h * (e - 1) + 1:stride_h, left:left + stride_w * (f - 1) + 1:stride_w] = out
        c_lo = k0 - pair * channels if pair == first else 0
        c_hi = k1 - pair * channels if pair == last else channels
        planes.append((plane & real, c_lo, c_hi))
    # Split the channel axis where some (r, s) pair's channel interval starts or ends; union pixels per segment.
    cuts = sorted({c for _, lo, hi in planes for c in (lo, hi)})
    total = 0
    for a, b in zip(cuts[:-1], cuts[1:]):
        covering = [plane for plane, lo, hi in planes if lo <= a and hi >= b]
        if covering:
            total += int(np.logical_or.reduce(covering).sum()) * (b - a)
    return total


def operand_capacity(buffers: BuffersSpec, layer: Layer) -> tuple[dict[str, int], dict[str, int]]:
    """(slots, elements per slot) per operand: elements take whole bytes (as the analytical model counts them);
    double buffering halves the capacity."""
    bits = _bits(layer)
    slots, slot = {}, {}
    for name in OPERANDS:
        spec = getattr(buffers, name)
        slots[name] = 2 if spec.double_buffered else 1
        slot[name] = (spec.size_bytes // slots[name]) // -(-bits[name] // 8)
    return slots, slot


def _fold_units(extent: tuple[int, int, int], temporal_axis: int) -> dict[str, int]:
    """Elements of each operand's block per unit of the temporal axis (the whole block when it is stationary)."""
    units = {}
    for name in OPERANDS:
        size = 1
        for axis in SPANS[name]:
            if axis != temporal_axis:
                size *= extent[axis]
        units[name] = size
    return units


# Which GEMM axes (0 = M, 1 = K, 2 = N) each operand's block spans.
SPANS = {"ifmap": (0, 1), "filter": (1, 2), "ofmap": (0, 2)}


def _chunk_length(mapping: SystolicMapping, whole: dict[str, bool], slot: dict[str, int]) -> int:
    """Longest chunk of the temporal axis whose tiles fit their slots, for the layer's largest fold (so every
    fold is chunked alike and ofmap tiles line up across row folds); MappingError when even one step cannot."""
    temporal_axis = DATAFLOW_AXES[mapping.dataflow][2]
    b = mapping.fold_bounds
    extent = tuple(int((b[:, hi] - b[:, hi - 1]).max(initial=0)) for hi in (2, 4, 6))
    temporal = extent[temporal_axis]
    units = _fold_units(extent, temporal_axis)
    length = temporal
    for name in OPERANDS:
        if whole[name]:
            continue
        if temporal_axis not in SPANS[name]:
            if units[name] > slot[name]:
                raise MappingError(
                    f"one fold's stationary {name} block ({units[name]} elements) does not fit a slot of the {name} "
                    f"SRAM", field=f"buffers.{name}.size_kb", value=slot[name],
                    allowed=f">= {units[name]} elements per slot")
            continue
        if units[name] > slot[name]:
            raise MappingError(
                f"one temporal step of a fold needs {units[name]} {name} elements, more than a slot of the {name} SRAM",
                field=f"buffers.{name}.size_kb", value=slot[name], allowed=f">= {units[name]} elements per slot")
        length = min(length, slot[name] // units[name])
    return max(length, 1)


def plan_layer(layer: Layer, buffers: BuffersSpec, mapping: SystolicMapping, fold_cycles: np.ndarray) -> LayerPlan:
    """The steps and tiles of one layer (see the module docstring); MappingError when a tile cannot fit."""
    bits = _bits(layer)
    slots, slot = operand_capacity(buffers, layer)
    gemm = layer.gemm
    m_total, k_total, n_total = gemm.m, gemm.k, gemm.n
    # A digital array has no circulant datapath: it stores and streams the expanded filter matrix.
    totals = {"ifmap": layer.ifmap_elements, "filter": gemm.groups * k_total * n_total, "ofmap": layer.ofmap_elements}
    whole = {name: totals[name] <= slot[name] for name in OPERANDS}
    elem_bytes = {name: -(-bits[name] // 8) for name in OPERANDS}
    temporal_axis = DATAFLOW_AXES[mapping.dataflow][2]
    length = _chunk_length(mapping, whole, slot)
    real = None if is_plain_matrix(layer) else real_plane(layer)
    footprints: dict[tuple[int, int, int, int], int] = {}

    steps: list[tuple[int, int, int, int, int]] = []
    tiles: dict[str, list[Tile]] = {name: [] for name in OPERANDS}
    current: dict[str, tuple | None] = {name: None for name in OPERANDS}
    last_of_key: dict[tuple, int] = {}

    def ifmap_elements(m0: int, m1: int, k0: int, k1: int) -> int:
        key = (m0, m1, k0, k1)
        if key not in footprints:
            footprints[key] = ifmap_footprint(layer, m0, m1, k0, k1, real)
        return footprints[key]

    def tile_index(name: str, block: tuple[int, ...]) -> int:
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
            tile = Tile(ifmap_elements(m0, m1, k0, k1),
                        base + ((group * m_total + m0) * k_total + k0) * elem_bytes[name], key)
        elif name == "filter":
            tile = Tile((k1 - k0) * (n1 - n0), base + ((group * k_total + k0) * n_total + n0) * elem_bytes[name], key)
        else:
            elements = (m1 - m0) * (n1 - n0)
            previous = last_of_key.get(key, -1)
            # Partial sums wait in DRAM only when an earlier row fold drained this same block.
            tile = Tile(elements, base + ((group * m_total + m0) * n_total + n0) * elem_bytes[name], key,
                        elements if previous >= 0 else 0, previous)
            last_of_key[key] = len(tiles[name])
        tiles[name].append(tile)
        current[name] = key
        return len(tiles[name]) - 1

    # Plain Python ints (tolist) for the per-fold loop: numpy scalars are slow to index and compare one by one.
    all_cycles = np.asarray(fold_cycles).tolist()
    for fold, (group, m0, m1, k0, k1, n0, n1) in enumerate(np.asarray(mapping.fold_bounds).tolist()):
        lo, hi = [m0, k0, n0], [m1, k1, n1]
        temporal = hi[temporal_axis] - lo[temporal_axis]
        chunks = max(-(-temporal // length), 1)
        cycles = int(all_cycles[fold])
        spent = 0
        for i in range(chunks):
            lo_c, hi_c = list(lo), list(hi)
            lo_c[temporal_axis] = lo[temporal_axis] + (temporal * i) // chunks
            hi_c[temporal_axis] = lo[temporal_axis] + (temporal * (i + 1)) // chunks
            block = (group, lo_c[0], hi_c[0], lo_c[1], hi_c[1], lo_c[2], hi_c[2])
            # Cycles in proportion to the chunk's share of T; the integer parts add up to the fold's cycles.
            share = (cycles * (i + 1)) // chunks - spent
            spent += share
            steps.append((fold, share, tile_index("ifmap", block), tile_index("filter", block),
                          tile_index("ofmap", block)))
    return LayerPlan(
        steps=np.asarray(steps, dtype=np.int64).reshape(-1, 5),
        tiles={name: tuple(value) for name, value in tiles.items()},
        slots=slots,
        slot_elements=slot,
        whole=whole,
    )
