"""The engine-matching ("native") directive model: the step schedule the directive engine runs
(sim.mapping.directive_plan), priced in closed form.

The schedule's counts (MACs, NoC words, L1/L2/DRAM accesses, compute cycles) are the engine's by construction.
The latency is the engine's five-stage pipeline (DRAM -> L2 -> NoC -> PEs -> NoC -> L2 -> DRAM, one chunk of
steps per stage at a time, `depth` buffer halves) evaluated as a max-plus recurrence over the chunks instead of
SimPy events: each stage of chunk g starts when its previous stage for g, its own stage for g - 1 and the next
stage for g - depth are done. The NoC channels are FIFO servers (ceil(words / bandwidth) cycles, plus the hop
latency on arrival); DRAM reads and writes share one FIFO channel and are served in issue order. The only
difference from the engine is which of a read and a write issued in the same cycle goes first (the engine's
event order), so the two agree to within a transfer, usually exactly.

`plan_result` turns a plan and its cycle count into the LayerResult both the engine and this model return.
"""
from __future__ import annotations

import math
import time

from sim.energy.tables import apply
from sim.hardware.spec import DirectiveArraySpec, DramSpec, Hardware
from sim.mapping.directive_plan import DirectivePlan
from sim.records import ActionCounts, FunctionalCheck, LayerResult, OperandCounts
from sim.workload.layer import Layer


def _hold(words: int, bandwidth: float) -> int:
    if words <= 0 or math.isinf(bandwidth):
        return 0
    return math.ceil(words / bandwidth)


def offchip_dram(spec: DirectiveArraySpec) -> DramSpec:
    """The off-chip link as the engine's DRAM model sees it (a bandwidth DRAM of word-sized bursts)."""
    return DramSpec(bandwidth_bytes_per_cycle=spec.offchip_bandwidth_words_per_cycle * spec.word_bytes,
                    burst_bytes=spec.word_bytes)


