"""The public API: what the CLI, sweeps and notebooks call.

    trace = sim.load_trace("traces/resnet18.csv")
    hw = sim.load_hardware("hw_configs/scalesim_32x32_ws.toml")
    run = sim.simulate(trace, hw)            # discrete-event engine
    est = sim.estimate(trace, hw)            # analytical model
    diff = sim.compare(trace, hw)            # engine vs analytical, field by field

Every function takes its configuration as arguments and returns frozen records; nothing here keeps state.
The hardware kind picks the model: a [pe_array] is a systolic array, [reram] a crossbar chip, and
[directive_array] a MAESTRO-style PE array driven by data-centric directives.
"""
from __future__ import annotations

import math

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from sim.errors import ConfigError, MappingError

if TYPE_CHECKING:  # imported where used: `import sim.api` stays cheap (the CLI's start-up)
    from sim.hardware.spec import Hardware
    from sim.mapping.crossbar import CrossbarMapping
    from sim.mapping.record import Mapping
    from sim.records import LayerResult, RunResult
    from sim.workload.layer import Layer
    from sim.workload.maestro import Dataflow
    from sim.workload.trace import Trace

    # What `mapping=` may be: a record (every layer it covers), records by layer name (a mapping file), or a
    # MAESTRO dataflow (every layer).
    MappingArgument = Mapping | dict[str, Mapping] | Dataflow | None


def load_trace(path: str | Path, *, batch: int | None = None) -> Trace:
    """A layer trace: SCALE-Sim topology CSV (conv or GEMM), our extended trace CSV, a MAESTRO .m file or an
    ONNX model (`batch` fills an ONNX model's dynamic batch dimension)."""
    from sim.workload.load import load_trace as load

    return load(path, batch=batch)


def load_hardware(path: str | Path, *, include_root: str | Path | None = None) -> Hardware:
    """A hardware config: our TOML, a SCALE-Sim .cfg, or a MAESTRO hardware .m file (`include_root` widens
    where its `energy_tables` may lie: by default, the config's own folder tree)."""
    from sim.hardware.load import load_hardware as load

    return load(path, include_root=include_root)


def load_mapping(path: str | Path) -> dict[str, Mapping] | Dataflow | str:
    """A mapping given apart from the trace: a mapping file (TOML, sim.mapping.mapping_file: one record per layer
    name), a MAESTRO dataflow (.m) to apply to every layer, or "auto" (the mapper's best per layer, see `map`)."""
    if str(path) == "auto":
        return "auto"
    if Path(path).suffix.lower() == ".toml":
        from sim.mapping.mapping_file import read_mappings

        return read_mappings(path)
    from sim.workload.maestro import load_mapping_file

    return load_mapping_file(path)


def write_mappings(path: str | Path, workload: Trace | Layer | Iterable[Layer], hw: Hardware, *,
                   mapping: MappingArgument = None) -> dict[str, Mapping]:
    """Write the mapping record of every layer on a digital array (`mapping` as in `simulate`: default, the
    config's named dataflow) to a mapping file a user can edit and give back to `--mapping`; returns the records."""
    from sim.mapping.mapping_file import write_mappings as write

    if hw.kind == "reram":
        raise MappingError("mapping files describe digital PE arrays; a crossbar placement is not a loop nest",
                           field="hardware", value=hw.kind, allowed="a [pe_array] or [directive_array] config")
    trace = _with_mapping(_as_trace(workload), mapping)
    names = [layer.name for layer in trace.layers]
    if len(set(names)) != len(names):
        raise MappingError("a mapping file names layers, and this trace repeats a name", field="layers",
                           value=next(n for n in names if names.count(n) > 1), allowed="distinct layer names")
    records = {layer.name: map_layer(layer, hw, dataflow=trace.dataflow_of(index))
               for index, layer in enumerate(trace.layers)}
    write(path, records)
    return records


def _as_trace(workload: Trace | Layer | Iterable[Layer]) -> Trace:
    from sim.workload.layer import Layer
    from sim.workload.trace import Trace

    if isinstance(workload, Trace):
        return workload
    if isinstance(workload, Layer):
        return Trace(name=workload.name, layers=(workload,))
    layers = tuple(workload)
    return Trace(name="layers", layers=layers)


