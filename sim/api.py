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

import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.records import LayerResult, RunResult
from sim.workload.layer import Layer
from sim.workload.trace import Trace


def load_trace(path: str | Path, *, batch: int | None = None) -> Trace:
    """A layer trace: SCALE-Sim topology CSV (conv or GEMM), our extended trace CSV, a MAESTRO .m file or an
    ONNX model (`batch` fills an ONNX model's dynamic batch dimension)."""
    from sim.workload.load import load_trace as load

    return load(path, batch=batch)


def load_hardware(path: str | Path) -> Hardware:
    """A hardware config: our TOML, a SCALE-Sim .cfg, or a MAESTRO hardware .m file."""
    from sim.hardware.load import load_hardware as load

    return load(path)


def load_mapping(path: str | Path) -> Any:
    """A MAESTRO dataflow given on its own, to apply to every layer of a trace."""
    from sim.workload.maestro import load_mapping_file

    return load_mapping_file(path)


def _as_trace(workload: Trace | Layer | Iterable[Layer]) -> Trace:
    if isinstance(workload, Trace):
        return workload
    if isinstance(workload, Layer):
        return Trace(name=workload.name, layers=(workload,))
    layers = tuple(workload)
    return Trace(name="layers", layers=layers)


def _with_dataflow(trace: Trace, dataflow: Any) -> Trace:
    """Apply one directive mapping to every layer (a mapping file given apart from the trace)."""
    if dataflow is None:
        return trace
    return replace(trace, dataflows=tuple(dataflow for _ in trace.layers))


def map_layer(layer: Layer, hw: Hardware, *, dataflow: Any = None) -> Any:
    """The mapping of `layer` on `hw`, or MappingError with the reason.

    `dataflow` is a systolic dataflow name (os/ws/is) for a PE array, or a parsed MAESTRO Dataflow for a
    directive array.
    """
    if hw.kind == "systolic":
        from sim.mapping.systolic import map_systolic

        return map_systolic(layer, hw, dataflow)
    if hw.kind == "reram":
        from sim.mapping.crossbar import map_crossbar

        return map_crossbar(layer, hw)
    from sim.mapping.directives import map_directive

    if dataflow is None:
        raise MappingError(
            f"layer '{layer.name}' has no Dataflow block and no mapping file was given",
            field="dataflow", allowed="a MAESTRO .m trace with Dataflow blocks, or --mapping FILE (see mappings/)",
        )
    return map_directive(layer, hw, dataflow)


def _directive_results(trace: Trace, hw: Hardware) -> list[LayerResult]:
    from sim.analytical.directives import estimate_directive

    results = []
    for index, layer in enumerate(trace.layers):
        dataflow = trace.dataflow_of(index)
        if dataflow is None:
            raise MappingError(
                f"layer '{layer.name}' has no Dataflow block and no mapping file was given",
                field="dataflow", allowed="a MAESTRO .m trace with Dataflow blocks, or --mapping FILE (see mappings/)",
            )
        results.append(estimate_directive(layer, hw, dataflow))
    return results


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
    return replace(run, pes=run.pes or _pes(hw), metadata=tuple(metadata.items()))


def estimate(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, mapping: Any = None) -> RunResult:
    """The analytical model for every layer (microseconds per layer)."""
    trace = _with_dataflow(_as_trace(workload), mapping)
    if hw.kind == "directive":
        results = _directive_results(trace, hw)
    elif hw.kind == "reram":
        # The whole trace at once: placement replicates early layers to balance the inter-layer pipeline,
        # exactly as the engine's trace run does, so the two compare like for like.
        from sim.analytical.crossbar import estimate_crossbar_trace

        return _with_hardware_metadata(estimate_crossbar_trace(trace, hw), hw)
    else:
        from sim.analytical.deconv import estimate_zero_skipping, zero_skipping
        from sim.analytical.systolic import estimate_systolic

        results = []
        for layer in trace.layers:
            start = time.perf_counter()
            result = estimate_zero_skipping(layer, hw) if zero_skipping(layer, hw) \
                else estimate_systolic(layer, hw, map_layer(layer, hw))
            results.append(replace(result, sim_wall_s=time.perf_counter() - start))
    run = RunResult(hardware=hw.name, trace=trace.name, model="analytical", layers=tuple(results), pes=_pes(hw))
    return _with_hardware_metadata(run, hw)


def simulate(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, functional: bool = False, seed: int = 0,
             progress: bool = False, overlap_weight_prefetch: bool = False, mapping: Any = None) -> RunResult:
    """The discrete-event engine for every layer, in trace order.

    `functional=True` also computes each layer's output values from seeded random operands and checks them
    against numpy (systolic) or the exact integer product (crossbar).
    """
    trace = _with_dataflow(_as_trace(workload), mapping)
    if hw.kind == "systolic":
        from sim.engine.simulate import simulate_trace

        run = simulate_trace(trace, hw, functional=functional, seed=seed, progress=progress,
                             overlap_weight_prefetch=overlap_weight_prefetch)
    elif hw.kind == "reram":
        from sim.engine.crossbar import simulate_crossbar_trace

        run = simulate_crossbar_trace(trace, hw, functional=functional, seed=seed)
    else:
        from sim.engine.directives import simulate_directive_trace

        run = simulate_directive_trace(trace, hw, seed=seed, functional=functional)
    return _with_hardware_metadata(run, hw)


def simulate_power(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, grid: tuple[int, int] = (4, 4),
                   window_cycles: int = 1024, functional: bool = False, seed: int = 0,
                   overlap_weight_prefetch: bool = False, mapping: Any = None):
    """`simulate` on a systolic array with its power trace: (RunResult, sim.engine.power.PowerTrace)."""
    from sim.engine.power import simulate_power as power_run

    run, power = power_run(_with_dataflow(_as_trace(workload), mapping), hw, grid=grid, window_cycles=window_cycles,
                           functional=functional, seed=seed, overlap_weight_prefetch=overlap_weight_prefetch)
    return _with_hardware_metadata(run, hw), power


def compare(workload: Trace | Layer | Iterable[Layer], hw: Hardware, *, mapping: Any = None, seed: int = 0):
    """Engine vs analytical model, per layer and field (see sim.compare.Comparison)."""
    from sim.compare import compare_runs

    trace = _as_trace(workload)
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
