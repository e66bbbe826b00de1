"""Energy and area: action counts x the hardware config's per-action tables."""
from sim.energy.tables import apply, component_of

__all__ = ["apply", "component_of"]
