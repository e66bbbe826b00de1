"""Training steps on systems of accelerators (issue 19): one chip, four chips (data parallel, pipeline), a mixed
pair; the partitioner's best against a naive even split; the time to search ResNet-50 over 8 accelerators.

Networks: traces/resnet50.csv, and BERT-base as 12 copies of traces/bert_base_seq128.csv's encoder layer; batch 8.
Chips: hw_configs/tpu_v1_256x256_ws.toml; the mixed pair is that chip beside hw_configs/isaac.toml (ReRAM, weight
writes from configs/reram_write.toml). Links: systems/tpu4_ring.toml's numbers (100 GB/s, 1 us, 10 pJ/B per hop).
Every step time comes from the system engine (operations timed by the engine); the search is analytical, and its
best is then run by the engine. Baselines (one chip, the naive even split) are measured in the same run.
Prints a table and writes benchmarks/results/bench_system.json.

    python benchmarks/bench_system.py
"""
from __future__ import annotations

import json
import platform
import time
from dataclasses import replace
from pathlib import Path

from sim.hardware.load import load_hardware
from sim.system.engine import run_system
from sim.system.partition import even_data_parallel, even_pipeline, single
from sim.system.partitioner import search_partitions
from sim.system.spec import Accelerator, System, topology_links
from sim.workload.load import load_trace
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[1]
BATCH = 8
LINK = {"bandwidth_gbytes_per_s": 100.0, "latency_ns": 1000.0, "energy_pj_per_byte": 10.0}


def bert_base() -> Trace:
    layer = load_trace(ROOT / "traces" / "bert_base_seq128.csv")
    layers = tuple(replace(op, name=f"encoder{i}.{op.name}") for i in range(12) for op in layer.layers)
    return Trace("bert_base_seq128_x12", layers)


def ring(name: str, accelerators: tuple[Accelerator, ...]) -> System:
    names = tuple(a.name for a in accelerators)
    links = topology_links(names, "ring", LINK, Path("bench")) if len(names) > 1 else ()
    return System(name, accelerators, links, "ring")


def step(trace, system, partition) -> dict:
    start = time.perf_counter()
    result = run_system(trace, system, partition, batch=BATCH)
    return {"partition": result.partition, "step_ms": result.step_ns / 1e6, "energy_mj": result.energy_pj / 1e9,
            "breakdown_ms": {k: v / 1e6 for k, v in result.breakdown().items()},
            "link_mb": sum(link.bytes for link in result.links) / 1e6, "wall_s": time.perf_counter() - start}


def main() -> None:
    tpu = load_hardware(ROOT / "hw_configs" / "tpu_v1_256x256_ws.toml")
    isaac = load_hardware(ROOT / "hw_configs" / "isaac.toml")
    one = ring("1 tpu", (Accelerator("tpu0", tpu, tpu.pe_array.clock_mhz),))
    four = ring("4 tpu ring", tuple(Accelerator(f"tpu{i}", tpu, tpu.pe_array.clock_mhz) for i in range(4)))
    pair = ring("tpu + isaac", (Accelerator("tpu", tpu, tpu.pe_array.clock_mhz),
                                Accelerator("isaac", isaac, isaac.reram.clock_mhz)))
    results: dict = {"batch": BATCH, "python": platform.python_version(), "networks": {}}
    rows = []
    for trace in (load_trace(ROOT / "traces" / "resnet50.csv"), bert_base()):
        net: dict = {}
        net["1 chip"] = step(trace, one, single(trace, "tpu0"))
        net["4 chips, data parallel"] = step(trace, four, even_data_parallel(BATCH, four.names))
        net["4 chips, pipeline even split, 8 micro-batches"] = step(trace, four, even_pipeline(trace, four.names, 8))
        search = search_partitions(trace, four, batch=BATCH, validate=False)
        best_pipeline = next(c for c in search.candidates if c.partition.kind == "pipeline")
        net["4 chips, pipeline partitioner"] = {**step(trace, four, best_pipeline.partition),
                                                "predicted_ms": best_pipeline.step_ns / 1e6}
        net["4 chips, partitioner best"] = {**step(trace, four, search.best.partition),
                                            "predicted_ms": search.best.step_ns / 1e6}
        net["tpu + isaac, pipeline even split"] = step(trace, pair, even_pipeline(trace, pair.names, 8))
        found = search_partitions(trace, pair, batch=BATCH, validate=False, kinds=("pipeline",))
        net["tpu + isaac, pipeline partitioner"] = {**step(trace, pair, found.best.partition),
                                                    "predicted_ms": found.best.step_ns / 1e6}
        results["networks"][trace.name] = net
        for label, row in net.items():
            rows.append((trace.name, label, row))
    eight = ring("8 tpu ring", tuple(Accelerator(f"tpu{i}", tpu, tpu.pe_array.clock_mhz) for i in range(8)))
    resnet = load_trace(ROOT / "traces" / "resnet50.csv")
    start = time.perf_counter()
    search = search_partitions(resnet, eight, batch=BATCH, validate=False)
    search_s = time.perf_counter() - start
    start = time.perf_counter()
    validated = run_system(resnet, eight, search.best.partition, batch=BATCH)
    engine_s = time.perf_counter() - start
    results["search_resnet50_8_chips"] = {
        "candidates": len(search.candidates), "search_s": search_s, "best": search.best.partition.describe(),
        "predicted_ms": search.best.step_ns / 1e6, "engine_ms": validated.step_ns / 1e6,
        "engine_run_of_the_best_s": engine_s}

    print(f"{'network':<22} {'system / partition':<48} {'step ms':>9} {'pred ms':>9} {'compute':>8} {'stall':>7} "
          f"{'comm':>7} {'bubble':>7} {'link MB':>8} {'energy mJ':>10}")
    for name, label, row in rows:
        b = row["breakdown_ms"]
        predicted = f"{row['predicted_ms']:9.3f}" if "predicted_ms" in row else f"{'':>9}"
        print(f"{name:<22} {label:<48} {row['step_ms']:9.3f} {predicted} {b['compute_ns']:8.3f} "
              f"{b['memory_stall_ns']:7.3f} {b['communication_ns']:7.3f} {b['bubble_ns']:7.3f} {row['link_mb']:8.2f} "
              f"{row['energy_mj']:10.3f}")
    s = results["search_resnet50_8_chips"]
    print(f"\nResNet-50 over 8 chips: {s['candidates']} candidates searched in {s['search_s']:.2f} s "
          f"(one engine run of the best: {s['engine_run_of_the_best_s']:.2f} s); best {s['best']}: predicted "
          f"{s['predicted_ms']:.3f} ms, engine {s['engine_ms']:.3f} ms")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_system.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
