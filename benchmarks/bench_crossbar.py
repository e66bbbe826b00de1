"""Functional throughput of the bit-sliced crossbar model vs one float64 matmul of the same layer (same run).

For a ResNet-18 and a VGG-16 conv layer on hw_configs/isaac.toml (16-bit operands, 8 weight slices, 16
input reads, 8-bit ADC with the column flip): the time of `crossbar_mvm` (every read's column sums
through the ADC, shift-and-add) over the time of numpy's float64 `inputs @ weights`; the target is within
64x. Also the wall time of timing-only runs (analytical and engine) per layer, and a block-circulant FC
pair (expanded vs compressed mapping). Prints a table and writes benchmarks/results/bench_crossbar.json.

    python benchmarks/bench_crossbar.py [--repeat N]
    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/bench_crossbar.py   # one thread each
"""
from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numba
import numpy as np
from timing import best_of

from sim.analytical.crossbar import estimate_crossbar
from sim.engine.crossbar import simulate_crossbar_layer
from sim.hardware.load import load_hardware
from sim.kernels.crossbar import crossbar_mvm
from sim.mapping.crossbar import map_crossbar
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (
    Layer(name="resnet18.layer2.conv", ifmap_h=28, ifmap_w=28, in_channels=128, out_channels=128, filter_h=3,
          filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ifmap_bits=16, filter_bits=16),
    Layer(name="vgg16.conv4_2", ifmap_h=28, ifmap_w=28, in_channels=512, out_channels=512, filter_h=3,
          filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ifmap_bits=16, filter_bits=16),
)
CIRCULANT = (Layer.gemm_layer("bc.fc1", m=1, n=4096, k=4096, block_size=64, ifmap_bits=16, filter_bits=16),
             Layer.gemm_layer("bc.fc2", m=1, n=1024, k=4096, block_size=16, ifmap_bits=16, filter_bits=16),
             Layer.gemm_layer("bc.fc3", m=1, n=64, k=1024, block_size=64, ifmap_bits=16, filter_bits=16))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hw = load_hardware(ROOT / "hw_configs" / "isaac.toml")
    rng = np.random.default_rng(0)
    rows = []
    for layer in LAYERS:
        mapping = map_crossbar(layer, hw)
        gemm = layer.gemm
        weights = rng.integers(-2**15, 2**15, size=(gemm.k, gemm.n))
        inputs = rng.integers(-2**15, 2**15, size=(gemm.m, gemm.k))
        w64, x64 = weights.astype(np.float64), inputs.astype(np.float64)
        slicing = mapping.slicing
        crossbar_mvm(weights[:8, :2], inputs[:300, :8], slicing)  # load the parallel kernel outside the timing
        matmul_s, _ = best_of(lambda: np.matmul(x64, w64), max(5, args.repeat))
        crossbar_s, functional = best_of(lambda: crossbar_mvm(weights, inputs, slicing), args.repeat)
        analytical_s, _ = best_of(lambda: estimate_crossbar(layer, hw, mapping), args.repeat)
        engine_s, _ = best_of(lambda: simulate_crossbar_layer(layer, hw, mapping))
        rows.append({
            "layer": layer.name, "gemm": [gemm.m, gemm.k, gemm.n], "crossbars": mapping.crossbars,
            "numba_threads": numba.get_num_threads(),
            "bit_plane_products": mapping.input_slices * mapping.weight_slices,
            "matmul_f64_s": matmul_s, "crossbar_functional_s": crossbar_s, "ratio_vs_matmul": crossbar_s / matmul_s,
            "target_ratio": 64.0, "output_error": functional.output_error,
            "analytical_s": analytical_s, "engine_timing_only_s": engine_s,
        })
    circulant = []
    for layer in CIRCULANT:
        for mode, dup, reuse in (("expanded", 1, False), ("compressed", 1, False), ("compressed", "auto", True)):
            reram = hw.reram.model_copy(update={"block_circulant": mode, "duplication": dup,
                                                "input_slice_reuse": reuse, "input_tile_sharing": reuse})
            variant = hw.model_copy(update={"reram": reram})
            result = estimate_crossbar(layer, variant)
            extra = dict(result.extra)
            circulant.append({
                "layer": layer.name, "mapping": f"{mode} u={extra['duplication']:.0f}{' +reuse' if reuse else ''}",
                "crossbars": result.crossbar.crossbars, "cell_utilization": result.crossbar.crossbar_utilization,
                "unique_weight_utilization": extra["unique_weight_utilization"],
                "crossbar_reads": result.crossbar.crossbar_reads, "edram_reads": result.actions.get("edram.read"),
                "cycles": result.cycles, "energy_nj": result.energy.total_pj / 1000})
    print(f"numba threads: {numba.get_num_threads()}")
    print(f"{'layer':24} {'GEMM m,k,n':>18} {'matmul ms':>10} {'crossbar ms':>12} {'ratio':>7} {'target':>7}"
          f" {'error':>6} {'analyt. ms':>10} {'engine ms':>10}")
    for row in rows:
        print(f"{row['layer']:24} {row['gemm']!s:>18} {row['matmul_f64_s'] * 1e3:10.2f} "
              f"{row['crossbar_functional_s'] * 1e3:12.1f} {row['ratio_vs_matmul']:7.1f} {row['target_ratio']:7.0f} "
              f"{row['output_error']:6.0f} {row['analytical_s'] * 1e3:10.3f} {row['engine_timing_only_s'] * 1e3:10.1f}")
    print()
    print(f"{'circulant layer':12} {'mapping':>24} {'crossbars':>9} {'cell util':>9} {'unique util':>11} "
          f"{'reads':>8} {'eDRAM rd':>8} {'cycles':>8} {'energy nJ':>10}")
    for row in circulant:
        print(f"{row['layer']:12} {row['mapping']:>24} {row['crossbars']:9d} {row['cell_utilization']:9.3f} "
              f"{row['unique_weight_utilization']:11.4f} {row['crossbar_reads']:8d} {row['edram_reads']:8.0f} "
              f"{row['cycles']:8d} {row['energy_nj']:10.1f}")
    out = ROOT / "benchmarks" / "results" / "bench_crossbar.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.platform(), "processor": platform.processor(),
                               "layers": rows, "circulant": circulant}, indent=2))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
