"""The sweep spec: a TOML file with a top-level [sweep] table, validated into a frozen `SweepSpec`.

    [sweep]
    name = "gemm-grid"
    traces = ["../traces/resnet18.csv"]      # or trace = "..."; paths are relative to the spec file
    hardware = "../hw_configs/x.toml"         # the base config every point varies
    objectives = ["latency", "energy"]        # latency, energy, edp, area, power, throughput_per_area

    [sweep.parameters]                         # dotted Hardware field paths (or the short aliases below)
    "pe_array.rows" = [8, 16, 32]              # a list
    "pe_array.cols" = { start = 8, stop = 64, step = 8 }        # a range, stop included
    "buffers.ifmap.size_kb" = { start = 16, stop = 512, factor = 2 }   # a geometric (log) range
    "dram.bandwidth_bytes_per_cycle" = { start = 1, stop = 64, num = 4, scale = "log" }

    [sweep.constraints]                        # points violating one are kept, marked "excluded"
    max_area_mm2 = 5.0                         # also max_power_mw, max_buffer_kb, max_latency_us, max_energy_pj

    [sweep.validate]                           # the engine pass after the analytical screening
    engine = "front"                           # front (Pareto front + top_k), all, none
    top_k = 3
    functional = false                         # crossbar sweeps: true to get output_error
    tolerance = 0.05                           # |engine - analytical| / engine above this is reported

    [sweep.accuracy]                           # engine-validated points also run an ONNX model (sim infer)
    model = "../examples/digits_cnn.onnx"      # the trace defaults to the model itself (batch = N for ONNX)
    data = "../examples/digits_test.npz"
    labels = "../examples/digits_test.npz"
    seeds = 5                                  # Monte-Carlo over noise seeds: accuracy mean and spread

Every mistake is a ConfigError naming the spec file, the field (`sweep.parameters."pe_array.rows"`) and its line.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from sim.errors import ConfigError, SimError
from sim.hardware.spec import Hardware

# Short names for the parameters swept most often; the value is the dotted path (or paths) it stands for.
ALIASES: dict[str, tuple[str, ...]] = {
    "rows": ("pe_array.rows",),
    "cols": ("pe_array.cols",),
    "dataflow": ("pe_array.dataflow",),
    "ifmap_kb": ("buffers.ifmap.size_kb",),
    "filter_kb": ("buffers.filter.size_kb",),
    "ofmap_kb": ("buffers.ofmap.size_kb",),
    "dram_bandwidth": ("dram.bandwidth_bytes_per_cycle",),
    "crossbar_rows": ("reram.crossbar_rows",),
    "crossbar_cols": ("reram.crossbar_cols",),
    "crossbar_size": ("reram.crossbar_rows", "reram.crossbar_cols"),
    "adc_bits": ("reram.adc.bits",),
    "cell_bits": ("reram.cell_bits",),
    "dac_bits": ("reram.dac_bits",),
    "read_noise_sigma": ("reram.non_ideal.read_noise_sigma",),
    "programming_sigma": ("reram.non_ideal.programming_sigma",),
    "block_size": ("workload.block_size",),
}
# Workload fields a sweep may vary; `block_size` applies to the trace's block-circulant layers only.
WORKLOAD_FIELDS = ("block_size", "ifmap_bits", "filter_bits")
OBJECTIVES = ("latency", "energy", "edp", "area", "power", "throughput_per_area")
CONSTRAINTS = ("max_area_mm2", "max_power_mw", "max_buffer_kb", "max_latency_us", "max_energy_pj")
ENGINE_SELECTIONS = ("front", "all", "none")
_SWEEP_KEYS = ("name", "description", "trace", "traces", "hardware", "objectives", "parameters", "constraints",
               "validate", "seed", "chunk_points", "batch", "accuracy")
_VALIDATE_KEYS = ("engine", "top_k", "functional", "tolerance")
# Largest grid a spec may describe (points per trace), checked before any value is generated (docs/sweep.md).
MAX_GRID_POINTS = 10_000_000


_ACCURACY_KEYS = ("model", "data", "labels", "seeds")


@dataclass(frozen=True)
class AccuracyStudy:
    """[sweep.accuracy]: every engine-validated point also runs `model` on the labelled `data` (sim infer),
    `seeds` times with successive noise seeds, and records the mean and spread of top-1 accuracy."""

    model: Path
    data: Path
    labels: Path
    seeds: int = 1


@dataclass(frozen=True)
class Parameter:
    """One swept dimension: the name as written, the field paths it sets, and its values in order."""

    name: str
    paths: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Constraints:
    """Upper bounds a point must meet to be eligible for the front; None means unconstrained."""

    max_area_mm2: float | None = None
    max_power_mw: float | None = None
    max_buffer_kb: float | None = None
    max_latency_us: float | None = None
    max_energy_pj: float | None = None

    def active(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in CONSTRAINTS if getattr(self, name) is not None}


@dataclass(frozen=True)
class SweepSpec:
    name: str
    source_file: str
    traces: tuple[Path, ...]
    hardware: Path
    parameters: tuple[Parameter, ...]
    objectives: tuple[str, ...] = ("latency", "energy")
    constraints: Constraints = field(default_factory=Constraints)
    engine: str = "front"  # which points the engine validates: front (+ top_k), all, none
    top_k: int = 3
    functional: bool = False
    tolerance: float = 0.05
    seed: int = 0
    chunk_points: int = 4096  # points per screening task (vectorized path)
    description: str = ""
    batch: int | None = None  # fills a dynamic batch dimension of ONNX traces
    accuracy: AccuracyStudy | None = None
    mapping: str = ""  # "auto": every point judged with its best per-layer mappings (sim.mapper), `sim sweep --mapping`

    @property
    def points_per_trace(self) -> int:
        return math.prod(len(p.values) for p in self.parameters)

    def grid(self) -> Iterator[dict[str, Any]]:
        """Every point, as {path: value}, in grid order (the last parameter varies fastest)."""
        for combo in itertools.product(*(p.values for p in self.parameters)):
            point: dict[str, Any] = {}
            for parameter, value in zip(self.parameters, combo):
                for path in parameter.paths:
                    point[path] = value
            yield point


def _fail(spec_file: Path, text: str, field_name: str, message: str, **kwargs: Any) -> ConfigError:
    from sim.hardware.toml_loader import toml_line_of

    line = toml_line_of(text, field_name.replace('"', "")) if text else None
    return ConfigError(message, file=spec_file, field=field_name, line=line, **kwargs)


def _model_of(annotation: Any) -> Any:
    """The pydantic model inside `X | None`, or the annotation itself."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def schema_has_path(path: str) -> bool:
    """Whether a dotted path names a field of the Hardware schema (dict tables such as energy.* take any key)."""
    node: Any = Hardware
    parts = path.split(".")
    for index, part in enumerate(parts):
        if get_origin(node) is dict:
            node = get_args(node)[1]
            continue
        if not (isinstance(node, type) and issubclass(node, BaseModel)) or part not in node.model_fields:
            return False
        annotation = node.model_fields[part].annotation
        node = _model_of(annotation)
        if index == len(parts) - 1:
            return True
    return False


