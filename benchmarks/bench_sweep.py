"""Sweep throughput: points per second screened by the analytical model, through the engine, and the scaling
from 1 to 2 workers.

Grid: one GEMM layer (M=196, K=576, N=128, a ResNet-style 3x3 conv lowered) on hw_configs/scalesim_32x32_ws.toml,
rows x cols in 1..64 x 1..64, 3 dataflows, 8 DRAM bandwidths = 98,304 points. Rows of the table:
- closed form alone: estimate_systolic_grid over the whole grid at once (the baseline of this run: the rate the
  model itself allows, with no rows, keys or database);
- screening task: sim.sweep's vectorized task (metrics, constraints, keys, parameter JSON), in process;
- SQLite store alone: those batches written to a fresh database by binding their rows (the in-process path),
  and by copying the SQLite images pool workers build (the parent, the single writer, does this part);
- sweep end to end: `sweep()` with the SQLite store and Pareto selection, 1 and 2 pool workers;
- per-point analytical: a sweep whose parameter is outside the closed form (one estimate per point);
- engine: `sweep()` validating every point of a small grid with the engine, 1 and 2 workers.
Target: 1e5 points/s screened on 2 cores. Prints a table and writes benchmarks/results/bench_sweep.json.

    python benchmarks/bench_sweep.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import tomli_w

from sim.analytical.systolic import estimate_systolic_grid
from sim.sweep import load_sweep_spec, store, sweep
from sim.sweep.evaluate import screen_chunk
from sim.sweep.execute import default_workers
from sim.sweep.run import _contexts
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
HW = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"
LAYER = Layer.gemm_layer("gemm", m=196, n=128, k=576)


def write_spec(folder: Path, name: str, parameters: dict, engine: str = "none", chunk_points: int = 8192) -> Path:
    trace = folder / "gemm.csv"
    trace.write_text(f"name,type,m,n,k\ngemm,gemm,{LAYER.gemm.m},{LAYER.gemm.n},{LAYER.gemm.k}\n")
    path = folder / f"{name}.toml"
    path.write_text(tomli_w.dumps({"sweep": {
        "name": name, "trace": "gemm.csv", "hardware": str(HW), "objectives": ["latency", "energy"],
        "chunk_points": chunk_points, "parameters": parameters, "validate": {"engine": engine, "top_k": 0}}}))
    return path


def timed_sweep(spec: Path, out: Path, workers: int) -> tuple[float, int]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    result = sweep(spec, out, workers=workers, export=False)
    return time.perf_counter() - start, result.points


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a 4x smaller grid")
    args = parser.parse_args()
    side = 32 if args.quick else 64
    grid = {"pe_array.rows": {"start": 1, "stop": side, "step": 1}, "pe_array.cols": {"start": 1, "stop": side, "step": 1},
            "pe_array.dataflow": ["os", "ws", "is"],
            "dram.bandwidth_bytes_per_cycle": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]}
    rows_out = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        spec_path = write_spec(folder, "grid", grid)
        spec = load_sweep_spec(spec_path)
        points = spec.points_per_trace

        # Baseline: the closed form over the whole grid at once.
        rows, cols, dataflow, bandwidth = np.meshgrid(np.arange(1, side + 1), np.arange(1, side + 1),
                                                      np.arange(3), 2.0 ** np.arange(8), indexing="ij")
        estimate_systolic_grid(LAYER, rows.ravel()[:10], cols.ravel()[:10], dataflow.ravel()[:10])
        start = time.perf_counter()
        estimate_systolic_grid(LAYER, rows.ravel(), cols.ravel(), dataflow.ravel(),
                               bandwidth_bytes_per_cycle=bandwidth.ravel(), ifmap_kb=64, filter_kb=64, ofmap_kb=64)
        baseline = points / (time.perf_counter() - start)
        rows_out.append(("closed form alone (baseline)", 1, points, baseline))

        context = _contexts(spec)[0]
        screen_chunk(context, np.arange(16))
        start = time.perf_counter()
        batches = [screen_chunk(context, np.arange(begin, min(points, begin + spec.chunk_points)))
                   for begin in range(0, points, spec.chunk_points)]
        rows_out.append(("screening task (rows built), in process", 1, points,
                         points / (time.perf_counter() - start)))

        # The single writer's share: the screened batches into a fresh database, one transaction each, bound
        # row by row (the in-process path) or copied from the SQLite images pool workers build.
        images = [replace(batch, image=store.rows_image(batch)) for batch in batches]
        for stage, written_batches in (("SQLite store alone, binding rows", batches),
                                       ("SQLite store alone, copying images", images)):
            start = time.perf_counter()
            connection = store.connect(folder / stage.replace(" ", "_").replace(",", "") / store.DATABASE_NAME)
            written = sum(store.write_rows(connection, "points", batch) for batch in written_batches)
            connection.close()
            rows_out.append((stage, 1, written, written / (time.perf_counter() - start)))

        for workers in (1, 2):
            elapsed, count = timed_sweep(spec_path, folder / f"out{workers}", workers)
            rows_out.append(("sweep end to end (SQLite, Pareto)", workers, count, count / elapsed))

        per_point = write_spec(folder, "per_point", {"pe_array.rows": {"start": 1, "stop": 40, "step": 1},
                                                     "pe_array.cols": [8, 16, 32, 64, 128],
                                                     "pe_array.accumulator_bits": [16, 24, 32, 48, 64]})
        for workers in (1, 2):
            elapsed, count = timed_sweep(per_point, folder / f"pp{workers}", workers)
            rows_out.append(("per-point analytical (no closed-form grid)", workers, count, count / elapsed))

        engine = write_spec(folder, "engine", {"pe_array.rows": [8, 16, 32, 64], "pe_array.cols": [8, 16, 32, 64],
                                               "pe_array.dataflow": ["os", "ws", "is"]}, engine="all")
        for workers in (1, 2):
            elapsed, count = timed_sweep(engine, folder / f"engine{workers}", workers)
            rows_out.append(("engine-validated (screen + engine on all)", workers, count, count / elapsed))

    print(f"sweep throughput ({platform.processor() or platform.machine()}, {default_workers()} CPUs available)")
    print(f"{'stage':46s} {'workers':>7s} {'points':>8s} {'points/s':>12s} {'vs baseline':>12s}")
    for stage, workers, count, rate in rows_out:
        print(f"{stage:46s} {workers:7d} {count:8d} {rate:12.1f} {rate / baseline:12.4f}")
    scaling = {}
    for stage in {r[0] for r in rows_out}:
        rates = {w: rate for s, w, _, rate in rows_out if s == stage}
        if 1 in rates and 2 in rates:
            scaling[stage] = rates[2] / rates[1]
            print(f"scaling 1 -> 2 workers, {stage}: {scaling[stage]:.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_sweep.json").write_text(json.dumps({
        "layer": LAYER.describe(), "hardware": HW.name, "cpus": default_workers(), "target_points_per_s": 1e5,
        "rows": [{"stage": s, "workers": w, "points": n, "points_per_s": r, "vs_baseline": r / baseline}
                 for s, w, n, r in rows_out],
        "scaling_1_to_2_workers": scaling,
    }, indent=2))
    print(f"written {RESULTS / 'bench_sweep.json'}")


if __name__ == "__main__":
    main()
