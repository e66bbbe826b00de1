"""Today's hardware sections as an ordered memory hierarchy, and the checks an explicit hierarchy must pass.

A systolic array's [buffers] become one global buffer per operand (`ifmap_sram`, `filter_sram`, `ofmap_sram`:
the names its energy table already prices) and its [dram] the DRAM level; a directive array's l1 / l2
become a per-PE `l1` and a shared `l2` (MAESTRO's energy keys) and its off-chip bandwidth the DRAM level.
An explicit `[[memory]]` list for a systolic array may add per-PE register files, buffers shared by several
operands and further on-chip levels (priced by sim.analytical.levels); a directive array runs only its own.
"""
from __future__ import annotations

import math
from typing import Any

from sim.errors import MappingError
from sim.hardware.spec import LEVEL_KINDS, BuffersSpec, Hardware, MemoryLevelSpec, constraint_error

OPERANDS = ("ifmap", "filter", "ofmap")


def _systolic_levels(hw: Hardware) -> tuple[MemoryLevelSpec, ...]:
    levels = []
    for name in OPERANDS:
        sram = getattr(hw.buffers, name)
        levels.append(MemoryLevelSpec(
            name=f"{name}_sram", kind="global_buffer", operands=(name,), size_bytes=sram.size_bytes,
            word_bytes=sram.word_bytes, banks=sram.banks, ports=sram.ports, double_buffered=sram.double_buffered,
            source="[buffers." + name + "]"))
    levels.append(MemoryLevelSpec(name="dram", kind="dram", operands=OPERANDS,
                                  bandwidth_bytes_per_cycle=hw.dram.bandwidth_bytes_per_cycle,
                                  latency_cycles=hw.dram.latency_cycles, source="[dram]"))
    return tuple(levels)


def _directive_levels(hw: Hardware) -> tuple[MemoryLevelSpec, ...]:
    spec = hw.directive_array
    noc = spec.noc_bandwidth_words_per_cycle * spec.word_bytes
    return (
        MemoryLevelSpec(name="l1", kind="l1", operands=OPERANDS, size_bytes=spec.l1_size_bytes,
                        instances=spec.num_pes, word_bytes=spec.word_bytes, bandwidth_bytes_per_cycle=noc,
                        double_buffered=spec.double_buffered, source="[directive_array] l1_size_bytes"),
        MemoryLevelSpec(name="l2", kind="global_buffer", operands=OPERANDS, size_bytes=spec.l2_size_bytes,
                        word_bytes=spec.word_bytes, bandwidth_bytes_per_cycle=noc,
                        double_buffered=spec.double_buffered, source="[directive_array] l2_size_bytes"),
        MemoryLevelSpec(name="dram", kind="dram", operands=OPERANDS,
                        bandwidth_bytes_per_cycle=spec.offchip_bandwidth_words_per_cycle * spec.word_bytes,
                        source="[directive_array] offchip_bandwidth_words_per_cycle"),
    )


def levels_of(hw: Hardware) -> tuple[MemoryLevelSpec, ...]:
    """The hierarchy today's sections describe (none for a crossbar chip: its eDRAM is part of [reram])."""
    if hw.pe_array is not None and hw.buffers is not None and hw.dram is not None:
        return _systolic_levels(hw)
    if hw.directive_array is not None:
        return _directive_levels(hw)
    return ()


def _field(level: Any, key: str, default: Any = None) -> Any:
    return level.get(key, default) if isinstance(level, dict) else getattr(level, key, default)


