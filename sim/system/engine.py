"""Every accelerator and link of a system on one SimPy clock (ns).

Each accelerator's operations are timed by the existing single-accelerator models, called through the public API
once per accelerator on the trace of operations it runs (`sim.simulate`: the engine; `sim.estimate`: the
analytical model), so one accelerator with no links reproduces today's numbers exactly. On the system clock an
accelerator is a process that runs its operations in a fixed order (GPipe's for a pipeline), each when the data it
needs has arrived; a transfer is a process that holds every link direction on its route (simpy Resources, taken in
one global order so transfers cannot deadlock) for the route's latency plus bytes over its slowest link. Pipeline
bubbles and link contention therefore come out of the simulation, not a formula.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import simpy

from sim.errors import MappingError
from sim.records import AcceleratorTime, LayerResult, LinkTraffic, RunResult, SystemResult, TimelineSegment
from sim.system.partition import (
    Partition,
    check_partition,
    even_data_parallel,
    tensor_slice,
    trace_batch,
    with_batch,
)
from sim.system.spec import Accelerator, System
from sim.workload.trace import Trace
from sim.workload.training import training_ops, training_trace

MODELS = ("engine", "analytical")
# A zero-length task that only waits (for the gradients, or the last outputs) before an accelerator's step ends.
_WAIT = LayerResult(name="wait", kind="gemm", model="system", macs=0, cycles=0, compute_cycles=0, stall_cycles=0,
                    utilization=0.0, mapping_efficiency=0.0)


@dataclass
class _Task:
    """One operation on one accelerator: waits for `needs`, runs `result.cycles`, then fires `done`."""

    label: str
    result: LayerResult
    needs: list = field(default_factory=list)  # events: compute done, or transfers (their value: source done ns)
    done: simpy.Event | None = None


class _Clock:
    """The shared state of one system run: the environment, link directions, timeline and accounting."""

    def __init__(self, system: System) -> None:
        self.env = simpy.Environment()
        self.system = system
        self.directions: dict[tuple[str, str], simpy.Resource] = {}
        for link in system.links:
            for source in (link.a, link.b):
                self.directions[(link.name, source)] = simpy.Resource(self.env, capacity=1)
        self.timeline: list[TimelineSegment] = []
        self.link_bytes: dict[str, int] = {link.name: 0 for link in system.links}
        self.link_busy: dict[str, float] = {link.name: 0.0 for link in system.links}
        self.waits: dict[str, dict[str, float]] = {}

    def transfer(self, source: str, destination: str, size_bytes: int, after: list, label: str) -> simpy.Event:
        """An event that fires (value: when its data was ready at the source) once `size_bytes` have moved."""
        done = self.env.event()
        self.env.process(self._transfer(source, destination, size_bytes, after, label, done))
        return done

    def _transfer(self, source, destination, size_bytes, after, label, done):
        if after:
            yield self.env.all_of(after)
        ready = self.env.now
        hops = self.system.route(source, destination)
        if not hops or size_bytes == 0:
            done.succeed(ready)
            return
        keys = sorted((link.name, start) for link, start in hops)
        requests = []
        for key in keys:
            request = self.directions[key].request()
            requests.append((key, request))
            yield request
        start = self.env.now
        links = [link for link, _ in hops]
        hold = sum(link.latency_ns for link in links) + max(link.transfer_ns(size_bytes) for link in links)
        yield self.env.timeout(hold)
        for (key, request) in requests:
            self.directions[key].release(request)
        for link, start_node in hops:
            self.link_bytes[link.name] += size_bytes
            self.link_busy[link.name] += hold
            end_node = link.b if start_node == link.a else link.a
            self.timeline.append(TimelineSegment(f"{start_node}->{end_node}", label, start, self.env.now,
                                                 "transfer"))
        done.succeed(ready)

    def run_accelerator(self, accelerator: Accelerator, tasks: list[_Task]) -> None:
        self.waits[accelerator.name] = {"communication_ns": 0.0, "bubble_ns": 0.0, "last_end": 0.0}
        self.env.process(self._accelerator(accelerator, tasks))

    def _accelerator(self, accelerator: Accelerator, tasks: list[_Task]):
        waits = self.waits[accelerator.name]
        for task in tasks:
            before = self.env.now
            if task.needs:
                yield self.env.all_of(task.needs)
                # Waiting until the producers finished is a bubble; the rest, data in flight, is communication.
                produced = max([before] + [e.value for e in task.needs if isinstance(e.value, (int, float))])
                produced = min(produced, self.env.now)
                waits["bubble_ns"] += produced - before
                waits["communication_ns"] += self.env.now - produced
            start = self.env.now
            yield self.env.timeout(accelerator.ns(task.result.cycles))
            self.timeline.append(TimelineSegment(accelerator.name, task.label, start, self.env.now, "compute"))
            waits["last_end"] = self.env.now
            task.done.succeed(self.env.now)

    def all_reduce(self, ring: tuple[str, ...], size_bytes: int, after: list, label: str,
                   steps: int | None = None) -> simpy.Event:
        """Ring all-reduce (reduce-scatter then all-gather: 2(N-1) steps of size/N per node); with `steps`=N-1,
        an all-gather. Fires when every node has the result."""
        done = self.env.event()
        self.env.process(self._all_reduce(ring, size_bytes, after, label, done, steps))
        return done

    def _all_reduce(self, ring, size_bytes, after, label, done, steps):
        if after:
            yield self.env.all_of(after)
        ready = self.env.now
        n = len(ring)
        if n > 1 and size_bytes:
            chunk = math.ceil(size_bytes / n)
            for _ in range(2 * (n - 1) if steps is None else steps):
                moves = [self.transfer(ring[i], ring[(i + 1) % n], chunk, [], label) for i in range(n)]
                yield self.env.all_of(moves)
        done.succeed(ready)


def _time_ops(accelerator: Accelerator, ops: Trace, model: str, seed: int) -> RunResult:
    """The accelerator's operations timed by the single-accelerator model (one call, in order)."""
    from sim import api

    try:
        if model == "analytical":
            return api.estimate(ops, accelerator.hardware)
        return api.simulate(ops, accelerator.hardware, seed=seed)
    except MappingError as err:
        raise MappingError(f"accelerator '{accelerator.name}' ({accelerator.hardware.name}) cannot run "
                           f"'{ops.name}': {err.message}", field=err.field, allowed=err.allowed) from err


