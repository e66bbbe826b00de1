"""`sim dram` and `sim run --dram-trace` as a user runs them: output, files, exit code 2 on bad input."""
import json

import pytest

from tests.e2e.test_cli import sim

HW = "hw_configs/scalesim_32x32_ws_ddr4_cmd.toml"


@pytest.fixture
def trace(tmp_path):
    path = tmp_path / "small.req"
    path.write_text("# issue_ns kind addr size\n" + "".join(f"0 R {i * 64:#x} 64\n" for i in range(256))
                    + "100 W 0x100000 256 ofmap\n")
    return path


@pytest.mark.parametrize("model", ["ddr", "bank_row", "bandwidth"])
def test_dram_replays_a_trace_through_each_model_as_json(trace, model):
    done = sim("dram", str(trace), "--hw", HW, "--model", model, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == model and result["requests"] == 257 and result["bytes"] == 256 * 64 + 256
    assert result["total_ns"] > 0 and result["max_read_latency_ns"] >= result["avg_read_latency_ns"] > 0
    if model == "ddr":
        assert result["commands"]["rd"] == 256 and result["commands"]["wr"] == 4
        assert set(result["energy_pj"]) == {"act", "pre", "rd", "wr", "ref", "background"}


def test_dram_prints_time_bandwidth_hits_latency_and_commands(trace):
    done = sim("dram", str(trace), "--hw", HW)
    assert done.returncode == 0, done.stderr
    for word in ("total time", "bandwidth", "row-hit rate", "read latency", "ACT", "energy"):
        assert word in done.stdout, word


@pytest.mark.parametrize("args, message", [
    (["--preset", "DDR9"], "unknown DRAM preset"),
    (["--model", "magic"], "unknown DRAM model"),
])
def test_dram_bad_options_exit_2_without_a_traceback(trace, args, message):
    done = sim("dram", str(trace), "--hw", HW, *args)
    assert done.returncode == 2 and message in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_dram_malformed_trace_names_line_and_field(tmp_path):
    bad = tmp_path / "bad.req"
    bad.write_text("0 R 0x0 64\n0 Q 0x40 64\n")
    done = sim("dram", str(bad), "--hw", HW)
    assert done.returncode == 2 and "bad.req:2: kind" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_run_writes_the_engine_requests_in_both_formats(tmp_path):
    ours, ramulator = tmp_path / "r.req", tmp_path / "r.trace"
    for path, extra in ((ours, []), (ramulator, ["--ramulator"])):
        done = sim("run", "--hw", HW, "--trace", "traces/scalesim/test.csv", "--out", str(tmp_path / "o"), "--quiet",
                   "--dram-trace", str(path), *extra)
        assert done.returncode == 0, done.stderr
    lines = [line for line in ours.read_text().splitlines() if not line.startswith("#")]
    assert lines and all(len(line.split()) == 5 for line in lines)
    ram = ramulator.read_text().splitlines()
    assert ram and all(line.split()[0] in ("LD", "ST") for line in ram)
    replayed = sim("dram", str(ours), "--hw", HW, "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["requests"] == len(lines)


def test_run_ramulator_without_a_trace_file_is_an_error(tmp_path):
    done = sim("run", "--hw", HW, "--trace", "traces/scalesim/test.csv", "--out", str(tmp_path), "--ramulator")
    assert done.returncode == 2 and "--dram-trace" in done.stderr + done.stdout
