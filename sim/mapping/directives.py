"""Data-centric directives (MAESTRO) interpreted against one layer and a PE count.

A Dataflow is cut at its `Cluster(size, P)` directives into cluster levels. With cluster sizes
c1 > c2 > ... (in PEs, outermost first), level 0 has floor(num_pes / c1) sub-clusters, level i has
c_i / c_{i+1} and the last level has c_n PEs; without Cluster there is one level of num_pes PEs.
Sizes and offsets (`Sz(R)` ...) are evaluated against the layer's dimensions; a dimension a level does
not name is mapped whole (an implicit TemporalMap(Sz(D), Sz(D)) D). Illegal mappings raise MappingError.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.record import LevelLoops, Loop, Mapping, Problem
from sim.workload.layer import Layer
from sim.workload.maestro import ClusterDirective, Dataflow, MapDirective

# Tensors and the dimensions each is coupled to, per MAESTRO layer type (batch N included; size 1 if absent).
TENSOR_DIMS: dict[str, dict[str, tuple[str, ...]]] = {
    "CONV": {"input": ("N", "C", "Y", "X"), "filter": ("K", "C", "R", "S"), "output": ("N", "K", "Y", "X")},
    "DSCONV": {"input": ("N", "C", "Y", "X"), "filter": ("K", "C", "R", "S"), "output": ("N", "K", "C", "Y", "X")},
    "GEMM": {"input": ("M", "K"), "filter": ("K", "N"), "output": ("M", "N")},
}
LAYER_DIMS: dict[str, tuple[str, ...]] = {
    "CONV": ("N", "K", "C", "R", "S", "Y", "X"),
    "DSCONV": ("N", "K", "C", "R", "S", "Y", "X"),
    "GEMM": ("M", "N", "K"),
}


@dataclass(frozen=True)
class ResolvedDirective:
    """A map directive with its size and offset evaluated (offset already aligned to the stride)."""

    kind: Literal["spatial", "temporal"]
    dim: str
    size: int
    offset: int


@dataclass(frozen=True)
class ClusterLevel:
    units: int  # sub-clusters (or PEs, at the last level) the spatial map spreads over
    directives: tuple[ResolvedDirective, ...]

    @property
    def spatial(self) -> tuple[ResolvedDirective, ...]:
        return tuple(d for d in self.directives if d.kind == "spatial")


@dataclass(frozen=True)
class DirectiveMapping:
    """A layer under a directive dataflow: the problem in MAESTRO's dimensions and the cluster levels."""

    layer_type: str  # CONV | DSCONV | GEMM
    dims: tuple[tuple[str, int], ...]
    stride_y: int
    stride_x: int
    levels: tuple[ClusterLevel, ...]
    num_pes: int

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.dims)

    @property
    def pes_used(self) -> int:
        total = 1
        for level in self.levels:
            total *= level.units
        return total

    @property
    def tensors(self) -> dict[str, tuple[str, ...]]:
        return TENSOR_DIMS[self.layer_type]


# Dimensions only a convolution has: a dataflow naming one of them sees a GEMM layer as a 1x1 convolution.
CONV_ONLY_DIMS = frozenset({"C", "R", "S", "Y", "X"})


