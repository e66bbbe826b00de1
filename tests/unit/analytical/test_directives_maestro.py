"""The directive model against MAESTRO's own outputs (tests/data/maestro/outputs, MAESTRO commit 4eb08d1).

Every layer of every shipped output CSV is compared on runtime, energy, L1 and L2 size and NoC bandwidth
requirement; the target is 5 %. The few layers we do not match are listed in KNOWN_DIFFERENCES with the
reason (docs/maestro.md has the numbers); they are strict xfails, so a fix shows up as XPASS.
"""
from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import pytest

from sim.analytical.directives import estimate_directive
from sim.hardware.maestro_hw import load_maestro_hardware
from sim.workload.maestro import load_maestro_network, to_layer

DATA = Path(__file__).resolve().parents[2] / "data" / "maestro"
OUTPUTS = sorted((DATA / "outputs").glob("*.csv"))
STATS = ("Runtime (Cycles)", "Activity count-based Energy (nJ)", "L1 SRAM Size Req (Bytes)",
         "L2 SRAM Size Req (Bytes)", "NoC BW Req (Elements/cycle)")
TOLERANCE = 0.05
ENERGY = "Activity count-based Energy (nJ)"

STALE_L1_REASON = ("for mappings with Cluster levels MAESTRO 4eb08d1 prices L1 with the previous layer's L1 counts "
                   "(a variable left over from the last layer; zero for the first one); we use the layer's own. "
                   "Against MAESTRO's formula with the layer's own counts we are within 5 % on 98 of 132 layers")
REFETCH_REASON = ("MAESTRO does not refetch the 7-element input row when C moves and Y starts over (it reads 6/7 of "
                  "the inputs); the input channel changed, so we fetch it: L2 reads and energy 6-7 % higher")
NLR_REASON = ("C-P: MAESTRO assumes that PEs after the first load a third less input per step (no sliding-window "
              "overlap exists between channels) and that a filter fold evicted by the next fold is still resident; "
              "we count the data each PE receives (19-27 % more energy)")
EDGE_STRIDE_REASON = ("MAESTRO's edge tile of TemporalMap(8,8) X over X=14 with stride 2 counts 80.7 M MACs for a "
                      "25.7 M-MAC layer (3.1x); we count the layer's MACs once (MAC Coverage 1.0)")
NOC_ROUNDING_REASON = ("NoC BW requirement is an integer traffic/compute-delay ratio of a few elements per cycle; "
                       "MAESTRO counts one or two elements more in one steady case of this stride-2 1x1 layer")
KNOWN_DIFFERENCES = {
    ("Resnet50_yxp_os", "CONV5_1_1", "Runtime (Cycles)"): EDGE_STRIDE_REASON,
    ("Resnet50_yxp_os", "CONV5_1_1", "NoC BW Req (Elements/cycle)"): EDGE_STRIDE_REASON,
    ("Resnet50_yxp_os", "CONV1", "L2 SRAM Size Req (Bytes)"): (
        "stride-2 7x7 windows in a 14-column cluster tile: we fetch the 13 columns the 4 windows read; MAESTRO's "
        "L2 (6804 B) also keeps more outputs than the 4 per cluster we count (6178 B, -9.2 %), while its runtime "
        "(which uses the same L2 figure) matches ours exactly"),
    ("Resnet50_xp_ws", "CONV4_1_1", "NoC BW Req (Elements/cycle)"): NOC_ROUNDING_REASON,
    ("Resnet50_xp_ws", "CONV5_1_1", "NoC BW Req (Elements/cycle)"): NOC_ROUNDING_REASON,
    ("Resnet50_yxp_os", "CONV4_1_1", "NoC BW Req (Elements/cycle)"): NOC_ROUNDING_REASON,
    **{("Resnet50_xp_ws", layer, ENERGY): REFETCH_REASON
       for layer in ("CONV5_1_1", "CONV5_1_3", "CONV5_2_1", "CONV5_2_3", "CONV5_3_1", "CONV5_3_3")},
    **{("vgg16_nlr", layer, ENERGY): NLR_REASON for layer in ("CONV1", "CONV9", "CONV10", "CONV11", "CONV12", "CONV13")},
}
MULTI_LEVEL = ("GEMM_Example", "example", "googlenet_kcp_ws", "Resnet50_yxp_os")  # dataflows with Cluster()


@lru_cache(maxsize=None)
def hardware():
    return load_maestro_hardware(DATA / "accelerator_1.m", convention="maestro")


@lru_cache(maxsize=None)
def compared(name: str) -> tuple[tuple[str, dict[str, float], dict[str, str]], ...]:
    """(layer name, our statistics, MAESTRO's row) per layer of one output CSV."""
    network = load_maestro_network(DATA / "mappings" / f"{name}.m")
    with (DATA / "outputs" / f"{name}.csv").open() as handle:
        rows = list(csv.reader(handle))
    header = [column.strip() for column in rows[0]]
    reference = [dict(zip(header, (value.strip() for value in row))) for row in rows[1:] if row]
    assert len(reference) == len(network.layers)
    out = []
    for layer, row in zip(network.layers, reference):
        ours = dict(estimate_directive(to_layer(layer), hardware(), layer.dataflow).extra)
        out.append((layer.name, ours, row))
    return tuple(out)


def cases():
    for path in OUTPUTS:
        name = path.stem
        with path.open() as handle:
            rows = [row for row in csv.reader(handle)][1:]
        for index, row in enumerate(r for r in rows if r):
            layer = row[1]
            for stat in STATS:
                reason = KNOWN_DIFFERENCES.get((name, layer, stat))
                strict = True
                if stat == ENERGY and name in MULTI_LEVEL:
                    reason, strict = STALE_L1_REASON, False  # a few land within 5 % by chance
                marks = [pytest.mark.xfail(strict=strict, reason=reason)] if reason else []
                yield pytest.param(name, index, stat, id=f"{name}-{index}-{layer}-{stat.split(' (')[0]}", marks=marks)


@pytest.mark.parametrize("name, index, stat", list(cases()))
def test_matches_maestro_within_5_percent(name, index, stat):
    _, ours, row = compared(name)[index]
    expected = float(row[stat])
    assert abs(ours[stat] - expected) <= TOLERANCE * abs(expected), f"ours {ours[stat]} vs MAESTRO {expected}"


def test_exact_on_maestros_own_examples():
    for name in ("example", "GEMM_Example"):
        (_, ours, row), = compared(name)
        for stat in ("Runtime (Cycles)", "L1 SRAM Size Req (Bytes)", "L2 SRAM Size Req (Bytes)",
                     "NoC BW Req (Elements/cycle)", "Num MACs", "Avg number of utilized PEs", "filter l2 read",
                     "output l2 write", "Offchip BW Req (Elements/cycle)", "Compute Delay (Avg)"):
            assert ours[stat] == float(row[stat]), (name, stat)


@pytest.mark.parametrize("name", ["Resnet50_rs", "vgg16_rs"])
def test_row_stationary_files_that_kill_maestro_give_a_result(name):
    network = load_maestro_network(DATA / "mappings" / f"{name}.m")
    for layer in network.layers[:8]:
        record = to_layer(layer)
        result = estimate_directive(record, hardware(), layer.dataflow)
        extra = dict(result.extra)
        assert result.cycles > 0 and result.energy.total_pj > 0
        assert extra["MAC Coverage"] >= 1.0  # these mappings compute some partial sums more than once
        assert result.macs == record.macs
