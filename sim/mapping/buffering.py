"""Which buffers a mapping runs double-buffered: the hardware's declaration, or the mapping's own decision.

A memory level (a [[memory]] level, or the SRAM a [buffers] table derives) declares `double_buffered = true`
(always two halves), `false` (never) or `"auto"`: the hardware can run it either way and the mapping decides
(Mapping.double_buffered, the names of the levels it runs as two halves). `[pe_array] double_buffered_stationary
= "auto"` overlaps a stationary preload with the previous pass when the stationary operand's per-PE register runs
double-buffered: that register level's decision, or, without such a level, the pseudo-level `pe_array`'s.

A level run double-buffered gives each operand it stages half its slot capacity (two slots in the engine), and a
stationary register half its row folds per fill (sim.analytical.levels). `auto_decision` is ZigZag 3.9.1's rule
(zigzag/cost_model/cost_model.py, calc_double_buffer_flag): a level is double-buffered for a mapping when the
mapping's tiles fit half of it (the operands sharing it included), else single.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sim.errors import MappingError
from sim.hardware.hierarchy import share_bytes, staging_level
from sim.hardware.spec import Hardware, MemoryLevelSpec
from sim.mapping.record import OPERANDS, Mapping

STATIONARY_PSEUDO_LEVEL = "pe_array"  # the stationary register when no register-file level holds the operand


@dataclass(frozen=True)
class Buffering:
    """A mapping's resolved double buffering on one hardware: the levels run as two halves, by name."""

    doubled: frozenset[str]
    staging: tuple[tuple[str, str], ...]  # (operand, name of the level its [buffers] slot is derived from)
    operands: tuple[tuple[str, bool], ...]  # (operand, its [buffers] slot runs as two halves)
    stationary_register: str  # the stationary operand's register level, the pseudo-level, or "" (os: none)
    stationary_preload: bool  # the stationary operand's next preload overlaps the current pass

    def operand_doubled(self) -> dict[str, bool]:
        """Per operand: its buffer slot (the staging level's share) runs as two halves."""
        return dict(self.operands)

    @property
    def register_halved(self) -> bool:
        return self.stationary_register in self.doubled


def stage_name(levels: tuple[MemoryLevelSpec, ...], operand: str) -> str:
    """The level [buffers].<operand> is derived from (sim.hardware.hierarchy.buffers_from_levels)."""
    index = staging_level(levels, operand)
    if index is not None:
        return levels[index].name
    return next(level.name for level in levels if level.kind == "register_file" and operand in level.operands)


def stationary_register(hw: Hardware, stationary: str) -> MemoryLevelSpec | None:
    """The per-PE register-file level that holds `stationary` (the innermost), or None."""
    return next((level for level in hw.hierarchy[:-1]
                 if level.kind == "register_file" and stationary in level.operands), None)


def declarations(hw: Hardware, stationary: str) -> dict[str, bool | str]:
    """Each on-chip level's declaration by name (true / false / "auto"), and the stationary pseudo-level's when
    the stationary operand has no register level (its declaration: [pe_array] double_buffered_stationary)."""
    declared: dict[str, bool | str] = {level.name: level.double_buffered for level in hw.hierarchy[:-1]}
    if stationary != "ofmap" and stationary_register(hw, stationary) is None:  # os: no stationary preload
        declared[STATIONARY_PSEUDO_LEVEL] = hw.pe_array.double_buffered_stationary
    return declared


def has_auto(hw: Hardware) -> bool:
    """True when `hw` leaves some double buffering to the mapping."""
    return hw.pe_array is not None and (hw.pe_array.double_buffered_stationary == "auto" or any(
        level.double_buffered == "auto" for level in hw.hierarchy[:-1]))


def auto_names(hw: Hardware) -> list[str]:
    """The level names a mapping on `hw` may decide ("auto"), over every dataflow: the hierarchy's, and the
    stationary pseudo-level's where a stationary operand has no register level."""
    names: list[str] = []
    for stationary in ("filter", "ifmap"):
        for name, value in declarations(hw, stationary).items():
            if value == "auto" and name not in names:
                names.append(name)
    return names


