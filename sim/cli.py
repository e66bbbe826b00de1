"""The `sim` command: parse arguments, call the API, print. User mistakes (SimError) exit with code 2."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from sim.errors import ConfigError, SimError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Cycle-level simulator for DNN accelerators: systolic / directive PE arrays and ReRAM crossbars.",
)


def _console(quiet: bool = False) -> Console:
    # Pipes and CI logs get a wide console so the per-layer table is not cut at 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(quiet=quiet, highlight=False, width=width)


def _default_out(trace_path: Path, hw_name: str, suffix: str = "") -> Path:
    return Path("out") / f"{trace_path.stem}-{hw_name}{suffix}"


BATCH_HELP = "batch size for an ONNX model whose batch dimension is dynamic"


def _load_inputs(hw_path: Path, trace_path: Path, mapping_path: Optional[Path], batch: Optional[int] = None):
    from sim import api

    if batch is not None and batch < 1:
        raise ConfigError("must be >= 1", field="--batch", value=batch)
    hw = api.load_hardware(hw_path)
    trace = api.load_trace(trace_path, batch=batch)
    mapping = api.load_mapping(mapping_path) if mapping_path else None
    return hw, trace, mapping


@app.command()
def run(
    hw: Path = typer.Option(..., "--hw", help="hardware: our .toml, a SCALE-Sim .cfg or a MAESTRO hardware .m"),
    trace: Path = typer.Option(..., "--trace", help="layers: SCALE-Sim topology .csv, our trace .csv or a MAESTRO .m"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: out/<trace>-<hw>)"),
    functional: bool = typer.Option(False, "--functional", help="also compute and check the actual output values"),
    seed: int = typer.Option(0, "--seed", help="seed of the random operands and non-idealities"),
    analytical: bool = typer.Option(False, "--analytical", help="use the analytical model instead of the engine"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="a MAESTRO dataflow .m applied to every layer"),
    overlap_weight_prefetch: bool = typer.Option(
        False, "--overlap-weight-prefetch", help="prefetch a layer's weights during the previous layer"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors"),
    power_grid: Optional[str] = typer.Option(
        None, "--power-grid", help="systolic engine: power per ROWSxCOLS PE regions and window (power_*.csv)"),
    power_window: int = typer.Option(1024, "--power-window", help="cycles per power window (with --power-grid)"),
) -> None:
    """Simulate every layer of TRACE on HW; print a per-layer table; write report.json and report.csv."""
    from sim import api
    from sim.report import print_table, write_report

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch)
    power = None
    if power_grid is not None and (analytical or hardware.kind != "systolic"):
        raise ConfigError("--power-grid needs an engine run on a systolic array", field="--power-grid",
                          value=power_grid, allowed="a [pe_array] hardware config, without --analytical")
    if analytical:
        if functional:
            raise ConfigError("--functional needs the engine; drop --analytical", field="--functional")
        result = api.estimate(layers, hardware, mapping=dataflow)
    elif power_grid is not None:
        from sim.engine.power import parse_grid

        result, power = api.simulate_power(layers, hardware, grid=parse_grid(power_grid), window_cycles=power_window,
                                           functional=functional, seed=seed,
                                           overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow)
    else:
        result = api.simulate(layers, hardware, functional=functional, seed=seed, progress=not quiet,
                              overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow)
    out_dir = out or _default_out(trace, hardware.name, "-analytical" if analytical else "")
    write_report(result, out_dir)
    if power is not None:
        from sim.report.power import write_power

        write_power(power, out_dir)
    if analytical and hardware.kind == "directive":
        from sim.report.maestro_csv import write_maestro_csv

        write_maestro_csv(result.layers, out_dir / "maestro.csv", network=result.trace)
    print_table(result, console)
    console.print(f"reports written to {out_dir}/")
    if functional:
        bad = [r.name for r in result.layers if r.functional is not None and r.functional.max_abs_error > 0
               and hardware.kind == "systolic"]
        if bad:
            console.print(f"[red]functional check failed for {', '.join(bad)}[/red]")
            raise typer.Exit(1)


@app.command()
def compare(
    hw: Path = typer.Option(..., "--hw"),
    trace: Path = typer.Option(..., "--trace"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder for compare.csv"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="a MAESTRO dataflow .m applied to every layer"),
    tolerance: Optional[float] = typer.Option(
        None, "--tolerance", help="exit 1 if any field's relative error exceeds this (e.g. 0.05)"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Engine vs analytical model, per layer and field, with the relative error; writes compare.csv."""
    from rich.table import Table

    from sim import api

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch)
    comparison = api.compare(layers, hardware, mapping=dataflow)
    out_dir = out or _default_out(trace, hardware.name, "-compare")
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison.write_csv(out_dir / "compare.csv")
    table = Table(title=f"engine vs analytical: {layers.name} on {hardware.name}")
    for column in ("field", "worst rel. error", "mean rel. error", "worst layer"):
        table.add_column(column, justify="right" if "error" in column else "left")
    for row in comparison.summary():
        table.add_row(row.field, f"{row.worst:.3%}", f"{row.mean:.3%}", row.worst_layer)
    console.print(table)
    console.print(f"compare.csv written to {out_dir}/")
    if tolerance is not None:
        violations = comparison.violations(tolerance)
        if violations:
            worst = max(violations, key=lambda d: d.relative_error)
            console.print(f"[red]{len(violations)} field(s) exceed tolerance {tolerance:g}; worst: "
                          f"{worst.layer}.{worst.field} {worst.relative_error:.3%}[/red]")
            raise typer.Exit(1)


