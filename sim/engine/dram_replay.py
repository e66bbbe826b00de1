"""Replay a DRAM request trace (sim.workload.dram_trace) through any DRAM model: `sim dram TRACE.req`.

Time runs from the first request's issue to the last completion (a read's data returned, a write's burst written),
as in the reference's Ramulator measurements. The command-level model (`ddr`) is driven directly in DRAM clock
cycles, every transaction offered at its request's issue time; the other models run on a SimPy clock of
`clock_mhz`, one request at a time at its issue cycle.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from sim.engine.clock import CountingEnvironment
from sim.engine.dram import make_dram
from sim.hardware.spec import DramSpec
from sim.workload.dram_trace import DramTrace


@dataclass(frozen=True)
class ReplayResult:
    """What one replay measured (times in ns)."""

    trace: str
    model: str
    requests: int
    transactions: int
    bytes: int
    total_ns: float
    bandwidth_gbps: float
    row_hit_rate: float | None  # None: the model has no rows
    avg_read_latency_ns: float
    max_read_latency_ns: float
    commands: dict[str, int] = field(default_factory=dict)
    energy_pj: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def expand(trace: DramTrace, transaction_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """(request index, address) of every aligned transaction, requests in order."""
    first = trace.address // transaction_bytes
    last = (trace.address + trace.size_bytes - 1) // transaction_bytes
    counts = last - first + 1
    owner = np.repeat(np.arange(len(trace), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    lines = np.repeat(first, counts) + (np.arange(owner.size, dtype=np.int64) - np.repeat(starts, counts))
    return owner, lines * transaction_bytes


def _latencies(trace: DramTrace, finish_ns: np.ndarray, issue_ns: np.ndarray) -> tuple[float, float]:
    reads = ~trace.write
    if not reads.any():
        return 0.0, 0.0
    latency = finish_ns[reads] - issue_ns[reads]
    return float(latency.mean()), float(latency.max())


def replay(trace: DramTrace, spec: DramSpec, clock_mhz: float = 1000.0) -> ReplayResult:
    """Serve every request of `trace` on the DRAM `spec` describes (see the module docstring)."""
    wall = time.perf_counter()
    order = np.argsort(trace.issue_ns, kind="stable")
    if not np.array_equal(order, np.arange(len(trace))):
        trace = DramTrace(trace.name, trace.issue_ns[order], trace.write[order], trace.address[order],
                          trace.size_bytes[order], tuple(trace.operand[i] for i in order) if trace.operand else ())
    if spec.model == "ddr":
        return _replay_ddr(trace, spec, wall)
    env = CountingEnvironment()
    model = make_dram(env, spec, clock_mhz=clock_mhz)
    ns_per_cycle = 1000.0 / clock_mhz
    issue_cycles = np.ceil(trace.issue_ns / ns_per_cycle - 1e-9).astype(np.int64)
    finish = np.zeros(len(trace), dtype=np.int64)

    def serve(index: int) -> None:
        finish[index] = model.serve("write" if trace.write[index] else "read", int(trace.address[index]),
                                    int(trace.size_bytes[index]))

    for index, cycle in enumerate(issue_cycles.tolist()):
        env.call_at(cycle, lambda _call, i=index: serve(i))
    env.run()
    finish_ns = finish * ns_per_cycle
    total = float(finish_ns.max() - trace.issue_ns.min())
    stats = model.stats
    hits = getattr(stats, "row_hits", 0)
    misses = getattr(stats, "row_misses", 0)
    rows = spec.model == "bank_row"
    burst = spec.burst_bytes
    transactions = int(np.sum(-(-trace.size_bytes // burst)))
    commands = {"act": misses, "pre": stats.row_conflicts,
                "rd": int(np.sum(-(-trace.size_bytes[~trace.write] // burst))),
                "wr": int(np.sum(-(-trace.size_bytes[trace.write] // burst))), "ref": 0} if rows else {}
    mean, worst = _latencies(trace, finish_ns, trace.issue_ns)
    nbytes = int(trace.size_bytes.sum())
    return ReplayResult(trace.name, spec.model, len(trace), transactions, nbytes, total,
                        nbytes / total if total > 0 else math.inf, hits / (hits + misses) if rows and hits + misses
                        else None, mean, worst, commands, {}, time.perf_counter() - wall)


def _replay_ddr(trace: DramTrace, spec: DramSpec, wall: float) -> ReplayResult:
    from sim.engine.ddr import DdrController, device_of

    device = device_of(spec)
    controller = DdrController(device)
    owner, addresses = expand(trace, device.transaction_bytes)
    arrive = np.ceil(trace.issue_ns / device.tck_ns - 1e-9).astype(np.int64)
    done = controller.serve(trace.write[owner], addresses, arrive[owner])
    finish = np.zeros(len(trace), dtype=np.int64)
    np.maximum.at(finish, owner, done)
    first = int(arrive.min())
    elapsed = int(done.max()) - first
    total = elapsed * device.tck_ns
    counts = controller.command_counts(elapsed)
    mean, worst = _latencies(trace, finish * device.tck_ns, arrive * device.tck_ns)
    nbytes = int(trace.size_bytes.sum())
    commands = {"act": counts.act, "pre": counts.pre, "rd": counts.rd, "wr": counts.wr, "ref": counts.ref}
    return ReplayResult(trace.name, "ddr", len(trace), int(owner.size), nbytes, total,
                        nbytes / total if total > 0 else math.inf, controller.row_hits / owner.size, mean, worst,
                        commands, counts.energy_pj, time.perf_counter() - wall)
