"""The partitioner: search partitions with the analytical model, validate the best with the engine.

Candidates, each priced from per-layer analytical costs (sim.estimate on the layer's operations, cached per
hardware and batch):
- pipelines over the accelerators in order (and in reverse order for mixed chips), for every micro-batch count dividing the batch (up to
  `max_micro_batches`), with the cut points that minimise the slowest stage (dynamic programming over contiguous
  layers, each stage priced on its own accelerator, so mixed systems get uneven cuts);
- data parallel, images split so the slowest accelerator is as fast as possible (greedy moves of one image from
  the slowest to the one that finishes it soonest);
- a tensor split of every layer's output channels in proportion to each accelerator's throughput.
A pipeline's chosen cuts are then priced stage by stage on the stage's own trace of operations, as the system
engine runs them (a ReRAM chip's `chips = "auto"` board and its replicas depend on the layers it holds, so the
whole-trace per-layer prices can be far off); where a stage's own price differs from its layers' sum by more than
CONTEXT_TOLERANCE, each cut is moved by up to REFINE_SHIFT layers under the stage prices.
Predicted step time = compute (GPipe: sum of stage times + (M-1) x the slowest) + the link time of the transfers
the partition needs; energy = the operations' energy + bytes x pJ/byte per hop; balance = slowest / mean busy time.
The best candidate under the objective is run by the system engine (run_system, model="engine").
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

from sim.errors import ConfigError
from sim.records import SystemResult
from sim.system.engine import _ops_trace, _time_ops, _with_writes, run_system
from sim.system.partition import Partition, Stage, split_counts, tensor_slice, trace_batch, with_batch
from sim.system.spec import Accelerator, System
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from sim.workload.training import training_trace

OBJECTIVES = ("step_time", "energy", "balance")


@dataclass(frozen=True)
class Candidate:
    partition: Partition
    step_ns: float  # predicted
    energy_pj: float
    balance: float  # slowest accelerator's busy time / the mean (1 = perfectly balanced)


@dataclass(frozen=True)
class PartitionSearch:
    objective: str
    candidates: tuple[Candidate, ...]  # every priced candidate, best first
    best: Candidate
    validated: SystemResult | None  # the best, run by the engine
    search_s: float  # wall time of the analytical search


class _Costs:
    """Per-layer (forward ns, backward ns, energy pJ) on one accelerator at one batch, from the analytical model."""

    def __init__(self, trace: Trace, training: bool) -> None:
        self.trace, self.training = trace, training
        self._cache: dict = {}
        self._stages: dict = {}

    def layer_costs(self, accelerator: Accelerator, batch: int) -> tuple[tuple[float, float, float], ...]:
        key = (accelerator.hardware.name, accelerator.hardware.source_file, accelerator.clock_mhz, batch)
        if key not in self._cache:
            self._cache[key] = self.price(accelerator, with_batch(self.trace, batch))
        return self._cache[key]

    def price(self, accelerator: Accelerator, sub: Trace) -> tuple[tuple[float, float, float], ...]:
        from sim import api

        ops = training_trace(sub) if self.training else sub
        run = api.estimate(ops, accelerator.hardware)
        names = [layer.name for layer in sub.layers]
        by_layer: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name in names}
        for index, result in enumerate(run.layers):
            layer = _forward_name(result.name, names) if self.training else names[index]
            backward = self.training and not result.name.endswith(".forward")
            by_layer[layer][1 if backward else 0] += accelerator.ns(result.cycles)
            by_layer[layer][2] += result.energy.total_pj
        return tuple(tuple(by_layer[name]) for name in names)

    def stage_cost(self, accelerator: Accelerator, layers: tuple[Layer, ...], micro: int) -> StageCost:
        """One stage priced on its own trace, as the system engine runs it: a model whose placement depends on the
        layers run together (a ReRAM chip sized by `chips = "auto"`, its replicas; outputs kept on chip) prices a
        stage differently from the sum of its layers in the whole trace."""
        key = (accelerator.hardware.name, accelerator.hardware.source_file, accelerator.clock_mhz, micro,
               tuple(layer.name for layer in layers))
        if key not in self._stages:
            sub = Trace(f"{self.trace.name}.stage", tuple(replace(layer, batch=micro) for layer in layers))
            run = _with_writes(_time_ops(accelerator, _ops_trace(sub, sub.name, self.training), "analytical", 0),
                               accelerator, sub, self.training)
            ops = 3 * len(layers) if self.training else len(layers)
            self._stages[key] = StageCost(sum(accelerator.ns(r.cycles) for r in run.layers[:len(layers)]),
                                          sum(accelerator.ns(r.cycles) for r in run.layers[len(layers):ops]),
                                          sum(accelerator.ns(r.cycles) for r in run.layers[ops:]),
                                          sum(r.energy.total_pj for r in run.layers[:ops]),
                                          sum(r.energy.total_pj for r in run.layers[ops:]))
        return self._stages[key]


@dataclass(frozen=True)
class StageCost:
    """One stage on its own trace, one micro-batch: forward and backward ns, ReRAM writes once per step."""
    forward_ns: float
    backward_ns: float
    writes_ns: float
    energy_pj: float  # the operations', per micro-batch
    writes_energy_pj: float  # once per step


def _forward_name(op_name: str, names: list[str]) -> str:
    base = op_name.rsplit(".", 1)[0]
    return base if base in names else op_name


def _link_ns(system: System, source: str, destination: str, size_bytes: float) -> tuple[float, float]:
    """(time, energy) of one transfer on an idle route."""
    hops = system.route(source, destination)
    if not hops:
        return 0.0, 0.0
    links = [link for link, _ in hops]
    return (sum(link.latency_ns for link in links) + max(link.transfer_ns(size_bytes) for link in links),
            size_bytes * sum(link.energy_pj_per_byte for link in links))


def _best_cuts(costs: list[list[float]], stages: int) -> tuple[float, list[int]]:
    """Contiguous cuts of len(costs[0]) layers into `stages` non-empty stages, stage s priced with costs[s],
    minimising the slowest stage. Returns (slowest, [end index of each stage])."""
    n_layers = len(costs[0])
    prefix = [[0.0] + list(_accumulate(c)) for c in costs]
    inf = math.inf
    best = [[inf] * (n_layers + 1) for _ in range(stages + 1)]
    cut = [[0] * (n_layers + 1) for _ in range(stages + 1)]
    best[0][0] = 0.0
    for s in range(1, stages + 1):
        for end in range(s, n_layers - (stages - s) + 1):
            for start in range(s - 1, end):
                value = max(best[s - 1][start], prefix[s - 1][end] - prefix[s - 1][start])
                if value < best[s][end]:
                    best[s][end], cut[s][end] = value, start
    ends, end = [], n_layers
    for s in range(stages, 0, -1):
        ends.append(end)
        end = cut[s][end]
    return best[stages][n_layers], list(reversed(ends))


def _accumulate(values):
    total = 0.0
    for value in values:
        total += value
        yield total


def _pipeline_candidates(trace, system, costs, training, max_micro_batches, accelerators):
    batch = trace_batch(trace)
    stages = min(len(accelerators), len(trace.layers))
    out = []
    for m in [d for d in range(1, min(batch, max_micro_batches) + 1) if batch % d == 0]:
        priced = [costs.layer_costs(accelerators[s], batch // m) for s in range(stages)]
        per = [[c[0] + c[1] for c in p] for p in priced]
        _, ends = _best_cuts(per, stages)
        step, energy, stage_times = _price_pipeline(trace, system, costs, training, accelerators, m, ends)
        if any(abs(t - sum(per[s][a:b])) > CONTEXT_TOLERANCE * t
               for s, (t, a, b) in enumerate(zip(stage_times, [0] + ends[:-1], ends))):
            step, energy, stage_times, ends = _refine_cuts(trace, system, costs, training, accelerators, m, ends,
                                                           step, energy, stage_times)
        mean = sum(stage_times) / stages
        starts = [0] + ends[:-1]
        partition = Partition("pipeline", tuple(Stage(accelerators[s].name, tuple(
            layer.name for layer in trace.layers[a:b])) for s, (a, b) in enumerate(zip(starts, ends))),
            micro_batches=m)
        out.append(Candidate(partition, step, energy, max(stage_times) / mean if mean else 1.0))
    return out


# a stage whose own-trace price differs from its layers' whole-trace prices by more than this gets its cuts
# re-searched on own-trace prices (a ReRAM chip's board and replicas depend on the layers it holds)
CONTEXT_TOLERANCE = 0.02
REFINE_SHIFT = 3  # layers each cut may move in that re-search


def _price_pipeline(trace, system, costs, training, accelerators, m, ends):
    """(step ns, energy pJ, stage times) of a pipeline whose stages end at `ends`, each stage priced on its own
    trace of operations (what the system engine runs)."""
    batch = trace_batch(trace)
    stages = len(ends)
    starts = [0] + ends[:-1]
    priced = [costs.stage_cost(accelerators[s], trace.layers[a:b], batch // m)
              for s, (a, b) in enumerate(zip(starts, ends))]
    forward = [p.forward_ns for p in priced]
    backward = [p.backward_ns for p in priced]
    stage_times = [f + b for f, b in zip(forward, backward)]
    link_time, link_energy = 0.0, 0.0
    for s in range(stages - 1):
        size = with_batch(trace, batch // m).layers[ends[s]].ifmap_bytes
        t, e = _link_ns(system, accelerators[s].name, accelerators[s + 1].name, size)
        trips = 2 if training else 1
        link_time = max(link_time, t)
        link_energy += e * m * trips
    # GPipe: every forward micro-batch, then every backward one; each phase fills, streams at its slowest stage
    # (or link), and drains
    step = sum(stage_times) + (m - 1) * (max(max(forward), link_time) + (max(max(backward), link_time)
                                                                       if training else 0.0)) \
        + (stages - 1) * link_time * (2 if training else 1)
    # a ReRAM stage programs its crossbars after its last backward op, while the stages before it finish theirs
    step = max([step] + [step - sum(backward[:s]) - s * link_time + p.writes_ns for s, p in enumerate(priced)
                         if p.writes_ns])
    energy = sum(p.energy_pj * m + p.writes_energy_pj for p in priced) + link_energy
    return step, energy, stage_times


def _refine_cuts(trace, system, costs, training, accelerators, m, ends, step, energy, stage_times):
    """Move each cut by up to REFINE_SHIFT layers (one cut at a time, repeated while the step improves), every
    candidate priced on the stages' own traces."""
    n_layers = len(trace.layers)
    best = (step, energy, stage_times, list(ends))
    improved = True
    while improved:
        improved = False
        for index in range(len(ends) - 1):
            low = (best[3][index - 1] if index else 0) + 1
            high = best[3][index + 1] - 1 if index + 1 < len(ends) else n_layers - 1
            for end in range(max(low, best[3][index] - REFINE_SHIFT), min(high, best[3][index] + REFINE_SHIFT) + 1):
                trial = list(best[3])
                trial[index] = end
                priced = _price_pipeline(trace, system, costs, training, accelerators, m, trial)
                if priced[0] < best[0]:
                    best, improved = (*priced, trial), True
    return best
