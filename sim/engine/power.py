"""Power over time and space for a systolic engine run, derived from the engine's timeline (opt-in).

`simulate_power(trace, hw, grid=(rows, cols), window_cycles=W)` runs the engine with its step log on and
spreads every priced dynamic action (everything but `leakage.cycle`) over time windows and places:
- `mac`: over each step's compute cycles, in proportion to the fold's MACs (m x k x n of its block) and, within
  the fold, evenly over the PEs it occupies (the fold's used rows x columns, from the array's corner), so
  over the grid's regions by the PEs each holds;
- `{ifmap,filter,ofmap}_sram.read` and `ofmap_sram.write`: over the same steps, by the fold's SRAM counts
  (`fold_sram_counts`), into the off-array `sram` bucket;
- `dram.read_byte`, `dram.write_byte` and the SRAM fills (`ifmap_sram.write`, `filter_sram.write`): over the
  DRAM transfer log's intervals in proportion to bytes (one average price per byte for the run), into the
  off-array `dram` bucket.
Each layer's action totals are the record's, so the trace integrates to the run's dynamic energy, and the
region maps (grid plus the two off-array buckets) sum to it. Power in a window is its energy / (W cycles at
the array's clock); the chip trace's peak and largest window-to-window step are the PDN figures.
Activity inside a fold is taken as uniform in time and over its PEs (the wavefront's skew is not resolved).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analytical.systolic import fold_sram_counts
from sim.engine.simulate import DEFAULT_WINDOW_CYCLES, _check_systolic, _check_window, _mapping_of, _simulate
from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.records import RunResult
from sim.workload.trace import Trace

ARRAY_ACTIONS = ("mac",)
SRAM_ACTIONS = ("ifmap_sram.read", "filter_sram.read", "ofmap_sram.read", "ofmap_sram.write")
TRANSFER_ACTIONS = ("dram.read_byte", "dram.write_byte", "ifmap_sram.write", "filter_sram.write")
STATIC_ACTIONS = ("leakage.cycle",)


@dataclass(frozen=True)
class PowerTrace:
    """Energy (pJ) per time window: per PE region (windows x grid_rows*grid_cols, row-major) and off the array."""

    window_cycles: int
    clock_mhz: float
    grid_rows: int
    grid_cols: int
    array_rows: int
    array_cols: int
    region_pj: np.ndarray  # (windows, grid_rows * grid_cols)
    sram_pj: np.ndarray  # (windows,)
    dram_pj: np.ndarray  # (windows,)

    @property
    def windows(self) -> int:
        return len(self.sram_pj)

    @property
    def window_ns(self) -> float:
        return self.window_cycles * 1000.0 / self.clock_mhz

    @property
    def chip_pj(self) -> np.ndarray:
        return self.region_pj.sum(axis=1) + self.sram_pj + self.dram_pj

    @property
    def chip_mw(self) -> np.ndarray:
        """pJ per ns is mW."""
        return self.chip_pj / self.window_ns

    @property
    def region_mw(self) -> np.ndarray:
        return self.region_pj / self.window_ns

    @property
    def peak_mw(self) -> float:
        return float(self.chip_mw.max(initial=0.0))

    @property
    def largest_step_mw(self) -> float:
        """The largest change of chip power between consecutive windows (a current-step proxy)."""
        power = self.chip_mw
        return float(np.abs(np.diff(power)).max(initial=0.0)) if power.size > 1 else 0.0

    @property
    def dynamic_energy_pj(self) -> float:
        return float(self.chip_pj.sum())

    def region_map_pj(self) -> np.ndarray:
        """(grid_rows, grid_cols): each region's energy over the run."""
        return self.region_pj.sum(axis=0).reshape(self.grid_rows, self.grid_cols)

    def summary(self) -> dict[str, float]:
        return {"power.window_cycles": self.window_cycles, "power.grid": f"{self.grid_rows}x{self.grid_cols}",
                "power.peak_mw": self.peak_mw, "power.largest_step_mw": self.largest_step_mw,
                "power.average_mw": float(self.chip_mw.mean()) if self.windows else 0.0,
                "power.dynamic_energy_pj": self.dynamic_energy_pj}


def dynamic_energy_pj(run: RunResult) -> float:
    """The run's energy less its static part (the `leakage` component)."""
    return sum(layer.energy.total_pj - layer.energy.as_dict().get("leakage", 0.0) for layer in run.layers)


def region_edges(extent: int, parts: int) -> np.ndarray:
    """Boundaries of `parts` near-equal regions over `extent` PEs."""
    return (np.arange(parts + 1) * extent) // parts


