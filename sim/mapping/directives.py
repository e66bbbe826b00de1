"""Data-centric directives (MAESTRO) interpreted against one layer and a PE count.

A Dataflow is cut at its `Cluster(size, P)` directives into cluster levels. With cluster sizes
c1 > c2 > ... (in PEs, outermost first), level 0 has floor(num_pes / c1) sub-clusters, level i has
c_i / c_{i+1} and the last level has c_n PEs; without Cluster there is one level of num_pes PEs.
Sizes and offsets (`Sz(R)` ...) are evaluated against the layer's dimensions; a dimension a level does
not name is mapped whole (an implicit TemporalMap(Sz(D), Sz(D)) D). Illegal mappings raise MappingError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.errors import MappingError
from sim.hardware.spec import Hardware
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


def map_directive(layer: Layer, hw: Hardware, dataflow: Dataflow) -> DirectiveMapping:
    """`map_layer`'s entry for a directive array: the mapping of `layer` on `hw.directive_array`."""
    if hw.directive_array is None:
        raise MappingError("a directive mapping needs a [directive_array] hardware section", field="directive_array",
                           value=hw.kind, allowed="a MAESTRO hardware .m file or a TOML [directive_array]")
    return map_layer_directives(layer, dataflow, hw.directive_array.num_pes)


def map_positions(size: int, offset: int, extent: int, window: int = 0) -> int:
    """Positions a map of `size` moved by `offset` takes over `extent`; along Y/X (`window` > 0, the filter's
    extent) only positions holding a whole window count, as MAESTRO counts them."""
    if size >= extent:
        return 1
    if window and size >= window:
        full = (extent - size) // offset + 1
        return full + (extent - full * offset >= window)
    return -(-(extent - size) // offset) + 1