def _ring_all_reduce(system: System, ring: tuple[str, ...], size_bytes: float, steps: int | None = None):
    n = len(ring)
    if n < 2 or not size_bytes:
        return 0.0, 0.0
    chunk = math.ceil(size_bytes / n)
    per_step = [_link_ns(system, ring[i], ring[(i + 1) % n], chunk) for i in range(n)]
    count = 2 * (n - 1) if steps is None else steps
    return count * max(t for t, _ in per_step), count * sum(e for _, e in per_step)


def _data_parallel_candidate(trace, system, costs, training):
    batch = trace_batch(trace)
    accelerators = [a for a in system.accelerators][:batch]
    n = len(accelerators)
    shares = list(split_counts(batch, tuple(1 for _ in accelerators)))

    def time_of(i: int, share: int) -> float:
        return sum(c[0] + c[1] for c in costs.layer_costs(accelerators[i], share)) if share else 0.0

    times = [time_of(i, s) for i, s in enumerate(shares)]
    for _ in range(batch):  # greedy: move an image from the slowest while the slowest gets faster
        slow = max(range(n), key=lambda i: times[i])
        if shares[slow] <= 1:
            break
        options = [(time_of(i, shares[i] + 1), i) for i in range(n) if i != slow]
        new_time, fast = min(options)
        if max(new_time, time_of(slow, shares[slow] - 1)) >= times[slow]:
            break
        shares[slow] -= 1
        shares[fast] += 1
        times[slow], times[fast] = time_of(slow, shares[slow]), new_time
    ring = tuple(a.name for a in accelerators)
    comm_t, comm_e = 0.0, 0.0
    if training:
        for layer in trace.layers:
            t, e = _ring_all_reduce(system, ring, layer.filter_bytes)
            comm_t, comm_e = comm_t + t, comm_e + e
    energy = sum(sum(c[2] for c in costs.layer_costs(a, s)) for a, s in zip(accelerators, shares)) + comm_e
    mean = sum(times) / n
    return Candidate(Partition("data_parallel", accelerators=ring, shares=tuple(shares)), max(times) + comm_t, energy,
                     max(times) / mean if mean else 1.0)


