"""Energy = action counts x the per-action table of the hardware config (Accelergy's ERT idea).

An action key is `component.action` (`ifmap_sram.read`, `adc.convert`, `dram.read_byte`, `mac`); its energy
is charged to `component` (the part before the first dot). Keys with no table entry cost nothing and are
named in the provenance, so a report shows what was not priced instead of silently hiding it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

from sim.hardware.spec import EnergyEntry
from sim.records import ActionCounts, EnergyBreakdown, PricedProvenance, _frozen_items

NOT_PRICED = "not priced: no entry in the hardware config's [energy] table"


def component_of(action: str) -> str:
    return action.split(".", 1)[0]


def prices(actions: Iterable[str], table: Mapping[str, EnergyEntry]) -> dict[str, tuple[str, float, str, str] | None]:
    """What `apply` looks up per action key, done once for callers that price many counts against one table
    (the engine, per layer): action -> (component, pj, provenance text before and after the count), or None
    when the table has no entry."""
    out: dict[str, tuple[str, float, str, str] | None] = {}
    for action in actions:
        entry = table.get(action)
        out[action] = None if entry is None else (component_of(action), entry.pj, f"{entry.pj} pj x ",
                                                  f" ({entry.source})")
    return out


def apply(counts: ActionCounts, table: Mapping[str, EnergyEntry],
          priced: Mapping[str, tuple[str, float, str, str] | None] | None = None) -> EnergyBreakdown:
    """Energy per component in pJ; `total_pj` equals the sum of count x pj over priced actions.

    `priced`: `prices(keys, table)` for (at least) the keys of `counts`, to skip the per-key table work; the
    result then renders its provenance from it and the counts when read (one shared table per run, not one text
    per action and layer)."""
    shared = priced is not None
    if priced is None:
        priced = prices((action for action, _ in counts.items), table)
    by_component: dict[str, float] = {}
    for action, count in counts.items:
        price = priced[action]
        if price is not None:
            component, pj = price[0], price[1]
            by_component[component] = by_component.get(component, 0.0) + float(count) * pj
    provenance = PricedProvenance(counts.items, priced, NOT_PRICED)
    return EnergyBreakdown(_frozen_items(by_component), provenance if shared else tuple(provenance))