def map(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, objective: str = "latency",
        budget: int | None = None, time_limit_s: float | None = None, seed: int = 0, top_k: int = 3,
        cache: Any = None) -> Any:
    """The mapper (sim.mapper): per layer, the best mapping of `hw`'s space for `objective` ("latency", "energy",
    "edp"), `budget` candidates scored per layer with the analytical model (exhaustive when the space is smaller),
    the top-`top_k` run through the engine and picked by its numbers (0: analytical only). Returns a
    sim.mapper.search.MapResult; `.mappings()` is what `mapping=` and mapping files take. `cache`: a
    sim.mapper.search.MapperCache shared between calls (sweeps)."""
    from sim.mapper.search import map_trace

    return map_trace(_as_trace(workload), hw, objective=objective, budget=budget, time_limit_s=time_limit_s,
                     seed=seed, top_k=top_k, cache=cache)


def _resolve_auto(trace: Trace, hw: Hardware, mapping: Any, cache: Any = None) -> Any:
    """mapping="auto": each layer's best latency mapping by the analytical model (the mapper, no engine runs)."""
    if not (isinstance(mapping, str) and mapping == "auto"):
        return mapping
    return map(trace, hw, top_k=0, cache=cache).mappings()


def _with_optimized_mapping(trace: Trace, hw: Hardware) -> Trace:
    """With [sparsity] optimized_mapping: every layer under SCALE-Sim's optimized mapping (a seeded random N per
    filter column in blocks of block_size; the layers' own N:M ignored, as SCALE-Sim does), sim.mapping.optmap."""
    spec = hw.sparsity
    if spec is None or not spec.optimized_mapping:
        return trace
    where = {"file": hw.source_file or None, "field": "sparsity.optimized_mapping"}
    if hw.kind != "systolic":
        raise ConfigError("the optimized mapping is SCALE-Sim's, for a systolic array", value=True,
                          allowed="false without a [pe_array]", **where)
    if spec.block_size < 2 or spec.block_size > hw.pe_array.rows:  # SCALE-Sim asserts BlockSize <= ArrayHeight
        raise ConfigError("the optimized mapping's block does not fit the array", value=spec.block_size,
                          allowed=f"block_size 2..{hw.pe_array.rows} (the array's rows)",
                          **{**where, "field": "sparsity.block_size"})
    for layer in trace.layers:
        if layer.block_size > 1 or layer.weight_density < 1:
            raise MappingError(f"layer '{layer.name}': the optimized mapping cannot be combined with block-circulant "
                               "filters or unstructured weight sparsity", field="sparsity.optimized_mapping",
                               value=True, allowed="false for this trace")
    return replace(trace, layers=tuple(replace(layer, sparsity_n=1, sparsity_m=1, optmap_block=spec.block_size,
                                               optmap_seed=spec.seed) for layer in trace.layers))


def _with_mapping(trace: Trace, mapping: MappingArgument) -> Trace:
    """The trace carrying the mapping given apart from it, per layer."""
    if mapping is None:
        return trace
    if isinstance(mapping, dict):
        missing = [layer.name for layer in trace.layers if layer.name not in mapping]
        if missing:
            raise MappingError(f"the mapping file has no [[mapping]] for layer '{missing[0]}'", field="mapping.layer",
                               value=missing[0], allowed=", ".join(mapping) or "no layer")
        return replace(trace, dataflows=tuple(mapping[layer.name] for layer in trace.layers))
    return replace(trace, dataflows=tuple(mapping for _ in trace.layers))


def map_layer(layer: Layer, hw: Hardware, *, dataflow: str | Dataflow | None = None) -> Mapping | CrossbarMapping:
    """The mapping of `layer` on `hw`, or MappingError with the reason: the mapping record of a digital array
    (`dataflow`: a named systolic dataflow os / ws / is, or MAESTRO directives for a directive array), or the
    crossbar placement of a ReRAM chip."""
    return _MODELS[hw.kind].map_layer(layer, hw, dataflow)


def _map_systolic(layer: Layer, hw: Hardware, dataflow: Any) -> Mapping:
    from sim.mapping.record import Mapping
    from sim.mapping.systolic import map_systolic

    if isinstance(dataflow, Mapping):
        return dataflow
    # A named dataflow overrides the config's; MAESTRO directives carried by a trace do not apply to a systolic array.
    return map_systolic(layer, hw, dataflow if isinstance(dataflow, str) else None)


