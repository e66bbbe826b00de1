"""The `sim` command as a user runs it: exit codes, messages, files written (DESIGN.md §3)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


def test_run_scalesim_cfg_and_topology_writes_reports(tmp_path):
    out = tmp_path / "run"
    done = sim("run", "--hw", "hw_configs/scalesim/scale.cfg", "--trace", "traces/scalesim/test.csv",
               "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["layers"], report
    layer = report["layers"][0]
    for key in ("name", "kind", "macs", "cycles", "compute_cycles", "stall_cycles", "utilization",
                "mapping_efficiency", "sram_reads", "sram_writes", "dram_reads", "dram_writes", "energy_pj",
                "sim_wall_s"):
        assert key in layer, key
    assert set(layer["sram_reads"]) == {"ifmap", "filter", "ofmap"}
    assert layer["energy_pj"]["total"] >= 0
    for name in ("report.csv", "COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"):
        assert (out / name).is_file(), name


def test_run_functional_checks_outputs_exactly(tmp_path):
    done = sim("run", "--hw", "hw_configs/scalesim_32x32_os.toml", "--trace", "traces/scalesim/test.csv",
               "--out", str(tmp_path), "--functional", "--seed", "3", "--quiet")
    assert done.returncode == 0, done.stderr
    layers = json.loads((tmp_path / "report.json").read_text())["layers"]
    assert all(layer["functional"]["max_abs_error"] == 0 for layer in layers)


def test_run_analytical_and_compare(tmp_path):
    done = sim("run", "--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", "traces/scalesim/test.csv",
               "--analytical", "--out", str(tmp_path / "a"), "--quiet")
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "a" / "report.json").read_text())["model"] == "analytical"
    done = sim("compare", "--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", "traces/scalesim/test.csv",
               "--out", str(tmp_path / "c"))
    assert done.returncode == 0, done.stderr
    header = (tmp_path / "c" / "compare.csv").read_text().splitlines()[0]
    assert header == "layer,field,engine,analytical,relative_error"


def test_check_passes_every_shipped_config_trace_mapping_and_sweep():
    done = sim("check", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "hw_configs").iterdir()),
               *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "traces").iterdir()), "mappings", "sweeps")
    assert done.returncode == 0, done.stderr
    assert "dataflow" in done.stdout and "sweep spec" in done.stdout


CONV_HEADER = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
GOOD_TOML = (ROOT / "hw_configs" / "scalesim_32x32_ws.toml").read_text()

BAD_INPUTS = {
    "wrong_column_count.csv": (CONV_HEADER + "conv1, 8, 8, 3, 3, 1,\n", ".csv:2:"),
    "zero_stride.csv": (CONV_HEADER + "conv1, 8, 8, 3, 3, 1, 4, 0,\n", "Strides"),
    "filter_too_large.csv": (CONV_HEADER + "conv1, 8, 8, 9, 3, 1, 4, 1,\n", "Filter Height"),
    "not_a_number.csv": (CONV_HEADER + "conv1, 8, eight, 3, 3, 1, 4, 1,\n", "IFMAP Width"),
    "unknown_type.csv": ("name,type,m,n,k\nfc1,pooling,4,4,4\n", "type"),
    "unknown_dataflow.toml": (GOOD_TOML.replace('dataflow = "ws"', 'dataflow = "rs"'), "dataflow"),
    "negative_size.toml": (GOOD_TOML.replace("rows = 32", "rows = -32"), "rows"),
    "wrong_type.toml": (GOOD_TOML.replace("rows = 32", 'rows = "many"'), "rows"),
    "missing_field.toml": (GOOD_TOML.replace("rows = 32", ""), "rows"),
    "unknown_key.toml": (GOOD_TOML.replace("rows = 32", "rows = 32\nrowz = 3"), "rowz"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_one_clear_error_and_exit_2(tmp_path, name):
    text, must_mention = BAD_INPUTS[name]
    assert text != GOOD_TOML, "the corruption did not apply: the shipped config changed"
    path = tmp_path / name
    path.write_text(text)
    shutil.copytree(ROOT / "hw_configs" / "energy", tmp_path / "energy")  # the configs include shared tables
    done = sim("check", str(path))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert name in done.stderr and must_mention in done.stderr, done.stderr


def test_failed_run_leaves_no_report(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text(CONV_HEADER + "conv1, 8, 8, 3, 3, 1, 4, 1,\nconv2, 8, 8, 3, 3, 1, 4, 0,\n")
    out = tmp_path / "out"
    done = sim("run", "--hw", "hw_configs/scalesim_32x32_ws.toml", "--trace", str(trace), "--out", str(out))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert not (out / "report.json").exists()


def test_python_dash_m_and_help():
    done = sim("--help")
    assert done.returncode == 0
    for command in ("run", "compare", "sweep", "check", "plot"):
        assert command in done.stdout


def test_run_sparse_scalesim_cfg_writes_scalesims_sparse_report(tmp_path):
    """A SCALE-Sim sparse run (SparsitySupport on, N:M topology column) as a SCALE-Sim user runs it: the
    SPARSE_REPORT.csv and metadata bandwidth column equal SCALE-Sim 3.0.0's (tests/data/scalesim/golden_sparse.csv)."""
    data = ROOT / "tests" / "data" / "scalesim"
    out = tmp_path / "run"
    done = sim("run", "--hw", str(data / "cfg" / "ws_8x8_sparse_csr.cfg"), "--trace",
               str(data / "topology" / "conv_sparse.csv"), "--out", str(out), "--quiet", "--functional")
    assert done.returncode == 0, done.stderr
    lines = (out / "SPARSE_REPORT.csv").read_text().splitlines()
    assert lines[0].startswith("LayerID, Sparsity Representation, Original Filter Storage,")
    assert lines[1].split(", ")[:5] == ["0", "csr", "288", "325", "181"]  # SCALE-Sim: 288, 325, 181
    assert "Avg FILTER Metadata SRAM BW" in (out / "BANDWIDTH_REPORT.csv").read_text().splitlines()[0]
    report = json.loads((out / "report.json").read_text())
    assert all(layer["functional"]["max_abs_error"] == 0 for layer in report["layers"])


def test_cycle_convention_option_gives_maestros_numbers_on_a_maestro_file(tmp_path):
    def runtime(convention: str) -> int:
        out = tmp_path / convention
        done = sim("run", "--hw", "hw_configs/maestro/accelerator_1.m", "--trace",
                   "tests/data/maestro/mappings/vgg16_nlr.m", "--analytical", "--quiet", "--out", str(out),
                   "--cycle-convention", convention)
        assert done.returncode == 0, done.stderr
        return json.loads((out / "report.json").read_text())["layers"][1]["cycles"]

    # vgg16 CONV2 under the NLR dataflow: MAESTRO's own output (tests/data/maestro/outputs/vgg16_nlr.csv) says
    # 72,546,048 cycles; the native convention prices the schedule the engine runs instead
    assert runtime("maestro") == 72_546_048
    assert runtime("native") != 72_546_048
    wrong = sim("run", "--hw", "hw_configs/maestro/accelerator_1.m", "--trace",
                "tests/data/maestro/mappings/vgg16_nlr.m", "--cycle-convention", "scalesim", "--out",
                str(tmp_path / "x"))
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    assert "--cycle-convention" in wrong.stderr and "native, maestro" in wrong.stderr
    assert not (tmp_path / "x").exists()
