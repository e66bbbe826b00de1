"""The one mapping record of a digital PE array: a loop nest over the layer's dimensions (docs/mapping.md).

A `Mapping` is a `Problem` (the layer's dimensions in one of two views) and, per memory level from the
outermost inward, the loops that walk that level's tiles, outermost first. A loop covers its dimension's
extent (the tile the enclosing loop on that dimension hands inward, or the whole dimension) either in tiles
of `size` (the last may be partial) or in `parts` near-equal parts (edges at extent * i // parts); `step`
is a sliding window's offset when it differs from the tile; a spatial loop spreads its iterations over the
array's rows, columns or a cluster's units. os / ws / is are named instances (sim.mapping.systolic), MAESTRO
directives translate into it (sim.mapping.directives), and mappings are files (sim.mapping.mapping_file).

Views: "gemm" is the im2col GEMM per group (G groups of M pixels x K window x N filters), on which the
systolic models work; "conv" / "dsconv" / "matmul" are MAESTRO's (N, K, C, R, S, Y, X with Y / X padded
input sizes; M, N, K for a GEMM), on which the directive models work.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.errors import MappingError
from sim.workload.layer import Layer

SPATIAL_AXES = ("rows", "cols", "cluster")
MAX_FOLDS = 1 << 23  # fold_bounds holds 7 int64 a fold: 470 MB at the limit; more folds are a mapping mistake
VIEWS = ("gemm", "conv", "dsconv", "matmul")
# The GEMM view's dimensions (order of the tile keys) and the dimensions each operand spans in it.
GEMM_DIMS = ("G", "M", "K", "N")
OPERAND_DIMS: dict[str, tuple[str, ...]] = {"ifmap": ("G", "M", "K"), "filter": ("G", "K", "N"),
                                            "ofmap": ("G", "M", "N")}
OPERANDS = ("ifmap", "filter", "ofmap")
# Where level dram's chunks of the streamed dimension T sit among a systolic mapping's folds (Mapping.chunk_order):
# innermost, after the row folds (SCALE-Sim's order, the default), or between the column and the row folds.
CHUNK_ORDERS = ("innermost", "outside_row_folds")


@dataclass(frozen=True)
class Problem:
    """A layer's dimensions in one view (see the module docstring); `strides` only for the conv views."""

    view: str
    dims: tuple[tuple[str, int], ...]
    strides: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise MappingError("unknown problem view", field="problem.view", value=self.view,
                               allowed=", ".join(VIEWS))
        for name, size in self.dims:
            if not isinstance(size, int) or size < 1:
                raise MappingError("a problem dimension must be a positive integer", field=f"problem.{name}",
                                   value=size, allowed=">= 1")

    @cached_property
    def sizes(self) -> dict[str, int]:
        return dict(self.dims)


def gemm_problem(layer: Layer) -> Problem:
    """The im2col GEMM view of `layer` (what the systolic models tile)."""
    g = layer.gemm
    return Problem("gemm", (("G", g.groups), ("M", g.m), ("K", g.k), ("N", g.n)))


@dataclass(frozen=True)
class Loop:
    """One loop of a level: `size` or `parts` (exactly one), optional `step`, optional spatial axis."""

    dim: str
    size: int = 0
    parts: int = 0
    step: int = 0  # 0: the loop moves by its tile (size)
    spatial: str = ""  # "": temporal; else one of SPATIAL_AXES
    units: int = 1  # spatial: the rows / cols / sub-clusters the iterations spread over

    def __post_init__(self) -> None:
        if (self.size > 0) == (self.parts > 0) or self.size < 0 or self.parts < 0:
            raise MappingError("a loop needs exactly one of size (tile extent) or parts (near-equal parts)",
                               field=f"loop {self.dim}", value=(self.size, self.parts),
                               allowed="size >= 1 or parts >= 1, not both")
        if self.step < 0:
            raise MappingError("a loop's step must be >= 0", field=f"loop {self.dim}.step", value=self.step,
                               allowed=">= 0 (0: the tile size)")
        if self.spatial and self.spatial not in SPATIAL_AXES:
            raise MappingError("unknown spatial axis", field=f"loop {self.dim}.spatial", value=self.spatial,
                               allowed=", ".join(SPATIAL_AXES) + " or empty (temporal)")
        if self.units < 1 or (not self.spatial and self.units != 1):
            raise MappingError("units: the spatial units a spatial loop spreads over (1 for a temporal loop)",
                               field=f"loop {self.dim}.units", value=self.units, allowed=">= 1")


