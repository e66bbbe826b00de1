"""The search: per layer, score the space's candidates in batches with the vectorized analytical model, keep the
best, validate the top-k with the engine (and up to BOUND_RUNS more whose closed form is below the best engine
number) and pick by the engine's numbers (docs/mapper.md).

Strategy per layer: exhaustive when the capacity-pruned space has at most `budget` candidates; otherwise a seeded
heuristic: a geometric ladder of chunk counts in every family, then zooms between ladder steps around the best
candidates, then seeded random samples, until the budget (or the time limit) is spent. The named os / ws / is
mappings fitted to the buffers are always scored and validated, so the result is never worse than the best of
them by the numbers it is picked by.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from sim.errors import ConfigError, MappingError
from sim.hardware.spec import Hardware
from sim.heap import rare_collections
from sim.mapper.runs import LayerRuns
from sim.mapper.space import Candidates, Space, concat_families
from sim.mapping.buffering import auto_decision
from sim.mapping.record import OPERANDS, Mapping
from sim.mapping.systolic import DATAFLOW_NAMES, fit_mapping, map_systolic
from sim.workload.layer import Layer
from sim.workload.trace import Trace

OBJECTIVES = ("latency", "energy", "edp")
DEFAULT_BUDGET = 512  # candidates scored per layer
AGREEMENT = 0.05  # analytical vs engine: a larger relative difference is listed with its reason
LADDER = 16  # chunk counts per family on the heuristic's first pass
BOUND_RUNS = 4  # engine runs per layer beyond the top-k for candidates whose closed form is below the best engine
BOUND_GAIN = 0.001  # ... by more than this share of it: a run that could gain less is not worth its engine time


@dataclass(frozen=True)
class Scored:
    """One candidate's numbers: analytical, and the engine's when validated."""

    mapping: Mapping
    cycles: int
    energy_pj: float
    engine_cycles: int | None = None
    engine_energy_pj: float | None = None
    disagreement: str = ""  # "" or why analytical and engine differ by more than AGREEMENT


@dataclass(frozen=True)
class LayerSearch:
    """The search of one layer: the chosen mapping with its numbers, the validated candidates, the counts."""

    layer: str
    best: Scored
    validated: tuple[Scored, ...]
    baselines: tuple[tuple[str, float], ...]  # named dataflow -> its objective by the picking numbers
    evaluated: int
    space_size: int
    raw_size: int
    pruned: tuple[tuple[str, int], ...]
    strategy: str  # "exhaustive" | "heuristic"
    search_s: float
    utilization: float = 0.0
    dram_bytes: int = 0
    cached: bool = False
    options: tuple[Scored, ...] = ()  # every candidate scored as the winners were (the cross-layer pick's choices)
    residency: tuple[bool, bool] = (False, False)  # (ifmap arrives on chip, ofmap kept) in the whole trace
    validate_s: float = 0.0  # of search_s: the engine validation (the rest: space, scoring, picking)
    not_run: tuple[str, ...] = ()  # named baselines the layer's validation skipped (closed form too far above the best)


@dataclass(frozen=True)
class MapResult:
    """The mapper's answer for a trace on one hardware."""

    hardware: str
    trace: str
    objective: str
    layers: tuple[LayerSearch, ...]
    complete: bool = True
    seed: int = 0
    budget: int = DEFAULT_BUDGET
    missing: tuple[str, ...] = ()  # layers not searched (an interrupted search)
    search_s: float = 0.0
    # An interrupted search: the config's own mapping of each layer not searched, so the file still runs.
    fallback: tuple[tuple[str, Mapping], ...] = ()
    # The whole-trace check (sim.mapper.residency_pick): which answer was kept and each contender's objective.
    across_layers: str = ""
    contenders: tuple[tuple[str, float], ...] = ()
    contenders_skipped: tuple[str, ...] = ()  # contenders not run through the engine (they could not win)
    across_s: float = 0.0  # of search_s: the whole-trace check
    engine_runs: int = 0  # engine runs done by this call (layers, or whole traces): the cache's misses

    def mappings(self) -> dict[str, Mapping]:
        found = {search.layer: search.best.mapping for search in self.layers}
        return {**found, **dict(self.fallback)}

    @property
    def evaluated(self) -> int:
        return sum(s.evaluated for s in self.layers)