def fold_region_shares(used: np.ndarray, rows: int, cols: int, grid: tuple[int, int]) -> np.ndarray:
    """(folds, regions): the share of each fold's occupied PEs (rows x cols from the corner) in each region."""
    row_edges, col_edges = region_edges(rows, grid[0]), region_edges(cols, grid[1])
    used_rows, used_cols = used[:, 0:1], used[:, 1:2]
    in_rows = np.clip(np.minimum(used_rows, row_edges[1:]) - row_edges[:-1], 0, None)  # (folds, grid rows)
    in_cols = np.clip(np.minimum(used_cols, col_edges[1:]) - col_edges[:-1], 0, None)
    pes = (used_rows * used_cols).astype(float)
    shares = (in_rows[:, :, None] * in_cols[:, None, :]).reshape(len(used), -1) / np.maximum(pes, 1.0)
    return shares


def spread(starts: np.ndarray, ends: np.ndarray, energy: np.ndarray, windows: int, window: int,
           weights: np.ndarray | None = None) -> np.ndarray:
    """Each interval's energy over the windows it overlaps, in proportion to the overlap (a zero-length interval:
    all in its window). With `weights` (intervals, k), each interval's energy is split over k columns by them."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    columns = 1 if weights is None else weights.shape[1]
    out = np.zeros((windows, columns))
    if not len(starts):
        return out if weights is not None else out[:, 0]
    first = starts // window
    point = ends <= starts
    last = np.where(point, first, (ends - 1) // window)
    count = last - first + 1
    owner = np.repeat(np.arange(len(starts)), count)
    offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    slot = first[owner] + offset
    low = np.maximum(starts[owner], slot * window)
    high = np.minimum(ends[owner], (slot + 1) * window)
    length = np.where(point, 1, ends - starts)[owner]
    share = np.where(point[owner], 1.0, (high - low) / length)
    piece = energy[owner] * share
    if weights is None:
        np.add.at(out[:, 0], slot, piece)
        return out[:, 0]
    np.add.at(out, slot, piece[:, None] * weights[owner])
    return out


def _price(hw: Hardware, action: str) -> float:
    entry = hw.energy.get(action)
    return entry.pj if entry is not None else 0.0


def power_trace(run: RunResult, mappings, plans, timelines, transfers: np.ndarray, hw: Hardware, *,
                grid: tuple[int, int], window_cycles: int) -> PowerTrace:
    """The trace of a finished run from its plans, step logs and DRAM transfer log (see module)."""
    rows, cols = hw.pe_array.rows, hw.pe_array.cols
    end = max((t.end for t in timelines), default=0)
    if len(transfers):
        end = max(end, int(transfers[:, 1].max()))
    windows = max(1, -(-end // window_cycles))
    regions = grid[0] * grid[1]
    region_pj = np.zeros((windows, regions))
    sram_pj = np.zeros(windows)
    transfer_energy = 0.0
    for result, mapping, plan, timeline in zip(run.layers, mappings, plans, timelines):
        actions = result.actions.as_dict()
        log = np.asarray(timeline.step_log, dtype=np.int64).reshape(-1, 3)
        fold = plan.steps[log[:, 0], 0]
        starts, cycles = log[:, 1], log[:, 2]
        fold_time = np.bincount(fold, weights=cycles, minlength=mapping.folds)
        bounds = mapping.fold_bounds
        macs = ((bounds[:, 2] - bounds[:, 1]) * (bounds[:, 4] - bounds[:, 3]) * (bounds[:, 6] - bounds[:, 5]))
        counts = fold_sram_counts(mapping)
        per_fold = {"mac": macs, "ifmap_sram.read": counts[:, 0], "filter_sram.read": counts[:, 1],
                    "ofmap_sram.read": counts[:, 2], "ofmap_sram.write": counts[:, 3]}
        step_array = np.zeros(len(log))
        step_sram = np.zeros(len(log))
        for action, weights in per_fold.items():
            energy = actions.get(action, 0) * _price(hw, action)
            if not energy:
                continue
            weights = weights.astype(float) * (fold_time > 0)
            if not weights.sum():  # no per-fold split (counts without a fold owner): evenly over the steps
                weights = (fold_time > 0).astype(float)
            per_cycle = energy * weights / weights.sum() / np.maximum(fold_time, 1)
            target = step_array if action in ARRAY_ACTIONS else step_sram
            target += per_cycle[fold] * cycles
        shares = fold_region_shares(mapping.fold_used, rows, cols, grid)[fold]
        region_pj += spread(starts, starts + cycles, step_array, windows, window_cycles, shares)
        sram_pj += spread(starts, starts + cycles, step_sram, windows, window_cycles)
        transfer_energy += sum(actions.get(action, 0) * _price(hw, action) for action in TRANSFER_ACTIONS)
    dram_pj = np.zeros(windows)
    if len(transfers) and transfer_energy:
        sizes = transfers[:, 2].astype(float)
        dram_pj = spread(transfers[:, 0], transfers[:, 1], transfer_energy * sizes / sizes.sum(), windows,
                         window_cycles)
    return PowerTrace(window_cycles=window_cycles, clock_mhz=hw.pe_array.clock_mhz, grid_rows=grid[0],
                      grid_cols=grid[1], array_rows=rows, array_cols=cols, region_pj=region_pj, sram_pj=sram_pj,
                      dram_pj=dram_pj)


def parse_grid(text: str) -> tuple[int, int]:
    """"4x4" -> (4, 4); anything else is a ConfigError naming --power-grid."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise ConfigError("the power grid is ROWSxCOLS", field="--power-grid", value=text, allowed="e.g. 4x4")
    return int(parts[0]), int(parts[1])


