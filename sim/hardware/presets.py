"""Named DRAM bank / row presets (`[dram] preset = "DDR4-2400"`): data in dram_presets.toml, in nanoseconds.

A preset becomes a `DramTimingSpec` in cycles of the accelerator clock, so the same DDR4 part costs more
cycles on a faster array.
"""
from __future__ import annotations

import math
import tomllib
from pathlib import Path

from sim.errors import ConfigError
from sim.hardware.spec import DdrDeviceSpec, DramTimingSpec

PRESETS_FILE = Path(__file__).with_name("dram_presets.toml")
# Timing fields given in ns in the presets file, and the cycle field each one becomes.
NS_FIELDS = {"t_rcd_ns": "t_rcd_cycles", "t_rp_ns": "t_rp_cycles", "t_cas_ns": "t_cas_cycles"}


def _normalized(name: str) -> str:
    return name.strip().lower().replace("-", "_")


def load_dram_presets(path: Path = PRESETS_FILE) -> dict[str, dict]:
    """The presets file as {name: raw table}, names as written there."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def dram_preset_names(path: Path = PRESETS_FILE) -> tuple[str, ...]:
    return tuple(load_dram_presets(path))


def ns_to_cycles(ns: float, clock_mhz: float) -> int:
    """Whole cycles covering `ns` at `clock_mhz` (a timing constraint is never shortened)."""
    # The small tolerance keeps 13.32 ns at 1000 MHz from becoming 14 by float noise on exact products.
    return max(0, math.ceil(ns * clock_mhz / 1000.0 - 1e-9))


def resolve_dram_preset(name: str, clock_mhz: float, path: Path = PRESETS_FILE) -> DramTimingSpec:
    """The named preset's timing in cycles of a `clock_mhz` clock; an unknown name lists the choices."""
    presets = load_dram_presets(path)
    by_name = {_normalized(key): key for key in presets}
    key = by_name.get(_normalized(name))
    if key is None:
        raise ConfigError("unknown DRAM preset", field="dram.preset", value=name, allowed=", ".join(presets))
    table = dict(presets[key])
    table.pop("ddr", None)  # the command-level device: resolve_ddr_preset
    if "t_rcd_ns" not in table:
        raise ConfigError("DRAM preset has no bank / row timing (use model = \"ddr\")", field="dram.preset",
                          value=name, allowed=", ".join(k for k in presets if "t_rcd_ns" in presets[k]))
    values: dict[str, object] = {}
    for ns_field, cycle_field in NS_FIELDS.items():
        values[cycle_field] = ns_to_cycles(float(table.pop(ns_field)), clock_mhz)
    source = str(table.pop("source"))
    values.update(table)
    values["source"] = f"{source}; ns -> cycles at {clock_mhz:g} MHz (preset {key})"
    return DramTimingSpec(**values)


def ddr_preset_names(path: Path = PRESETS_FILE) -> tuple[str, ...]:
    """Presets with a command-level device table (`model = "ddr"`)."""
    return tuple(name for name, table in load_dram_presets(path).items() if "ddr" in table)


def ddr_preset_table(name: str, path: Path = PRESETS_FILE) -> dict:
    """The named preset's raw command-level device table; an unknown name lists the presets that have one."""
    presets = load_dram_presets(path)
    by_name = {_normalized(key): key for key in presets if "ddr" in presets[key]}
    key = by_name.get(_normalized(name))
    if key is None:
        raise ConfigError("unknown DRAM preset for model 'ddr'", field="dram.preset", value=name,
                          allowed=", ".join(by_name.values()))
    return dict(presets[key]["ddr"])


def resolve_ddr_preset(name: str, overrides: dict | None = None, path: Path = PRESETS_FILE) -> DdrDeviceSpec:
    """The named preset's command-level device (`[dram] model = "ddr"`) with `overrides` (inline [dram.device] keys)."""
    values = ddr_preset_table(name, path)
    values.update(overrides or {})
    if isinstance(values.get("mapping"), list):
        values["mapping"] = tuple(values["mapping"])
    return DdrDeviceSpec(**values)