@dataclass
class MapperCache:
    """Searches already done, per (layer shape, hardware, search settings), and model runs done on the latest
    hardware, per (layer shape, mapping, residency, seed) (sim.mapper.runs): a sweep, a network with repeated layers
    or a latency and an energy search of one network do not search or run the same thing twice. Owned by the
    caller; nothing is kept between calls otherwise."""

    entries: dict = field(default_factory=dict)
    runs: dict = field(default_factory=dict)  # hardware -> sim.mapper.runs.LayerRuns' store (the latest hardware's)


def objective_of(objective: str, cycles, energy_pj):
    if objective == "latency":
        return np.asarray(cycles, dtype=np.float64)
    if objective == "energy":
        return np.asarray(energy_pj, dtype=np.float64)
    return np.asarray(cycles, dtype=np.float64) * np.asarray(energy_pj, dtype=np.float64)


def check_settings(objective: str, budget: int | None, time_limit_s: float | None, top_k: int) -> None:
    if objective not in OBJECTIVES:
        raise ConfigError("unknown objective", field="--objective", value=objective, allowed=", ".join(OBJECTIVES))
    if budget is not None and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1):
        raise ConfigError("the budget is the number of candidates scored per layer", field="--budget", value=budget,
                          allowed="an integer >= 1")
    if time_limit_s is not None and not time_limit_s > 0:
        raise ConfigError("the time limit is the search's wall-clock seconds", field="--time", value=time_limit_s,
                          allowed="> 0")
    if not isinstance(top_k, int) or top_k < 0:
        raise ConfigError("top-k: the candidates per layer the engine validates", field="--top-k", value=top_k,
                          allowed="an integer >= 0 (0: no engine validation)")


def _keys(batch: Candidates) -> list[tuple]:
    """Each candidate's identity: (dataflow, chunks, whole flags, chunks outside, F, u), as plain Python values."""
    return list(zip(batch.dataflow.tolist(), batch.chunks.tolist(), *(w.tolist() for w in batch.whole),
                    batch.outside.tolist(), batch.fill.tolist(), batch.run.tolist()))


SCORED = ("cycles", "energy_pj", "valid")  # of the batched model's values, what candidates are picked by


def _score(layer: Layer, hw: Hardware, batch: Candidates, objective: str, memo: dict | None = None):
    """(objective per candidate, inf where invalid; the batched model's SCORED values). `memo`: the values of candidates
    already scored on this layer shape and hardware (any objective: the values do not depend on it), by key; only
    the others are scored, and added."""
    def model(part: Candidates) -> dict:
        return part.estimate(layer, hw)

    if memo is None or not len(batch):
        scored = model(batch)
        values = {name: scored[name] for name in SCORED}
    else:
        keys = _keys(batch)
        rows = memo.setdefault("rows", {})
        missing = [i for i, key in enumerate(keys) if key not in rows]
        if missing:
            fresh = model(batch.take(np.array(missing, dtype=np.int64)))
            memo.setdefault("dtypes", tuple(fresh[name].dtype for name in SCORED))  # cycles: int or float by model
            for key, row in zip([keys[i] for i in missing], zip(*(fresh[name].tolist() for name in SCORED))):
                rows[key] = row
        table = [rows[key] for key in keys]
        values = {name: np.array([row[n] for row in table], dtype=dtype)
                  for n, (name, dtype) in enumerate(zip(SCORED, memo["dtypes"]))}
    score = objective_of(objective, values["cycles"], values["energy_pj"])
    score = np.where(values["valid"], score, np.inf)
    # Ties on the objective are common (energy does not see the chunk count; cycles often not the whole flags).
    values["tie_break"] = np.asarray(values["energy_pj"] if objective == "latency" else values["cycles"],
                                     dtype=np.float64)
    return score, values


