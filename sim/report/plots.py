"""Plots (matplotlib, PNG and SVG) of a run's report and of a sweep's database.

Run plots take the report dict (report.json's content, or RunResult.to_dict()): per-layer cycles and
utilization, stall breakdown, energy by component, roofline. Sweep plots take the sweep's results.sqlite:
the Pareto front with the engine-validated points marked, and ADC bits vs output error for a crossbar sweep.
Figures are built on `matplotlib.figure.Figure` directly (no pyplot state); each function returns the files
it wrote (`<out_dir>/<stem>.png` and `.svg`).
"""
from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.errors import ConfigError

FORMATS = ("png", "svg")
# What a report or database with fields of the wrong type or shape raises inside the plotting code.
MALFORMED = (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError, ZeroDivisionError,
             RecursionError, sqlite3.Error)


def _figure(width: float = 8.0, height: float = 4.5) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ConfigError("plots need matplotlib", field="plot", allowed="pip install 'sim[sweep]'") from None

    return Figure(figsize=(width, height), layout="constrained")


def _save(figure: Any, out_dir: Path | str, stem: str) -> list[Path]:
    from sim.report.files import atomic_file, make_out_dir

    out_dir = make_out_dir(out_dir)
    written = []
    for fmt in FORMATS:
        path = out_dir / f"{stem}.{fmt}"
        # A fixed date keeps SVG/PNG bytes identical for identical inputs.
        metadata = {"Date": None} if fmt == "svg" else {"Software": "sim"}
        with atomic_file(path, "wb") as handle:
            figure.savefig(handle, format=fmt, dpi=120, metadata=metadata)
        written.append(path)
    return written


