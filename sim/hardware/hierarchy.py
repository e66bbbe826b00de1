"""Today's hardware sections as an ordered memory hierarchy, and the checks an explicit hierarchy must pass.

A systolic array's [buffers] become one global buffer per operand (`ifmap_sram`, `filter_sram`, `ofmap_sram`:
the names its energy table already prices) and its [dram] the DRAM level; a directive array's l1 / l2
become a per-PE `l1` and a shared `l2` (MAESTRO's energy keys) and its off-chip bandwidth the DRAM level.
The models run exactly these hierarchies today: an explicit `[[memory]]` list must describe one of them
(issue 12 item 4 extends the models to register files, shared buffers and second on-chip levels).
"""
from __future__ import annotations

from typing import Any

from sim.hardware.spec import LEVEL_KINDS, Hardware, MemoryLevelSpec, constraint_error

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


def buffers_from_levels(levels: list[Any]) -> dict[str, dict[str, Any]]:
    """[buffers] (raw tables) from the per-operand global buffers of a hierarchy; the hierarchy check then
    refuses any level the systolic models do not run."""
    buffers: dict[str, dict[str, Any]] = {}
    for index, level in enumerate(levels):
        operands = tuple(_field(level, "operands", ()) or ())
        if _field(level, "kind") != "global_buffer" or len(operands) != 1 or operands[0] in buffers:
            continue
        size = _field(level, "size_bytes")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise constraint_error(f"memory.{index}.size_bytes", "a global buffer needs a size", size, "an integer > 0")
        buffers[operands[0]] = {"size_kb": size / 1024, "word_bytes": _field(level, "word_bytes", 1),
                                "banks": _field(level, "banks", 1), "ports": _field(level, "ports", 1),
                                "double_buffered": _field(level, "double_buffered", False)}
    missing = [name for name in OPERANDS if name not in buffers]
    if missing:
        raise constraint_error("memory", f"a [pe_array] needs a global buffer of its own for {missing[0]}",
                               None, "one kind = \"global_buffer\" level per operand (ifmap, filter, ofmap)")
    return buffers


def check_levels(hw: Hardware) -> None:
    """An explicit hierarchy: levels ordered from the PEs outward, ending at DRAM, names unique, every operand
    reaching DRAM; and (until the models run richer ones) equal to the hierarchy the other sections describe."""
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
    for index, (level, want) in enumerate(zip(levels, expected)):
        if level.model_copy(update={"source": ""}) != want.model_copy(update={"source": ""}):
            diff = [key for key in type(level).model_fields if key != "source"
                    and getattr(level, key) != getattr(want, key)]
            raise constraint_error(f"memory.{index}.{diff[0] if diff else 'name'}",
                                   "the models run the hierarchy the other sections describe; this level differs "
                                   "from it", getattr(level, diff[0]) if diff else level.name,
                                   f"{getattr(want, diff[0]) if diff else want.name} (as the derived level "
                                   f"'{want.name}')")
    if len(levels) != len(expected):
        raise constraint_error("memory", "the models run the hierarchy the other sections describe",
                               names, ", ".join(level.name for level in expected))


def level_energy(hw: Hardware, level: MemoryLevelSpec) -> dict[str, Any]:
    """The energy-table entries that price `level`'s accesses (name prefix), by action; absent ones left out."""
    actions = ("read_byte", "write_byte") if level.kind == "dram" else ("read", "write")
    return {action: hw.energy[f"{level.name}.{action}"] for action in actions
            if f"{level.name}.{action}" in hw.energy}