def _map_directive(layer: Layer, hw: Hardware, dataflow: Any) -> Mapping:
    from sim.mapping.directives import map_directive
    from sim.mapping.record import Mapping

    if isinstance(dataflow, Mapping):
        return dataflow
    if dataflow is None:
        raise MappingError(
            f"layer '{layer.name}' has no Dataflow block and no mapping file was given",
            field="dataflow", allowed="a MAESTRO .m trace with Dataflow blocks, or --mapping FILE (see mappings/)",
        )
    return map_directive(layer, hw, dataflow)


def _map_crossbar(layer: Layer, hw: Hardware, dataflow: Any) -> CrossbarMapping:
    from sim.mapping.crossbar import map_crossbar

    return map_crossbar(layer, hw)


def _estimate_layers(trace: Trace, hw: Hardware) -> RunResult:
    """A digital array's analytical model, layer by layer, on each layer's mapping record."""
    from sim.records import RunResult

    estimate_layer = _MODELS[hw.kind].estimate_layer
    results = []
    for index, layer in enumerate(trace.layers):
        start = time.perf_counter()
        result = estimate_layer(layer, hw, map_layer(layer, hw, dataflow=trace.dataflow_of(index)))
        results.append(replace(result, sim_wall_s=time.perf_counter() - start))
    return RunResult(hardware=hw.name, trace=trace.name, model="analytical", layers=tuple(results), pes=_pes(hw))


def _estimate_systolic_layers(trace: Trace, hw: Hardware) -> RunResult:
    """The systolic closed form layer by layer, with outputs kept on chip for the next layer where the hardware option
    and the rule allow (sim.mapping.residency), exactly as the engine's trace run."""
    from sim.analytical.deconv import estimate_zero_skipping, zero_skipping
    from sim.analytical.systolic import estimate_systolic
    from sim.mapping.residency import trace_residency
    from sim.records import RunResult

    mapped = [(layer, map_layer(layer, hw, dataflow=trace.dataflow_of(index)))
              for index, layer in enumerate(trace.layers)]
    results = []
    for (layer, mapping), residency in zip(mapped, trace_residency(mapped, hw)):
        start = time.perf_counter()
        # A transposed conv under `pe_array.deconv = "zero_skipping"` runs as its stride phases (sim.mapping.deconv).
        result = (estimate_zero_skipping(layer, hw) if zero_skipping(layer, hw)
                  else estimate_systolic(layer, hw, mapping, residency=residency))
        results.append(replace(result, sim_wall_s=time.perf_counter() - start))
    return RunResult(hardware=hw.name, trace=trace.name, model="analytical", layers=tuple(results), pes=_pes(hw))


def _estimate_crossbar(trace: Trace, hw: Hardware) -> RunResult:
    # The whole trace at once: placement replicates early layers to balance the inter-layer pipeline,
    # exactly as the engine's trace run does, so the two compare like for like.
    from sim.analytical.crossbar import estimate_crossbar_trace

    return estimate_crossbar_trace(trace, hw)


def _estimate_systolic_layer(layer: Layer, hw: Hardware, mapping: Mapping) -> LayerResult:
    from sim.analytical.deconv import estimate_zero_skipping, zero_skipping
    from sim.analytical.systolic import estimate_systolic

    # A transposed conv under `pe_array.deconv = "zero_skipping"` runs as its stride phases (sim.mapping.deconv).
    if zero_skipping(layer, hw):
        return estimate_zero_skipping(layer, hw)
    return estimate_systolic(layer, hw, mapping)


def _estimate_directive_layer(layer: Layer, hw: Hardware, mapping: Mapping) -> LayerResult:
    from sim.analytical.directives import estimate_directive

    return estimate_directive(layer, hw, mapping)


def _simulate_systolic(trace: Trace, hw: Hardware, **options: Any) -> RunResult:
    from sim.engine.simulate import simulate_trace

    # Each layer's record (the trace's, or the named dataflow it carries, or the config's) is the engine's.
    mapped = replace(trace, dataflows=tuple(map_layer(layer, hw, dataflow=trace.dataflow_of(index))
                                            for index, layer in enumerate(trace.layers)))
    return simulate_trace(mapped, hw, functional=options["functional"], seed=options["seed"],
                          progress=options["progress"], overlap_weight_prefetch=options["overlap_weight_prefetch"],
                          dram_requests=options["dram_requests"])


