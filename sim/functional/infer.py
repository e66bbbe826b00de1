"""End-to-end inference of an ONNX model on the simulated hardware, with accuracy, timing and energy.

Three runs of the same graph (`sim.functional.graph`) differ only in how a Conv / Gemm / MatMul is computed:
1. float: float64 numpy (per-layer references, and the activation ranges that calibrate the quantizers);
2. hardware: operands quantized (`QuantConfig`), run on the hardware's kernels, dequantized;
3. optionally the integer reference: the same quantized operands, exact integer products in numpy.
onnxruntime's float run (when installed) is the reference for the final outputs. Timing and energy come
from the engine on the model's layers at the dataset's batch (`sim.api.simulate`).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ConfigError, TraceError
from sim.functional.graph import Graph, load_graph, run_graph
from sim.functional.layer import float_ofmap, hardware_layer, operand_bits, quantized_layer
from sim.functional.quantize import QuantConfig, QuantParams, calibrate, quantize
from sim.hardware.spec import Hardware
from sim.records import RunResult
from sim.workload.layer import Layer


@dataclass(frozen=True)
class LayerError:
    """One compute layer of the hardware run against the float run at the same node."""

    name: str
    max_abs_error: float
    relative_rms_error: float  # RMS(hardware - float) / RMS(float)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "max_abs_error": self.max_abs_error,
                "relative_rms_error": self.relative_rms_error}


@dataclass(frozen=True)
class Inference:
    """What `infer` returns: outputs, references, errors, accuracies, and the engine's timing/energy run."""

    model: str
    hardware: str
    samples: int
    outputs: dict[str, np.ndarray]  # the hardware's final outputs, by the model's output names
    reference: dict[str, np.ndarray]  # onnxruntime's float outputs (numpy's float run without onnxruntime)
    reference_source: str  # "onnxruntime" or "numpy"
    layers: tuple[LayerError, ...]
    output_max_abs_error: float
    float_executor_error: float  # numpy float run vs the reference (0 when the reference is numpy's)
    accuracy: float | None  # top-1 on the hardware, when labels are given
    float_accuracy: float | None  # top-1 of the float reference
    run: RunResult | None
    wall_s: float
    quantization: QuantConfig = field(default_factory=QuantConfig)
    exact_outputs: dict[str, np.ndarray] | None = None  # the integer reference's outputs (`exact_reference`)

    def summary(self) -> dict[str, Any]:
        return {"model": self.model, "samples": self.samples, "reference": self.reference_source,
                "accuracy": self.accuracy, "float_accuracy": self.float_accuracy,
                "output_max_abs_error": self.output_max_abs_error,
                "float_executor_error": self.float_executor_error,
                "quantization": {k: getattr(self.quantization, k) for k in self.quantization.__dataclass_fields__},
                "layers": [layer.to_dict() for layer in self.layers], "wall_s": self.wall_s}


