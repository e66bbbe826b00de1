"""sim: a cycle-level simulator for DNN accelerators (systolic / directive PE arrays and ReRAM crossbars).

The API (see sim.api): load_trace, load_hardware, load_mapping, map_layer, simulate, estimate, compare,
train and training_trace (training steps), load_system and simulate_system (several accelerators),
layer_values and infer (functional simulation with your tensors and ONNX models),
and sweep (design-space exploration, sim.sweep.run). Note: `sim.sweep` is the function; its package's
other names are imported as `from sim.sweep import load_sweep_spec, SweepSpec, SweepResult`.
"""
from sim.api import (
    compare,
    estimate,
    infer,
    layer_values,
    load_hardware,
    load_mapping,
    load_system,
    load_trace,
    map_layer,
    simulate,
    simulate_system,
    train,
    training_trace,
)
from sim.errors import ConfigError, MappingError, SimError, TraceError
from sim.hardware.spec import Hardware
from sim.records import LayerResult, RunResult
from sim.sweep import SweepResult, SweepSpec, load_sweep_spec, sweep
from sim.workload.layer import Layer
from sim.workload.trace import Trace

__version__ = "0.1.0"

__all__ = [
    "ConfigError", "Hardware", "Layer", "LayerResult", "MappingError", "RunResult", "SimError", "Trace", "TraceError",
    "SweepResult", "SweepSpec", "compare", "estimate", "load_hardware", "load_mapping", "load_sweep_spec", "load_trace",
    "map_layer", "simulate", "sweep", "infer", "layer_values", "train", "training_trace", "load_system",
    "simulate_system",
]
