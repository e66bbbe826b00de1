"""Writers for a system run (sim.records.SystemResult): system.json, timeline.csv, links.csv, accelerators.csv,
and plots: a Gantt-style timeline per accelerator and link, per-link traffic, the step-time breakdown.

Files are staged and moved into place together, system.json last (its presence marks a complete report).
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sim.records import SystemResult
from sim.report.writer import _finite  # strict JSON: inf/NaN written as null, as in report.json

BREAKDOWN = ("compute_ns", "memory_stall_ns", "communication_ns", "bubble_ns", "idle_ns")
_COLORS = {"compute_ns": "#4878d0", "memory_stall_ns": "#ee854a", "communication_ns": "#d65f5f",
           "bubble_ns": "#aaaaaa", "idle_ns": "#dddddd"}


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def write_system_report(result: SystemResult, out_dir: str | Path, *, extra: dict[str, Any] | None = None
                        ) -> list[Path]:
    """system.json (with `extra`, e.g. the partition search), timeline.csv, accelerators.csv, links.csv."""
    from sim.report.files import make_out_dir, staging_folder

    out = make_out_dir(out_dir)
    names = ["timeline.csv", "accelerators.csv", "links.csv", "system.json"]
    with staging_folder(out, ".system-") as staging:
        _write_csv(staging / "timeline.csv", [asdict(s) for s in result.timeline],
                   ["resource", "label", "start_ns", "end_ns", "category"])
        _write_csv(staging / "accelerators.csv", [asdict(a) for a in result.accelerators],
                   list(asdict(result.accelerators[0]).keys()))
        _write_csv(staging / "links.csv", [asdict(link) for link in result.links],
                   ["name", "bytes", "busy_ns", "utilization", "energy_pj"])
        with (staging / "system.json").open("w") as handle:
            json.dump(_finite({**result.to_dict(), **(extra or {})}), handle, indent=1, allow_nan=False)
            handle.write("\n")
        if (out / "system.json").exists():
            (out / "system.json").unlink()
        for name in names:
            os.replace(staging / name, out / name)
    return [out / name for name in names]


def plot_system(result: SystemResult, out_dir: str | Path) -> list[Path]:
    """timeline (Gantt), link_traffic and step_breakdown, each as PNG and SVG."""
    from sim.report.plots import _figure, _save

    written: list[Path] = []
    resources = [a.name for a in result.accelerators]
    resources += sorted({s.resource for s in result.timeline if s.category == "transfer"})
    figure = _figure(10.0, 0.45 * len(resources) + 1.5)
    axes = figure.add_subplot()
    row = {name: i for i, name in enumerate(resources)}
    scale = 1e-3  # ns -> us
    for segment in result.timeline:
        color = "#4878d0" if segment.category == "compute" else "#d65f5f"
        axes.broken_barh([(segment.start_ns * scale, max((segment.end_ns - segment.start_ns) * scale, 1e-9))],
                         (row[segment.resource] - 0.4, 0.8), facecolors=color, edgecolor="none")
    axes.set_yticks(range(len(resources)), resources)
    axes.invert_yaxis()
    axes.set_xlabel("time (us)")
    axes.set_title(f"{result.trace} on {result.system}: {result.partition}\nblue: compute, red: link transfers",
                   fontsize="medium")
    written += _save(figure, out_dir, "timeline")

    figure = _figure(8.0, 4.0)
    axes = figure.add_subplot()
    names = [link.name for link in result.links] or ["(no links)"]
    axes.bar(names, [link.bytes / 1e6 for link in result.links] or [0.0], color="#d65f5f")
    axes.set_ylabel("MB moved per step")
    axes.set_title(f"per-link traffic: {result.system}")
    axes.tick_params(axis="x", labelrotation=45)
    written += _save(figure, out_dir, "link_traffic")

    figure = _figure(8.0, 4.0)
    axes = figure.add_subplot()
    bottom = [0.0] * len(result.accelerators)
    labels = [a.name for a in result.accelerators]
    for key in BREAKDOWN:
        values = [getattr(a, key) * scale for a in result.accelerators]
        axes.bar(labels, values, bottom=bottom, label=key.removesuffix("_ns").replace("_", " "), color=_COLORS[key])
        bottom = [b + v for b, v in zip(bottom, values)]
    axes.set_ylabel("us per step")
    axes.set_title(f"step time breakdown: {result.step_ns * scale:.1f} us")
    axes.legend(fontsize="small")
    written += _save(figure, out_dir, "step_breakdown")
    return written