def _tensor_candidate(trace, system, costs, training):
    accelerators = system.accelerators
    batch = trace_batch(trace)
    # shares in proportion to throughput: MACs per ns on the whole trace, from the same analytical costs
    speeds = [1.0 / max(sum(c[0] + c[1] for c in costs.layer_costs(a, batch)), 1e-9) for a in accelerators]
    shares = tuple(max(1, round(8 * s / min(speeds))) for s in speeds)
    ring = tuple(a.name for a in accelerators)
    per_layer = [[0.0] * len(trace.layers) for _ in accelerators]
    energy = 0.0
    for part, accelerator in enumerate(accelerators):
        pieces = [tensor_slice(layer, part, shares) for layer in trace.layers]
        live = [(k, p) for k, p in enumerate(pieces) if p is not None]
        if not live:
            continue
        priced = costs.price(accelerator, Trace(f"{trace.name}.{accelerator.name}", tuple(p for _, p in live)))
        for (k, _), (f, b, e) in zip(live, priced):
            per_layer[part][k] = f + b
            energy += e
    compute = sum(max(per_layer[i][k] for i in range(len(accelerators))) for k in range(len(trace.layers)))
    comm_t = comm_e = 0.0
    for layer in trace.layers:
        t, e = _ring_all_reduce(system, ring, layer.ofmap_bytes, steps=len(ring) - 1)
        comm_t, comm_e = comm_t + t, comm_e + e
        if training:
            t, e = _ring_all_reduce(system, ring, layer.ifmap_bytes)
            comm_t, comm_e = comm_t + t, comm_e + e
    busy = [sum(row) for row in per_layer]
    mean = sum(busy) / len(busy)
    return Candidate(Partition("tensor", accelerators=ring, shares=shares), compute + comm_t, energy + comm_e,
                     max(busy) / mean if mean else 1.0)


