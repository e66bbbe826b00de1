"""Every plot kind writes non-empty PNG and SVG files; bad sources are ConfigErrors."""
import json
from pathlib import Path

import pytest
import tomli_w

import sim
from sim.errors import ConfigError
from sim.report import plots
from sim.sweep import store, sweep

ROOT = Path(__file__).resolve().parents[3]


def assert_files(written, stem):
    names = {path.name for path in written}
    assert {f"{stem}.png", f"{stem}.svg"} <= names
    assert all(path.stat().st_size > 0 for path in written)


@pytest.fixture(scope="module")
def report():
    trace = sim.Trace("tiny", (sim.Layer.gemm_layer("g1", m=12, n=10, k=9),
                               sim.Layer("c1", ifmap_h=6, ifmap_w=6, in_channels=3, out_channels=4, filter_h=3,
                                         filter_w=3)))
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
    return json.loads(json.dumps(sim.estimate(trace, hw).to_dict()))


@pytest.mark.parametrize("function, stem", [
    (plots.plot_layer_cycles, "layer_cycles"), (plots.plot_stalls, "stalls"), (plots.plot_energy, "energy"),
    (plots.plot_roofline, "roofline"),
])
def test_run_plots(tmp_path, report, function, stem):
    assert_files(function(report, tmp_path), stem)


def test_roofline_with_a_bandwidth_roof(tmp_path, report):
    assert_files(plots.plot_roofline(report, tmp_path, peak_macs_per_cycle=1024, bandwidth_bytes_per_cycle=8.0),
                 "roofline")


def test_pareto_of_a_sweep_database(tmp_path):
    (tmp_path / "gemm.csv").write_text("name,type,m,n,k\ng1,gemm,24,20,18\n")
    spec = tmp_path / "spec.toml"
    spec.write_text(tomli_w.dumps({"sweep": {
        "trace": "gemm.csv", "hardware": str(ROOT / "hw_configs" / "scalesim_32x32_ws.toml"),
        "parameters": {"rows": [4, 8, 16], "cols": [4, 8]}, "constraints": {"max_area_mm2": 0.04},
        "validate": {"top_k": 1}}}))
    result = sweep(spec, tmp_path / "out", workers=0)
    assert_files(plots.plot_pareto(result.database, tmp_path / "plots"), "pareto")


def test_adc_bits_vs_output_error(tmp_path):
    database = tmp_path / "results.sqlite"
    connection = store.connect(database)
    store.set_meta(connection, {"name": "adc", "objectives": ["energy", "area"]})
    store.write_rows(connection, "validations", [
        {"key": f"k{bits}", "trace": "t", "params": json.dumps({"reram.adc.bits": bits}), "status": "ok",
         "output_error": float(2 ** (8 - bits) - 1)} for bits in (4, 6, 8)])
    connection.close()
    assert_files(plots.plot_adc_error(database, tmp_path), "adc_error")
    assert_files(plots.plot_sweep(database, tmp_path / "all"), "adc_error")


def test_plot_command_dispatches_on_the_source(tmp_path, report):
    (tmp_path / "report.json").write_text(json.dumps(report))
    written = plots.plot_command(tmp_path / "report.json", tmp_path / "out")
    assert {p.stem for p in written} == {"layer_cycles", "stalls", "energy", "roofline"}
    assert {p.stem for p in plots.plot_command(tmp_path, None)} == {"layer_cycles", "stalls", "energy", "roofline"}


@pytest.mark.parametrize("name, content, message", [
    ("missing.json", None, "not found"),
    ("notes.txt", "x", "unsupported file to plot"),
    ("bad.json", "{", "not a JSON report"),
    ("other.json", "{}", "not a sim report"),
])
def test_bad_sources_are_config_errors(tmp_path, name, content, message):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match=message) as error:
        plots.plot_command(tmp_path / name, tmp_path)
    assert error.value.file.endswith(name)