def _ops_trace(trace: Trace, name: str, training: bool) -> Trace:
    if not training:
        return replace(trace, name=name)
    return replace(training_trace(trace), name=name)


def _with_writes(run: RunResult, accelerator: Accelerator, trace: Trace, training: bool) -> RunResult:
    """On a ReRAM accelerator, a training step also programs crossbars (sim.analytical.weight_update)."""
    if not training or accelerator.hardware.kind != "reram":
        return run
    from sim.analytical.weight_update import training_writes
    from sim.hardware.reram_write import load_reram_write

    writes = training_writes(training_ops(trace), accelerator.hardware, load_reram_write())
    return replace(run, layers=run.layers + writes)


def with_defaults(partition: Partition, trace: Trace) -> Partition:
    """Fill omitted shares: an even batch split for data parallel, equal weights for a tensor split."""
    if partition.shares or partition.kind == "pipeline":
        return partition
    if partition.kind == "data_parallel":
        return even_data_parallel(trace_batch(trace), partition.accelerators)
    return replace(partition, shares=tuple(1 for _ in partition.accelerators))


def run_system(trace: Trace, system: System, partition: Partition, *, training: bool = True, model: str = "engine",
               batch: int | None = None, seed: int = 0) -> SystemResult:
    """One step of `trace` (training, or inference with training=False) on `system` under `partition`."""
    from sim.errors import ConfigError

    if model not in MODELS:
        raise ConfigError("unknown model", field="model", value=model, allowed=", ".join(MODELS))
    trace = with_batch(trace, batch)
    partition = with_defaults(partition, trace)
    check_partition(partition, system, trace)
    clock = _Clock(system)
    if partition.kind == "pipeline":
        runs, tasks = _pipeline(clock, trace, system, partition, training, model, seed)
    elif partition.kind == "data_parallel":
        runs, tasks = _data_parallel(clock, trace, system, partition, training, model, seed)
    else:
        runs, tasks = _tensor(clock, trace, system, partition, training, model, seed)
    for name, queue in tasks.items():
        clock.run_accelerator(system.accelerator(name), queue)
    clock.env.run()
    step = clock.env.now
    return _result(clock, trace, system, partition, model, step, runs, tasks)


