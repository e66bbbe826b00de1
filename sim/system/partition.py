"""Partitions: which accelerator runs which work.

- pipeline: contiguous layers per accelerator (stages, in trace order), the batch cut into `micro_batches`
  (GPipe's schedule: every forward micro-batch, then every backward one);
- data_parallel: the batch split over accelerators (`shares`: images each), gradients all-reduced over the links;
- tensor: every layer's output channels split over accelerators (`shares`: relative weights), outputs all-gathered
  after each layer (and input gradients all-reduced in training).

`check_partition` refuses a layer left unassigned or assigned twice, an accelerator the system lacks and a layer an
accelerator cannot run, each naming the layer and the accelerator.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from sim.errors import ConfigError, MappingError
from sim.system.spec import System

if TYPE_CHECKING:  # annotations only: checking a system config's [partition] loads no workload module
    from sim.workload.layer import Layer
    from sim.workload.trace import Trace

KINDS = ("pipeline", "data_parallel", "tensor")


@dataclass(frozen=True)
class Stage:
    accelerator: str
    layers: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    kind: Literal["pipeline", "data_parallel", "tensor"]
    stages: tuple[Stage, ...] = ()  # pipeline
    accelerators: tuple[str, ...] = ()  # data_parallel, tensor
    shares: tuple[int, ...] = ()  # data_parallel: images per accelerator; tensor: relative channel weights
    micro_batches: int = 1  # pipeline

    def describe(self) -> str:
        if self.kind == "pipeline":
            cuts = " | ".join(f"{s.accelerator}:{len(s.layers)}" for s in self.stages)
            return f"pipeline {cuts} x{self.micro_batches} micro-batches"
        return f"{self.kind} " + ", ".join(f"{a}:{s}" for a, s in zip(self.accelerators, self.shares))


def single(trace: Trace, accelerator: str) -> Partition:
    """Everything on one accelerator (a one-stage pipeline, one micro-batch)."""
    return Partition("pipeline", (Stage(accelerator, tuple(layer.name for layer in trace.layers)),))


def even_pipeline(trace: Trace, accelerators: tuple[str, ...], micro_batches: int = 1) -> Partition:
    """The naive split: the same number of layers per stage (the first stages take the remainder)."""
    n, count = len(accelerators), len(trace.layers)
    sizes = [count // n + (1 if i < count % n else 0) for i in range(n)]
    stages, start = [], 0
    for name, size in zip(accelerators, sizes):
        if size:
            stages.append(Stage(name, tuple(layer.name for layer in trace.layers[start:start + size])))
        start += size
    return Partition("pipeline", tuple(stages), micro_batches=micro_batches)


def even_data_parallel(batch: int, accelerators: tuple[str, ...]) -> Partition:
    n = len(accelerators)
    return Partition("data_parallel", accelerators=accelerators,
                     shares=tuple(batch // n + (1 if i < batch % n else 0) for i in range(n)))


def split_counts(total: int, weights: tuple[int, ...] | tuple[float, ...]) -> tuple[int, ...]:
    """`total` split in proportion to `weights` by largest remainder (ties to the earlier entry); sums to total."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[:total - sum(counts)]:
        counts[i] += 1
    return tuple(counts)


def with_batch(trace: Trace, batch: int | None) -> Trace:
    if batch is None:
        return trace
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ConfigError("must be a whole number >= 1", field="batch", value=batch)
    return replace(trace, layers=tuple(replace(layer, batch=batch) for layer in trace.layers))


def trace_batch(trace: Trace) -> int:
    batches = {layer.batch for layer in trace.layers}
    if len(batches) != 1:
        raise ConfigError("the layers of a trace split over a system must share one batch", field="batch",
                          value=sorted(batches), allowed="one batch (give batch=N to set it)")
    return batches.pop()