def resolve(hw: Hardware, mapping: Mapping) -> Buffering:
    """`mapping`'s double buffering on `hw`: the declarations, with the mapping's decision on "auto" levels
    (Mapping.double_buffered None: as declared, "auto" single); MappingError naming the level when an explicit
    decision contradicts a static declaration or names a level the hardware does not have."""
    stationary = mapping.stationary
    declared = declarations(hw, stationary)
    decision = mapping.double_buffered
    if decision is not None:
        for name in decision:
            if name not in declared:
                raise MappingError(f"mapping '{mapping.name}' runs level '{name}' double-buffered; hardware "
                                   f"'{hw.name}' has no such on-chip level", field="mapping.double_buffered",
                                   value=name, allowed=", ".join(declared))
        for name, value in declared.items():
            if value is True and name not in decision:
                raise MappingError(f"level '{name}' is declared double_buffered = true: mapping '{mapping.name}' "
                                   "cannot run it as one buffer", field="mapping.double_buffered",
                                   value=list(decision), allowed=f"a list naming {name}")
            if value is False and name in decision:
                raise MappingError(f"level '{name}' is declared double_buffered = false: mapping '{mapping.name}' "
                                   "cannot run it as two halves", field="mapping.double_buffered",
                                   value=list(decision), allowed=f"a list without {name}")
    doubled = frozenset(name for name, value in declared.items()
                        if value is True or (value == "auto" and decision is not None and name in decision))
    register = stationary_register(hw, stationary) if stationary != "ofmap" else None
    register_name = "" if stationary == "ofmap" else register.name if register is not None else STATIONARY_PSEUDO_LEVEL
    preload = hw.pe_array.double_buffered_stationary
    if preload == "auto":
        preload = register_name in doubled
    staging = tuple((operand, stage_name(hw.hierarchy, operand)) for operand in OPERANDS)
    # A static [buffers] declaration is the models' own (the level's, derived); "auto" follows its staging level.
    operands = tuple((operand, stage in doubled if getattr(hw.buffers, operand).double_buffered == "auto"
                      else getattr(hw.buffers, operand).double_buffered) for operand, stage in staging)
    return Buffering(doubled, staging, operands, register_name, bool(preload) and mapping.dataflow != "os")


def psum_register(hw: Hardware) -> MemoryLevelSpec | None:
    """The per-PE register-file level that holds partial sums (ofmap; the innermost), or None."""
    return stationary_register(hw, "ofmap")


def psum_fits_half(layer, hw: Hardware, mapping: Mapping) -> bool:
    """The psum register's half holds the run's u partial sums per PE (Mapping.streamed_per_stationary_read)."""
    register = psum_register(hw)
    if register is None:
        return True
    psum = -(-layer.partial_sum_bits // 8)
    return mapping.streamed_per_stationary_read * psum <= share_bytes(register, "ofmap") // 2


def register_fits_half(layer, hw: Hardware, mapping: Mapping) -> bool:
    """The stationary register's half holds a fill's F row-fold elements per PE (its share / 2 >= F x element)."""
    register = stationary_register(hw, mapping.stationary) if mapping.stationary != "ofmap" else None
    if register is None:
        return True  # one element per PE: the pseudo-level's two halves hold it
    element = -(-layer.operand_bits[mapping.stationary] // 8)
    return mapping.row_folds_per_fill * element <= share_bytes(register, mapping.stationary) // 2


def auto_decision(layer, hw: Hardware, mapping: Mapping) -> Mapping:
    """`mapping` with ZigZag's rule decided on `hw`'s "auto" levels: each runs double-buffered when the mapping's
    tiles still fit with it halved (a staging level's slots, a stationary register's fill, the psum register's run
    of u partial sums), else single (unchanged when `hw` declares no "auto")."""
    from sim.mapping.systolic import check_mapping

    if not has_auto(hw):
        return mapping
    declared = declarations(hw, mapping.stationary)
    static = [name for name, value in declared.items() if value is True]
    register = resolve(hw, mapping).stationary_register
    psum = psum_register(hw)
    chosen = []
    for name, value in declared.items():
        if value != "auto":
            continue
        trial = replace(mapping, double_buffered=tuple(static + [name]))
        try:
            check_mapping(layer, hw.buffers, trial, resolve(hw, trial).operand_doubled())
        except MappingError:
            continue
        if name == register and not register_fits_half(layer, hw, trial):
            continue
        if psum is not None and name == psum.name and not psum_fits_half(layer, hw, trial):
            continue
        chosen.append(name)
    return replace(mapping, double_buffered=tuple(static + chosen))