def arrays_as_tuples(value: Any) -> Any:
    """Raw tables with every array as a tuple (what strict Python-mode validation takes; the schema has no lists)."""
    if isinstance(value, dict):
        return {key: arrays_as_tuples(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return tuple(arrays_as_tuples(item) for item in value)
    return value


def staging_level(levels: Any, operand: str) -> int | None:
    """Index of the level the systolic models tile `operand` in: the innermost on-chip level above the register
    files that holds it; None when only register files (and DRAM) hold it."""
    for index, level in enumerate(levels):
        if operand in tuple(_field(level, "operands", ()) or ()) and _field(level, "kind") in ("l1", "global_buffer"):
            return index
    return None


def share_bytes(level: Any, operand: str) -> int:
    """Bytes of `level` the tile planner gives `operand`: its static partition, or (shared dynamically) an even
    split, so that the operands' tiles always fit together (the sum is what the level must hold)."""
    partition = _field(level, "partition_bytes")
    if partition and operand in partition:
        return int(partition[operand])
    operands = tuple(_field(level, "operands", ()) or ())
    return int(_field(level, "size_bytes")) // len(operands)


def buffers_from_levels(levels: list[Any]) -> dict[str, dict[str, Any]]:
    """[buffers] (raw tables) from a hierarchy: each operand's buffer is its staging level (its share of it when
    shared), or, when only per-PE register files hold it, those registers together (filled straight from DRAM)."""
    buffers: dict[str, dict[str, Any]] = {}
    for index, level in enumerate(levels):
        size = _field(level, "size_bytes")
        if _field(level, "kind") != "dram" and (not isinstance(size, int) or isinstance(size, bool) or size <= 0):
            raise constraint_error(f"memory.{index}.size_bytes", "an on-chip level needs a size", size,
                                   "an integer > 0")
    for name in OPERANDS:
        index = staging_level(levels, name)
        if index is not None:
            level = levels[index]
            size = share_bytes(level, name)
            if size <= 0:
                raise constraint_error(f"memory.{index}.partition_bytes.{name}", f"the level holds {name} but its "
                                       "partition gives it no bytes", size, "> 0 bytes")
            double = _field(level, "double_buffered", False)
            # A level of its own keeps its word, banks and ports (today's [buffers]); a shared one's word is priced
            # by sim.analytical.levels, and the planner sees its share in bytes.
            alone = len(tuple(_field(level, "operands", ()) or ())) == 1
            layout = {key: _field(level, key, 1) if alone else 1 for key in ("word_bytes", "banks", "ports")}
        else:
            registers = [level for level in levels if _field(level, "kind") == "register_file"
                         and name in tuple(_field(level, "operands", ()) or ())]
            if not registers:
                raise constraint_error("memory", f"a [pe_array] needs a global buffer of its own for {name}", None,
                                       f"a kind = \"global_buffer\" (or l1, or register_file) level holding {name}")
            size = share_bytes(registers[0], name) * int(_field(registers[0], "instances", 1))
            double = _field(registers[0], "double_buffered", False)
            layout = {"word_bytes": 1, "banks": 1, "ports": 1}
        buffers[name] = {"size_kb": size / 1024, **layout, "double_buffered": double}
    return buffers


def is_today(hw: Hardware) -> bool:
    """True when `hw`'s hierarchy is the one [buffers] and [dram] describe (one SRAM per operand named
    `<operand>_sram`, unlimited and without latency, then DRAM): the models then run exactly as before the
    hierarchy existed; otherwise sim.analytical.levels prices every level. Structural, so cheap per layer."""
    if not hw.memory:
        return True
    chip = hw.memory[:-1]
    return len(chip) == len(OPERANDS) and {level.operands for level in chip} == {(name,) for name in OPERANDS} and all(
        level.kind == "global_buffer" and level.name == f"{level.operands[0]}_sram" and level.instances == 1
        and math.isinf(level.bandwidth_bytes_per_cycle) and level.latency_cycles == 0 for level in chip)


def check_levels(hw: Hardware) -> None:
    """An explicit hierarchy: levels ordered from the PEs outward, ending at DRAM, names unique, every operand
    reaching DRAM; a [directive_array] runs only the hierarchy its section describes; a [pe_array] may add
    per-PE register files, buffers shared by several operands and further on-chip levels, each priced by name."""
    levels = hw.memory
    names = [level.name for level in levels]
    for index, level in enumerate(levels):
        if names.index(level.name) != index:
            raise constraint_error(f"memory.{index}.name", "a level name used twice (it is the energy-table prefix)",
                                   level.name, "distinct names")
        if index and LEVEL_KINDS.index(level.kind) < LEVEL_KINDS.index(levels[index - 1].kind):
            raise constraint_error(f"memory.{index}.kind", "levels go from the PEs outward", level.kind,
                                   " < ".join(LEVEL_KINDS))
    if levels[-1].kind != "dram" or sum(level.kind == "dram" for level in levels) != 1:
        raise constraint_error(f"memory.{len(levels) - 1}.kind", "the hierarchy ends at one DRAM level",
                               levels[-1].kind, "dram, last")
    for name in OPERANDS:
        if name not in levels[-1].operands:
            raise constraint_error(f"memory.{len(levels) - 1}.operands", f"DRAM must hold {name}",
                                   list(levels[-1].operands), "ifmap, filter, ofmap")
    expected = levels_of(hw.model_copy(update={"memory": ()}))
    if not expected:
        raise constraint_error("memory", "a crossbar chip's memories are part of [reram]", len(levels),
                               "no [[memory]] with [reram]")
    if hw.pe_array is not None:
        derived = BuffersSpec(**buffers_from_levels(list(levels)))
        if hw.buffers is not None and hw.buffers.model_copy(update={"ofmap": hw.buffers.ofmap.model_copy(
                update={"drain_finished": False})}) != derived:
            raise constraint_error("buffers", "[buffers] and [[memory]] describe different operand buffers", None,
                                   "one of them, or [buffers] as derived from the levels' staging buffers")
        dram, want = levels[-1], expected[-1]
        for key in ("bandwidth_bytes_per_cycle", "latency_cycles"):
            if getattr(dram, key) != getattr(want, key):
                raise constraint_error(f"memory.{len(levels) - 1}.{key}", "the DRAM level is the [dram] section",
                                       getattr(dram, key), f"{getattr(want, key)} (as [dram])")
        return
    for index, (level, want) in enumerate(zip(levels, expected)):
        if level.model_copy(update={"source": ""}) != want.model_copy(update={"source": ""}):
            diff = [key for key in type(level).model_fields if key != "source"
                    and getattr(level, key) != getattr(want, key)]
            raise constraint_error(f"memory.{index}.{diff[0] if diff else 'name'}",
                                   "the directive models run the hierarchy the other sections describe; this level "
                                   "differs from it", getattr(level, diff[0]) if diff else level.name,
                                   f"{getattr(want, diff[0]) if diff else want.name} (as the derived level "
                                   f"'{want.name}')")
    if len(levels) != len(expected):
        raise constraint_error("memory", "the directive models run the hierarchy the other sections describe",
                               names, ", ".join(level.name for level in expected))


def misfit_error(hw: Hardware, error: MappingError) -> MappingError:
    """A buffer misfit of the systolic models (field buffers.<operand>.size_kb) named by the hierarchy level that
    stages the operand, so a user of [[memory]] sees the level and the operand."""
    field = error.field or ""
    if not (field.startswith("buffers.") and field.endswith(".size_kb")):
        return error
    operand = field.split(".")[1]
    index = staging_level(hw.hierarchy, operand)
    if index is None:
        index = next(i for i, level in enumerate(hw.hierarchy) if operand in level.operands)
    level = hw.hierarchy[index]
    return MappingError(f"level '{level.name}', operand {operand}: {error.message}", field=f"memory.{index}.size_bytes",
                        value=error.value, allowed=error.allowed)


def level_energy(hw: Hardware, level: MemoryLevelSpec) -> dict[str, Any]:
    """The energy-table entries that price `level`'s accesses (name prefix), by action; absent ones left out."""
    actions = ("read_byte", "write_byte") if level.kind == "dram" else ("read", "write")
    return {action: hw.energy[f"{level.name}.{action}"] for action in actions
            if f"{level.name}.{action}" in hw.energy}