def _order(batch: Candidates, score: np.ndarray, tie_break: np.ndarray | None = None) -> np.ndarray:
    """Candidates best first. Equal objective: the better other metric (`tie_break`: cycles for energy, energy
    otherwise), then ifmap and ofmap held whole first (the same numbers alone, but only a held tensor can stay on
    chip across layers, sim.mapper.residency_pick), then dataflow, chunks, the filter flag, chunk order, F."""
    tie = np.zeros(len(batch)) if tie_break is None else tie_break
    keys = [batch.fill, batch.outside, batch.whole[1], batch.chunks, batch.dataflow, ~batch.whole[0],
            ~batch.whole[2], tie, score]
    return np.lexsort(keys)


def _ladder(low: int, high: int, steps: int) -> np.ndarray:
    if high - low + 1 <= steps:
        return np.arange(low, high + 1, dtype=np.int64)
    return np.array(_geometric_ladder(low, high, steps), dtype=np.int64)


# The same ladders come back for every family of a layer's space and for each objective searched on it.
@lru_cache(maxsize=1 << 14)
def _geometric_ladder(low: int, high: int, steps: int) -> tuple[int, ...]:
    points = np.geomspace(low, high, steps)
    return tuple(np.unique(np.concatenate([[low, high], np.round(points).astype(np.int64)])).tolist())


def _named(layer: Layer, hw: Hardware) -> dict[str, Mapping]:
    named = {}
    for flow in DATAFLOW_NAMES:
        try:
            named[flow] = auto_decision(layer, hw, fit_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols,
                                                               hw.buffers))
        except MappingError:
            continue
    return named


def _as_candidates(records: list[Mapping]) -> Candidates:
    if not records:
        return concat_families([])
    return Candidates(np.array([DATAFLOW_NAMES.index(r.dataflow) for r in records], dtype=np.int64),
                      np.array([r.chunks for r in records], dtype=np.int64),
                      tuple(np.array([name in r.whole for r in records], dtype=bool) for name in OPERANDS),
                      np.array([r.chunk_order == "outside_row_folds" for r in records], dtype=bool),
                      np.array([r.row_folds_per_fill for r in records], dtype=np.int64),
                      np.array([r.streamed_per_stationary_read for r in records], dtype=np.int64))


def _search_candidates(layer: Layer, hw: Hardware, space: Space, objective: str, budget: int, seed: int,
                       deadline: float, memo: dict | None = None) -> tuple[Candidates, np.ndarray, dict, str]:
    """(scored candidates, their scores, their SCORED values, strategy); `memo`: see `_score`."""
    named = _as_candidates(list(_named(layer, hw).values()))
    if space.size <= budget:
        batch = space.all()
        score, values = _score(layer, hw, batch, objective, memo)
        return batch, score, values, "exhaustive"
    parts = _in_lockstep(_phase_searches(layer, hw, space, objective, budget, seed, deadline, named),
                         lambda batch: _score(layer, hw, batch, objective, memo))
    batch, score = _merged(parts)
    values = {key: np.concatenate([p[2][key] for p in parts]) for key in parts[0][2]}
    return batch, score, values, "heuristic"


def _phase_searches(layer: Layer, hw: Hardware, space: Space, objective: str, budget: int, seed: int,
                    deadline: float, named: Candidates) -> list:
    """The heuristic's searches (`_heuristic` generators): F = 1 (today's schedule, with the named mappings) and
    F > 1, each with the budget and its own seed: the F axis multiplies the families, and sharing one budget would
    thin the F = 1 ladder the named mappings' neighbours are found on."""
    return [_heuristic(layer, hw, replace(space, families=families), objective, budget, seed + phase, deadline,
                       named if phase == 0 else concat_families([]))
            for phase, families in enumerate((tuple(f for f in space.families if f.fill == 1),
                                              tuple(f for f in space.families if f.fill > 1)))
            if families]