def maestro_problem(layer: Layer, *, as_conv: bool = False) -> tuple[str, dict[str, int], int, int]:
    """(type, dimensions, stride_y, stride_x) of a Layer in MAESTRO's terms (Y/X are padded input sizes).

    `as_conv` views a GEMM / FC layer as the 1x1 convolution it is stored as (K = outputs, C = reduction,
    Y = rows), so a convolution dataflow such as kcp_ws.m also maps a network's fully connected layers.
    """
    if layer.kind == "gemm" and not as_conv:
        g = layer.gemm
        return "GEMM", {"M": g.m, "N": g.n, "K": g.k}, 1, 1
    if layer.dilation_h != 1 or layer.dilation_w != 1:
        raise MappingError("directive mappings do not model dilated convolutions", field=f"{layer.name}.dilation_h",
                           value=(layer.dilation_h, layer.dilation_w), allowed="1")
    in_h, in_w = layer.padded_ifmap
    stride_y, stride_x = layer.lowered_stride
    dims = {"N": layer.batch, "C": layer.in_channels, "R": layer.filter_h, "S": layer.filter_w, "Y": in_h, "X": in_w}
    if layer.groups == 1:
        return "CONV", {**dims, "K": layer.out_channels}, stride_y, stride_x
    if layer.is_depthwise:
        return "DSCONV", {**dims, "K": layer.out_channels // layer.groups}, stride_y, stride_x
    raise MappingError("MAESTRO's layer types cover dense and depthwise convolutions only",
                       field=f"{layer.name}.groups", value=layer.groups, allowed=f"1 or {layer.in_channels}")


def _align(size: int, offset: int, dim: str, sizes: dict[str, int], stride_y: int, stride_x: int) -> int:
    """A Y/X map holding whole windows moves by at least the stride (MAESTRO's `(Sz(R),1) Y` steps one output
    row); a map smaller than the window (row-stationary's single rows) moves by its own offset."""
    if dim not in ("Y", "X") or "R" not in sizes:
        return offset
    stride, window = (stride_y, sizes["R"]) if dim == "Y" else (stride_x, sizes["S"])
    return offset if offset >= stride or size < window else stride


def _unused_rows(dim: str, sizes: dict[str, int], stride_y: int, stride_x: int) -> int:
    if dim not in ("Y", "X") or "R" not in sizes:
        return 0
    stride, window = (stride_y, sizes["R"]) if dim == "Y" else (stride_x, sizes["S"])
    return max(0, stride - window)


def map_directives(layer_type: str, dims: dict[str, int], stride_y: int, stride_x: int, dataflow: Dataflow,
                   num_pes: int) -> DirectiveMapping:
    """Cut the dataflow into cluster levels and check it; MappingError names the directive and why."""
    if layer_type not in TENSOR_DIMS:
        raise MappingError("unsupported layer type for directive mappings", value=layer_type,
                           allowed=", ".join(TENSOR_DIMS))
    sizes = {d: dims.get(d, 1) for d in LAYER_DIMS[layer_type]}
    groups: list[list[MapDirective]] = [[]]
    cluster_sizes: list[int] = []
    for directive in dataflow.directives:
        if isinstance(directive, ClusterDirective):
            size = directive.size.evaluate(sizes)
            if cluster_sizes and cluster_sizes[-1] % size:
                raise MappingError("a cluster must divide the cluster it is nested in", field="Cluster",
                                   line=directive.line or None, value=size,
                                   allowed=f"a divisor of {cluster_sizes[-1]}")
            if size > num_pes:
                raise MappingError("cluster larger than the PEs available", field="Cluster",
                                   line=directive.line or None, value=size, allowed=f"<= {num_pes} PEs")
            cluster_sizes.append(size)
            groups.append([])
        else:
            if directive.dim not in sizes:
                raise MappingError("directive on a dimension this layer type does not have", field=directive.dim,
                                   line=directive.line or None, value=directive.dim,
                                   allowed=", ".join(LAYER_DIMS[layer_type]))
            groups[-1].append(directive)
    bounds = [num_pes] + cluster_sizes
    units = [bounds[i] // bounds[i + 1] for i in range(len(cluster_sizes))] + [bounds[-1]]
    levels: list[ClusterLevel] = []
    for index, (group, level_units) in enumerate(zip(groups, units)):
        seen: dict[str, int] = {}
        resolved: list[ResolvedDirective] = []
        for directive in group:
            size = directive.size.evaluate(sizes)
            offset = directive.offset.evaluate(sizes)
            if directive.dim in seen:
                # A repeated dimension works inside the tile the first directive leaves (MAESTRO's
                # row-stationary files write `SpatialMap(1,1) S; TemporalMap(Sz(S),Sz(S)) S;`): a no-op
                # when it does not cut that tile further, otherwise ambiguous.
                if size >= seen[directive.dim]:
                    continue
                raise MappingError("dimension mapped twice in one cluster level, the second cutting the first's "
                                   "tile", field=directive.dim, line=directive.line or None,
                                   value=(seen[directive.dim], size),
                                   allowed="one directive per dimension per level (a repeat no smaller than the "
                                           "first is ignored)")
            seen[directive.dim] = size
            # Along Y/X a stride larger than the filter leaves rows no window reads: those may be skipped.
            gap = _unused_rows(directive.dim, sizes, stride_y, stride_x)
            if offset > size + gap:
                raise MappingError("offset larger than the map size skips data", field=directive.dim,
                                   line=directive.line or None, value=(size, offset),
                                   allowed=f"offset <= size{f' + {gap} unused rows' if gap else ''}")
            resolved.append(ResolvedDirective(directive.kind, directive.dim, size,
                                              _align(size, offset, directive.dim, sizes, stride_y, stride_x)))
        if not any(d.kind == "spatial" for d in resolved):
            raise MappingError("each cluster level needs a SpatialMap", field=f"level {index}",
                               value=[d.dim for d in resolved], allowed="at least one SpatialMap directive")
        for dim, size in sizes.items():
            if dim not in seen:
                resolved.append(ResolvedDirective("temporal", dim, size, size))
        levels.append(ClusterLevel(level_units, tuple(resolved)))
    return DirectiveMapping(layer_type, tuple(sizes.items()), stride_y, stride_x, tuple(levels), num_pes)


def map_layer_directives(layer: Layer, dataflow: Dataflow, num_pes: int) -> DirectiveMapping:
    """The directive mapping of a Layer record (MappingError carries the layer's name)."""
    named = {d.dim for d in dataflow.directives if isinstance(d, MapDirective)}
    layer_type, dims, stride_y, stride_x = maestro_problem(layer, as_conv=bool(named & CONV_ONLY_DIMS))
    try:
        return map_directives(layer_type, dims, stride_y, stride_x, dataflow, num_pes)
    except MappingError as err:
        raise err.with_context(field_prefix=layer.name, file=dataflow.source_file or None) from None


# MAESTRO's layer types and the record's problem views (a MAESTRO GEMM is "matmul": M, N, K as MAESTRO names them).
VIEW_OF_TYPE = {"CONV": "conv", "DSCONV": "dsconv", "GEMM": "matmul"}
TYPE_OF_VIEW = {view: layer_type for layer_type, view in VIEW_OF_TYPE.items()}


def level_name(index: int) -> str:
    """The record's name of cluster level `index`: level 0's tiles are served by the L2, inner levels' by a cluster."""
    return "l2" if index == 0 else f"cluster{index}"


def to_record(mapping: DirectiveMapping, name: str = "directives") -> Mapping:
    """The directive mapping as the one mapping record: a level per cluster level, a loop per directive (size,
    offset as step when it differs, spatial ones spread over the level's sub-clusters)."""
    levels = []
    for index, level in enumerate(mapping.levels):
        loops = tuple(Loop(d.dim, size=d.size, step=0 if d.offset == d.size else d.offset,
                           spatial="cluster" if d.kind == "spatial" else "",
                           units=level.units if d.kind == "spatial" else 1) for d in level.directives)
        levels.append(LevelLoops(level_name(index), loops))
    problem = Problem(VIEW_OF_TYPE[mapping.layer_type], mapping.dims,
                      (("Y", mapping.stride_y), ("X", mapping.stride_x)))
    return Mapping(name, problem, tuple(levels))


def from_record(record: Mapping, num_pes: int) -> DirectiveMapping:
    """The directive models' view of a record in a MAESTRO problem view (MappingError naming the level otherwise)."""
    view = record.problem.view
    if view not in TYPE_OF_VIEW:
        raise MappingError(f"mapping '{record.name}' is not in a MAESTRO problem view", field="mapping.problem.view",
                           value=view, allowed=", ".join(TYPE_OF_VIEW))
    levels = []
    pes = 1
    for level in record.levels:
        spatial = [loop for loop in level.loops if loop.spatial]
        if not spatial or any(loop.spatial != "cluster" or loop.units != spatial[0].units for loop in spatial):
            raise MappingError("each directive level spreads its spatial loops over one number of cluster units",
                               field=f"mapping.{level.level}", value=[(lp.dim, lp.spatial, lp.units) for lp in spatial],
                               allowed="one or more spatial = 'cluster' loops with equal units")
        if any(loop.parts for loop in level.loops):
            raise MappingError("directive levels take loop sizes, not parts", field=f"mapping.{level.level}",
                               value=[loop.dim for loop in level.loops if loop.parts], allowed="size (and step)")
        pes *= spatial[0].units
        levels.append(ClusterLevel(spatial[0].units, tuple(
            ResolvedDirective("spatial" if loop.spatial else "temporal", loop.dim, loop.size, loop.step or loop.size)
            for loop in level.loops)))
    if pes > num_pes:
        raise MappingError("the mapping's cluster units need more PEs than the array has", field="mapping.levels",
                           value=pes, allowed=f"<= {num_pes} PEs")
    strides = dict(record.problem.strides)
    return DirectiveMapping(TYPE_OF_VIEW[view], record.problem.dims, strides.get("Y", 1), strides.get("X", 1),
                            tuple(levels), num_pes)


def map_directive(layer: Layer, hw: Hardware, dataflow: Dataflow) -> Mapping:
    """`map_layer`'s entry for a directive array: the MAESTRO dataflow of `layer` on `hw.directive_array`, as the
    mapping record."""
    source = dataflow.source_file
    name = Path(source).stem if source and not source.startswith("<") else "directives"
    return to_record(map_layer_directives(layer, dataflow, _num_pes(hw)), name=name)


def _num_pes(hw: Hardware) -> int:
    if hw.directive_array is None:
        raise MappingError("a directive mapping needs a [directive_array] hardware section", field="directive_array",
                           value=hw.kind, allowed="a MAESTRO hardware .m file or a TOML [directive_array]")
    return hw.directive_array.num_pes


def directive_view(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow) -> DirectiveMapping:
    """What the directive models read: a record (checked against `layer`), or MAESTRO directive text translated
    into one (the directives are the mapping in MAESTRO's syntax: nothing is decided here)."""
    if isinstance(mapping, Dataflow):
        mapping = map_directive(layer, hw, mapping)
    view = from_record(mapping, _num_pes(hw))
    layer_type, dims, stride_y, stride_x = maestro_problem(layer, as_conv=view.layer_type != "GEMM")
    expected = {d: dims.get(d, 1) for d in LAYER_DIMS[layer_type]}
    if (layer_type, expected, stride_y, stride_x) != (view.layer_type, view.sizes, view.stride_y, view.stride_x):
        raise MappingError(f"mapping '{mapping.name}' is for another problem than layer '{layer.name}'",
                           field="mapping.problem", value=view.sizes, allowed=str(expected))
    return view


def map_positions(size: int, offset: int, extent: int, window: int = 0) -> int:
    """Positions a map of `size` moved by `offset` takes over `extent`; along Y/X (`window` > 0, the filter's
    extent) only positions holding a whole window count, as MAESTRO counts them."""
    if size >= extent:
        return 1
    if window and size >= window:
        full = (extent - size) // offset + 1
        return full + (extent - full * offset >= window)
    return -(-(extent - size) // offset) + 1