def _simulate_directive(trace: Trace, hw: Hardware, **options: Any) -> RunResult:
    from sim.engine.directives import simulate_directive_trace

    mapped = replace(trace, dataflows=tuple(map_layer(layer, hw, dataflow=trace.dataflow_of(index))
                                            for index, layer in enumerate(trace.layers)))
    return simulate_directive_trace(mapped, hw, seed=options["seed"], functional=options["functional"])


def _simulate_crossbar(trace: Trace, hw: Hardware, **options: Any) -> RunResult:
    from sim.engine.crossbar import simulate_crossbar_trace

    return simulate_crossbar_trace(trace, hw, functional=options["functional"], seed=options["seed"])


@dataclass(frozen=True)
class _Models:
    """One hardware kind's mapper and models."""

    map_layer: Callable[[Layer, Hardware, Any], Any]
    estimate: Callable[[Trace, Hardware], RunResult]
    simulate: Callable[..., RunResult]
    estimate_layer: Callable[[Layer, Hardware, Any], LayerResult] | None = None


_MODELS = {
    "systolic": _Models(_map_systolic, _estimate_systolic_layers, _simulate_systolic, _estimate_systolic_layer),
    "directive": _Models(_map_directive, _estimate_layers, _simulate_directive, _estimate_directive_layer),
    "reram": _Models(_map_crossbar, _estimate_crossbar, _simulate_crossbar),
}


def _pes(hw: Hardware) -> int:
    if hw.pe_array is not None:
        return hw.pe_array.pes
    if hw.directive_array is not None:
        return hw.directive_array.num_pes
    return 0


def _with_hardware_metadata(run: RunResult, hw: Hardware) -> RunResult:
    """Add what plots and readers need about the hardware (the roofline's roofs) to the run's metadata."""
    metadata = dict(run.metadata)
    if hw.dram is not None:
        metadata.setdefault("dram_bandwidth_bytes_per_cycle", hw.dram.bandwidth_bytes_per_cycle)
    if hw.pe_array is not None:
        metadata.setdefault("clock_mhz", hw.pe_array.clock_mhz)
    if hw.sparsity is not None:
        metadata.setdefault("sparse_representation", hw.sparsity.representation)
    return replace(run, pes=run.pes or _pes(hw), metadata=tuple(metadata.items()))


