"""The "scalesim" convention reproduces SCALE-Sim 3.0.0's COMPUTE_REPORT (golden data from real runs).

tests/data/scalesim/golden.csv was produced by tests/data/scalesim/generate.py from the cfg/ and topology/
files beside it. Total Cycles must match exactly; Overall Util % and Mapping Efficiency % to 0.01 %.
"""
import csv
from pathlib import Path

import numpy as np
import pytest

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid, layer_compute_cycles
from sim.hardware.spec import Hardware
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer

DATA = Path(__file__).resolve().parents[1] / "data" / "scalesim"


def _topology(form: str) -> list[Layer]:
    """The topology CSV's layers as SCALE-Sim expands them (a DP layer becomes one layer per channel)."""
    name = "conv_small.csv" if form == "conv" else "gemm_small.csv"
    layers = []
    for line in (DATA / "topology" / name).read_text().splitlines()[1:]:
        fields = [x.strip() for x in line.split(",")[:-1]]
        if not fields or not fields[0]:
            continue
        if form == "gemm":
            m, n, k = map(int, fields[1:4])
            layers.append(Layer.gemm_layer(fields[0], m=m, n=n, k=k))
            continue
        height, width, filter_h, filter_w, channels, filters, stride = map(int, fields[1:8])
        # These topologies have (H - R) % stride == 0, where SCALE-Sim's ofmap size equals the usual one.
        assert (height - filter_h) % stride == 0 and (width - filter_w) % stride == 0
        copies, channels = (channels, 1) if "DP" in fields[0] else (1, channels)
        layers += [Layer(fields[0], ifmap_h=height, ifmap_w=width, filter_h=filter_h, filter_w=filter_w,
                         in_channels=channels, out_channels=filters, stride_h=stride, stride_w=stride)] * copies
    return layers


def _golden() -> list[dict]:
    with open(DATA / "golden.csv") as handle:
        return list(csv.DictReader(handle))


GOLDEN = _golden()


def test_golden_data_covers_every_dataflow_and_non_square_arrays():
    assert {row["dataflow"] for row in GOLDEN} == {"os", "ws", "is"}
    assert any(row["rows"] != row["cols"] for row in GOLDEN)
    assert len(GOLDEN) >= 100


@pytest.mark.parametrize("row", GOLDEN, ids=lambda r: f"{r['form']}-{r['dataflow']}-{r['rows']}x{r['cols']}-{r['layer_id']}")
def test_scalesim_convention_matches_compute_report(row):
    layer = _topology(row["form"])[int(row["layer_id"])]
    mapping = array_mapping(layer, row["dataflow"], int(row["rows"]), int(row["cols"]))
    cycles = layer_compute_cycles(mapping, "scalesim")
    assert cycles == int(row["total_cycles"])
    assert int(row["stall_cycles"]) == 0
    utilization = 100 * layer.macs / (mapping.rows * mapping.cols * cycles)
    assert utilization == pytest.approx(float(row["overall_util_pct"]), abs=0.01)
    assert 100 * mapping.mapping_efficiency == pytest.approx(float(row["mapping_efficiency_pct"]), abs=0.01)

    hw = Hardware(name="golden", pe_array={"rows": mapping.rows, "cols": mapping.cols, "dataflow": row["dataflow"],
                                           "cycle_convention": "scalesim"},
                  buffers={"ifmap": {"size_kb": 64}, "filter": {"size_kb": 64}, "ofmap": {"size_kb": 64}},
                  dram={"bandwidth_bytes_per_cycle": float("inf")})
    result = estimate_systolic(layer, hw)
    assert result.compute_cycles == result.cycles == cycles
    assert 100 * result.utilization == pytest.approx(float(row["overall_util_pct"]), abs=0.01)
    grid = estimate_systolic_grid(layer, np.array([mapping.rows]), np.array([mapping.cols]), row["dataflow"],
                                  convention="scalesim")
    assert int(grid["compute_cycles"][0]) == cycles


def test_grouped_layer_equals_scalesims_per_channel_expansion():
    """Our depthwise layer (groups = channels) costs the sum of SCALE-Sim's per-channel layers."""
    depthwise = Layer("dw", ifmap_h=6, ifmap_w=6, filter_h=3, filter_w=3, in_channels=3, out_channels=3, groups=3)
    for row_dataflow in ("os", "ws", "is"):
        rows = [r for r in GOLDEN if r["form"] == "conv" and r["dataflow"] == row_dataflow and r["rows"] == "8"
                and r["cols"] == "8" and r["layer_id"] in ("4", "5", "6")]
        mapping = array_mapping(depthwise, row_dataflow, 8, 8)
        assert layer_compute_cycles(mapping, "scalesim") == sum(int(r["total_cycles"]) for r in rows)


@pytest.mark.parametrize("cfg", sorted({DATA / "cfg" / f"{r['dataflow']}_{r['rows']}x{r['cols']}.cfg" for r in GOLDEN}),
                         ids=lambda p: p.stem)  # the cfgs of golden.csv (other cfgs: other golden files)
def test_scalesim_cfg_and_topology_through_the_loaders(cfg):
    """The user's path: a SCALE-Sim .cfg and topology CSVs, loaded by sim's loaders, estimated per layer."""
    from sim.hardware.load import load_hardware
    from sim.workload.load import load_trace

    hw = load_hardware(cfg)
    assert hw.pe_array.cycle_convention == "scalesim"
    dataflow, array = cfg.stem.split("_")
    rows, cols = array.split("x")
    for form, topology in (("conv", "conv_small.csv"), ("gemm", "gemm_small.csv")):
        golden = [r for r in GOLDEN if (r["form"], r["dataflow"], r["rows"], r["cols"]) == (form, dataflow, rows, cols)]
        expected = [int(r["total_cycles"]) for r in sorted(golden, key=lambda r: int(r["layer_id"]))]
        ours = []
        for layer in load_trace(DATA / "topology" / topology).layers:
            ours += [estimate_systolic(layer, hw).compute_cycles] if layer.groups == 1 else \
                [estimate_systolic(layer, hw).compute_cycles / layer.groups] * layer.groups
        assert ours == expected
