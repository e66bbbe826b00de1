"""RED (pixel-wise deconvolution) vs the zero-inserted convolution on ISAAC, for two transposed-conv networks.

For traces/dcgan_generator.csv and traces/fcn8s_decoder.csv on hw_configs/isaac.toml, with
`reram.deconv` = "zero_insertion" (today's lowering) and "pixel_wise" (RED: Chen, Song, Li, Chen, "RED: A
ReRAM-based Deconvolution Accelerator", DATE 2019): crossbars, crossbar reads, DAC and ADC conversions,
cycles (engine, inter-layer pipeline, one image) and energy, totals over the tconv layers and for the whole
trace. Also a functional check on DCGAN's tconv4 (both paths through the bit-sliced crossbars, outputs
compared with the exact transposed conv) with the wall time of each. Prints tables and writes
benchmarks/results/bench_reram_red.json.

    python benchmarks/bench_reram_red.py
"""
from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from sim.engine.crossbar import simulate_crossbar_trace
from sim.hardware.load import load_hardware
from sim.kernels.deconv import tconv_pixel_wise, tconv_reference, tconv_zero_insertion
from sim.mapping.crossbar import BitSlicing
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
TRACES = ("dcgan_generator", "fcn8s_decoder")
MODES = ("zero_insertion", "pixel_wise")


def with_deconv(hw, mode: str):
    return hw.model_copy(update={"reram": hw.reram.model_copy(update={"deconv": mode})})


def totals(run, kinds: tuple[str, ...]) -> dict[str, float]:
    layers = [layer for layer in run.layers if layer.kind in kinds]
    return {"crossbars": sum(layer.crossbar.crossbars for layer in layers),
            "reads": sum(layer.crossbar.crossbar_reads for layer in layers),
            "dac_conversions": sum(layer.crossbar.dac_conversions for layer in layers),
            "adc_conversions": sum(layer.crossbar.adc_conversions for layer in layers),
            "cycles": sum(layer.cycles for layer in layers),
            "energy_pj": sum(layer.energy.total_pj for layer in layers)}


def main() -> None:
    hw = load_hardware(ROOT / "hw_configs" / "isaac.toml")
    results: dict = {"traces": {}}
    keys = ("crossbars", "reads", "dac_conversions", "adc_conversions", "cycles", "energy_pj")
    print(f"{'trace':<16} {'scope':<6} {'mode':<15} " + " ".join(f"{k:>16}" for k in keys) + f" {'pipeline':>10}")
    for name in TRACES:
        trace = load_trace(ROOT / "traces" / f"{name}.csv")
        entry = {}
        for mode in MODES:
            start = time.perf_counter()
            run = simulate_crossbar_trace(trace, with_deconv(hw, mode))
            wall = time.perf_counter() - start
            pipeline = dict(run.metadata)["pipeline_cycles"]
            entry[mode] = {"tconv": totals(run, ("tconv",)), "all": totals(run, ("conv", "tconv", "gemm")),
                           "pipeline_cycles": pipeline, "wall_s": wall}
            for scope in ("tconv", "all"):
                row = entry[mode][scope]
                print(f"{name:<16} {scope:<6} {mode:<15} " + " ".join(f"{row[k]:>16.4g}" for k in keys)
                      + f" {pipeline:>10}")
        for scope in ("tconv", "all"):
            ratios = {k: entry["zero_insertion"][scope][k] / entry["pixel_wise"][scope][k] for k in keys}
            entry[f"reduction_{scope}"] = ratios
            print(f"{name:<16} {scope:<6} {'zero/pixel x':<15} " + " ".join(f"{ratios[k]:>16.2f}" for k in keys))
        entry["pipeline_speedup"] = entry["zero_insertion"]["pipeline_cycles"] / entry["pixel_wise"]["pipeline_cycles"]
        results["traces"][name] = entry

    layer = next(l for l in load_trace(ROOT / "traces" / "dcgan_generator.csv").layers if l.name == "tconv4")
    layer = layer.__class__(**{**layer.__dict__, "ifmap_bits": 16, "filter_bits": 16})
    rng = np.random.default_rng(0)
    ifmap = rng.integers(-2**15, 2**15, size=(1, layer.ifmap_h, layer.ifmap_w, layer.in_channels))
    weights = rng.integers(-2**15, 2**15, size=(layer.filter_h, layer.filter_w, layer.in_channels, layer.out_channels))
    slicing = BitSlicing.of(hw.reram)
    exact = tconv_reference(ifmap, weights, layer)
    functional = {}
    for mode, run in (("zero_insertion", tconv_zero_insertion), ("pixel_wise", tconv_pixel_wise)):
        start = time.perf_counter()
        out, _ = run(ifmap, weights, layer, slicing)
        functional[mode] = {"wall_s": time.perf_counter() - start, "identical_to_exact": bool(np.array_equal(out, exact))}
    print(f"functional DCGAN tconv4 (16-bit, ISAAC 8-bit ADC with flip): {functional}")
    results["functional_tconv4"] = functional
    out_path = ROOT / "benchmarks" / "results" / "bench_reram_red.json"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({"machine": platform.platform(), **results}, indent=1))
    print(f"wrote {out_path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