def tensor_slice(layer: Layer, part: int, parts: tuple[int, ...]) -> Layer | None:
    """Accelerator `part`'s share of `layer`'s output channels (whole groups for a grouped layer), or None."""
    if layer.groups > 1:
        groups = split_counts(layer.groups, parts)[part]
        if not groups:
            return None
        return replace(layer, groups=groups, in_channels=layer.in_channels // layer.groups * groups,
                       out_channels=layer.out_channels // layer.groups * groups)
    channels = split_counts(layer.out_channels, parts)[part]
    return replace(layer, out_channels=channels) if channels else None


def _fail(message: str, field: str, value: object = None, allowed: str | None = None,
          file: str | None = None) -> None:
    raise ConfigError(message, file=file, field=field, value=value, allowed=allowed)


def check_partition(partition: Partition, system: System, trace: Trace) -> None:
    """ConfigError for a partition that does not cover the trace exactly once or names unknown accelerators;
    MappingError naming the layer, the accelerator and why, for a layer an accelerator cannot run."""
    from sim.api import map_layer

    file = system.source_file or None
    names = set(system.names)
    if partition.kind not in KINDS:
        _fail("unknown partition kind", "partition.kind", partition.kind, ", ".join(KINDS), file)
    if partition.kind == "pipeline":
        if not partition.stages:
            _fail("a pipeline needs at least one stage", "partition.stage", file=file)
        owner: dict[str, int] = {}
        for index, stage in enumerate(partition.stages):
            if stage.accelerator not in names:
                _fail("stage on an accelerator that does not exist", f"partition.stage[{index}].accelerator",
                      stage.accelerator, ", ".join(system.names), file)
            for layer in stage.layers:
                if layer in owner:
                    _fail(f"layer '{layer}' is assigned twice (stages {owner[layer]} and {index})",
                          f"partition.stage[{index}].layers", layer, "each layer in exactly one stage", file)
                owner[layer] = index
        known = [layer.name for layer in trace.layers]
        for layer in known:
            if layer not in owner:
                _fail(f"layer '{layer}' is not assigned to any stage", "partition.stage", layer,
                      "every layer of the trace in one stage", file)
        extra = sorted(set(owner) - set(known))
        if extra:
            _fail(f"layer '{extra[0]}' is not in trace '{trace.name}'", "partition.stage", extra[0],
                  "layer names of the trace", file)
        order = [owner[layer] for layer in known]
        if order != sorted(order):
            _fail("pipeline stages must hold contiguous layers, in trace order", "partition.stage", order,
                  "stage indices non-decreasing along the trace", file)
        batch = trace_batch(trace)
        m = partition.micro_batches
        if isinstance(m, bool) or not isinstance(m, int) or m < 1 or batch % m:
            _fail("micro_batches must divide the batch", "partition.micro_batches", m, f"a divisor of {batch}", file)
        for stage in partition.stages:
            hw = system.accelerator(stage.accelerator).hardware
            for layer in trace.layers:
                if owner[layer.name] == partition.stages.index(stage):
                    _check_runs(layer, stage.accelerator, hw, map_layer)
        return
    if not partition.accelerators:
        _fail(f"a {partition.kind} partition needs accelerators", "partition.accelerators", file=file)
    for index, name in enumerate(partition.accelerators):
        if name not in names:
            _fail("no such accelerator in the system", f"partition.accelerators[{index}]", name,
                  ", ".join(system.names), file)
    if len(set(partition.accelerators)) != len(partition.accelerators):
        _fail("an accelerator is listed twice", "partition.accelerators", list(partition.accelerators), file=file)
    if len(partition.shares) != len(partition.accelerators) or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in partition.shares):
        _fail("one whole share >= 1 per accelerator", "partition.shares", list(partition.shares),
              f"{len(partition.accelerators)} integers >= 1", file)
    if partition.kind == "data_parallel":
        batch = trace_batch(trace)
        if sum(partition.shares) != batch:
            _fail("data-parallel shares must add up to the batch", "partition.shares", list(partition.shares),
                  f"images per accelerator summing to {batch}", file)
        for name, share in zip(partition.accelerators, partition.shares):
            for layer in trace.layers:
                _check_runs(replace(layer, batch=share), name, system.accelerator(name).hardware, map_layer)
        return
    for part, name in enumerate(partition.accelerators):
        for layer in trace.layers:
            piece = tensor_slice(layer, part, partition.shares)
            if piece is not None:
                _check_runs(piece, name, system.accelerator(name).hardware, map_layer)


def _check_runs(layer: Layer, accelerator: str, hw, map_layer) -> None:
    try:
        map_layer(layer, hw)
    except MappingError as err:
        if hw.kind == "directive" and err.field == "dataflow":
            return  # the trace's own Dataflow blocks come with it at run time
        raise MappingError(f"layer '{layer.name}' cannot run on accelerator '{accelerator}' ({hw.name}): "
                           f"{err.message}", field=f"partition.{accelerator}", allowed=err.allowed) from err


def partition_from_table(table: Any, system: System) -> Partition:
    """The [partition] table of a system config as a Partition (checked later, against a trace)."""
    file = system.source_file or None
    if not isinstance(table, dict):
        _fail("the partition must be a table", "partition", file=file)
    kind = table.get("kind")
    if kind not in KINDS:
        _fail("unknown partition kind", "partition.kind", kind, ", ".join(KINDS), file)
    allowed = {"pipeline": {"kind", "stage", "micro_batches"},
               "data_parallel": {"kind", "accelerators", "shares"},
               "tensor": {"kind", "accelerators", "shares"}}[kind]
    unknown = sorted(set(table) - allowed)
    if unknown:
        _fail("unknown key", f"partition.{unknown[0]}", allowed=", ".join(sorted(allowed)), file=file)
    if kind == "pipeline":
        stages = []
        for index, entry in enumerate(table.get("stage", [])):
            if not isinstance(entry, dict) or set(entry) != {"accelerator", "layers"}:
                _fail("a stage names its accelerator and its layers", f"partition.stage[{index}]",
                      allowed='accelerator = "...", layers = ["...", ...]', file=file)
            stages.append(Stage(str(entry["accelerator"]), tuple(str(x) for x in entry["layers"])))
        return Partition("pipeline", tuple(stages), micro_batches=table.get("micro_batches", 1))
    accelerators = tuple(str(x) for x in table.get("accelerators", system.names))
    shares = tuple(table.get("shares", ()))
    return Partition(kind, accelerators=accelerators, shares=shares)
