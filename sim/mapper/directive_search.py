"""The search on a directive array: per layer, score the directive space's candidates with the directive model
under its native convention (which prices the schedule the directive engine runs), keep the best, run the top-k
and the shipped mappings through the directive engine and pick by the engine's numbers.

Exhaustive when the pruned space has at most `budget` candidates; otherwise a seeded heuristic: one candidate of
every spatial family first (the family's first order and tiles), then seeded random samples, then a local search
around the best (the same family and order, each tile one ladder step up or down), until the budget or the time
limit is spent. A candidate costs a loop-nest tabulation (milliseconds to a second on ResNet layers), so the
default budget is smaller than the systolic one.
"""
from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from sim.analytical.directives import estimate_directive
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapper.directive_space import (
    DirectiveCandidate,
    DirectiveSpace,
    candidate_record,
    directive_space,
    shipped_baselines,
)
from sim.mapper.search import AGREEMENT, LayerSearch, Scored, objective_of
from sim.mapping.record import Mapping
from sim.workload.layer import Layer

DIRECTIVE_BUDGET = 24  # candidates scored per layer on a directive array when --budget is not given


def native(hw: Hardware) -> Hardware:
    """`hw` with the directive model in its native convention (the engine's schedule): what the search scores."""
    spec = hw.directive_array
    if spec.cycle_convention == "native":
        return hw
    return hw.model_copy(update={"directive_array": spec.model_copy(update={"cycle_convention": "native"})})


def _family(candidate: DirectiveCandidate) -> str:
    return candidate.name.split(" ")[0]


def _neighbours(space: DirectiveSpace, best: DirectiveCandidate) -> list[int]:
    """Candidates of the same family and order whose tiles differ from `best`'s in one dimension."""
    family, order, tiles = best.name.split(" ")
    own = tiles.split(",")
    out = []
    for i, c in enumerate(space.candidates):
        f, o, t = c.name.split(" ")
        if f == family and o == order and c is not best:
            diff = sum(a != b for a, b in zip(t.split(","), own))
            if diff == 1:
                out.append(i)
    return out


def _plan_order(space: DirectiveSpace, budget: int, seed: int) -> tuple[list[int], str]:
    """Indices to score first (all when the space fits the budget), and the strategy."""
    n = space.size
    if n <= budget:
        return list(range(n)), "exhaustive"
    first: dict[str, int] = {}
    for i, c in enumerate(space.candidates):
        first.setdefault(_family(c), i)
    rng = np.random.default_rng(seed)
    rest = [int(i) for i in rng.permutation(n) if int(i) not in first.values()]
    return list(first.values()) + rest, "heuristic"


def search_directive_layer(layer: Layer, hw: Hardware, *, objective: str, budget: int | None, seed: int,
                           top_k: int, deadline: float) -> LayerSearch:
    from sim.engine.directives import simulate_directive_layer

    start = time.perf_counter()
    scoring = native(hw)
    space = directive_space(layer, scoring)
    budget = budget or DIRECTIVE_BUDGET
    order, strategy = _plan_order(space, budget, seed)
    scored: dict[int, Scored] = {}
    invalid = 0

    def score(i: int) -> None:
        nonlocal invalid
        try:
            record = candidate_record(layer, scoring, space.candidates[i])
            result = estimate_directive(layer, scoring, record)
        except MappingError:
            invalid += 1
            return
        scored[i] = Scored(record, int(result.cycles), float(result.energy.total_pj))

    def value(item: Scored) -> float:
        if item.engine_cycles is not None:
            return float(objective_of(objective, item.engine_cycles, item.engine_energy_pj))
        return float(objective_of(objective, item.cycles, item.energy_pj))

    queue = list(order)
    tried: set[int] = set()
    while queue and len(tried) < budget and time.perf_counter() < deadline:
        i = queue.pop(0)
        if i in tried:
            continue
        tried.add(i)
        score(i)
        if strategy == "heuristic" and len(tried) == min(budget, len(order)) // 2 and scored:
            # Half the budget spent: the rest goes to the neighbours of the best so far first (local search).
            best_i = min(scored, key=lambda k: (value(scored[k]), k))
            queue = _neighbours(space, space.candidates[best_i]) + queue
    named: dict[str, Mapping] = {}
    for baseline in shipped_baselines():
        try:
            named[baseline.name] = candidate_record(layer, scoring, baseline)
        except MappingError:
            continue
    if not scored and not named:
        raise MappingError(f"layer '{layer.name}': no directive mapping of the space maps this layer",
                           field=layer.name, value=hw.name, allowed="a CONV, DSCONV or GEMM layer")
    ranked = sorted(scored, key=lambda k: (value(scored[k]), k))
    picked = [scored[i] for i in ranked[:max(top_k, 1)]]
    for record in named.values():
        if all(p.mapping != record for p in picked):
            result = estimate_directive(layer, scoring, record)
            picked.append(Scored(record, int(result.cycles), float(result.energy.total_pj)))
    if top_k > 0:
        for n, item in enumerate(picked):
            run = simulate_directive_layer(layer, scoring, item.mapping, seed=seed)
            item = replace(item, engine_cycles=int(run.cycles), engine_energy_pj=float(run.energy.total_pj))
            off = max(abs(item.cycles - item.engine_cycles) / max(item.engine_cycles, 1),
                      abs(item.energy_pj - item.engine_energy_pj) / max(item.engine_energy_pj, 1e-12))
            if off > AGREEMENT:
                item = replace(item, disagreement=f"analytical vs engine differ by {off:.1%} (DRAM read/write order)")
            picked[n] = item
    best = min(picked, key=lambda item: (value(item), picked.index(item)))
    baselines = tuple((name, value(next(p for p in picked if p.mapping == record))) for name, record in named.items())
    final = estimate_directive(layer, scoring, best.mapping)
    pruned = space.pruned + (("unmappable", invalid),)
    return LayerSearch(layer=layer.name, best=best, validated=tuple(p for p in picked if p.engine_cycles is not None),
                       baselines=baselines, evaluated=len(scored) + len(named), space_size=space.size,
                       raw_size=space.raw_size, pruned=pruned, strategy=strategy,
                       search_s=time.perf_counter() - start, utilization=float(final.utilization),
                       dram_bytes=int(final.actions.get("dram.read_byte") + final.actions.get("dram.write_byte")))
