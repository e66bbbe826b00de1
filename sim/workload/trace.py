"""A trace: the ordered layers of one network, with the directive mapping of each layer when it has one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sim.workload.layer import Layer


@dataclass(frozen=True)
class Trace:
    name: str
    layers: tuple[Layer, ...]
    source_file: str = ""
    # One entry per layer: the parsed MAESTRO Dataflow block of that layer, or None (see sim.workload.maestro).
    dataflows: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if self.dataflows and len(self.dataflows) != len(self.layers):
            raise ValueError("dataflows must have one entry per layer")

    def dataflow_of(self, index: int) -> Any:
        return self.dataflows[index] if self.dataflows else None
