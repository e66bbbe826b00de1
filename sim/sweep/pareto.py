"""Pareto front and top-k selection over screened points (every objective minimized after orientation)."""
from __future__ import annotations

import numpy as np

# The metric column behind each objective, and its sign: +1 minimized, -1 maximized.
OBJECTIVE_COLUMNS: dict[str, tuple[str, float]] = {
    "latency": ("latency_us", 1.0),
    "energy": ("energy_pj", 1.0),
    "edp": ("edp", 1.0),
    "area": ("area_mm2", 1.0),
    "power": ("power_mw", 1.0),
    "throughput_per_area": ("throughput_per_area", -1.0),
}


def objective_column(objective: str, has_clock: bool) -> tuple[str, float]:
    """(column, sign) of an objective; without a clock (directive arrays) latency is measured in cycles."""
    column, sign = OBJECTIVE_COLUMNS[objective]
    if objective == "latency" and not has_clock:
        return "cycles", sign
    return column, sign


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """bool (n,): rows of `values` (n x d, minimized) that no other row dominates; rows with NaN never qualify.

    Identical rows share their fate. On the distinct rows: the lexicographically smallest remaining row is
    on the front (nothing remaining dominates it, and whatever dominated it would have removed it already);
    it removes every row it dominates, and the loop repeats. Cost: front size x rows, vectorized.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.shape[0]
    mask = np.zeros(n, dtype=bool)
    finite = np.flatnonzero(~np.isnan(values).any(axis=1))
    if finite.size == 0:
        return mask
    unique, inverse = _unique_rows(values[finite])
    on_front = np.zeros(unique.shape[0], dtype=bool)
    if unique.shape[1] == 2:
        # Two objectives: a row is on the front iff its second value beats every lexicographically earlier row.
        earlier_min = np.concatenate(([np.inf], np.minimum.accumulate(unique[:-1, 1])))
        on_front = unique[:, 1] < earlier_min
    else:
        remaining = np.arange(unique.shape[0])
        while remaining.size:
            best = remaining[0]
            on_front[best] = True
            remaining = remaining[~np.all(unique[remaining] >= unique[best], axis=1)]
    mask[finite] = on_front[inverse]
    return mask


def _unique_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(values, axis=0, return_inverse=True) for NaN-free rows: the distinct rows in lexicographic
    order and each row's index among them, by one lexsort (several times faster on big sweeps)."""
    order = np.lexsort(values.T[::-1])
    ordered = values[order]
    starts = np.ones(len(ordered), dtype=bool)
    starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    return ordered[starts], inverse


def top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k smallest finite entries of a 1-D array (ties by position), best first."""
    values = np.asarray(values, dtype=np.float64)
    candidates = np.flatnonzero(~np.isnan(values))
    if 0 < k < candidates.size:
        # Only entries up to the k-th smallest value can be among the k; a stable sort of those keeps the ties.
        threshold = np.partition(values[candidates], k - 1)[k - 1]
        candidates = candidates[values[candidates] <= threshold]
    order = candidates[np.argsort(values[candidates], kind="stable")]
    return order[:max(k, 0)]
