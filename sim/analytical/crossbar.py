"""Closed-form ReRAM crossbar model (ISAAC-style timing, action counts, energy) for one mapped layer.

Time (engine clock = reram.clock_mhz), for one image:
- a read round costs `stage_cycles` = max(crossbar read, ADC stage); the sample-and-hold lets the next
  read overlap the current conversion, so rounds pipeline (PUMA's T_mvm = t_stage (reads + stages - 1));
- the ADC stage of a round is waves x conversion time, waves = ceil(ADC units the IMA's crossbars need /
  adcs_per_ima), conversion time = min(columns, cols_per_adc) / sample rate;
- all crossbars (all groups, partitions) of one replica work in lockstep on the same vector; replicas
  split the vectors; compute_cycles = (ceil(vectors / replicas) x reads_per_vector + stages - 1) x stage;
- each tile's eDRAM port (one access per cycle) and bus (one transfer per cycle) move every vector's
  inputs in and outputs out; cycles = max(compute, memory + one stage), stall = cycles - compute.

`utilization` = MACs / (MAC rate of the provisioned crossbars x cycles), where one crossbar delivers
rows x cols / (weight_slices x polarity) MACs per input_slices read rounds; `mapping_efficiency` is the
cell utilization (cells holding a weight slice / provisioned cells).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from sim.energy.adc_law import reram_energy_table
from sim.energy.tables import apply
from sim.hardware.spec import Hardware
from sim.mapping.crossbar import (
    CrossbarMapping,
    ceil_div,
    full_scale_bits,
    map_crossbar_trace,
    mapping_for,
)
from sim.records import (
    ActionCounts,
    CrossbarStats,
    LayerResult,
    OperandCounts,
    RunResult,
)
from sim.workload.layer import Layer
from sim.workload.trace import Trace


@dataclass(frozen=True)
class CrossbarTiming:
    """Per-read and per-vector cycle costs of a mapped layer (shared by the analytical model and engine)."""

    read_cycles: int  # one analog crossbar read (DAC drive + column settle)
    conversion_cycles: int  # one ADC unit converting its columns of one read
    adc_waves: int  # conversion rounds the IMA's ADC pool needs per read round
    stage_cycles: int  # one pipelined read round: max(read, ADC stage)
    pipeline_stages: int
    vectors_per_replica: int
    reads_per_vector: int
    edram_reads_per_vector: int  # per tile, 256-bit (port-width) accesses
    edram_writes_per_vector: int
    bus_transfers_per_vector: int
    flits_per_vector: int
    rotation_rounds: int = 1  # circulant rotation rounds per vector (k/u), 1 for dense layers
    round_gap_cycles: int = 0  # drain between rotation rounds without ReBoc's intra-layer pipeline

    @property
    def adc_stage_cycles(self) -> int:
        return self.adc_waves * self.conversion_cycles

    @property
    def compute_cycles(self) -> int:
        pipelined = (self.vectors_per_replica * self.reads_per_vector + self.pipeline_stages - 1) * self.stage_cycles
        # without the intra-layer pipeline every round but the last waits for its predecessor to drain
        return pipelined + (self.vectors_per_replica * self.rotation_rounds - 1) * self.round_gap_cycles

    @property
    def memory_cycles_per_vector(self) -> int:
        return max(self.edram_reads_per_vector + self.edram_writes_per_vector, self.bus_transfers_per_vector)


def crossbar_columns_used(mapping: CrossbarMapping) -> int:
    """Columns of the fullest crossbar (the one that sets the ADC time of a read)."""
    reram = mapping.reram
    if reram.slice_placement == "adjacent_columns":
        return mapping.outputs_per_crossbar * mapping.weight_slices * mapping.polarity + mapping.unit_columns
    return mapping.outputs_per_crossbar + mapping.unit_columns


def timing(mapping: CrossbarMapping) -> CrossbarTiming:
    reram = mapping.reram
    clock_ghz = reram.clock_mhz / 1000.0
    columns = crossbar_columns_used(mapping)
    per_unit = min(columns, reram.adc.cols_per_adc)
    units_per_crossbar = ceil_div(columns, reram.adc.cols_per_adc)
    crossbars_in_ima = min(reram.crossbars_per_ima, mapping.crossbars_per_replica)
    read_cycles = ceil_div(round(reram.read_latency_ns * reram.clock_mhz), 1000)
    conversion_cycles = max(1, -(-round(per_unit * clock_ghz * 1e6) // round(reram.adc.sample_rate_gsps * 1e6)))
    waves = ceil_div(crossbars_in_ima * units_per_crossbar, reram.adcs_per_ima)
    stage = max(read_cycles, waves * conversion_cycles)
    fetch = mapping.input_fetch_multiplier
    return CrossbarTiming(
        read_cycles=read_cycles, conversion_cycles=conversion_cycles, adc_waves=waves, stage_cycles=stage,
        pipeline_stages=reram.pipeline_stages,
        vectors_per_replica=ceil_div(mapping.vectors, mapping.replication),
        reads_per_vector=mapping.reads_per_vector,
        edram_reads_per_vector=mapping.groups * fetch * ceil_div(mapping.input_bits_per_vector, reram.edram_port_bits),
        edram_writes_per_vector=mapping.groups * ceil_div(mapping.output_bits_per_vector, reram.edram_port_bits),
        bus_transfers_per_vector=mapping.groups * fetch * ceil_div(mapping.input_bits_per_vector, reram.bus_bits),
        flits_per_vector=mapping.groups * ceil_div(mapping.output_bits_per_vector, reram.noc_flit_bits),
        rotation_rounds=mapping.rounds,
        round_gap_cycles=0 if reram.intra_layer_pipeline or mapping.rounds == 1
        else (reram.pipeline_stages - 1) * stage,
    )


def action_counts(mapping: CrossbarMapping, cycles: int) -> ActionCounts:
    """Every action of one image through the layer; identical in the analytical model and the engine."""
    t = timing(mapping)
    vectors = mapping.vectors
    conversions = mapping.adc_conversions
    partial_sums = mapping.groups * vectors * mapping.outputs * max(0, mapping.row_partitions - 1) * mapping.rounds
    partial_sums += mapping.overlap_adds  # RED's overlap-add of pixel-wise partial products
    return ActionCounts.of({
        "crossbar.read": mapping.crossbar_reads,
        "input_register.read": mapping.crossbar_reads,
        "dac.convert": mapping.dac_conversions,
        "sample_hold.sample": conversions,
        "adc.convert": conversions,
        "shift_add.op": conversions,
        "output_register.write": conversions,
        "tile_shift_add.op": partial_sums,  # adding the row partitions' partial sums
        "edram.read": vectors * t.edram_reads_per_vector,
        "edram.write": vectors * t.edram_writes_per_vector,
        "bus.transfer": vectors * t.bus_transfers_per_vector,
        "router.flit": vectors * t.flits_per_vector,
        "leakage.cycle": cycles,
    })


def required_bits_bound(mapping: CrossbarMapping) -> int:
    """Lossless ADC bits for the mapped rows of one read without knowing the weights (worst case)."""
    reram = mapping.reram
    rows = min(mapping.crossbar_gemm.k, mapping.rows_per_partition)
    return full_scale_bits(rows, reram.dac_bits, reram.cell_bits, reram.adc.column_flip, reram.prune_nonzero)


def utilization(mapping: CrossbarMapping, cycles: int, stage_cycles: int) -> float:
    reram = mapping.reram
    if cycles <= 0:
        return 0.0
    capacity = mapping.crossbars * reram.crossbar_rows * reram.crossbar_cols * cycles
    return mapping.crossbar_gemm.macs * mapping.weight_slices * mapping.polarity * mapping.input_slices * stage_cycles / capacity


def layer_result(mapping: CrossbarMapping, hw: Hardware, *, model: str, cycles: int, compute_cycles: int,
                 stall_cycles: int, output_error: float | None = None, adc_bits_required: int | None = None,
                 extra: dict[str, float] | None = None, wall_s: float = 0.0) -> LayerResult:
    """The LayerResult both sides return, from the mapping's counts and the side's cycles."""
    t = timing(mapping)
    actions = action_counts(mapping, cycles)
    energy = apply(actions, reram_energy_table(hw, mapping.adc_bits_configured))
    total = energy.total_pj
    components = energy.as_dict()
    layer = mapping.layer
    vectors = mapping.vectors
    stats = CrossbarStats(
        crossbars=mapping.crossbars, crossbar_utilization=mapping.crossbar_utilization,
        adc_conversions=mapping.adc_conversions, dac_conversions=mapping.dac_conversions,
        crossbar_reads=mapping.crossbar_reads, output_error=output_error,
        adc_bits_configured=mapping.adc_bits_configured,
        adc_bits_required=adc_bits_required if adc_bits_required is not None else required_bits_bound(mapping))
    details = {
        "row_partitions": mapping.row_partitions, "col_partitions": mapping.col_partitions,
        "rounds": mapping.rounds, "duplication": mapping.duplication, "replication": mapping.replication,
        "imas": mapping.imas, "tiles": mapping.tiles, "unique_weight_utilization": mapping.unique_weight_utilization,
        "weight_cells": mapping.weight_cells, "provisioned_cells": mapping.provisioned_cells,
        "read_cycles": t.read_cycles, "adc_stage_cycles": t.adc_stage_cycles, "stage_cycles": t.stage_cycles,
        "adc_energy_share": components.get("adc", 0.0) / total if total else 0.0,
        "latency_ns": cycles * 1000.0 / mapping.reram.clock_mhz,
        "circulant_compressed": 1.0 if mapping.mode == "compressed" else 0.0,
    }
    if mapping.pixel_wise:
        details["deconv_pixel_wise"] = 1.0
    if mapping.mode == "compressed":
        details.update({"duplication_intra": mapping.duplication_intra,
                        "duplication_across": mapping.duplication_across,
                        "input_buffer_bytes": mapping.input_buffer_bits / 8})
    details.update(extra or {})
    result = LayerResult(
        name=layer.name, kind=layer.kind, model=model, macs=layer.macs, cycles=cycles,
        compute_cycles=compute_cycles, stall_cycles=stall_cycles,
        utilization=utilization(mapping, cycles, t.stage_cycles), mapping_efficiency=mapping.crossbar_utilization,
        folds=mapping.crossbars,
        sram_reads=OperandCounts(ifmap=mapping.groups * vectors * mapping.crossbar_gemm.k
                                 * mapping.input_fetch_multiplier),
        sram_writes=OperandCounts(ofmap=layer.ofmap_elements if mapping.pixel_wise
                                  else mapping.groups * vectors * layer.gemm.n),
        actions=actions, energy=energy, sim_wall_s=wall_s, crossbar=stats,
    )
    return result.with_extra(details)


def estimate_crossbar(layer: Layer, hw: Hardware, mapping: CrossbarMapping | None = None) -> LayerResult:
    """Closed-form result for one layer on a ReRAM crossbar chip (model="analytical")."""
    start = time.perf_counter()
    mapping = mapping_for(layer, hw, mapping)
    t = timing(mapping)
    compute = t.compute_cycles
    memory = t.vectors_per_replica * t.memory_cycles_per_vector + t.stage_cycles
    cycles = max(compute, memory)
    return layer_result(mapping, hw, model="analytical", cycles=cycles, compute_cycles=compute,
                        stall_cycles=cycles - compute, wall_s=time.perf_counter() - start)


def estimate_crossbar_trace(trace: Trace, hw: Hardware) -> RunResult:
    """Every layer with the same trace-level placement (replication, chips) as `simulate_crossbar_trace`.

    Use this rather than per-layer `estimate_crossbar` when comparing with the engine's trace run, since
    replicated layers split their vectors over the replicas.
    """
    mappings = map_crossbar_trace(trace.layers, hw)
    layers = tuple(estimate_crossbar(layer, hw, mapping) for layer, mapping in zip(trace.layers, mappings))
    used = sum(m.crossbars for m in mappings)
    metadata = (("pipeline_interval_cycles", max((r.cycles for r in layers), default=0)),
                ("crossbars_used", used), ("crossbars_total", hw.reram.crossbar_capacity(used)),
                ("chips", ceil_div(used, hw.reram.crossbars_per_chip)), ("clock_mhz", hw.reram.clock_mhz))
    return RunResult(hardware=hw.name, trace=trace.name, model="analytical", layers=layers, metadata=metadata)
