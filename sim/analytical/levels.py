"""Per-level, per-operand access counts and energy of a systolic layer on an explicit memory hierarchy.

A pure function of (layer, hardware, mapping, the systolic model's counts), called by the closed form and by
the engine alike, so the two agree on every level exactly whenever their operand-buffer and DRAM counts agree
(ideal memory). Conventions (Timeloop's and ZigZag's; docs/mapping.md, "Memory hierarchy"):
- the staging level of an operand (its innermost l1 / global buffer) is the buffer the systolic models tile:
  its reads are the elements entering the array (forwarded PE to PE), its fills the DRAM (or outer level) reads;
- a per-PE register file holding an operand is read by every MAC (psums: read-modify-write), the stationary
  operand's innermost one once per run of u elements of T (Mapping.streamed_per_stationary_read); the stationary
  operand's is filled with what the level above reads for it (straight from DRAM without a staging level), a
  streamed operand's takes one element per MAC (forwarded PE to PE: one read above, one fill per PE);
- an outer on-chip level (between the staging level and DRAM) passes the staging level's DRAM traffic through,
  and fetches an operand from DRAM only once when the whole of it fits its share;
- a shared level's accesses are words of `word_bytes`, a partial word counting its fraction (ZigZag prices per
  access of up to its port width); a register's are whole words per element; bytes follow each operand's
  precision (partial sums at accumulator precision);
- cycles are the model's, or the time the busiest on-chip level needs at its bandwidth when that is longer.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sim.energy.tables import apply
from sim.errors import MappingError
from sim.hardware.hierarchy import share_bytes, staging_level
from sim.hardware.spec import Hardware, MemoryLevelSpec
from sim.mapping.buffering import psum_register, resolve
from sim.mapping.record import OPERANDS, Mapping
from sim.mapping.systolic import DATAFLOW_NAMES, _where, operand_totals
from sim.records import ActionCounts, LayerResult, LevelCounts, OperandCounts
from sim.workload.layer import Layer


def _bytes(layer: Layer) -> dict[str, int]:
    return {"ifmap": -(-layer.ifmap_bits // 8), "filter": -(-layer.filter_bits // 8),
            "ofmap": -(-layer.ofmap_bits // 8), "psum": -(-layer.partial_sum_bits // 8)}


def check_registers(layer: Layer, hw: Hardware) -> None:
    """MappingError unless every per-PE register file holds the one element per operand a PE works on."""
    widths = _bytes(layer)
    for index, level in enumerate(hw.hierarchy):
        if level.kind != "register_file":
            continue
        for operand in level.operands:
            need = widths["psum"] if operand == "ofmap" else widths[operand]
            if share_bytes(level, operand) < need:
                hint = (f" (layer {layer.name}: partial sums are {layer.partial_sum_bits} bits; a trace's psum_bits "
                        "column sets the accumulator width)") if operand == "ofmap" else ""
                raise MappingError(f"level '{level.name}' cannot hold one {operand} element ({need} bytes) per PE"
                                   + hint,
                                   field=f"memory.{index}.size_bytes", value=share_bytes(level, operand),
                                   allowed=f">= {need} bytes for {operand}")


def _register_elements(layer: Layer, hw: Hardware, operand: str, width: str,
                       halved: bool | None) -> tuple[int, int | None]:
    """(the most `width`-byte elements one PE's innermost register for `operand` holds, a half when double-buffered
    (`halved`: a mapping's decision, else the declaration, "auto" whole); that level's index), (1, None) without
    such a register."""
    for index, level in enumerate(hw.hierarchy[:-1]):
        if level.kind == "register_file" and operand in level.operands:
            half = level.double_buffered is True if halved is None else halved
            usable = share_bytes(level, operand) // (2 if half else 1)
            return max(usable // _bytes(layer)[width], 1), index
    return 1, None


def max_row_folds_per_fill(layer: Layer, hw: Hardware, stationary: str,
                           halved: bool | None = None) -> tuple[int, int | None]:
    """(the most row folds' stationary elements one PE's innermost register for `stationary` holds, that level's
    index): its bytes (a half when double-buffered: the next fill loads into the other; `halved`: a mapping's
    decision, else the declaration, "auto" whole) over the element's bytes; (1, None) without such a register
    (today's [buffers] configs: one element per PE)."""
    return _register_elements(layer, hw, stationary, stationary, halved)


def max_streamed_per_stationary_read(layer: Layer, hw: Hardware,
                                     halved: bool | None = None) -> tuple[int, int | None]:
    """(the most partial sums one PE's innermost register for ofmap holds at the psum width, a half when
    double-buffered (`halved`: a mapping's decision, else the declaration, "auto" whole): u's limit,
    Mapping.streamed_per_stationary_read; that level's index), (1, None) without one."""
    return _register_elements(layer, hw, "ofmap", "psum", halved)


def check_run(layer: Layer, hw: Hardware, mapping: Mapping) -> None:
    """MappingError naming the level unless the psum register holds the u partial sums of a run of T
    (Mapping.streamed_per_stationary_read); u must be 1 without such a register."""
    run = mapping.streamed_per_stationary_read
    if run == 1:
        return
    register = psum_register(hw)
    halved = register is not None and register.name in resolve(hw, mapping).doubled
    most, index = max_streamed_per_stationary_read(layer, hw, halved)
    if index is None:
        raise MappingError(f"{run} streamed elements per stationary read need a per-PE register file for partial "
                           f"sums; hardware '{hw.name}' has none", field="mapping.pe", value=run,
                           allowed="1 without a register_file level holding ofmap")
    if run > most:
        level = hw.hierarchy[index]
        half = " (one half: double-buffered)" if halved else ""
        width = _bytes(layer)["psum"]
        raise MappingError(f"level '{level.name}': {run} streamed elements per stationary read hold {run} partial sums "
                           f"of {width} bytes per PE ({run * width} bytes); the level holds {most * width}{half}",
                           field=f"memory.{index}.size_bytes", value=share_bytes(level, "ofmap"),
                           allowed=f"streamed elements per stationary read <= {most}")


def stationary_register_reads(macs, temporal, chunks, run):
    """Reads of the stationary operand's innermost register: once per run of u elements of T, per chunk of T
    (edges T * i // chunks: T % chunks chunks of T // chunks + 1, the rest of T // chunks), so
    MACs / T x sum over chunks of ceil(chunk / u); MACs at u = 1. Numbers or numpy arrays alike."""
    low, longer = temporal // chunks, temporal % chunks
    runs = (chunks - longer) * (-(-low // run)) + longer * (-(-(low + 1) // run))
    return macs * runs // temporal


def check_fill(layer: Layer, hw: Hardware, mapping: Mapping) -> None:
    """MappingError naming the level unless the stationary operand's per-PE register holds the F row folds' elements
    of a fill (Mapping.row_folds_per_fill); F must be 1 without such a register. Also check_run."""
    check_run(layer, hw, mapping)
    fill = mapping.row_folds_per_fill
    if fill == 1 or mapping.dataflow not in ("ws", "is"):  # os: refused by the loop-order check (mapping.pe)
        return
    stationary = mapping.stationary
    halved = resolve(hw, mapping).register_halved
    most, index = max_row_folds_per_fill(layer, hw, stationary, halved)
    need = fill * _bytes(layer)[stationary]
    if index is None:
        raise MappingError(f"{fill} row folds per stationary fill need a per-PE register file for {stationary}; "
                           f"hardware '{hw.name}' has none", field="mapping.pe", value=fill,
                           allowed="1 (row folds per fill) without a register_file level holding " + stationary)
    if fill > most:
        level = hw.hierarchy[index]
        half = " (one half: double-buffered)" if halved else ""
        raise MappingError(f"level '{level.name}', operand {stationary}: {fill} row folds per stationary fill need "
                           f"{need} bytes per PE; the level holds {most * _bytes(layer)[stationary]}{half}",
                           field=f"memory.{index}.size_bytes", value=share_bytes(level, stationary),
                           allowed=f"row folds per fill <= {most}")


def timeline_hardware(hw: Hardware) -> Hardware:
    """The hardware the systolic timeline runs on: an operand whose staging level has an on-chip level above it
    moves its tiles at that level's bandwidth (a port of its own); the others share DRAM's. The shared channel is
    then DRAM's bandwidth plus those levels' (each operand's port caps it). Unchanged without such levels."""
    levels = hw.hierarchy
    ports: dict[str, float] = {}
    for operand in OPERANDS:
        stage = staging_level(levels, operand)
        above = [level for level in levels[(stage if stage is not None else 0) + 1:-1]
                 if operand in level.operands and level.kind != "register_file"] if stage is not None else []
        if above:
            ports[operand] = above[0].bandwidth_bytes_per_cycle
    if not ports:
        return hw
    dram = hw.dram
    shared = dram.bandwidth_bytes_per_cycle + sum(set(ports.values()))
    update = {f"{operand}_bandwidth_bytes_per_cycle": ports.get(operand, dram.operand_bandwidth(operand))
              for operand in OPERANDS}
    return hw.model_copy(update={"dram": dram.model_copy(update={"bandwidth_bytes_per_cycle": shared, **update})})


IS, WS = DATAFLOW_NAMES.index("is"), DATAFLOW_NAMES.index("ws")


class _Tally:
    """Bytes read from and written to each (level, operand)."""

    def __init__(self) -> None:
        self.reads: dict[tuple[str, str], float] = {}
        self.writes: dict[tuple[str, str], float] = {}

    def add(self, level: str, operand: str, read_bytes: float = 0, write_bytes: float = 0) -> None:
        key = (level, operand)
        self.reads[key] = self.reads.get(key, 0) + read_bytes
        self.writes[key] = self.writes.get(key, 0) + write_bytes


def _ceil(value):
    return np.ceil(value) if isinstance(value, np.ndarray) else math.ceil(value)


def tally_levels(layer: Layer, hw: Hardware, counts: dict) -> tuple[_Tally, dict, dict]:
    """Bytes read from and written to every (level, operand), the DRAM counts after the outer levels (elements:
    ifmap, filter, ofmap reads; ofmap writes; read and write bytes) and each bandwidth-limited on-chip level's busy
    cycles, from the systolic model's counts (`macs`, `dataflow` code, `sram_{ifmap,filter,ofmap}_reads`,
    `sram_ofmap_writes`, `dram_{ifmap,filter,ofmap}_reads`, `dram_ofmap_writes`, `outputs`): numbers, or numpy
    arrays of the mapper's candidates, elementwise alike."""
    levels = hw.hierarchy
    width = _bytes(layer)
    macs, outputs = counts["macs"], counts["outputs"]
    # The stationary register is read once per run of T (Mapping.streamed_per_stationary_read); MACs at u = 1.
    stationary_reads = counts.get("stationary_register_reads", macs)
    totals = operand_totals(layer)
    tally = _Tally()
    dram = {"ifmap": counts["dram_ifmap_reads"], "filter": counts["dram_filter_reads"],
            "ofmap": counts["dram_ofmap_reads"], "ofmap_writes": counts["dram_ofmap_writes"]}
    stationary = {"ifmap": counts["dataflow"] == IS, "filter": counts["dataflow"] == WS}
    for operand in OPERANDS:
        chain = [level for level in levels[:-1] if operand in level.operands]
        registers = [level for level in chain if level.kind == "register_file"]
        stage_index = staging_level(levels, operand)
        stage = levels[stage_index] if stage_index is not None else None
        outer = [level for level in chain if level.kind != "register_file" and level is not stage]
        if operand != "ofmap":
            size = width[operand]
            fills = counts[f"sram_{operand}_reads"]
            from_dram = dram[operand]
            if stage is None:
                fills = from_dram  # the registers are filled straight from DRAM
            # Each MAC reads its operand from the innermost register. A streamed operand moves PE to PE every
            # cycle, so each PE's register takes one element per MAC (the array's forwarding multicasts one read
            # of the level above to a row or column of PEs); the stationary one is filled once per fold.
            inner_fills = _where(stationary[operand], fills, macs)
            for position, level in enumerate(registers):
                first = _where(stationary[operand], stationary_reads, macs)
                reads, writes = (first, inner_fills) if position == 0 else (inner_fills, fills)
                tally.add(level.name, operand, read_bytes=reads * size, write_bytes=writes * size)
            if stage is not None:
                tally.add(stage.name, operand, read_bytes=fills * size, write_bytes=from_dram * size)
            for level in outer:
                once = totals[operand] if totals[operand] * size <= share_bytes(level, operand) else from_dram
                tally.add(level.name, operand, read_bytes=from_dram * size, write_bytes=once * size)
                from_dram = once
            dram[operand] = from_dram
            continue
        # Partial sums: `written` chains leave the array into the staging level, `read_back` of them return to it.
        written, read_back = counts["sram_ofmap_writes"], counts["sram_ofmap_reads"]
        for level in registers:
            psum_bytes = (macs + read_back) * width["psum"]
            tally.add(level.name, operand, read_bytes=psum_bytes, write_bytes=psum_bytes)
        # What leaves / returns to the staging level from outside: drained partial sums, finished outputs.
        finished = dram["ofmap_writes"] - dram["ofmap"]
        up_bytes = dram["ofmap"] * width["psum"] + finished * width["ofmap"]
        down_bytes = dram["ofmap"] * width["psum"]
        if stage is not None:
            array_bytes = (written - outputs) * width["psum"] + outputs * width["ofmap"]
            tally.add(stage.name, operand, read_bytes=read_back * width["psum"] + up_bytes,
                      write_bytes=array_bytes + down_bytes)
        for level in outer:
            if totals["ofmap"] * width["psum"] <= share_bytes(level, operand):
                # Holds every partial sum: they return from here, only finished outputs go on to DRAM.
                tally.add(level.name, operand, read_bytes=down_bytes + outputs * width["ofmap"], write_bytes=up_bytes)
                dram["ofmap"], dram["ofmap_writes"] = 0 * down_bytes, outputs + 0 * down_bytes
                up_bytes, down_bytes = outputs * width["ofmap"] + 0 * down_bytes, 0 * down_bytes
            else:
                tally.add(level.name, operand, read_bytes=down_bytes + up_bytes, write_bytes=up_bytes + down_bytes)
    dram["read_bytes"] = (dram["ifmap"] * width["ifmap"] + dram["filter"] * width["filter"]
                          + dram["ofmap"] * width["psum"])
    dram["write_bytes"] = ((dram["ofmap_writes"] - dram["ofmap"]) * width["ofmap"]
                           + dram["ofmap"] * width["psum"])
    busy = {}
    for level in levels[:-1]:
        if level.kind == "register_file" or not math.isfinite(level.bandwidth_bytes_per_cycle):
            continue
        moved = sum(tally.reads.get((level.name, o), 0) + tally.writes.get((level.name, o), 0) for o in OPERANDS)
        busy[level.name] = _ceil(moved / level.bandwidth_bytes_per_cycle)
    return tally, dram, busy


def words_per_byte(layer: Layer, level: MemoryLevelSpec, operand: str) -> float:
    """Accesses per byte moved: a PE works on one element at a time, so a register access moves whole words for
    one element; a shared level packs elements into its words."""
    if level.kind != "register_file":
        return 1 / level.word_bytes
    width = _bytes(layer)
    size = width["psum"] if operand == "ofmap" else width[operand]
    return -(-size // level.word_bytes) / size


def _counts(layer: Layer, mapping: Mapping, base: LayerResult) -> dict:
    return {"macs": base.macs, "dataflow": mapping.dataflow_code, "outputs": layer.gemm.groups * layer.gemm.m * layer.gemm.n,
            "sram_ifmap_reads": base.sram_reads.ifmap, "sram_filter_reads": base.sram_reads.filter,
            "sram_ofmap_reads": base.sram_reads.ofmap, "sram_ofmap_writes": base.sram_writes.ofmap,
            "dram_ifmap_reads": base.dram_reads.ifmap, "dram_filter_reads": base.dram_reads.filter,
            "dram_ofmap_reads": base.dram_reads.ofmap, "dram_ofmap_writes": base.dram_writes.ofmap,
            "stationary_register_reads": stationary_register_reads(base.macs, mapping.temporal, mapping.chunks,
                                                                   mapping.streamed_per_stationary_read)}


def level_actions(layer: Layer, hw: Hardware, tally: _Tally, dram: dict, macs, cycles) -> dict:
    """The actions of a layer on a hierarchy, keyed by energy-table entry: MACs, each level's reads and writes
    (summed over operands), DRAM bytes, leakage cycles."""
    actions = {"mac": macs}
    for level in hw.hierarchy[:-1]:
        for operand in level.operands:
            key = (level.name, operand)
            if key not in tally.reads:
                continue
            scale = words_per_byte(layer, level, operand)
            for action, moved in (("read", tally.reads[key]), ("write", tally.writes[key])):
                name = f"{level.name}.{action}"
                actions[name] = actions.get(name, 0) + moved * scale
    actions["dram.read_byte"] = dram["read_bytes"]
    actions["dram.write_byte"] = dram["write_bytes"]
    actions["leakage.cycle"] = cycles
    return actions


def price_levels(layer: Layer, hw: Hardware, mapping: Mapping, base: LayerResult) -> LayerResult:
    """`base` (the systolic model's result on `hw`'s staging buffers) with every level of `hw.hierarchy` priced:
    per-level counts in `levels`, actions keyed by level name, energy, DRAM counts after outer levels, cycles."""
    check_registers(layer, hw)
    levels = hw.hierarchy
    tally, dram, busy = tally_levels(layer, hw, _counts(layer, mapping, base))
    # Cycles: the busiest on-chip level at its bandwidth, when that takes longer than the model's timeline.
    cycles = max([base.cycles, *busy.values()])
    action_counts = ActionCounts.of(level_actions(layer, hw, tally, dram, base.actions.get("mac", base.macs), cycles))
    counts = []
    for level in levels[:-1]:
        read_pj, write_pj = hw.energy.get(f"{level.name}.read"), hw.energy.get(f"{level.name}.write")
        for operand in level.operands:
            key = (level.name, operand)
            if key not in tally.reads:
                continue
            scale = words_per_byte(layer, level, operand)
            reads, writes = tally.reads[key] * scale, tally.writes[key] * scale
            energy = (reads * read_pj.pj if read_pj else 0.0) + (writes * write_pj.pj if write_pj else 0.0)
            counts.append(LevelCounts(level.name, operand, reads, writes, tally.reads[key], tally.writes[key], energy))
    read_entry, write_entry = hw.energy.get("dram.read_byte"), hw.energy.get("dram.write_byte")
    width = _bytes(layer)
    read_bytes = {"ifmap": dram["ifmap"] * width["ifmap"], "filter": dram["filter"] * width["filter"],
                  "ofmap": dram["ofmap"] * width["psum"]}
    for operand in OPERANDS:
        written = dram["write_bytes"] if operand == "ofmap" else 0
        energy = (read_bytes[operand] * (read_entry.pj if read_entry else 0.0)
                  + written * (write_entry.pj if write_entry else 0.0))
        # DRAM is priced per byte: its accesses are bytes.
        counts.append(LevelCounts(levels[-1].name, operand, read_bytes[operand], written, read_bytes[operand],
                                  written, energy))
    extra = dict(base.extra)
    extra.update({f"{name}.busy_cycles": value for name, value in busy.items()})
    extra.update({"dram.read_bytes": dram["read_bytes"], "dram.write_bytes": dram["write_bytes"]})
    return replace(
        base, cycles=cycles, stall_cycles=cycles - base.compute_cycles,
        utilization=base.macs / (hw.pe_array.pes * cycles) if cycles else 0.0,
        dram_reads=OperandCounts(dram["ifmap"], dram["filter"], dram["ofmap"]),
        dram_writes=OperandCounts(0, 0, dram["ofmap_writes"]), actions=action_counts,
        energy=apply(action_counts, hw.energy), levels=tuple(counts), extra=tuple(sorted(extra.items())))


def level_grid(layer: Layer, hw: Hardware, values: dict) -> tuple:
    """(cycles, energy_pj) of the mapper's candidates (`estimate_systolic_mappings`' arrays) on `hw`'s hierarchy:
    price_levels' numbers, elementwise."""
    counts = {key: values[key] for key in ("sram_ifmap_reads", "sram_filter_reads", "sram_ofmap_reads",
                                           "sram_ofmap_writes", "dram_ifmap_reads", "dram_filter_reads",
                                           "dram_ofmap_reads", "dram_ofmap_writes")}
    counts.update(macs=layer.macs, dataflow=values["dataflow"], outputs=layer.gemm.groups * layer.gemm.m * layer.gemm.n)
    if "stationary_register_reads" in values:
        counts["stationary_register_reads"] = values["stationary_register_reads"]
    tally, dram, busy = tally_levels(layer, hw, counts)
    cycles = values["cycles"]
    for value in busy.values():
        cycles = np.maximum(cycles, value)
    energy = np.zeros(np.shape(cycles), dtype=np.float64)
    for action, count in level_actions(layer, hw, tally, dram, layer.macs, cycles).items():
        entry = hw.energy.get(action)
        if entry is not None:
            energy = energy + np.asarray(count, dtype=np.float64) * entry.pj
    return cycles, energy
