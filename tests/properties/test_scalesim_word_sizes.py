"""SCALE-Sim inputs use SCALE-Sim's 1-byte word for every operand (ofmap included), checked against the
DETAILED_ACCESS_REPORT columns of real SCALE-Sim 3.0.0 runs (tests/data/scalesim/golden_reports.csv)."""
import csv
from collections import defaultdict
from pathlib import Path

import pytest

import sim

DATA = Path(__file__).resolve().parents[1] / "data" / "scalesim"
TOPOLOGIES = {"conv": "conv_small.csv", "gemm": "gemm_small.csv"}
COLUMN = "DETAILED_ACCESS_REPORT:{}"


def _golden() -> dict[tuple[str, str, str, str], list[dict[str, str]]]:
    runs: dict[tuple, list] = defaultdict(list)
    with open(DATA / "golden_reports.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            runs[(row["form"], row["dataflow"], row["rows"], row["cols"])].append(row)
    return runs


GOLDEN = _golden()


def test_every_operand_of_a_scalesim_topology_is_one_byte() -> None:
    for form, name in TOPOLOGIES.items():
        for layer in sim.load_trace(DATA / "topology" / name).layers:
            assert (layer.ifmap_bits, layer.filter_bits, layer.ofmap_bits, layer.partial_sum_bits) == (8, 8, 8, 8)


@pytest.mark.parametrize("key", sorted(GOLDEN), ids=lambda key: "_".join(key))
def test_dram_bytes_are_scalesim_words(key: tuple[str, str, str, str]) -> None:
    """DRAM bytes = SCALE-Sim's word counts: reads always (its 64 KiB SRAMs hold these layers whole), ofmap writes
    where SCALE-Sim writes each output once (one row fold); the ofmap SRAM holds OfmapSramSzkB x 1024 words."""
    form, dataflow, rows, cols = key
    hw = sim.load_hardware(DATA / "cfg" / f"{dataflow}_{rows}x{cols}.cfg")
    trace = sim.load_trace(DATA / "topology" / TOPOLOGIES[form])
    run = sim.simulate(trace, hw)
    golden = iter(GOLDEN[key])
    for layer, result in zip(trace.layers, run.layers):
        theirs = [next(golden) for _ in range(layer.groups if "DP" in layer.name else 1)]
        extra = dict(result.extra)
        assert extra["ofmap_sram.capacity_elements"] == hw.buffers.ofmap.size_kb * 1024
        reads = sum(float(row[COLUMN.format("DRAM IFMAP Reads")]) + float(row[COLUMN.format("DRAM Filter Reads")])
                    for row in theirs)
        assert extra["dram.read_bytes"] == reads
        writes = sum(float(row[COLUMN.format("DRAM OFMAP Writes")]) for row in theirs)
        if writes == layer.ofmap_elements:
            assert extra["dram.write_bytes"] == writes
        else:  # SCALE-Sim writes partial sums out per row fold; we accumulate in SRAM and write each output once
            assert extra["dram.write_bytes"] == layer.ofmap_elements < writes
