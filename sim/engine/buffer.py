"""On-chip SRAM buffer of one operand, shaped like a SimPy resource: slots that tiles occupy while in use.

A buffer of `slots` halves (2 when double-buffered, else 1) holds at most `slots` tiles, each within one
slot (sim.engine.tiling.operand_capacity sizes the slots and plans tiles that fit them). The operand's prefetcher
calls `fill(tile, ..., then)`, which waits for a free slot, reads the tile from DRAM, marks the tile ready and
calls `then()`; the PE array waits on `ready(tile)`, computes, then calls `release(tile)`. The ofmap buffer
instead uses `allocate` (a slot, plus a read-back of partial sums when the tile was drained before) and `drain`
(write to DRAM, then free the slot). Double buffering therefore falls out of the slot count: the next tile
fills while the current one is computed on, if a slot is free.

The slots behave exactly like a `simpy.Resource` of that capacity (FIFO requests; a grant is an event
processed after the request; a release is an event that grants the head of the queue when processed), but
are a counter and a queue of callbacks: a release that nobody is queued behind only reserves its place in the
event order (sim.engine.clock), and ready markers are `Signal`s, so events nobody waits for are never scheduled.

The buffer counts its own actions: elements filled / drained / read back, bytes, and its occupancy
high-water mark.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from simpy.events import Event

from sim.engine.clock import CountingEnvironment, Position, Signal
from sim.engine.dram import DramModel


def packed_bytes(elements: int, bits: int) -> int:
    return -(-elements * bits // 8)


@dataclass
class BufferStats:
    """Counters of one operand buffer (mutable while the simulation runs; owned by the buffer)."""

    fills: int = 0
    filled_elements: int = 0
    filled_bytes: int = 0
    drains: int = 0
    drained_elements: int = 0
    drained_bytes: int = 0
    readback_elements: int = 0
    readback_bytes: int = 0
    occupancy_elements: int = 0
    peak_occupancy_elements: int = 0
    busy_slot_cycles: int = 0  # sum over slots of cycles a tile occupied it


class Buffer:
    """One operand's SRAM (see the module docstring). `name` is ifmap, filter or ofmap."""

    def __init__(self, env: CountingEnvironment, name: str, slots: int, element_bits: int, dram: DramModel) -> None:
        self.env = env
        self.name = name
        self.slots = slots
        self.element_bits = element_bits  # default width; a request may name its own (layers differ)
        self.dram = dram
        self._free = slots
        self._queue: deque[Callable[[Event], None]] = deque()  # slot requests not yet granted, FIFO
        self._unclaimed: list[Position] = []  # releases nobody was queued behind: reserved, not scheduled
        self._held: dict[object, tuple[int, int]] = {}  # tile -> (elements, since)
        self._ready: dict[object, Signal] = {}
        self.stats = BufferStats()

    def ready(self, tile: object) -> Signal:
        """Fires when `tile` is resident (filled, or allocated for the ofmap)."""
        signal = self._ready.get(tile)
        if signal is None:
            signal = self._ready[tile] = Signal(self.env)
        return signal

    def _request(self, granted: Callable[[Event], None]) -> None:
        """A slot request (simpy.Resource.request): `granted` runs when its grant event is processed."""
        self._queue.append(granted)
        self._grant()
        if self._queue and self._unclaimed:
            # Someone now waits: releases still ahead in the event order must grant when they are processed.
            env = self.env
            for position in self._unclaimed:
                if not env.passed(position):
                    env.push(position, self._grant)
            self._unclaimed.clear()

    def _grant(self, _event: Event | None = None) -> None:
        # As simpy.Resource: only the head of the queue is considered, one grant per trigger.
        if self._queue and self._free:
            self._free -= 1
            self.env.call_soon(self._queue.popleft())

    def _occupy(self, tile: object, elements: int) -> None:
        self._held[tile] = (elements, int(self.env.now))
        s = self.stats
        s.occupancy_elements += elements
        s.peak_occupancy_elements = max(s.peak_occupancy_elements, s.occupancy_elements)

    def fill(self, tile: object, elements: int, address: int, bits: int | None, then: Callable[[], None]) -> None:
        """Wait for a slot, read `elements` of the tile from DRAM, mark it ready, then call `then()`."""
        size = packed_bytes(elements, bits or self.element_bits)

        def arrived(_event: Event | None = None) -> None:
            s = self.stats
            s.fills += 1
            s.filled_elements += elements
            s.filled_bytes += size
            self.ready(tile).fire()
            then()

        def granted(_event: Event) -> None:
            self._occupy(tile, elements)
            if elements:
                self.dram.request("read", address, size, operand=self.name).callbacks.append(arrived)
            else:
                arrived()

        self._request(granted)

    def allocate(self, tile: object, elements: int, readback_elements: int, address: int, bits: int | None,
                 after: Signal | None, then: Callable[[], None]) -> None:
        """Take a slot for an ofmap tile; read its partial sums back first when it was drained before (`after` is
        that earlier drain, so the read never overtakes the write); mark it ready, then call `then()`."""

        def arrived(_event: Event | None = None) -> None:
            self.ready(tile).fire()
            then()

        def read(_event: Event | None = None) -> None:
            size = packed_bytes(readback_elements, bits or self.element_bits)

            def read_back(_event: Event) -> None:
                self.stats.readback_elements += readback_elements
                self.stats.readback_bytes += size
                arrived()

            self.dram.request("read", address, size, operand=self.name).callbacks.append(read_back)

        def granted(_event: Event) -> None:
            self._occupy(tile, elements)
            if not readback_elements:
                arrived()
            elif after is not None and not after.done():
                after.wait().callbacks.append(read)
            else:
                read()

        self._request(granted)

    def release(self, tile: object) -> None:
        """Free the slot `tile` holds (its last use has finished)."""
        elements, since = self._held.pop(tile)
        self._ready.pop(tile, None)
        self.stats.occupancy_elements -= elements
        self.stats.busy_slot_cycles += int(self.env.now) - since
        self._free += 1
        # simpy.Resource schedules a release event that grants the queue's head; with nobody queued it is a no-op
        # unless a request queues up before it is processed, so only its position is kept.
        if self._queue:
            self.env.call_soon(self._grant)
            return
        unclaimed = self._unclaimed
        if unclaimed and self.env.passed(unclaimed[-1]):
            unclaimed.clear()  # positions only grow: all of them are behind us
        unclaimed.append(self.env.reserve())

    def drain(self, tile: object, elements: int, address: int, bits: int | None, done: Signal) -> None:
        """Write `elements` of the ofmap tile to DRAM; when written, free its slot and fire `done`."""
        size = packed_bytes(elements, bits or self.element_bits)
        self.stats.drains += 1
        self.stats.drained_elements += elements
        self.stats.drained_bytes += size

        def written(_event: Event | None = None) -> None:
            self.release(tile)
            done.fire()

        if elements:
            # A callback instead of a process: the write needs no waiting of its own, only its completion.
            self.dram.request("write", address, size, operand=self.name).callbacks.append(written)
        else:
            written()
