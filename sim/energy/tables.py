"""Energy = action counts x the per-action table of the hardware config (Accelergy's ERT idea).

An action key is `component.action` (`ifmap_sram.read`, `adc.convert`, `dram.read_byte`, `mac`); its energy
is charged to `component` (the part before the first dot). Keys with no table entry cost nothing and are
named in the provenance, so a report shows what was not priced instead of silently hiding it.
"""
from __future__ import annotations

from typing import Mapping

from sim.hardware.spec import EnergyEntry
from sim.records import ActionCounts, EnergyBreakdown

NOT_PRICED = "not priced: no entry in the hardware config's [energy] table"


def component_of(action: str) -> str:
    return action.split(".", 1)[0]


def apply(counts: ActionCounts, table: Mapping[str, EnergyEntry]) -> EnergyBreakdown:
    """Energy per component in pJ; `total_pj` equals the sum of count x pj over priced actions."""
    by_component: dict[str, float] = {}
    provenance: dict[str, str] = {}
    for action, count in counts.items:
        entry = table.get(action)
        if entry is None:
            provenance[action] = NOT_PRICED
            continue
        component = component_of(action)
        by_component[component] = by_component.get(component, 0.0) + float(count) * entry.pj
        provenance[action] = f"{entry.pj} pj x {count} ({entry.source})"
    return EnergyBreakdown.of(by_component, provenance)
