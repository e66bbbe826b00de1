"""The `sim` command: parse arguments, call the API, print. User mistakes (SimError) exit with code 2."""
from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from sim.errors import ConfigError, SimError

if TYPE_CHECKING:  # rich, the API and the models load when a command runs, not for `sim --help`
    from rich.console import Console

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # click's plain help: `sim --help` does not import rich (start-up time)
    help="Cycle-level simulator for DNN accelerators: systolic / directive PE arrays and ReRAM crossbars.",
)


def _console(quiet: bool = False) -> Console:
    from rich.console import Console

    # Pipes and CI logs get a wide console so the per-layer table is not cut at 80 columns.
    width = None if sys.stdout.isatty() else 200
    return Console(quiet=quiet, highlight=False, width=width)


def _default_out(trace_path: Path, hw_name: str, suffix: str = "") -> Path:
    """out/<trace>-<hw>: names from the inputs (a hardware `name`, a .cfg's run_name) make one safe component."""
    from sim.report.files import safe_name

    return Path("out") / safe_name(f"{trace_path.stem}-{hw_name}{suffix}")


def _out_dir(out: Optional[Path], default: Path) -> Path:
    """The output folder, checked for writability before anything is simulated (OutputError if not)."""
    from sim.report.files import check_out_dir

    return check_out_dir(out if out is not None else default, "--out" if out is not None else "output folder")


BATCH_HELP = "batch size for an ONNX model whose batch dimension is dynamic"
INCLUDE_HELP = "let configs include energy tables from anywhere under DIR (default: the config's own folder tree)"


CONVENTION_HELP = ("cycle convention, overriding the config's: native, scalesim (systolic arrays: SCALE-Sim's "
                   "numbers) or maestro (directive arrays: MAESTRO's estimate); docs/maestro.md, docs/scalesim_compat.md")
_CONVENTIONS = {"pe_array": ("native", "scalesim"), "directive_array": ("native", "maestro")}


def _with_convention(hw, convention: Optional[str]):
    """`hw` under the cycle convention the user asked for (`--cycle-convention`), checked against its array kind."""
    if convention is None:
        return hw
    section = next((name for name in _CONVENTIONS if getattr(hw, name, None) is not None), None)
    if section is None or convention not in _CONVENTIONS[section]:
        allowed = (", ".join(_CONVENTIONS[section]) + f" for a [{section}] config") if section else \
            "nothing: crossbar configs have one convention"
        raise ConfigError("not a cycle convention of this hardware", field="--cycle-convention", value=convention,
                          allowed=allowed)
    spec = getattr(hw, section)
    update = {"cycle_convention": convention}
    if section == "pe_array" and convention == "native" and spec.memory_convention == "scalesim":
        update["memory_convention"] = "native"  # SCALE-Sim's buffers need SCALE-Sim's cycles
    return hw.model_copy(update={section: spec.model_copy(update=update)})


