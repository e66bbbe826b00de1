"""The mapper's outputs: the mapping file (read back by `sim run --mapping`), map_report.json and the table."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.mapper.search import MapResult
from sim.mapping.record import Mapping


def _chunks(mapping: Mapping) -> int | None:
    """Chunks of T of a systolic record; None for a directive one (its tiles are in its name)."""
    return mapping.chunks if mapping.problem.view == "gemm" else None


def result_dict(result: MapResult) -> dict[str, Any]:
    layers = []
    for s in result.layers:
        layers.append({
            "layer": s.layer, "mapping": s.best.mapping.name, "chunks": _chunks(s.best.mapping),
            "whole": list(s.best.mapping.whole), "cycles": s.best.cycles, "energy_pj": s.best.energy_pj,
            # the levels run as two halves on "auto" hardware (None: as the hardware declares)
            "double_buffered": (list(s.best.mapping.double_buffered)
                                if s.best.mapping.double_buffered is not None else None),
            "engine_cycles": s.best.engine_cycles, "engine_energy_pj": s.best.engine_energy_pj,
            "utilization": s.utilization, "dram_bytes": s.dram_bytes, "evaluated": s.evaluated,
            "space_size": s.space_size, "raw_size": s.raw_size, "pruned": dict(s.pruned), "strategy": s.strategy,
            "search_s": s.search_s, "cached": s.cached, "baselines": dict(s.baselines),
            "baselines_not_run": list(s.not_run),
            "residency": list(s.residency),
            "validated": [{"mapping": v.mapping.name, "chunks": _chunks(v.mapping), "whole": list(v.mapping.whole),
                           "cycles": v.cycles, "engine_cycles": v.engine_cycles, "energy_pj": v.energy_pj,
                           "engine_energy_pj": v.engine_energy_pj, "disagreement": v.disagreement}
                          for v in s.validated],
        })
    return {"hardware": result.hardware, "trace": result.trace, "objective": result.objective,
            "complete": result.complete, "missing": list(result.missing), "seed": result.seed,
            "budget": result.budget, "search_s": result.search_s, "evaluated": result.evaluated,
            "across_layers": result.across_layers, "contenders": dict(result.contenders),
            "contenders_not_run": list(result.contenders_skipped),
            "phases_s": {"scoring": sum(s.search_s - s.validate_s for s in result.layers if not s.cached),
                         "validation": sum(s.validate_s for s in result.layers if not s.cached),
                         "across_layers": result.across_s},
            "engine_runs": result.engine_runs, "layers": layers}


def write_map_outputs(result: MapResult, out_dir: Path) -> tuple[Path, Path]:
    """mappings.toml (marked incomplete in a comment when the search was stopped) and map_report.json."""
    from sim.mapping.mapping_file import mappings_text
    from sim.report.files import atomic_write_text, make_out_dir

    make_out_dir(out_dir, "--out")
    text = mappings_text(result.mappings())
    if not result.complete:
        text = ("# INCOMPLETE: the search was stopped; layers not searched (mapped as the config's dataflow): "
                + ", ".join(result.missing) + "\n" + text)
    mapping_path, report_path = out_dir / "mappings.toml", out_dir / "map_report.json"
    atomic_write_text(mapping_path, text)
    atomic_write_text(report_path, json.dumps(result_dict(result), indent=2) + "\n")
    return mapping_path, report_path


def print_map_table(result: MapResult, console: Any) -> None:
    from rich.table import Table

    table = Table(title=f"{result.trace} on {result.hardware}: best mappings for {result.objective}")
    for name in ("layer", "mapping", "chunks", "whole", "cycles", "engine cycles", "energy (uJ)", "util",
                 "DRAM bytes", "evaluated", "space", "pruned", "search (s)"):
        table.add_column(name, justify="left" if name in ("layer", "mapping", "whole") else "right")
    for s in result.layers:
        engine = "" if s.best.engine_cycles is None else f"{s.best.engine_cycles:,}"
        table.add_row(s.layer, s.best.mapping.name, str(_chunks(s.best.mapping) or "-"),
                      ",".join(s.best.mapping.whole) or "-",
                      f"{s.best.cycles:,}", engine, f"{s.best.energy_pj / 1e6:,.2f}", f"{s.utilization:.1%}",
                      f"{s.dram_bytes:,}", f"{s.evaluated:,}" + (" (cached)" if s.cached else ""),
                      f"{s.space_size:,}", f"{sum(n for _, n in s.pruned):,}", f"{s.search_s:.2f}")
    console.print(table)
    flagged = [(s.layer, v) for s in result.layers for v in s.validated if v.disagreement]
    for layer, v in flagged:
        console.print(f"{layer}: {v.mapping.name} chunks={_chunks(v.mapping) or '-'}: {v.disagreement}")
    console.print(f"{result.evaluated:,} candidates scored in {result.search_s:.2f} s")
    if result.across_layers:  # outputs kept on chip between layers: the whole-trace check's contenders
        console.print("whole trace (outputs kept on chip): kept " + result.across_layers + "; "
                      + ", ".join(f"{name} {value:,.4g}" for name, value in result.contenders))
    if not result.complete:
        console.print(f"[yellow]search stopped: incomplete, not searched: {', '.join(result.missing)}[/yellow]")
