"""The Python API in notebook-style cells (`# %%`): everything `sim` does on the command line, as functions
returning records that become pandas DataFrames. Runs in CI (tests/e2e/test_sweep_examples.py) in seconds.

    python examples/notebook_api.py [OUT_DIR]
"""
# %% Setup: a small trace and a shipped hardware config
import sys
import tempfile
from pathlib import Path

import pandas
import tomli_w

import sim
from sim.report.plots import plot_report, plot_sweep
from sim.sweep import load_sweep_spec, sweep

ROOT = Path(__file__).resolve().parents[1]
out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="sim-example-"))
trace = sim.load_trace(ROOT / "traces" / "scalesim" / "test.csv")
hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
print(f"{trace.name}: {len(trace.layers)} layers on {hw.name} ({hw.pe_array.rows}x{hw.pe_array.cols})")

# %% Engine and analytical model: one RunResult each, one row per layer in to_frame()
run = sim.simulate(trace, hw)
estimate = sim.estimate(trace, hw)
frame = run.to_frame()
print(frame[["name", "cycles", "stall_cycles", "utilization", "energy_pj.total"]].to_string(index=False))
print("totals:", {key: run.totals()[key] for key in ("cycles", "macs", "utilization")})

# %% Engine vs analytical, field by field
comparison = sim.compare(trace, hw)
print(pandas.DataFrame([row.__dict__ for row in comparison.summary()]).to_string(index=False))

# %% A variant of the hardware: pydantic's model_copy on the nested spec, then re-validate
wide = sim.Hardware.model_validate(
    hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"cols": 64})}).model_dump())
print("64 columns:", sim.estimate(trace, wide).totals()["cycles"], "cycles vs", estimate.totals()["cycles"])

# %% Plots of the run (PNG and SVG)
written = plot_report(run.to_dict(), out / "plots")
print("plots:", ", ".join(path.name for path in written))

# %% A design-space sweep: screened analytically, the Pareto front validated by the engine
spec_path = out / "sweep.toml"
spec_path.write_text(tomli_w.dumps({"sweep": {
    "name": "example", "trace": str(ROOT / "traces" / "scalesim" / "test.csv"),
    "hardware": str(ROOT / "hw_configs" / "scalesim_32x32_ws.toml"), "objectives": ["latency", "area"],
    "parameters": {"rows": [4, 8, 16], "cols": [4, 8, 16], "dataflow": ["os", "ws"],
                   "dram_bandwidth": [4.0, 16.0]},
    "constraints": {"max_area_mm2": 0.1},
    "validate": {"engine": "front", "top_k": 1},
}}))
result = sweep(load_sweep_spec(spec_path), out / "sweep", workers=0)
points = result.to_frame()
print(f"{result.points} points: {result.ok} ok, {result.excluded} excluded; front {len(result.front)}; "
      f"engine-validated {result.validated}; disagreements {len(result.disagreements)}")
print(points[points.on_front][["param.pe_array.rows", "param.pe_array.cols", "param.pe_array.dataflow",
                               "latency_us", "energy_pj", "area_mm2"]].to_string(index=False))
print(result.to_frame("validations")[["selected_by", "cycles", "analytical_cycles", "cycles_rel_error"]]
      .to_string(index=False))
print("sweep plots:", ", ".join(path.name for path in plot_sweep(result.database, out / "sweep")))
