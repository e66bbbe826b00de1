"""Evaluating sweep points: hardware variants, area and power rules, analytical screening, engine validation.

The task functions here (`screen_chunk`, `validate_point`) are pure and top-level, so a process pool or a
Dask cluster can run them; they return rows the store writes (a columnar ScreenedRows batch from the
vectorized screening, row tuples or dicts otherwise).

Area of a point (docs/sweep.md): PE arrays scale the base config's [area] entries by what the point varies
(`area_mm2`); crossbar chips use sim.energy.area's level sums with per-unit entries rescaled
(`reram_area_mm2`). Power = energy / latency; throughput per area = 2 x MACs / latency / area (GOPS/mm2).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import SimError
from sim.hardware.hierarchy import is_today
from sim.hardware.spec import Hardware
from sim.records import OperandCounts, RunResult
from sim.sweep.spec import Constraints, Parameter
from sim.workload.trace import Trace

# Parameters the vectorized systolic closed form takes as arrays; any other swept path uses the per-point model.
GRID_PATHS = {
    "pe_array.rows": "rows",
    "pe_array.cols": "cols",
    "pe_array.dataflow": "dataflow",
    "buffers.ifmap.size_kb": "ifmap_kb",
    "buffers.filter.size_kb": "filter_kb",
    "buffers.ofmap.size_kb": "ofmap_kb",
    "dram.bandwidth_bytes_per_cycle": "bandwidth_bytes_per_cycle",
    "dram.ifmap_bandwidth_bytes_per_cycle": "ifmap_bandwidth_bytes_per_cycle",
    "dram.filter_bandwidth_bytes_per_cycle": "filter_bandwidth_bytes_per_cycle",
    "dram.ofmap_bandwidth_bytes_per_cycle": "ofmap_bandwidth_bytes_per_cycle",
    "dram.latency_cycles": "latency_cycles",
    "pe_array.clock_mhz": None,  # only scales latency and power
}
METRICS = ("cycles", "latency_us", "energy_pj", "edp", "area_mm2", "power_mw", "throughput_per_area",
           "utilization", "macs", "buffer_kb")
_CONSTRAINT_METRIC = {"max_area_mm2": "area_mm2", "max_power_mw": "power_mw", "max_buffer_kb": "buffer_kb",
                      "max_latency_us": "latency_us", "max_energy_pj": "energy_pj"}


@dataclass(frozen=True)
class SweepContext:
    """What every task of one trace needs: sent once per task, small enough to pickle."""

    spec_file: str
    trace: Trace
    trace_id: str  # file name @ content hash: part of every point's key
    base: Hardware
    base_id: str
    parameters: tuple[Parameter, ...]
    constraints: Constraints
    versions: str  # "sim=0.1.0 numpy=... ": the package versions, stored on every row
    # (parameter index, value index, reason) of values the base config rejects (vectorized path only).
    invalid_values: tuple[tuple[int, int, str], ...] = ()
    accuracy: Any = None  # the spec's AccuracyStudy: engine-validated points also measure top-1 accuracy
    mapping: str = ""  # "auto": each point's layers on the mapper's best mappings (searched once per layer, hardware)
    mapper_cache: Any = None  # the sim.mapper.search.MapperCache of this process's tasks

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(p.values) for p in self.parameters)


KEY_CHARS = 20  # point_key's hex digest length
STATUSES = ("ok", "excluded", "failed")  # ScreenedRows.status codes


@dataclass(frozen=True, eq=False)
class ScreenedRows:
    """The `points` rows of one vectorized screening task, as columns: a few arrays and strings pickle and
    unpickle far faster than one tuple per point, and the parent (the single database writer) builds the row
    tuples lazily while SQLite inserts them."""

    trace: str
    keys: str  # the points' keys concatenated (each KEY_CHARS long)
    params: str  # the points' params_json texts joined by newlines (JSON text never holds a raw newline)
    status: np.ndarray  # int8 index into STATUSES per point
    reasons: tuple[str, ...]
    metrics: np.ndarray  # (len(METRICS), points) float64; NaN is stored as NULL
    wall_s: float  # per point: the task's wall time over its points
    versions: str
    finished_at: float
    model: str = "analytical"
    # The same rows as a serialized SQLite database (store.rows_image), built by a pool worker so that the
    # single writer copies them with one INSERT ... SELECT instead of binding every value itself.
    image: bytes | None = None

    def __len__(self) -> int:
        return self.status.size

    def key_array(self) -> np.ndarray:
        """The keys as a str array (a view of the concatenated text)."""
        return np.array([self.keys]).view(f"<U{KEY_CHARS}") if self.keys else np.array([], dtype=f"<U{KEY_CHARS}")

    def __iter__(self) -> Iterator[tuple]:
        """The row tuples, in store.POINT_COLUMNS order."""
        status = np.array(STATUSES, dtype=object)[self.status].tolist()
        return zip(self.key_array().tolist(), repeat(self.trace), self.params.split("\n"), status, self.reasons,
                   repeat(self.model), *(column.tolist() for column in self.metrics), repeat(self.wall_s),
                   repeat(self.versions), repeat(self.finished_at))


def file_id(path: Path) -> str:
    """`name@hash` of a file's content: a changed trace or config gives new point keys."""
    digest = hashlib.blake2b(Path(path).read_bytes(), digest_size=6).hexdigest()
    return f"{Path(path).name}@{digest}"


