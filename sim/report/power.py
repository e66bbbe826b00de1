"""The power trace of a systolic engine run as CSV files and plots (`sim run --power-grid`, `sim plot`).

- `power_trace.csv`: one row per window: `window, start_cycle, time_ns, chip_mw, array_mw, sram_mw, dram_mw`.
- `power_regions.csv`: one row per window: `window`, then `r<i>c<j>_mw` per PE region (row-major).
- plots: `power_trace.{png,svg}` (chip power over time, its peak and largest step marked) and
  `power_heatmap.{png,svg}` (each region's average power over the run).
Files are written to a temporary name and renamed into place, so an interrupted write leaves none half-written.
"""
from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path

from sim.engine.power import PowerTrace
from sim.errors import ConfigError

TRACE_FILE = "power_trace.csv"
REGIONS_FILE = "power_regions.csv"
TRACE_HEADER = ("window", "start_cycle", "time_ns", "chip_mw", "array_mw", "sram_mw", "dram_mw")


def _write_rows(path: Path, header: list[str] | tuple[str, ...], rows) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(header)
            writer.writerows(rows)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_power(power: PowerTrace, out_dir: Path | str) -> list[Path]:
    """Write the two CSV files into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    chip, array = power.chip_mw, power.region_mw.sum(axis=1)
    sram, dram = power.sram_pj / power.window_ns, power.dram_pj / power.window_ns
    trace_rows = ((w, w * power.window_cycles, w * power.window_ns, repr(float(chip[w])), repr(float(array[w])),
                   repr(float(sram[w])), repr(float(dram[w]))) for w in range(power.windows))
    _write_rows(out_dir / TRACE_FILE, TRACE_HEADER, trace_rows)
    names = [f"r{i}c{j}_mw" for i in range(power.grid_rows) for j in range(power.grid_cols)]
    region = power.region_mw
    region_rows = ((w, *(repr(float(v)) for v in region[w])) for w in range(power.windows))
    _write_rows(out_dir / REGIONS_FILE, ["window", *names], region_rows)
    return [out_dir / TRACE_FILE, out_dir / REGIONS_FILE]


def read_power(folder: Path) -> tuple[list[dict[str, float]], list[str], list[list[float]]]:
    """The two CSV files back: trace rows, region column names, region rows (mW)."""
    try:
        with open(folder / TRACE_FILE, encoding="utf-8") as stream:
            trace = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(stream)]
        with open(folder / REGIONS_FILE, encoding="utf-8") as stream:
            reader = csv.reader(stream)
            header = next(reader)
            regions = [[float(v) for v in row[1:]] for row in reader]
    except (OSError, ValueError, KeyError, StopIteration) as error:
        raise ConfigError(f"unreadable power trace: {error}", file=folder,
                          allowed=f"{TRACE_FILE} and {REGIONS_FILE} as `sim run --power-grid` writes them") from None
    return trace, header[1:], regions


def plot_power(folder: Path, out_dir: Path) -> list[Path]:
    """The chip power trace and the region heat map from the CSV files in `folder`."""
    from sim.report.plots import _figure, _save

    trace, names, regions = read_power(Path(folder))
    written: list[Path] = []
    times = [row["time_ns"] / 1000.0 for row in trace]
    chip = [row["chip_mw"] for row in trace]
    figure = _figure(8.0, 4.0)
    axes = figure.add_subplot()
    axes.plot(times, chip, color="#4c72b0", linewidth=0.8, label="chip")
    axes.plot(times, [row["array_mw"] for row in trace], color="#dd8452", linewidth=0.6, label="PE array")
    if chip:
        peak = max(range(len(chip)), key=chip.__getitem__)
        axes.plot([times[peak]], [chip[peak]], "v", color="#c44e52", label=f"peak {chip[peak]:.0f} mW")
        if len(chip) > 1:
            step = max(range(1, len(chip)), key=lambda w: abs(chip[w] - chip[w - 1]))
            axes.axvline(times[step], color="#8172b3", linewidth=0.6, linestyle="--",
                         label=f"largest step {abs(chip[step] - chip[step - 1]):.0f} mW")
    axes.set_xlabel("time (us)")
    axes.set_ylabel("power (mW)")
    axes.set_title("chip power per window", fontsize=9)
    axes.legend(fontsize=7)
    written += _save(figure, out_dir, "power_trace")
    if names:
        rows = 1 + max(int(name[1:name.index("c")]) for name in names)
        cols = len(names) // rows
        mean = [sum(row[i] for row in regions) / max(len(regions), 1) for i in range(len(names))]
        grid = [mean[r * cols:(r + 1) * cols] for r in range(rows)]
        figure = _figure(5.5, 4.5)
        axes = figure.add_subplot()
        image = axes.imshow(grid, cmap="inferno", aspect="auto")
        figure.colorbar(image, ax=axes, label="average power (mW)")
        axes.set_xlabel("PE region column")
        axes.set_ylabel("PE region row")
        axes.set_title("PE array power by region", fontsize=9)
        written += _save(figure, out_dir, "power_heatmap")
    return written


__all__ = ["plot_power", "read_power", "write_power"]
