"""The one result schema: the engine and the analytical model both return these records.

Counts are in elements (words) unless a name ends in `_bytes`; energies are in pJ. Everything is a frozen
dataclass so results can be hashed, pickled (sweeps), compared field by field (`sim compare`) and summed.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Iterable, Mapping


@dataclass(frozen=True, slots=True)
class OperandCounts:
    """One count per operand (SRAM or DRAM reads / writes)."""

    ifmap: int = 0
    filter: int = 0
    ofmap: int = 0

    @property
    def total(self) -> int:
        return self.ifmap + self.filter + self.ofmap

    def __add__(self, other: "OperandCounts") -> "OperandCounts":
        return OperandCounts(self.ifmap + other.ifmap, self.filter + other.filter, self.ofmap + other.ofmap)

    def to_dict(self) -> dict[str, int]:
        return {"ifmap": self.ifmap, "filter": self.filter, "ofmap": self.ofmap}


def _frozen_items(values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> tuple[tuple[str, Any], ...]:
    # dict first (the Mapping ABC check is slow), and keys through map(str) rather than a generator: the same
    # pairs, sorted, at a fraction of the cost in these hot constructors.
    if isinstance(values, (dict, Mapping)):
        return tuple(sorted(zip(map(str, values.keys()), values.values())))
    return tuple(sorted((str(k), v) for k, v in values))


@dataclass(frozen=True, slots=True)
class ActionCounts:
    """How often each hardware action happened, keyed by the energy-table entry it is charged to.

    Keys are `component.action` in the field's vocabulary: `mac`, `ifmap_sram.read`, `filter_sram.read`,
    `ofmap_sram.write`, `dram.read_bytes`, `crossbar.read`, `adc.convert`, `dac.convert`, `leakage.cycle` ...
    Stored as a sorted tuple so the record stays hashable and picklable.
    """

    items: tuple[tuple[str, float], ...] = ()

    @classmethod
    def of(cls, values: Mapping[str, float] | Iterable[tuple[str, float]]) -> "ActionCounts":
        return cls(_frozen_items(values))

    def as_dict(self) -> dict[str, float]:
        return dict(self.items)

    def get(self, key: str, default: float = 0) -> float:
        return self.as_dict().get(key, default)

    def __add__(self, other: "ActionCounts") -> "ActionCounts":
        merged = self.as_dict()
        for key, value in other.items:
            merged[key] = merged.get(key, 0) + value
        return ActionCounts.of(merged)


class _PairsView(Sequence):
    """A compact stand-in for a tuple of (key, value) pairs: reads, compares, hashes, prints and pickles as
    `_pairs()`, the tuple it stands for (so reports and `==` cannot tell the two apart)."""

    __slots__ = ()

    def _pairs(self) -> tuple[tuple[str, Any], ...]:
        raise NotImplementedError

    def __getitem__(self, index):
        return self._pairs()[index]

    def __iter__(self):
        return iter(self._pairs())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _PairsView):
            other = other._pairs()
        return isinstance(other, tuple) and self._pairs() == other

    def __hash__(self) -> int:
        return hash(self._pairs())

    def __repr__(self) -> str:
        return repr(self._pairs())

    def __reduce__(self):
        return tuple, (self._pairs(),)


class KeyedValues(_PairsView):
    """Sorted (key, value) pairs kept as a keys tuple and a values tuple: every layer of a run has the same keys,
    so they share one keys tuple and a record holds its values only (~2 KB less a layer than a tuple of pairs)."""

    __slots__ = ("_keys", "_values")

    def __init__(self, keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
        self._keys = keys
        self._values = values

    def _pairs(self) -> tuple[tuple[str, Any], ...]:
        return tuple(zip(self._keys, self._values))

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self):
        return zip(self._keys, self._values)


class PricedProvenance(_PairsView):
    """An energy breakdown's provenance, rendered when read: one layer's counts (its `ActionCounts.items`, already
    held by the LayerResult) and the run's shared price table, instead of one text per action and layer (~2.5 KB a
    layer). `priced[action]` is `(component, pj, text before the count, text after)`, or None for `not_priced`."""

    __slots__ = ("_counts", "_priced", "_not_priced")

    def __init__(self, counts: tuple[tuple[str, float], ...], priced: Mapping[str, Any], not_priced: str) -> None:
        self._counts = counts
        self._priced = priced
        self._not_priced = not_priced

    def _pairs(self) -> tuple[tuple[str, str], ...]:
        texts = {}
        for action, count in self._counts:
            price = self._priced[action]
            texts[action] = self._not_priced if price is None else f"{price[2]}{count}{price[3]}"
        return _frozen_items(texts)

    def __len__(self) -> int:
        return len(self._pairs())  # one pair per distinct action


@dataclass(frozen=True, slots=True)
class EnergyBreakdown:
    """Energy per component (pJ); `total_pj` is their sum, by construction.

    `provenance` names, per action key, the energy-table entry and its source (Accelergy's idea): sorted
    (action, text) pairs, a tuple or a `PricedProvenance` that renders the same pairs on demand.
    """

    by_component: tuple[tuple[str, float], ...] = ()
    provenance: Sequence[tuple[str, str]] = ()

    @classmethod
    def of(cls, by_component: Mapping[str, float], provenance: Mapping[str, str] | None = None) -> "EnergyBreakdown":
        return cls(_frozen_items(by_component), _frozen_items(provenance or {}))

    @property
    def total_pj(self) -> float:
        return float(sum(v for _, v in self.by_component))

    def as_dict(self) -> dict[str, float]:
        return dict(self.by_component)

    def __add__(self, other: "EnergyBreakdown") -> "EnergyBreakdown":
        merged = self.as_dict()
        for key, value in other.by_component:
            merged[key] = merged.get(key, 0.0) + value
        prov = dict(self.provenance)
        prov.update(dict(other.provenance))
        return EnergyBreakdown.of(merged, prov)

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total_pj, **self.as_dict()}


@dataclass(frozen=True)
class CrossbarStats:
    """Fields a crossbar (ReRAM) layer adds to its LayerResult (DESIGN.md §3)."""

    crossbars: int
    crossbar_utilization: float
    adc_conversions: int
    dac_conversions: int
    crossbar_reads: int
    output_error: float | None = None  # max |output - exact| over the layer; None when not computed
    adc_bits_configured: int | None = None
    adc_bits_required: int | None = None  # the largest lossless requirement over mapped columns


@dataclass(frozen=True)
class FunctionalCheck:
    """Outcome of computing a layer's actual output values and checking them against numpy."""

    max_abs_error: float
    elements: int
    accumulator_overflow: bool = False
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class LevelCounts:
    """One operand's accesses at one memory level (sim.analytical.levels): `reads` / `writes` in words of the
    level (a partial word counts its fraction; DRAM's words are bytes), the bytes they move, and their energy."""

    level: str
    operand: str
    reads: float
    writes: float
    read_bytes: float
    write_bytes: float
    energy_pj: float


@dataclass(frozen=True, slots=True)
class LayerResult:
    """One layer's numbers; produced by `sim.engine` and by `sim.analytical` alike."""

    name: str
    kind: str
    model: str  # "engine" | "analytical"
    macs: int
    cycles: int
    compute_cycles: int
    stall_cycles: int
    utilization: float  # MACs / (PEs x cycles)
    mapping_efficiency: float
    folds: int = 0
    sram_reads: OperandCounts = field(default_factory=OperandCounts)
    sram_writes: OperandCounts = field(default_factory=OperandCounts)
    dram_reads: OperandCounts = field(default_factory=OperandCounts)
    dram_writes: OperandCounts = field(default_factory=OperandCounts)
    actions: ActionCounts = field(default_factory=ActionCounts)
    energy: EnergyBreakdown = field(default_factory=EnergyBreakdown)
    sim_wall_s: float = 0.0
    crossbar: CrossbarStats | None = None
    functional: FunctionalCheck | None = None
    # Model-specific statistics (per-component busy/idle cycles, MAESTRO's statistics ...): name -> number, as
    # sorted pairs (a tuple, or the engine's KeyedValues).
    extra: Sequence[tuple[str, float]] = ()
    # Per memory level and operand, outermost last; empty unless the hardware gives a [[memory]] hierarchy beyond
    # one SRAM per operand (then its actions are keyed by level name).
    levels: tuple[LevelCounts, ...] = ()

    def with_extra(self, values: Mapping[str, float], shared_keys: dict | None = None) -> "LayerResult":
        """`extra` with `values` merged in; `shared_keys`, a dict kept over a run's layers, lets them share one
        keys tuple."""
        merged = dict(self.extra)
        merged.update(values)
        keys = tuple(sorted(map(str, merged)))
        if shared_keys is not None:
            keys = shared_keys.setdefault(keys, keys)
        by_name = {str(key): value for key, value in merged.items()}
        return replace(self, extra=KeyedValues(keys, tuple([by_name[key] for key in keys])))

    def to_dict(self) -> dict[str, Any]:
        """The report.json layer record (DESIGN.md §3)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "model": self.model,
            "macs": self.macs,
            "cycles": self.cycles,
            "compute_cycles": self.compute_cycles,
            "stall_cycles": self.stall_cycles,
            "utilization": self.utilization,
            "mapping_efficiency": self.mapping_efficiency,
            "folds": self.folds,
            "sram_reads": self.sram_reads.to_dict(),
            "sram_writes": {"ofmap": self.sram_writes.ofmap},
            "dram_reads": self.dram_reads.to_dict(),
            "dram_writes": {"ofmap": self.dram_writes.ofmap},
            "energy_pj": self.energy.to_dict(),
            "actions": self.actions.as_dict(),
            "sim_wall_s": self.sim_wall_s,
        }
        if self.crossbar is not None:
            out.update(asdict(self.crossbar))
        if self.functional is not None:
            out["functional"] = asdict(self.functional)
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.levels:
            # Keyed "<level>.<operand>" so report.csv flattens it into columns (levels.rf_2b.ofmap.reads ...).
            out["levels"] = {f"{c.level}.{c.operand}": {"reads": c.reads, "writes": c.writes, "read_bytes": c.read_bytes,
                                                        "write_bytes": c.write_bytes, "energy_pj": c.energy_pj}
                             for c in self.levels}
        return out


# Fields that add up over layers; the rest of RunResult.totals is derived from them.
_ADDITIVE = ("macs", "cycles", "compute_cycles", "stall_cycles", "folds", "sim_wall_s")


@dataclass(frozen=True, slots=True)
class RunResult:
    """A whole trace on one hardware config."""

    hardware: str
    trace: str
    model: str
    layers: tuple[LayerResult, ...]
    pes: int = 0  # processing elements (or crossbar cells) the utilization is measured against
    metadata: tuple[tuple[str, Any], ...] = ()

    def totals(self) -> dict[str, Any]:
        total: dict[str, Any] = {name: sum(getattr(layer, name) for layer in self.layers) for name in _ADDITIVE}
        zero = OperandCounts()
        for name in ("sram_reads", "sram_writes", "dram_reads", "dram_writes"):
            summed = sum((getattr(layer, name) for layer in self.layers), zero)
            total[name] = summed.to_dict()
        energy = sum((layer.energy for layer in self.layers), EnergyBreakdown())
        total["energy_pj"] = energy.to_dict()
        # Against the PE count; None where the hardware has none to measure against (a crossbar chip).
        total["utilization"] = total["macs"] / (self.pes * total["cycles"]) if self.pes and total["cycles"] else None
        return total

    def to_frame(self) -> Any:
        """One row per layer, nested fields flattened with dots (needs pandas)."""
        import pandas

        return pandas.DataFrame([flatten(layer.to_dict()) for layer in self.layers])

    def to_dict(self) -> dict[str, Any]:
        return {
            "hardware": self.hardware,
            "trace": self.trace,
            "model": self.model,
            "pes": self.pes,
            "metadata": dict(self.metadata),
            "layers": [layer.to_dict() for layer in self.layers],
            "totals": self.totals(),
        }


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}: the flat column names of report.csv and DataFrames."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def result_fields() -> tuple[str, ...]:
    """Names of LayerResult's fields, in order (used by compare and the CSV writer)."""
    return tuple(f.name for f in fields(LayerResult))


# ---------------------------------------------------------------- systems of several accelerators (sim.system)
@dataclass(frozen=True)
class AcceleratorTime:
    """Where one accelerator's step time went (ns): busy = compute + memory_stall; the rest it waited or idled."""

    name: str
    hardware: str
    busy_ns: float
    compute_ns: float
    memory_stall_ns: float
    communication_ns: float  # waiting for data on the links
    bubble_ns: float  # waiting for another accelerator's compute (pipeline fill and drain)
    idle_ns: float  # after its last operation, until the step ends
    macs: int
    energy_pj: float


@dataclass(frozen=True)
class LinkTraffic:
    """One link over the step: bytes carried (both directions), time held, utilization of its two directions."""

    name: str
    bytes: int
    busy_ns: float
    utilization: float
    energy_pj: float


@dataclass(frozen=True)
class TimelineSegment:
    resource: str  # an accelerator, or a link direction "a->b"
    label: str
    start_ns: float
    end_ns: float
    category: str  # compute | transfer


@dataclass(frozen=True)
class SystemResult:
    """One step (training or inference) of a trace on a system; per-op numbers stay LayerResults in `runs`."""

    system: str
    trace: str
    partition: str
    model: str  # the per-operation model: engine | analytical
    step_ns: float
    accelerators: tuple[AcceleratorTime, ...]
    links: tuple[LinkTraffic, ...]
    timeline: tuple[TimelineSegment, ...]
    runs: tuple[RunResult, ...]  # per accelerator: its operations (one micro-batch / its share), as simulated

    @property
    def energy_pj(self) -> float:
        return sum(a.energy_pj for a in self.accelerators) + sum(link.energy_pj for link in self.links)

    def breakdown(self) -> dict[str, float]:
        """The step time split by compute, memory stall, communication, bubble and idle, averaged over
        accelerators (each accelerator's parts sum to step_ns)."""
        n = len(self.accelerators) or 1
        keys = ("compute_ns", "memory_stall_ns", "communication_ns", "bubble_ns", "idle_ns")
        return {key: sum(getattr(a, key) for a in self.accelerators) / n for key in keys}

    def to_dict(self) -> dict[str, Any]:
        return {
            "system": self.system, "trace": self.trace, "partition": self.partition, "model": self.model,
            "step_ns": self.step_ns, "energy_pj": self.energy_pj, "breakdown": self.breakdown(),
            "accelerators": [asdict(a) for a in self.accelerators],
            "links": [asdict(link) for link in self.links],
            "runs": [run.to_dict() for run in self.runs],
        }