def _values(raw: Any, where: str, spec_file: Path, text: str) -> tuple[Any, ...]:
    if isinstance(raw, list):
        if not raw:
            raise _fail(spec_file, text, where, "a parameter needs at least one value", value=raw)
        for value in raw:
            if isinstance(value, float) and not math.isfinite(value):
                raise _fail(spec_file, text, where, "values must be finite numbers", value=value,
                            allowed="finite numbers, strings or booleans")
            if isinstance(value, (list, dict)):
                raise _fail(spec_file, text, where, "a value may not be an array or a table", value=value,
                            allowed="numbers, strings or booleans")
        return tuple(raw)
    if not isinstance(raw, dict):
        raise _fail(spec_file, text, where, "a parameter is a list of values or a range table", value=raw,
                    allowed="[v1, v2], {start, stop, step}, {start, stop, factor}, {start, stop, num, scale}")
    keys = set(raw)
    allowed_forms = "{start, stop, step}, {start, stop, factor} or {start, stop, num, scale = \"linear\"|\"log\"}"
    numbers = {k: v for k, v in raw.items() if k != "scale"}
    for key, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(spec_file, text, f"{where}.{key}", "must be a number", value=value)
        if not math.isfinite(value) or abs(value) > 1e15:
            raise _fail(spec_file, text, f"{where}.{key}", "must be a finite number", value=value,
                        allowed="a number between -1e15 and 1e15")
    start, stop = raw.get("start"), raw.get("stop")
    if start is None or stop is None:
        raise _fail(spec_file, text, where, "a range needs start and stop", value=raw, allowed=allowed_forms)
    if stop < start:
        raise _fail(spec_file, text, f"{where}.stop", "stop must be >= start", value=stop, allowed=f">= {start}")
    integral = all(isinstance(v, int) for v in numbers.values())
    if keys == {"start", "stop", "step"}:
        step = raw["step"]
        if step <= 0:
            raise _fail(spec_file, text, f"{where}.step", "step must be > 0", value=step, allowed="> 0")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        _check_count(count, where, spec_file, text)
        return tuple(start + i * step if integral else float(start + i * step) for i in range(count))
    if keys == {"start", "stop", "factor"}:
        factor = raw["factor"]
        if factor <= 1 or start <= 0:
            raise _fail(spec_file, text, f"{where}.factor", "a geometric range needs factor > 1 and start > 0",
                        value=factor, allowed="factor > 1, start > 0")
        _check_count(int(math.log(stop / start) / math.log(factor)) + 1 if stop >= start else 1, where, spec_file,
                     text)
        values, value = [], start
        while value <= stop * (1 + 1e-12):
            values.append(value)
            value = value * factor
        return tuple(values)
    if keys in ({"start", "stop", "num"}, {"start", "stop", "num", "scale"}):
        num, scale = raw["num"], raw.get("scale", "linear")
        if not isinstance(num, int) or num < 1:
            raise _fail(spec_file, text, f"{where}.num", "num must be an integer >= 1", value=num, allowed=">= 1")
        _check_count(num, where, spec_file, text)
        if scale not in ("linear", "log"):
            raise _fail(spec_file, text, f"{where}.scale", "unknown scale", value=scale, allowed="linear, log")
        if scale == "log" and start <= 0:
            raise _fail(spec_file, text, f"{where}.start", "a log range needs start > 0", value=start, allowed="> 0")
        if num == 1:
            return (start,)
        if scale == "linear":
            floats = [start + (stop - start) * i / (num - 1) for i in range(num)]
        else:
            floats = [start * (stop / start) ** (i / (num - 1)) for i in range(num)]
        # Integer endpoints give integer points (PE counts, bits) when they land on integers.
        if integral and all(abs(v - round(v)) < 1e-9 for v in floats):
            return tuple(dict.fromkeys(int(round(v)) for v in floats))
        return tuple(floats)
    raise _fail(spec_file, text, where, "unknown range form", value=sorted(keys), allowed=allowed_forms)


