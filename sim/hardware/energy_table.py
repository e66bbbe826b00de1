"""Checking a shared energy/area table (hw_configs/energy/*.toml) on its own, as `sim check` does.

Configs include these tables with `energy_tables = [...]`; the same schema applies when a table is checked alone.
"""
from __future__ import annotations

from pathlib import Path

from sim.errors import ConfigError
from sim.hardware.spec import AreaEntry, EnergyEntry
from sim.hardware.toml_loader import (
    ENERGY_TABLE_KEYS,
    flatten_entries,
    parse_toml,
    read_text,
    toml_line_of,
)
from sim.hardware.validation import validate_table


def check_energy_table(path: str | Path) -> int:
    """Validate every [energy] and [area] entry of a shared table; returns how many entries it has."""
    path = Path(path)
    text = read_text(path)
    table = parse_toml(text, path)
    unknown = sorted(set(table) - set(ENERGY_TABLE_KEYS))
    if unknown:
        raise ConfigError("unknown key in an energy table", file=path, field=unknown[0],
                          line=toml_line_of(text, unknown[0]), allowed=", ".join(ENERGY_TABLE_KEYS))

    def locate(field: str) -> tuple[str, int | None]:
        return field, toml_line_of(text, field)

    count = 0
    for section, entry_type in (("energy", EnergyEntry), ("area", AreaEntry)):
        entries = flatten_entries(table.get(section, {}))
        validate_table(dict[str, entry_type], entries, (section,), path, locate)
        count += len(entries)
    return count
