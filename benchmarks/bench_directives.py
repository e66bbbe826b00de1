"""Layers per second of the directive (MAESTRO-style) model: one layer at a time over MAESTRO's reference
networks, and over a design grid (PEs x NoC bandwidth x off-chip bandwidth) for one layer, point by point and
vectorized over the bandwidths (`runtime_grid`).

Prints a table and writes benchmarks/results/bench_directives.json. Baselines measured in the same run: parsing
the same file (one-at-a-time rows) and the point-by-point grid (vectorized row). MAESTRO's own C++ takes about
6 ms per layer (tests/data/maestro/README.md), quoted for scale, not measured here.
"""
from __future__ import annotations

import json
from pathlib import Path

from timing import best_time

from sim.analytical.directives import estimate_directive, runtime_grid
from sim.hardware.maestro_hw import load_maestro_hardware
from sim.hardware.spec import DirectiveArraySpec
from sim.workload.maestro import load_maestro_network, parse_maestro, to_layer

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data" / "maestro"
RESULTS = REPO / "benchmarks" / "results"
NETWORKS = ("Resnet50_kcp_ws", "Resnet50_xp_ws", "Resnet50_yxp_os", "googlenet_kcp_ws", "vgg16_nlr", "vgg16_rs",
            "MobileNetV2_kcp_ws", "UNet_yxp_os")
MAESTRO_MS_PER_LAYER = 6.0  # measured by the reference's author on MAESTRO 4eb08d1 (reference README)


def main() -> None:
    hw = load_maestro_hardware(DATA / "accelerator_1.m")
    rows = []
    for name in NETWORKS:
        text = (DATA / "mappings" / f"{name}.m").read_text()
        network = load_maestro_network(DATA / "mappings" / f"{name}.m")
        layers = [(to_layer(layer), layer.dataflow) for layer in network.layers]
        parse_s = best_time(lambda: parse_maestro(text), repeat=3)
        model_s = best_time(lambda: [estimate_directive(layer, hw, flow) for layer, flow in layers], repeat=3)
        rows.append({"case": f"{name} (one at a time)", "layers": len(layers), "seconds": model_s,
                     "layers_per_s": len(layers) / model_s, "ms_per_layer": 1000 * model_s / len(layers),
                     "baseline_parse_s": parse_s, "ratio_vs_parse": model_s / parse_s,
                     "ratio_vs_maestro": MAESTRO_MS_PER_LAYER / (1000 * model_s / len(layers))})
    network = load_maestro_network(DATA / "mappings" / "Resnet50_kcp_ws.m")
    layer, flow = to_layer(network.layers[5]), network.layers[5].dataflow
    pes_options, noc_options, offchip_options = (64, 128, 256, 512), (16, 64, 256, 1000), (8, 50, 200)
    grid = [hw.model_copy(update={"directive_array": DirectiveArraySpec(
        num_pes=pes, l1_size_bytes=100, l2_size_bytes=3000, noc_bandwidth_words_per_cycle=noc,
        offchip_bandwidth_words_per_cycle=offchip)})
        for pes in pes_options for noc in noc_options for offchip in offchip_options]
    point_s = best_time(lambda: [estimate_directive(layer, point, flow) for point in grid], repeat=3)
    per_pes = [hw.model_copy(update={"directive_array": DirectiveArraySpec(
        num_pes=pes, l1_size_bytes=100, l2_size_bytes=3000, noc_bandwidth_words_per_cycle=1000,
        offchip_bandwidth_words_per_cycle=50)}) for pes in pes_options]
    vector_s = best_time(lambda: [runtime_grid(layer, point, flow, noc_options, offchip_options) for point in per_pes], repeat=3)
    for case, seconds in ((f"grid of {len(grid)} designs, point by point", point_s),
                          (f"grid of {len(grid)} designs, vectorized (runtime)", vector_s)):
        rows.append({"case": case, "layers": len(grid), "seconds": seconds, "layers_per_s": len(grid) / seconds,
                     "ms_per_layer": 1000 * seconds / len(grid), "baseline_point_by_point_s": point_s,
                     "ratio_vs_point_by_point": point_s / seconds,
                     "ratio_vs_maestro": MAESTRO_MS_PER_LAYER / (1000 * seconds / len(grid))})
    print(f"{'case':48s} {'layers':>6s} {'layers/s':>9s} {'ms/layer':>9s} {'baseline':>9s} {'vs MAESTRO':>10s}")
    for row in rows:
        baseline = (f"{row['ratio_vs_parse']:7.1f}xP" if "ratio_vs_parse" in row
                    else f"{row['ratio_vs_point_by_point']:7.1f}x ")
        print(f"{row['case']:48s} {row['layers']:6d} {row['layers_per_s']:9.1f} {row['ms_per_layer']:9.2f} "
              f"{baseline:>9s} {row['ratio_vs_maestro']:9.2f}x")
    print("baseline: one-at-a-time rows = model time / parse time of the same file (xP); grid rows = speed-up over "
          "evaluating the grid point by point")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_directives.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
