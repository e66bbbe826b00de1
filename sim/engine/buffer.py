"""On-chip SRAM buffer of one operand: slots that tiles occupy while in use.

A buffer of `slots` halves (2 when double-buffered, else 1) holds at most `slots` tiles, each within one
slot (sim.mapping.systolic.buffer_slots sizes the slots and plans tiles that fit them). The operand's prefetcher
calls `fill(tile, ..., ready, then)`, which takes a free slot, reads the tile from DRAM, sets the tile's `ready`
marker and calls `then()`; the PE array waits on that marker, computes, then calls `release(tile)`. The ofmap
buffer instead uses `allocate` (a slot, plus a read-back of partial sums when the tile was drained before) and
`drain` (write to DRAM, then free the slot). Double buffering therefore falls out of the slot count: the next
tile fills while the current one is computed on, if a slot is free.

Slots take no simulated time to change hands: a request with a slot free (and nobody queued before it) is granted
at once; a release hands its slot to the oldest queued request at once (FIFO), else the slot becomes free. A request
may use fewer slots than the buffer has (`slots`: its layer's mapping runs the buffer single, sim.mapping.buffering):
it waits until fewer tiles than that are held.

The buffer counts its own actions: elements filled / drained / read back, bytes, and its occupancy
high-water mark.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sim.engine.clock import CountingEnvironment, Marker
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
        self._in_use = 0
        # Slot requests not yet granted, FIFO: (the slots the requesting layer's mapping may use, the grant).
        self._queue: deque[tuple[int, Callable[[], None]]] = deque()
        self._held: dict[object, tuple[int, int]] = {}  # tile -> (elements, since)
        self.stats = BufferStats()

    def request(self, granted: Callable[[], None], slots: int | None = None) -> None:
        """A slot: `granted()` runs now if one of the first `slots` (the requesting layer's mapping's: one when it runs
        the buffer single; None: all) is free and nobody queued before, else at the release that frees one."""
        limit = self.slots if slots is None else slots
        if self._in_use < limit and not self._queue:
            self._in_use += 1
            granted()
        else:
            self._queue.append((limit, granted))

    def _occupy(self, tile: object, elements: int) -> None:
        self._held[tile] = (elements, self.env._now)
        s = self.stats
        s.occupancy_elements += elements
        if s.occupancy_elements > s.peak_occupancy_elements:
            s.peak_occupancy_elements = s.occupancy_elements

    def fill(self, tile: object, elements: int, address: int, bits: int | None, ready: Marker,
             then: Callable[[], None], slots: int | None = None) -> None:
        """Take a slot, read `elements` of the tile from DRAM, set `ready`, then call `then()`."""
        size = packed_bytes(elements, bits or self.element_bits)

        def arrived(_call: object = None) -> None:
            s = self.stats
            s.fills += 1
            s.filled_elements += elements
            s.filled_bytes += size
            ready.set()
            then()

        def granted() -> None:
            self._occupy(tile, elements)
            if elements:
                self.dram.request_call("read", address, size, self.name, arrived)
            else:
                arrived()

        self.request(granted, slots)

    def place(self, tile: object, elements: int, ready: Marker, then: Callable[[], None], slots: int | None = None) -> None:
        """Take a slot for a tile already on chip (the previous layer's output): no DRAM read; set `ready`, then call
        `then()`."""

        def granted() -> None:
            self._occupy(tile, elements)
            ready.set()
            then()

        self.request(granted, slots)

    def allocate(self, tile: object, elements: int, readback_elements: int, address: int, bits: int | None,
                 after: Marker | None, ready: Marker, then: Callable[[], None], slots: int | None = None) -> None:
        """Take a slot for an ofmap tile; read its partial sums back first when it was drained before (`after` is
        that earlier drain, so the read never overtakes the write); set `ready`, then call `then()`."""

        def arrived() -> None:
            ready.set()
            then()

        def read() -> None:
            size = packed_bytes(readback_elements, bits or self.element_bits)

            def read_back(_call: object) -> None:
                self.stats.readback_elements += readback_elements
                self.stats.readback_bytes += size
                arrived()

            self.dram.request_call("read", address, size, self.name, read_back)

        def granted() -> None:
            self._occupy(tile, elements)
            if not readback_elements:
                arrived()
            elif after is not None:
                after.then(read)
            else:
                read()

        self.request(granted, slots)

    def release(self, tile: object) -> None:
        """Free the slot `tile` holds (its last use has finished): the oldest queued request gets it now."""
        elements, since = self._held.pop(tile)
        s = self.stats
        s.occupancy_elements -= elements
        s.busy_slot_cycles += self.env._now - since
        self._in_use -= 1
        if self._queue and self._in_use < self._queue[0][0]:
            self._in_use += 1
            self._queue.popleft()[1]()

    def drain(self, tile: object, elements: int, address: int, bits: int | None, done: Marker) -> None:
        """Write `elements` of the ofmap tile to DRAM; when written, free its slot and set `done`."""

        def written() -> None:
            self.release(tile)
            done.set()

        self.write_out(elements, address, bits, written)

    def write_out(self, elements: int, address: int, bits: int | None, then: Callable[[], None]) -> None:
        """Write `elements` of a held tile to DRAM (the slot stays taken); call `then()` once written."""
        size = packed_bytes(elements, bits or self.element_bits)
        s = self.stats
        s.drains += 1
        s.drained_elements += elements
        s.drained_bytes += size
        if elements:
            # A call, not a process: the write needs no waiting of its own, only its completion.
            self.dram.request_call("write", address, size, self.name, lambda _call: then())
        else:
            then()
