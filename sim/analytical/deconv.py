"""Zero-skipping transposed convolutions in the analytical systolic model, and the one record a tconv's stride
phases add up to (shared with the engine, so both report a tconv as one layer).

A tconv under `pe_array.deconv = "zero_skipping"` is estimated as its phase convolutions
(`sim.mapping.deconv.tconv_phases`), one after the other; `merge_phases` sums their counts, cycles and energy
into the tconv's record. `macs` is then the work the array did (no inserted zero), and `extra` adds
`deconv.phases`, `deconv.zero_skipping` and `deconv.skipped_macs` (the zero-inserted lowering's MACs less it).
"""
from __future__ import annotations

from functools import reduce
from operator import add

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.deconv import tconv_phases
from sim.mapping.systolic import map_systolic
from sim.records import ActionCounts, EnergyBreakdown, FunctionalCheck, LayerResult, OperandCounts
from sim.workload.layer import Layer

# extra keys that are a level (a peak, a capacity, a rate), not a count: the largest phase's, not the sum
_LEVEL_MARKERS = ("peak", "capacity", "whole_layer_resident", "window_cycles", "avg_", "per_cycle")


def zero_skipping(layer: Layer, hw: Hardware) -> bool:
    return layer.kind == "tconv" and hw.pe_array is not None and hw.pe_array.deconv == "zero_skipping"


def phases_of(layer: Layer):
    """The tconv's phases; MappingError when none computes anything."""
    phases = tconv_phases(layer)
    if not phases:
        raise MappingError("every product of this transposed conv meets border padding only",
                           field=f"{layer.name}.pad_top", allowed="padding that leaves some real input in reach")
    return phases


def merge_phases(layer: Layer, phases: list[LayerResult], pes: int) -> LayerResult:
    """One record for `layer` from its phases' records (counts, cycles and energy summed)."""
    first = phases[0]
    cycles = sum(r.cycles for r in phases)
    macs = sum(r.macs for r in phases)
    folds = sum(r.folds for r in phases)
    extra: dict[str, float] = {}
    for result in phases:
        for key, value in result.extra:
            if not isinstance(value, (int, float)):
                continue
            if any(marker in key for marker in _LEVEL_MARKERS):
                extra[key] = max(extra.get(key, value), value)
            else:
                extra[key] = extra.get(key, 0) + value
    extra.update({"deconv.phases": len(phases), "deconv.zero_skipping": 1, "deconv.skipped_macs": layer.macs - macs})
    checks = [r.functional for r in phases if r.functional is not None]
    functional = None
    if checks:
        functional = FunctionalCheck(max_abs_error=max(c.max_abs_error for c in checks),
                                     elements=sum(c.elements for c in checks),
                                     accumulator_overflow=any(c.accumulator_overflow for c in checks),
                                     seed=checks[0].seed)
    merged = LayerResult(
        name=layer.name, kind=layer.kind, model=first.model, macs=macs, cycles=cycles,
        compute_cycles=sum(r.compute_cycles for r in phases), stall_cycles=sum(r.stall_cycles for r in phases),
        utilization=macs / (pes * cycles) if cycles else 0.0,
        mapping_efficiency=sum(r.mapping_efficiency * r.folds for r in phases) / folds if folds else 0.0,
        folds=folds,
        sram_reads=reduce(add, (r.sram_reads for r in phases), OperandCounts()),
        sram_writes=reduce(add, (r.sram_writes for r in phases), OperandCounts()),
        dram_reads=reduce(add, (r.dram_reads for r in phases), OperandCounts()),
        dram_writes=reduce(add, (r.dram_writes for r in phases), OperandCounts()),
        actions=reduce(add, (r.actions for r in phases), ActionCounts()),
        energy=reduce(add, (r.energy for r in phases), EnergyBreakdown()),
        sim_wall_s=sum(r.sim_wall_s for r in phases), functional=functional)
    return merged.with_extra(extra)


def estimate_zero_skipping(layer: Layer, hw: Hardware, dataflow: str | None = None) -> LayerResult:
    """The analytical record of a tconv run as its stride phases."""
    from sim.analytical.systolic import estimate_systolic

    phases = [estimate_systolic(p.layer, hw, map_systolic(p.layer, hw, dataflow)) for p in phases_of(layer)]
    return merge_phases(layer, phases, hw.pe_array.pes)


__all__ = ["estimate_zero_skipping", "merge_phases", "phases_of", "zero_skipping"]
