"""The systolic engine's SimPy environment: the cycle clock, its event count, and events that cost nothing
unless someone waits for them.

SimPy processes events in (time, priority, scheduling id) order. Many of the engine's events are pure markers
(a tile is ready, an ofmap tile has been drained, a slot was freed) that nobody is waiting for when they fire;
scheduling them costs a queue push, a pop and a step each. `CountingEnvironment` lets a component *reserve*
such an event's place in that order instead (the id it would have had) and push a real event into exactly
that place only when someone asks for it before the simulation has moved past it. The order of every event
that does run is therefore the one plain SimPy would have produced; only no-op events are skipped.
"""
from __future__ import annotations

from collections.abc import Callable
from heapq import heappush

import simpy
from simpy.events import NORMAL, URGENT, Event

# A queue position: (time, priority, scheduling id), compared like SimPy's queue entries.
Position = tuple[int, int, int]


class CountingEnvironment(simpy.Environment):
    """A SimPy environment that counts the events it processes (the engine's cost measure) and knows the queue
    position of the event being processed, so reserved positions can be compared with it."""

    def __init__(self) -> None:
        super().__init__()
        self.events_processed = 0
        self._current: tuple = (-1, URGENT, -1)

    def step(self) -> None:
        # The next queue entry (time, priority, id, event) is the one SimPy's own step is about to process.
        if self._queue:
            self._current = self._queue[0]
            self.events_processed += 1
        super().step()

    def reserve(self) -> Position:
        """The position an event scheduled now would take (its id is used up, as scheduling would)."""
        return (self._now, NORMAL, next(self._eid))

    def passed(self, position: Position) -> bool:
        """Whether an event at `position` would already have been processed."""
        return position < self._current

    def push(self, position: Position, callback: Callable[[Event], None] | None = None) -> Event:
        """A triggered event placed at a reserved (not yet passed) `position`, with `callback` if given."""
        event = Event(self)
        event._ok = True
        event._value = None
        if callback is not None:
            event.callbacks.append(callback)
        heappush(self._queue, (*position, event))
        return event

    def call_soon(self, callback: Callable[[Event], None]) -> None:
        """Run `callback` when an event scheduled now is processed (as `event.succeed()` with one waiter)."""
        event = Event(self)
        event._ok = True
        event._value = None
        event.callbacks.append(callback)
        self.schedule(event)

    def processed(self) -> Event:
        """An event that has already been processed (yielding it does not wait)."""
        event = Event(self)
        event._ok = True
        event._value = None
        event.callbacks = None
        return event

    def when(self, event: Event, callback: Callable[[Event], None]) -> None:
        """Like a process whose first statement is `yield event`, followed by `callback`: registered at
        process-start priority, so the callback order on `event` is the one such a process would get."""
        start = Event(self)
        start._ok = True
        start._value = None
        start.callbacks.append(lambda _start: _on(event, callback))
        self.schedule(start, URGENT)


def _on(event: Event, callback: Callable[[Event], None]) -> None:
    if event.callbacks is None:
        callback(event)
    else:
        event.callbacks.append(callback)


class Signal:
    """A one-shot event (like `simpy.Event().succeed()`) that is only scheduled if someone waits for it.

    `fire()` reserves the position its event would take; `done()` says whether that event would have been
    processed; `wait()` returns an event to yield or to add a callback to, pushing it into its reserved position
    when needed.
    """

    __slots__ = ("env", "event", "position")

    def __init__(self, env: CountingEnvironment) -> None:
        self.env = env
        self.event: Event | None = None
        self.position: Position | None = None

    def fire(self) -> None:
        if self.event is not None:
            self.event.succeed()  # someone is already waiting: a real event at the next position
        else:
            self.position = self.env.reserve()

    def done(self) -> bool:
        if self.event is not None:
            return self.event.callbacks is None
        return self.position is not None and self.env.passed(self.position)

    def wait(self) -> Event:
        if self.event is None:
            if self.position is None:
                self.event = Event(self.env)
            elif self.env.passed(self.position):
                return self.env.processed()
            else:
                self.event = self.env.push(self.position)
        return self.event