def check_grid(grid: tuple[int, int], hw: Hardware) -> None:
    rows, cols = hw.pe_array.rows, hw.pe_array.cols
    if len(grid) != 2 or not all(isinstance(g, int) and not isinstance(g, bool) for g in grid) \
            or not (1 <= grid[0] <= rows and 1 <= grid[1] <= cols):
        raise ConfigError("the power grid must split the PE array into regions of at least one PE",
                          field="power.grid", value="x".join(map(str, grid)),
                          allowed=f"ROWSxCOLS with 1 <= ROWS <= {rows} and 1 <= COLS <= {cols}")


def simulate_power(trace: Trace, hw: Hardware, *, grid: tuple[int, int] = (4, 4),
                   window_cycles: int = DEFAULT_WINDOW_CYCLES, functional: bool = False, seed: int = 0,
                   overlap_weight_prefetch: bool = False,
                   keep_outputs_on_chip: bool = True) -> tuple[RunResult, PowerTrace]:
    """`sim.engine.simulate.simulate_trace` with the step log on: the run (its metadata adds the power summary)
    and its power trace over `window_cycles` windows and a `grid` of PE regions."""
    _check_systolic(hw)
    _check_window(window_cycles)
    check_grid(tuple(grid), hw)
    if hw.pe_array.deconv == "zero_skipping" and any(layer.kind == "tconv" for layer in trace.layers):
        from sim.engine.deconv import simulate_zero_skipping  # the phases run (and draw power); records merge

        kept: dict = {}

        def run_expanded(expanded: Trace) -> RunResult:
            run, kept["power"] = simulate_power(expanded, hw, grid=grid, window_cycles=window_cycles,
                                                functional=functional, seed=seed,
                                                overlap_weight_prefetch=overlap_weight_prefetch,
                                                keep_outputs_on_chip=False)  # stride phases: not a chain
            return run

        return simulate_zero_skipping(trace, hw, run_expanded), kept["power"]
    layers = [(layer, _mapping_of(trace, i, hw)) for i, layer in enumerate(trace.layers)]
    seen: dict = {}

    def observe(plans, timelines, transfers) -> None:
        seen.update(plans=plans, timelines=timelines, transfers=transfers)

    results, windows = _simulate(layers, hw, functional=functional, seed=seed,
                                 overlap_weight_prefetch=overlap_weight_prefetch, window=window_cycles,
                                 observe=observe, keep_outputs_on_chip=keep_outputs_on_chip)
    run = RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results), pes=hw.pe_array.pes,
                    metadata=(("bandwidth_window_cycles", window_cycles),
                              ("bandwidth_windows", tuple(windows)),
                              ("overlap_weight_prefetch", overlap_weight_prefetch), ("seed", seed)))
    if not layers:
        return run, PowerTrace(window_cycles, hw.pe_array.clock_mhz, grid[0], grid[1], hw.pe_array.rows,
                               hw.pe_array.cols, np.zeros((1, grid[0] * grid[1])), np.zeros(1), np.zeros(1))
    power = power_trace(run, [m for _, m in layers], seen["plans"], seen["timelines"], seen["transfers"], hw,
                        grid=tuple(grid), window_cycles=window_cycles)
    run = RunResult(hardware=run.hardware, trace=run.trace, model=run.model, layers=run.layers, pes=run.pes,
                    metadata=run.metadata + tuple(power.summary().items()))
    return run, power


__all__ = ["PowerTrace", "dynamic_energy_pj", "fold_region_shares", "parse_grid", "power_trace", "simulate_power",
           "spread"]