def _scalesim_user_bandwidths(hw: Hardware) -> dict[str, int] | None:
    """Words per cycle of each operand's DRAM port in SCALE-Sim's USER mode (every port finite and set), else None."""
    ports = {operand: getattr(hw.dram, f"{operand}_bandwidth_bytes_per_cycle")
             for operand in ("ifmap", "filter", "ofmap")}
    if any(port is None or math.isinf(port) for port in ports.values()):
        return None
    word_bytes = {operand: getattr(hw.buffers, operand).word_bytes for operand in ports}
    return {operand: max(int(port // word_bytes[operand]), 1) for operand, port in ports.items()}


def _with_scalesim_windows(run: RunResult, trace: Trace, hw: Hardware) -> RunResult:
    """Under the scalesim cycle convention, SCALE-Sim's per-operand SRAM start / stop cycles as extras; under the
    scalesim memory convention also its DRAM activity (sim/engine/scalesim_memory.py)."""
    if hw.pe_array is None or hw.pe_array.cycle_convention != "scalesim" or len(run.layers) != len(trace.layers):
        return run
    from sim.engine.scalesim_memory import scalesim_memory, scalesim_memory_extras, scalesim_memory_user
    from sim.report.scalesim_windows import scalesim_window_extras, sram_windows

    array = hw.pe_array
    # SCALE-Sim's buffers in CALC mode (unlimited DRAM bandwidth) and USER mode (a finite port per operand); a
    # finite shared bandwidth alone (a sweep point) keeps the native columns
    scalesim_memory_on = array.memory_convention == "scalesim" and math.isinf(hw.dram.bandwidth_bytes_per_cycle)
    user_words = _scalesim_user_bandwidths(hw) if array.memory_convention == "scalesim" else None
    buffer_words = {operand: getattr(hw.buffers, operand).size_words for operand in ("ifmap", "filter", "ofmap")}
    layers = []
    shared_keys: dict = {}  # the layers' records share one keys tuple
    for index, (layer, result) in enumerate(zip(trace.layers, run.layers)):
        dataflow = trace.dataflow_of(index) or array.dataflow
        if dataflow not in ("os", "ws", "is"):  # a mapping record or MAESTRO dataflow: not SCALE-Sim's schedule
            layers.append(result)
            continue
        extras = scalesim_window_extras(layer, dataflow, array.rows, array.cols)
        if scalesim_memory_on and layer.gemm.groups == 1:
            gemm = layer.gemm
            total = result.cycles - int(dict(result.extra).get("prefetch_cycles", 0))
            windows = sram_windows(dataflow, array.rows, array.cols, gemm.m, gemm.k, gemm.n)
            memory = scalesim_memory(layer, dataflow, array.rows, array.cols, buffer_words, total, windows)
            extras.update(scalesim_memory_extras(memory))
        elif user_words is not None and layer.gemm.groups == 1:
            memory, stall = scalesim_memory_user(layer, dataflow, array.rows, array.cols, buffer_words, user_words,
                                                 result.compute_cycles)
            extras.update(scalesim_memory_extras(memory))
            extras.update({"scalesim.stall_cycles": stall, "scalesim.total_cycles": result.compute_cycles + stall})
            for operand in ("ifmap", "filter", "ofmap"):  # SCALE-Sim's stalls stretch every SRAM window's end
                if f"scalesim.sram.{operand}.stop" in extras:
                    extras[f"scalesim.sram.{operand}.stop"] += stall
        layers.append(result.with_extra(extras, shared_keys))
    return replace(run, layers=tuple(layers))


def _with_sparsity(run: RunResult, trace: Trace, hw: Hardware) -> RunResult:
    """Sparse layers (or a sparsity-aware array) get their filter storage, metadata and dense MACs as extras;
    unstructured weight / activation sparsity also re-prices the layer's energy (sim.mapping.sparsity)."""
    from sim.mapping.sparsity import has_density, sparsity_extras

    representation = hw.sparsity.representation if hw.sparsity is not None else None
    skip = hw.sparsity is not None and hw.sparsity.skip_zero_activations
    if len(run.layers) != len(trace.layers) or (representation is None and not any(
            layer.is_sparse or has_density(layer) for layer in trace.layers)):
        return run
    shared_keys: dict = {}  # the layers' records share one keys tuple
    layers = tuple(_optimized_efficiency(_sparse_result(result, sparsity_extras(layer, representation, skip), hw,
                                                        shared_keys), layer, hw)
                   if representation is not None or layer.is_sparse or has_density(layer) else result
                   for layer, result in zip(trace.layers, run.layers))
    return replace(run, layers=layers)


def _optimized_efficiency(result: LayerResult, layer: Layer, hw: Hardware) -> LayerResult:
    """Under the optimized mapping the array's filter slots hold only each column's kept weights: SCALE-Sim's
    mapping efficiency = stored weights / (row folds x column folds x rows x cols), per group."""
    opt = layer.optimized_mapping
    if opt is None or hw.pe_array is None or layer.dense_gemm.n == 0:
        return result
    rows, cols = hw.pe_array.rows, hw.pe_array.cols
    slots = -(-opt.filter_rows // rows) * -(-layer.dense_gemm.n // cols) * rows * cols
    return replace(result, mapping_efficiency=opt.stored / slots)


def _sparse_result(result: LayerResult, extras: dict[str, float], hw: Hardware,
                   shared_keys: dict | None = None) -> LayerResult:
    """`result` with the sparsity extras; where effective MACs are known (unstructured weight or activation
    sparsity), only those are charged as `mac`, plus the metadata reads and, when skipping zero activations, one
    zero check per ifmap SRAM read (both priced from the config's energy table; unpriced when absent)."""
    result = result.with_extra(extras, shared_keys)
    actions = result.actions.as_dict()
    if "effective_macs" not in extras or "mac" not in actions:
        return result
    actions["mac"] = extras["effective_macs"]
    actions["sparsity_metadata.read"] = extras["sparsity.metadata_sram_reads"]
    if hw.sparsity is not None and hw.sparsity.skip_zero_activations:
        actions["zero_detect.check"] = result.sram_reads.ifmap
    from sim.energy.tables import apply
    from sim.records import ActionCounts

    counts = ActionCounts.of(actions)
    return replace(result, actions=counts, energy=apply(counts, hw.energy))


def estimate(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, mapping: MappingArgument = None) -> RunResult:
    """The analytical model for every layer (microseconds per layer) on each layer's mapping ("auto": the mapper's)."""
    trace = _with_optimized_mapping(_as_trace(workload), hw)
    trace = _with_mapping(trace, _resolve_auto(trace, hw, mapping))
    run = _with_scalesim_windows(_with_sparsity(_MODELS[hw.kind].estimate(trace, hw), trace, hw), trace, hw)
    return _with_hardware_metadata(run, hw)


def simulate(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, functional: bool = False, seed: int = 0,
             progress: Any = False, overlap_weight_prefetch: bool = False,
             mapping: MappingArgument = None, dram_requests: list | None = None) -> RunResult:
    """The discrete-event engine for every layer, in trace order, on each layer's mapping.

    `functional=True` also computes each layer's output values from seeded random operands and checks them
    against numpy (systolic) or the exact integer product (crossbar). `progress` (systolic engine): True for a
    progress bar, or a callable given the number of layers done after each layer. `dram_requests` (systolic
    hardware): a list that receives every DRAM request the engine issued, (cycle, kind, address, size_bytes,
    operand) in issue order.
    """
    if dram_requests is not None and hw.kind != "systolic":
        raise ConfigError("a DRAM request trace needs a systolic array (the crossbar and directive engines keep "
                          "no request-level DRAM)", field="--dram-trace", allowed="a config with [pe_array]")
    trace = _with_optimized_mapping(_as_trace(workload), hw)
    trace = _with_mapping(trace, _resolve_auto(trace, hw, mapping))
    run = _MODELS[hw.kind].simulate(trace, hw, functional=functional, seed=seed, progress=progress,
                                    overlap_weight_prefetch=overlap_weight_prefetch, dram_requests=dram_requests)
    run = _with_sparsity(run, trace, hw)
    if functional:
        run = _with_measured_densities(run, trace)
    return _with_hardware_metadata(_with_scalesim_windows(run, trace, hw), hw)


def _with_measured_densities(run: RunResult, trace: Trace) -> RunResult:
    """Functional mode, layers with unstructured or activation sparsity: the densities of the values really drawn."""
    from sim.mapping.sparsity import has_density, measured_densities

    if len(run.layers) != len(trace.layers):
        return run
    return replace(run, layers=tuple(
        result.with_extra(measured_densities(layer, result.functional.seed or 0))
        if has_density(layer) and result.functional is not None else result
        for layer, result in zip(trace.layers, run.layers)))


def training_trace(workload: Trace | Layer | Iterable[Layer]) -> Trace:
    """One training step of `workload`: per layer its forward, backward-data and weight-gradient operations, as a
    Trace every model runs (sim.workload.training)."""
    from sim.workload.training import training_trace as expand

    return expand(_as_trace(workload))


def train(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, analytical: bool = False,
          functional: bool = False, seed: int = 0, mapping: Any = None, write_spec: str | Path | None = None,
          progress: bool = False) -> RunResult:
    """One training step on `hw`: the training trace through the engine (or the analytical model); on a ReRAM chip
    also the crossbar writes every step needs (weight updates and programmed gradients, from `write_spec`, default
    configs/reram_write.toml), one LayerResult each after the operations."""
    from sim.workload.training import saved_activation_bytes, training_ops

    trace = _with_mapping(_as_trace(workload), mapping)
    steps = training_trace(trace)
    if analytical:
        run = estimate(steps, hw)
    else:
        run = simulate(steps, hw, functional=functional, seed=seed, progress=progress)
    metadata = dict(run.metadata)
    metadata.update(training=True, saved_activation_bytes=saved_activation_bytes(trace))
    layers = run.layers
    if hw.kind == "reram":
        from sim.analytical.weight_update import training_writes
        from sim.hardware.reram_write import load_reram_write

        layers = layers + training_writes(training_ops(trace), hw, load_reram_write(write_spec))
    return replace(run, layers=layers, metadata=tuple(metadata.items()))


def load_system(path: str | Path, *, include_root: str | Path | None = None) -> Any:
    """A system config (TOML): accelerators, links, topology (sim.system.spec.System). Accelerator `hw` paths lie
    in the config's folder tree (`include_root` widens it) or name a shipped hardware config."""
    from sim.system.spec import load_system as load

    return load(path, include_root=include_root)


def simulate_system(workload: Trace | Layer | Iterable[Layer], system: Any, partition: Any = None, *,
                    training: bool = True, model: str = "engine", batch: int | None = None,
                    objective: str = "step_time", seed: int = 0) -> Any:
    """One step of `workload` on a system of accelerators (sim.system): with a Partition, that split; with None,
    the config's [partition]; with "auto", or when the config has none, the partitioner's best (searched with the
    analytical model, run with `model`). Returns (SystemResult, PartitionSearch or None when nothing was searched).
    """
    from sim.system.engine import run_system
    from sim.system.partition import partition_from_table
    from sim.system.partitioner import search_partitions
    from sim.system.spec import raw_partition

    trace = _as_trace(workload)
    if partition is None and system.source_file:
        table = raw_partition(system.source_file)
        partition = partition_from_table(table, system) if table is not None else "auto"
    if partition is None or partition == "auto":
        search = search_partitions(trace, system, objective=objective, training=training, batch=batch,
                                   validate=False)
        return run_system(trace, system, search.best.partition, training=training, model=model, batch=batch,
                          seed=seed), search
    return run_system(trace, system, partition, training=training, model=model, batch=batch, seed=seed), None


def simulate_power(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, grid: tuple[int, int] = (4, 4),
                   window_cycles: int = 1024, functional: bool = False, seed: int = 0,
                   overlap_weight_prefetch: bool = False, mapping: Any = None):
    """`simulate` on a systolic array with its power trace: (RunResult, sim.engine.power.PowerTrace)."""
    from sim.engine.power import simulate_power as power_run

    run, power = power_run(_with_mapping(_as_trace(workload), mapping), hw, grid=grid, window_cycles=window_cycles,
                           functional=functional, seed=seed, overlap_weight_prefetch=overlap_weight_prefetch)
    return _with_hardware_metadata(run, hw), power


def compare(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, mapping: MappingArgument = None,
            seed: int = 0):
    """Engine vs analytical model, per layer and field (see sim.compare.Comparison)."""
    from sim.compare import compare_runs

    trace = _as_trace(workload)
    mapping = _resolve_auto(trace, hw, mapping)  # searched once for both models
    engine = simulate(trace, hw, seed=seed, mapping=mapping)
    analytical = estimate(trace, hw, mapping=mapping)
    return compare_runs(engine, analytical)


def _tensor(value: Any, name: str) -> Any:
    """A numpy array, or one read from a .npy file (an .npz holding exactly one array)."""
    import numpy as np

    from sim.errors import ConfigError

    if not isinstance(value, (str, Path)):
        return np.asarray(value)
    try:
        loaded = np.load(value, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"{name} not readable as .npy / .npz: {err}", file=value, field=name) from err
    if hasattr(loaded, "files"):
        if len(loaded.files) != 1:
            raise ConfigError(f"{name} .npz must hold exactly one array", file=value, field=name, value=loaded.files)
        return loaded[loaded.files[0]]
    return loaded


def layer_values(layer: Layer, hw: Hardware, ifmap: Any, filters: Any, *, quantization: Any = None,
                 mapping: Any = None, seed: int = 0) -> Any:
    """One layer's output values on `hw` from your tensors (arrays or .npy / .npz paths), in the Layer layouts
    ifmap (B, H, W, C) and filters (O, R, S, C/groups). Float tensors are quantized to the hardware's operand
    bits by `quantization` (a sim.functional.quantize.QuantConfig; default: weights per channel, symmetric,
    round half to even); integers that fit are used as they are. Returns a LayerValues: `outputs` (dequantized,
    (B, E, F, O)), `reference` (the float product), `max_abs_error`, `relative_rms_error`."""
    from sim.functional.layer import layer_values as run_values

    return run_values(layer, hw, _tensor(ifmap, "ifmap"), _tensor(filters, "filters"), quantization=quantization,
                      dataflow=mapping, seed=seed)


def infer(model: str | Path, data: Any, hw: Hardware, *, labels: Any = None, quantization: Any = None,
          seed: int = 0, mapping: Any = None, timing: bool = True) -> Any:
    """End-to-end inference of an ONNX model on `hw`: every Conv / Gemm / MatMul on the simulated hardware,
    other operators in numpy. `data`: arrays by input name, one array, or a .npy / .npz file; `labels`: one
    class per sample (array, .npy, or an .npz with 'labels'). Returns a sim.functional.infer.Inference
    (outputs, onnxruntime reference, per-layer errors, top-1 accuracy on hardware and in float, and the
    engine's RunResult for timing and energy)."""
    from sim.functional.infer import infer as run_inference

    return run_inference(model, data, hw, labels=labels, quantization=quantization, seed=seed, dataflow=mapping,
                         timing=timing)
