"""Concurrent DRAM requests sharing one controller: a work-conserving processor-sharing server.

Each request brings `work` (DRAM clock cycles the channel is busy serving it, as the command-level controller
measured it) and a `latency` paid after its last transaction (a read's CL + BL). Requests in flight at the same
time are served together, each getting an equal share of the channel: the mean behaviour of a FR-FCFS queue that
several requesters (the ifmap, filter and ofmap streams) feed one transaction each in turn. A lone request takes
exactly its work; the busy periods, and so the channel's total busy time, are those of serving the same requests
one after another (work conservation); only who finishes when changes. Adding a request never makes another
finish earlier, so a completion once promised can only move later.
"""
from __future__ import annotations


class SharedChannel:
    """The requests in flight on one channel (key -> work left, tCK, fractional while shared) and the cycle (tCK)
    up to which their shares have been served; `done` holds the completions (latency included) of flows whose work
    has ended and that nobody has collected yet."""

    __slots__ = ("time", "remaining", "latency", "done", "arrivals")

    def __init__(self) -> None:
        self.arrivals = 0  # requests added so far: a completion computed since the last arrival still holds
        self.time = 0.0
        self.remaining: dict[int, float] = {}
        self.latency: dict[int, int] = {}
        self.done: dict[int, float] = {}

    def advance(self, until: float) -> None:
        """Serve the flows in equal shares up to `until`; flows whose work ends move to `done`."""
        remaining = self.remaining
        now = self.time
        while remaining and now < until:
            share = len(remaining)
            if share == 1:  # alone: no shares to split (the common case)
                key, left = next(iter(remaining.items()))
                if now + left <= until:
                    now += left
                    del remaining[key]
                    self.done[key] = now + self.latency.pop(key)
                else:
                    remaining[key] = left - (until - now)
                    now = until
                continue
            least = min(remaining.values())
            if now + least * share <= until:
                now += least * share
                for key in list(remaining):
                    left = remaining[key] - least
                    if left <= 0.0:  # exactly those with the least work left end now
                        del remaining[key]
                        self.done[key] = now + self.latency.pop(key)
                    else:
                        remaining[key] = left
            else:
                served = (until - now) / share
                for key in remaining:
                    remaining[key] -= served
                now = until
        if until > self.time:
            self.time = until

    def add(self, key: int, arrive: float, work: float, latency: int) -> None:
        """A request arriving at `arrive` (not before the last arrival) with `work` tCK of service."""
        self.arrivals += 1
        if self.remaining:
            self.advance(arrive)
        elif arrive > self.time:
            self.time = arrive
        if work <= 0:
            self.done[key] = arrive + latency
        else:
            self.remaining[key] = float(work)
            self.latency[key] = latency

    def finish(self, key: int) -> float:
        """When `key` completes if nothing else arrives (tCK, latency included)."""
        done = self.done.get(key)
        if done is not None:
            return done
        remaining = self.remaining
        mine = remaining[key]
        if len(remaining) == 1:
            return self.time + mine + self.latency[key]
        # Under equal shares each flow with less work left ends first, having taken its work from every flow.
        ahead = 0.0
        for left in remaining.values():
            ahead += left if left < mine else mine
        return self.time + ahead + self.latency[key]

    def collect(self, key: int) -> None:
        """Forget a flow whose completion has been delivered (work left, if any, is rounding within one tCK)."""
        if self.done.pop(key, None) is None:
            del self.remaining[key]
            del self.latency[key]