def _in_lockstep(searches: list, score) -> list[tuple[Candidates, np.ndarray, dict]]:
    """Run independent searches (generators that yield a batch to score, are sent back its (scores, values) and
    return their scored parts) side by side: each round's batches are scored in one call of the batched model,
    whose cost is mostly fixed per call. Each search sees exactly what it would alone. Returns every part."""
    parts: list[list] = [[] for _ in searches]  # per search, in the order given (ties keep the scoring order)
    answers: dict[int, tuple | None] = dict.fromkeys(range(len(searches)))  # None starts a generator
    while answers:
        asked = {}
        for n, answer in answers.items():
            try:
                asked[n] = searches[n].send(answer)
            except StopIteration as done:
                parts[n] = done.value
        if not asked:
            break
        score_all, values_all = score(Candidates.concatenate(list(asked.values())))
        answers, start = {}, 0
        for n, batch in asked.items():
            stop = start + len(batch)
            answers[n] = (score_all[start:stop], {key: value[start:stop] for key, value in values_all.items()})
            start = stop
    return [part for found in parts for part in found]


def _heuristic(layer: Layer, hw: Hardware, space: Space, objective: str, budget: int, seed: int, deadline: float,
               named: Candidates):
    """The seeded ladder / zoom / random search over `space`'s families within `budget`, as a generator: it yields
    each batch to score, is sent back its (scores, SCORED values) and returns the scored parts (`_in_lockstep`)."""
    rng = np.random.default_rng(seed)
    seen: set[tuple] = set()
    parts: list[tuple[Candidates, np.ndarray, dict]] = []

    def fresh(batch: Candidates) -> Candidates | None:
        """The candidates of `batch` not seen yet, within the budget, in order (None if none)."""
        keep = []
        for i, key in enumerate(_keys(batch)):
            if len(seen) >= budget:
                break
            if key not in seen:
                seen.add(key)
                keep.append(i)
        return batch.take(np.array(keep, dtype=np.int64)) if keep else None

    steps = max(2, min(LADDER, budget // max(len(space.families), 1)))
    # The named mappings, then a ladder of chunk counts in every family, scored together.
    first = fresh(Candidates.concatenate([named, concat_families(
        [(f, _ladder(int(f.counts[0]), int(f.counts[-1]), steps)) for f in space.families])]))
    if first is not None:
        parts.append((first, *(yield first)))
    # Zoom: around the best candidates, the chunk counts between their neighbours on the ladder, finer each round.
    families = {(f.dataflow, f.whole, f.outside, f.fill): f for f in space.families}
    for _ in range(8):
        if len(seen) >= budget or time.perf_counter() > deadline:
            break
        batch, score = _merged(parts)
        best = _order(batch, score, np.concatenate([p[2]["tie_break"] for p in parts]))[:4]
        zoom = []
        for i in best:
            if not np.isfinite(score[i]):
                continue
            family = families[(int(batch.dataflow[i]), tuple(bool(w[i]) for w in batch.whole),
                               bool(batch.outside[i]), int(batch.fill[i]))]
            c = int(batch.chunks[i])
            span = max(1, c // 4)
            low, high = max(int(family.counts[0]), c - span), min(int(family.counts[-1]), c + span)
            zoom.append((family, _ladder(low, high, steps)))
        more = fresh(concat_families(zoom))
        if more is None:
            break
        parts.append((more, *(yield more)))
    # Seeded random samples with what is left.
    while len(seen) < budget and time.perf_counter() <= deadline:
        left = budget - len(seen)
        picks = rng.integers(0, len(space.families), size=min(left, 1024))
        sample = [(space.families[p], np.array([rng.integers(space.families[p].counts[0],
                                                             space.families[p].counts[-1] + 1)]))
                  for p in picks.tolist()]
        more = fresh(concat_families(sample))
        if more is None:
            break
        parts.append((more, *(yield more)))
    return parts


def _merged(parts) -> tuple[Candidates, np.ndarray]:
    batch = Candidates.concatenate([p[0] for p in parts])
    return batch, np.concatenate([p[1] for p in parts])


def _disagreement(analytical_cycles: int, engine_cycles: int, analytical_pj: float, engine_pj: float,
                  memory_cycles: int, compute_cycles: int) -> str:
    """"" when the two models agree within AGREEMENT, else the differences and why they part."""
    reasons = []
    for what, a, e in (("cycles", analytical_cycles, engine_cycles), ("energy", analytical_pj, engine_pj)):
        if e and abs(a - e) / e > AGREEMENT:
            reasons.append(f"{what}: analytical {a:,.0f} vs engine {e:,.0f} ({(a - e) / e:+.1%})")
    if not reasons:
        return ""
    bound = (f"DRAM-bound ({memory_cycles:,} memory vs {compute_cycles:,} compute cycles)"
             if memory_cycles >= compute_cycles else
             f"compute-bound ({compute_cycles:,} compute vs {memory_cycles:,} memory cycles)")
    if engine_cycles >= analytical_cycles:
        why = ("the closed form prices the engine's timeline on averages (docs/systolic.md): the engine's steps "
               "wait longer for tile fetches queued behind other transfers; energy follows through leakage per cycle")
    else:
        why = "the engine overlaps more than the closed form's averaged stalls and tails assume"
    return "; ".join(reasons) + f" ({bound}: {why})"


def skip_margin(objective: str) -> float:
    """How far a candidate's closed-form objective may exceed the best engine objective and still be run: the closed
    form is at most AGREEMENT above the engine (docs/systolic.md; tests/properties/test_single_buffered_timing.py),
    on cycles and on energy (so squared for their product), so a candidate beyond it cannot win."""
    return (1 + AGREEMENT) ** 2 if objective == "edp" else 1 + AGREEMENT


def engine_scored(layer: Layer, item: Scored, runs: LayerRuns) -> Scored:
    """`item` with its engine numbers and, when the two models part by more than AGREEMENT, why."""
    run = runs.engine(layer, item.mapping)
    analytical = runs.closed_form(layer, item.mapping)
    cycles, energy = int(run.cycles), float(run.energy.total_pj)
    return replace(item, engine_cycles=cycles, engine_energy_pj=energy, disagreement=_disagreement(
        item.cycles, cycles, item.energy_pj, energy, int(dict(analytical.extra).get("memory_cycles", 0)),
        int(analytical.compute_cycles)))


def _validate(layer: Layer, scored: list[Scored], runs: LayerRuns, must: int,
              objective: str) -> tuple[list[Scored], tuple[int, ...]]:
    """Engine numbers for `scored[:must]`, then for each later one, best closed form first, unless its closed-form
    objective exceeds the best engine objective so far by more than `skip_margin`: it cannot win. Returns the
    scored list and the indices not run."""
    out = list(scored)
    best = float("inf")
    later = sorted(range(must, len(scored)),
                   key=lambda n: (float(objective_of(objective, scored[n].cycles, scored[n].energy_pj)), n))
    skipped = []
    for n in [*range(min(must, len(scored))), *later]:
        item = scored[n]
        if n >= must and float(objective_of(objective, item.cycles, item.energy_pj)) > best * skip_margin(objective):
            skipped.append(n)
            continue
        out[n] = engine_scored(layer, item, runs)
        best = min(best, float(objective_of(objective, out[n].engine_cycles, out[n].engine_energy_pj)))
    return out, tuple(sorted(skipped))


def _below_best(layer: Layer, hw: Hardware, batch: Candidates, score: np.ndarray, values: dict, finite: np.ndarray,
                scored: list[Scored], runs: LayerRuns, objective: str, limit: int) -> list[Scored]:
    """Engine numbers for up to `limit` more candidates whose closed form is below the best engine objective so far
    by more than BOUND_GAIN of it: the closed form prices the engine's timeline on averages (docs/systolic.md), so the
    top-k's engine numbers may sit above their closed form by per-step costs it averages away, and a candidate the
    closed form puts clearly below them may still win.
    Fewest chunks first (fewer steps: the closed form is tighter and the engine run cheaper), then the better closed
    form; one candidate per closed-form objective value (candidates differing only in flags the numbers do not see
    tie there)."""
    best = min(float(objective_of(objective, s.engine_cycles, s.engine_energy_pj))
               for s in scored if s.engine_cycles is not None)
    below = finite[score[finite] < best * (1 - BOUND_GAIN)]
    below = below[np.lexsort((score[below], batch.chunks[below]))]  # stable: ties keep the closed-form order
    seen = {s.mapping for s in scored}
    numbers = {float(objective_of(objective, s.cycles, s.energy_pj)) for s in scored}
    out: list[Scored] = []
    for i in below.tolist():
        if len(out) >= limit:
            break
        if float(score[i]) in numbers or not float(score[i]) < best * (1 - BOUND_GAIN):
            continue
        record = batch.record(layer, hw, i)
        if record in seen:
            continue
        seen.add(record)
        numbers.add(float(score[i]))
        item = engine_scored(layer, Scored(record, int(values["cycles"][i]), float(values["energy_pj"][i])), runs)
        out.append(item)
        best = min(best, float(objective_of(objective, item.engine_cycles, item.engine_energy_pj)))
    return out


def search_layer(layer: Layer, hw: Hardware, *, objective: str = "latency", budget: int | None = None,
                 seed: int = 0, top_k: int = 3, deadline: float = float("inf"),
                 runs: LayerRuns | None = None) -> LayerSearch:
    """The best mapping of `layer` on `hw` for `objective` (see the module docstring); `runs`: the engine runs
    already done (a MapperCache's), else a fresh store."""
    if hw.directive_array is not None:
        from sim.mapper.directive_search import search_directive_layer

        return search_directive_layer(layer, hw, objective=objective, budget=budget, seed=seed, top_k=top_k,
                                      deadline=deadline)
    start = time.perf_counter()
    budget = budget or DEFAULT_BUDGET
    runs = runs if runs is not None else LayerRuns(hw, seed, {}, hw.model_dump_json())
    space = runs.space(layer)
    if not space.families:
        raise MappingError(f"layer '{layer.name}': no mapping of the space fits the hardware "
                           f"({space.refusal})", field=f"{layer.name}", value=hw.name,
                           allowed="buffers large enough for one fold's tiles")
    batch, score, values, strategy = _search_candidates(layer, hw, space, objective, budget, seed, deadline,
                                                        runs.scores(layer))
    order = _order(batch, score, values["tie_break"])
    finite = order[np.isfinite(score[order])]
    named = _named(layer, hw)
    picked: list[Mapping] = []
    for i in finite[:max(top_k, 1)].tolist():
        picked.append(batch.record(layer, hw, i))
    must = len(picked)  # the top-k always run through the engine
    # The best F = 1 candidate is validated too where it can win: the closed form may rank an F > 1 first that the
    # engine runs slower, and then the F = 1 one's closed form is within the skip margin of that engine number.
    for i in finite[batch.fill[finite] == 1][:1].tolist():
        record = batch.record(layer, hw, i)
        if record not in picked:
            picked.append(record)
    for record in named.values():  # the baselines: always scored the same way as the winners
        if record not in picked:
            picked.append(record)
    scored = []
    for record in picked:
        result = runs.closed_form(layer, record)
        scored.append(Scored(record, int(result.cycles), float(result.energy.total_pj)))
    validate_start = time.perf_counter()
    skipped: tuple[int, ...] = ()
    if top_k > 0:
        scored, skipped = _validate(layer, scored, runs, must, objective)  # a baseline that cannot win is not run
        scored += _below_best(layer, hw, batch, score, values, finite, scored, runs, objective, BOUND_RUNS)
    validate_end = time.perf_counter()

    def value(item: Scored) -> float:
        if item.engine_cycles is not None:
            return float(objective_of(objective, item.engine_cycles, item.engine_energy_pj))
        return float(objective_of(objective, item.cycles, item.energy_pj))

    def other(item: Scored) -> float:  # the tie-break of _order, on the picking numbers
        validated = item.engine_cycles is not None
        if objective == "latency":
            return float(item.engine_energy_pj if validated else item.energy_pj)
        return float(item.engine_cycles if validated else item.cycles)

    ranked = sorted(range(len(scored)), key=lambda n: (value(scored[n]), other(scored[n]), n))
    best = scored[ranked[0]]
    baselines = tuple((name, value(next(s for s in scored if s.mapping == record))) for name, record in named.items())
    not_run = tuple(name for name, record in named.items() if any(scored[n].mapping == record for n in skipped))
    final = runs.closed_form(layer, best.mapping)
    extra = dict(final.extra)
    return LayerSearch(layer=layer.name, best=best, validated=tuple(s for s in scored if s.engine_cycles is not None),
                       baselines=baselines, evaluated=len(batch), space_size=space.size, raw_size=space.raw_size,
                       pruned=space.pruned, strategy=strategy, search_s=time.perf_counter() - start,
                       utilization=float(final.utilization),
                       dram_bytes=int(extra.get("dram_read_bytes", 0) + extra.get("dram_write_bytes", 0)),
                       options=tuple(scored), validate_s=validate_end - validate_start, not_run=not_run)


def map_trace(trace: Trace, hw: Hardware, *, objective: str = "latency", budget: int | None = None,
              time_limit_s: float | None = None, seed: int = 0, top_k: int = 3,
              cache: MapperCache | None = None) -> MapResult:
    """Search every layer of `trace` on `hw`. A Ctrl-C stops the search and returns what was found, marked
    incomplete (`complete=False`, the layers not searched in `missing`)."""
    check_settings(objective, budget, time_limit_s, top_k)
    with rare_collections():  # the search makes many short-lived objects and no cycles: collections are overhead
        return _map_trace(trace, hw, objective=objective, budget=budget, time_limit_s=time_limit_s, seed=seed,
                          top_k=top_k, cache=cache)


def _map_trace(trace: Trace, hw: Hardware, *, objective: str, budget: int | None, time_limit_s: float | None,
               seed: int, top_k: int, cache: MapperCache | None) -> MapResult:
    names = [layer.name for layer in trace.layers]
    if len(set(names)) != len(names):  # the answer is a mapping per layer name (a mapping file)
        raise MappingError("the mapper answers a mapping per layer name, and this trace repeats a name",
                           field="layers", value=next(n for n in names if names.count(n) > 1),
                           allowed="distinct layer names")
    start = time.perf_counter()
    deadline = start + time_limit_s if time_limit_s is not None else float("inf")
    layers_out: list[LayerSearch] = []
    complete = True
    cache = cache if cache is not None else MapperCache()  # repeated layer shapes are searched once
    hw_key = hw.model_dump_json()  # the config's content: a pydantic model with tables does not hash
    store = cache.runs.get(hw_key)
    if store is None:  # one hardware's runs at a time: a sweep visits each point once, and they would pile up
        cache.runs.clear()
        store = cache.runs[hw_key] = {}
    runs = LayerRuns(hw, seed, store, hw_key)
    try:
        for layer in trace.layers:
            key = (replace(layer, name="layer"), hw_key, objective, budget, seed, top_k, time_limit_s)
            if cache is not None and key in cache.entries:
                layers_out.append(replace(cache.entries[key], layer=layer.name, cached=True))
                continue
            found = search_layer(layer, hw, objective=objective, budget=budget, seed=seed, top_k=top_k,
                                 deadline=deadline, runs=runs)
            if cache is not None:
                cache.entries[key] = found
            layers_out.append(found)
    except KeyboardInterrupt:
        complete = False
    missing = tuple(layer.name for layer in trace.layers[len(layers_out):])
    across, contenders, skipped = "", (), ()
    from sim.mapper.residency_pick import any_link, apply_choice, choose_across_layers

    across_start = time.perf_counter()
    if complete and len(layers_out) > 1 and any_link(trace, hw):  # outputs may stay on chip: pick across layers
        choice = choose_across_layers(trace, hw, layers_out, objective, seed, engine=top_k > 0, runs=runs)
        layers_out, across, contenders = list(apply_choice(layers_out, choice)), choice.chosen, choice.contenders
        skipped = choice.skipped
    across_s = time.perf_counter() - across_start
    fallback = []
    for layer in trace.layers[len(layers_out):] if hw.pe_array is not None else ():
        try:
            fallback.append((layer.name, map_systolic(layer, hw)))
        except MappingError:
            continue  # no mapping of the config's dataflow fits: left out of the file, listed as not searched
    return MapResult(hardware=hw.name, trace=trace.name, objective=objective, layers=tuple(layers_out),
                     complete=complete, seed=seed, budget=budget or DEFAULT_BUDGET, missing=missing,
                     search_s=time.perf_counter() - start, fallback=tuple(fallback), across_layers=across,
                     contenders=contenders, contenders_skipped=skipped, across_s=across_s, engine_runs=runs.engine_runs)
