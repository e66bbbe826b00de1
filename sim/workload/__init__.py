"""Workloads: the Layer record and the trace loaders (SCALE-Sim topology CSV, trace CSV, MAESTRO .m, ONNX).

The ONNX loader (sim.workload.onnx_loader) imports the optional onnx package only when a model is read. Names
are imported on first use (PEP 562): a module that needs only the Layer record (a system config's partition
check) does not load the trace readers.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sim.lazy_exports import lazy_exports

# Public name -> the module that defines it.
_EXPORTS = {
    "LAYER_KINDS": "sim.workload.layer", "GemmShape": "sim.workload.layer", "Layer": "sim.workload.layer",
    "check_trace": "sim.workload.load", "load_trace": "sim.workload.load",
    "write_scalesim_csv": "sim.workload.scalesim_csv", "Trace": "sim.workload.trace",
    "write_trace_csv": "sim.workload.trace_csv",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports("sim.workload", _EXPORTS, globals())


if TYPE_CHECKING:
    from sim.workload.layer import LAYER_KINDS, GemmShape, Layer
    from sim.workload.load import check_trace, load_trace
    from sim.workload.scalesim_csv import write_scalesim_csv
    from sim.workload.trace import Trace
    from sim.workload.trace_csv import write_trace_csv
