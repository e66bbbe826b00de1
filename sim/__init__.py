"""sim: a cycle-level simulator for DNN accelerators (systolic / directive PE arrays and ReRAM crossbars).

The API (see sim.api): load_trace, load_hardware, load_mapping, write_mappings, map_layer, map (the mapper), simulate, estimate,
compare, layer_values and infer (functional simulation with your tensors and ONNX models), training_trace and
train (one training step), load_system and simulate_system (several accelerators),
and sweep (design-space exploration, sim.sweep.run). Note: `sim.sweep` is the sweep package, callable as the
`sweep` function; its other names are imported as `from sim.sweep import load_sweep_spec, SweepSpec, SweepResult`.

Names are imported on first use (PEP 562), so `import sim` and the `sim` command start without loading
pydantic, numpy, the engine or the sweep package until they are needed.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sim.lazy_exports import lazy_exports

__version__ = "0.1.0"

# Public name -> the module that defines it.
_EXPORTS = {
    "compare": "sim.api", "estimate": "sim.api", "infer": "sim.api", "layer_values": "sim.api",
    "load_hardware": "sim.api", "load_mapping": "sim.api",
    "load_trace": "sim.api", "map": "sim.api", "map_layer": "sim.api", "simulate": "sim.api", "write_mappings": "sim.api",
    "training_trace": "sim.api", "train": "sim.api", "load_system": "sim.api", "simulate_system": "sim.api",
    "ConfigError": "sim.errors", "MappingError": "sim.errors", "SimError": "sim.errors", "TraceError": "sim.errors",
    "Hardware": "sim.hardware.spec", "LayerResult": "sim.records", "RunResult": "sim.records",
    "SweepResult": "sim.sweep", "SweepSpec": "sim.sweep", "load_sweep_spec": "sim.sweep",
    "Layer": "sim.workload.layer", "Trace": "sim.workload.trace",
}

__all__ = sorted([*_EXPORTS, "sweep"])


# `sim.sweep` is the package; calling it runs sim.sweep.run.sweep.
__getattr__, __dir__ = lazy_exports("sim", _EXPORTS, globals(), modules=("sweep",))


if TYPE_CHECKING:
    from sim.api import (compare, estimate, infer, layer_values, load_hardware, load_mapping, load_trace, map,
                         map_layer,
                         load_system, simulate, simulate_system, train, training_trace, write_mappings)
    from sim.errors import ConfigError, MappingError, SimError, TraceError
    from sim.hardware.spec import Hardware
    from sim.records import LayerResult, RunResult
    from sim.sweep import SweepResult, SweepSpec, load_sweep_spec, sweep
    from sim.workload.layer import Layer
    from sim.workload.trace import Trace
