"""The ReRAM write spec (configs/reram_write.toml): what programming a cell costs and how often a cell can be written."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from sim.errors import ConfigError

DEFAULT_WRITE_SPEC = Path(__file__).resolve().parents[2] / "configs" / "reram_write.toml"
_FIELDS = {"energy_pj_per_cell": float, "latency_ns_per_row": float, "pulses_per_write": int,
           "endurance_cycles": float}


@dataclass(frozen=True)
class ReramWriteSpec:
    energy_pj_per_cell: float
    latency_ns_per_row: float
    pulses_per_write: int
    endurance_cycles: float
    source_file: str = ""


def load_reram_write(path: str | Path | None = None) -> ReramWriteSpec:
    """The write spec from `path` (default: the shipped configs/reram_write.toml); ConfigError naming the field."""
    path = Path(path) if path is not None else DEFAULT_WRITE_SPEC
    try:
        table = tomllib.loads(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read the ReRAM write spec: {err.strerror}", file=path) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"not valid TOML: {err}", file=path) from err
    unknown = sorted(set(table) - set(_FIELDS) - {"description"})
    if unknown:
        raise ConfigError("unknown key", file=path, field=unknown[0], allowed=", ".join(_FIELDS))
    values = {}
    for name, kind in _FIELDS.items():
        if name not in table:
            raise ConfigError("missing field", file=path, field=name, allowed=f"a positive {kind.__name__}")
        value = table[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 \
                or (kind is int and not isinstance(value, int)):
            raise ConfigError("must be a positive number", file=path, field=name, value=value,
                              allowed=f"a positive {kind.__name__}")
        values[name] = kind(value)
    return ReramWriteSpec(**values, source_file=str(path))
