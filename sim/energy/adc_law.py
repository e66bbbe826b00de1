"""How ADC conversion energy scales with resolution (a config choice, since the sources disagree).

`table` uses the [energy] entry as is; `linear` scales it by bits / reference bits (PUMA's constants.py:
power linear in bits); `exponential` doubles it per bit (hwcomponents-library isaac.py, pow_base 2). The
ADC's area (`area."ima.adc"`) scales by `adc.area_law` with the same three laws (hwcomponents: x2 per bit).
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from sim.errors import ConfigError
from sim.hardware.spec import EnergyEntry, Hardware

ADC_ENERGY_LAWS: dict[str, Callable[[float, int, int], float]] = {
    "table": lambda pj, bits, reference: pj,
    "linear": lambda pj, bits, reference: pj * bits / reference,
    "exponential": lambda pj, bits, reference: pj * 2.0 ** (bits - reference),
}


def adc_energy_pj(pj: float, bits: int, reference_bits: int, law: str) -> float:
    """Energy of one conversion at `bits`, from the table's `pj` measured at `reference_bits`."""
    return _scaled(pj, bits, reference_bits, law, "energy")


def adc_area_mm2(mm2: float, bits: int, reference_bits: int, law: str) -> float:
    """Area of one ADC at `bits` from the table's `mm2` at `reference_bits` (same laws as the energy)."""
    return _scaled(mm2, bits, reference_bits, law, "area")


def _scaled(value: float, bits: int, reference_bits: int, law: str, what: str) -> float:
    scale = ADC_ENERGY_LAWS.get(law)
    if scale is None:
        raise ConfigError(f"unknown ADC {what} law", field=f"reram.adc.{what}_law", value=law,
                          allowed=", ".join(ADC_ENERGY_LAWS))
    return scale(value, bits, reference_bits)


def reram_energy_table(hw: Hardware, adc_bits: int) -> Mapping[str, EnergyEntry]:
    """hw.energy with `adc.convert` rescaled to `adc_bits` by the configured law (provenance says how)."""
    table = dict(hw.energy)
    entry = table.get("adc.convert")
    adc = hw.reram.adc if hw.reram is not None else None
    if entry is None or adc is None or adc.energy_law == "table" or adc_bits == adc.energy_reference_bits:
        return table
    pj = adc_energy_pj(entry.pj, adc_bits, adc.energy_reference_bits, adc.energy_law)
    table["adc.convert"] = EnergyEntry(
        pj=pj, source=entry.source,
        note=f"{adc.energy_law} law: {entry.pj} pJ at {adc.energy_reference_bits} bits -> {adc_bits} bits")
    return table
