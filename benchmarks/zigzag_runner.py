"""Runs ZigZag on one accelerator and prints its per-layer results as JSON (run by ZigZag's own interpreter).

This script imports only ZigZag and the standard library: bench_zigzag.py starts it with the Python of a
separate virtual environment that has `zigzag-dse` installed (never the project's), so the project does not
depend on ZigZag. Usage: python zigzag_runner.py ACCELERATOR (tpu_like | eyeriss_like) > out.json
"""
from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
import time
from importlib import metadata

import zigzag
from zigzag.api import get_hardware_performance_zigzag

# ZigZag's shipped mapping file per accelerator (eyeriss_like ships none: ZigZag's examples use default.yaml).
MAPPING_FILES = {"tpu_like": "tpu_like.yaml", "eyeriss_like": "default.yaml"}


def _operand_levels(cme) -> dict:
    """Per layer operand: the memory names from the PEs outward and the energy (pJ) spent at each."""
    out = {}
    for operand, energies in cme.mem_energy_breakdown.items():
        memory_operand = cme.layer.memory_operand_links[operand]
        levels = cme.accelerator.memory_hierarchy.get_memory_levels(memory_operand)
        out[str(operand)] = {"levels": [level.name for level in levels], "energy_pj": [float(e) for e in energies]}
    return out


def main(accelerator: str) -> None:
    root = os.path.dirname(zigzag.__file__)
    workload = os.path.join(root, "inputs", "workload", "resnet18.onnx")
    hardware = os.path.join(root, "inputs", "hardware", f"{accelerator}.yaml")
    mapping = os.path.join(root, "inputs", "mapping", MAPPING_FILES[accelerator])
    logging.disable(logging.CRITICAL)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as dump:
        _energy, _latency, cmes = get_hardware_performance_zigzag(
            workload, hardware, mapping, opt="latency", dump_folder=dump, loma_show_progress_bar=False)
    seconds = time.perf_counter() - start
    layers = []
    for cme, _extra in cmes[0][1]:
        layers.append({
            "name": cme.layer.name,
            "zigzag_cycles": float(cme.latency_total2),
            "zigzag_energy_pj": float(cme.energy_total),
            "zigzag_mac_energy_pj": float(cme.mac_energy),
            "zigzag_ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
            "zigzag_onloading_cycles": float(cme.data_onloading_cycle),
            "zigzag_offloading_cycles": float(cme.data_offloading_cycle),
            "zigzag_stall_cycles": float(cme.stall_slack_comb),
            "zigzag_spatial_mapping": str(cme.spatial_mapping),
            "zigzag_temporal_mapping": str(cme.temporal_mapping),
            "zigzag_loops": {str(op): [[[str(dim), float(size)] for dim, size in level] for level in levels]
                             for op, levels in cme.temporal_mapping.mapping_dic_stationary.items()},
            "zigzag_operands": _operand_levels(cme),
        })
    json.dump({"zigzag_version": metadata.version("zigzag-dse"), "zigzag_seconds": seconds, "layers": layers},
              sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
