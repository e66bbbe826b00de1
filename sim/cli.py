"""The `sim` command: parse arguments, call the API, print. User mistakes (SimError) exit with code 2."""
from __future__ import annotations

import os
import signal
import sys
from contextlib import contextmanager
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
INCLUDE_HELP = "let configs include energy tables from anywhere under DIR (default: the config's own folder tree)"


def _load_inputs(hw_path: Path, trace_path: Path, mapping_path: Optional[Path], batch: Optional[int] = None,
                 include_root: Optional[Path] = None):
    from sim import api

    if batch is not None and batch < 1:
        raise ConfigError("must be >= 1", field="--batch", value=batch)
    hw = api.load_hardware(hw_path, include_root=include_root)
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
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
) -> None:
    """Simulate every layer of TRACE on HW; print a per-layer table; write report.json and report.csv."""
    from sim import api
    from sim.report import print_table, write_report

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch, include_root)
    with _located(hw):
        result = _run_model(api, analytical, functional, layers, hardware, dataflow, seed, quiet,
                            overlap_weight_prefetch)
    out_dir = out or _default_out(trace, hardware.name, "-analytical" if analytical else "")
    write_report(result, out_dir)
    if analytical and hardware.kind == "directive":
        from sim.report.maestro_csv import write_maestro_csv

        write_maestro_csv(result.layers, out_dir / "maestro.csv", network=result.trace)
    print_table(result, console)
    console.print(f"reports written to {out_dir}/")
    if functional:
        bad = [r for r in result.layers if r.functional is not None and r.functional.max_abs_error > 0
               and hardware.kind == "systolic"]
        overflowed = [r.name for r in bad if r.functional.accumulator_overflow]
        if overflowed:
            bits = hardware.pe_array.accumulator_bits
            print(f"error: {hw}: pe_array.accumulator_bits: functional check failed: the {bits}-bit accumulator "
                  f"overflows in {', '.join(overflowed)} (partial sums wrap); allowed: more accumulator bits "
                  "or narrower operands", file=sys.stderr)
        rest = [r.name for r in bad if not r.functional.accumulator_overflow]
        if rest:
            print(f"error: functional check failed for {', '.join(rest)}", file=sys.stderr)
        if bad:
            raise typer.Exit(1)


def _run_model(api, analytical, functional, layers, hardware, dataflow, seed, quiet, overlap_weight_prefetch):
    if analytical:
        if functional:
            raise ConfigError("--functional needs the engine; drop --analytical", field="--functional")
        return api.estimate(layers, hardware, mapping=dataflow)
    return api.simulate(layers, hardware, functional=functional, seed=seed, progress=not quiet,
                        overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow)


@contextmanager
def _located(hw_path: Path):
    """A refusal raised while simulating (a layer that does not fit the hardware) names the config file."""
    try:
        yield
    except SimError as err:
        if err.file is None:
            raise err.with_context(file=hw_path) from None
        raise


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
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
) -> None:
    """Engine vs analytical model, per layer and field, with the relative error; writes compare.csv."""
    from rich.table import Table

    from sim import api

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch, include_root)
    with _located(hw):
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
    from sim.inputs import MAX_TRACE_BYTES, read_bytes

    try:
        text = read_bytes(path, SimError, limit=MAX_TRACE_BYTES).decode(errors="replace")
    except SimError:
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


def _check_one(path: Path, batch: Optional[int] = None, include_root: Optional[Path] = None) -> str:
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
        hardware = api.load_hardware(path, include_root=include_root)
        return f"hardware '{hardware.name}', {hardware.kind}"
    trace = api.load_trace(path, batch=batch)
    return f"trace '{trace.name}', {len(trace.layers)} layers"


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="hardware configs, traces, sweep specs, or folders of them"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
) -> None:
    """Validate configs and traces; exit 2 with precise errors if any is invalid."""
    console = _console()
    failed = 0
    for path in _files_to_check(files):
        if path.suffix.lower() in (".md", ".txt", ".rst"):
            console.print(f"skip  {path}  (documentation)", markup=False)
            continue
        try:
            console.print(f"ok    {path}  ({_check_one(path, batch, include_root)})", markup=False)
        except SimError as err:
            failed += 1
            print(f"error {err}", file=sys.stderr)
    if failed:
        raise typer.Exit(2)


def _toml_keys(path: Path) -> set[str]:
    """Top-level keys of a TOML file, read bounded; empty when it cannot be read (the loader then says why)."""
    from sim.hardware.toml_loader import parse_toml, read_text

    try:
        return set(parse_toml(read_text(path), path))
    except SimError:
        return set()


def _is_energy_table(path: Path) -> bool:
    """A shared table (hw_configs/energy/*.toml) has [energy]/[area] entries and no hardware section."""
    keys = _toml_keys(path)
    return bool(keys & {"energy", "area"}) and keys <= {"description", "energy", "area"}


def _is_sweep_spec(path: Path) -> bool:
    return "sweep" in _toml_keys(path)


class _Interrupted(BaseException):
    """Ctrl-C, raised past click (which would turn KeyboardInterrupt into 'Aborted!' and exit 1)."""


def main() -> None:
    main_pid = os.getpid()

    def interrupted(signum, frame):
        if os.getpid() != main_pid:  # a forked worker keeps the default behaviour
            raise KeyboardInterrupt
        raise _Interrupted

    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        app()
    except SimError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except (_Interrupted, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGINT, previous)


if __name__ == "__main__":
    main()
