"""Area, peak power and peak throughput of a ReRAM crossbar chip from its config's component tables.

Area entries are keyed `<level>.<component>` with level `ima` (per IMA), `tile` (per tile), `noc` (one
router shared by `tiles_per_router` tiles) or `chip`; `mm2` is per unit and `count` the units per level
instance. Peak power of a component is sum over its actions of pj x the action's peak rate (PEAK_RATES):
the rate at which the organisation can issue that action when every unit is busy. For ISAAC these rates
turn the Table I energies back into Table I's powers, so the level totals reproduce the paper.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sim.energy.adc_law import adc_area_mm2, reram_energy_table
from sim.errors import ConfigError
from sim.hardware.spec import Hardware, ReramSpec
from sim.mapping.crossbar import ceil_div, input_slices

LEVELS = ("ima", "tile", "noc", "chip")


def _reads_per_s(r: ReramSpec) -> float:
    return 1e9 / r.read_latency_ns


def _conversions_per_s(r: ReramSpec) -> float:
    return r.adcs_per_ima * r.adc.sample_rate_gsps * 1e9


def _clock_hz(r: ReramSpec) -> float:
    return r.clock_mhz * 1e6


# action -> (level instance it is counted per, peak actions per second of one instance)
PEAK_RATES: dict[str, tuple[str, Callable[[ReramSpec], float]]] = {
    "crossbar.read": ("ima", lambda r: r.crossbars_per_ima * _reads_per_s(r)),
    "dac.convert": ("ima", lambda r: r.crossbars_per_ima * r.crossbar_rows * _reads_per_s(r)),
    "sample_hold.sample": ("ima", lambda r: r.crossbars_per_ima * r.crossbar_cols * _reads_per_s(r)),
    "adc.convert": ("ima", _conversions_per_s),
    "shift_add.op": ("ima", _conversions_per_s),  # one shift-and-add per conversion
    "input_register.read": ("ima", lambda r: r.crossbars_per_ima * _reads_per_s(r)),
    "output_register.write": ("ima", _conversions_per_s),
    "edram.read": ("tile", _clock_hz),  # one port access per cycle
    "bus.transfer": ("tile", _clock_hz),
    "router.flit": ("tile", _clock_hz),  # each tile injects one flit per cycle into its router
    "sigmoid.op": ("tile", _clock_hz),
    "maxpool.op": ("tile", _clock_hz),
    "tile_shift_add.op": ("tile", _clock_hz),
    "tile_output_register.write": ("tile", _clock_hz),
    "hypertransport.byte": ("chip", lambda r: r.offchip_gbytes_per_s * 1e9),
}


@dataclass(frozen=True)
class ChipBudget:
    """Power (mW) and area (mm2) per IMA, per tile (with its share of a router) and per chip."""

    ima_mw: float
    ima_mm2: float
    tile_mw: float
    tile_mm2: float
    chip_mw: float
    chip_mm2: float
    peak_tops: float  # 2 ops per MAC, all crossbars busy
    imas_per_tile: int
    power_by_action_mw: tuple[tuple[str, float], ...] = ()  # per level instance (IMA, tile or chip)
    area_by_component_mm2: tuple[tuple[str, float], ...] = ()  # per level instance

    @property
    def imas_mw(self) -> float:
        """All IMAs of one tile (ISAAC reports 289 mW / 0.157 mm2 for 12)."""
        return self.imas_per_tile * self.ima_mw

    @property
    def imas_mm2(self) -> float:
        return self.imas_per_tile * self.ima_mm2

    @property
    def tops_per_w(self) -> float:
        return self.peak_tops / (self.chip_mw / 1000.0)

    @property
    def tops_per_mm2(self) -> float:
        return self.peak_tops / self.chip_mm2


def _need_reram(hw: Hardware) -> ReramSpec:
    if hw.reram is None:
        raise ConfigError("area and peak power need a [reram] section", file=hw.source_file or None, field="reram")
    return hw.reram


def peak_tops(reram: ReramSpec) -> float:
    """Peak 16-bit-equivalent throughput: every crossbar does rows x floor(cols/slices) MACs per input_slices reads."""
    slices = ceil_div(reram.weight_bits, reram.cell_bits) * (2 if reram.signed_weights == "differential" else 1)
    reads = input_slices(reram.input_bits, reram.dac_bits, reram.signed_inputs)
    macs_per_s = reram.crossbars_per_chip * reram.crossbar_rows * (reram.crossbar_cols // slices) \
        / (reads * reram.read_latency_ns * 1e-9)
    return 2 * macs_per_s / 1e12


def chip_budget(hw: Hardware, adc_bits: int | None = None) -> ChipBudget:
    """Peak power and area per level from hw.energy x PEAK_RATES and hw.area.

    `adc_bits` resizes the ADCs: `adc.convert` energy by `adc.energy_law` and `area."ima.adc"` by
    `adc.area_law` (TinyADC); None takes the table entries as they are.
    """
    reram = _need_reram(hw)
    energy = hw.energy if adc_bits is None else reram_energy_table(hw, adc_bits)
    level_mw = {level: 0.0 for level in LEVELS}
    power: dict[str, float] = {}
    for action, (level, rate) in PEAK_RATES.items():
        entry = energy.get(action)
        if entry is None:
            continue
        mw = entry.pj * 1e-12 * rate(reram) * 1e3
        level_mw[level] += mw
        power[action] = mw
    level_mm2 = {level: 0.0 for level in LEVELS}
    area: dict[str, float] = {}
    for key, entry in hw.area.items():
        level = key.split(".", 1)[0]
        if level not in LEVELS:
            raise ConfigError("area key must start with a level", file=hw.source_file or None, field=f"area.{key}",
                              value=key, allowed="ima.*, tile.*, noc.*, chip.*")
        mm2 = entry.mm2
        if adc_bits is not None and key == "ima.adc":
            mm2 = adc_area_mm2(mm2, adc_bits, reram.adc.energy_reference_bits, reram.adc.area_law)
        level_mm2[level] += mm2 * entry.count
        area[key] = mm2 * entry.count
    imas = reram.imas_per_tile
    tile_mw = imas * level_mw["ima"] + level_mw["tile"]
    tile_mm2 = imas * level_mm2["ima"] + level_mm2["tile"] + level_mm2["noc"] / reram.tiles_per_router
    return ChipBudget(
        ima_mw=level_mw["ima"], ima_mm2=level_mm2["ima"], tile_mw=tile_mw, tile_mm2=tile_mm2,
        chip_mw=reram.tiles * tile_mw + level_mw["chip"], chip_mm2=reram.tiles * tile_mm2 + level_mm2["chip"],
        peak_tops=peak_tops(reram), imas_per_tile=imas, power_by_action_mw=tuple(sorted(power.items())),
        area_by_component_mm2=tuple(sorted(area.items())))
