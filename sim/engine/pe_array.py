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
        stall = counters.stall
        ofmap_tiles = plan.tiles["ofmap"]
        timeout = env.timeout
        steps = plan.steps
        total = len(steps)
        cycles = steps[:, 1].tolist()
        # Per operand: its tile per step, and whether the next step moves to another tile (the last use).
        tile_of = {name: steps[:, column].tolist() for name, column in (("ifmap", 2), ("filter", 3), ("ofmap", 4))}
        last_use = {name: (np.append(steps[1:, column] != steps[:-1, column], True).tolist() if total else [])
                    for name, column in (("ifmap", 2), ("filter", 3), ("ofmap", 4))}
        ready_of = {name: buffers[name].ready for name in OPERANDS}
        release_of = {name: buffers[name].release for name in ("ifmap", "filter")}
        ifmap_tile, filter_tile, ofmap_tile = tile_of["ifmap"], tile_of["filter"], tile_of["ofmap"]
        ifmap_last, filter_last, ofmap_last = last_use["ifmap"], last_use["filter"], last_use["ofmap"]
        drain = buffers["ofmap"].drain
        for position in range(total):
            could_start = env.now
            for name, tile in (("ifmap", ifmap_tile[position]), ("filter", filter_tile[position]),
                               ("ofmap", ofmap_tile[position])):
                ready = ready_of[name]((index, name, tile))
                if not ready.processed:
                    before = env.now
                    yield ready
                    stall[name] += int(env.now - before)
            if timeline.first_step_start is None:
                timeline.first_step_start = int(env.now)
            counters.stall_total += int(env.now - could_start)
            if cycles[position]:
                yield timeout(cycles[position])
            counters.steps += 1
            if ifmap_last[position]:
                release_of["ifmap"]((index, "ifmap", ifmap_tile[position]))
            if filter_last[position]:
                release_of["filter"]((index, "filter", filter_tile[position]))
            if ofmap_last[position]:
                tile = ofmap_tile[position]
                ofmap = ofmap_tiles[tile]
                drain((index, "ofmap", tile), ofmap.elements, ofmap.address, ofmap_bits, drained[tile])
                timeline.dram_write_elements += ofmap.elements
        timeline.last_compute_end = int(env.now)
        if drained:
            yield env.all_of(drained)
