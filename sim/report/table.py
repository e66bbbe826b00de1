"""The per-layer terminal table (rich): name, kind, MACs, cycles, stalls, utilization, mapping efficiency,
DRAM bytes, energy; crossbar columns appear when any layer has crossbar statistics."""
from __future__ import annotations

from rich.console import Console
from rich.table import Table

from sim.records import LayerResult, RunResult


def dram_bytes(layer: LayerResult) -> float:
    """DRAM bytes moved: the engine's measured bytes, else the priced byte actions."""
    extra = dict(layer.extra)
    if "dram.read_bytes" in extra or "dram_read_bytes" in extra:
        return float(extra.get("dram.read_bytes", extra.get("dram_read_bytes", 0))
                     + extra.get("dram.write_bytes", extra.get("dram_write_bytes", 0)))
    actions = layer.actions.as_dict()
    return float(actions.get("dram.read_byte", 0) + actions.get("dram.write_byte", 0))


def _int(value: float) -> str:
    return f"{int(value):,}"


def render_table(run: RunResult) -> Table:
    """One row per layer and a totals row."""
    crossbar = any(layer.crossbar is not None for layer in run.layers)
    table = Table(title=f"{run.trace} on {run.hardware} ({run.model})", show_footer=False)
    for header in ("layer", "kind", "MACs", "cycles", "stalls", "util %", "map eff %", "DRAM bytes", "energy µJ"):
        # Numbers fold onto a second line in a narrow terminal instead of being cut short with an ellipsis.
        table.add_column(header, justify="left" if header in ("layer", "kind") else "right", overflow="fold")
    if crossbar:
        for header in ("crossbars", "xbar util %", "ADC conv"):
            table.add_column(header, justify="right", overflow="fold")
    for layer in run.layers:
        row = [layer.name, layer.kind, _int(layer.macs), _int(layer.cycles), _int(layer.stall_cycles),
               f"{100 * layer.utilization:.1f}", f"{100 * layer.mapping_efficiency:.1f}", _int(dram_bytes(layer)),
               f"{layer.energy.total_pj / 1e6:.3f}"]
        if crossbar:
            stats = layer.crossbar
            row += ([_int(stats.crossbars), f"{100 * stats.crossbar_utilization:.1f}", _int(stats.adc_conversions)]
                    if stats is not None else ["", "", ""])
        table.add_row(*row)
    totals = run.totals()
    row = ["total", "", _int(totals["macs"]), _int(totals["cycles"]), _int(totals["stall_cycles"]),
           "" if totals["utilization"] is None else f"{100 * totals['utilization']:.1f}", "", _int(sum(dram_bytes(layer) for layer in run.layers)),
           f"{totals['energy_pj']['total'] / 1e6:.3f}"]
    if crossbar:
        row += ["", "", _int(sum(layer.crossbar.adc_conversions for layer in run.layers if layer.crossbar))]
    table.add_row(*row, style="bold")
    return table


def print_table(run: RunResult, console: Console | None = None) -> None:
    (console or Console()).print(render_table(run))