def _check_count(count: int, where: str, spec_file: Path, text: str) -> None:
    if count > MAX_GRID_POINTS:
        raise _fail(spec_file, text, where, f"range has {count:,} values", value=count,
                    allowed=f"at most {MAX_GRID_POINTS:,} points in the whole grid")


def _resolve(spec_file: Path, value: Any, where: str, text: str) -> Path:
    if not isinstance(value, str) or not value:
        raise _fail(spec_file, text, where, "must be a file path", value=value)
    path = Path(value)
    return path if path.is_absolute() else spec_file.parent / path


def _number(raw: dict, key: str, where: str, spec_file: Path, text: str, *, default: Any, integer: bool = False,
            minimum: float | None = None) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    kind_ok = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not kind_ok:
        raise _fail(spec_file, text, f"{where}.{key}", "must be an integer" if integer else "must be a number",
                    value=value)
    if minimum is not None and value < minimum:
        raise _fail(spec_file, text, f"{where}.{key}", f"must be >= {minimum:g}", value=value,
                    allowed=f">= {minimum:g}")
    return value


def _unknown(raw: dict, allowed: tuple[str, ...], where: str, spec_file: Path, text: str) -> None:
    for key in raw:
        if key not in allowed:
            raise _fail(spec_file, text, f"{where}.{key}", "unknown key", value=key, allowed=", ".join(allowed))


