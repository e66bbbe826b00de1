"""The candidate generator: the mapping space of one layer on one hardware, as arrays of candidates.

The one place that says what the mapper may choose; it grows as the models run more of the record (issue 12).
Today a systolic array runs the named loop nests (sim.mapping.systolic): per dataflow os / ws / is (which GEMM
dimensions go on the rows and the columns: the spatial unrolling), which operands are held whole in the global
buffer, into how many chunks each fold's streamed dimension T is cut (the tile size of level dram), and the loop
order at level dram (Mapping.chunk_order: chunks innermost, or outside the row folds so partial sums stay on chip),
and on ws / is the row folds per stationary fill F (Mapping.row_folds_per_fill: F row folds' stationary blocks per
PE register fill, up to what the register holds, sim.analytical.levels.max_row_folds_per_fill), and on ws / is the
loop order at level pe: u streamed elements of T per stationary read (Mapping.streamed_per_stationary_read).

Pruning: symmetry pruning drops the outside-row-folds order where it is the default order (one row fold or one
chunk) and on os, which refuses it; capacity pruning removes, before anything is evaluated, every candidate the
buffers refuse (a whole operand that does not fit a slot, fewer chunks than the streamed tiles need); they are
counted, not scored. Of F only the distinct fill counts are kept (F = ceil(row folds / fills)): an F giving the
same fills as a smaller one is the same schedule with a larger register claim (symmetry pruning).
Of u only the largest is kept: min(what the psum register holds, the longest chunk of T). u changes nothing but the
stationary register's reads (MACs / u per run, never in the cycles: registers are not bandwidth-limited levels), so
a larger u is never worse on any objective (dominance pruning; docs/mapper.md).
A family's chunk counts (low..T) are all kept here; the search decides which it scores (sim.mapper.search).

Double buffering on levels the hardware declares "auto" (sim.mapping.buffering) is an axis of the space: each such
level run as one buffer or two halves. The families are built on the whole levels (the largest slots: every tiling
any decision allows), and each candidate takes the decision of ZigZag's rule (every "auto" level its tiles fit half
of runs double-buffered), scored in the same batch (sim.analytical.systolic.estimate_systolic_mappings): on the
same tiles a level run as halves has the same counts and no fewer overlaps, so the rule's decision dominates the
others, pruned before scoring (counted as "buffering": raw candidates x (2^auto levels - 1)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analytical.levels import max_streamed_per_stationary_read
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.buffering import auto_decision, auto_names
from sim.mapping.record import CHUNK_ORDERS, OPERANDS, Mapping
from sim.mapping.systolic import (DATAFLOW_NAMES, array_mapping, buffer_slots, chunking, operand_totals)
from sim.workload.layer import Layer


@dataclass(frozen=True)
class Candidates:
    """A batch of candidates of one layer: column arrays, one entry per candidate."""

    dataflow: np.ndarray  # int64 code, DATAFLOW_NAMES index
    chunks: np.ndarray  # int64, parts of T at level dram
    whole: tuple[np.ndarray, np.ndarray, np.ndarray]  # bool, per OPERANDS
    outside: np.ndarray  # bool: chunk_order "outside_row_folds" (else "innermost")
    fill: np.ndarray | None = None  # int64, row folds per stationary fill (None: all 1)
    run: np.ndarray | None = None  # int64, streamed elements per stationary read (None: all 1)

    def __post_init__(self):
        if self.fill is None:  # F = 1 unless given: today's schedule
            object.__setattr__(self, "fill", np.ones(self.dataflow.shape, dtype=np.int64))
        if self.run is None:  # u = 1 unless given: a stationary read per MAC
            object.__setattr__(self, "run", np.ones(self.dataflow.shape, dtype=np.int64))

    def __len__(self) -> int:
        return int(self.dataflow.size)

    def whole_dict(self) -> dict[str, np.ndarray]:
        return dict(zip(OPERANDS, self.whole))

    def estimate(self, layer: Layer, hw: Hardware) -> dict[str, np.ndarray]:
        """Every candidate through the batched closed form (sim.analytical.systolic.estimate_systolic_mappings, ZigZag's
        rule on "auto" levels): candidate i's numbers are estimate_systolic's on record(layer, hw, i)."""
        from sim.analytical.systolic import estimate_systolic_mappings

        return estimate_systolic_mappings(layer, hw, self.dataflow, self.chunks, self.whole_dict(),
                                          chunks_outside=self.outside, row_folds_per_fill=self.fill,
                                          streamed_per_stationary_read=self.run)

    def take(self, index: np.ndarray) -> "Candidates":
        return Candidates(self.dataflow[index], self.chunks[index], tuple(w[index] for w in self.whole),
                          self.outside[index], self.fill[index], self.run[index])

    @staticmethod
    def concatenate(batches: list["Candidates"]) -> "Candidates":
        """One batch of `batches`' candidates, in order."""
        return Candidates(np.concatenate([b.dataflow for b in batches]), np.concatenate([b.chunks for b in batches]),
                          tuple(np.concatenate([b.whole[i] for b in batches]) for i in range(3)),
                          np.concatenate([b.outside for b in batches]), np.concatenate([b.fill for b in batches]),
                          np.concatenate([b.run for b in batches]))

    def record(self, layer: Layer, hw: Hardware, i: int) -> Mapping:
        """Candidate `i` as the mapping record the models and mapping files take."""
        held = tuple(name for name, flags in zip(OPERANDS, self.whole) if flags[i])
        record = array_mapping(layer, DATAFLOW_NAMES[int(self.dataflow[i])], hw.pe_array.rows, hw.pe_array.cols,
                               chunks=int(self.chunks[i]), whole=held,
                               chunk_order=CHUNK_ORDERS[int(bool(self.outside[i]))],
                               row_folds_per_fill=int(self.fill[i]),
                               streamed_per_stationary_read=int(self.run[i]))
        return auto_decision(layer, hw, record)  # the decision the candidate was scored with (see the docstring)


