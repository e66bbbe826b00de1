"""Hardware: the immutable, validated spec and its loaders (our TOML, SCALE-Sim .cfg, MAESTRO hardware .m).

`load_hardware(path)` picks the loader by suffix; `dump_hardware_toml(hw)` writes our TOML back.
"""
from sim.hardware.load import check_hardware, load_hardware
from sim.hardware.scalesim_cfg import load_scalesim_cfg
from sim.hardware.spec import DATAFLOWS, Hardware
from sim.hardware.toml_loader import dump_hardware_toml, load_hardware_toml

__all__ = ["DATAFLOWS", "Hardware", "check_hardware", "dump_hardware_toml", "load_hardware", "load_hardware_toml",
           "load_scalesim_cfg"]