def parse_sweep_spec(raw: dict, spec_file: Path, text: str = "", *, base: Hardware | None = None) -> SweepSpec:
    """A SweepSpec from the parsed TOML `raw`; `base` (the loaded base hardware) checks sections exist."""
    if "sweep" not in raw or not isinstance(raw["sweep"], dict):
        raise _fail(spec_file, text, "sweep", "a sweep spec needs a [sweep] table")
    extra_tables = [key for key in raw if key != "sweep"]
    if extra_tables:
        raise _fail(spec_file, text, extra_tables[0], "unknown top-level key", value=extra_tables[0],
                    allowed="sweep")
    sweep = raw["sweep"]
    _unknown(sweep, _SWEEP_KEYS, "sweep", spec_file, text)
    name = sweep.get("name", spec_file.stem)
    if not isinstance(name, str) or not name:
        raise _fail(spec_file, text, "sweep.name", "must be a non-empty string", value=name)
    accuracy = _accuracy(sweep.get("accuracy"), spec_file, text)
    if accuracy is not None and "trace" not in sweep and "traces" not in sweep:
        sweep = {**sweep, "traces": [sweep["accuracy"]["model"]]}  # time the model itself
    if "trace" in sweep and "traces" in sweep:
        raise _fail(spec_file, text, "sweep.traces", "give trace or traces, not both")
    trace_values = sweep.get("traces", [sweep["trace"]] if "trace" in sweep else None)
    if not isinstance(trace_values, list) or not trace_values:
        raise _fail(spec_file, text, "sweep.traces", "a sweep needs at least one trace", value=trace_values,
                    allowed='trace = "x.csv" or traces = ["a.csv", "b.m"]')
    traces = tuple(_resolve(spec_file, v, f"sweep.traces[{i}]", text) for i, v in enumerate(trace_values))
    if "hardware" not in sweep:
        raise _fail(spec_file, text, "sweep.hardware", "a sweep needs a base hardware config",
                    allowed='hardware = "hw_configs/x.toml"')
    hardware = _resolve(spec_file, sweep["hardware"], "sweep.hardware", text)

    objectives = sweep.get("objectives", ["latency", "energy"])
    if not isinstance(objectives, list) or not objectives:
        raise _fail(spec_file, text, "sweep.objectives", "must be a non-empty list", value=objectives,
                    allowed=", ".join(OBJECTIVES))
    for objective in objectives:
        if objective not in OBJECTIVES:
            raise _fail(spec_file, text, "sweep.objectives", "unknown objective", value=objective,
                        allowed=", ".join(OBJECTIVES))

    raw_parameters = sweep.get("parameters", {})
    if not isinstance(raw_parameters, dict) or not raw_parameters:
        raise _fail(spec_file, text, "sweep.parameters", "a sweep needs at least one parameter",
                    allowed='e.g. "pe_array.rows" = [8, 16, 32]')
    parameters = []
    seen: dict[str, str] = {}
    for name_, raw_values in raw_parameters.items():
        where = f'sweep.parameters."{name_}"' if "." in name_ else f"sweep.parameters.{name_}"
        paths = ALIASES.get(name_, (name_,))
        for path in paths:
            head, _, rest = path.partition(".")
            if head == "workload":
                if rest not in WORKLOAD_FIELDS:
                    raise _fail(spec_file, text, where, "unknown workload field", value=path,
                                allowed=", ".join(f"workload.{f}" for f in WORKLOAD_FIELDS))
            elif not schema_has_path(path):
                raise _fail(spec_file, text, where, "not a hardware field", value=path,
                            allowed="a dotted field of the hardware schema (docs/hardware.md) or an alias: "
                                    + ", ".join(ALIASES))
            elif base is not None and getattr(base, head) is None and head not in ("energy", "area"):
                raise _fail(spec_file, text, where, f"the base hardware '{base.name}' has no [{head}] section",
                            value=path, allowed=f"fields of the sections it has ({base.kind})")
            if path in seen:
                raise _fail(spec_file, text, where, f"sets {path}, already set by '{seen[path]}'", value=name_)
            seen[path] = name_
        parameters.append(Parameter(name_, paths, _values(raw_values, where, spec_file, text)))
    points = math.prod(len(parameter.values) for parameter in parameters)
    if points > MAX_GRID_POINTS:
        raise _fail(spec_file, text, "sweep.parameters", f"grid has {points:,} points", value=points,
                    allowed=f"at most {MAX_GRID_POINTS:,} points per trace")

    raw_constraints = sweep.get("constraints", {})
    if not isinstance(raw_constraints, dict):
        raise _fail(spec_file, text, "sweep.constraints", "must be a table", value=raw_constraints)
    _unknown(raw_constraints, CONSTRAINTS, "sweep.constraints", spec_file, text)
    constraints = Constraints(**{
        key: _number(raw_constraints, key, "sweep.constraints", spec_file, text, default=None, minimum=0)
        for key in CONSTRAINTS
    })
    needs_area = "max_area_mm2" in raw_constraints or {"area", "throughput_per_area"} & set(objectives)
    if needs_area and base is not None and not base.area:
        raise _fail(spec_file, text, "sweep.hardware", f"area objectives and constraints need an [area] table, "
                    f"and '{base.name}' has none", value=str(hardware))

    validate = sweep.get("validate", {})
    if not isinstance(validate, dict):
        raise _fail(spec_file, text, "sweep.validate", "must be a table", value=validate)
    _unknown(validate, _VALIDATE_KEYS, "sweep.validate", spec_file, text)
    engine = validate.get("engine", "front")
    if engine not in ENGINE_SELECTIONS:
        raise _fail(spec_file, text, "sweep.validate.engine", "unknown selection", value=engine,
                    allowed=", ".join(ENGINE_SELECTIONS))
    functional = validate.get("functional", False)
    if not isinstance(functional, bool):
        raise _fail(spec_file, text, "sweep.validate.functional", "must be true or false", value=functional)
    description = sweep.get("description", "")
    if not isinstance(description, str):
        raise _fail(spec_file, text, "sweep.description", "must be a string", value=description)
    return SweepSpec(
        name=name,
        source_file=str(spec_file),
        traces=traces,
        hardware=hardware,
        parameters=tuple(parameters),
        objectives=tuple(dict.fromkeys(objectives)),
        constraints=constraints,
        engine=engine,
        top_k=_number(validate, "top_k", "sweep.validate", spec_file, text, default=3, integer=True, minimum=0),
        functional=functional,
        tolerance=float(_number(validate, "tolerance", "sweep.validate", spec_file, text, default=0.05, minimum=0)),
        seed=_number(sweep, "seed", "sweep", spec_file, text, default=0, integer=True, minimum=0),
        chunk_points=_number(sweep, "chunk_points", "sweep", spec_file, text, default=4096, integer=True, minimum=1),
        description=description,
        batch=_number(sweep, "batch", "sweep", spec_file, text, default=None, integer=True, minimum=1),
        accuracy=accuracy,
    )


