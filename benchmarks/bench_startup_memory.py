"""Start-up time and engine memory at scale.

Prints a table and writes benchmarks/results/bench_startup_memory.json.
- Start-up: wall time of `sim --help`, `sim check` on one config, a one-layer `sim run -q`, and `import sim`, each
  a fresh interpreter (best of N), against the bare interpreter (`python -c pass`) measured in the same run.
- Memory: peak RSS (ru_maxrss of a fresh child process) of an engine run of 200 / 2,000 / 20,000 small, all
  different GEMM layers behind a DDR4 channel (so every layer has its own plan and DRAM transfers), against the
  analytical model on the same layers and a child that only builds the trace, measured in the same run.

Usage: python benchmarks/bench_startup_memory.py [--quick] [--layers 200,2000,20000] [--baseline-root DIR]
(--quick: one repeat of each start-up command, 200 and 2,000 layers only; --layers 0: start-up only;
--baseline-root: another checkout's start-up measured alongside, alternating run by run).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
HW_CONFIG = "hw_configs/scalesim_32x32_ws_ddr4.toml"

# The child of a memory measurement: build `layers` small GEMMs, run `model` on them, print peak RSS and wall time.
MEMORY_CHILD = """
import resource, sys, time
import sim
from sim.workload.layer import Layer
from sim.workload.trace import Trace

count, model = int(sys.argv[1]), sys.argv[2]
# Every layer a different GEMM (M 256..767, N 64..191, K 64..160), the size of a mid-network conv's im2col on a
# 32x32 array: ~10^2-10^3 folds and DRAM transfers a layer; no two layers within 65,000 share a plan.
layers = tuple(Layer.gemm_layer(f"g{i}", m=256 + i % 512, n=64 + (i // 512) % 128, k=64 + i % 97)
               for i in range(count))
trace = Trace(name=f"gemm{count}", layers=layers)
hw = sim.load_hardware(sys.argv[3])
start = time.perf_counter()
if model == "engine":
    run = sim.simulate(trace, hw)
elif model == "analytical":
    run = sim.estimate(trace, hw)
else:
    run = None
wall = time.perf_counter() - start
cycles = sum(layer.cycles for layer in run.layers) if run is not None else 0
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, wall, cycles)
"""


def _env(root: Path = ROOT) -> dict[str, str]:
    env = dict(os.environ)
    # Start-up as a user sees it: compiled bytecode cached (the first, warm-up call writes it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _walls(command: list[str], repeat: int, roots: list[Path]) -> list[float]:
    """Best wall time of `command` run from each checkout in `roots`, the checkouts alternating run by run (so a
    shared machine's load moves both alike)."""
    best = [float("inf")] * len(roots)
    for root in roots:  # warm-up: file caches, bytecode
        subprocess.run(command, cwd=root, env=_env(root), check=True, capture_output=True)
    for _ in range(repeat):
        for index, root in enumerate(roots):
            start = time.perf_counter()
            subprocess.run(command, cwd=root, env=_env(root), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def startup(repeat: int, roots: list[Path]) -> dict[str, list[float]]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        one_layer = Path(scratch) / "one.csv"
        one_layer.write_text("name,type,m,n,k\nfc,gemm,64,64,64\n")
        commands = {
            "python -c pass (baseline)": [python, "-c", "pass"],
            "import sim": [python, "-c", "import sim"],
            "sim --help": [python, "-m", "sim", "--help"],
            "sim check (one config)": [python, "-m", "sim", "check", "hw_configs/scalesim_32x32_ws.toml"],
            "sim run -q (one layer)": [python, "-m", "sim", "run", "-q", "--hw", "hw_configs/scalesim_32x32_ws.toml",
                                       "--trace", str(one_layer), "--out", str(Path(scratch) / "out")],
        }
        return {name: _walls(command, repeat, roots) for name, command in commands.items()}


def memory(count: int, model: str) -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, str(count), model, HW_CONFIG], cwd=ROOT, env=_env(),
                          check=True, capture_output=True, text=True)
    rss, wall, cycles = done.stdout.split()[-3:]
    return {"peak_rss_mb": int(rss) / 2**20, "wall_s": float(wall), "cycles": int(cycles)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--baseline-root", type=Path, default=None,
                        help="another checkout (e.g. `git worktree add` of the previous commit) whose start-up is "
                             "measured alongside, alternating run by run")
    parser.add_argument("--layers", default=None,
                        help="comma-separated layer counts (default 200,2000,20000; 0: no memory runs)")
    args = parser.parse_args()
    repeat = 1 if args.quick else 5
    counts = [int(c) for c in (args.layers or ("200,2000" if args.quick else "200,2000,20000")).split(",") if int(c)]
    console = Console()

    roots = [ROOT] + ([args.baseline_root.resolve()] if args.baseline_root else [])
    measured = startup(repeat, roots)
    times = {name: walls[0] for name, walls in measured.items()}
    baseline = {name: walls[1] for name, walls in measured.items()} if args.baseline_root else None
    table = Table(title=f"start-up, best of {repeat} (s)")
    table.add_column("command")
    table.add_column("wall s", justify="right")
    if baseline is not None:
        table.add_column("baseline checkout, wall s", justify="right")
    for name, wall in times.items():
        table.add_row(name, f"{wall:.3f}", *([f"{baseline[name]:.3f}"] if baseline is not None else []))
    console.print(table)

    rows = []
    table = Table(title=f"peak RSS of a fresh process, all-different GEMM layers on {HW_CONFIG}")
    for column in ("layers", "model", "peak RSS MB", "MB per 1k layers over trace-only", "wall s"):
        table.add_column(column, justify="right")
    for count in counts:
        base = memory(count, "trace-only")
        for model in ("trace-only", "analytical", "engine"):
            measured = base if model == "trace-only" else memory(count, model)
            growth = (measured["peak_rss_mb"] - base["peak_rss_mb"]) / count * 1000
            rows.append({"layers": count, "model": model, **measured})
            table.add_row(str(count), model, f"{measured['peak_rss_mb']:.0f}", f"{growth:.1f}",
                          f"{measured['wall_s']:.2f}")
    console.print(table)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_startup_memory.json"
    out.write_text(json.dumps({"startup_wall_s": times, "baseline_startup_wall_s": baseline, "memory": rows,
                               "repeat": repeat}, indent=1) + "\n")
    console.print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
