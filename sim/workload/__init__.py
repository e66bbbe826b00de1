"""Workloads: the Layer record and the trace loaders (SCALE-Sim topology CSV, trace CSV, MAESTRO .m)."""
from sim.workload.layer import LAYER_KINDS, GemmShape, Layer

__all__ = ["LAYER_KINDS", "GemmShape", "Layer"]
