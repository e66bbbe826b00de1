"""Hardware: the immutable, validated spec and its loaders (our TOML, SCALE-Sim .cfg, MAESTRO hardware .m)."""
from sim.hardware.spec import DATAFLOWS, Hardware

__all__ = ["DATAFLOWS", "Hardware"]