def _accuracy(raw: Any, spec_file: Path, text: str) -> AccuracyStudy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail(spec_file, text, "sweep.accuracy", "must be a table", value=raw)
    _unknown(raw, _ACCURACY_KEYS, "sweep.accuracy", spec_file, text)
    for key in ("model", "data", "labels"):
        if key not in raw:
            raise _fail(spec_file, text, f"sweep.accuracy.{key}", "an accuracy study needs it",
                        allowed="model = x.onnx, data = inputs.npz, labels = labels.npy (or an .npz with 'labels')")
    paths = {key: _resolve(spec_file, raw[key], f"sweep.accuracy.{key}", text) for key in ("model", "data", "labels")}
    for key, path in paths.items():
        if not path.is_file():
            raise _fail(spec_file, text, f"sweep.accuracy.{key}", "file not found", value=str(path))
    seeds = _number(raw, "seeds", "sweep.accuracy", spec_file, text, default=1, integer=True, minimum=1)
    return AccuracyStudy(seeds=seeds, **paths)


def load_sweep_spec(path: str | Path) -> SweepSpec:
    """The validated spec of a sweep TOML file; also loads the base hardware and the traces to check them."""
    from sim.api import load_hardware, load_trace

    from sim.hardware.toml_loader import parse_toml
    from sim.inputs import MAX_CONFIG_BYTES, read_text

    spec_file = Path(path)
    text = read_text(spec_file, ConfigError, limit=MAX_CONFIG_BYTES, what="sweep spec")
    raw = parse_toml(text, spec_file)
    base = None
    if isinstance(raw.get("sweep"), dict) and isinstance(raw["sweep"].get("hardware"), str):
        hw_path = _resolve(spec_file, raw["sweep"]["hardware"], "sweep.hardware", text)
        try:
            base = load_hardware(hw_path)
        except SimError as error:
            raise _fail(spec_file, text, "sweep.hardware", f"base hardware config is invalid: {error}",
                        value=raw["sweep"]["hardware"]) from None
    spec = parse_sweep_spec(raw, spec_file, text, base=base)
    for index, trace_path in enumerate(spec.traces):
        try:
            load_trace(trace_path, batch=spec.batch)
        except SimError as error:
            raise _fail(spec_file, text, "sweep.traces", f"trace {index} is invalid: {error}",
                        value=str(trace_path)) from None
    return spec
