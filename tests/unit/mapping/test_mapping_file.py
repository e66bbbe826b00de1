"""Mapping files: the text a user reads and edits, and the MappingError for each way a file can be wrong."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.errors import MappingError
from sim.mapping.mapping_file import mappings_text, parse_mappings, read_mappings
from sim.mapping.record import LevelLoops, Loop, Mapping, Problem
from sim.mapping.systolic import array_mapping
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[3]
LAYER = Layer.gemm_layer("fc", m=10, n=6, k=12)


def test_the_text_is_readable_and_lists_only_what_differs_from_the_defaults():
    text = mappings_text({"fc": array_mapping(LAYER, "ws", 4, 3, chunks=2, whole=("filter",))})
    assert 'layer = "fc"' in text and 'view = "gemm"' in text
    assert "dims = { G = 1, M = 10, K = 12, N = 6 }" in text
    assert 'whole = ["filter"]' in text
    assert '{ dim = "M", parts = 2 },' in text
    assert '{ dim = "K", size = 1, spatial = "rows", units = 4 },' in text
    assert parse_mappings(text)["fc"] == array_mapping(LAYER, "ws", 4, 3, chunks=2, whole=("filter",))


def test_dimensions_may_be_listed_in_any_order_and_steps_round_trip():
    record = Mapping("rs", Problem("conv", (("N", 1), ("K", 2), ("C", 3), ("R", 3), ("S", 3), ("Y", 8), ("X", 8)),
                                   (("Y", 1), ("X", 1))),
                     (LevelLoops("l2", (Loop("Y", size=3, step=1, spatial="cluster", units=6), Loop("K", size=1))),))
    text = mappings_text({"c": record}).replace("N = 1, K = 2, C = 3", "C = 3, K = 2, N = 1")
    assert parse_mappings(text)["c"] == record


GOOD = mappings_text({"fc": array_mapping(LAYER, "os", 4, 4)})


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("format = 1", "format = 2"), "format: unknown mapping file format.*allowed: 1"),
    (lambda t: t.replace('name = "os"', 'name = "os"\ncolor = "red"'), "mapping\\[0\\].color: unknown key"),
    (lambda t: t.replace('view = "gemm"\n', ""), "mapping\\[0\\].view: missing key"),
    (lambda t: t.replace('view = "gemm"', 'view = "loops"'), "mapping\\[0\\].view: .*'loops'.*gemm, conv"),
    (lambda t: t.replace("M = 10", "M = 0"), "mapping\\[0\\].dims.M: expected an integer \\(got 0\\)"),
    (lambda t: t.replace('{ dim = "M", size = 4 }', '{ dim = "M", size = 4, parts = 2 }'),
     "mapping\\[0\\].level\\[0\\].loops\\[2\\].loop M: a loop needs exactly one of size"),
    (lambda t: t.replace('spatial = "rows"', 'spatial = "diagonal"'),
     "mapping\\[0\\].level\\[1\\].loops\\[0\\].spatial: .*'diagonal'.*rows, cols, cluster"),
    (lambda t: t.replace('{ dim = "G", size = 1 }', '{ dim = "Q", size = 1 }'),
     "dram.Q: loop over a dimension the problem does not have.*G, M, K, N"),
    (lambda t: t + t[t.index("\n[[mapping]]"):],
     "mapping\\[1\\].layer: a layer mapped twice"),
    (lambda t: t.replace("format = 1", "format = 1\nformat = 2"), "not valid TOML"),
])
def test_a_malformed_file_is_a_mapping_error_naming_the_file_and_the_field(tmp_path, edit, message):
    path = tmp_path / "bad.toml"
    path.write_text(edit(GOOD))
    with pytest.raises(MappingError, match=message) as info:
        read_mappings(path)
    assert str(path) in str(info.value)


def test_a_file_without_a_layer_of_the_trace_is_refused():
    other = Layer.gemm_layer("other", m=10, n=6, k=12)
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_os.toml")
    with pytest.raises(MappingError, match="the mapping file has no \\[\\[mapping\\]\\] for layer 'other'"):
        sim.estimate([LAYER, other], hw, mapping=parse_mappings(GOOD))


def test_write_mappings_then_estimate_and_simulate_from_the_file_give_identical_numbers(tmp_path):
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
    trace = sim.load_trace(ROOT / "traces" / "scalesim" / "test.csv")
    records = sim.write_mappings(tmp_path / "m.toml", trace, hw)
    assert records == {layer.name: sim.map_layer(layer, hw) for layer in trace.layers}
    loaded = sim.load_mapping(tmp_path / "m.toml")
    assert loaded == records
    plain, from_file = sim.estimate(trace, hw), sim.estimate(trace, hw, mapping=loaded)
    assert [layer.cycles for layer in plain.layers] == [layer.cycles for layer in from_file.layers]
    engine = sim.simulate(trace, hw, mapping=loaded)
    plain_engine = sim.simulate(trace, hw)
    assert [layer.dram_reads for layer in engine.layers] == [layer.dram_reads for layer in plain_engine.layers]


def test_cli_run_reads_a_mapping_file_and_refuses_a_bad_one_with_exit_2(tmp_path):
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_os.toml")
    trace = sim.load_trace(ROOT / "traces" / "scalesim" / "test.csv")
    sim.write_mappings(tmp_path / "m.toml", trace, hw)

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "sim", "run", "--hw", "hw_configs/scalesim_32x32_os.toml",
                               "--trace", "traces/scalesim/test.csv", "--quiet", *extra], cwd=ROOT,
                              capture_output=True, text=True, timeout=600)

    done = run("--out", str(tmp_path / "with"), "--mapping", str(tmp_path / "m.toml"))
    assert done.returncode == 0, done.stderr
    plain = run("--out", str(tmp_path / "without"))
    assert plain.returncode == 0, plain.stderr
    cycles = [[layer["cycles"] for layer in json.loads((tmp_path / d / "report.json").read_text())["layers"]]
              for d in ("with", "without")]
    assert cycles[0] == cycles[1]
    (tmp_path / "bad.toml").write_text((tmp_path / "m.toml").read_text().replace("units = 32", "units = 0"))
    bad = run("--out", str(tmp_path / "bad"), "--mapping", str(tmp_path / "bad.toml"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "units" in bad.stderr + bad.stdout and not (tmp_path / "bad").exists()