@app.command("equal-area")
def equal_area(
    hw: Path = typer.Option(..., "--hw", help="a [reram] config (its chip and duplication setting)"),
    trace: Path = typer.Option(..., "--trace", help="a trace with block-circulant layers"),
    budget: str = typer.Option("expanded", "--budget", help='crossbar budget: "expanded" or a number of chips'),
    analytical: bool = typer.Option(False, "--analytical", help="use the analytical model instead of the engine"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder for equal_area.csv"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """ReBoc at equal area: expanded vs compressed block-circulant mapping, each saving off in turn."""
    from sim.equal_area import compare_equal_area

    if budget != "expanded" and not (budget.isdigit() and int(budget) > 0):
        raise ConfigError("unknown crossbar budget", field="--budget", value=budget,
                          allowed='"expanded" or a positive number of chips')
    hardware, layers, _ = _load_inputs(hw, trace, None)
    report = compare_equal_area(layers, hardware, budget=budget if budget == "expanded" else int(budget),
                                model="analytical" if analytical else "engine")
    out_dir = out or _default_out(trace, hardware.name, "-equal-area")
    out_dir.mkdir(parents=True, exist_ok=True)
    report.write_csv(out_dir / "equal_area.csv")
    console = _console(quiet)
    console.print(report.table())
    console.print(f"equal_area.csv written to {out_dir}/")


@app.command()
def infer(
    hw: Path = typer.Option(..., "--hw", help="hardware: our .toml, a SCALE-Sim .cfg or a MAESTRO hardware .m"),
    model: Path = typer.Option(..., "--model", help="an ONNX model (.onnx) with its weights"),
    data: Path = typer.Option(..., "--data", help="inputs: .npz with one array per model input, or one .npy"),
    labels: Optional[Path] = typer.Option(None, "--labels", help="one class per sample: .npy, or .npz with 'labels'"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: out/<model>-<hw>-infer)"),
    seed: int = typer.Option(0, "--seed", help="seed of the device non-idealities"),
    mapping: Optional[Path] = typer.Option(None, "--mapping", help="a MAESTRO dataflow .m (directive arrays)"),
    weight_bits: Optional[int] = typer.Option(None, "--weight-bits", help="quantize weights to fewer bits"),
    input_bits: Optional[int] = typer.Option(None, "--input-bits", help="quantize activations to fewer bits"),
    granularity: str = typer.Option("per_channel", "--weight-granularity", help="per_channel or per_tensor"),
    scheme: str = typer.Option("symmetric", "--input-scheme", help="activations: symmetric or asymmetric"),
    rounding: str = typer.Option("half_even", "--rounding", help="half_even, half_up or floor"),
    timing: bool = typer.Option(True, "--timing/--no-timing", help="also time the run with the engine"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors"),
) -> None:
    """Run an ONNX model on HW (Conv / Gemm / MatMul on the simulated hardware); write outputs.npz and
    report.json with per-layer errors, accuracy, timing and energy."""
    from rich.table import Table

    from sim import api
    from sim.functional.infer import write_inference
    from sim.functional.quantize import QuantConfig

    console = _console(quiet)
    quantization = QuantConfig(weight_bits=weight_bits, input_bits=input_bits, weight_granularity=granularity,
                               input_scheme=scheme, rounding=rounding)
    hardware = api.load_hardware(hw)
    dataflow = api.load_mapping(mapping) if mapping else None
    result = api.infer(model, data, hardware, labels=labels, quantization=quantization, seed=seed,
                       mapping=dataflow, timing=timing)
    out_dir = out or _default_out(model, hardware.name, "-infer")
    write_inference(result, out_dir)
    table = Table(title=f"{result.model} on {hardware.name}: {result.samples} samples")
    for column in ("layer", "max |hw - float|", "relative RMS error"):
        table.add_column(column, justify="left" if column == "layer" else "right")
    for layer in result.layers:
        table.add_row(layer.name, f"{layer.max_abs_error:.4g}", f"{layer.relative_rms_error:.3e}")
    console.print(table)
    console.print(f"final outputs: max |hw - {result.reference_source}| = {result.output_max_abs_error:.4g}")
    if result.accuracy is not None:
        console.print(f"top-1 accuracy: hardware {result.accuracy:.4f}, float {result.float_accuracy:.4f}")
    if result.run is not None:
        totals = result.run.totals()
        console.print(f"cycles {totals['cycles']}, energy {totals['energy_pj']['total']:.4g} pJ")
    console.print(f"outputs.npz and report.json written to {out_dir}/")


@app.command()
def sweep(
    spec: Path = typer.Argument(..., help="sweep spec (.toml)"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: out/sweep-<spec>)"),
    dask: Optional[str] = typer.Option(
        None, "--dask", help="Dask scheduler address; 'local' starts a LocalCluster"),
    workers: Optional[int] = typer.Option(None, "--workers", help="local pool size (default: CPU count)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Design-space exploration: screen with the analytical model, validate the Pareto front with the engine."""
    from sim.sweep import run_sweep_command

    run_sweep_command(spec, out or Path("out") / f"sweep-{spec.stem}", dask=dask, workers=workers,
                      console=_console(quiet))


@app.command()
def plot(
    source: Path = typer.Argument(..., help="a report.json or a sweep's results.sqlite"),
    out: Optional[Path] = typer.Option(None, "--out", help="folder for the PNG and SVG files"),
) -> None:
    """Plots of a report (cycles, stalls, energy, roofline) or a sweep (Pareto front, ADC bits vs error)."""
    from sim.report.plots import plot_command

    written = plot_command(source, out)
    for path in written:
        typer.echo(str(path))


def _maestro_file_kind(path: Path) -> str:
    """'network', 'dataflow' (a mapping file) or 'hardware': MAESTRO uses .m for all three."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "network"  # let the trace loader report the unreadable file
    if "Network" in text or "Layer" in text:
        return "network"
    return "dataflow" if "Dataflow" in text or "Map(" in text else "hardware"


# Files `sim check` validates; anything else found in a folder (README.md ...) is documentation.
CHECKED_SUFFIXES = (".toml", ".cfg", ".m", ".csv", ".onnx")


def _files_to_check(paths: list[Path]) -> list[Path]:
    """Named files as given; folders expanded to the checkable files below them, in a stable order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CHECKED_SUFFIXES))
        else:
            out.append(path)
    return out