def _load_inputs(hw_path: Path, trace_path: Path, mapping_path: Optional[Path], batch: Optional[int] = None,
                 include_root: Optional[Path] = None, convention: Optional[str] = None):
    from sim import api

    if batch is not None and batch < 1:
        raise ConfigError("must be >= 1", field="--batch", value=batch)
    hw = _with_convention(api.load_hardware(hw_path, include_root=include_root), convention)
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
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="a mapping file (.toml, one record per layer: docs/mapping.md), a MAESTRO "
                                "dataflow .m applied to every layer, or 'auto' (the mapper's best per layer)"),
    overlap_weight_prefetch: bool = typer.Option(
        False, "--overlap-weight-prefetch", help="prefetch a layer's weights during the previous layer"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    dram_trace: Optional[Path] = typer.Option(
        None, "--dram-trace", help="also write the DRAM requests the engine issued to this file (.req format)"),
    ramulator_trace: bool = typer.Option(
        False, "--ramulator", help="write --dram-trace in Ramulator 2's LoadStoreTrace format instead"),
    training: bool = typer.Option(
        False, "--training", help="one training step: forward, backward-data and weight-gradient per layer"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors"),
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
    cycle_convention: Optional[str] = typer.Option(None, "--cycle-convention", help=CONVENTION_HELP),
    power_grid: Optional[str] = typer.Option(
        None, "--power-grid", help="systolic engine: power per ROWSxCOLS PE regions and window (power_*.csv)"),
    power_window: int = typer.Option(1024, "--power-window", help="cycles per power window (with --power-grid)"),
) -> None:
    """Simulate every layer of TRACE on HW; print a per-layer table; write report.json and report.csv."""
    from sim import api
    from sim.report import write_report

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch, include_root, cycle_convention)
    if analytical and functional:
        raise ConfigError("--functional needs the engine; drop --analytical", field="--functional")
    if ramulator_trace and dram_trace is None:
        raise ConfigError("--ramulator chooses the format of --dram-trace; give --dram-trace FILE", field="--ramulator")
    if analytical and dram_trace is not None:
        raise ConfigError("--dram-trace needs the engine; drop --analytical", field="--dram-trace")
    if power_grid is not None and (analytical or training or hardware.kind != "systolic"):
        raise ConfigError("--power-grid needs an engine run on a systolic array", field="--power-grid",
                          value=power_grid, allowed="a [pe_array] hardware config, without --analytical or --training")
    if power_grid is not None and dram_trace is not None:
        raise ConfigError("--power-grid and --dram-trace are separate runs; give one", field="--power-grid")
    if training and dram_trace is not None:
        raise ConfigError("--dram-trace records an inference run; drop --training", field="--dram-trace")
    suffix = ("-training" if training else "") + ("-analytical" if analytical else "")
    out_dir = _out_dir(out, _default_out(trace, hardware.name, suffix))
    if dram_trace is not None:
        from sim.report.files import check_out_dir

        check_out_dir(dram_trace.parent, "--dram-trace")  # its folder must be writable before the run
    dram_requests: list | None = [] if dram_trace is not None else None
    power = None
    if power_grid is not None:
        from sim.engine.power import parse_grid

        grid = parse_grid(power_grid)
    else:
        grid = None
    with _located(hw):  # a refusal raised while simulating names the config file
        if training:
            result = api.train(layers, hardware, analytical=analytical, functional=functional, seed=seed,
                               mapping=dataflow, progress=not quiet)
        elif analytical:
            result = api.estimate(layers, hardware, mapping=dataflow)
        elif grid is not None:
            result, power = api.simulate_power(layers, hardware, grid=grid,
                                               window_cycles=power_window, functional=functional, seed=seed,
                                               overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow)
        elif quiet or len(layers.layers) < 2:
            result = api.simulate(layers, hardware, functional=functional, seed=seed,
                                  overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow,
                                  dram_requests=dram_requests)
        else:
            from sim.report.progress import layer_progress

            with layer_progress(f"simulating {layers.name}", len(layers.layers)) as advance:
                result = api.simulate(layers, hardware, functional=functional, seed=seed, progress=advance,
                                      overlap_weight_prefetch=overlap_weight_prefetch, mapping=dataflow,
                                      dram_requests=dram_requests)
    write_report(result, out_dir)
    if power is not None:
        from sim.report.power import write_power

        write_power(power, out_dir)
    if analytical and hardware.kind == "directive":
        from sim.report.maestro_csv import write_maestro_csv

        write_maestro_csv(result.layers, out_dir / "maestro.csv", network=result.trace)
    if dram_trace is not None:
        _write_dram_trace(dram_trace, dram_requests, hardware, ramulator_trace)
    if not quiet:  # -q builds no table: at thousands of layers the table is most of the run's CPU time
        from sim.report import print_table

        print_table(result, console)
    console.print(f"reports written to {out_dir}/")
    if dram_trace is not None:
        console.print(f"DRAM requests ({len(dram_requests)}) written to {dram_trace}")
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