def _layers(report: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    layers = report.get("layers") or []
    if not layers:
        raise ConfigError("the report has no layers to plot", field="layers")
    return layers


def _names(layers: list[Mapping[str, Any]]) -> list[str]:
    return [str(layer.get("name", i)) for i, layer in enumerate(layers)]


def _title(report: Mapping[str, Any], what: str) -> str:
    return f"{what}: {report.get('trace', '')} on {report.get('hardware', '')} ({report.get('model', '')})"


def plot_layer_cycles(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Bars of cycles per layer, with utilization on a second axis."""
    layers = _layers(report)
    names = _names(layers)
    figure = _figure(max(6.0, 0.35 * len(layers) + 3), 4.5)
    axes = figure.add_subplot()
    positions = range(len(layers))
    axes.bar(positions, [layer["cycles"] for layer in layers], color="#4c72b0", label="cycles")
    axes.set_ylabel("cycles")
    axes.set_xticks(list(positions), names, rotation=70, ha="right", fontsize=7)
    twin = axes.twinx()
    twin.plot(list(positions), [layer.get("utilization", 0.0) for layer in layers], "o-", color="#dd8452",
              label="utilization")
    twin.set_ylim(0, 1.05)
    twin.set_ylabel("utilization")
    axes.set_title(_title(report, "cycles per layer"), fontsize=9)
    figure.legend(loc="outside upper right", fontsize=7)
    return _save(figure, out_dir, "layer_cycles")


def plot_stalls(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Stacked bars: compute cycles and stall cycles per layer."""
    layers = _layers(report)
    names = _names(layers)
    figure = _figure(max(6.0, 0.35 * len(layers) + 3), 4.5)
    axes = figure.add_subplot()
    positions = list(range(len(layers)))
    compute = [layer.get("compute_cycles", 0) for layer in layers]
    stalls = [layer.get("stall_cycles", 0) for layer in layers]
    other = [max(0, layer.get("cycles", 0) - c - s) for layer, c, s in zip(layers, compute, stalls)]
    axes.bar(positions, compute, color="#55a868", label="compute")
    axes.bar(positions, stalls, bottom=compute, color="#c44e52", label="stall")
    if any(other):
        axes.bar(positions, other, bottom=[c + s for c, s in zip(compute, stalls)], color="#8c8c8c",
                 label="other (pipeline fill, overlap)")
    axes.set_ylabel("cycles")
    axes.set_xticks(positions, names, rotation=70, ha="right", fontsize=7)
    axes.set_title(_title(report, "stall breakdown"), fontsize=9)
    axes.legend(fontsize=7)
    return _save(figure, out_dir, "stalls")


def plot_energy(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """Stacked bars of energy per layer by component (pJ)."""
    layers = _layers(report)
    names = _names(layers)
    components = sorted({key for layer in layers for key in (layer.get("energy_pj") or {}) if key != "total"})
    figure = _figure(max(6.0, 0.35 * len(layers) + 3), 4.5)
    axes = figure.add_subplot()
    positions = list(range(len(layers)))
    bottom = [0.0] * len(layers)
    colors = _colors(len(components))
    for component, color in zip(components, colors):
        values = [float((layer.get("energy_pj") or {}).get(component, 0.0)) for layer in layers]
        axes.bar(positions, values, bottom=bottom, color=color, label=component)
        bottom = [b + v for b, v in zip(bottom, values)]
    if not components:
        axes.text(0.5, 0.5, "no priced actions (empty [energy] table)", ha="center", transform=axes.transAxes)
    axes.set_ylabel("energy (pJ)")
    axes.set_xticks(positions, names, rotation=70, ha="right", fontsize=7)
    axes.set_title(_title(report, "energy by component"), fontsize=9)
    if components:
        axes.legend(fontsize=7, ncols=2)
    return _save(figure, out_dir, "energy")


def _colors(count: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    return [cmap(i % 20) for i in range(count)]


def _dram_bytes(layer: Mapping[str, Any]) -> float:
    extra = layer.get("extra") or {}
    for read, write in (("dram.read_bytes", "dram.write_bytes"), ("dram_read_bytes", "dram_write_bytes")):
        if read in extra:
            return float(extra.get(read, 0)) + float(extra.get(write, 0))
    actions = layer.get("actions") or {}
    return float(actions.get("dram.read_byte", 0)) + float(actions.get("dram.write_byte", 0))


def plot_roofline(report: Mapping[str, Any], out_dir: Path, *, peak_macs_per_cycle: float | None = None,
                  bandwidth_bytes_per_cycle: float | None = None) -> list[Path]:
    """Each layer at (MACs per DRAM byte, MACs per cycle) under the compute roof and the bandwidth roof.

    The peak defaults to report metadata `pes` (else it is inferred from utilization = MACs / (PEs x cycles));
    the bandwidth roof is drawn when given or in metadata `dram_bandwidth_bytes_per_cycle`.
    """
    layers = _layers(report)
    metadata = report.get("metadata") or {}
    if peak_macs_per_cycle is None:
        peak_macs_per_cycle = metadata.get("pes")
    if peak_macs_per_cycle is None:
        inferred = [layer["macs"] / (layer["utilization"] * layer["cycles"]) for layer in layers
                    if layer.get("utilization") and layer.get("cycles")]
        peak_macs_per_cycle = max(inferred) if inferred else None
    if bandwidth_bytes_per_cycle is None:
        bandwidth_bytes_per_cycle = metadata.get("dram_bandwidth_bytes_per_cycle")
    points = []
    for layer in layers:
        dram = _dram_bytes(layer)
        cycles = layer.get("cycles") or 0
        if cycles <= 0:
            continue
        intensity = layer["macs"] / dram if dram > 0 else math.nan
        points.append((str(layer.get("name")), intensity, layer["macs"] / cycles))
    figure = _figure(7.0, 5.0)
    axes = figure.add_subplot()
    finite = [p for p in points if math.isfinite(p[1]) and p[1] > 0 and p[2] > 0]
    low = min([p[1] for p in finite], default=0.1) / 4
    high = max([p[1] for p in finite], default=100.0) * 4
    span = [low * (high / low) ** (i / 63) for i in range(64)]
    if peak_macs_per_cycle:
        axes.plot(span, [peak_macs_per_cycle] * len(span), "-", color="#444444",
                  label=f"compute roof {peak_macs_per_cycle:g} MAC/cycle")
    if bandwidth_bytes_per_cycle and math.isfinite(float(bandwidth_bytes_per_cycle)):
        roof = [min(x * float(bandwidth_bytes_per_cycle), peak_macs_per_cycle or math.inf) for x in span]
        axes.plot(span, roof, "--", color="#c44e52", label=f"bandwidth roof {float(bandwidth_bytes_per_cycle):g} B/cycle")
    for name, intensity, performance in finite:
        axes.plot([intensity], [performance], "o", color="#4c72b0")
        axes.annotate(name, (intensity, performance), fontsize=6, xytext=(3, 3), textcoords="offset points")
    if len(finite) < len(points):
        axes.text(0.02, 0.02, f"{len(points) - len(finite)} layer(s) without DRAM traffic not shown",
                  transform=axes.transAxes, fontsize=7)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("operational intensity (MACs per DRAM byte)")
    axes.set_ylabel("performance (MACs per cycle)")
    axes.set_title(_title(report, "roofline"), fontsize=9)
    axes.legend(fontsize=7)
    return _save(figure, out_dir, "roofline")


def plot_report(report: Mapping[str, Any], out_dir: Path) -> list[Path]:
    """All run plots of one report."""
    written = []
    for function in (plot_layer_cycles, plot_stalls, plot_energy, plot_roofline):
        written += function(report, out_dir)
    return written


# ------------------------------------------------------------------------------------------- sweeps
def _sweep_rows(database: Path, query: str, args: tuple = ()) -> list[tuple]:
    try:  # read-only: plotting never creates or changes a database
        connection = sqlite3.connect(Path(database).resolve().as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as error:
        raise ConfigError(f"cannot open the sweep database: {error}", file=database) from None
    try:
        return connection.execute(query, args).fetchall()
    except sqlite3.Error as error:  # not a database at all, or one without a sweep's tables
        raise ConfigError(f"not a sweep database: {error}", file=database) from None
    finally:
        connection.close()


def _meta(database: Path) -> dict[str, Any]:
    return {name: json.loads(value) for name, value in _sweep_rows(database, "SELECT name, value FROM meta")}


_AXIS_LABELS = {"latency_us": "latency (us)", "cycles": "cycles", "energy_pj": "energy (pJ)", "edp": "EDP (pJ x us)",
                "area_mm2": "area (mm2)", "power_mw": "power (mW)",
                "throughput_per_area": "throughput per area (GOPS/mm2)"}


def plot_pareto(database: Path, out_dir: Path, *, x: str | None = None, y: str | None = None) -> list[Path]:
    """Screened points of a sweep on two objectives: feasible, excluded, the Pareto front, and the
    engine-validated points (analytical position, with the engine's value linked to it)."""
    from sim.sweep.pareto import objective_column

    meta = _meta(database)
    has_clock = meta.get("hardware_kind") != "directive"
    objectives = list(meta.get("objectives") or ["latency", "energy"])
    if len(objectives) < 2:
        objectives.append("energy" if objectives[0] != "energy" else "latency")
    x = x or objective_column(objectives[0], has_clock)[0]
    y = y or objective_column(objectives[1], has_clock)[0]
    validated_columns = {"cycles", "latency_us", "energy_pj", "edp", "power_mw"}
    rows = _sweep_rows(database, f"SELECT key, status, {x}, {y} FROM points WHERE status IN ('ok', 'excluded')")
    selection = dict(_sweep_rows(database, "SELECT key, selected_by FROM selection")) if _has_table(
        database, "selection") else {}
    engine = {}
    if x in validated_columns and y in validated_columns:
        engine = {key: (ex, ey) for key, ex, ey in _sweep_rows(
            database, f"SELECT key, {x}, {y} FROM validations WHERE status = 'ok'")}
    figure = _figure(7.0, 5.0)
    axes = figure.add_subplot()
    ok = [(px, py) for key, status, px, py in rows if status == "ok" and px is not None and py is not None]
    excluded = [(px, py) for key, status, px, py in rows if status == "excluded" and px is not None and py is not None]
    front = sorted((px, py) for key, status, px, py in rows if selection.get(key) == "front"
                   and px is not None and py is not None)
    if excluded:
        axes.scatter(*zip(*excluded), s=8, color="#bbbbbb", label=f"excluded by constraints ({len(excluded)})")
    if ok:
        axes.scatter(*zip(*ok), s=10, color="#4c72b0", alpha=0.6, label=f"feasible ({len(ok)})")
    if front:
        # A front over more than two objectives is not a curve in this projection: markers only.
        style = "-o" if len(meta.get("objectives") or []) <= 2 else "o"
        axes.plot(*zip(*front), style, color="#c44e52", markersize=5,
                  label=f"Pareto front over {', '.join(objectives)} ({len(front)})")
    marked = 0
    by_key = {key: (px, py) for key, status, px, py in rows}
    for key, (ex, ey) in engine.items():
        if key not in by_key or ex is None or ey is None or by_key[key][0] is None:
            continue
        ax_, ay_ = by_key[key]
        axes.plot([ax_, ex], [ay_, ey], ":", color="#55a868", linewidth=0.8)
        axes.plot([ex], [ey], "^", color="#55a868", markersize=7, markerfacecolor="none",
                  label="engine-validated" if marked == 0 else None)
        marked += 1
    if not rows:
        axes.text(0.5, 0.5, "no screened points yet", ha="center", transform=axes.transAxes)
    else:
        axes.set_xscale("log")
        axes.set_yscale("log")
    axes.set_xlabel(_AXIS_LABELS.get(x, x))
    axes.set_ylabel(_AXIS_LABELS.get(y, y))
    axes.set_title(f"sweep {meta.get('name', '')}: Pareto front", fontsize=9)
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize=7)
    return _save(figure, out_dir, "pareto")


def _has_table(database: Path, table: str) -> bool:
    return bool(_sweep_rows(database, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)))


def adc_error_points(database: Path) -> list[tuple[float, float]]:
    """(adc bits, output error) of the engine-validated points of a sweep that varies reram.adc.bits."""
    points = []
    for params, error in _sweep_rows(database, "SELECT params, output_error FROM validations "
                                               "WHERE status = 'ok' AND output_error IS NOT NULL"):
        bits = json.loads(params).get("reram.adc.bits")
        if isinstance(bits, (int, float)) and not isinstance(bits, bool):
            points.append((float(bits), float(error)))
    return sorted(points)


def plot_adc_error(database: Path, out_dir: Path) -> list[Path]:
    """Output error (max |output - exact|) against ADC bits, one marker per validated point."""
    points = adc_error_points(database)
    if not points:
        raise ConfigError("the sweep has no engine output errors to plot against reram.adc.bits", file=database,
                          allowed="a sweep varying reram.adc.bits with [sweep.validate] functional = true")
    figure = _figure(6.0, 4.5)
    axes = figure.add_subplot()
    bits = [b for b, _ in points]
    errors = [e for _, e in points]
    axes.plot(bits, errors, "o", color="#4c72b0", label="validated points")
    worst: dict[float, float] = {}
    for b, e in points:
        worst[b] = max(worst.get(b, 0.0), e)
    axes.plot(sorted(worst), [worst[b] for b in sorted(worst)], "-", color="#c44e52", label="worst per ADC width")
    if any(e > 0 for e in errors):
        axes.set_yscale("symlog", linthresh=max(min(e for e in errors if e > 0), 1e-12))
    axes.set_xlabel("ADC bits")
    axes.set_ylabel("output error (max |output - exact|)")
    axes.set_title(f"sweep {_meta(database).get('name', '')}: ADC bits vs output error", fontsize=9)
    axes.legend(fontsize=7)
    return _save(figure, out_dir, "adc_error")


def accuracy_points(database: Path) -> list[tuple[dict[str, Any], float, float, float, float]]:
    """(params, accuracy, spread, float accuracy, energy pJ) of the validated points of an accuracy study."""
    if "accuracy" not in {row[1] for row in _sweep_rows(database, "PRAGMA table_info(validations)")}:
        return []
    rows = _sweep_rows(database, "SELECT params, accuracy, accuracy_std, float_accuracy, energy_pj FROM validations "
                                 "WHERE status = 'ok' AND accuracy IS NOT NULL")
    return [(json.loads(params), float(acc), float(std or 0.0), float(ref), float(energy or 0.0))
            for params, acc, std, ref, energy in rows]


def plot_accuracy(database: Path, out_dir: Path) -> list[Path]:
    """Top-1 accuracy (mean +- spread over noise seeds) against ADC bits, one line per setting of the other
    parameters, and against energy per run."""
    points = accuracy_points(database)
    if not points:
        raise ConfigError("the sweep has no accuracy to plot", file=database,
                          allowed="a sweep with a [sweep.accuracy] table and engine-validated points")
    figure = _figure(11.0, 4.5)
    by_bits, by_energy = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    series: dict[str, list[tuple[float, float, float]]] = {}
    for params, accuracy, spread, _, _ in points:
        bits = params.get("reram.adc.bits")
        if isinstance(bits, (int, float)) and not isinstance(bits, bool):
            label = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(params.items()) if k != "reram.adc.bits")
            series.setdefault(label or "accuracy", []).append((float(bits), accuracy, spread))
    for (label, values), color in zip(sorted(series.items()), _colors(len(series))):
        values.sort()
        by_bits.errorbar([v[0] for v in values], [v[1] for v in values], yerr=[v[2] for v in values], marker="o",
                         capsize=3, color=color, label=label)
    by_bits.axhline(points[0][3], color="#555555", linestyle="--", linewidth=1, label="float")
    by_bits.set_xlabel("ADC bits")
    by_bits.set_ylabel("top-1 accuracy")
    by_bits.legend(fontsize=7)
    by_energy.errorbar([p[4] for p in points], [p[1] for p in points], yerr=[p[2] for p in points], fmt="o",
                       capsize=3, color="#4c72b0")
    by_energy.axhline(points[0][3], color="#555555", linestyle="--", linewidth=1)
    by_energy.set_xlabel("energy per run (pJ)")
    by_energy.set_ylabel("top-1 accuracy")
    figure.suptitle(f"sweep {_meta(database).get('name', '')}: accuracy (mean +- spread over seeds)", fontsize=9)
    return _save(figure, out_dir, "accuracy")


def plot_sweep(database: Path, out_dir: Path) -> list[Path]:
    """The Pareto plot, ADC bits vs output error and the accuracy plots when the sweep has those numbers."""
    written = plot_pareto(database, out_dir)
    if adc_error_points(database):
        written += plot_adc_error(database, out_dir)
    if accuracy_points(database):
        written += plot_accuracy(database, out_dir)
    return written


def plot_command(source: Path, out: Path | None) -> list[Path]:
    """What `sim plot SOURCE` does: a report.json (or its folder) gives run plots, a results.sqlite (or a sweep
    folder) the sweep plots; files go to `out` (default: beside the source)."""
    source = Path(source)
    if source.is_dir():
        candidates = [source / "report.json", source / "results.sqlite"]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise ConfigError("no report.json or results.sqlite in this folder", file=source,
                              allowed="a report.json, a sweep's results.sqlite, or a folder holding one")
        source = found[0]
    if not source.is_file():
        raise ConfigError("file to plot not found", file=source, allowed="a report.json or a results.sqlite")
    out_dir = Path(out) if out is not None else source.parent
    if source.suffix.lower() == ".json":
        try:
            report = json.loads(source.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
            raise ConfigError(f"not a JSON report: {error}", file=source) from None
        except OSError as error:
            raise ConfigError(f"cannot read the report: {error.strerror or error}", file=source) from None
        if not isinstance(report, dict) or "layers" not in report:
            raise ConfigError("not a sim report (no 'layers')", file=source, allowed="report.json of `sim run`")
        try:
            written = plot_report(report, out_dir)
        except ConfigError as error:
            raise error.with_context(file=source) from None
        except MALFORMED as error:
            raise ConfigError(f"malformed report ({type(error).__name__}: {error})", file=source,
                              allowed="report.json as `sim run` writes it") from None
        if (source.parent / "power_trace.csv").is_file():  # written by `sim run --power-grid`
            from sim.report.power import plot_power

            written += plot_power(source.parent, out_dir)
        return written
    if source.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        try:
            return plot_sweep(source, out_dir)
        except MALFORMED as error:
            raise ConfigError(f"malformed sweep database ({type(error).__name__}: {error})", file=source,
                              allowed="results.sqlite as `sim sweep` writes it") from None
    raise ConfigError("unsupported file to plot", file=source, value=source.suffix,
                      allowed=".json (report), .sqlite (sweep database)")