@dataclass(frozen=True)
class Family:
    """The chunk counts of one (dataflow, whole) choice the buffers allow: the fewest that fit .. T."""

    dataflow: int
    whole: tuple[bool, bool, bool]
    counts: np.ndarray  # int64, ascending
    outside: bool = False  # chunk_order "outside_row_folds"
    fill: int = 1  # row folds per stationary fill
    run: int = 1  # the most streamed elements per stationary read the psum register holds (1: os or no register)
    temporal: int = 1  # T: a candidate's u is min(run, the longest chunk of T)


@dataclass(frozen=True)
class Space:
    """A layer's mapping space: the families left after pruning, and how large the raw space was."""

    families: tuple[Family, ...]
    raw_size: int  # dataflows x whole subsets x chunk counts 1..T, before any pruning
    pruned: tuple[tuple[str, int], ...]  # (reason, candidates removed)
    refusal: str  # why nothing is valid ("" when the space is not empty)

    @property
    def size(self) -> int:
        return int(sum(f.counts.size for f in self.families))

    def all(self) -> Candidates:
        return concat_families([(f, f.counts) for f in self.families])


def concat_families(parts: list[tuple[Family, np.ndarray]]) -> Candidates:
    """One batch of the given chunk counts of each family."""
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Candidates(empty, empty, (empty.astype(bool),) * 3, empty.astype(bool), empty, empty)
    # Each family's fields repeated over its chunk counts (one np.repeat per field: the random samples are many
    # one-candidate parts).
    sizes = np.array([np.size(c) for _, c in parts], dtype=np.int64)

    def per_candidate(values: list, dtype) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), sizes)

    chunks = np.concatenate([np.asarray(c, dtype=np.int64).ravel() for _, c in parts])
    flows = per_candidate([f.dataflow for f, _ in parts], np.int64)
    whole = tuple(per_candidate([f.whole[i] for f, _ in parts], bool) for i in range(3))
    outside = per_candidate([f.outside for f, _ in parts], bool)
    fill = per_candidate([f.fill for f, _ in parts], np.int64)
    run = np.minimum(per_candidate([f.run for f, _ in parts], np.int64),
                     -(-per_candidate([f.temporal for f, _ in parts], np.int64) // chunks))
    return Candidates(flows, chunks, whole, outside, fill, run.astype(np.int64))


def systolic_space(layer: Layer, hw: Hardware) -> Space:
    """The capacity-pruned space of `layer` on `hw`'s systolic array (see the module docstring)."""
    rows, cols = hw.pe_array.rows, hw.pe_array.cols
    _, capacity = buffer_slots(hw.buffers, layer)
    totals = operand_totals(layer)
    g = layer.gemm
    families, raw, capacity_pruned, symmetry_pruned = [], 0, 0, 0
    most_run = max_streamed_per_stationary_read(layer, hw)[0]
    refusal = ""
    for code in range(len(DATAFLOW_NAMES)):
        for fill, repeats in _fills(layer, hw, code):
            for bits in range(8):
                whole = tuple(bool(bits >> i & 1) for i in range(3))
                geometry = chunking(rows * fill, cols, code, g.m, g.k, g.n, totals, capacity,
                                    dict(zip(OPERANDS, whole)))
                temporal = max(int(geometry["temporal"]), 1)
                raw += 2 * temporal * (1 + repeats)  # both chunk orders, every F giving these fills
                symmetry_pruned += 2 * temporal * repeats
                if geometry["misfit"]:
                    capacity_pruned += 2 * temporal
                    if not refusal:
                        refusal = _misfit_text(layer, hw, DATAFLOW_NAMES[code], geometry["misfit"], whole, capacity,
                                               totals)
                    continue
                low = int(geometry["chunks"])
                capacity_pruned += 2 * (low - 1)
                counts = np.arange(low, temporal + 1, dtype=np.int64)
                run = 1 if DATAFLOW_NAMES[code] == "os" else most_run
                families.append(Family(code, whole, counts, fill=fill, run=run, temporal=temporal))
                # The other order differs only with several fills and chunks, and os refuses it.
                fills = int(geometry["row_folds"])  # with F row folds per fill: the fills
                distinct = counts[counts > 1] if (DATAFLOW_NAMES[code] != "os" and fills > 1) else counts[:0]
                symmetry_pruned += counts.size - distinct.size
                if distinct.size:
                    families.append(Family(code, whole, distinct, outside=True, fill=fill, run=run,
                                           temporal=temporal))
    # Each "auto" level doubles the raw space; the rule's decision dominates the others on the same tiles.
    choices = 2 ** len(auto_names(hw))
    return Space(tuple(families), raw * choices, (("capacity", capacity_pruned), ("symmetry", symmetry_pruned),
                                                  ("buffering", raw * (choices - 1))),
                 "" if families else refusal)


def _fills(layer: Layer, hw: Hardware, code: int) -> list[tuple[int, int]]:
    """(F, how many larger F give the same fill count) for each distinct fill count of dataflow `code`:
    F = ceil(row folds / fills), up to what the stationary register holds; os and F = 1 alone without a register."""
    from sim.analytical.levels import max_row_folds_per_fill

    flow = DATAFLOW_NAMES[code]
    if flow == "os":
        return [(1, 0)]
    row_folds = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols).row_folds
    most = min(max_row_folds_per_fill(layer, hw, "filter" if flow == "ws" else "ifmap")[0], max(row_folds, 1))
    by_fills: dict[int, list[int]] = {}
    for fill in range(1, most + 1):
        by_fills.setdefault(-(-row_folds // fill), []).append(fill)
    return [(group[0], len(group) - 1) for group in by_fills.values()]


def _misfit_text(layer: Layer, hw: Hardware, flow: str, name: str, whole: tuple[bool, ...], capacity: dict,
                 totals: dict) -> str:
    from sim.mapping.systolic import raise_misfit

    held = tuple(n for n, w in zip(OPERANDS, whole) if w)
    try:
        raise_misfit(name, array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, whole=held), capacity,
                     totals)
    except MappingError as error:
        return str(error)
    return f"buffers.{name}.size_kb: the {name} tile does not fit"


def layer_space(layer: Layer, hw: Hardware) -> Space:
    """The mapping space of `layer` on `hw`; MappingError for hardware the mapper does not search yet."""
    if hw.kind != "systolic" or hw.buffers is None or hw.dram is None:
        raise MappingError("the mapper searches systolic arrays ([pe_array] with [buffers] and [dram]) today; "
                           "directive arrays take a MAESTRO mapping (--mapping FILE)", field="hardware",
                           value=hw.kind, allowed="a [pe_array] config")
    if layer.partial_sum_bits != layer.ofmap_bits:
        raise MappingError(f"layer '{layer.name}': partial sums at their own precision are not run by the systolic "
                           "models yet", field=f"{layer.name}.psum_bits", value=layer.psum_bits,
                           allowed=f"0 or ofmap_bits ({layer.ofmap_bits})")
    return systolic_space(layer, hw)
