"""The PE array as a SimPy process: per step, wait for the step's operand tiles, compute, release, drain.

The process holds no arithmetic of its own: each step's compute cycles come from the plan (which took them
from sim.analytical.systolic.fold_cycles). A stall is the time between when a step could start (the previous
step finished) and when its last tile became ready; it is charged to the operand whose tile was waited for.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from sim.engine.buffer import Buffer
from sim.engine.tiling import OPERANDS, LayerPlan


@dataclass
class StepCounters:
    """Counters the PE array keeps for one layer (mutable while it runs)."""

    steps: int = 0
    stall_total: int = 0
    stall: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0))


class PeArray:
    """Runs the steps of one layer after another (one layer at a time: the array is not shared)."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def run_layer(self, index: int, plan: LayerPlan, buffers: dict[str, Buffer], drained: list[simpy.Event],
                  timeline, layer_start: simpy.Event, ofmap_bits: int):
        """Process: the layer's steps in order; ends when every ofmap tile has been drained to DRAM."""
        env = self.env
        yield layer_start
        counters = timeline.counters
        steps = plan.steps.tolist()
        tiles = plan.tiles
        total = len(steps)
        columns = {"ifmap": 2, "filter": 3, "ofmap": 4}
        for position, step in enumerate(steps):
            could_start = env.now
            for name in OPERANDS:
                ready = buffers[name].ready((index, name, step[columns[name]]))
                if not ready.processed:
                    before = env.now
                    yield ready
                    counters.stall[name] += int(env.now - before)
            if timeline.first_step_start is None:
                timeline.first_step_start = int(env.now)
            counters.stall_total += int(env.now - could_start)
            if step[1]:
                yield env.timeout(step[1])
            counters.steps += 1
            following = steps[position + 1] if position + 1 < total else None
            for name in ("ifmap", "filter"):
                tile = step[columns[name]]
                if following is None or following[columns[name]] != tile:
                    buffers[name].release((index, name, tile))
            tile = step[4]
            if following is None or following[4] != tile:
                ofmap = tiles["ofmap"][tile]
                buffers["ofmap"].drain((index, "ofmap", tile), ofmap.elements, ofmap.address, ofmap_bits,
                                       drained[tile])
                timeline.dram_write_elements += ofmap.elements
        timeline.last_compute_end = int(env.now)
        if drained:
            yield env.all_of(drained)