def _check_one(path: Path, batch: Optional[int] = None) -> str:
    """Validate one file; returns what it is, or raises SimError."""
    from sim import api

    suffix = path.suffix.lower()
    maestro_kind = _maestro_file_kind(path) if suffix == ".m" else None
    if maestro_kind == "dataflow":
        dataflow = api.load_mapping(path)
        return f"dataflow, {len(dataflow.directives)} directives"
    if suffix in (".toml", ".cfg") or maestro_kind == "hardware":
        if suffix == ".toml" and _is_sweep_spec(path):
            from sim.sweep import load_sweep_spec

            load_sweep_spec(path)
            return "sweep spec"
        if suffix == ".toml" and _is_energy_table(path):
            from sim.hardware.energy_table import check_energy_table

            entries = check_energy_table(path)
            return f"energy/area table, {entries} entries"
        hardware = api.load_hardware(path)
        return f"hardware '{hardware.name}', {hardware.kind}"
    trace = api.load_trace(path, batch=batch)
    return f"trace '{trace.name}', {len(trace.layers)} layers"


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="hardware configs, traces, sweep specs, or folders of them"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
) -> None:
    """Validate configs and traces; exit 2 with precise errors if any is invalid."""
    console = _console()
    failed = 0
    for path in _files_to_check(files):
        if path.suffix.lower() in (".md", ".txt", ".rst"):
            console.print(f"skip  {path}  (documentation)", markup=False)
            continue
        try:
            console.print(f"ok    {path}  ({_check_one(path, batch)})", markup=False)
        except SimError as err:
            failed += 1
            print(f"error {err}", file=sys.stderr)
    if failed:
        raise typer.Exit(2)


def _is_energy_table(path: Path) -> bool:
    """A shared table (hw_configs/energy/*.toml) has [energy]/[area] entries and no hardware section."""
    import tomllib

    try:
        keys = set(tomllib.loads(path.read_text()))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False
    return bool(keys & {"energy", "area"}) and keys <= {"description", "energy", "area"}


def _is_sweep_spec(path: Path) -> bool:
    import tomllib

    try:
        return "sweep" in tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def main() -> None:
    try:
        app()
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