def _score(candidate: Candidate, objective: str) -> tuple:
    if objective == "energy":
        return (candidate.energy_pj, candidate.step_ns)
    if objective == "balance":
        return (candidate.balance, candidate.step_ns)
    return (candidate.step_ns, candidate.energy_pj)


def search_partitions(trace: Trace, system: System, *, objective: str = "step_time", training: bool = True,
                      batch: int | None = None, max_micro_batches: int = 32, validate: bool = True,
                      kinds: tuple[str, ...] = ("pipeline", "data_parallel", "tensor")) -> PartitionSearch:
    """Price every candidate with the analytical model; run the best with the engine (when `validate`)."""
    if objective not in OBJECTIVES:
        raise ConfigError("unknown objective", field="objective", value=objective, allowed=", ".join(OBJECTIVES))
    trace = with_batch(trace, batch)
    started = time.perf_counter()
    costs = _Costs(trace, training)
    candidates: list[Candidate] = []
    if "pipeline" in kinds:
        orders = [system.accelerators]
        if len({(a.hardware.name, a.hardware.source_file, a.clock_mhz) for a in system.accelerators}) > 1:
            orders.append(tuple(reversed(system.accelerators)))  # mixed chips: which kind takes the first layers
        for order in orders:
            candidates += _pipeline_candidates(trace, system, costs, training, max_micro_batches, order)
    if "data_parallel" in kinds and len(system.accelerators) > 1:
        candidates.append(_data_parallel_candidate(trace, system, costs, training))
    if "tensor" in kinds and len(system.accelerators) > 1:
        candidates.append(_tensor_candidate(trace, system, costs, training))
    if not candidates:
        raise ConfigError("no partition kind to search", field="kinds", value=kinds,
                          allowed="pipeline, data_parallel, tensor")
    ranked = sorted(candidates, key=lambda c: _score(c, objective))
    search_s = time.perf_counter() - started
    validated = run_system(trace, system, ranked[0].partition, training=training) if validate else None
    return PartitionSearch(objective, tuple(ranked), ranked[0], validated, search_s)

