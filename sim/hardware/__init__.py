"""Hardware: the immutable, validated spec and its loaders (our TOML, SCALE-Sim .cfg, MAESTRO hardware .m).

`load_hardware(path)` picks the loader by suffix; `dump_hardware_toml(hw)` writes our TOML back. Names are
imported on first use (PEP 562): checking a TOML config does not load the SCALE-Sim or MAESTRO readers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sim.lazy_exports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "DATAFLOWS": "sim.hardware.spec", "Hardware": "sim.hardware.spec",
    "check_hardware": "sim.hardware.load", "load_hardware": "sim.hardware.load",
    "dump_hardware_toml": "sim.hardware.toml_loader", "load_hardware_toml": "sim.hardware.toml_loader",
    "load_scalesim_cfg": "sim.hardware.scalesim_cfg",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("sim.hardware", _EXPORTS, globals())


if TYPE_CHECKING:
    from sim.hardware.load import check_hardware, load_hardware
    from sim.hardware.scalesim_cfg import load_scalesim_cfg
    from sim.hardware.spec import DATAFLOWS, Hardware
    from sim.hardware.toml_loader import dump_hardware_toml, load_hardware_toml
