"""Engine vs analytical model, field by field: both return the same LayerResult, so this is a diff."""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from sim.records import LayerResult, RunResult

# (report name, getter): every number the two models both claim to produce.
# Stall cycles are compared relative to the analytical total cycles (see RELATIVE_TO): an estimate of zero
# stalls would otherwise make any engine stall an infinite error.
RELATIVE_TO: dict[str, Any] = {"stall_cycles": lambda r: r.cycles}
FIELDS: tuple[tuple[str, Any], ...] = (
    ("macs", lambda r: r.macs),
    ("cycles", lambda r: r.cycles),
    ("compute_cycles", lambda r: r.compute_cycles),
    ("stall_cycles", lambda r: r.stall_cycles),
    ("utilization", lambda r: r.utilization),
    ("mapping_efficiency", lambda r: r.mapping_efficiency),
    ("sram_reads.ifmap", lambda r: r.sram_reads.ifmap),
    ("sram_reads.filter", lambda r: r.sram_reads.filter),
    ("sram_reads.ofmap", lambda r: r.sram_reads.ofmap),
    ("sram_writes.ofmap", lambda r: r.sram_writes.ofmap),
    ("dram_reads.ifmap", lambda r: r.dram_reads.ifmap),
    ("dram_reads.filter", lambda r: r.dram_reads.filter),
    ("dram_reads.ofmap", lambda r: r.dram_reads.ofmap),
    ("dram_writes.ofmap", lambda r: r.dram_writes.ofmap),
    ("energy_pj", lambda r: r.energy.total_pj),
    ("crossbars", lambda r: r.crossbar.crossbars if r.crossbar else None),
    ("crossbar_reads", lambda r: r.crossbar.crossbar_reads if r.crossbar else None),
    ("adc_conversions", lambda r: r.crossbar.adc_conversions if r.crossbar else None),
    ("dac_conversions", lambda r: r.crossbar.dac_conversions if r.crossbar else None),
)


def relative_error(measured: float, reference: float) -> float:
    """|measured - reference| / |reference|; 0 when both are 0, inf when only the reference is 0."""
    if measured == reference:
        return 0.0
    if reference == 0:
        return float("inf")
    return abs(measured - reference) / abs(reference)


@dataclass(frozen=True)
class FieldDiff:
    layer: str
    field: str
    engine: float
    analytical: float
    reference: float | None = None  # the denominator when it is not `analytical` (RELATIVE_TO)

    @property
    def relative_error(self) -> float:
        if self.reference is None:
            return relative_error(self.engine, self.analytical)
        return relative_error(self.reference + self.engine - self.analytical, self.reference)


@dataclass(frozen=True)
class FieldSummary:
    field: str
    worst: float
    mean: float
    worst_layer: str


@dataclass(frozen=True)
class Comparison:
    engine: RunResult
    analytical: RunResult
    diffs: tuple[FieldDiff, ...]

    def summary(self) -> tuple[FieldSummary, ...]:
        by_field: dict[str, list[FieldDiff]] = {}
        for diff in self.diffs:
            by_field.setdefault(diff.field, []).append(diff)
        out = []
        # FIELDS first, then the per-level fields of a memory hierarchy in order of appearance.
        names = [name for name, _ in FIELDS] + [name for name in by_field if name.startswith("levels.")]
        for name in names:
            rows = by_field.get(name)
            if not rows:
                continue
            worst = max(rows, key=lambda d: d.relative_error)
            finite = [d.relative_error for d in rows]
            out.append(FieldSummary(name, worst.relative_error, sum(finite) / len(finite), worst.layer))
        return tuple(out)

    def violations(self, tolerance: float) -> tuple[FieldDiff, ...]:
        return tuple(d for d in self.diffs if d.relative_error > tolerance)

    def to_frame(self) -> Any:
        """One row per layer and field (needs pandas)."""
        import pandas

        return pandas.DataFrame([{"layer": d.layer, "field": d.field, "engine": d.engine,
                                  "analytical": d.analytical, "relative_error": d.relative_error}
                                 for d in self.diffs])

    def write_csv(self, path: str | Path) -> None:
        from sim.report.files import atomic_file

        with atomic_file(Path(path), newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["layer", "field", "engine", "analytical", "relative_error"])
            for d in self.diffs:
                writer.writerow([d.layer, d.field, d.engine, d.analytical, f"{d.relative_error:.6g}"])


def _layer_diffs(engine: LayerResult, analytical: LayerResult) -> Iterator[FieldDiff]:
    for name, getter in FIELDS:
        e, a = getter(engine), getter(analytical)
        if e is None or a is None:
            continue
        scale = RELATIVE_TO.get(name)
        yield FieldDiff(engine.name, name, float(e), float(a), float(scale(analytical)) if scale else None)
    # Every level's and operand's accesses on a hierarchy beyond one SRAM per operand (sim.analytical.levels).
    reference = {(c.level, c.operand): c for c in analytical.levels}
    for counts in engine.levels:
        other = reference.get((counts.level, counts.operand))
        if other is None:
            continue
        for key in ("reads", "writes"):
            yield FieldDiff(engine.name, f"levels.{counts.level}.{counts.operand}.{key}", float(getattr(counts, key)),
                            float(getattr(other, key)))


def compare_runs(engine: RunResult, analytical: RunResult) -> Comparison:
    if [r.name for r in engine.layers] != [r.name for r in analytical.layers]:
        raise ValueError("the two runs cover different layers")
    diffs = tuple(d for e, a in zip(engine.layers, analytical.layers) for d in _layer_diffs(e, a))
    return Comparison(engine=engine, analytical=analytical, diffs=diffs)