@dataclass(frozen=True)
class LevelLoops:
    """The loops that walk one memory level's tiles; `whole`: operands held whole there (one tile a layer)."""

    level: str
    loops: tuple[Loop, ...]
    whole: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in self.whole:
            if name not in OPERANDS:
                raise MappingError("unknown operand held whole", field=f"{self.level}.whole", value=name,
                                   allowed=", ".join(OPERANDS))


@dataclass(frozen=True)
class Mapping:
    """A loop nest: `levels` from the outermost memory level inward (see the module docstring)."""

    name: str
    problem: Problem
    levels: tuple[LevelLoops, ...]
    # The memory levels (by name) this mapping runs as two halves, where the hardware declares double_buffered =
    # "auto" (sim.mapping.buffering); kept sorted. None: as the hardware declares ("auto" levels single).
    double_buffered: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.double_buffered is not None:
            names = tuple(self.double_buffered)
            if len(set(names)) != len(names) or not all(isinstance(n, str) and n for n in names):
                raise MappingError("double_buffered names memory levels, each once", field="mapping.double_buffered",
                                   value=list(names), allowed="distinct level names (e.g. [\"sram_64kb\"])")
            object.__setattr__(self, "double_buffered", tuple(sorted(names)))  # one record per decision
        sizes = self.problem.sizes
        for level in self.levels:
            for loop in level.loops:
                if loop.dim not in sizes:
                    raise MappingError("loop over a dimension the problem does not have",
                                       field=f"{level.level}.{loop.dim}", value=loop.dim, allowed=", ".join(sizes))

    def spatial_loop(self, axis: str) -> Loop | None:
        """The (first) loop spread over `axis` ("rows" / "cols" / "cluster"), or None."""
        for level in self.levels:
            for loop in level.loops:
                if loop.spatial == axis:
                    return loop
        return None

    def level(self, name: str) -> LevelLoops | None:
        for level in self.levels:
            if level.level == name:
                return level
        return None

    # ---------------------------------------------------------------- a rows x cols array in the gemm view
    # The systolic models run the family that os / ws / is belong to (sim.mapping.systolic.array_mapping):
    # level "dram" walks groups, column folds, row folds and `parts` chunks of the streamed dimension T;
    # level "global_buffer" spreads one fold over the array's rows and cols and streams T one element a cycle.

    @cached_property
    def axes(self) -> tuple[int, int, int]:
        """GEMM axes (0 = M, 1 = K, 2 = N) on the array's rows, its cols, and streamed in time (T)."""
        rows, cols = self.spatial_loop("rows"), self.spatial_loop("cols")
        if self.problem.view != "gemm" or rows is None or cols is None or rows.dim == cols.dim:
            raise MappingError(f"mapping '{self.name}' does not put two GEMM dimensions on an array's rows and "
                               "cols", field="mapping.global_buffer", value=self.problem.view,
                               allowed="a gemm-view mapping with one spatial loop on rows and one on cols")
        order = ("M", "K", "N")
        if rows.dim not in order or cols.dim not in order:
            raise MappingError("only M, K and N can be spread over the array", field="mapping.global_buffer",
                               value=(rows.dim, cols.dim), allowed="M, K, N")
        row_axis, col_axis = order.index(rows.dim), order.index(cols.dim)
        return row_axis, col_axis, 3 - row_axis - col_axis

    @cached_property
    def rows(self) -> int:
        return self.spatial_loop("rows").units

    @cached_property
    def cols(self) -> int:
        return self.spatial_loop("cols").units

    @cached_property
    def dataflow(self) -> str:
        """"os" / "ws" / "is" by what the array holds (not by the record's name); "custom" otherwise."""
        return {(0, 2): "os", (1, 2): "ws", (1, 0): "is"}.get(self.axes[:2], "custom")

    @cached_property
    def dataflow_code(self) -> int:
        """The integer the numba kernels and vectorized closed forms take (os 0, ws 1, is 2)."""
        return ("os", "ws", "is").index(self.dataflow)

    @property
    def temporal_dim(self) -> str:
        return ("M", "K", "N")[self.axes[2]]

    @cached_property
    def chunks(self) -> int:
        """Near-equal chunks each fold's T is split into so that its streamed tiles fit the buffers."""
        outer = self.levels[0]
        for loop in outer.loops:
            if loop.dim == self.temporal_dim:
                return loop.parts or -(-self.temporal // loop.size)
        return 1

    @property
    def whole(self) -> tuple[str, ...]:
        """Operands the global buffer holds whole for the layer (fetched once)."""
        return self.levels[0].whole

    @cached_property
    def chunk_order(self) -> str:
        """Where level dram's chunks of T sit (CHUNK_ORDERS): "innermost" (groups, column folds, row folds, chunks:
        a fold's chunks run back to back) or "outside_row_folds" (groups, column folds, chunks, row folds: a chunk's
        partial-sum block stays in the ofmap buffer over the row folds, and the stationary operand is reloaded per
        chunk). Read from the position of the T loop in level dram; without one (1 chunk) both are the same."""
        dims = [loop.dim for loop in self.levels[0].loops]
        time_dim, row_dim = self.temporal_dim, ("M", "K", "N")[self.axes[0]]
        if time_dim in dims and row_dim in dims and dims.index(time_dim) < dims.index(row_dim):
            return "outside_row_folds"
        return "innermost"

    @property
    def steps_per_fold(self) -> int:
        """Array passes per fill: each chunk of T reloads the stationary operand when chunks are outside several
        fills; else a fill's chunks run back to back on one load (1: with one fill both orders are one schedule)."""
        outside = self.chunk_order == "outside_row_folds" and self.fills > 1
        return self.chunks if outside else 1

    @cached_property
    def row_folds_per_fill(self) -> int:
        """F: row folds whose stationary blocks one fill loads into the PEs' registers (docs/mapping.md); level dram's
        row loop walks F x rows, a third level "pe" walks the F blocks. 1 (today's schedule) for a two-level record."""
        if len(self.levels) < 3 or self.problem.view != "gemm":
            return 1
        row_dim = ("M", "K", "N")[self.axes[0]]
        for loop in self.levels[0].loops:
            if loop.dim == row_dim and loop.size:
                return max(loop.size // self.rows, 1)
        return 1

    @cached_property
    def streamed_per_stationary_read(self) -> int:
        """u: the run of consecutive elements of T (e.g. output pixels) each PE works through per read of a stationary
        element, holding u partial sums (docs/mapping.md, "loop order at the PE level"): a temporal loop on T of size
        u, innermost at level "pe". 1 (today's order: a stationary read per MAC) without one."""
        if len(self.levels) < 3 or self.problem.view != "gemm":
            return 1
        time_dim = self.temporal_dim
        return next((loop.size for loop in self.levels[2].loops if loop.dim == time_dim and loop.size), 1)

    @property
    def fill_rows(self) -> int:
        """Extent of the row dimension one fill covers (F x rows): the tiles of a step span it."""
        return self.row_folds_per_fill * self.rows

    @property
    def fills(self) -> int:
        """Fills per (group, column fold[, chunk]): ceil(row folds / F); the last holds the remainder."""
        return -(-self.row_folds // self.row_folds_per_fill)

    @cached_property
    def gemm_dims(self) -> tuple[int, int, int]:
        sizes = self.problem.sizes
        return (sizes["M"], sizes["K"], sizes["N"])

    @property
    def groups(self) -> int:
        return self.problem.sizes["G"]

    @property
    def spatial_rows(self) -> int:
        """Sr: the GEMM extent laid along the array's rows."""
        return self.gemm_dims[self.axes[0]]

    @property
    def spatial_cols(self) -> int:
        """Sc: the GEMM extent laid along the array's columns."""
        return self.gemm_dims[self.axes[1]]

    @property
    def temporal(self) -> int:
        """T: the GEMM extent streamed through the array, one element per cycle."""
        return self.gemm_dims[self.axes[2]]

    @property
    def row_folds(self) -> int:
        return -(-self.spatial_rows // self.rows)

    @property
    def col_folds(self) -> int:
        return -(-self.spatial_cols // self.cols)

    @property
    def folds(self) -> int:
        return self.groups * self.row_folds * self.col_folds

    @cached_property
    def fold_bounds(self) -> np.ndarray:
        """int64 array (folds, 7): group, m0, m1, k0, k1, n0, n1 — the GEMM sub-block of each fold, in order."""
        row_axis, col_axis, _ = self.axes
        dims = self.gemm_dims
        rows, cols = self.rows, self.cols
        row_folds, col_folds = self.row_folds, self.col_folds
        if self.groups * row_folds * col_folds > MAX_FOLDS:  # 7 int64 a fold: refuse before allocating
            raise MappingError("too many folds for one layer", field="mapping", value=f"{self.folds:,} folds",
                               allowed=f"at most {MAX_FOLDS:,} (a larger array or larger tiles)")
        # Indexed (group, column fold, row fold): the fold order, filled by broadcasting along each axis.
        out = np.empty((self.groups, col_folds, row_folds, 7), dtype=np.int64)
        out[..., 0] = np.arange(self.groups, dtype=np.int64).reshape(-1, 1, 1)
        out[..., 1::2] = 0
        out[..., 2::2] = dims
        row_lo = np.arange(0, row_folds * rows, rows, dtype=np.int64)
        out[..., 1 + 2 * row_axis] = row_lo
        out[..., 2 + 2 * row_axis] = np.minimum(row_lo + rows, dims[row_axis])
        col_lo = np.arange(0, col_folds * cols, cols, dtype=np.int64).reshape(-1, 1)
        out[..., 1 + 2 * col_axis] = col_lo
        out[..., 2 + 2 * col_axis] = np.minimum(col_lo + cols, dims[col_axis])
        return out.reshape(-1, 7)

    @cached_property
    def fill_bounds(self) -> np.ndarray:
        """int64 array (groups x column folds x fills, 7): the GEMM block of each fill (the union of its F row folds'
        blocks), in order; fold_bounds when F = 1."""
        if self.row_folds_per_fill == 1:
            return self.fold_bounds
        row_axis = self.axes[0]
        per = self.fold_bounds.reshape(self.groups * self.col_folds, self.row_folds, 7)
        first = per[:, ::self.row_folds_per_fill].copy()
        last = np.minimum(np.arange(self.fills) * self.row_folds_per_fill + self.row_folds_per_fill,
                          self.row_folds) - 1
        first[..., 2 + 2 * row_axis] = per[:, last, 2 + 2 * row_axis]
        return first.reshape(-1, 7)

    @cached_property
    def fold_used(self) -> np.ndarray:
        """int64 array (folds, 2): array rows and columns each fold actually occupies."""
        row_axis, col_axis, _ = self.axes
        extent = self.fold_bounds[:, 2::2] - self.fold_bounds[:, 1::2]  # (folds, 3): M, K, N
        return extent[:, [row_axis, col_axis]]

    @property
    def stationary(self) -> str:
        """The operand each PE keeps for the whole fold (os: its ofmap partial sum): the one without T."""
        return next(name for name in OPERANDS if self.temporal_dim not in OPERAND_DIMS[name])

    @property
    def streamed(self) -> tuple[str, ...]:
        """The operands entering the array edges each cycle (from the left into the rows, from the top)."""
        return {"os": ("ifmap", "filter"), "ws": ("ifmap",), "is": ("filter",)}[self.dataflow]

    @cached_property
    def fold_row_index(self) -> np.ndarray:
        """int64 (folds,): which row fold each fold is (ws/is: > 0 means the fold adds to stored partial sums)."""
        return np.tile(np.arange(self.row_folds, dtype=np.int64), self.groups * self.col_folds)

    @cached_property
    def fold_mapping_efficiency(self) -> np.ndarray:
        """float64 (folds,): occupied PEs / all PEs of each fold."""
        used = self.fold_used
        return (used[:, 0] * used[:, 1]) / float(self.rows * self.cols)

    @cached_property
    def mapping_efficiency(self) -> float:
        """Mean over folds of occupied PEs / all PEs (SCALE-Sim's 'Mapping Efficiency', unweighted)."""
        # Below 2**53 the float mean of the per-fold counts sums them exactly, so the closed form makes the same
        # two roundings (/ folds, / PEs) without the fold arrays.
        occupied = self.groups * self.spatial_rows * self.spatial_cols
        if occupied < 2**53:
            return occupied / self.folds / (self.rows * self.cols)
        used = self.fold_used
        return float(np.mean(used[:, 0] * used[:, 1]) / (self.rows * self.cols))
