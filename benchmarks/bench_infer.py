"""End-to-end inference on the simulated hardware vs onnxruntime's float run of the same model (same process).

1. The shipped digits CNN (examples/digits_cnn.onnx, 360 test images) on ISAAC and on the 32x32 systolic array:
   wall time of `sim.infer` (functional values only, and with the engine's timing and energy) against
   onnxruntime's float run, and the top-1 accuracy on the hardware vs in float.
2. A ResNet-18-sized ONNX model (random weights: no pretrained ONNX classifier is installed) at batch 1 on ISAAC:
   the same times, and the hardware's output error against onnxruntime.
3. Accuracy vs ADC bits for the example on ISAAC (noiseless; the column-flipped 8-bit ADC is lossless).
Prints tables and writes benchmarks/results/bench_infer.json.

    python benchmarks/bench_infer.py [--repeat N] [--skip-resnet]
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import numpy as np
from timing import best_of

import sim
from sim.functional.infer import infer

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "examples" / "digits_cnn.onnx"
DATA = ROOT / "examples" / "digits_test.npz"


def resnet18(path: Path, seed: int = 0) -> None:
    """ResNet-18 (He et al. 2016, Table 1: 7x7/2 conv, 3x3/2 max pool, 4 stages of 2 basic blocks, 1000-way FC)
    with BatchNormalization nodes and He-initialized random weights, input 1 x 3 x 224 x 224."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    nodes, weights = [], {}

    def conv_bn(x: str, name: str, cin: int, cout: int, k: int, stride: int, relu: bool) -> str:
        weights[f"{name}_w"] = rng.normal(0, np.sqrt(2 / (cin * k * k)), (cout, cin, k, k))
        for part, value in (("scale", np.ones(cout)), ("bias", np.zeros(cout)), ("mean", rng.normal(0, 0.1, cout)),
                            ("var", rng.uniform(0.5, 1.5, cout))):
            weights[f"{name}_{part}"] = value
        nodes.append(helper.make_node("Conv", [x, f"{name}_w"], [f"{name}_c"], name=name, kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4))
        nodes.append(helper.make_node("BatchNormalization", [f"{name}_c"] + [f"{name}_{p}" for p in
                                      ("scale", "bias", "mean", "var")], [f"{name}_bn"]))
        if not relu:
            return f"{name}_bn"
        nodes.append(helper.make_node("Relu", [f"{name}_bn"], [f"{name}_r"]))
        return f"{name}_r"

    x = conv_bn("image", "conv1", 3, 64, 7, 2, True)
    nodes.append(helper.make_node("MaxPool", [x], ["pool1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, channels = "pool1", 64
    for stage, width in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            name = f"layer{stage}_{block}"
            y = conv_bn(x, f"{name}_conv1", channels, width, 3, stride, True)
            y = conv_bn(y, f"{name}_conv2", width, width, 3, 1, False)
            shortcut = conv_bn(x, f"{name}_down", channels, width, 1, stride, False) if stride > 1 or \
                channels != width else x
            nodes.append(helper.make_node("Add", [y, shortcut], [f"{name}_sum"]))
            nodes.append(helper.make_node("Relu", [f"{name}_sum"], [f"{name}_out"]))
            x, channels = f"{name}_out", width
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"]))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"]))
    weights["fc_w"] = rng.normal(0, np.sqrt(1 / 512), (1000, 512))
    weights["fc_b"] = np.zeros(1000)
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1))
    graph = helper.make_graph(nodes, "resnet18", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                                [1, 3, 224, 224])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])],
                              [numpy_helper.from_array(v.astype(np.float32), name=k) for k, v in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


def onnxruntime_time(model: Path, feeds: dict[str, np.ndarray], repeat: int) -> float:
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    inputs = {k: v.astype(np.float32) for k, v in feeds.items()}
    session.run(None, inputs)
    return best_of(lambda: session.run(None, inputs), repeat)[0]


def end_to_end(name: str, model: Path, feeds: dict[str, np.ndarray], labels, hw, repeat: int) -> dict:
    infer(model, feeds, hw, labels=labels, timing=False)  # numba compilation and caches
    values_s, result = best_of(lambda: infer(model, feeds, hw, labels=labels, timing=False), repeat)
    timed_s, timed = best_of(lambda: infer(model, feeds, hw, labels=labels), 1)
    reference_s = onnxruntime_time(model, feeds, max(repeat, 3))
    totals = timed.run.totals()
    return {"case": name, "hardware": hw.name, "samples": result.samples, "sim_values_s": values_s,
            "sim_with_timing_s": timed_s, "onnxruntime_s": reference_s, "slowdown": values_s / reference_s,
            "accuracy": result.accuracy, "float_accuracy": result.float_accuracy,
            "output_max_abs_error": result.output_max_abs_error,
            "worst_layer_relative_rms_error": max(layer.relative_rms_error for layer in result.layers),
            "cycles": totals["cycles"], "energy_pj": totals["energy_pj"]["total"]}


def adc_curve(isaac) -> list[dict]:
    rows = []
    for bits in range(3, 9):
        hw = isaac.model_copy(update={"reram": isaac.reram.model_copy(update={
            "adc": isaac.reram.adc.model_copy(update={"bits": bits})})})
        result = infer(MODEL, DATA, hw, labels=DATA, timing=False)
        rows.append({"adc_bits": bits, "accuracy": result.accuracy, "float_accuracy": result.float_accuracy,
                     "relative_rms_error": [layer.relative_rms_error for layer in result.layers]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--skip-resnet", action="store_true")
    args = parser.parse_args()
    isaac = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")
    systolic = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
    data = np.load(DATA)
    feeds = {"image": data["image"]}
    rows = [end_to_end("digits CNN", MODEL, feeds, data["labels"], hw, args.repeat) for hw in (isaac, systolic)]
    if not args.skip_resnet:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "resnet18.onnx"
            resnet18(path)
            image = np.random.default_rng(1).normal(size=(1, 3, 224, 224))
            rows.append(end_to_end("ResNet-18 (random weights)", path, {"image": image}, None, isaac, 1))
    print(f"{'case':28} {'hardware':18} {'n':>4} {'sim s':>8} {'+timing s':>10} {'ort s':>8} {'x':>7} "
          f"{'acc hw':>7} {'acc fl':>7} {'max err':>9} {'worst rRMS':>10}")
    for r in rows:
        acc = f"{r['accuracy']:.4f}" if r["accuracy"] is not None else "-"
        ref = f"{r['float_accuracy']:.4f}" if r["float_accuracy"] is not None else "-"
        print(f"{r['case']:28} {r['hardware']:18} {r['samples']:>4} {r['sim_values_s']:8.3f} "
              f"{r['sim_with_timing_s']:10.3f} {r['onnxruntime_s']:8.4f} {r['slowdown']:7.0f} {acc:>7} {ref:>7} "
              f"{r['output_max_abs_error']:9.3g} {r['worst_layer_relative_rms_error']:10.2e}")
    curve = adc_curve(isaac)
    print("\naccuracy vs ADC bits, digits CNN on ISAAC (noiseless; float accuracy "
          f"{curve[0]['float_accuracy']:.4f})")
    for point in curve:
        errors = ", ".join(f"{e:.3g}" for e in point["relative_rms_error"])
        print(f"  {point['adc_bits']} bits: accuracy {point['accuracy']:.4f}   layer relative RMS errors {errors}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_infer.json").write_text(json.dumps(
        {"machine": platform.platform(), "python": platform.python_version(), "end_to_end": rows,
         "adc_curve": curve}, indent=1) + "\n")


if __name__ == "__main__":
    main()
