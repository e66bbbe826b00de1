"""SCALE-Sim 3.0.0's per-operand SRAM start / stop cycles (DETAILED_ACCESS_REPORT) and its Compute Util %, in
closed form.

SCALE-Sim runs folds back to back (column folds outer, row folds inner), each `F` cycles (ws/is 2R + C + T - 2,
os R + C + T - 2), and numbers cycles from 1 for the first SRAM access. Within a fold the stationary operand is
loaded in the first R cycles, the streamed operand follows skewed by one cycle per used row, and outputs leave
the bottom of the array skewed by one cycle per used column. Fitted to, and checked on, every dense golden layer
(tests/data/scalesim/golden_reports.csv; CALC mode, no stalls):

- ws (T = M pixels): filter R - min(K, R) + 1 .. L + R; ifmap R + 1 .. L + R + T + r - 1; ofmap 2R - 1 .. L + 2R + T + c - 3
- is (T = N filters): the same with ifmap and filter swapped
- os (T = K window): ifmap 1 .. L + T + r - 1; filter 1 .. L + T + c - 1;
  ofmap T - 1 + R - min(M, R) .. L + T + R + c - 3

with L = (folds - 1) F the last fold's first cycle, r / c the rows / columns the last fold uses.
"""
from __future__ import annotations

from sim.workload.layer import Layer


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def sram_windows(dataflow: str, rows: int, cols: int, m: int, k: int, n: int) -> dict[str, tuple[int, int]]:
    """(start, stop) SRAM cycle of each operand for one GEMM (M x K by K x N) on an R x C array."""
    spatial_rows, spatial_cols, streamed = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]
    folds = _ceil(spatial_rows, rows) * _ceil(spatial_cols, cols)
    fold = (rows if dataflow == "os" else 2 * rows) + cols + streamed - 2
    last = (folds - 1) * fold
    used_rows = spatial_rows - (_ceil(spatial_rows, rows) - 1) * rows
    used_cols = spatial_cols - (_ceil(spatial_cols, cols) - 1) * cols
    if dataflow == "os":
        return {"ifmap": (1, last + streamed + used_rows - 1), "filter": (1, last + streamed + used_cols - 1),
                "ofmap": (streamed - 1 + rows - min(m, rows), last + streamed + rows + used_cols - 3)}
    stationary = (rows - min(spatial_rows, rows) + 1, last + rows)  # loaded bottom row first
    moving = (rows + 1, last + rows + streamed + used_rows - 1)
    ofmap = (2 * rows - 1, last + 2 * rows + streamed + used_cols - 3)
    if dataflow == "ws":
        return {"filter": stationary, "ifmap": moving, "ofmap": ofmap}
    return {"ifmap": stationary, "filter": moving, "ofmap": ofmap}


def compute_util_pct(dataflow: str, rows: int, cols: int, m: int, k: int, n: int) -> float:
    """SCALE-Sim's Compute Util %: the mean over folds of used PEs x T / (R x C x L), where L is the fold length
    for os but 2R + 2C + T - 3 for ws and is, C - 1 longer than the fold (scalesim_compat.md, inconsistency 3).
    Folds are a full grid, so the mean of used rows x used columns is the product of the two means."""
    spatial_rows, spatial_cols, streamed = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]
    mean_rows = spatial_rows / _ceil(spatial_rows, rows)
    mean_cols = spatial_cols / _ceil(spatial_cols, cols)
    length = rows + cols + streamed - 2 if dataflow == "os" else 2 * rows + 2 * cols + streamed - 3
    return 100.0 * mean_rows * mean_cols * streamed / (rows * cols * length)


def scalesim_window_extras(layer: Layer, dataflow: str, rows: int, cols: int) -> dict[str, float]:
    """LayerResult extras `scalesim.sram.<operand>.start|stop`; {} for grouped layers (SCALE-Sim runs each group as
    its own layer, with its own windows)."""
    gemm = layer.gemm
    if gemm.groups != 1:
        return {}
    out: dict[str, float] = {"scalesim.compute_util_pct": compute_util_pct(dataflow, rows, cols, gemm.m, gemm.k,
                                                                            gemm.n)}
    if dataflow == "os":  # SCALE-Sim's second ofmap write counter adds R + C per os fold (its issue #166)
        folds = _ceil(gemm.m, rows) * _ceil(gemm.n, cols)
        out["scalesim.sram.ofmap.extra_writes"] = folds * (rows + cols)
    for operand, (start, stop) in sram_windows(dataflow, rows, cols, gemm.m, gemm.k, gemm.n).items():
        out[f"scalesim.sram.{operand}.start"] = start
        out[f"scalesim.sram.{operand}.stop"] = stop
    return out
