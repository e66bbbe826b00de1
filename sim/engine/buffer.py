"""On-chip SRAM buffer of one operand, shaped like a SimPy resource: slots that tiles occupy while in use.

A buffer of `slots` halves (2 when double-buffered, else 1) holds at most `slots` tiles, each within one
slot (sim.engine.tiling.operand_capacity sizes the slots and plans tiles that fit them). The operand's prefetcher calls `fill(tile, ...)`, which waits for a free slot, reads the tile
from DRAM and fires the tile's `ready` event; the PE array waits on `ready(tile)`, computes, then calls
`release(tile)`. The ofmap buffer instead calls `allocate` (a slot, plus a read-back of partial sums when the
tile was drained before) and `drain` (write to DRAM, then free the slot). Double buffering therefore falls out
of the slot count: the next tile fills while the current one is computed on, if a slot is free.

The buffer counts its own actions: elements filled / drained / read back, bytes, and its occupancy
high-water mark.
"""
from __future__ import annotations

from dataclasses import dataclass

import simpy

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

    def __init__(self, env: simpy.Environment, name: str, slots: int, element_bits: int, dram: DramModel) -> None:
        self.env = env
        self.name = name
        self.slots = slots
        self.element_bits = element_bits  # default width; a request may name its own (layers differ)
        self.dram = dram
        self._slots = simpy.Resource(env, capacity=self.slots)
        self._held: dict[object, tuple[simpy.resources.resource.Request, int, int]] = {}  # tile -> (request, elements, since)
        self._ready: dict[object, simpy.Event] = {}
        self.stats = BufferStats()

    def ready(self, tile: object) -> simpy.Event:
        """Fires when `tile` is resident (filled, or allocated for the ofmap)."""
        event = self._ready.get(tile)
        if event is None:
            event = self._ready[tile] = self.env.event()
        return event

    def _occupy(self, tile: object, request: simpy.resources.resource.Request, elements: int) -> None:
        self._held[tile] = (request, elements, int(self.env.now))
        s = self.stats
        s.occupancy_elements += elements
        s.peak_occupancy_elements = max(s.peak_occupancy_elements, s.occupancy_elements)

    def fill(self, tile: object, elements: int, address: int, bits: int | None = None):
        """Process: wait for a slot, read `elements` of the tile from DRAM, mark it ready. Yield it in order."""
        request = self._slots.request()
        yield request
        self._occupy(tile, request, elements)
        size = packed_bytes(elements, bits or self.element_bits)
        if elements:
            yield self.dram.request("read", address, size, operand=self.name)
        s = self.stats
        s.fills += 1
        s.filled_elements += elements
        s.filled_bytes += size
        self.ready(tile).succeed()

    def allocate(self, tile: object, elements: int, readback_elements: int, address: int, bits: int | None = None,
                 after: simpy.Event | None = None):
        """Process: take a slot for an ofmap tile; read its partial sums back first when it was drained before
        (`after` is that earlier drain, so the read never overtakes the write)."""
        request = self._slots.request()
        yield request
        self._occupy(tile, request, elements)
        if readback_elements:
            if after is not None:
                yield after
            size = packed_bytes(readback_elements, bits or self.element_bits)
            yield self.dram.request("read", address, size, operand=self.name)
            self.stats.readback_elements += readback_elements
            self.stats.readback_bytes += size
        self.ready(tile).succeed()

    def release(self, tile: object) -> None:
        """Free the slot `tile` holds (its last use has finished)."""
        request, elements, since = self._held.pop(tile)
        self._ready.pop(tile, None)
        self.stats.occupancy_elements -= elements
        self.stats.busy_slot_cycles += int(self.env.now) - since
        self._slots.release(request)

    def drain(self, tile: object, elements: int, address: int, bits: int | None, done: simpy.Event) -> None:
        """Write `elements` of the ofmap tile to DRAM; when written, free its slot and fire `done`."""
        size = packed_bytes(elements, bits or self.element_bits)
        self.stats.drains += 1
        self.stats.drained_elements += elements
        self.stats.drained_bytes += size

        def written(_event: simpy.Event | None = None) -> None:
            self.release(tile)
            done.succeed()

        if elements:
            # A callback instead of a process: the write needs no waiting of its own, only its completion.
            self.dram.request("write", address, size, operand=self.name).callbacks.append(written)
        else:
            written()
