"""A PE array's network on chip between L2 and the PEs: bandwidth, latency, multicast and spatial reduction.

Contract (`Noc.transfer(words, kind, fanout=1) -> simpy.Event`):
- `kind` is "unicast" (L2 -> PEs, each word to one PE), "multicast" (one transfer delivers the same words to
  `fanout` PEs: it occupies the NoC and counts as a transfer once), "gather" (PEs -> L2, each word from one
  PE) or "reduce" (partial sums of `fanout` PEs added on the way back to L2: the NoC carries the reduced
  words once and counts `(fanout - 1) x words` additions);
- the distribution network (unicast, multicast) and the collection network (gather, reduce) are separate
  channels,
  as in MAERI-style fabrics MAESTRO models, each moving `bandwidth_words_per_cycle` words a cycle;
- each channel is a FIFO server with deterministic service: a transfer holds its channel for
  ceil(words / bandwidth) cycles from when the channel falls free, and its event fires `latency_cycles`
  after its last word left (so the queue is kept as the cycle each channel next falls free, one event each);
- the NoC counts its own actions in `stats`.

`Link` is one such channel on its own: a directed link of a tile mesh (`sim.engine.tile_noc`), where a
message's head passes after the link's hop latency and its body holds the link ceil(bytes / bandwidth) cycles.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import simpy

from sim.errors import ConfigError

TRANSFER_KINDS = ("unicast", "multicast", "gather", "reduce")
COLLECT_KINDS = ("gather", "reduce")


@dataclass
class NocStats:
    """Action counts of one NoC (mutable while a simulation runs; owned by its Noc)."""

    words: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TRANSFER_KINDS, 0))
    deliveries: int = 0  # words written into PEs (a multicast word reaches `fanout` PEs)
    reduction_adds: int = 0
    transfers: int = 0
    busy_cycles: dict[str, int] = field(default_factory=lambda: {"distribute": 0, "collect": 0})

    @property
    def total_words(self) -> int:
        return sum(self.words.values())


class Noc:
    """Two channels (distribute, collect) of `bandwidth_words_per_cycle`, `latency_cycles` each (see module)."""

    def __init__(self, env: simpy.Environment, bandwidth_words_per_cycle: float, latency_cycles: int) -> None:
        if not bandwidth_words_per_cycle > 0:
            raise ConfigError("NoC bandwidth must be positive", field="directive_array.noc_bandwidth_words_per_cycle",
                              value=bandwidth_words_per_cycle, allowed="> 0 words/cycle (inf: unlimited)")
        self.env = env
        self.bandwidth = float(bandwidth_words_per_cycle)
        self.latency_cycles = int(latency_cycles)
        self.free_at = {"distribute": 0, "collect": 0}
        self.stats = NocStats()

    def hold_cycles(self, words: int) -> int:
        return hold_cycles(words, self.bandwidth)

    def transfer(self, words: int, kind: str, fanout: int = 1) -> simpy.Event:
        if kind not in TRANSFER_KINDS:
            raise ConfigError("unknown NoC transfer kind", field="noc.transfer.kind", value=kind,
                              allowed=", ".join(TRANSFER_KINDS))
        if fanout < 1:
            raise ConfigError("a NoC transfer reaches at least one PE", field="noc.transfer.fanout", value=fanout,
                              allowed=">= 1")
        words = int(words)
        now = int(self.env.now)
        if words <= 0:
            return self.env.timeout(0, value=now)
        channel = "collect" if kind in COLLECT_KINDS else "distribute"
        start = max(now, self.free_at[channel])
        hold = self.hold_cycles(words)
        self.free_at[channel] = start + hold
        s = self.stats
        s.words[kind] += words
        s.transfers += 1
        s.busy_cycles[channel] += hold
        if kind == "reduce":
            s.reduction_adds += (fanout - 1) * words
        elif kind != "gather":
            s.deliveries += words * (fanout if kind == "multicast" else 1)
        done = start + hold + self.latency_cycles
        return self.env.timeout(done - now, value=done)


def hold_cycles(size: float, bandwidth: float) -> int:
    """Cycles a FIFO channel of `bandwidth` units a cycle is held by `size` units (0 when unlimited)."""
    if size <= 0 or math.isinf(bandwidth):
        return 0
    return math.ceil(size / bandwidth)


@dataclass
class Link:
    """One directed link of a mesh: a FIFO server with deterministic service, kept as the cycle it next falls
    free (like a `Noc` channel); counts the bytes it carried and its busy cycles."""

    bytes_per_cycle: float
    latency_cycles: int
    free_at: int = 0
    carried_bytes: int = 0
    busy_cycles: int = 0

    def reserve(self, head_at: int, size_bytes: int) -> tuple[int, int]:
        """The message's head reaches the link at `head_at`; returns (cycle it enters, cycles it holds it)."""
        start = max(head_at, self.free_at)
        hold = hold_cycles(size_bytes, self.bytes_per_cycle)
        self.free_at = start + hold
        self.carried_bytes += size_bytes
        self.busy_cycles += hold
        return start, hold
