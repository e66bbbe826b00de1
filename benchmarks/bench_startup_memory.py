"""Start-up time and engine memory at scale.

Prints a table and writes benchmarks/results/bench_startup_memory.json.
- Start-up: CPU time (user + system, best of N; load-independent enough on a shared machine) and wall time of
  `sim --help`, `sim check` on one file of every kind (native TOML, SCALE-Sim .cfg, MAESTRO .m, ReRAM TOML,
  system config, trace), a one-layer `sim run -q`, and `import sim`, each a fresh interpreter, against the bare
  interpreter (`python -c pass`) and pydantic's own floor (importing what the hardware schema uses from pydantic,
  and the plugin loader pydantic imports to build the first validator) measured in the same run; the
  `sim --help` and `sim check` rows are marked
  against the 0.2 s wall-time goal; with --instructions also the instruction count of one run of each (valgrind
  callgrind, if installed; independent of the load).
- Memory: peak RSS (ru_maxrss of a fresh child process) of an engine run of 200 / 2,000 / 20,000 small, all
  different GEMM layers behind a DDR4 channel (so every layer has its own plan and DRAM transfers), against the
  analytical model on the same layers and a child that only builds the trace, measured in the same run.

Usage: python benchmarks/bench_startup_memory.py [--quick] [--repeat N] [--layers 200,2000,20000]
       [--baseline-root DIR | --baseline-commit REV] [--baseline-path DIR] [--instructions]
(--quick: one repeat of each start-up command, 200 and 2,000 layers only; --layers 0: start-up only;
--baseline-root: another checkout's start-up measured alongside, alternating run by run; --baseline-commit: the
same for a commit of this repository, unpacked with `git archive` into a temporary folder; --baseline-path: a
folder put first on the baseline's PYTHONPATH, e.g. `pip install --target DIR typer==0.29.2` to measure another
typer).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
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
# `sim check` on one file of every kind (issue 15's goal: each under 0.2 s wall on an idle machine).
CHECKED = {
    "native TOML": "hw_configs/tpu_v1_256x256_ws.toml",
    "SCALE-Sim .cfg": "hw_configs/scalesim/scale.cfg",
    "MAESTRO .m": "hw_configs/maestro/accelerator_1.m",
    "ReRAM TOML": "hw_configs/isaac.toml",
    "system": "systems/tpu4_ring.toml",
    "trace": "traces/alexnet.csv",
}
STARTUP_GOAL_S = 0.2
# What a hardware check cannot start without: the pydantic names the schema (sim.hardware.spec, .validation) uses,
# and the plugin loader pydantic imports (with importlib.metadata) when it builds the first validator.
PYDANTIC_FLOOR = ("from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, "
                  "model_validator; from pydantic_core import PydanticCustomError; import pydantic.plugin._loader")

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


def _env(root: Path = ROOT, extra_path: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    # Start-up as a user sees it: compiled bytecode cached (the first, warm-up call writes it).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    paths = [str(root)] + ([str(extra_path)] if extra_path else []) + ([env["PYTHONPATH"]] if env.get("PYTHONPATH")
                                                                       else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # microseconds (os.times counts 10 ms ticks)
    return usage.ru_utime + usage.ru_stime


def _times(command: list[str], repeat: int, sides: list[tuple[Path, Path | None]]) -> list[tuple[float, float]]:
    """Best (CPU s, wall s) of `command` on each side (a checkout and an optional extra PYTHONPATH folder), the
    sides alternating run by run (so a shared machine's load moves both alike)."""
    best = [(float("inf"), float("inf"))] * len(sides)
    for root, extra in sides:  # warm-up: file caches, bytecode
        subprocess.run(command, cwd=root, env=_env(root, extra), check=True, capture_output=True)
    for _ in range(repeat):
        for index, (root, extra) in enumerate(sides):
            cpu, start = _cpu_seconds(), time.perf_counter()
            subprocess.run(command, cwd=root, env=_env(root, extra), check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            wall, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
            best[index] = (min(best[index][0], cpu), min(best[index][1], wall))
    return best


def _instructions(command: list[str], root: Path, extra: Path | None) -> int | None:
    """Instructions executed by one run (valgrind callgrind's `Collected`), or None without valgrind."""
    if shutil.which("valgrind") is None:
        return None
    with tempfile.TemporaryDirectory() as scratch:
        done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/cg.out"] + command,
                              cwd=root, env=_env(root, extra), capture_output=True, text=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    return int(found.group(1)) if found else None


def startup(repeat: int, sides: list[tuple[Path, Path | None]], instructions: bool) -> dict[str, list[dict]]:
    python = sys.executable
    with tempfile.TemporaryDirectory() as scratch:
        one_layer = Path(scratch) / "one.csv"
        one_layer.write_text("name,type,m,n,k\nfc,gemm,64,64,64\n")
        commands = {
            "python -c pass (baseline)": [python, "-c", "pass"],
            "import sim": [python, "-c", "import sim"],
            "pydantic floor (schema imports + plugin loader)": [python, "-c", PYDANTIC_FLOOR],
            "sim --help": [python, "-m", "sim", "--help"],
            **{f"sim check ({kind})": [python, "-m", "sim", "check", path] for kind, path in CHECKED.items()},
            "sim run -q (one layer)": [python, "-m", "sim", "run", "-q", "--hw", "hw_configs/scalesim_32x32_ws.toml",
                                       "--trace", str(one_layer), "--out", str(Path(scratch) / "out")],
        }
        measured = {}
        for name, command in commands.items():
            rows = [{"cpu_s": cpu, "wall_s": wall} for cpu, wall in _times(command, repeat, sides)]
            if instructions:
                for row, (root, extra) in zip(rows, sides):
                    row["instructions"] = _instructions(command, root, extra)
            measured[name] = rows
        return measured


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
    parser.add_argument("--baseline-commit", default=None,
                        help="a commit of this repository (e.g. HEAD~3) measured alongside, as --baseline-root")
    parser.add_argument("--repeat", type=int, default=None, help="runs of each start-up command (default 5)")
    parser.add_argument("--baseline-path", type=Path, default=None,
                        help="a folder put first on the baseline's PYTHONPATH (e.g. another typer installed with "
                             "`pip install --target`)")
    parser.add_argument("--instructions", action="store_true",
                        help="also count the instructions of one run of each start-up command (valgrind callgrind)")
    parser.add_argument("--layers", default=None,
                        help="comma-separated layer counts (default 200,2000,20000; 0: no memory runs)")
    args = parser.parse_args()
    repeat = args.repeat or (1 if args.quick else 5)
    counts = [int(c) for c in (args.layers or ("200,2000" if args.quick else "200,2000,20000")).split(",") if int(c)]
    console = Console(width=None if sys.stdout.isatty() else 160)  # a pipe or log keeps the columns readable

    with tempfile.TemporaryDirectory() as unpacked:
        baseline_root = args.baseline_root
        if args.baseline_commit:
            baseline_root = Path(unpacked)
            archive = subprocess.run(["git", "archive", args.baseline_commit], cwd=ROOT, check=True,
                                     capture_output=True).stdout
            subprocess.run(["tar", "-x", "-C", unpacked], input=archive, check=True)
        sides = [(ROOT, None)]
        if baseline_root or args.baseline_path:
            sides.append(((baseline_root or ROOT).resolve(), args.baseline_path.resolve() if args.baseline_path
                          else None))
        load_before = os.getloadavg()[0]  # wall times mean something only on an idle machine: recorded beside them
        measured = startup(repeat, sides, args.instructions)
    load = (load_before, os.getloadavg()[0])
    times = {name: rows[0] for name, rows in measured.items()}
    baseline = {name: rows[1] for name, rows in measured.items()} if len(sides) > 1 else None
    table = Table(title=f"start-up, best of {repeat} (load average {load[0]:.2f} before, {load[1]:.2f} after)")
    table.add_column("command")
    table.add_column(f"wall < {STARTUP_GOAL_S} s", justify="center")
    for side in ["this checkout"] + (["baseline"] if baseline is not None else []):
        table.add_column(f"{side}: CPU s", justify="right")
        table.add_column("wall s", justify="right")
        if args.instructions:
            table.add_column("instructions (M)", justify="right")

    def cells(row: dict) -> list[str]:
        found = [f"{row['cpu_s']:.3f}", f"{row['wall_s']:.3f}"]
        if args.instructions:
            found.append(f"{row['instructions'] / 1e6:,.0f}" if row.get("instructions") else "-")
        return found

    for name, row in times.items():
        goal = ("yes" if row["wall_s"] < STARTUP_GOAL_S else "NO") if name.startswith(("sim --help", "sim check")) \
            else ""
        table.add_row(name, goal, *cells(row), *(cells(baseline[name]) if baseline is not None else []))
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
    if counts:  # --layers 0: start-up only
        console.print(table)

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "bench_startup_memory.json"
    out.write_text(json.dumps({"startup": times, "baseline_startup": baseline,
                               "baseline": args.baseline_commit or (args.baseline_root.name if args.baseline_root
                                                                    else None),
                               "memory": rows, "repeat": repeat, "load_average": load}, indent=1) + "\n")
    console.print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
