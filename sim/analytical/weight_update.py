"""What a training step writes into ReRAM crossbars: per-cell write energy, row-by-row write latency, endurance used.

Per forward layer, three sets of cells are programmed every step (our arrangement; in-situ training designs such as
PipeLayer, Song et al., HPCA 2017, likewise keep separate arrays for the backward pass):
the weights W (updated), the crossbars of the backward-data operation (W transposed, updated likewise), and the
crossbars of the weight-gradient operation, whose stationary operand (dY for a conv, X for a tconv) is an
activation of this step. Each cell is written once per step, so the endurance a step consumes is
pulses_per_write / endurance_cycles of every written cell. Crossbars program in parallel, each its rows in turn.
"""
from __future__ import annotations

import math

from sim.hardware.reram_write import ReramWriteSpec
from sim.hardware.spec import Hardware
from sim.mapping.crossbar import map_crossbar
from sim.records import ActionCounts, EnergyBreakdown, LayerResult
from sim.workload.layer import Layer

# Which crossbars of a training op are written each step, and what the written cells hold.
WRITES_BY_PHASE = {"forward": "weight_update", "backward_data": "weight_update_transposed",
                   "weight_gradient": "gradient_program"}


def crossbar_write(layer: Layer, hw: Hardware, spec: ReramWriteSpec, name: str) -> LayerResult:
    """Programming every cell that `layer`'s stationary operand occupies on `hw`'s crossbars, as a LayerResult
    (no MACs; its cycles are the write time, its energy the cell writes)."""
    mapping = map_crossbar(layer, hw)
    writes = mapping.weight_cells * spec.pulses_per_write
    rows = min(mapping.rows_per_partition, mapping.crossbar_gemm.k)  # the fullest row partition of a crossbar
    latency_ns = rows * spec.latency_ns_per_row * spec.pulses_per_write
    cycles = math.ceil(latency_ns * hw.reram.clock_mhz / 1000)
    energy = writes * spec.energy_pj_per_cell
    return LayerResult(
        name=name, kind=layer.kind, model="analytical", macs=0, cycles=cycles, compute_cycles=cycles,
        stall_cycles=0, utilization=0.0, mapping_efficiency=mapping.crossbar_utilization,
        actions=ActionCounts.of({"reram.write_cell": writes}),
        energy=EnergyBreakdown.of({"reram_write": energy},
                                  {"reram.write_cell": f"{spec.source_file}: energy_pj_per_cell"}),
        extra=(("cells_written", float(mapping.weight_cells)), ("endurance_per_step", spec.pulses_per_write
                                                                 / spec.endurance_cycles),
               ("steps_to_wearout", spec.endurance_cycles / spec.pulses_per_write),
               ("write_latency_ns", latency_ns)),
    )


def training_writes(ops, hw: Hardware, spec: ReramWriteSpec) -> tuple[LayerResult, ...]:
    """One write record per training op (sim.workload.training.TrainingOp), named <layer>.<what is written>."""
    return tuple(crossbar_write(op.layer, hw, spec, f"{op.forward_layer}.{WRITES_BY_PHASE[op.phase]}")
                 for op in ops)
