"""The PE array on the engine's clock: per step, wait for the step's operand tiles, compute, drain, release.

It holds no arithmetic of its own: each step's compute cycles come from the plan (which took them
from sim.analytical.systolic.fold_cycles). A stall is the time between when a step could start (the previous
step finished) and when its last tile became ready; it is charged to the operand whose tile was waited for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import ne

import simpy

from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Marker, on
from sim.engine.tiling import OPERANDS, LayerPlan


@dataclass
class StepCounters:
    """Counters the PE array keeps for one layer (mutable while it runs)."""

    steps: int = 0
    stall_total: int = 0
    stall: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0))


@dataclass(frozen=True)
class StepSchedule:
    """A plan's steps as plain Python lists (indexing numpy scalars per step is slow): compute cycles, the tile
    of each operand per step, and whether the next step moves to another tile (the tile's last use)."""

    cycles: list[int]
    ifmap_tile: list[int]
    filter_tile: list[int]
    ofmap_tile: list[int]
    ifmap_last: list[bool]
    filter_last: list[bool]
    ofmap_last: list[bool]
    # Whether a step's end only counts it: no tile's last use, nothing drained, not the last step (so the next step
    # reads the same tiles, already in place).
    quiet: list[bool]


def step_schedule(plan: LayerPlan) -> StepSchedule:
    """The per-step lists of `plan` (computed once per distinct plan)."""
    cycles, ifmap_tile, filter_tile, ofmap_tile = plan.steps[:, 1:].T.tolist()

    def last_use(tiles: list[int]) -> list[bool]:
        return [*map(ne, tiles[1:], tiles), True] if tiles else []

    ifmap_last, filter_last, ofmap_last = last_use(ifmap_tile), last_use(filter_tile), last_use(ofmap_tile)
    drains = [elements for elements, _ in plan.drains] if plan.drains else [0] * len(cycles)
    quiet = [not (a or b or c or d) for a, b, c, d in zip(ifmap_last, filter_last, ofmap_last, drains)]
    return StepSchedule(cycles=cycles, ifmap_tile=ifmap_tile, filter_tile=filter_tile, ofmap_tile=ofmap_tile,
                        ifmap_last=ifmap_last, filter_last=filter_last, ofmap_last=ofmap_last, quiet=quiet)


class PeArray:
    """Runs the steps of one layer after another (one layer at a time: the array is not shared)."""

    def __init__(self, env: CountingEnvironment) -> None:
        self.env = env

    def run_layer(self, plan: LayerPlan, schedule: StepSchedule, buffers: dict[str, Buffer],
                  keys: dict[str, list[object]], ready: dict[str, list[Marker]], drained: list[Marker], timeline,
                  layer_start: simpy.Event, ofmap_bits: int, done: simpy.Event, psum_bits: int = 0) -> None:
        """The layer's steps in order, from when `layer_start` fires; `done` succeeds when every ofmap tile has been
        drained to DRAM (finished outputs at `ofmap_bits`, partial sums at `psum_bits`, 0: `ofmap_bits`). `keys` and
        `ready` are each operand's tile keys and ready markers, by tile index."""
        steps = _LayerSteps(self.env, plan, schedule, buffers, keys, ready, drained, timeline, ofmap_bits, done,
                            psum_bits or ofmap_bits)
        on(layer_start, steps.begin)


class _LayerSteps:
    """One layer's walk over its steps, as callbacks: a step starts when its last tile is ready (waking on that
    tile's marker), its end is one call on the clock, and there it drains a finished ofmap tile and releases the
    tiles whose last use it was."""

    def __init__(self, env: CountingEnvironment, plan: LayerPlan, schedule: StepSchedule, buffers: dict[str, Buffer],
                 keys: dict[str, list[object]], ready: dict[str, list[Marker]], drained: list[Marker], timeline,
                 ofmap_bits: int, done: simpy.Event, psum_bits: int) -> None:
        self.env = env
        self.psum_bits = psum_bits
        self.schedule = schedule
        self.buffers = buffers
        self.keys = keys
        self.drained = drained
        self.timeline = timeline
        self.ofmap_bits = ofmap_bits
        self.ofmap_tiles = plan.tiles["ofmap"]
        self.finished_drains = plan.drains  # per step: finished outputs written while compute goes on
        self.ofmap_kept = plan.ofmap_kept
        self.writes: list[Marker] = []
        self.done = done
        # Per operand, in the order a step checks them: name, markers by tile, each step's tile.
        self.checks = tuple((name, ready[name], tiles) for name, tiles in
                            zip(OPERANDS, (schedule.ifmap_tile, schedule.filter_tile, schedule.ofmap_tile)))
        self.position = 0
        self.operand = 0
        self.could_start = 0
        self.wait_start = 0
        self.undrained = 0

    def begin(self, _event: simpy.Event | None) -> None:
        if not self.schedule.cycles:
            self._finish()
            return
        self.could_start = self.env._now
        self._run()

    def _run(self, last_call: bool = False) -> None:
        """From the current step's readiness check on: wait for its tiles operand by operand, compute, move on;
        returns when a tile or the compute has to be waited for. `last_call`: this runs at the end of a call the
        clock processed (nothing else of it follows), so a compute that ends before every queued entry ends here
        at once: the clock would process that call next anyway (same time, same order, same count)."""
        env, timeline, checks = self.env, self.timeline, self.checks
        cycles_of, quiet = self.schedule.cycles, self.schedule.quiet
        queue = env._queue
        while True:
            position = self.position
            while self.operand < 3:
                marker = checks[self.operand][1][checks[self.operand][2][position]]
                if not marker.is_set:
                    self.wait_start = env._now
                    marker.then(self._waited)
                    return
                self.operand += 1
            now = env._now
            if timeline.first_step_start is None:
                timeline.first_step_start = now
            timeline.counters.stall_total += now - self.could_start
            cycles = cycles_of[position]
            if cycles:
                if timeline.step_log is not None:
                    timeline.step_log.append((position, now, cycles))
                if last_call and (not queue or queue[0][0] > now + cycles):
                    end, events = now + cycles, 1
                    if timeline.step_log is None:
                        # Quiet steps end and the next one starts at once, as long as each next compute still ends
                        # before every queued entry: only counters move.
                        first = position
                        while quiet[position]:
                            following = cycles_of[position + 1]
                            if following and queue and queue[0][0] <= end + following:
                                break
                            position += 1
                            end += following
                            events += following > 0
                        timeline.counters.steps += position - first
                        self.position = position
                    env._now = end
                    env.events_processed += events
                    if not self._end_step():
                        return
                    continue
                env.call_at(cycles, self._computed)
                return
            # A step of zero cycles (a chunk's share rounding to 0) ends at once.
            if not self._end_step():
                return

    def _waited(self) -> None:
        stall = self.timeline.counters.stall
        stall[self.checks[self.operand][0]] += self.env._now - self.wait_start
        self.operand += 1
        self._run()

    def _computed(self, _call: object) -> None:
        if self._end_step():
            self._run(last_call=True)

    def _end_step(self) -> bool:
        """Drain a finished ofmap tile, release the input tiles whose last use this was (in that order: the write
        queues at DRAM before the fills the freed slots start), move to the next step; False when the steps are
        over."""
        schedule, position, keys, buffers = self.schedule, self.position, self.keys, self.buffers
        timeline = self.timeline
        timeline.counters.steps += 1
        if self.finished_drains:
            self._drain_finished(position)
        elif schedule.ofmap_last[position] and self.ofmap_kept:
            # The whole ofmap stays on chip for the next layer (sim.mapping.residency): its slot frees, nothing moves.
            tile = schedule.ofmap_tile[position]
            buffers["ofmap"].release(keys["ofmap"][tile])
            self.drained[tile].set()
        elif schedule.ofmap_last[position]:
            tile = schedule.ofmap_tile[position]
            tile_plan = self.ofmap_tiles[tile]
            timeline.dram_write_elements += tile_plan.elements
            buffers["ofmap"].drain(keys["ofmap"][tile], tile_plan.elements, tile_plan.address,
                                   self.psum_bits if tile_plan.partial else self.ofmap_bits, self.drained[tile])
        if schedule.ifmap_last[position]:
            buffers["ifmap"].release(keys["ifmap"][schedule.ifmap_tile[position]])
        if schedule.filter_last[position]:
            buffers["filter"].release(keys["filter"][schedule.filter_tile[position]])
        self.position = position + 1
        if self.position == len(schedule.cycles):
            self._finish()
            return False
        self.could_start = self.env._now
        self.operand = 0
        return True

    def _drain_finished(self, position: int) -> None:
        """Write the outputs step `position` finished (a whole-held ofmap drained as it goes); after the last step
        the slot is free for the next layer and the layer's drained marker waits for these writes."""
        elements, address = self.finished_drains[position]
        if elements:
            self.timeline.dram_write_elements += elements
            written = Marker()
            self.writes.append(written)
            self.buffers["ofmap"].write_out(elements, address, self.ofmap_bits, written.set)
        if self.schedule.ofmap_last[position]:
            tile = self.schedule.ofmap_tile[position]
            self.buffers["ofmap"].release(self.keys["ofmap"][tile])
            self.drained[tile].set()

    def _finish(self) -> None:
        """After the last step: the layer is done when every ofmap tile (or finished block) has reached DRAM."""
        self.timeline.last_compute_end = self.env._now
        pending = [marker for marker in (*self.drained, *self.writes) if not marker.is_set]
        self.undrained = len(pending)
        if not pending:
            self.done.succeed()
            return
        for marker in pending:
            marker.then(self._drained)

    def _drained(self) -> None:
        self.undrained -= 1
        if not self.undrained:
            self.done.succeed()
