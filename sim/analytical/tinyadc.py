"""What a network's ADCs cost on a crossbar chip: energy, area and bits per layer (TinyADC's saving).

`adc_cost(trace, hw)` maps the trace (sim.mapping.crossbar.map_crossbar_trace) and prices each layer's
ADCs at the bits its mapping configures: `lossless` gives TinyADC's ceil(log2(n (2^d-1)(2^c-1) + 1)) when
`prune_nonzero` = n is set. Energy comes from the analytical run (adc.convert scaled by `adc.energy_law`);
area is the ADC units of the crossbars a layer occupies (adcs_per_ima per crossbars_per_ima) x the unit
area scaled by `adc.area_law`. Timing does not depend on the ADC bits in this model (fixed sample rate),
so the ratio of ADC energies at equal cycles is the ratio of ADC power.
`tinyadc_saving(trace, hw, nonzero)` compares the chip without pruning against the pruned one.
"""
from __future__ import annotations

from dataclasses import dataclass

from sim.analytical.crossbar import estimate_crossbar_trace
from sim.energy.adc_law import adc_area_mm2
from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.mapping.crossbar import map_crossbar_trace
from sim.workload.trace import Trace


@dataclass(frozen=True)
class AdcCost:
    """A network's ADC bill on one chip configuration (one image)."""

    adc_energy_pj: float
    energy_pj: float  # every component
    adc_area_mm2: float  # ADC units of the crossbars the network occupies
    crossbars: int
    cycles: int  # sum of the layers' cycles
    adc_bits: tuple[int, ...]  # per layer


@dataclass(frozen=True)
class TinyAdcSaving:
    baseline: AdcCost
    pruned: AdcCost
    nonzero: int

    @property
    def adc_power_reduction(self) -> float:
        return self.baseline.adc_energy_pj / self.pruned.adc_energy_pj

    @property
    def adc_area_reduction(self) -> float:
        return self.baseline.adc_area_mm2 / self.pruned.adc_area_mm2

    @property
    def energy_reduction(self) -> float:
        return self.baseline.energy_pj / self.pruned.energy_pj


def adc_cost(trace: Trace, hw: Hardware) -> AdcCost:
    reram = hw.reram
    entry = hw.area.get("ima.adc")
    if reram is None or entry is None:
        raise ConfigError("the ADC cost needs a [reram] section and an area.\"ima.adc\" entry",
                          field="area.ima.adc", file=hw.source_file or None)
    mappings = map_crossbar_trace(trace.layers, hw)
    run = estimate_crossbar_trace(trace, hw)
    units_per_crossbar = reram.adcs_per_ima / reram.crossbars_per_ima
    area = sum(m.crossbars * units_per_crossbar
               * adc_area_mm2(entry.mm2, m.adc_bits_configured, reram.adc.energy_reference_bits, reram.adc.area_law)
               for m in mappings)
    return AdcCost(adc_energy_pj=sum(layer.energy.as_dict().get("adc", 0.0) for layer in run.layers),
                   energy_pj=sum(layer.energy.total_pj for layer in run.layers), adc_area_mm2=area,
                   crossbars=sum(m.crossbars for m in mappings), cycles=sum(layer.cycles for layer in run.layers),
                   adc_bits=tuple(m.adc_bits_configured for m in mappings))


def tinyadc_saving(trace: Trace, hw: Hardware, nonzero: int) -> TinyAdcSaving:
    """`hw` without pruning vs `hw` pruned to `nonzero` weights per column segment (same encoding and laws)."""
    if hw.reram is None or hw.reram.signed_weights != "differential":
        raise ConfigError("TinyADC pruning needs zero weights stored as zero cells", field="reram.signed_weights",
                          value=None if hw.reram is None else hw.reram.signed_weights, allowed="differential",
                          file=hw.source_file or None)
    def with_pruning(n: int | None) -> Hardware:
        return hw.model_copy(update={"reram": hw.reram.model_copy(update={"prune_nonzero": n})})

    return TinyAdcSaving(baseline=adc_cost(trace, with_pruning(None)), pruned=adc_cost(trace, with_pruning(nonzero)),
                         nonzero=nonzero)


__all__ = ["AdcCost", "TinyAdcSaving", "adc_cost", "tinyadc_saving"]
