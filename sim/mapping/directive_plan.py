"""The flattened loop nest of a directive mapping and what each step of it moves: the one schedule that the
directive engine runs on its SimPy timeline and the engine-matching ("native") directive model prices in closed
form, so both count the same MACs, words and compute cycles by construction.

The mapping's cluster levels are flattened into one loop nest of *loop variables*: each TemporalMap is a
variable over its positions, each level's spatial maps share a fold variable (where the nest names them)
and a unit variable (the sub-clusters / PEs of that level, not a time step). A *step* is one value of every
non-unit variable; all PEs work on their tiles of a step in lock step.

Tiles and ownership (what makes each MAC happen exactly once, edge tiles included): position p of a
directive (size, offset) inside its parent tile [lo, hi) holds data [lo + p*offset, min(.. + size, hi))
and *owns* [lo + p*offset, .. + offset) (its last position owns up to hi). A Y/X map holding whole
filter windows (size >= R / S) owns output windows by their first input row (o * stride); a smaller one
(row stationary) owns input rows. A PE computes the MAC (output o, tap r) when every level owns it and its
leaf tile holds input row o * stride + r and filter row r. Dimensions are independent except Y-R and X-S
(and dimensions spatially mapped at the same level, which share units), so a step's MACs, per-PE maximum
and tiles are products over these dimension groups, each tabulated once over its own variables.

Per step: the new data of each input tensor (its tile minus the previous step's: temporal reuse), multicast to
the PEs that share it; ceil(max MACs of a PE / vector width) compute cycles; the outputs that leave (tile minus
the next step's: partial sums stay while only reduction dimensions move), reduced on the way when spatially
mapped reduction dimensions make PEs share outputs. Steps are grouped into at most MAX_CHUNKS consecutive
chunks (sums of their steps'). Off-chip: when the layer does not fit L2, every NoC input word comes from DRAM and
every leaving output goes to it; otherwise each tensor crosses the off-chip link once (the first NoC deliveries
are fetched, outputs drained as they leave).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.hardware.spec import DirectiveArraySpec
from sim.mapping.directives import DirectiveMapping, map_positions

# Chunks the step sequence is grouped into for the pipelined timeline (bounds events per layer; see module doc).
MAX_CHUNKS = 2048
_EMPTY_LO = np.iinfo(np.int64).max // 4


@dataclass(frozen=True)
class _Variable:
    count: int
    unit: bool  # a spatial unit (sub-cluster / PE), not a time step


@dataclass(frozen=True)
class _Chain:
    """How one dimension is positioned at one level: by a temporal variable, or by fold * units + unit."""

    size: int
    offset: int
    positions: int
    whole_windows: bool  # a Y/X map holding whole filter windows: owns windows by their first row
    temporal: int = -1
    fold: int = -1
    unit: int = -1
    units: int = 1


@dataclass(frozen=True)
class LoopNest:
    variables: tuple[_Variable, ...]
    chains: dict[str, tuple[_Chain, ...]]


def _nest(mapping: DirectiveMapping) -> LoopNest:
    sizes = mapping.sizes
    windows = {"Y": sizes.get("R", 0), "X": sizes.get("S", 0)} if mapping.layer_type != "GEMM" else {}
    extent = dict(sizes)
    variables: list[_Variable] = []
    chains: dict[str, list[_Chain]] = {d: [] for d in sizes}
    for level in mapping.levels:
        spatial_counts = [map_positions(min(d.size, extent[d.dim]), d.offset, extent[d.dim], windows.get(d.dim, 0))
                          for d in level.spatial]
        units = min(level.units, max(spatial_counts))
        folds = -(-max(spatial_counts) // units)
        fold_var = unit_var = -1
        next_extent = dict(extent)
        for directive in level.directives:
            size = min(directive.size, extent[directive.dim])
            window = windows.get(directive.dim, 0)
            count = map_positions(size, directive.offset, extent[directive.dim], window)
            whole = bool(window) and directive.size >= window
            if directive.kind == "temporal":
                variables.append(_Variable(count, False))
                chain = _Chain(size, directive.offset, count, whole, temporal=len(variables) - 1)
            else:
                if fold_var < 0:
                    variables.append(_Variable(folds, False))
                    variables.append(_Variable(units, True))
                    fold_var, unit_var = len(variables) - 2, len(variables) - 1
                chain = _Chain(size, directive.offset, count, whole, fold=fold_var, unit=unit_var, units=units)
            chains[directive.dim].append(chain)
            next_extent[directive.dim] = size
        extent = next_extent
    return LoopNest(tuple(variables), {d: tuple(c) for d, c in chains.items()})


def _chain_vars(chains: tuple[_Chain, ...]) -> set[int]:
    out: set[int] = set()
    for c in chains:
        out |= {c.temporal} if c.temporal >= 0 else {c.fold, c.unit}
    return out


def _groups(mapping: DirectiveMapping, nest: LoopNest) -> list[tuple[str, ...]]:
    """Dimensions whose tiles depend on each other: Y-R, X-S, and dimensions sharing a unit variable."""
    parent = {d: d for d in nest.chains}

    def find(d: str) -> str:
        while parent[d] != d:
            d = parent[d]
        return d

    def join(a: str, b: str) -> None:
        parent[find(a)] = find(b)

    if mapping.layer_type != "GEMM":
        join("Y", "R")
        join("X", "S")
    owners: dict[int, str] = {}
    for dim, chains in nest.chains.items():
        for var in _chain_vars(chains):
            if var in owners:
                join(dim, owners[var])
            owners[var] = dim
    groups: dict[str, list[str]] = {}
    for dim in nest.chains:
        groups.setdefault(find(dim), []).append(dim)
    return [tuple(g) for g in groups.values()]


@dataclass(frozen=True)
class _DimTiles:
    """Per combination of a group's variables (arrays broadcast over the group's axes)."""

    data_lo: np.ndarray
    data_hi: np.ndarray
    own_lo: np.ndarray  # ownership of the index itself (input rows for Y/X)
    own_hi: np.ndarray
    start_lo: np.ndarray  # ownership of o * stride (window-holding Y/X maps)
    start_hi: np.ndarray


def _dim_tiles(size: int, chains: tuple[_Chain, ...], axes: dict[int, np.ndarray]) -> _DimTiles:
    lo = np.zeros((), dtype=np.int64)
    hi = np.full((), size, dtype=np.int64)
    own_lo, own_hi = np.zeros((), dtype=np.int64), np.full((), size, dtype=np.int64)
    start_lo, start_hi = np.zeros((), dtype=np.int64), np.full((), size, dtype=np.int64)
    for chain in chains:
        if chain.temporal >= 0:
            position = axes[chain.temporal]
        else:
            position = axes[chain.fold] * chain.units + axes[chain.unit]
        start = lo + position * chain.offset
        valid = (position < chain.positions) & (start < hi)
        last = (position == chain.positions - 1) | (start + chain.offset >= hi)
        end = np.where(last, hi, start + chain.offset)
        if chain.whole_windows:
            start_lo, start_hi = np.maximum(start_lo, start), np.minimum(start_hi, end)
        else:
            own_lo, own_hi = np.maximum(own_lo, start), np.minimum(own_hi, end)
        lo = np.where(valid, start, 0)
        hi = np.where(valid, np.minimum(start + chain.size, hi), 0)
    return _DimTiles(lo, hi, own_lo, own_hi, start_lo, start_hi)


def _length(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.maximum(hi - lo, 0)


def _pair_bounds(rows: _DimTiles, taps: _DimTiles) -> tuple[np.ndarray, ...]:
    return (np.maximum(taps.data_lo, taps.own_lo), np.minimum(taps.data_hi, taps.own_hi),
            np.maximum(rows.data_lo, rows.own_lo), np.minimum(rows.data_hi, rows.own_hi), rows.start_lo, rows.start_hi)


def _window_pairs(rows: _DimTiles, taps: _DimTiles, taps_total: int, stride: int, outputs: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(MACs along one Y-R / X-S pair, first and past-last output index) per combination."""
    tap_lo, tap_hi, in_lo, in_hi, _, _ = _pair_bounds(rows, taps)
    shape = np.broadcast(tap_lo, in_lo, rows.start_lo).shape
    count = np.zeros(shape, dtype=np.int64)
    first = np.full(shape, _EMPTY_LO, dtype=np.int64)
    past = np.full(shape, -_EMPTY_LO, dtype=np.int64)
    for r in range(taps_total):
        low = np.maximum(np.maximum(rows.start_lo, in_lo - r), 0)
        high = np.minimum(np.minimum(rows.start_hi, in_hi - r), (outputs - 1) * stride + 1)
        o_lo, o_hi = -(-low // stride), -(-high // stride)
        n = np.where((r >= tap_lo) & (r < tap_hi), np.maximum(o_hi - o_lo, 0), 0)
        count += n
        first = np.where(n > 0, np.minimum(first, o_lo), first)
        past = np.where(n > 0, np.maximum(past, o_hi), past)
    return count, first, past


@dataclass(frozen=True)
class GroupTable:
    """One dimension group over all its variables: MACs per combination and each dimension's intervals."""

    variables: tuple[int, ...]  # axes, in nest order
    macs: np.ndarray
    data: dict[str, tuple[np.ndarray, np.ndarray]]  # input / filter coordinates
    done: dict[str, tuple[np.ndarray, np.ndarray]]  # output coordinates computed (o for Y / X)
    # Y / X: (tap_lo, tap_hi, row_lo, row_hi, start_lo, start_hi): (o, r) is computed when r is in the tap
    # interval, o * stride + r in the row interval and o * stride in the start interval.
    pairs: dict[str, tuple[np.ndarray, ...]]


def _group_table(mapping: DirectiveMapping, nest: LoopNest, dims: tuple[str, ...]) -> GroupTable:
    sizes = mapping.sizes
    variables = tuple(sorted(set().union(*(_chain_vars(nest.chains[d]) for d in dims))))
    shape = [nest.variables[v].count for v in variables]
    axes = {}
    for i, var in enumerate(variables):
        view = [1] * len(variables)
        view[i] = shape[i]
        axes[var] = np.arange(shape[i], dtype=np.int64).reshape(view)
    tiles = {d: _dim_tiles(sizes[d], nest.chains[d], axes) for d in dims}
    full = tuple(shape)
    macs = np.ones(full, dtype=np.int64)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    done: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    pairs = {"Y": ("R", mapping.stride_y), "X": ("S", mapping.stride_x)} if mapping.layer_type != "GEMM" else {}
    bounds: dict[str, tuple[np.ndarray, ...]] = {}
    for d in dims:
        t = tiles[d]
        data[d] = (np.broadcast_to(t.data_lo, full), np.broadcast_to(t.data_hi, full))
        if d in pairs:
            tap, stride = pairs[d]
            outputs = (sizes[d] - sizes[tap]) // stride + 1
            count, first, past = _window_pairs(t, tiles[tap], sizes[tap], stride, outputs)
            macs = macs * count
            done[d] = (np.broadcast_to(first, full), np.broadcast_to(past, full))
            bounds[d] = tuple(np.broadcast_to(b, full) for b in _pair_bounds(t, tiles[tap]))
        elif d not in ("R", "S") or mapping.layer_type == "GEMM":
            lo, hi = np.maximum(t.data_lo, t.own_lo), np.minimum(t.data_hi, t.own_hi)
            macs = macs * _length(lo, hi)
            done[d] = (np.broadcast_to(lo, full), np.broadcast_to(hi, full))
    return GroupTable(variables, macs, data, done, bounds)


@dataclass(frozen=True)
class _Steps:
    """Per step (arrays of length steps): MACs, the busiest PE's MACs, and each dimension's union intervals."""

    macs: np.ndarray
    peak_pe_macs: np.ndarray
    data: dict[str, tuple[np.ndarray, np.ndarray]]
    done: dict[str, tuple[np.ndarray, np.ndarray]]


def _reduce_units(table: GroupTable, nest: LoopNest) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, dict, dict]:
    unit_axes = tuple(i for i, v in enumerate(table.variables) if nest.variables[v].unit)
    step_vars = tuple(v for v in table.variables if not nest.variables[v].unit)
    total = table.macs.sum(axis=unit_axes) if unit_axes else table.macs
    peak = table.macs.max(axis=unit_axes) if unit_axes else table.macs

    def union(intervals: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict:
        out = {}
        for d, (lo, hi) in intervals.items():
            empty = hi <= lo
            lo = np.where(empty, _EMPTY_LO, lo)
            hi = np.where(empty, -_EMPTY_LO, hi)
            out[d] = (lo.min(axis=unit_axes) if unit_axes else lo, hi.max(axis=unit_axes) if unit_axes else hi)
        return out

    return step_vars, total, peak, union(table.data), union(table.done)


def _pick(table: np.ndarray, flat: np.ndarray | None, count: int) -> np.ndarray:
    """A group table's value at every step (`flat`: each step's flat index into the group's table)."""
    return np.broadcast_to(table if flat is None else np.take(table.reshape(-1), flat), (count,))


def _steps(mapping: DirectiveMapping, nest: LoopNest, tables: list[GroupTable]) -> _Steps:
    step_vars = [i for i, v in enumerate(nest.variables) if not v.unit]
    shape = tuple(nest.variables[i].count for i in step_vars)
    count = math.prod(shape)
    index = np.unravel_index(np.arange(count, dtype=np.int64), shape) if shape else ()
    value = {var: index[i] for i, var in enumerate(step_vars)}
    macs = np.ones(count, dtype=np.int64)
    peak = np.ones(count, dtype=np.int64)
    data: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    done: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for table in tables:
        own_vars, total, peak_table, data_union, done_union = _reduce_units(table, nest)
        key = tuple(value[v] for v in own_vars)
        key = np.ravel_multi_index(key, total.shape) if key else None
        macs = macs * _pick(total, key, count)
        peak = peak * _pick(peak_table, key, count)
        data.update({d: (_pick(lo, key, count), _pick(hi, key, count)) for d, (lo, hi) in data_union.items()})
        done.update({d: (_pick(lo, key, count), _pick(hi, key, count)) for d, (lo, hi) in done_union.items()})
    return _Steps(macs, peak, data, done)


def _volume(intervals: dict[str, tuple[np.ndarray, np.ndarray]], dims: tuple[str, ...], count: int) -> np.ndarray:
    volume = np.ones(count, dtype=np.int64)
    for d in dims:
        if d in intervals:
            lo, hi = intervals[d]
            volume = volume * _length(lo, hi)
    return volume


def _overlap(intervals: dict[str, tuple[np.ndarray, np.ndarray]], dims: tuple[str, ...], shift: int) -> np.ndarray:
    """Elements a step's tile shares with the tile `shift` steps later (0 where that step does not exist)."""
    count = len(next(iter(intervals.values()))[0])
    overlap = np.ones(max(count - shift, 0), dtype=np.int64)
    for d in dims:
        if d in intervals:
            lo, hi = intervals[d]
            overlap = overlap * _length(np.maximum(lo[:-shift], lo[shift:]), np.minimum(hi[:-shift], hi[shift:]))
    return overlap


def _output_dims(mapping: DirectiveMapping) -> tuple[str, ...]:
    return mapping.tensors["output"]


def _factor(mapping: DirectiveMapping, nest: LoopNest, coupled: set[str], *, share_when_uncoupled: bool) -> int:
    """PEs one word reaches (multicast: levels whose spatial dims the tensor does not depend on) or PEs whose
    partial sums one output collects (reduction: levels spatially mapping a dimension the output lacks)."""
    factor = 1
    for level in mapping.levels:
        spatial = {d.dim for d in level.spatial}
        units = next(c.units for d in spatial for c in nest.chains[d] if c.unit >= 0)
        if share_when_uncoupled and not spatial & coupled:
            factor *= units
        if not share_when_uncoupled and spatial - coupled:
            factor *= units
    return factor


@dataclass(frozen=True)
class _Traffic:
    """Per step: words each tensor moves and the compute cycles."""

    input: np.ndarray
    filter: np.ndarray
    egress: np.ndarray
    compute: np.ndarray
    macs: np.ndarray


def _traffic(mapping: DirectiveMapping, steps: _Steps, vector_width: int) -> _Traffic:
    count = len(steps.macs)
    tensors = mapping.tensors
    new = {}
    for tensor in ("input", "filter"):
        volume = _volume(steps.data, tensors[tensor], count)
        kept = np.concatenate([[0], _overlap(steps.data, tensors[tensor], 1)]) if count else volume
        new[tensor] = volume - kept
    out_volume = _volume(steps.done, _output_dims(mapping), count)
    staying = np.concatenate([_overlap(steps.done, _output_dims(mapping), 1), [0]]) if count else out_volume
    compute = -(-steps.peak_pe_macs // vector_width)
    return _Traffic(new["input"], new["filter"], out_volume - staying, compute, steps.macs)



def loop_tables(mapping: DirectiveMapping) -> tuple[LoopNest, list[GroupTable]]:
    nest = _nest(mapping)
    return nest, [_group_table(mapping, nest, dims) for dims in _groups(mapping, nest)]


def _tensor_sizes(mapping: DirectiveMapping) -> dict[str, int]:
    sizes = mapping.sizes
    out = {t: math.prod(sizes[d] for d in dims) for t, dims in mapping.tensors.items() if t != "output"}
    if mapping.layer_type == "GEMM":
        out["output"] = sizes["M"] * sizes["N"]
    else:
        rows = (sizes["Y"] - sizes["R"]) // mapping.stride_y + 1
        cols = (sizes["X"] - sizes["S"]) // mapping.stride_x + 1
        channels = sizes["C"] if mapping.layer_type == "DSCONV" else 1
        out["output"] = sizes["N"] * sizes["K"] * channels * rows * cols
    return out


def _pe_tiles(mapping: DirectiveMapping, tables: list[GroupTable]) -> dict[str, int]:
    """A PE's largest tile per tensor (elements) over all steps and PEs (per-dimension maxima multiplied)."""
    longest: dict[str, int] = {}
    for table in tables:
        for d, (lo, hi) in table.data.items():
            longest[d] = int(_length(lo, hi).max())
        for d, (lo, hi) in table.done.items():
            longest[f"out:{d}"] = int(_length(lo, hi).max())
    tiles = {}
    for tensor, dims in mapping.tensors.items():
        key = (lambda d: f"out:{d}" if f"out:{d}" in longest else d) if tensor == "output" else (lambda d: d)
        tiles[tensor] = math.prod(longest[key(d)] for d in dims)
    return tiles


def _chunks(values: np.ndarray, size: int) -> np.ndarray:
    if len(values) == 0:
        return values
    return np.add.reduceat(values, np.arange(0, len(values), size))


@dataclass(frozen=True)
class DirectivePlan:
    """One layer's schedule under a directive mapping: per-chunk words and cycles (what the timeline runs) and
    the layer's totals (what both models count). Independent of the NoC and off-chip bandwidths."""

    chunk_input: tuple[int, ...]  # NoC words per chunk
    chunk_filter: tuple[int, ...]
    chunk_egress: tuple[int, ...]
    chunk_compute: tuple[int, ...]  # compute cycles per chunk
    dram_in: tuple[int, ...]  # words fetched from DRAM per chunk
    dram_out: tuple[int, ...]  # words written to DRAM per chunk
    multicast: dict[str, int]  # PEs one input / filter word reaches
    reduction: int  # PEs whose partial sums one output collects
    fits_l2: bool
    sizes: dict[str, int]  # elements of input, filter, output
    steps: int
    macs: int
    compute_cycles: int
    input_words: int
    filter_words: int
    egress_words: int
    first_in: int  # the first step's NoC input words
    first_out: int
    peak_noc_bw: int  # max over steps of moved words / compute cycles
    mean_noc_bw: float
    mean_active_pes: float
    pe_tile: dict[str, int]
    levels: int  # cluster levels of the mapping


def plan_directive(mapping: DirectiveMapping, spec: DirectiveArraySpec) -> DirectivePlan:
    """The step schedule of `mapping` on `spec` (see the module docstring)."""
    nest, tables = loop_tables(mapping)
    steps = _steps(mapping, nest, tables)
    traffic = _traffic(mapping, steps, spec.vector_width)
    tensors = mapping.tensors
    multicast = {t: _factor(mapping, nest, set(tensors[t]), share_when_uncoupled=True) for t in ("input", "filter")}
    reduction = _factor(mapping, nest, set(tensors["output"]), share_when_uncoupled=False)
    sizes = _tensor_sizes(mapping)
    fits_l2 = sum(sizes.values()) * spec.word_bytes <= spec.l2_size_bytes
    size = max(1, -(-len(traffic.compute) // MAX_CHUNKS))
    chunk = {name: [int(v) for v in _chunks(getattr(traffic, name), size)]
             for name in ("input", "filter", "egress", "compute")}
    noc_in = [a + b for a, b in zip(chunk["input"], chunk["filter"])]
    if fits_l2:
        # Each tensor crosses the off-chip link once: the first NoC deliveries are fetched, then L2 holds all.
        remaining_in, remaining_out = sizes["input"] + sizes["filter"], sizes["output"]
        dram_in, dram_out = [], []
        for words, leaving in zip(noc_in, chunk["egress"]):
            dram_in.append(min(words, remaining_in))
            remaining_in -= dram_in[-1]
            dram_out.append(min(leaving, remaining_out))
            remaining_out -= dram_out[-1]
        if dram_out:
            dram_out[-1] += remaining_out  # outputs never sent back over the NoC alone still leave at the end
    else:
        dram_in, dram_out = list(noc_in), list(chunk["egress"])
    count = len(traffic.compute)
    moved = np.maximum(traffic.input + traffic.filter, traffic.egress)
    per_cycle = moved // np.maximum(traffic.compute, 1)
    active = traffic.macs / np.maximum(steps.peak_pe_macs, 1)
    return DirectivePlan(
        chunk_input=tuple(chunk["input"]), chunk_filter=tuple(chunk["filter"]), chunk_egress=tuple(chunk["egress"]),
        chunk_compute=tuple(chunk["compute"]), dram_in=tuple(dram_in), dram_out=tuple(dram_out),
        multicast=multicast, reduction=reduction, fits_l2=fits_l2, sizes=sizes, steps=count,
        macs=int(traffic.macs.sum()), compute_cycles=int(traffic.compute.sum()),
        input_words=int(traffic.input.sum()), filter_words=int(traffic.filter.sum()),
        egress_words=int(traffic.egress.sum()),
        first_in=int(traffic.input[0] + traffic.filter[0]) if count else 0,
        first_out=int(traffic.egress[0]) if count else 0,
        peak_noc_bw=int(per_cycle.max()) if count else 0,
        mean_noc_bw=float(per_cycle.mean()) if count else 0.0,
        mean_active_pes=float(active.mean()) if count else 0.0,
        pe_tile=_pe_tiles(mapping, tables),
        levels=len(mapping.levels),
    )
