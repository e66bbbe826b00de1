"""Expanded vs compressed block-circulant mapping at equal crossbar area (ReBoc's comparison, our reading).

`compare_equal_area(trace, hw)` runs the same trace on the same chip as
- `expanded`: every circulant block stored densely (the ISAAC/PRIME baseline);
- `compressed`: the configured compressed mapping without a budget (freed crossbars stay idle);
- `equal_area`: the compressed mapping filling the budget (default: the expanded mapping's crossbars)
  with block copies, with input slice reusing, input tile sharing and the intra-layer pipeline on;
- `equal_area_no_<saving>`: the same with one saving switched off, so each saving is measured alone.
Rows carry cycles (one pass through the inter-layer pipeline), the steady-state interval, energy,
crossbars, input-buffer bytes and the eDRAM accesses; docs/reram.md §4 has the measured table.
"""
from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from sim.analytical.crossbar import estimate_crossbar_trace
from sim.engine.crossbar import simulate_crossbar_trace
from sim.errors import ConfigError
from sim.hardware.spec import Hardware
from sim.mapping.crossbar import expanded_hardware, map_crossbar_trace
from sim.workload.trace import Trace

SAVINGS = ("input_slice_reuse", "input_tile_sharing", "intra_layer_pipeline")


@dataclass(frozen=True)
class EqualAreaRow:
    """One mapping variant of the trace (totals over its layers, one image)."""

    variant: str
    crossbars: int
    chips: int
    cycles: int  # one image through the inter-layer pipeline (engine) or the sum of layers (analytical)
    interval_cycles: int  # the slowest stage: cycles per image in steady state
    energy_pj: float
    adc_conversions: int
    crossbar_reads: int
    edram_reads: int
    input_buffer_bytes: float  # input-register bytes one vector of every layer occupies


@dataclass(frozen=True)
class EqualAreaReport:
    trace: str
    hardware: str
    budget: str
    model: str
    rows: tuple[EqualAreaRow, ...]

    def row(self, variant: str) -> EqualAreaRow:
        return next(r for r in self.rows if r.variant == variant)

    def speedup(self, variant: str, baseline: str = "expanded") -> float:
        return _ratio(self.row(baseline).cycles, self.row(variant).cycles)

    def energy_ratio(self, variant: str, baseline: str = "expanded") -> float:
        """Energy reduction of `variant` (baseline / variant; nan without an energy table)."""
        return _ratio(self.row(baseline).energy_pj, self.row(variant).energy_pj)

    def savings(self) -> dict[str, dict[str, float]]:
        """Per ReBoc saving: the eDRAM reads, input-buffer bytes, cycles and energy that switching it off adds."""
        on = self.row("equal_area")
        out = {}
        for saving in SAVINGS:
            off = self.row(f"equal_area_no_{saving}")
            out[saving] = {"edram_reads": off.edram_reads - on.edram_reads,
                           "input_buffer_bytes": off.input_buffer_bytes - on.input_buffer_bytes,
                           "cycles": off.cycles - on.cycles, "energy_pj": off.energy_pj - on.energy_pj}
        return out

    def table(self) -> str:
        """Plain-text table, one line per variant, with speedup and energy ratio against `expanded`."""
        head = (f"{'variant':<36} {'crossbars':>9} {'chips':>5} {'cycles':>10} {'interval':>9} {'energy nJ':>11} "
                f"{'eDRAM reads':>11} {'in-buf KiB':>10} {'speedup':>8} {'energy x':>8}")
        lines = [head]
        for r in self.rows:
            lines.append(f"{r.variant:<36} {r.crossbars:>9} {r.chips:>5} {r.cycles:>10} {r.interval_cycles:>9} "
                         f"{r.energy_pj / 1e3:>11.1f} {r.edram_reads:>11} {r.input_buffer_bytes / 1024:>10.1f} "
                         f"{self.speedup(r.variant):>8.3f} {self.energy_ratio(r.variant):>8.3f}")
        for saving, saved in self.savings().items():
            lines.append(f"{saving} saves {saved['edram_reads']} eDRAM reads, "
                         f"{saved['input_buffer_bytes'] / 1024:.1f} KiB of input buffer, {saved['cycles']} cycles, "
                         f"{saved['energy_pj'] / 1e3:.1f} nJ")
        return "\n".join(lines)

    def write_csv(self, path: str | Path) -> Path:
        from sim.report.files import atomic_file

        path = Path(path)
        names = [f.name for f in fields(EqualAreaRow)]
        with atomic_file(path, newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=[*names, "speedup", "energy_ratio"])
            writer.writeheader()
            for r in self.rows:
                writer.writerow({**asdict(r), "speedup": self.speedup(r.variant),
                                 "energy_ratio": self.energy_ratio(r.variant)})
        return path


def _ratio(baseline: float, variant: float) -> float:
    return baseline / variant if variant else float("nan")


def _with(hw: Hardware, **updates) -> Hardware:
    return hw.model_copy(update={"reram": hw.reram.model_copy(update=updates)})


def equal_area_variants(hw: Hardware, budget: int | str = "expanded") -> tuple[tuple[str, Hardware], ...]:
    """(name, hardware) of every variant the report runs; `hw` gives the chip and the duplication setting."""
    if hw.reram is None:
        raise ConfigError("the equal-area comparison needs a [reram] section", field="reram",
                          file=hw.source_file or None)
    compressed = _with(hw, block_circulant="compressed", circulant_budget="none", input_slice_reuse=True,
                       input_tile_sharing=True, intra_layer_pipeline=True)
    budgeted = _with(compressed, circulant_budget=budget)
    return (("expanded", expanded_hardware(hw)), ("compressed", compressed), ("equal_area", budgeted),
            *((f"equal_area_no_{saving}", _with(budgeted, **{saving: False})) for saving in SAVINGS))


def _row(variant: str, trace: Trace, hw: Hardware, model: str) -> EqualAreaRow:
    run = simulate_crossbar_trace(trace, hw) if model == "engine" else estimate_crossbar_trace(trace, hw)
    metadata = dict(run.metadata)
    totals = run.totals()
    interval = int(metadata["pipeline_interval_cycles"])
    cycles = int(metadata["pipeline_cycles"]) if model == "engine" else int(totals["cycles"])
    mappings = map_crossbar_trace(trace.layers, hw)
    return EqualAreaRow(
        variant=variant, crossbars=int(metadata["crossbars_used"]), chips=int(metadata["chips"]), cycles=cycles,
        interval_cycles=interval, energy_pj=float(totals["energy_pj"]["total"]),
        adc_conversions=sum(layer.crossbar.adc_conversions for layer in run.layers),
        crossbar_reads=sum(layer.crossbar.crossbar_reads for layer in run.layers),
        edram_reads=sum(layer.actions.get("edram.read") for layer in run.layers),
        input_buffer_bytes=sum(m.input_buffer_bits for m in mappings) / 8)


def compare_equal_area(trace: Trace, hw: Hardware, *, budget: int | str = "expanded",
                       model: str = "engine") -> EqualAreaReport:
    """Every variant of `equal_area_variants` on `trace`; `model` is "engine" or "analytical"."""
    if model not in ("engine", "analytical"):
        raise ConfigError("unknown model for the equal-area comparison", field="model", value=model,
                          allowed="engine, analytical")
    rows = tuple(_row(name, trace, variant, model) for name, variant in equal_area_variants(hw, budget))
    return EqualAreaReport(trace=trace.name, hardware=hw.name, budget=str(budget), model=model, rows=rows)


__all__ = ["EqualAreaReport", "EqualAreaRow", "compare_equal_area", "equal_area_variants"]
