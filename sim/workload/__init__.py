"""Workloads: the Layer record and the trace loaders (SCALE-Sim topology CSV, trace CSV, MAESTRO .m, ONNX).

The ONNX loader (sim.workload.onnx_loader) imports the optional onnx package only when a model is read.
"""
from sim.workload.layer import LAYER_KINDS, GemmShape, Layer
from sim.workload.load import check_trace, load_trace
from sim.workload.scalesim_csv import write_scalesim_csv
from sim.workload.trace import Trace
from sim.workload.trace_csv import write_trace_csv

__all__ = ["LAYER_KINDS", "GemmShape", "Layer", "Trace", "check_trace", "load_trace", "write_scalesim_csv",
           "write_trace_csv"]
