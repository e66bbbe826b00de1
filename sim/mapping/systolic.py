"""Mapping a layer's lowered GEMM onto a rows x cols systolic array (output/weight/input stationary).

The GEMM of group g is (M x K) @ (K x N). Each dataflow puts two GEMM dimensions on the array and streams
the third in time (SCALE-Sim's Sr / Sc / T):

| dataflow | array rows hold | array cols hold | streamed (T) | stationary |
|----------|-----------------|-----------------|--------------|------------|
| os       | M (pixels)      | N (filters)     | K (window)   | ofmap      |
| ws       | K (window)      | N (filters)     | M (pixels)   | filter     |
| is       | K (window)      | M (pixels)      | N (filters)  | ifmap      |

A fold is one rows x cols tile of (Sr x Sc); folds run groups-outer, then column folds, then row folds
(SCALE-Sim's order). `fold_bounds` gives each fold's GEMM sub-block, which the kernels compute and the
engine fetches.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.workload.layer import Layer

# Which GEMM dimension (0 = M, 1 = K, 2 = N) sits on array rows, array cols, and in time.
DATAFLOW_AXES: dict[str, tuple[int, int, int]] = {"os": (0, 2, 1), "ws": (1, 2, 0), "is": (1, 0, 2)}
STATIONARY_OPERAND = {"os": "ofmap", "ws": "filter", "is": "ifmap"}
# The operands entering the array edges each cycle: (from the left into the rows, from the top into the columns).
STREAMED_OPERANDS = {"os": ("ifmap", "filter"), "ws": ("ifmap", None), "is": ("filter", None)}
# Integer codes the numba kernels and the vectorized closed forms take instead of strings.
DATAFLOW_CODES: dict[str, int] = {"os": 0, "ws": 1, "is": 2}


@dataclass(frozen=True)
class SystolicMapping:
    layer: Layer
    dataflow: str
    rows: int
    cols: int

    @property
    def gemm_dims(self) -> tuple[int, int, int]:
        g = self.layer.gemm
        return (g.m, g.k, g.n)

    @property
    def groups(self) -> int:
        return self.layer.gemm.groups

    @property
    def spatial_rows(self) -> int:
        """Sr: the GEMM extent laid along the array's rows."""
        return self.gemm_dims[DATAFLOW_AXES[self.dataflow][0]]

    @property
    def spatial_cols(self) -> int:
        """Sc: the GEMM extent laid along the array's columns."""
        return self.gemm_dims[DATAFLOW_AXES[self.dataflow][1]]

    @property
    def temporal(self) -> int:
        """T: the GEMM extent streamed through the array, one element per cycle."""
        return self.gemm_dims[DATAFLOW_AXES[self.dataflow][2]]

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
        row_axis, col_axis, _ = DATAFLOW_AXES[self.dataflow]
        dims = self.gemm_dims
        rows, cols = self.rows, self.cols
        row_folds, col_folds = -(-dims[row_axis] // rows), -(-dims[col_axis] // cols)
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
    def fold_used(self) -> np.ndarray:
        """int64 array (folds, 2): array rows and columns each fold actually occupies."""
        row_axis, col_axis, _ = DATAFLOW_AXES[self.dataflow]
        extent = self.fold_bounds[:, 2::2] - self.fold_bounds[:, 1::2]  # (folds, 3): M, K, N
        return extent[:, [row_axis, col_axis]]

    @property
    def dataflow_code(self) -> int:
        return DATAFLOW_CODES[self.dataflow]

    @property
    def stationary(self) -> str:
        """The operand each PE keeps for the whole fold (os: its ofmap partial sum)."""
        return STATIONARY_OPERAND[self.dataflow]

    @property
    def streamed(self) -> tuple[str, ...]:
        """The operands that flow through the array during a fold (one element per PE per cycle)."""
        return tuple(name for name in STREAMED_OPERANDS[self.dataflow] if name is not None)

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
        # The folds occupy Sr x Sc PEs per group in all. Below 2**53 the float mean of the per-fold counts sums
        # them exactly, so the closed form makes the same two roundings (/ folds, / PEs) without the fold arrays.
        occupied = self.groups * self.spatial_rows * self.spatial_cols
        if occupied < 2**53:
            return occupied / self.folds / (self.rows * self.cols)
        used = self.fold_used
        return float(np.mean(used[:, 0] * used[:, 1]) / (self.rows * self.cols))


def map_systolic(layer: Layer, hw: Hardware, dataflow: str | None = None) -> SystolicMapping:
    """Map `layer` onto `hw.pe_array`; `dataflow` overrides the config's (for comparisons)."""
    if hw.pe_array is None:
        raise MappingError(f"hardware '{hw.name}' has no [pe_array] to map layer '{layer.name}' onto",
                           field="pe_array")
    flow = dataflow or hw.pe_array.dataflow
    if flow not in DATAFLOW_AXES:
        raise MappingError("unknown dataflow", field="pe_array.dataflow", value=flow, allowed="os, ws, is")
    # A block-circulant layer runs expanded on a digital array: it has no circulant datapath.
    return SystolicMapping(layer=layer, dataflow=flow, rows=hw.pe_array.rows, cols=hw.pe_array.cols)