def _float_compute(_index: int, layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> np.ndarray:
    return float_ofmap(layer, ifmap, filters)


@dataclass(frozen=True)
class _Quantized:
    """Compute on quantized operands: on the hardware, or exactly in numpy (`exact`)."""

    hw: Hardware
    config: QuantConfig
    ifmap_params: tuple[QuantParams, ...]
    seed: int
    dataflow: Any
    exact: bool = False

    def __call__(self, index: int, layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> np.ndarray:
        bits = operand_bits(layer, self.hw)
        q_filters = quantize(filters, self.config.weight_spec(bits.filter_bits, axis=0))
        q_ifmap = quantize(ifmap, self.config.input_spec(bits.ifmap_bits, bits.signed_ifmap),
                           self.ifmap_params[index])
        if self.exact:
            return _exact_dequantized(layer, q_ifmap, q_filters)
        return quantized_layer(layer, self.hw, q_ifmap, q_filters, dataflow=self.dataflow,
                               seed=self.seed + 1000 * index)


def _exact_dequantized(layer: Layer, q_ifmap: Any, q_filters: Any) -> np.ndarray:
    """The integer reference: exact integer products, the same dequantization as `quantized_layer`."""
    from sim.functional.layer import zero_point_correction
    from sim.mapping.operands import reference_ofmap

    raw = reference_ofmap(layer, q_ifmap.values, q_filters.values)
    corrected = raw - zero_point_correction(layer, q_filters.values, int(q_ifmap.params.zero_point.reshape(-1)[0]))
    return corrected * (float(q_ifmap.params.scale.reshape(-1)[0]) * q_filters.params.scale.reshape(-1))


MAX_DATASET_BYTES = 512 * 2**20  # an .npy / .npz file, and the arrays it unpacks to


def load_arrays(path: str | Path, what: str) -> np.ndarray | dict[str, np.ndarray]:
    """An .npy array or the arrays of an .npz, read bounded: a regular file, and at most MAX_DATASET_BYTES both on
    disk and unpacked (an .npz is a zip: its members' sizes are checked before any is inflated)."""
    import io
    import zipfile

    from sim.inputs import read_bytes

    data = read_bytes(path, ConfigError, limit=MAX_DATASET_BYTES, what=what)
    try:
        if data.startswith(b"PK"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > MAX_DATASET_BYTES:
                raise ConfigError(f"{what} unpacks to {unpacked:,} bytes", file=path,
                                  allowed=f"at most {MAX_DATASET_BYTES // 2**20} MiB")
            with np.load(io.BytesIO(data), allow_pickle=False) as loaded:
                return {name: loaded[name] for name in loaded.files}
        return np.load(io.BytesIO(data), allow_pickle=False)
    except ConfigError:
        raise
    except MemoryError:
        raise ConfigError(f"{what} does not fit in memory", file=path) from None
    except Exception as error:  # noqa: BLE001 (numpy and zipfile raise ValueError, BadZipFile, OSError, EOFError ...)
        raise ConfigError(f"not a readable .npy / .npz file ({type(error).__name__}: {str(error)[:120]})",
                          file=path) from None


def load_inputs(data: str | Path | np.ndarray | dict[str, np.ndarray], graph: Graph) -> dict[str, np.ndarray]:
    """The model's input tensors from arrays or a .npy / .npz file, checked against the model's input shapes."""
    source = str(data) if isinstance(data, (str, Path)) else None
    if source is not None:
        path = Path(data)
        if not path.exists():
            raise ConfigError("dataset file not found", file=path)
        data = load_arrays(path, "dataset file")
    names = list(graph.inputs)
    if isinstance(data, dict):
        arrays = {k: v for k, v in data.items() if k in names}
        if not arrays and len(names) == 1:
            candidates = [k for k in data if k != "labels"]
            if len(candidates) == 1:
                arrays = {names[0]: data[candidates[0]]}
        missing = [name for name in names if name not in arrays]
        if missing:
            raise ConfigError("dataset lacks model inputs", file=source, field=", ".join(missing),
                              value=sorted(data), allowed=f"arrays named {', '.join(names)}")
    else:
        if len(names) != 1:
            raise ConfigError("the model has several inputs: give an .npz with one array per input", file=source,
                              allowed=", ".join(names))
        arrays = {names[0]: data}
    feeds = {}
    for name, array in arrays.items():
        array = np.asarray(array)
        expected = graph.inputs[name]
        fits = array.ndim == len(expected) and all(
            not isinstance(dim, int) or dim == 0 or dim == size or axis == 0
            for axis, (dim, size) in enumerate(zip(expected, array.shape)))
        if not fits or array.dtype.kind not in "iuf" or array.size == 0:
            shown = tuple(d if isinstance(d, int) and d else "N" for d in expected)
            raise ConfigError("dataset does not match the model input", file=source, field=name,
                              value=f"{array.dtype} {array.shape}", allowed=f"numbers of shape {shown}")
        feeds[name] = array.astype(np.float64)
    samples = {array.shape[0] for array in feeds.values()}
    if len(samples) != 1:
        raise ConfigError("model inputs disagree on the number of samples", file=source, value=sorted(samples))
    return feeds


def load_labels(labels: str | Path | np.ndarray, samples: int) -> np.ndarray:
    source = str(labels) if isinstance(labels, (str, Path)) else None
    if source is not None:
        loaded = load_arrays(labels, "labels file")
        if isinstance(loaded, dict):
            key = "labels" if "labels" in loaded else (next(iter(loaded)) if len(loaded) == 1 else None)
            if key is None:
                raise ConfigError("labels .npz needs an array named 'labels'", file=source, value=list(loaded))
            loaded = loaded[key]
        labels = loaded
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != samples or array.dtype.kind not in "iu":
        raise ConfigError("labels must be one integer class per sample", file=source, field="labels",
                          value=f"{array.dtype} {array.shape}", allowed=f"integers of shape ({samples},)")
    return array


def _onnxruntime_outputs(graph: Graph, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray] | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # deterministic and polite on a shared machine
    try:
        session = onnxruntime.InferenceSession(graph.source_file, options, providers=["CPUExecutionProvider"])
        result = session.run(None, {name: array.astype(np.float32) for name, array in feeds.items()})
    except Exception as error:  # noqa: BLE001 (onnxruntime raises its own Fail / InvalidGraph / RuntimeException)
        raise TraceError(f"onnxruntime cannot run the model ({type(error).__name__}: {str(error)[:120]})",
                         file=graph.source_file, allowed="a model onnxruntime can load and run") from None
    return {name: np.asarray(value, dtype=np.float64) for name, value in zip(graph.outputs, result)}


def _top1(outputs: dict[str, np.ndarray], graph: Graph, labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    scores = outputs[graph.outputs[0]].reshape(labels.shape[0], -1)
    return float(np.mean(np.argmax(scores, axis=1) == labels))


def _max_error(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max((float(np.max(np.abs(a[k] - b[k]), initial=0.0)) for k in a), default=0.0)


def _relative_rms(values: np.ndarray, reference: np.ndarray) -> float:
    rms = float(np.sqrt(np.mean((values - reference) ** 2))) if reference.size else 0.0
    scale = float(np.sqrt(np.mean(reference ** 2))) if reference.size else 0.0
    return rms / scale if scale else rms


def infer(model: str | Path, data: Any, hw: Hardware, *, labels: Any = None,
          quantization: QuantConfig | None = None, seed: int = 0, dataflow: Any = None, timing: bool = True,
          exact_reference: bool = False) -> Inference:
    """Run `model` on `data` with every Conv / Gemm / MatMul on `hw`; `exact_reference` also computes the
    quantized graph with exact integer products (`Inference.exact_outputs`)."""
    start = time.perf_counter()
    config = quantization or QuantConfig()
    graph = load_graph(model)
    feeds = load_inputs(data, graph)
    samples = next(iter(feeds.values())).shape[0]
    truth = load_labels(labels, samples) if labels is not None else None

    float_inputs: dict[int, np.ndarray] = {}
    float_outputs: dict[int, np.ndarray] = {}
    executed: dict[int, Layer] = {}

    def keep_float(index: int, layer: Layer, ifmap: np.ndarray, ofmap: np.ndarray) -> None:
        executed[index], float_inputs[index], float_outputs[index] = layer, ifmap, ofmap

    float_run = run_graph(graph, feeds, _float_compute, keep_float)
    params = []
    for index, layer in enumerate(graph.layers):
        bits = operand_bits(layer, hw)
        params.append(calibrate(config.input_spec(bits.ifmap_bits, bits.signed_ifmap), float_inputs[index]))
    hardware_outputs: dict[int, np.ndarray] = {}

    def keep_hardware(index: int, _layer: Layer, _ifmap: np.ndarray, ofmap: np.ndarray) -> None:
        hardware_outputs[index] = ofmap

    compute = _Quantized(hw, config, tuple(params), seed, dataflow)
    outputs = run_graph(graph, feeds, compute, keep_hardware)
    exact = run_graph(graph, feeds, replace(compute, exact=True)) if exact_reference else None
    runtime = _onnxruntime_outputs(graph, feeds)
    reference = runtime if runtime is not None else float_run
    layers = tuple(LayerError(layer.name, float(np.max(np.abs(hardware_outputs[i] - float_outputs[i]), initial=0.0)),
                              _relative_rms(hardware_outputs[i], float_outputs[i]))
                   for i, layer in enumerate(graph.layers))
    run = None
    if timing:
        from sim import api
        from sim.workload.trace import Trace

        # at the dataset's batch and the hardware's operand bits
        layers_run = tuple(hardware_layer(executed[i], hw) for i in range(len(graph.layers)))
        run = api.simulate(Trace(name=graph.name, layers=layers_run, source_file=graph.source_file), hw,
                           seed=seed, mapping=dataflow)
    result = Inference(
        model=graph.name, hardware=hw.name, samples=samples, outputs=outputs, reference=reference,
        reference_source="onnxruntime" if runtime is not None else "numpy", layers=layers,
        output_max_abs_error=_max_error(outputs, reference),
        float_executor_error=_max_error(float_run, reference) if runtime is not None else 0.0,
        accuracy=_top1(outputs, graph, truth), float_accuracy=_top1(reference, graph, truth), run=run,
        wall_s=time.perf_counter() - start, quantization=config, exact_outputs=exact)
    return result


def write_inference(result: Inference, out_dir: str | Path) -> None:
    """DIR/outputs.npz (the hardware's final outputs by output name), then report.json (the engine's report
    with the inference summary in its metadata), which marks the set complete."""
    from sim.report import write_report
    from sim.report.files import atomic_file, make_out_dir

    out = make_out_dir(out_dir)
    with atomic_file(out / "outputs.npz", "wb") as handle:
        np.savez(handle, **result.outputs)
    run = result.run or RunResult(hardware=result.hardware, trace=result.model, model="functional", layers=())
    run = replace(run, metadata=run.metadata + (("inference", result.summary()),))
    write_report(run, out)
