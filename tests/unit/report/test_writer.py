"""sim.report: files, headers and separators of every report, atomic writes, any RunResult."""
import csv
import gzip
import json
import math

import pytest
from rich.console import Console

from sim.analytical.systolic import estimate_systolic
from sim.engine.simulate import simulate_trace
from sim.errors import OutputError
from sim.hardware.spec import Hardware
from sim.records import CrossbarStats, EnergyBreakdown, LayerResult, OperandCounts, RunResult
from sim.report import print_table, render_table, write_report
from sim.report import writer
from sim.workload.layer import Layer
from sim.workload.trace import Trace

HW = Hardware(name="hw", pe_array={"rows": 4, "cols": 4},
              buffers={"ifmap": {"size_kb": 1}, "filter": {"size_kb": 1}, "ofmap": {"size_kb": 1}},
              dram={"bandwidth_bytes_per_cycle": 4.0},
              energy={"mac": {"pj": 0.5, "source": "test"}})
LAYERS = (Layer.gemm_layer("fc1", m=8, n=6, k=10), Layer(name="conv1", ifmap_h=6, ifmap_w=6, in_channels=2,
                                                         out_channels=4, filter_h=3, filter_w=3))


@pytest.fixture(scope="module")
def run():
    return simulate_trace(Trace(name="net", layers=LAYERS), HW)


def read_scalesim(path):
    lines = path.read_text().splitlines()
    assert all(line.endswith(",") for line in lines)
    return [line[:-1].split(", ") for line in lines]


def test_writes_every_report(tmp_path, run):
    written = write_report(run, tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(["report.json", "report.csv", "COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv",
                            "DETAILED_ACCESS_REPORT.csv", "bandwidth_trace.csv.gz"])
    assert written[-1].name == "report.json"


def test_report_json_has_the_contract_fields(tmp_path, run):
    write_report(run, tmp_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report) >= {"hardware", "trace", "layers", "totals"}
    for layer in report["layers"]:
        assert set(layer) >= {"name", "kind", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
                              "mapping_efficiency", "sram_reads", "sram_writes", "dram_reads", "dram_writes",
                              "energy_pj", "sim_wall_s"}
    assert "bandwidth_windows" not in report["metadata"]
    assert report["totals"]["cycles"] == sum(layer["cycles"] for layer in report["layers"])


def test_report_csv_has_one_flat_row_per_layer(tmp_path, run):
    write_report(run, tmp_path)
    with (tmp_path / "report.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["name"] for row in rows] == ["fc1", "conv1"]
    assert {"dram_reads.ifmap", "energy_pj.total", "extra.pe_array.busy_cycles"} <= set(rows[0])


def test_scalesim_reports_have_scalesim_headers_and_separators(tmp_path, run):
    write_report(run, tmp_path)
    compute = read_scalesim(tmp_path / "COMPUTE_REPORT.csv")
    assert compute[0] == ["LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles",
                          "Overall Util %", "Mapping Efficiency %", "Compute Util %"]
    first = run.layers[0]
    prefetch = dict(first.extra)["prefetch_cycles"]
    assert compute[1][:4] == ["0", str(first.cycles), str(first.cycles - prefetch),
                              str(first.cycles - prefetch - first.compute_cycles)]
    bandwidth = read_scalesim(tmp_path / "BANDWIDTH_REPORT.csv")
    assert bandwidth[0][0] == "LayerID" and len(bandwidth[0]) == 7 and len(bandwidth) == 3
    detailed = read_scalesim(tmp_path / "DETAILED_ACCESS_REPORT.csv")
    assert len(detailed[0]) == 19 and detailed[1][12] == str(first.dram_reads.ifmap)


def test_bandwidth_trace_sums_to_the_bytes_moved(tmp_path, run):
    write_report(run, tmp_path)
    with gzip.open(tmp_path / "bandwidth_trace.csv.gz", "rt") as handle:
        rows = list(csv.DictReader(handle))
    for index, layer in enumerate(run.layers):
        moved = sum(float(r["dram_bytes"]) for r in rows if int(r["layer"]) == index)
        extra = dict(layer.extra)
        assert math.isclose(moved, extra["dram.read_bytes"] + extra["dram.write_bytes"], rel_tol=1e-5)


def test_a_failed_write_leaves_no_report(tmp_path, run, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(writer, "_write_bandwidth_trace", broken)
    with pytest.raises(OutputError, match="disk full"):  # a user-facing error (exit 2), not a traceback
        write_report(run, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_analytical_and_crossbar_results_are_reported(tmp_path):
    analytical = estimate_systolic(LAYERS[0], HW)
    crossbar = LayerResult(name="xb", kind="conv", model="analytical", macs=100, cycles=10, compute_cycles=10,
                           stall_cycles=0, utilization=0.5, mapping_efficiency=0.5,
                           sram_reads=OperandCounts(1, 2, 3), energy=EnergyBreakdown.of({"adc": 2.0}),
                           crossbar=CrossbarStats(crossbars=4, crossbar_utilization=0.25, adc_conversions=64,
                                                  dac_conversions=32, crossbar_reads=8, output_error=0.0))
    run = RunResult(hardware="hw", trace="mix", model="analytical", layers=(analytical, crossbar), pes=16)
    write_report(run, tmp_path, scalesim_reports=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv", "report.json"]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["layers"][1]["adc_conversions"] == 64
    console = Console(record=True, width=200)
    print_table(run, console)
    text = console.export_text()
    assert "crossbars" in text and "xb" in text and "total" in text


def test_table_has_a_row_per_layer_and_a_total(run):
    table = render_table(run)
    assert table.row_count == len(run.layers) + 1
    assert [column.header for column in table.columns][:4] == ["layer", "kind", "MACs", "cycles"]
