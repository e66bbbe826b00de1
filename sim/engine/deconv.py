"""Zero-skipping transposed convolutions on the engine: each tconv runs as its stride-phase convolutions
(`sim.mapping.deconv`), one after the other on the same clock, buffers and DRAM as the rest of the trace, and
comes back as one record (`sim.analytical.deconv.merge_phases`). `zero_skipping_ofmap` computes a tconv's output
values that way through the fast systolic model, so they can be compared with the zero-insertion path's.
"""
from __future__ import annotations

import numpy as np

from sim.analytical.deconv import merge_phases, phases_of
from sim.hardware.spec import Hardware
from sim.kernels.systolic_fast import run_layer_functional
from sim.mapping.deconv import phase_operands, scatter_phase
from sim.mapping.operands import ofmap_shape
from sim.mapping.systolic import map_systolic
from sim.records import RunResult
from sim.workload.layer import Layer
from sim.workload.trace import Trace


def zero_skipping_ofmap(layer: Layer, hw: Hardware, ifmap: np.ndarray, filters: np.ndarray,
                        dataflow: str | None = None) -> tuple[np.ndarray, bool]:
    """The tconv's (B, E, F, O) output values from its phases on the array, and whether an accumulator wrapped."""
    out = np.zeros(ofmap_shape(layer), dtype=np.int64)
    overflow = False
    for phase in phases_of(layer):
        x, w = phase_operands(phase, ifmap, filters)
        values, wrapped = run_layer_functional(phase.layer, map_systolic(phase.layer, hw, dataflow), x, w,
                                               hw.pe_array.accumulator_bits)
        scatter_phase(out, phase, values, (layer.stride_h, layer.stride_w))
        overflow |= wrapped
    return out, overflow


def simulate_zero_skipping(trace: Trace, hw: Hardware, run_expanded) -> RunResult:
    """`run_expanded(trace)` (the engine's trace run) on the trace with every tconv replaced by its phases, with
    the phases' records merged back into one per tconv and their bandwidth windows concatenated."""
    expanded, owner, dataflows = [], [], []
    for index, layer in enumerate(trace.layers):
        parts = [p.layer for p in phases_of(layer)] if layer.kind == "tconv" else [layer]
        expanded += parts
        owner += [index] * len(parts)
        dataflows += [trace.dataflows[index] if trace.dataflows else None] * len(parts)
    run = run_expanded(Trace(name=trace.name, layers=tuple(expanded), source_file=trace.source_file,
                             dataflows=tuple(dataflows) if trace.dataflows else ()))
    metadata = dict(run.metadata)
    windows = metadata.get("bandwidth_windows", ())
    layers, merged_windows = [], []
    for index, layer in enumerate(trace.layers):
        mine = [i for i, o in enumerate(owner) if o == index]
        records = [run.layers[i] for i in mine]
        layers.append(merge_phases(layer, records, hw.pe_array.pes) if layer.kind == "tconv" else records[0])
        if windows:
            merged_windows.append(tuple(v for i in mine for v in windows[i]))
    if windows:
        metadata["bandwidth_windows"] = tuple(merged_windows)
    return RunResult(hardware=run.hardware, trace=trace.name, model=run.model, layers=tuple(layers), pes=run.pes,
                     metadata=tuple(metadata.items()))


__all__ = ["simulate_zero_skipping", "zero_skipping_ofmap"]