def _new_task(clock: _Clock, label: str, result: LayerResult, needs=None) -> _Task:
    return _Task(label, result, list(needs or []), clock.env.event())


def _pipeline(clock, trace, system, partition, training, model, seed):
    m = partition.micro_batches
    micro = trace_batch(trace) // m
    by_name = {layer.name: layer for layer in trace.layers}
    stages = partition.stages
    runs, stage_ops = [], []
    for index, stage in enumerate(stages):
        sub = Trace(trace.name if len(stages) == 1 else f"{trace.name}.stage{index}",
                    tuple(replace(by_name[name], batch=micro) if m > 1 else by_name[name] for name in stage.layers),
                    trace.source_file)
        accelerator = system.accelerator(stage.accelerator)
        run = _with_writes(_time_ops(accelerator, _ops_trace(sub, sub.name, training), model, seed), accelerator,
                           sub, training)
        runs.append(run)
        count = len(sub.layers)
        forward = list(run.layers[:count])
        backward = list(run.layers[count:3 * count]) if training else []
        writes = list(run.layers[3 * count:]) if training else []
        stage_ops.append((accelerator, sub, forward, backward, writes))
    # forward: micro-batch j of stage s after stage s-1's j has arrived
    arrivals: list[list] = [[[] for _ in range(m)] for _ in stages]
    queues: dict[str, list[_Task]] = {}
    for s, (accelerator, sub, forward, backward, writes) in enumerate(stage_ops):
        queue = queues.setdefault(accelerator.name, [])
        for j in range(m):
            for k, result in enumerate(forward):
                task = _new_task(clock, f"{result.name}#{j}", result, arrivals[s][j] if k == 0 else None)
                queue.append(task)
            if s + 1 < len(stage_ops):
                nxt = stage_ops[s + 1]
                arrivals[s + 1][j] = [clock.transfer(accelerator.name, nxt[0].name, nxt[1].layers[0].ifmap_bytes,
                                                     [queue[-1].done], f"act {sub.name}#{j}")]
    gradients: list[list] = [[[] for _ in range(m)] for _ in stages]
    for s in reversed(range(len(stage_ops))):
        accelerator, sub, forward, backward, writes = stage_ops[s]
        queue = queues[accelerator.name]
        for j in range(m):
            for k, result in enumerate(backward):
                queue.append(_new_task(clock, f"{result.name}#{j}", result, gradients[s][j] if k == 0 else None))
            if backward and s > 0:
                prev = stage_ops[s - 1]
                gradients[s - 1][j] = [clock.transfer(accelerator.name, prev[0].name, sub.layers[0].ifmap_bytes,
                                                      [queue[-1].done], f"grad {sub.name}#{j}")]
        for result in writes:
            queue.append(_new_task(clock, result.name, result))
    return tuple(runs), queues


def _data_parallel(clock, trace, system, partition, training, model, seed):
    runs, queues = [], {}
    per_layer_done: dict[str, list] = {layer.name: [] for layer in trace.layers}
    count = len(trace.layers)
    for name, share in zip(partition.accelerators, partition.shares):
        accelerator = system.accelerator(name)
        sub = with_batch(trace, share)
        run = _with_writes(_time_ops(accelerator, _ops_trace(sub, f"{trace.name}.{name}", training), model, seed),
                           accelerator, sub, training)
        runs.append(run)
        queue = [_new_task(clock, result.name, result) for result in run.layers]
        queues[name] = queue
        if training:
            # backward ops come in pairs (backward-data, weight-gradient) per layer in reverse order
            for pair in range(count):
                layer = trace.layers[count - 1 - pair]
                per_layer_done[layer.name].append(queue[count + 2 * pair + 1].done)
    if training and len(partition.accelerators) > 1:
        ring = partition.accelerators
        reduces = [clock.all_reduce(ring, layer.filter_bytes, per_layer_done[layer.name], f"allreduce {layer.name}")
                   for layer in reversed(trace.layers)]
        # the step ends when the gradients are reduced: each accelerator's last task (its updates) waits for them
        for queue in queues.values():
            queue.append(_new_task(clock, "gradients reduced", _WAIT, reduces))
    return tuple(runs), queues



