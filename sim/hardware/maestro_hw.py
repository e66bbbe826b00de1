"""MAESTRO's hardware .m file -> Hardware with a [directive_array] section.

The file is `key: value` lines (MAESTRO's HW parser): num_pes, l1_size_cstr (bytes per PE), l2_size_cstr
(bytes), noc_bw_cstr (elements/cycle), offchip_bw_cstr (elements/cycle); all five are required. We also
accept vector_width, noc_hops and noc_hop_latency (MAESTRO's defaults: 1, 1, 1). `//` and `#` start
comments. The energy table is hw_configs/energy/maestro.toml (MAESTRO's relative per-access energies).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.hardware.toml_loader import merge_energy_tables, read_text
from sim.hardware.validation import validate_hardware

# Package data (sim/hardware/energy links to hw_configs/energy and is copied into a wheel), so the default
# table is found without the source tree.
ENERGY_DIR = Path(__file__).resolve().parent / "energy"
DEFAULT_ENERGY_TABLE = ENERGY_DIR / "maestro.toml"

# MAESTRO key -> (directive_array field, required)
KEYS: dict[str, tuple[str, bool]] = {
    "num_pes": ("num_pes", True),
    "l1_size_cstr": ("l1_size_bytes", True),
    "l2_size_cstr": ("l2_size_bytes", True),
    "noc_bw_cstr": ("noc_bandwidth_words_per_cycle", True),
    "offchip_bw_cstr": ("offchip_bandwidth_words_per_cycle", True),
    "vector_width": ("vector_width", False),
    "noc_hops": ("noc_hops", False),
    "noc_hop_latency": ("noc_latency_cycles", False),
}
_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(\S+)\s*;?\s*$")


def hardware_from_maestro_text(text: str, file: str | Path, *,
                               energy_table: str | Path | None = DEFAULT_ENERGY_TABLE,
                               convention: str = "native") -> Hardware:
    """A Hardware from MAESTRO hardware-file source; every problem is a ConfigError with file and line.
    `convention` is the analytical model's cycle convention ("native": the engine's schedule; "maestro")."""
    file = Path(file)
    values: dict[str, int] = {}
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        content = re.split(r"//|#", line, maxsplit=1)[0]
        if not content.strip():
            continue
        match = _LINE.match(content)
        if match is None:
            raise ConfigError("expected 'key: value'", file=file, line=number, value=line.strip(),
                              allowed=", ".join(KEYS))
        key, raw = match.groups()
        if key not in KEYS:
            raise ConfigError("unknown MAESTRO hardware key", file=file, line=number, field=key, value=key,
                              allowed=", ".join(KEYS))
        if key in values:
            raise ConfigError("key given twice", file=file, line=number, field=key, value=raw)
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < 1:
            raise ConfigError("must be a positive integer", file=file, line=number, field=key, value=raw,
                              allowed="an integer from 1 to 999999999999999999")
        values[key] = int(raw)
        lines[key] = number
    missing = [key for key, (_, required) in KEYS.items() if required and key not in values]
    if missing:
        raise ConfigError("missing MAESTRO hardware key", file=file, field=missing[0], value=None,
                          allowed="all of " + ", ".join(k for k, (_, r) in KEYS.items() if r))
    raw_hw: dict[str, Any] = {
        "name": file.stem,
        "description": f"MAESTRO hardware file {file.name}",
        "source_file": str(file),
        "directive_array": {**{KEYS[key][0]: value for key, value in values.items()}, "cycle_convention": convention},
    }
    if energy_table is not None:
        table = Path(energy_table).resolve()
        raw_hw["energy_tables"] = [str(table)]
        raw_hw = merge_energy_tables(raw_hw, file, include_root=table.parent)  # ours, not the user's
    field_to_key = {f"directive_array.{field}": key for key, (field, _) in KEYS.items()}

    def locate(field: str) -> tuple[str, int | None]:
        key = field_to_key.get(field)
        return (key, lines.get(key)) if key else (field, None)

    return validate_hardware(raw_hw, file, locate)


def load_maestro_hardware(path: str | Path, *, energy_table: str | Path | None = DEFAULT_ENERGY_TABLE,
                          convention: str = "native") -> Hardware:
    """A MAESTRO hardware .m file (num_pes, l1_size_cstr, l2_size_cstr, noc_bw_cstr, offchip_bw_cstr)."""
    path = Path(path)
    return hardware_from_maestro_text(read_text(path), path, energy_table=energy_table, convention=convention)