def point_params(parameters: tuple[Parameter, ...], index: int, shape: tuple[int, ...]) -> dict[str, Any]:
    """{path: value} of the point at flat grid `index`."""
    point: dict[str, Any] = {}
    for parameter, position in zip(parameters, np.unravel_index(index, shape)):
        for path in parameter.paths:
            point[path] = parameter.values[int(position)]
    return point


def params_json(point: Mapping[str, Any]) -> str:
    return json.dumps(dict(sorted(point.items())), default=str)


def point_key(trace_id: str, base_id: str, params: str) -> str:
    """A stable hash of the point's trace, base hardware and parameters (the database key)."""
    return hashlib.blake2b(f"{trace_id}|{base_id}|{params}".encode(), digest_size=10).hexdigest()


# ------------------------------------------------------------------------------------------- variants
def _set_path(raw: dict, path: str, value: Any) -> None:
    parts = path.split(".")
    node = raw
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def hardware_variant(base: Hardware, point: Mapping[str, Any], spec_file: str = "") -> Hardware:
    """`base` with the point's hardware paths set, re-validated: an impossible point raises ConfigError."""
    from sim.hardware.validation import validate_hardware

    changes = {path: value for path, value in point.items() if not path.startswith("workload.")}
    if not changes:
        return base
    raw = base.model_dump(mode="python")
    for path, value in changes.items():
        _set_path(raw, path, value)
    return validate_hardware(raw, spec_file, lambda field: (field, None))


def workload_variant(trace: Trace, point: Mapping[str, Any]) -> Trace:
    """The trace with the point's `workload.*` fields set (block_size only on block-circulant layers)."""
    changes = {path.split(".", 1)[1]: value for path, value in point.items() if path.startswith("workload.")}
    if not changes:
        return trace
    layers = []
    for layer in trace.layers:
        update = dict(changes)
        if "block_size" in update and layer.block_size == 1:
            del update["block_size"]
        layers.append(replace(layer, **update) if update else layer)
    return replace(trace, layers=tuple(layers))


# ------------------------------------------------------------------------------------------- area, power
def _pe_count(get: Callable[[str], Any]) -> Any:
    if get("pe_array.rows") is not None:
        return np.asarray(get("pe_array.rows"), dtype=np.float64) * get("pe_array.cols")
    return get("directive_array.num_pes")


def _buffer_total_kb(get: Callable[[str], Any]) -> Any:
    if get("buffers.ifmap.size_kb") is not None:
        return sum(np.asarray(get(f"buffers.{op}.size_kb"), dtype=np.float64) for op in ("ifmap", "filter", "ofmap"))
    if get("directive_array.l2_size_bytes") is not None:
        return (np.asarray(get("directive_array.l1_size_bytes"), dtype=np.float64) * get("directive_array.num_pes")
                + get("directive_array.l2_size_bytes")) / 1024
    return None


