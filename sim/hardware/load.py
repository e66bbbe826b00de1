"""`load_hardware(path)`: any supported hardware config file, chosen by its suffix."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.errors import ConfigError
from sim.hardware.spec import Hardware

FORMATS = {
    ".toml": "our hardware TOML",
    ".cfg": "a SCALE-Sim .cfg",
    ".m": "a MAESTRO hardware .m",
}


def _allowed() -> str:
    return ", ".join(f"{suffix} ({what})" for suffix, what in FORMATS.items())


def _toml(path: Path, include_root: Path | None = None) -> Hardware:
    from sim.hardware.toml_loader import load_hardware_toml

    return load_hardware_toml(path, include_root)


def _cfg(path: Path, include_root: Path | None = None) -> Hardware:
    from sim.hardware.scalesim_cfg import load_scalesim_cfg

    return load_scalesim_cfg(path)


def _maestro(path: Path, include_root: Path | None = None) -> Hardware:
    try:  # written by another module owner; imported lazily so the other formats never depend on it
        from sim.hardware.maestro_hw import load_maestro_hardware
    except ImportError as error:
        raise ConfigError(f"MAESTRO hardware .m files are not supported in this build ({error})", file=path,
                          allowed=_allowed()) from None
    return load_maestro_hardware(path)


LOADERS: dict[str, Callable[..., Hardware]] = {".toml": _toml, ".cfg": _cfg, ".m": _maestro}


def load_hardware(path: str | Path, *, include_root: str | Path | None = None) -> Hardware:
    """A validated Hardware from `path` (.toml, .cfg or .m); anything else is a ConfigError listing the formats.

    Files a config includes (`energy_tables`) must lie in its folder tree, or in `include_root`'s when given."""
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise ConfigError("unsupported hardware config format", file=path, value=path.suffix or "(no suffix)",
                          allowed=_allowed())
    if not path.exists() or path.is_dir():  # FIFOs and devices: the bounded reader says what they are
        what = "is a directory, not a file" if path.is_dir() else "not found"
        raise ConfigError(f"hardware config {what}", file=path, allowed=f"an existing file: {_allowed()}")
    return loader(path, Path(include_root) if include_root is not None else None)


def check_hardware(path: str | Path) -> Hardware:
    """What `sim check` runs on a hardware config: the full load, raising the ConfigError if there is one."""
    return load_hardware(path)
