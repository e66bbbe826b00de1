"""Benchmark of the systolic fast model: ResNet-18/50 on 32x32 and 128x128, os/ws/is, timing-only and functional.

Prints a table and writes benchmarks/results/bench_systolic.json. Baselines are measured in the same run:
- functional mode (from the int8 tensors: im2col, exact GEMM, overflow check, reshape) against numpy's
  float64 matmul (BLAS) of the same layers' GEMMs (operands prebuilt; random operand generation excluded);
- timing against SCALE-Sim 3.0.0 on one small ResNet-18 layer per dataflow, when $SCALESIM_PYTHON (default
  scalesim-venv/bin/python) exists
  (SCALE-Sim's own run time via its Python API, import excluded; its Total Cycles must equal ours).

    python benchmarks/bench_systolic.py [--nets resnet18 resnet50] [--arrays 32 128] [--no-scalesim]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid, layer_compute_cycles
from sim.hardware.spec import Hardware
from sim.kernels.systolic_fast import run_layer_functional, run_layer_timing
from sim.mapping.operands import filter_matrix, ifmap_matrix, random_operands, reference_ofmap
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer
from sim.workload.load import load_trace

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
# A SCALE-Sim 3.0.0 virtual environment's Python (docs/scalesim_compat.md), named by the environment variable.
SCALESIM_PYTHON = Path(os.environ.get("SCALESIM_PYTHON", "scalesim-venv/bin/python"))
SCALESIM_LAYER = ("resnet18", "layer3.0.downsample")

SCALESIM_CFG = """[general]
run_name = bench
[architecture_presets]
ArrayHeight : {rows}
ArrayWidth : {cols}
IfmapSramSzkB : 64
FilterSramSzkB : 64
OfmapSramSzkB : 64
IfmapOffset : 0
FilterOffset : 10000000
OfmapOffset : 20000000
Bandwidth : 10
Dataflow : {dataflow}
ReadRequestBuffer : 32
WriteRequestBuffer : 32
MemoryBanks : 1
[layout]
IfmapCustomLayout : False
IfmapSRAMBankBandwidth : 10
IfmapSRAMBankNum : 1
IfmapSRAMBankPort : 2
FilterCustomLayout : False
FilterSRAMBankBandwidth : 10
FilterSRAMBankNum : 1
FilterSRAMBankPort : 2
[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40
[run_presets]
InterfaceBandwidth : CALC
UseRamulatorTrace : False
"""

# Runs inside SCALE-Sim's virtual environment; prints the run's wall time and Total Cycles as JSON.
SCALESIM_DRIVER = """
import json, sys, time
from scalesim.scale_sim import scalesim
cfg, topology, layout, out = sys.argv[1:5]
sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topology, layout=layout)
start = time.perf_counter()
sim.run_scale(top_path=out)
wall = time.perf_counter() - start
lines = [l for l in open(out + '/bench/COMPUTE_REPORT.csv').read().splitlines() if l.strip()]
print(json.dumps({"wall_s": wall, "total_cycles": int(lines[1].split(',')[2])}))
"""


def _layers(net: str) -> list[Layer]:
    return list(load_trace(ROOT / "traces" / f"{net}.csv").layers)


def bench_timing(layers: list[Layer], rows: int, cols: int, dataflow: str) -> dict:
    tracemalloc.start()
    start = time.perf_counter()
    cycles = 0
    slowest = 0.0
    for layer in layers:
        layer_start = time.perf_counter()
        fold_cycles = run_layer_timing(array_mapping(layer, dataflow, rows, cols))[0]
        cycles += int(fold_cycles.sum())
        slowest = max(slowest, time.perf_counter() - layer_start)
    wall = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"wall_s": wall, "cycles": cycles, "cycles_per_s": cycles / wall, "slowest_layer_s": slowest,
            "peak_mib": peak / 2**20}


def bench_functional(layers: list[Layer], rows: int, cols: int, dataflow: str, operands: list) -> dict:
    tracemalloc.start()
    ours = blas = 0.0
    cycles = 0
    slowest = 0.0
    overflow = False
    for layer, (ifmap, filters, a64, b64) in zip(layers, operands):
        mapping = array_mapping(layer, dataflow, rows, cols)
        start = time.perf_counter()
        fold_cycles = run_layer_timing(mapping)[0]
        _, layer_overflow = run_layer_functional(layer, mapping, ifmap, filters, 32)
        elapsed = time.perf_counter() - start
        ours += elapsed
        slowest = max(slowest, elapsed)
        cycles += int(fold_cycles.sum())
        overflow |= layer_overflow
        start = time.perf_counter()
        np.matmul(a64, b64)
        blas += time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"wall_s": ours, "blas_f64_s": blas, "ratio_vs_blas": ours / blas, "cycles": cycles,
            "cycles_per_s": cycles / ours, "slowest_layer_s": slowest, "peak_mib": peak / 2**20,
            "overflow": overflow}


def bench_grid(points: int = 200_000) -> dict:
    """estimate_systolic_grid throughput on one GEMM layer vs a loop of scalar estimate_systolic calls."""
    layer = Layer.gemm_layer("grid", m=3136, n=256, k=576)
    rng = np.random.default_rng(0)
    rows, cols = rng.integers(4, 257, points), rng.integers(4, 257, points)
    dataflow = rng.integers(0, 3, points)
    kb = rng.choice([16.0, 64.0, 256.0, 1024.0], points)
    bandwidth = rng.choice([4.0, 16.0, 64.0], points)
    start = time.perf_counter()
    estimate_systolic_grid(layer, rows, cols, dataflow, ifmap_kb=kb, filter_kb=kb, ofmap_kb=kb,
                           bandwidth_bytes_per_cycle=bandwidth)
    grid_rate = points / (time.perf_counter() - start)
    scalar_points = 200
    start = time.perf_counter()
    for i in range(scalar_points):
        sram = {"size_kb": float(kb[i])}
        hw = Hardware(name="p", pe_array={"rows": int(rows[i]), "cols": int(cols[i]),
                                          "dataflow": ("os", "ws", "is")[int(dataflow[i])]},
                      buffers={"ifmap": sram, "filter": sram, "ofmap": sram},
                      dram={"bandwidth_bytes_per_cycle": float(bandwidth[i])})
        estimate_systolic(layer, hw)
    scalar_rate = scalar_points / (time.perf_counter() - start)
    return {"points": points, "grid_points_per_s": grid_rate, "scalar_points_per_s": scalar_rate,
            "ratio": grid_rate / scalar_rate}


def _scalesim_topology_row(layer: Layer) -> str:
    """SCALE-Sim takes padded inputs and sizes its ofmap ceil((H-R+S)/S): drop unused trailing rows/cols."""
    height, width = layer.padded_ifmap
    height -= (height - layer.filter_h) % layer.stride_h
    width -= (width - layer.filter_w) % layer.stride_w
    return (f"{layer.name}, {height}, {width}, {layer.filter_h}, {layer.filter_w}, {layer.in_channels}, "
            f"{layer.out_channels}, {layer.stride_h},\n")


def bench_scalesim(layer: Layer, rows: int, cols: int, dataflow: str) -> dict:
    mapping = array_mapping(layer, dataflow, rows, cols)
    repeats = 1000
    start = time.perf_counter()
    for _ in range(repeats):
        ours_cycles = layer_compute_cycles(array_mapping(layer, dataflow, rows, cols), "scalesim")
        run_layer_timing(mapping)
    ours = (time.perf_counter() - start) / repeats
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (tmp_path / "bench.cfg").write_text(SCALESIM_CFG.format(rows=rows, cols=cols, dataflow=dataflow))
        (tmp_path / "topology.csv").write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                                               "Channels, Num Filter, Strides,\n" + _scalesim_topology_row(layer))
        (tmp_path / "layout.csv").write_text("Layer name,\n")
        (tmp_path / "driver.py").write_text(SCALESIM_DRIVER)
        done = subprocess.run([str(SCALESIM_PYTHON), str(tmp_path / "driver.py"), str(tmp_path / "bench.cfg"),
                               str(tmp_path / "topology.csv"), str(tmp_path / "layout.csv"), str(tmp_path / "out")],
                              capture_output=True, text=True, cwd=tmp, check=True)
    theirs = json.loads(done.stdout.strip().splitlines()[-1])
    return {"layer": layer.name, "dataflow": dataflow, "array": f"{rows}x{cols}", "ours_s": ours,
            "scalesim_s": theirs["wall_s"], "speedup": theirs["wall_s"] / ours, "ours_cycles": ours_cycles,
            "scalesim_cycles": theirs["total_cycles"], "identical": ours_cycles == theirs["total_cycles"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=["resnet18", "resnet50"])
    parser.add_argument("--arrays", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--no-scalesim", action="store_true")
    args = parser.parse_args()

    # Compile (or load cached) numba kernels before timing anything.
    warm = Layer.gemm_layer("warm", m=4, n=4, k=4)
    run_layer_timing(array_mapping(warm, "ws", 2, 2))

    rows_out = []
    for net in args.nets:
        layers = _layers(net)
        operands = []
        for index, layer in enumerate(layers):
            ifmap, filters = random_operands(layer, index)
            operands.append((ifmap, filters, ifmap_matrix(layer, ifmap).astype(np.float64),
                             filter_matrix(layer, filters).astype(np.float64)))
        # One exactness spot check per net (the tests cover the rest).
        first = layers[0]
        mapping = array_mapping(first, "ws", 32, 32)
        assert np.array_equal(run_layer_functional(first, mapping, operands[0][0], operands[0][1])[0],
                              reference_ofmap(first, operands[0][0], operands[0][1]))
        for size in args.arrays:
            for dataflow in ("os", "ws", "is"):
                timing = bench_timing(layers, size, size, dataflow)
                functional = bench_functional(layers, size, size, dataflow, operands)
                rows_out.append({"net": net, "array": f"{size}x{size}", "dataflow": dataflow, "layers": len(layers),
                                 "timing": timing, "functional": functional})
                print(f"{net:9s} {size:4d}x{size:<4d} {dataflow}  timing {timing['wall_s'] * 1e3:8.2f} ms "
                      f"{timing['cycles_per_s']:10.3g} cyc/s {timing['peak_mib']:6.2f} MiB | functional "
                      f"{functional['wall_s']:6.3f} s (BLAS f64 {functional['blas_f64_s']:6.3f} s, "
                      f"x{functional['ratio_vs_blas']:.2f}) slowest layer {functional['slowest_layer_s']:.3f} s "
                      f"{functional['peak_mib']:7.1f} MiB", flush=True)

    grid = bench_grid()
    print(f"estimate_systolic_grid: {grid['grid_points_per_s']:.3g} points/s vs scalar estimate_systolic "
          f"{grid['scalar_points_per_s']:.3g} points/s (x{grid['ratio']:.0f})", flush=True)

    scalesim_rows = []
    if SCALESIM_PYTHON.exists() and not args.no_scalesim:
        net, name = SCALESIM_LAYER
        layer = next(layer for layer in _layers(net) if layer.name == name)
        for dataflow in ("os", "ws", "is"):
            row = bench_scalesim(layer, 32, 32, dataflow)
            scalesim_rows.append(row)
            print(f"SCALE-Sim {row['layer']} {row['array']} {dataflow}: {row['scalesim_s']:.2f} s vs ours "
                  f"{row['ours_s'] * 1e6:.1f} us -> x{row['speedup']:.0f}; cycles {row['scalesim_cycles']} vs "
                  f"{row['ours_cycles']} ({'identical' if row['identical'] else 'DIFFERENT'})", flush=True)
    else:
        print("SCALE-Sim column skipped (no SCALE-Sim Python at $SCALESIM_PYTHON, or --no-scalesim)")

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_systolic.json"
    out.write_text(json.dumps({"python": sys.version, "numpy": np.__version__, "runs": rows_out,
                               "grid": grid, "scalesim": scalesim_rows}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