# Whole-component area entries and the quantity they scale with (by the ratio point / base).
_WHOLE_COMPONENTS: dict[str, Callable[[Callable[[str], Any]], Any]] = {
    "pe_array": _pe_count,
    "pe": _pe_count,
    "ifmap_sram": lambda get: get("buffers.ifmap.size_kb"),
    "filter_sram": lambda get: get("buffers.filter.size_kb"),
    "ofmap_sram": lambda get: get("buffers.ofmap.size_kb"),
    "sram": _buffer_total_kb,
    "buffer": _buffer_total_kb,
    "unified_buffer": _buffer_total_kb,
    "global_buffer": _buffer_total_kb,
}


def _getter(base: Hardware, values: Mapping[str, Any]) -> Callable[[str], Any]:
    def get(path: str) -> Any:
        if path in values:
            return values[path]
        node: Any = base
        for part in path.split("."):
            node = getattr(node, part, None)
            if node is None:
                return None
        return node

    return get


def area_mm2(base: Hardware, values: Mapping[str, Any]) -> Any:
    """Area of a PE-array point: `base` with `values` ({path: scalar or array}) applied; NaN without [area].

    `mac` entries are per MAC unit (x PEs); whole components scale by point / base of what they hold
    (`pe_array`, `pe`: PEs; `<operand>_sram`: KiB; `sram`, `buffer`, `unified_buffer`, `global_buffer`: all
    buffers' KiB); any other entry (a whole core, a NoC) keeps its area.
    """
    if not base.area:
        return math.nan
    point_get, base_get = _getter(base, values), _getter(base, {})
    total: Any = 0.0
    for key, entry in base.area.items():
        component = key.split(".", 1)[0]
        scale: Any = 1.0
        if component == "mac":
            scale = _pe_count(point_get)
        elif component in _WHOLE_COMPONENTS:
            at_point, at_base = _WHOLE_COMPONENTS[component](point_get), _WHOLE_COMPONENTS[component](base_get)
            if at_point is not None and at_base:
                scale = np.asarray(at_point, dtype=np.float64) / float(at_base)
        total = total + entry.mm2 * entry.count * scale
    return total


def reram_area_mm2(base: Hardware, hw: Hardware) -> float:
    """Chip area of a crossbar point: sim.energy.area's level sums over `hw`'s organisation, with the per-unit
    entries of `base` rescaled: crossbars by cells, DACs by rows, sample-and-holds by columns, eDRAM by KiB,
    ADCs by the ADC law (`reram.adc.energy_law`, the same scaling as conversion energy)."""
    from sim.energy.adc_law import adc_energy_pj
    from sim.energy.area import chip_budget

    if not base.area or hw.reram is None or base.reram is None:
        return math.nan
    old, new = base.reram, hw.reram
    if isinstance(new.adc.bits, str) or isinstance(old.adc.bits, str):
        adc = 1.0  # "lossless": the resolution is set per layer, the table's unit is kept
    else:
        reference = adc_energy_pj(1.0, old.adc.bits, old.adc.energy_reference_bits, new.adc.energy_law)
        adc = adc_energy_pj(1.0, new.adc.bits, new.adc.energy_reference_bits, new.adc.energy_law) / reference
    scales = {
        "crossbar": new.crossbar_rows * new.crossbar_cols / (old.crossbar_rows * old.crossbar_cols),
        "dac": new.crossbar_rows / old.crossbar_rows,
        "sample_hold": new.crossbar_cols / old.crossbar_cols,
        "edram": new.edram_kb_per_tile / old.edram_kb_per_tile,
        "adc": adc,
    }
    area = {}
    for key, entry in base.area.items():
        component = key.split(".", 1)[1] if "." in key else key
        area[key] = entry.model_copy(update={"mm2": entry.mm2 * scales.get(component, 1.0)})
    return chip_budget(hw.model_copy(update={"area": area})).chip_mm2


