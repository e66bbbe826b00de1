"""`sim sweep` end to end: a sweep equals its points run alone, constraints, resume after SIGKILL, Dask, the CLI."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.sweep import load_sweep_spec, sweep
from sim.sweep.evaluate import file_id, params_json, point_key

ROOT = Path(__file__).resolve().parents[2]
SYSTOLIC_HW = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"
COMPARED = ["key", "trace", "params", "status", "reason", "cycles", "latency_us", "energy_pj", "edp", "area_mm2",
            "power_mw", "throughput_per_area", "utilization", "macs", "buffer_kb"]


def write_spec(folder: Path, parameters: dict, **sweep_keys) -> Path:
    trace = folder / "gemm.csv"
    trace.write_text("name,type,m,n,k\ng1,gemm,24,20,18\ng2,gemm,9,30,12\n")
    table = {"name": "e2e", "trace": "gemm.csv", "hardware": str(SYSTOLIC_HW), **sweep_keys,
             "parameters": parameters}
    path = folder / "spec.toml"
    path.write_text(tomli_w.dumps({"sweep": table}))
    return path


def rows(database: Path, table: str = "points") -> list[tuple]:
    connection = sqlite3.connect(database)
    try:
        columns = COMPARED if table == "points" else ["key", "selected_by", "status", "cycles", "energy_pj"]
        return connection.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY key").fetchall()
    finally:
        connection.close()


def alone(base: Hardware, rows_: int, dataflow: str, bandwidth: float) -> Hardware:
    """One point built by hand the documented way: model_copy on the nested specs, then re-validate."""
    pe_array = base.pe_array.model_copy(update={"rows": rows_, "dataflow": dataflow})
    dram = base.dram.model_copy(update={"bandwidth_bytes_per_cycle": bandwidth})
    hw = Hardware.model_validate(base.model_copy(update={"pe_array": pe_array, "dram": dram}).model_dump())
    return hw


def test_sweep_over_a_grid_equals_each_point_alone(tmp_path):
    spec_path = write_spec(tmp_path, {"pe_array.rows": [4, 12], "pe_array.dataflow": ["os", "ws", "is"],
                                      "dram.bandwidth_bytes_per_cycle": [0.0, 3.0]},
                           objectives=["latency", "energy"], validate={"engine": "front", "top_k": 1})
    result = sweep(spec_path, tmp_path / "out", workers=0)
    assert (result.points, result.ok, result.failed) == (12, 6, 6)
    trace = sim.load_trace(tmp_path / "gemm.csv")
    base = sim.load_hardware(SYSTOLIC_HW)
    frame = result.to_frame().set_index("key")
    for rows_ in (4, 12):
        for dataflow in ("os", "ws", "is"):
            for bandwidth in (0.0, 3.0):
                params = params_json({"pe_array.rows": rows_, "pe_array.dataflow": dataflow,
                                      "dram.bandwidth_bytes_per_cycle": bandwidth})
                row = frame.loc[point_key(file_id(tmp_path / "gemm.csv"), file_id(SYSTOLIC_HW), params)]
                if bandwidth == 0.0:
                    assert row.status == "failed" and "dram.bandwidth_bytes_per_cycle" in row.reason
                    continue
                hw = alone(base, rows_, dataflow, bandwidth)
                totals = sim.estimate(trace, hw).totals()
                assert row.cycles == totals["cycles"]
                assert row.energy_pj == pytest.approx(totals["energy_pj"]["total"], rel=1e-12)
                assert row.area_mm2 == pytest.approx(hw.area["mac"].mm2 * hw.pe_array.pes)
                assert row.latency_us == pytest.approx(totals["cycles"] / hw.pe_array.clock_mhz)
    # The engine validated the front; its numbers are those of simulating the point alone.
    validations = result.to_frame("validations")
    assert len(validations) >= len(result.front) >= 1
    first = validations.iloc[0]
    hw = alone(base, int(first["param.pe_array.rows"]), str(first["param.pe_array.dataflow"]),
               float(first["param.dram.bandwidth_bytes_per_cycle"]))
    assert first.cycles == sim.simulate(trace, hw).totals()["cycles"]
    assert (tmp_path / "out" / "points.parquet").stat().st_size > 0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["points"] == 12


def test_constraints_exclude_exactly_the_violating_points(tmp_path):
    spec_path = write_spec(tmp_path, {"pe_array.rows": [2, 4, 8, 16], "pe_array.cols": [2, 8, 32]},
                           constraints={"max_area_mm2": 0.02, "max_power_mw": 400.0},
                           validate={"engine": "none"})
    unconstrained = sweep(load_sweep_spec(write_spec(tmp_path / "..", {"pe_array.rows": [2, 4, 8, 16],
                                                                       "pe_array.cols": [2, 8, 32]},
                                                     validate={"engine": "none"})),
                          tmp_path / "free", workers=0).to_frame()
    constrained = sweep(spec_path, tmp_path / "out", workers=0).to_frame()
    violating = set(unconstrained.key[(unconstrained.area_mm2 > 0.02) | (unconstrained.power_mw > 400.0)])
    assert 0 < len(violating) < len(unconstrained)
    assert set(constrained.key[constrained.status == "excluded"]) == violating
    assert set(constrained.key[constrained.status == "ok"]) == set(unconstrained.key) - violating
    assert not constrained[constrained.on_front].key.isin(violating).any()


def test_rerun_skips_finished_points(tmp_path):
    spec_path = write_spec(tmp_path, {"pe_array.rows": [4, 8], "pe_array.cols": [4, 8]},
                           validate={"engine": "front", "top_k": 1})
    first = sweep(spec_path, tmp_path / "out", workers=0)
    again = sweep(spec_path, tmp_path / "out", workers=0)
    assert (first.screened_now, again.screened_now, again.validated_now) == (4, 0, 0)
    assert first.validated_now == again.validated > 0
    assert again.front == first.front


def test_sigkill_mid_sweep_then_rerun_has_no_duplicate_and_no_missing_row(tmp_path):
    # accumulator_bits is outside the vectorized closed form, so each point runs the per-point model (slow
    # enough that the sweep is mid-run after a second or two).
    spec_path = write_spec(tmp_path, {"pe_array.rows": {"start": 1, "stop": 16, "step": 1},
                                      "pe_array.cols": {"start": 1, "stop": 8, "step": 1},
                                      "pe_array.accumulator_bits": [16, 24, 32, 48, 64]},
                           validate={"engine": "none"})
    out = tmp_path / "out"
    code = f"from sim.sweep import sweep; sweep({str(spec_path)!r}, {str(out)!r}, workers=0)"
    process = subprocess.Popen([sys.executable, "-c", code])
    database = out / "results.sqlite"
    written = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        if database.exists():
            try:
                written = sqlite3.connect(database).execute("SELECT COUNT(*) FROM points").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if written >= 16:
                break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    kept = sqlite3.connect(database).execute("SELECT COUNT(*) FROM points").fetchone()[0]
    assert 16 <= kept < 640, "the sweep should have been killed mid-run"
    result = sweep(spec_path, out, workers=0)
    assert result.screened_now == 640 - kept
    connection = sqlite3.connect(database)
    keys = [key for (key,) in connection.execute("SELECT key FROM points")]
    assert len(keys) == len(set(keys)) == 640
    spec = load_sweep_spec(spec_path)
    trace_id, base_id = file_id(spec.traces[0]), file_id(spec.hardware)
    assert set(keys) == {point_key(trace_id, base_id, params_json(point)) for point in spec.grid()}


def test_dask_cluster_gives_the_same_rows_as_the_local_pool(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec_path = write_spec(tmp_path, {"pe_array.rows": [4, 8], "pe_array.dataflow": ["os", "ws"],
                                      "buffers.ifmap.size_kb": [0.5, 2]},
                           validate={"engine": "front", "top_k": 1}, chunk_points=3)
    local = sweep(spec_path, tmp_path / "pool", workers=2)
    # An in-process cluster reached through its address: the same path as a remote scheduler.
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster:
        remote = sweep(spec_path, tmp_path / "dask", workers=2, dask=cluster.scheduler_address)
    assert rows(local.database) == rows(remote.database)
    assert rows(local.database, "validations") == rows(remote.database, "validations")
    assert local.front == remote.front


def test_cli_sweep_check_and_plot(tmp_path):
    spec_path = write_spec(tmp_path, {"rows": [4, 8], "cols": [4, 8]}, validate={"engine": "front", "top_k": 1})
    runner = CliRunner()
    result = runner.invoke(app, ["sweep", str(spec_path), "--out", str(tmp_path / "out"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "engine-validated" in result.output
    assert (tmp_path / "out" / "pareto.png").stat().st_size > 0
    result = runner.invoke(app, ["check", str(spec_path)])
    assert result.exit_code == 0 and "sweep spec" in result.output
    result = runner.invoke(app, ["plot", str(tmp_path / "out" / "results.sqlite"), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0 and (tmp_path / "p" / "pareto.svg").stat().st_size > 0


def test_cli_check_reports_a_bad_spec_with_file_and_field(tmp_path):
    spec_path = write_spec(tmp_path, {"pe_array.rows": [4]}, objectives=["speed"])
    with pytest.raises(ConfigError, match="unknown objective"):
        load_sweep_spec(spec_path)
    process = subprocess.run([sys.executable, "-m", "sim", "check", str(spec_path)], capture_output=True, text=True)
    assert process.returncode == 2
    assert f"{spec_path}" in process.stderr and "sweep.objectives" in process.stderr


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_rows_as_the_local_pool(tmp_path):
    pytest.importorskip("distributed")
    spec_path = write_spec(tmp_path, {"pe_array.rows": [4, 8], "pe_array.cols": [4, 8]},
                           validate={"engine": "front", "top_k": 1})
    local = sweep(spec_path, tmp_path / "pool", workers=2)
    remote = sweep(spec_path, tmp_path / "dask", workers=2, dask="local")
    assert rows(local.database) == rows(remote.database)
    assert rows(local.database, "validations") == rows(remote.database, "validations")
