"""Data-centric reuse analysis of a directive mapping on a hierarchy of PE clusters (MAESTRO-style).

Per cluster level the loop nest of the level's directives is split into iteration *cases*: each directive
is at its first position, a middle (steady) position or its last (edge) position. For a case this model
derives, for the active sub-clusters together:

- the tile each sub-cluster holds (edge tiles at a directive's last position) and their union: a tensor
  not coupled to the spatially mapped dimension is multicast (counted once), overlapping sliding windows
  along a spatial dimension are shared (spatial reuse);
- ingress: the new data of each input tensor. At the first step everything is new; later only the
  innermost changing directive's shift is new when it is the only coupled directive that moves
  (temporal reuse), nothing when no coupled directive moves (stationary), all when an inner coupled
  directive wraps around;
- egress: outputs leaving the level; partial sums stay while only reduction dimensions move
  (temporal reduction), and outputs reduced across sub-clusters leave once (spatial reduction);
- the compute delay (a PE: partial sums / vector width; a cluster: its sub-clusters' whole runtime);
- the outstanding delay with double buffering: max(ingress, compute, egress) per step, compute +
  ingress on the first step, and at the top level the off-chip fill of the L2 tile
  (L2 requirement / off-chip bandwidth / 2), as MAESTRO does.

NoC delay of a transfer of v elements: hops x hop latency + ceil(v / bandwidth) - 1 (MAESTRO's bus).
Buffer requirements follow MAESTRO: L2 = 2 x the first step's ingress and egress at the top level,
L1 = 2 x the mapped volume of a PE (its output counted over the Y/X input-coordinate tile, as MAESTRO
counts it). Access counts, energy and MAESTRO's statistics are derived from these; docs/maestro.md
lists the definitions and the differences from MAESTRO with numbers.
"""
from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from sim.analytical.directive_pipeline import pipeline_cycles, plan_result
from sim.energy.tables import apply
from sim.errors import ConfigError
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.directive_plan import plan_directive
from sim.mapping.directives import (
    DirectiveMapping,
    ResolvedDirective,
    directive_view,
    map_positions,
)
from sim.mapping.record import Mapping
from sim.records import ActionCounts, LayerResult, OperandCounts
from sim.workload.layer import Layer
from sim.workload.maestro import Dataflow

INPUT_TENSORS = ("input", "filter")


@dataclass(frozen=True)
class _Position:
    """One state of a directive: how often it occurs and the tile it gives."""

    state: str  # "first" | "steady" | "edge"
    count: int
    unit: int  # extent a sub-cluster holds
    union: int  # extent all active sub-clusters hold together
    active: int  # active sub-clusters (spatial directives; 1 for temporal ones)
    span: int = 0  # first to last index covered (> union when the sub-clusters' tiles leave gaps)
    last_unit: int = 0  # extent the fold's last active sub-cluster holds (an edge tile; 0: same as unit)


@dataclass
class _LevelStats:
    """What one cluster level reports (mutable while accumulated inside `_analyze_level` only)."""

    runtime: int = 0
    computations: int = 0
    steps: int = 0
    active_sum: float = 0.0
    ingress_total: dict[str, int] = field(default_factory=lambda: {"input": 0, "filter": 0})
    egress_total: int = 0
    init_ingress: dict[str, int] = field(default_factory=lambda: {"input": 0, "filter": 0})
    init_egress: int = 0
    delays: dict[str, list[float]] = field(default_factory=dict)
    peak_bw: int = 0
    avg_bw_sum: int = 0
    offchip_bw: int = 0
    arithmetic_intensity: float = 0.0
    noc_traffic: int = 0  # elements over this level's NoC and all levels below
    pe_tile: dict[str, int] = field(default_factory=dict)  # a PE's tile (last level, first step)

    @property
    def avg_active(self) -> float:
        return self.active_sum / self.steps if self.steps else 0.0


@dataclass(frozen=True)
class _Case:
    """One iteration case of a level: its occurrences and the data it moves (bandwidth-independent)."""

    occurrences: int
    first: bool  # the all-first step: the initial fill, which cannot overlap with compute
    input_ingress: int
    filter_ingress: int
    egress: int
    active: int  # active sub-clusters
    psums: int  # last level: a PE's partial sums (0 for a cluster level)
    edge_psums: int  # ... of the fold's last PE
    unit: tuple[tuple[str, int], ...]  # a sub-cluster's tile
    edge_unit: tuple[tuple[str, int], ...]  # the fold's last sub-cluster's tile