def pipeline_cycles(spec: DirectiveArraySpec, plan: DirectivePlan) -> int:
    """Cycles of the plan's chunk pipeline (see the module docstring); at least its compute cycles."""
    n = len(plan.chunk_compute)
    depth = 2 if spec.double_buffered else 1
    noc_bw = float(spec.noc_bandwidth_words_per_cycle)
    noc_latency = spec.noc_hops * spec.noc_latency_cycles
    dram = offchip_dram(spec)
    dram_bw = float(dram.bandwidth_bytes_per_cycle)
    word = spec.word_bytes

    def dram_cycles(words: int) -> int:
        size = words * word
        if size <= 0 or math.isinf(dram_bw):
            return 0
        return math.ceil(-(-size // dram.burst_bytes) * dram.burst_bytes / dram_bw)

    fetched, delivered, computed, collected, drained = ([0] * n for _ in range(5))
    channel_free = 0
    fetch_next = drain_next = 0

    def fetch_issue(g: int) -> int:
        t = fetched[g - 1] if g else 0
        return max(t, delivered[g - depth]) if g >= depth else t

    def drain_issue(g: int) -> int:
        return max(drained[g - 1] if g else 0, collected[g])

    while drain_next < n:
        if fetch_next < n and (drain_next >= fetch_next or fetch_issue(fetch_next) <= drain_issue(drain_next)):
            g = fetch_next
            t = fetch_issue(g)
            if plan.dram_in[g]:
                start = max(t, channel_free)
                channel_free = start + dram_cycles(plan.dram_in[g])
                t = channel_free + dram.latency_cycles  # reads wait for their data
            fetched[g] = t
            t = max(fetched[g], delivered[g - 1] if g else 0)
            if g >= depth:
                t = max(t, computed[g - depth])
            words = (plan.chunk_input[g], plan.chunk_filter[g])
            if any(words):
                t += sum(_hold(w, noc_bw) for w in words) + noc_latency
            delivered[g] = t
            t = max(delivered[g], computed[g - 1] if g else 0)
            if g >= depth:
                t = max(t, collected[g - depth])
            computed[g] = t + plan.chunk_compute[g]
            t = max(computed[g], collected[g - 1] if g else 0)
            if plan.chunk_egress[g]:
                t += _hold(plan.chunk_egress[g], noc_bw) + noc_latency
            collected[g] = t
            fetch_next += 1
        else:
            g = drain_next
            t = drain_issue(g)
            if plan.dram_out[g]:
                start = max(t, channel_free)
                channel_free = t = start + dram_cycles(plan.dram_out[g])  # writes are posted
            drained[g] = t
            drain_next += 1
    end = max((max(stage) for stage in (fetched, delivered, computed, collected, drained)), default=0)
    return max(end, plan.compute_cycles)


def plan_result(layer: Layer, hw: Hardware, plan: DirectivePlan, cycles: int, *, model: str, start: float,
                functional: FunctionalCheck | None = None) -> LayerResult:
    """The LayerResult of a layer run as `plan` in `cycles` (the engine's and the native model's, alike), with
    MAESTRO-named statistics in `extra`."""
    spec = hw.directive_array
    sizes = plan.sizes
    macs = plan.macs
    egress = plan.egress_words
    dram_read_words, dram_write_words = sum(plan.dram_in), sum(plan.dram_out)
    # Partial sums that left L1 before they were final come back before they are finished (a read-back each).
    readback = max(egress - sizes["output"], 0)
    l1_writes = plan.input_words * plan.multicast["input"] + plan.filter_words * plan.multicast["filter"] + macs
    noc_words = plan.input_words + plan.filter_words + egress + readback
    actions = ActionCounts.of({
        "mac": macs,
        "l1.read": 3 * macs,  # an input, a weight and the partial sum per MAC
        "l1.write": l1_writes,
        "l2.read": plan.input_words + plan.filter_words + readback,
        "l2.write": egress + (dram_read_words if not plan.fits_l2 else sizes["input"] + sizes["filter"]),
        "noc.transfer": noc_words,
        "dram.read_byte": (dram_read_words + (readback if not plan.fits_l2 else 0)) * spec.word_bytes,
        "dram.write_byte": dram_write_words * spec.word_bytes,
    })
    energy = apply(actions, hw.energy)
    stats: dict[str, float] = {
        "NumPEs": spec.num_pes,
        "Runtime (Cycles)": cycles,
        "Throughput (MACs/Cycle)": macs / cycles if cycles else 0.0,
        "NoC BW Req (Elements/cycle)": plan.peak_noc_bw,
        "Avg BW Req": plan.mean_noc_bw,
        "Peak BW Req": plan.peak_noc_bw,
        "L2 SRAM Size Req (Bytes)": 2 * (plan.first_in + plan.first_out) * spec.word_bytes,
        "L1 SRAM Size Req (Bytes)": 2 * sum(plan.pe_tile.values()) * spec.word_bytes,
        "Num MACs": macs,
        "Avg number of utilized PEs": plan.mean_active_pes,
        "Num Total Input Pixels": sizes["input"],
        "Num Total Weight Pixels": sizes["filter"],
        "Output Elements": sizes["output"],
        "MAC Coverage": macs / layer.macs if layer.macs else 0.0,
        "PE Input Tile (Elements)": plan.pe_tile["input"],
        "PE Filter Tile (Elements)": plan.pe_tile["filter"],
        "PE Output Tile (Elements)": plan.pe_tile["output"],
        "Cluster Levels": plan.levels,
        "Top Level Steps": plan.steps,
        "NoC Traffic (Elements)": noc_words,
        "input l2 read": plan.input_words,
        "filter l2 read": plan.filter_words,
        "output l2 write": egress,
        "input l1 write": plan.input_words * plan.multicast["input"],
        "filter l1 write": plan.filter_words * plan.multicast["filter"],
        "Multicasting Factor (Input)": plan.multicast["input"],
        "Multicasting Factor (Weight)": plan.multicast["filter"],
        "Spatial Reduction Factor": plan.reduction,
        "NoC Reduction Adds": (plan.reduction - 1) * egress if plan.reduction > 1 else 0,
        "Fits L2": int(plan.fits_l2),
    }
    compute_cycles = plan.compute_cycles
    cycles = max(cycles, compute_cycles)
    return LayerResult(
        name=layer.name,
        kind=layer.kind,
        model=model,
        macs=macs,
        cycles=cycles,
        compute_cycles=compute_cycles,
        stall_cycles=cycles - compute_cycles,
        utilization=macs / (spec.num_pes * cycles) if cycles else 0.0,
        mapping_efficiency=plan.mean_active_pes / spec.num_pes,
        folds=plan.steps,
        sram_reads=OperandCounts(plan.input_words, plan.filter_words, readback),
        sram_writes=OperandCounts(0, 0, egress),
        dram_reads=OperandCounts(sizes["input"], sizes["filter"], readback if not plan.fits_l2 else 0),
        dram_writes=OperandCounts(0, 0, dram_write_words),
        actions=actions,
        energy=energy,
        sim_wall_s=time.perf_counter() - start,
        functional=functional,
    ).with_extra(stats)
