"""The systolic engine's SimPy environment: the cycle clock, its event count, and cheap timed calls.

`CountingEnvironment` is a `simpy.Environment` with two additions:
- it counts the events it processes (the engine's cost measure, reported per layer);
- it takes *calls*: `call_at(delay, callback)` puts a plain callback into SimPy's event queue at the position an
  `env.timeout(delay)` created now would take, so calls and events interleave in SimPy's (time, priority, id)
  order, but a call builds no event object and runs no callback list.
Everything with a duration (a step's compute, a DRAM transfer) is a call or an event; what happens at once when
something else happens (a slot passing to a waiting fill, a ready tile waking the array) is a `Marker` callback,
run at that instant, in the order the waiters registered.
"""
from __future__ import annotations

from collections.abc import Callable
from heapq import heappop, heappush

import simpy
from simpy.core import EmptySchedule
from simpy.events import NORMAL, Event

Callback = Callable[[Event | None], None]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts processed events and runs calls (see the module docstring). A call's
    callback gets None where an event's callback would get the event."""

    def __init__(self) -> None:
        super().__init__()
        self.events_processed = 0

    def call_at(self, delay: int, callback: Callback) -> None:
        """Run `callback(None)` where `env.timeout(delay)`, created now, would be processed."""
        heappush(self._queue, (self._now + delay, NORMAL, next(self._eid), callback))

    def step(self) -> None:
        if not self._queue:
            raise EmptySchedule
        self._process(heappop(self._queue))

    def _process(self, entry: tuple) -> None:
        self.events_processed += 1
        self._now = entry[0]
        item = entry[3]
        if not isinstance(item, Event):
            item(None)
            return
        callbacks, item.callbacks = item.callbacks, None
        for callback in callbacks:
            callback(item)
        if not item._ok and not hasattr(item, "_defused"):
            # As SimPy: a failed event nobody handled ends the run, with a fresh copy of its exception.
            exc = type(item._value)(*item._value.args)
            exc.__cause__ = item._value
            raise exc

    def run(self, until=None):
        """As `simpy.Environment.run`; with an event (or nothing) to wait for, the steps run in one loop here."""
        if until is not None and not isinstance(until, Event):
            return super().run(until)
        if until is not None and until.callbacks is None:
            return until.value
        queue, process = self._queue, self._process
        while queue:
            entry = heappop(queue)
            item = entry[3]
            if isinstance(item, Event):
                process(entry)
                if item is until:
                    return until.value
            else:  # a call, inlined: most entries are
                self.events_processed += 1
                self._now = entry[0]
                item(None)
        if until is not None:
            raise RuntimeError(f'no scheduled events left but the "until" event was not triggered: {until}')
        return None


def on(event: Event, callback: Callback) -> None:
    """`callback(event)` when `event` is processed (now, if it already was)."""
    if event.callbacks is None:
        callback(event)
    else:
        event.callbacks.append(callback)


class Marker:
    """A one-shot flag (a tile is resident, an ofmap tile has reached DRAM) that takes no simulated time: `set()`
    runs the waiters at once, in the order they registered; `then(callback)` on a set marker runs it at once."""

    __slots__ = ("is_set", "_waiters")

    def __init__(self) -> None:
        self.is_set = False
        self._waiters: list[Callable[[], None]] | None = None

    def set(self) -> None:
        self.is_set = True
        waiters, self._waiters = self._waiters, None
        if waiters:
            for waiter in waiters:
                waiter()

    def then(self, callback: Callable[[], None]) -> None:
        if self.is_set:
            callback()
        elif self._waiters is None:
            self._waiters = [callback]
        else:
            self._waiters.append(callback)