def _positions(directive: ResolvedDirective, extent: int, units: int, window: int = 0) -> list[_Position]:
    size = min(directive.size, extent)
    offset = directive.offset
    count = map_positions(size, offset, extent, window)
    if directive.kind == "temporal":
        last = max(1, min(size, extent - (count - 1) * offset))
        if count == 1:
            return [_Position("first", 1, size, size, 1, size)]
        out = [_Position("first", 1, size, size, 1, size)]
        if count > 2:
            out.append(_Position("steady", count - 2, size, size, 1, size))
        out.append(_Position("edge", 1, last, last, 1, last))
        return out
    folds = -(-count // units)

    def fold(index: int, state: str, occurrences: int) -> _Position:
        active = min(units, count - index * units)
        start = index * units * offset
        # Overlapping windows are shared; with gaps (offset > size) only the mapped columns are needed.
        span = max(1, min(size + (active - 1) * offset, extent - start))
        union = min(span, active * size)
        last_unit = max(1, min(size, extent - start - (active - 1) * offset))
        return _Position(state, occurrences, min(size, union), union, active, span, last_unit)

    if folds == 1:
        return [fold(0, "first", 1)]
    out = [fold(0, "first", 1)]
    if folds > 2:
        out.append(fold(1, "steady", folds - 2))
    out.append(fold(folds - 1, "edge", 1))
    return out


def _shift(directive: ResolvedDirective, units: int) -> int:
    return directive.offset * (units if directive.kind == "spatial" else 1)


def _windows(extent: int, window: int, stride: int) -> int:
    """Output positions a tile of `extent` input rows gives with a `window`-row filter."""
    if extent >= window:
        return (extent - window) // stride + 1
    return max(1, -(-extent // stride))


def _pairs(extent: int, window: int, stride: int) -> int:
    """(output, filter-tap) pairs of one tile: whole windows, or each input row with each tap it meets."""
    if extent >= window:
        return ((extent - window) // stride + 1) * window
    return max(1, extent * window // stride)


class _Model:
    """Holds one layer's mapping and hardware numbers for the recursive level analysis (no global state)."""

    def __init__(self, mapping: DirectiveMapping, spec: DirectiveArraySpec) -> None:
        self.mapping = mapping
        self.spec = spec
        self.tensors = mapping.tensors
        self.cache: dict[tuple[int, tuple[tuple[str, int], ...]], _LevelStats] = {}
        self.cases: dict[tuple[int, tuple[tuple[str, int], ...]], tuple[_Case, ...]] = {}

    def window(self, dim: str, dims: dict[str, int]) -> int:
        """The filter extent sliding along an input dimension (0 for dimensions without a window)."""
        if self.mapping.layer_type == "GEMM" or dim not in ("Y", "X"):
            return 0
        return dims["R"] if dim == "Y" else dims["S"]

    def noc_delay(self, elements: int) -> int:
        if elements <= 0:
            return 0
        sends = -(-elements // int(self.spec.noc_bandwidth_words_per_cycle))
        return self.spec.noc_hops * self.spec.noc_latency_cycles + sends - 1

    def volume(self, tensor: str, extent: dict[str, int], gapped: dict[str, tuple[int, int]] | None = None) -> int:
        """Elements of a tensor over a tile; `gapped[d] = (active, unit)` where sub-cluster tiles along d
        do not touch, so each gives its own outputs."""
        sy, sx = self.mapping.stride_y, self.mapping.stride_x
        total = 1
        for dim in self.tensors[tensor]:
            if tensor == "output" and self.mapping.layer_type != "GEMM" and dim in ("Y", "X"):
                window = extent["R"] if dim == "Y" else extent["S"]
                stride = sy if dim == "Y" else sx
                if gapped and dim in gapped:
                    active, unit = gapped[dim]
                    total *= active * _windows(unit, window, stride)
                else:
                    total *= _windows(extent[dim], window, stride)
            else:
                total *= extent[dim]
        return total

    def footprint(self, index: int, dim: str, extent: int, dims: dict[str, int]) -> int:
        """Indices along `dim` that levels `index`.. actually touch in a tile of `extent` (less than the
        extent when offsets skip indices, as a stride-2 1x1 convolution's odd columns)."""
        if index >= len(self.mapping.levels):
            window = self.window(dim, dims)
            stride = self.mapping.stride_y if dim == "Y" else self.mapping.stride_x
            if window and stride > window and extent >= window:
                return _windows(extent, window, stride) * window  # rows between windows are never read
            return extent
        directive = next(d for d in self.mapping.levels[index].directives if d.dim == dim)
        size = min(directive.size, extent)
        count = map_positions(size, directive.offset, extent, self.window(dim, dims))
        inner = self.footprint(index + 1, dim, size, dims)
        if directive.offset >= size:
            edge = max(1, min(size, extent - (count - 1) * directive.offset))
            return min(extent, (count - 1) * inner + self.footprint(index + 1, dim, edge, dims))
        return min(extent, (count - 1) * directive.offset + size)

    def fill_volume(self, tensor: str, index: int, unit: dict[str, int], edge_unit: dict[str, int],
                    directives: tuple[ResolvedDirective, ...], active: int) -> int:
        """First fill: each active sub-cluster gets its tile (the last one its edge tile) of a tensor coupled
        to a spatial dimension; a tensor not coupled to one is multicast once."""
        spatial = {d.dim for d in directives if d.kind == "spatial"}

        def used(tile: dict[str, int]) -> int:
            return self.volume(tensor, {d: self.footprint(index + 1, d, extent, tile) for d, extent in tile.items()})

        if not spatial & set(self.tensors[tensor]):
            return used(unit)
        return used(unit) * (active - 1) + used(edge_unit)

    def partial_sums(self, unit: dict[str, int]) -> int:
        if self.mapping.layer_type == "GEMM":
            return unit["M"] * unit["N"] * unit["K"]
        return (unit["N"] * unit["K"] * unit["C"] * _pairs(unit["Y"], unit["R"], self.mapping.stride_y)
                * _pairs(unit["X"], unit["S"], self.mapping.stride_x))

    def output_coords(self, dim: str, amount: int) -> int:
        """A shift along Y/X in output rows/columns (other dimensions are their own coordinates)."""
        if self.mapping.layer_type == "GEMM" or dim not in ("Y", "X"):
            return amount
        stride = self.mapping.stride_y if dim == "Y" else self.mapping.stride_x
        return max(1, amount // stride)

    def new_data(self, tensor: str, volume: int, extent: dict[str, int], changing: int,
                 directives: tuple[ResolvedDirective, ...], counts: list[int], units: int) -> int:
        """New elements of a tensor at a step whose innermost moving directive is `changing`."""
        if changing < 0:
            return volume
        coupled = set(self.tensors[tensor])
        moving = [i for i in range(changing, len(directives)) if directives[i].dim in coupled and counts[i] > 1]
        if not moving:
            return 0
        if moving != [changing]:
            return volume  # an inner coupled directive wrapped around: the tile is reloaded
        directive = directives[changing]
        shift = _shift(directive, units)
        if tensor == "output" and self.mapping.layer_type != "GEMM" and directive.dim in ("Y", "X"):
            window = extent["R"] if directive.dim == "Y" else extent["S"]
            stride = self.mapping.stride_y if directive.dim == "Y" else self.mapping.stride_x
            span = _windows(extent[directive.dim], window, stride)
            shift = self.output_coords(directive.dim, shift)
        else:
            span = extent[directive.dim]
        return volume // span * min(shift, span) if span else 0

    def level(self, index: int, dims: dict[str, int]) -> _LevelStats:
        key = (index, tuple(sorted(dims.items())))
        if key not in self.cache:
            self.cache[key] = self._analyze_level(index, dims)
        return self.cache[key]

    def case_table(self, index: int, dims: dict[str, int]) -> tuple[_Case, ...]:
        """The level's iteration cases and what each moves: everything that does not depend on bandwidths.
        The first case is the all-first step (the initial fill)."""
        key = (index, tuple(sorted(dims.items())))
        if key not in self.cases:
            self.cases[key] = self._build_cases(index, dims)
        return self.cases[key]

    def _build_cases(self, index: int, dims: dict[str, int]) -> tuple[_Case, ...]:
        level = self.mapping.levels[index]
        directives = level.directives
        last_level = index == len(self.mapping.levels) - 1
        options = [_positions(d, dims[d.dim], level.units, self.window(d.dim, dims)) for d in directives]
        counts = [sum(p.count for p in opts) for opts in options]
        first_spatial = next(i for i, d in enumerate(directives) if d.kind == "spatial")
        table = []
        for case in itertools.product(*options):
            unit = {d.dim: p.unit for d, p in zip(directives, case)}
            union = {d.dim: p.union for d, p in zip(directives, case)}
            active = case[first_spatial].active
            changing = max((i for i, p in enumerate(case) if p.state != "first"), default=-1)
            # The fold's last sub-cluster may hold an edge tile along the spatial dimension.
            spatial_position = case[first_spatial]
            edge_unit = dict(unit)
            if spatial_position.last_unit:
                edge_unit[directives[first_spatial].dim] = spatial_position.last_unit
            if changing < 0:
                ingress = {t: self.fill_volume(t, index, unit, edge_unit, directives, active) for t in INPUT_TENSORS}
            else:
                used = {d.dim: min(p.union, (p.active - 1) * self.footprint(index + 1, d.dim, p.unit, unit)
                                   + self.footprint(index + 1, d.dim, p.last_unit or p.unit, unit))
                        for d, p in zip(directives, case)}
                ingress = {t: self.new_data(t, self.volume(t, used), used, changing, directives, counts,
                                            level.units) for t in INPUT_TENSORS}
            gapped = {d.dim: (p.active, p.unit) for d, p in zip(directives, case) if p.span > p.union}
            egress = self.new_data("output", self.volume("output", union, gapped), union, changing, directives,
                                   counts, level.units)
            psums = self.partial_sums(unit) if last_level else 0
            edge_psums = self.partial_sums(edge_unit) if last_level else 0
            table.append(_Case(math.prod(p.count for p in case), changing < 0, ingress["input"], ingress["filter"],
                               egress, active, psums, edge_psums, tuple(sorted(unit.items())),
                               tuple(sorted(edge_unit.items()))))
        return tuple(table)

    def _analyze_level(self, index: int, dims: dict[str, int]) -> _LevelStats:
        last_level = index == len(self.mapping.levels) - 1
        stats = _LevelStats()
        delay_values: dict[str, list[tuple[int, int]]] = {"Ingress": [], "Egress": [], "Compute": []}
        offchip = int(self.spec.offchip_bandwidth_words_per_cycle)
        l2_in = l2_out = 0
        for case in self.case_table(index, dims):
            occurrences, active, egress = case.occurrences, case.active, case.egress
            ingress = {"input": case.input_ingress, "filter": case.filter_ingress}
            if last_level:
                compute = -(-case.psums // self.spec.vector_width)
                computations = case.psums * (active - 1) + case.edge_psums
                active_pes = float(active)
                below_traffic = 0
                if case.first:
                    stats.pe_tile = dict(case.unit)
            else:
                sub = self.level(index + 1, dict(case.unit))
                edge_sub = self.level(index + 1, dict(case.edge_unit))
                compute = max(sub.runtime, edge_sub.runtime)
                computations = sub.computations * (active - 1) + edge_sub.computations
                active_pes = sub.avg_active * (active - 1) + edge_sub.avg_active
                below_traffic = sub.noc_traffic * (active - 1) + edge_sub.noc_traffic
                if case.first:
                    stats.pe_tile = sub.pe_tile
            in_total = case.input_ingress + case.filter_ingress
            in_delay = self.noc_delay(in_total)
            out_delay = self.noc_delay(egress)
            if case.first:
                outstanding = compute + in_delay
                stats.init_ingress = dict(ingress)
                stats.init_egress = egress
                l2_in = 2 * in_total
                l2_out = 2 * egress
                stats.arithmetic_intensity = computations / in_total if in_total else 0.0
            else:
                outstanding = max(in_delay, compute, out_delay)
            if index == 0:
                # The L2 tile is refilled from off-chip while the step runs (double buffered: half each way).
                outstanding = max(l2_in // offchip // 2, outstanding, l2_out // offchip // 2)
                compute_nonzero = max(compute, 1)
                stats.offchip_bw = max(stats.offchip_bw, max(l2_out // compute_nonzero, l2_in // compute_nonzero) // 2)
            stats.runtime += occurrences * outstanding
            stats.computations += occurrences * computations
            stats.steps += occurrences
            stats.active_sum += occurrences * active_pes
            for tensor in INPUT_TENSORS:
                stats.ingress_total[tensor] += occurrences * ingress[tensor]
            stats.egress_total += occurrences * egress
            stats.noc_traffic += occurrences * (in_total + egress + below_traffic)
            divisor = max(compute, 1)
            traffic = max(in_total, egress)
            stats.peak_bw = max(stats.peak_bw, traffic // divisor)
            stats.avg_bw_sum += occurrences * traffic // divisor
            delay_values["Ingress"].append((in_delay, occurrences))
            delay_values["Egress"].append((out_delay, occurrences))
            delay_values["Compute"].append((compute, occurrences))
        for name, values in delay_values.items():
            total = sum(n for _, n in values)
            stats.delays[name] = [min(v for v, _ in values), max(v for v, _ in values),
                                  sum(v * n for v, n in values) / total]
        return stats

    def runtime_grid(self, index: int, dims: dict[str, int], noc: np.ndarray, offchip: np.ndarray,
                     memo: dict) -> np.ndarray:
        """The level's runtime for every (NoC, off-chip) bandwidth pair at once (arrays of one shape):
        the same recurrence as `_analyze_level`, on the bandwidth-independent case table."""
        key = (index, tuple(sorted(dims.items())))
        if key in memo:
            return memo[key]
        head = self.spec.noc_hops * self.spec.noc_latency_cycles

        def delay(elements: int) -> np.ndarray:
            return np.where(elements > 0, head + (-(-elements // noc)) - 1, 0)

        last_level = index == len(self.mapping.levels) - 1
        runtime = np.zeros(np.broadcast(noc, offchip).shape, dtype=np.int64)
        l2_in = l2_out = 0
        for case in self.case_table(index, dims):
            if last_level:
                compute = np.full_like(runtime, -(-case.psums // self.spec.vector_width))
            else:
                compute = np.maximum(self.runtime_grid(index + 1, dict(case.unit), noc, offchip, memo),
                                     self.runtime_grid(index + 1, dict(case.edge_unit), noc, offchip, memo))
            in_total = case.input_ingress + case.filter_ingress
            if case.first:
                outstanding = compute + delay(in_total)
                l2_in, l2_out = 2 * in_total, 2 * case.egress
            else:
                outstanding = np.maximum(np.maximum(delay(in_total), compute), delay(case.egress))
            if index == 0:
                outstanding = np.maximum(np.maximum(l2_in // offchip // 2, outstanding), l2_out // offchip // 2)
            runtime = runtime + case.occurrences * outstanding
        memo[key] = runtime
        return runtime


def _spec(hw: Hardware) -> DirectiveArraySpec:
    if hw.directive_array is None:
        raise ConfigError("the directive model needs a [directive_array] section", file=hw.source_file or None,
                          field="directive_array", allowed="a MAESTRO hardware .m file or a TOML [directive_array]")
    return hw.directive_array


def maestro_statistics(mapping: DirectiveMapping, spec: DirectiveArraySpec) -> dict[str, float]:
    """MAESTRO's per-layer statistics under its own column names (docs/maestro.md gives the units)."""
    model = _Model(mapping, spec)
    top = model.level(0, mapping.sizes)
    sizes = mapping.sizes
    tensor_size = {t: math.prod(sizes[d] for d in dims) for t, dims in mapping.tensors.items()}
    if mapping.layer_type != "GEMM":
        # MAESTRO sizes the output by Y - R + 1 (stride ignored) for its L2 read count.
        tensor_size["output"] = math.prod(
            sizes[d] - (sizes["R"] if d == "Y" else sizes["S"] if d == "X" else 0) + (1 if d in "YX" else 0)
            for d in mapping.tensors["output"])
    if mapping.layer_type == "GEMM":
        layer_macs = sizes["M"] * sizes["N"] * sizes["K"]
        output_elements = sizes["M"] * sizes["N"]
    else:
        output_elements = (sizes["N"] * sizes["K"] * (sizes["C"] if mapping.layer_type == "DSCONV" else 1)
                           * _windows(sizes["Y"], sizes["R"], mapping.stride_y)
                           * _windows(sizes["X"], sizes["S"], mapping.stride_x))
        layer_macs = (sizes["N"] * sizes["K"] * sizes["C"] * sizes["R"] * sizes["S"]
                      * _windows(sizes["Y"], sizes["R"], mapping.stride_y)
                      * _windows(sizes["X"], sizes["S"], mapping.stride_x))
    pe = top.pe_tile
    pe_tile = {tensor: math.prod(pe[d] for d in dims) for tensor, dims in mapping.tensors.items()}
    l1_bytes = 2 * sum(pe_tile.values()) * spec.word_bytes
    l2_bytes = 2 * (sum(top.init_ingress.values()) + top.init_egress) * spec.word_bytes
    macs = top.computations
    stats: dict[str, float] = {
        "NumPEs": spec.num_pes,
        "Runtime (Cycles)": top.runtime,
        "Throughput (MACs/Cycle)": macs / top.runtime if top.runtime else 0.0,
        "NoC BW Req (Elements/cycle)": top.peak_bw,
        "Avg BW Req": top.avg_bw_sum / top.steps if top.steps else 0.0,
        "Peak BW Req": top.peak_bw,
        "Vector Width": spec.vector_width,
        "Offchip BW Req (Elements/cycle)": top.offchip_bw,
        "L2 SRAM Size Req (Bytes)": l2_bytes,
        "L1 SRAM Size Req (Bytes)": l1_bytes,
        "Multicasting Factor (Weight)": 1,
        "Multicasting Factor (Input)": 1,
        "Num Total Input Pixels": tensor_size["input"],
        "Num Total Weight Pixels": tensor_size["filter"],
        "Num MACs": macs,
        "Avg number of utilized PEs": top.avg_active,
        "Arithmetic Intensity": top.arithmetic_intensity,
        # Partial sums the mapping computes / the layer's MACs: 1 when the directives cover the layer exactly.
        "MAC Coverage": macs / layer_macs,
        "PE Input Tile (Elements)": pe_tile["input"],
        "PE Filter Tile (Elements)": pe_tile["filter"],
        "PE Output Tile (Elements)": pe_tile["output"],
        "Output Elements": output_elements,
        "Cluster Levels": len(mapping.levels),
        "Top Level Steps": top.steps,
        "NoC Traffic (Elements)": top.noc_traffic,
    }
    for tensor in INPUT_TENSORS:
        l2_read = top.ingress_total[tensor]
        # MAESTRO's L1 write of an input tensor is its L2 read (what the NoC delivers); L1 reads: one per MAC.
        stats[f"{tensor} l1 read"] = macs
        stats[f"{tensor} l1 write"] = l2_read
        stats[f"{tensor} l2 read"] = l2_read
        stats[f"{tensor} l2 write"] = tensor_size[tensor]
        stats[f"{tensor} reuse factor"] = macs / l2_read if l2_read else 0.0
    stats["output l1 read"] = macs
    stats["output l1 write"] = macs
    stats["output l2 read"] = tensor_size["output"]
    stats["output l2 write"] = top.egress_total
    stats["output reuse factor"] = 1.0
    for name in ("Ingress", "Egress", "Compute"):
        low, high, avg = top.delays[name]
        stats[f"{name} Delay (Min)"] = low
        stats[f"{name} Delay (Max)"] = high
        stats[f"{name} Delay (Avg)"] = avg
    return stats


def _actions(stats: dict[str, float], spec: DirectiveArraySpec) -> ActionCounts:
    l1_read = sum(stats[f"{t} l1 read"] for t in ("input", "filter", "output"))
    l1_write = sum(stats[f"{t} l1 write"] for t in ("input", "filter", "output"))
    # MAESTRO's "output l2 read" is the drain of finished outputs off chip: priced as dram.write_byte.
    l2_read = sum(stats[f"{t} l2 read"] for t in ("input", "filter"))
    l2_write = sum(stats[f"{t} l2 write"] for t in ("input", "filter", "output"))
    return ActionCounts.of({
        "mac": stats["Num MACs"],
        "l1.read": l1_read,
        "l1.write": l1_write,
        "l2.read": l2_read,
        "l2.write": l2_write,
        "noc.transfer": stats["NoC Traffic (Elements)"],
        "dram.read_byte": (stats["Num Total Input Pixels"] + stats["Num Total Weight Pixels"]) * spec.word_bytes,
        "dram.write_byte": stats["Output Elements"] * spec.word_bytes,
    })


def estimate_directive(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow) -> LayerResult:
    """The analytical LayerResult of a layer under a directive mapping record (or MAESTRO directives, translated
    into one), with MAESTRO-named statistics in `extra`, under the array's `cycle_convention`: "native" (default)
    prices the schedule the directive engine runs (sim.analytical.directive_pipeline), "maestro" is MAESTRO's
    estimate (this module's reuse analysis)."""
    start = time.perf_counter()
    spec = _spec(hw)
    mapping = directive_view(layer, hw, mapping)
    if spec.cycle_convention == "native":
        plan = plan_directive(mapping, spec)
        return plan_result(layer, hw, plan, pipeline_cycles(spec, plan), model="analytical", start=start)
    stats = maestro_statistics(mapping, spec)
    actions = _actions(stats, spec)
    energy = apply(actions, hw.energy)
    # MAESTRO's column is the buffer activity energy (L1 + L2 accesses), MACs excluded.
    buffers = energy.as_dict()
    stats["Activity count-based Energy (nJ)"] = (buffers.get("l1", 0.0) + buffers.get("l2", 0.0)) / 1000.0
    runtime = int(stats["Runtime (Cycles)"])
    compute_cycles = int(stats["Compute Delay (Avg)"] * stats["Top Level Steps"])
    sram_reads = OperandCounts(int(stats["input l2 read"]), int(stats["filter l2 read"]), int(stats["output l2 read"]))
    sram_writes = OperandCounts(0, 0, int(stats["output l2 write"]))
    dram_reads = OperandCounts(int(stats["Num Total Input Pixels"]), int(stats["Num Total Weight Pixels"]), 0)
    dram_writes = OperandCounts(0, 0, layer.ofmap_elements)
    return LayerResult(
        name=layer.name,
        kind=layer.kind,
        model="analytical",
        macs=layer.macs,
        cycles=runtime,
        compute_cycles=min(compute_cycles, runtime),
        stall_cycles=max(runtime - compute_cycles, 0),
        utilization=layer.macs / (spec.num_pes * runtime) if runtime else 0.0,
        mapping_efficiency=stats["Avg number of utilized PEs"] / spec.num_pes,
        folds=int(stats["Top Level Steps"]),
        sram_reads=sram_reads,
        sram_writes=sram_writes,
        dram_reads=dram_reads,
        dram_writes=dram_writes,
        actions=actions,
        energy=energy,
        sim_wall_s=time.perf_counter() - start,
    ).with_extra(stats)


def runtime_grid(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow, noc_bandwidths: Sequence[int],
                 offchip_bandwidths: Sequence[int]) -> np.ndarray:
    """Runtime (cycles) of one layer for every NoC x off-chip bandwidth pair, evaluated together:
    result[i, j] equals estimate_directive's runtime with noc_bandwidths[i] and offchip_bandwidths[j]."""
    spec = _spec(hw)
    noc = np.asarray(noc_bandwidths, dtype=np.int64).reshape(-1, 1)
    offchip = np.asarray(offchip_bandwidths, dtype=np.int64).reshape(1, -1)
    if noc.size == 0 or offchip.size == 0 or (noc < 1).any() or (offchip < 1).any():
        raise ConfigError("bandwidth grid values must be integers >= 1", field="directive_array",
                          value=(list(noc_bandwidths), list(offchip_bandwidths)), allowed=">= 1 elements/cycle")
    mapping = directive_view(layer, hw, mapping)
    if spec.cycle_convention == "native":
        # The schedule does not depend on bandwidths: plan once, run the pipeline recurrence per pair.
        plan = plan_directive(mapping, spec)
        grid = np.empty((noc.size, offchip.size), dtype=np.int64)
        for i, noc_bw in enumerate(noc[:, 0]):
            for j, offchip_bw in enumerate(offchip[0]):
                point = spec.model_copy(update={"noc_bandwidth_words_per_cycle": float(noc_bw),
                                                "offchip_bandwidth_words_per_cycle": float(offchip_bw)})
                grid[i, j] = pipeline_cycles(point, plan)
        return grid
    model = _Model(mapping, spec)
    return model.runtime_grid(0, mapping.sizes, noc, offchip, {})