def _tensor(clock, trace, system, partition, training, model, seed):
    ring = partition.accelerators
    runs, queues, slices = [], {}, []
    for part, name in enumerate(ring):
        accelerator = system.accelerator(name)
        pieces = [tensor_slice(layer, part, partition.shares) for layer in trace.layers]
        sub = Trace(f"{trace.name}.{name}", tuple(p for p in pieces if p is not None), trace.source_file)
        run = _with_writes(_time_ops(accelerator, _ops_trace(sub, sub.name, training), model, seed), accelerator,
                           sub, training) if sub.layers else RunResult(accelerator.hardware.name, sub.name, model, ())
        runs.append(run)
        slices.append((name, pieces, run))
        queues[name] = []
    count = len(trace.layers)
    ready: list = []  # the event every accelerator waits for before the next layer
    for index, layer in enumerate(trace.layers):
        dones = []
        for name, pieces, run in slices:
            if pieces[index] is None:
                continue
            position = sum(1 for p in pieces[:index] if p is not None)
            task = _new_task(clock, run.layers[position].name, run.layers[position], ready)
            queues[name].append(task)
            dones.append(task.done)
        gather = clock.all_reduce(ring, layer.ofmap_bytes, dones, f"allgather {layer.name}", steps=len(ring) - 1)
        ready = [gather]
    if training:
        for index in reversed(range(count)):
            layer = trace.layers[index]
            dones = []
            for name, pieces, run in slices:
                if pieces[index] is None:
                    continue
                live = sum(1 for p in pieces if p is not None)
                position = sum(1 for p in pieces[index + 1:] if p is not None)  # backward runs in reverse
                data = run.layers[live + 2 * position]
                weight = run.layers[live + 2 * position + 1]
                task = _new_task(clock, data.name, data, ready)
                queues[name].append(task)
                dones.append(task.done)
                queues[name].append(_new_task(clock, weight.name, weight))
            steps = len(ring) - 1 if layer.groups > 1 else None  # grouped: each slice's dX is whole, gather it
            ready = [clock.all_reduce(ring, layer.ifmap_bytes, dones, f"reduce dX {layer.name}", steps=steps)]
        for name, pieces, run in slices:
            live = sum(1 for p in pieces if p is not None)
            for result in run.layers[3 * live:]:
                queues[name].append(_new_task(clock, result.name, result))
    for name in ring:
        queues[name].append(_new_task(clock, "outputs gathered", _WAIT, ready))
    return tuple(runs), queues


def _result(clock, trace, system, partition, model, step, runs, tasks) -> SystemResult:
    accelerators = []
    for acc in system.accelerators:
        queue = tasks.get(acc.name, [])
        compute = sum(acc.ns(t.result.compute_cycles) for t in queue)
        stall = sum(acc.ns(t.result.stall_cycles) for t in queue)
        waits = clock.waits.get(acc.name, {"communication_ns": 0.0, "bubble_ns": 0.0, "last_end": 0.0})
        accelerators.append(AcceleratorTime(
            name=acc.name, hardware=acc.hardware.name, busy_ns=compute + stall, compute_ns=compute,
            memory_stall_ns=stall, communication_ns=waits["communication_ns"], bubble_ns=waits["bubble_ns"],
            idle_ns=step - waits["last_end"], macs=sum(t.result.macs for t in queue),
            energy_pj=sum(t.result.energy.total_pj for t in queue)))
    links = []
    for link in system.links:
        busy = clock.link_busy[link.name]
        links.append(LinkTraffic(link.name, clock.link_bytes[link.name], busy, busy / (2 * step) if step else 0.0,
                                 clock.link_bytes[link.name] * link.energy_pj_per_byte))
    timeline = tuple(sorted(clock.timeline, key=lambda s: (s.start_ns, s.resource, s.label)))
    return SystemResult(system.name, trace.name, partition.describe(), model, step, tuple(accelerators),
                        tuple(links), timeline, tuple(runs))
