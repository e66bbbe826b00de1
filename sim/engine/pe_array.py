"""The PE array as a SimPy process: per step, wait for the step's operand tiles, compute, release, drain.

The process holds no arithmetic of its own: each step's compute cycles come from the plan (which took them
from sim.analytical.systolic.fold_cycles). A stall is the time between when a step could start (the previous
step finished) and when its last tile became ready; it is charged to the operand whose tile was waited for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.engine.buffer import Buffer
from sim.engine.clock import Signal
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


def step_schedule(plan: LayerPlan) -> StepSchedule:
    """The per-step lists of `plan` (computed once per distinct plan)."""
    steps = plan.steps
    total = len(steps)

    def last_use(column: int) -> list[bool]:
        return np.append(steps[1:, column] != steps[:-1, column], True).tolist() if total else []

    return StepSchedule(cycles=steps[:, 1].tolist(), ifmap_tile=steps[:, 2].tolist(),
                        filter_tile=steps[:, 3].tolist(), ofmap_tile=steps[:, 4].tolist(),
                        ifmap_last=last_use(2), filter_last=last_use(3), ofmap_last=last_use(4))


class PeArray:
    """Runs the steps of one layer after another (one layer at a time: the array is not shared)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def run_layer(self, index: int, plan: LayerPlan, schedule: StepSchedule, buffers: dict[str, Buffer],
                  drained: list[Signal], timeline, layer_start: simpy.Event, ofmap_bits: int):
        """Process: the layer's steps in order; ends when every ofmap tile has been drained to DRAM."""
        env = self.env
        yield layer_start
        counters = timeline.counters
        stall = counters.stall
        ofmap_tiles = plan.tiles["ofmap"]
        timeout = env.timeout
        cycles = schedule.cycles
        ifmap_tile, filter_tile, ofmap_tile = schedule.ifmap_tile, schedule.filter_tile, schedule.ofmap_tile
        ifmap_last, filter_last, ofmap_last = schedule.ifmap_last, schedule.filter_last, schedule.ofmap_last
        ifmap, filter_, ofmap = buffers["ifmap"], buffers["filter"], buffers["ofmap"]
        ready = (("ifmap", ifmap.ready, ifmap_tile), ("filter", filter_.ready, filter_tile),
                 ("ofmap", ofmap.ready, ofmap_tile))
        for position in range(len(cycles)):
            could_start = env.now
            for name, ready_of, tile_of in ready:
                signal = ready_of((index, tile_of[position]))
                if not signal.done():
                    before = env.now
                    yield signal.wait()
                    stall[name] += int(env.now - before)
            if timeline.first_step_start is None:
                timeline.first_step_start = int(env.now)
            counters.stall_total += int(env.now - could_start)
            if cycles[position]:
                yield timeout(cycles[position])
            counters.steps += 1
            if ifmap_last[position]:
                ifmap.release((index, ifmap_tile[position]))
            if filter_last[position]:
                filter_.release((index, filter_tile[position]))
            if ofmap_last[position]:
                tile = ofmap_tile[position]
                tile_plan = ofmap_tiles[tile]
                ofmap.drain((index, tile), tile_plan.elements, tile_plan.address, ofmap_bits, drained[tile])
                timeline.dram_write_elements += tile_plan.elements
        timeline.last_compute_end = int(env.now)
        if drained:
            yield env.all_of([signal.wait() for signal in drained])