def buffer_kb(base: Hardware, values: Mapping[str, Any]) -> Any:
    """On-chip buffer capacity in KiB: the three SRAMs, eDRAM over all tiles, or L1 x PEs + L2."""
    get = _getter(base, values)
    if base.buffers is not None:
        return sum(np.asarray(get(f"buffers.{op}.size_kb"), dtype=np.float64) for op in ("ifmap", "filter", "ofmap"))
    if base.reram is not None:
        return np.asarray(get("reram.edram_kb_per_tile"), dtype=np.float64) * get("reram.tiles")
    if base.directive_array is not None:
        l1 = np.asarray(get("directive_array.l1_size_bytes"), dtype=np.float64) * get("directive_array.num_pes")
        return (l1 + get("directive_array.l2_size_bytes")) / 1024
    return math.nan


def clock_mhz(base: Hardware, values: Mapping[str, Any]) -> Any:
    """The clock the cycle counts are in; NaN for directive arrays, whose configs have none."""
    get = _getter(base, values)
    if base.pe_array is not None:
        return np.asarray(get("pe_array.clock_mhz"), dtype=np.float64)
    if base.reram is not None:
        return np.asarray(get("reram.clock_mhz"), dtype=np.float64)
    return math.nan


def derived_metrics(cycles: Any, energy_pj: Any, macs: Any, pes: Any, area: Any, clock: Any,
                    buffer: Any) -> dict[str, Any]:
    """latency, EDP, power and throughput per area from totals; works on scalars and arrays alike."""
    cycles = np.asarray(cycles, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        latency_us = cycles / clock
        # Without a clock (directive arrays) latency-based metrics fall back to cycles.
        time_unit = np.where(np.isnan(latency_us), cycles, latency_us)
        power_mw = np.asarray(energy_pj, dtype=np.float64) / np.asarray(latency_us) * 1e-3
        throughput = 2.0 * np.asarray(macs, dtype=np.float64) / (np.asarray(time_unit) * 1e3)  # GOPS (or ops/cycle/1e3)
        return {
            "cycles": cycles,
            "latency_us": latency_us,
            "energy_pj": np.asarray(energy_pj, dtype=np.float64),
            "edp": np.asarray(energy_pj, dtype=np.float64) * time_unit,
            "area_mm2": np.asarray(area, dtype=np.float64),
            "power_mw": power_mw,
            "throughput_per_area": throughput / np.asarray(area, dtype=np.float64),
            "utilization": np.asarray(macs, dtype=np.float64) / (np.asarray(pes, dtype=np.float64) * np.maximum(cycles, 1)),
            "macs": np.asarray(macs, dtype=np.float64),
            "buffer_kb": np.asarray(buffer, dtype=np.float64),
        }


def violations(metrics: Mapping[str, Any], constraints: Constraints, size: int) -> list[str]:
    """Per point, the constraints it violates as one text ('' when it meets them all)."""
    reasons = [[] for _ in range(size)]
    for name, bound in constraints.active().items():
        value = np.broadcast_to(np.asarray(metrics[_CONSTRAINT_METRIC[name]], dtype=np.float64), (size,))
        # An unknown metric (NaN) cannot be shown to meet the bound.
        bad = ~(value <= bound)
        for index in np.flatnonzero(bad):
            reasons[index].append(f"{_CONSTRAINT_METRIC[name]} {value[index]:.6g} > {name} {bound:g}")
    return ["; ".join(r) for r in reasons]


def _pes(hw: Hardware) -> int:
    if hw.pe_array is not None:
        return hw.pe_array.pes
    if hw.directive_array is not None:
        return hw.directive_array.num_pes
    if hw.reram is not None:
        return hw.reram.crossbars_total * hw.reram.crossbar_rows * hw.reram.crossbar_cols
    return 0


def run_metrics(run: RunResult, hw: Hardware, base: Hardware, point: Mapping[str, Any]) -> dict[str, float]:
    """The sweep's metrics of one evaluated point (analytical or engine RunResult)."""
    totals = run.totals()
    values = {path: value for path, value in point.items() if not path.startswith("workload.")}
    area = reram_area_mm2(base, hw) if hw.kind == "reram" else area_mm2(base, values)
    metrics = derived_metrics(totals["cycles"], totals["energy_pj"]["total"], totals["macs"], run.pes or _pes(hw),
                              area, clock_mhz(base, values), buffer_kb(base, values))
    return {name: _plain(value) for name, value in metrics.items()}


def _plain(value: Any) -> float | None:
    value = float(np.asarray(value))
    return None if math.isnan(value) else value


# ------------------------------------------------------------------------------------------- screening
def grid_vectorizable(context: SweepContext) -> bool:
    """Whether the closed-form grid covers this sweep (a systolic base and only GRID_PATHS swept)."""
    base = context.base
    # A hierarchy beyond one SRAM per operand is priced level by level (sim.analytical.levels), point by point.
    if base.kind != "systolic" or base.buffers is None or context.mapping or not is_today(base):
        return False
    doubles = {base.buffers.ifmap.double_buffered, base.buffers.filter.double_buffered,
               base.buffers.ofmap.double_buffered}
    paths = [path for p in context.parameters for path in p.paths]
    # "auto" double buffering is decided per mapping (sim.mapping.buffering): point by point, not on the grid.
    static = "auto" not in doubles and base.pe_array.double_buffered_stationary != "auto"
    return static and len(doubles) == 1 and all(path in GRID_PATHS for path in paths)


def grid_actions(layer: Any, values: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The action counts estimate_systolic charges, from the grid's arrays."""
    from sim.analytical.systolic import systolic_actions

    return systolic_actions(
        layer.macs,
        sram_reads=OperandCounts(values["sram_ifmap_reads"], values["sram_filter_reads"], values["sram_ofmap_reads"]),
        sram_writes=OperandCounts(values["dram_ifmap_reads"], values["dram_filter_reads"], values["sram_ofmap_writes"]),
        dram_read_bytes=values["dram_read_bytes"], dram_write_bytes=values["dram_write_bytes"], cycles=values["cycles"])


def _row(context: SweepContext, params: str, status: str, reason: str, metrics: Mapping[str, Any],
         wall_s: float) -> tuple:
    """One `points` row, in store.POINT_COLUMNS order."""
    return (point_key(context.trace_id, context.base_id, params), context.trace.name, params, status, reason,
            "analytical", *(metrics.get(name) for name in METRICS), wall_s, context.versions, time.time())


def invalid_values(context: SweepContext) -> tuple[tuple[int, int, str], ...]:
    """(parameter index, value index, reason) of every swept value the base config rejects on its own.

    Checked once per sweep for the vectorized path: its fields have no cross-field rules among themselves, so
    a value valid alone is valid in every combination."""
    found = []
    for p_index, parameter in enumerate(context.parameters):
        for v_index, value in enumerate(parameter.values):
            try:
                hardware_variant(context.base, {path: value for path in parameter.paths}, context.spec_file)
            except SimError as error:
                found.append((p_index, v_index, str(error)))
    return tuple(found)


def params_texts(context: SweepContext, positions: tuple[np.ndarray, ...]) -> list[str]:
    """params_json of every point from its grid positions, built from per-value JSON fragments (fast)."""
    columns = []
    for path, p_index in sorted((path, i) for i, p in enumerate(context.parameters) for path in p.paths):
        fragments = np.array([f"{json.dumps(path)}: {json.dumps(v, default=str)}"
                              for v in context.parameters[p_index].values], dtype=object)
        columns.append(fragments[positions[p_index]].tolist())
    return ["{" + ", ".join(parts) + "}" for parts in zip(*columns)]


def _screen_grid(context: SweepContext, indices: np.ndarray) -> ScreenedRows:
    from sim.analytical.systolic import estimate_systolic_grid
    from sim.mapping.systolic import DATAFLOW_NAMES

    start = time.perf_counter()
    base = context.base
    get = _getter(base, {})
    positions = np.unravel_index(indices, context.shape)
    failed = np.zeros(indices.size, dtype=bool)
    reasons = np.full(indices.size, "", dtype=object)
    for p_index, v_index, reason in context.invalid_values:
        hit = positions[p_index] == v_index
        reasons[hit & ~failed] = reason
        failed |= hit
    values: dict[str, np.ndarray] = {}
    for parameter, position in zip(context.parameters, positions):
        base_value = get(parameter.paths[0])
        # Failed points compute on the base value (their metrics are dropped): keeps the arrays valid.
        column = [base_value if v_index in {v for p, v, _ in context.invalid_values
                                            if context.parameters[p] is parameter} else value
                  for v_index, value in enumerate(parameter.values)]
        if parameter.paths[0] == "pe_array.dataflow":
            table = np.array([DATAFLOW_NAMES.index(v) for v in column], dtype=np.int64)
        else:
            table = np.array(column, dtype=np.float64)
        for path in parameter.paths:
            values[path] = table[position]

    def arg(path: str) -> Any:
        if path in values:
            return values[path]
        value = get(path)
        return np.inf if value is None else value

    kwargs = {name: arg(path) for path, name in GRID_PATHS.items() if name not in (None, "rows", "cols", "dataflow")}
    rows = np.asarray(arg("pe_array.rows")).astype(np.int64)
    cols = np.asarray(arg("pe_array.cols")).astype(np.int64)
    dataflow = values.get("pe_array.dataflow", base.pe_array.dataflow)
    cycles = np.zeros(indices.size, dtype=np.int64)
    energy = np.zeros(indices.size, dtype=np.float64)
    macs = 0
    for layer in context.trace.layers:
        grid = estimate_systolic_grid(layer, rows, cols, dataflow, double_buffered=base.buffers.ifmap.double_buffered,
                                      convention=base.pe_array.cycle_convention,
                                      drain_finished=base.buffers.ofmap.drain_finished,
                                      double_buffered_stationary=base.pe_array.double_buffered_stationary, **kwargs)
        cycles += grid["cycles"]
        # A point where some fold's tile cannot fit its buffer is refused, as estimate_systolic and the engine do.
        unfit = np.broadcast_to(~np.asarray(grid["fits"], dtype=bool), indices.shape) & ~failed
        reasons[unfit] = f"layer '{layer.name}': a fold's operand tile does not fit its buffer"
        failed |= unfit
        for action, count in grid_actions(layer, grid).items():
            entry = base.energy.get(action)
            if entry is not None:
                energy += np.asarray(count, dtype=np.float64) * entry.pj
        macs += layer.macs
    numeric = {path: array for path, array in values.items() if path != "pe_array.dataflow"}
    metrics = derived_metrics(cycles, energy, macs, rows * cols, area_mm2(base, numeric), clock_mhz(base, numeric),
                              buffer_kb(base, numeric))
    metrics = {name: np.array(np.broadcast_to(value, indices.shape), dtype=np.float64) for name, value in metrics.items()}
    excluded = np.array(violations(metrics, context.constraints, indices.size), dtype=object)
    for name in METRICS:
        metrics[name][failed] = np.nan  # stored as NULL
    status = np.where(failed, 2, np.where(excluded != "", 1, 0)).astype(np.int8)
    reasons = np.where(failed, reasons, excluded).tolist()
    params = params_texts(context, positions)
    prefix = f"{context.trace_id}|{context.base_id}|"
    keys = "".join(hashlib.blake2b((prefix + text).encode(), digest_size=10).hexdigest() for text in params)
    wall = (time.perf_counter() - start) / max(indices.size, 1)
    return ScreenedRows(trace=context.trace.name, keys=keys, params="\n".join(params), status=status,
                        reasons=tuple(reasons), metrics=np.stack([metrics[name] for name in METRICS]),
                        wall_s=wall, versions=context.versions, finished_at=time.time())


def _error_text(error: Exception) -> str:
    if isinstance(error, SimError):
        return str(error)
    # Not a user error: keep where it happened so the bug can be found, and let the sweep go on.
    frame = traceback.extract_tb(error.__traceback__)[-1] if error.__traceback__ else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame else ""
    return f"internal error {type(error).__name__}: {error}{where}"


def evaluate_point(context: SweepContext, point: Mapping[str, Any], *, engine: bool, functional: bool = False,
                   seed: int = 0) -> tuple[dict[str, Any], RunResult]:
    """Metrics of one point by the analytical model or the engine (raises SimError for an impossible point)."""
    from sim import api

    hw = hardware_variant(context.base, point, context.spec_file)
    trace = workload_variant(context.trace, point)
    mapping = None
    if context.mapping == "auto":
        mapping = api.map(trace, hw, top_k=0, cache=context.mapper_cache).mappings()
    run = (api.simulate(trace, hw, functional=functional, seed=seed, mapping=mapping) if engine
           else api.estimate(trace, hw, mapping=mapping))
    metrics = run_metrics(run, hw, context.base, point)
    errors = [layer.crossbar.output_error for layer in run.layers
              if layer.crossbar is not None and layer.crossbar.output_error is not None]
    metrics["output_error"] = max(errors) if errors else None
    if engine and context.accuracy is not None:
        from sim.functional.study import accuracy_over_seeds

        study = context.accuracy
        stats = accuracy_over_seeds(study.model, study.data, study.labels, hw, seeds=study.seeds, first_seed=seed)
        metrics.update(accuracy=stats.accuracy, accuracy_std=stats.accuracy_std, float_accuracy=stats.float_accuracy)
    return metrics, run


def _screen_points(context: SweepContext, indices: np.ndarray) -> list[tuple]:
    rows_out = []
    for index in indices.tolist():
        start = time.perf_counter()
        point = point_params(context.parameters, index, context.shape)
        params = params_json(point)
        try:
            metrics, _ = evaluate_point(context, point, engine=False)
        except Exception as error:  # recorded on the point's row; the sweep goes on
            status = "failed" if isinstance(error, SimError) else "error"
            rows_out.append(_row(context, params, status, _error_text(error), {}, time.perf_counter() - start))
            continue
        reason = violations(metrics, context.constraints, 1)[0]
        rows_out.append(_row(context, params, "excluded" if reason else "ok", reason, metrics,
                             time.perf_counter() - start))
    return rows_out


def screen_chunk(context: SweepContext, indices: np.ndarray, image: bool = False) -> ScreenedRows | list[tuple]:
    """Analytical rows of the points at grid `indices`: a ScreenedRows batch from the vectorized closed form
    (with its SQLite image when `image`, for a worker process), else a list of row tuples (both iterate as
    rows in store.POINT_COLUMNS order)."""
    indices = np.asarray(indices, dtype=np.int64)
    if grid_vectorizable(context):
        rows = _screen_grid(context, indices)
        if image:
            from sim.sweep.store import rows_image  # store imports this module

            rows = replace(rows, image=rows_image(rows))
        return rows
    return _screen_points(context, indices)


def validate_point(context: SweepContext, point: Mapping[str, Any], selected_by: str,
                   analytical: Mapping[str, Any], functional: bool, seed: int) -> dict[str, Any]:
    """The engine's row for one point ({path: value}), with its relative disagreement with the screening."""
    start = time.perf_counter()
    params = params_json(point)
    row: dict[str, Any] = {"key": point_key(context.trace_id, context.base_id, params), "trace": context.trace.name,
                           "params": params, "selected_by": selected_by, "status": "ok", "reason": ""}
    metrics: dict[str, Any] = {}
    try:
        metrics, _ = evaluate_point(context, point, engine=True, functional=functional, seed=seed)
    except Exception as error:  # recorded on the validation row; the sweep goes on
        row["status"] = "failed" if isinstance(error, SimError) else "error"
        row["reason"] = _error_text(error)
    for name in ("cycles", "latency_us", "energy_pj", "edp", "power_mw", "utilization", "output_error", "accuracy",
                 "accuracy_std", "float_accuracy"):
        row[name] = metrics.get(name)
    for name, error_column in (("cycles", "cycles_rel_error"), ("energy_pj", "energy_rel_error")):
        row[f"analytical_{name}"] = analytical.get(name)
        engine_value, model_value = metrics.get(name), analytical.get(name)
        row[error_column] = (abs(model_value - engine_value) / abs(engine_value)
                                    if engine_value and model_value is not None else None)
    row.update({"wall_s": time.perf_counter() - start, "versions": context.versions, "finished_at": time.time()})
    return row