@app.command(name="map")
def map_command(
    hw: Path = typer.Option(..., "--hw", help="hardware config: a [pe_array] (systolic) or a directive array"),
    trace: Path = typer.Option(..., "--trace", help="layers: SCALE-Sim topology .csv, our trace .csv or an ONNX model"),
    objective: str = typer.Option("latency", "--objective", help="latency, energy or edp"),
    budget: Optional[int] = typer.Option(None, "--budget",
                                         help="candidates scored per layer (default 512; directive arrays 24)"),
    time_limit: Optional[float] = typer.Option(None, "--time", help="stop searching after this many seconds"),
    top_k: int = typer.Option(3, "--top-k", help="candidates per layer validated by the engine (0: none)"),
    seed: int = typer.Option(0, "--seed", help="seed of the heuristic search"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: out/<trace>-<hw>-map)"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Search the best mapping of every layer; write mappings.toml (for `sim run --mapping`) and map_report.json."""
    from sim import api
    from sim.mapper.report import print_map_table, write_map_outputs
    from sim.mapper.search import check_settings

    console = _console(quiet)
    check_settings(objective, budget, time_limit, top_k)  # bad settings fail before anything is loaded or searched
    hardware, layers, _ = _load_inputs(hw, trace, None, batch)
    out_dir = _out_dir(out, _default_out(trace, hardware.name, "-map"))
    result = api.map(layers, hardware, objective=objective, budget=budget, time_limit_s=time_limit, seed=seed,
                     top_k=top_k)
    mapping_path, _ = write_map_outputs(result, out_dir)
    if not quiet:
        print_map_table(result, console)
    console.print(f"mappings written to {mapping_path} (sim run --mapping {mapping_path})")
    if not result.complete:
        raise typer.Exit(130)


def _write_dram_trace(path: Path, requests: list, hardware, ramulator: bool) -> None:
    from sim.workload.dram_trace import engine_requests_trace, format_dram_trace, format_ramulator_trace

    trace = engine_requests_trace(requests, hardware.pe_array.clock_mhz, name=path.stem)
    if ramulator:
        text = format_ramulator_trace(trace, hardware.dram.burst_bytes)
    else:
        text = format_dram_trace(trace, f"engine requests, {hardware.name}, clock {hardware.pe_array.clock_mhz:g} MHz")
    from sim.report.files import atomic_write_text, make_out_dir

    make_out_dir(path.parent, "--dram-trace")
    atomic_write_text(path, text)


@app.command()
def dram(
    trace: Path = typer.Argument(..., help="request trace (.req: <issue_ns> <R|W> <address> <size_bytes>)"),
    hw: Path = typer.Option(..., "--hw", help="hardware config whose [dram] section to use"),
    model: Optional[str] = typer.Option(None, "--model", help="DRAM model (default: the config's): "
                                        "bandwidth, bank_row, ddr"),
    preset: Optional[str] = typer.Option(None, "--preset", help="DRAM preset (e.g. DDR4-2400) for --model"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON"),
) -> None:
    """Replay a DRAM request trace: total time, bandwidth, row-hit rate, read latency, command counts."""
    import json

    from sim import api
    from sim.engine.dram_replay import replay
    from sim.workload.dram_trace import load_dram_trace

    hardware = api.load_hardware(hw)
    if hardware.dram is None:
        raise ConfigError("the hardware config has no [dram] section", file=hw, field="dram",
                          allowed="a config with [dram]")
    clock = hardware.pe_array.clock_mhz if hardware.pe_array is not None else 1000.0
    spec = _dram_spec(hardware.dram, model, preset, clock)
    requests = load_dram_trace(trace)
    result = replay(requests, spec, clock_mhz=clock)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console = _console()
    hit = "n/a" if result.row_hit_rate is None else f"{result.row_hit_rate:.2%}"
    console.print(f"{result.trace} on {hardware.name} ({result.model}): {result.requests} requests, "
                  f"{result.transactions} transactions, {result.bytes} bytes")
    console.print(f"  total time        {result.total_ns:,.1f} ns")
    console.print(f"  bandwidth         {result.bandwidth_gbps:.3f} GB/s")
    console.print(f"  row-hit rate      {hit}")
    console.print(f"  read latency      avg {result.avg_read_latency_ns:,.1f} ns, "
                  f"max {result.max_read_latency_ns:,.1f} ns")
    if result.commands:
        console.print("  commands          " + ", ".join(f"{k.upper()} {v}" for k, v in result.commands.items()))
    if result.energy_pj:
        total = sum(result.energy_pj.values())
        console.print(f"  energy            {total / 1e6:,.3f} uJ (" + ", ".join(
            f"{k} {v / 1e6:,.3f}" for k, v in result.energy_pj.items()) + ")")


def _dram_spec(spec, model: Optional[str], preset: Optional[str], clock_mhz: float):
    """The config's DRAM with --model / --preset applied (bank_row presets in cycles of `clock_mhz`)."""
    from sim.engine.dram import DRAM_MODELS
    from sim.hardware.presets import resolve_ddr_preset, resolve_dram_preset
    from sim.hardware.spec import DramSpec

    values = spec.model_dump()
    if model is not None:
        if model not in DRAM_MODELS:
            raise ConfigError("unknown DRAM model", field="--model", value=model, allowed=", ".join(DRAM_MODELS))
        values["model"] = model
    if preset is not None:
        values.update(preset=preset, timing=None, device=None)
    name = values["preset"]
    if values["model"] in ("bank_row", "ddr") and name is None and values["timing"] is None \
            and values["device"] is None:
        raise ConfigError(f"model '{values['model']}' needs a preset", field="--preset", allowed="e.g. DDR4-2400")
    if values["model"] == "ddr" and values["device"] is None:
        values["device"] = resolve_ddr_preset(name).model_dump()
    if values["model"] == "bank_row" and values["timing"] is None:
        values["timing"] = resolve_dram_preset(name, clock_mhz).model_dump()
    return DramSpec(**values)


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
    mapping: Optional[Path] = typer.Option(
        None, "--mapping", help="a mapping file (.toml, one record per layer: docs/mapping.md), a MAESTRO "
                                "dataflow .m applied to every layer, or 'auto' (the mapper's best per layer)"),
    tolerance: Optional[float] = typer.Option(
        None, "--tolerance", help="exit 1 if any field's relative error exceeds this (e.g. 0.05)"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
    cycle_convention: Optional[str] = typer.Option(None, "--cycle-convention", help=CONVENTION_HELP),
) -> None:
    """Engine vs analytical model, per layer and field, with the relative error; writes compare.csv."""
    from sim import api
    from sim.report.files import make_out_dir

    console = _console(quiet)
    hardware, layers, dataflow = _load_inputs(hw, trace, mapping, batch, include_root, cycle_convention)
    out_dir = _out_dir(out, _default_out(trace, hardware.name, "-compare"))
    with _located(hw):
        comparison = api.compare(layers, hardware, mapping=dataflow)
    comparison.write_csv(make_out_dir(out_dir) / "compare.csv")
    if not quiet:
        from rich.table import Table

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
    from sim.report.files import make_out_dir

    hardware, layers, _ = _load_inputs(hw, trace, None)
    out_dir = _out_dir(out, _default_out(trace, hardware.name, "-equal-area"))
    report = compare_equal_area(layers, hardware, budget=budget if budget == "expanded" else int(budget),
                                model="analytical" if analytical else "engine")
    report.write_csv(make_out_dir(out_dir) / "equal_area.csv")
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
    out_dir = _out_dir(out, _default_out(model, hardware.name, "-infer"))
    result = api.infer(model, data, hardware, labels=labels, quantization=quantization, seed=seed,
                       mapping=dataflow, timing=timing)
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
    mapping: Optional[str] = typer.Option(
        None, "--mapping", help="'auto': judge every point with its best per-layer mappings (hardware-mapping "
                                "co-search; each layer searched once per hardware point)"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Design-space exploration: screen with the analytical model, validate the Pareto front with the engine."""
    from sim.report.files import safe_name
    from sim.sweep import run_sweep_command

    out_dir = _out_dir(out, Path("out") / safe_name(f"sweep-{spec.stem}"))
    run_sweep_command(spec, out_dir, dask=dask, workers=workers, console=_console(quiet), mapping=mapping)


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


@app.command()
def system(
    config: Path = typer.Argument(..., help="a system config (.toml): accelerators, links, optional [partition]"),
    trace: Path = typer.Option(..., "--trace", help="layers: SCALE-Sim topology .csv, our trace .csv or a MAESTRO .m"),
    batch: Optional[int] = typer.Option(None, "--batch", help="set every layer's batch (micro-batches split it)"),
    inference: bool = typer.Option(False, "--inference", help="one forward pass instead of a training step"),
    search: bool = typer.Option(False, "--search", help="search the partition (default when the config has none)"),
    objective: str = typer.Option("step_time", "--objective", help="search objective: step_time, energy, balance"),
    analytical: bool = typer.Option(False, "--analytical", help="time operations with the analytical model"),
    out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: out/<trace>-<system>-system)"),
    plots: bool = typer.Option(False, "--plots", help="also write the timeline, link-traffic and breakdown plots"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print nothing but errors"),
    include_root: Optional[Path] = typer.Option(
        None, "--include-root", help="let the system config name hardware configs (and those their energy tables) "
                                     "anywhere under DIR (default: the config's own folder tree)"),
) -> None:
    """One training step (or inference) of TRACE on a system of accelerators; per-accelerator busy / waiting time,
    link traffic; writes system.json, timeline.csv, accelerators.csv, links.csv."""
    from rich.table import Table

    from sim import api
    from sim.report.system import plot_system, write_system_report

    console = _console(quiet)
    machine = api.load_system(config, include_root=include_root)
    layers = api.load_trace(trace)
    out_dir = _out_dir(out, _default_out(trace, Path(config).stem, "-system"))
    result, found = api.simulate_system(layers, machine, "auto" if search else None, training=not inference,
                                        model="analytical" if analytical else "engine", batch=batch,
                                        objective=objective)
    extra = None
    if found is not None:
        extra = {"search": {"objective": found.objective, "search_s": found.search_s, "candidates": [
            {"partition": c.partition.describe(), "predicted_step_ns": c.step_ns, "energy_pj": c.energy_pj,
             "balance": c.balance} for c in found.candidates]}}
    write_system_report(result, out_dir, extra=extra)
    if plots:
        plot_system(result, out_dir)
    table = Table(title=f"{result.trace} on {result.system}: {result.partition}")
    for column in ("accelerator", "hardware", "busy %", "compute us", "stall us", "comm us", "bubble us",
                   "idle us"):
        table.add_column(column, justify="left" if column in ("accelerator", "hardware") else "right")
    for acc in result.accelerators:
        table.add_row(acc.name, acc.hardware, f"{100 * acc.busy_ns / result.step_ns:.1f}" if result.step_ns else "-",
                      *(f"{getattr(acc, key) / 1e3:.1f}" for key in ("compute_ns", "memory_stall_ns",
                                                                      "communication_ns", "bubble_ns", "idle_ns")))
    console.print(table)
    if result.links:
        links = Table(title="links")
        for column in ("link", "MB", "utilization %"):
            links.add_column(column, justify="left" if column == "link" else "right")
        for link in result.links:
            links.add_row(link.name, f"{link.bytes / 1e6:.3f}", f"{100 * link.utilization:.1f}")
        console.print(links)
    if found is not None:
        console.print(f"searched {len(found.candidates)} partitions in {found.search_s:.2f} s ({found.objective}); "
                      f"predicted {found.best.step_ns / 1e3:.1f} us")
    console.print(f"step {result.step_ns / 1e3:.1f} us, energy {result.energy_pj / 1e6:.3f} uJ; "
                  f"reports written to {out_dir}/")


@app.command()
def check(
    files: list[Path] = typer.Argument(..., help="hardware configs, traces, sweep specs, or folders of them"),
    batch: Optional[int] = typer.Option(None, "--batch", help=BATCH_HELP),
    include_root: Optional[Path] = typer.Option(None, "--include-root", help=INCLUDE_HELP),
) -> None:
    """Validate configs and traces; exit 2 with precise errors if any is invalid."""
    from sim.check import check_files  # `sim check FILE...` without options runs it without typer (sim/__main__.py)

    if check_files(files, batch, include_root):
        raise typer.Exit(2)


def main() -> None:
    from sim.entry import run_command

    run_command(app)


if __name__ == "__main__":
    main()
