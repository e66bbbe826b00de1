"""Across layers: pick each layer's mapping knowing that outputs may stay on chip for the next layer
(sim.mapping.residency), which the per-layer search cannot see (it scores a layer alone, both tensors in DRAM).

A left-to-right dynamic programme over the layers: a state is (this layer's option, whether its ifmap arrives on chip);
the step to the next layer's option decides whether this layer's ofmap stays on chip. A layer's cost under a
residency is its picking numbers alone (the engine's when validated) plus the closed form's change for that residency.
The programme minimises the sum of per-layer objectives; the answer is then checked on the whole trace by the same
model that picks (engine or analytical) against the per-layer picks and every named dataflow run whole, and the best
of these is kept, so the result is never worse than the best of os / ws / is on the whole trace.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from sim.hardware.spec import Hardware
from sim.mapping.record import Mapping
from sim.mapping.residency import Residency, keeps_outputs_on_chip, possible_links, trace_residency
from sim.workload.trace import Trace


@dataclass(frozen=True)
class TraceChoice:
    """What the whole-trace check kept: `chosen` ("residency", "per_layer" or a named dataflow), every contender's
    whole-trace objective by the picking model (a skipped one's: its closed form), and the per-layer
    numbers of the kept mappings in a whole run."""

    chosen: str
    contenders: tuple[tuple[str, float], ...]
    mappings: tuple[Mapping, ...]
    cycles: tuple[int, ...]
    energy_pj: tuple[float, ...]
    engine_cycles: tuple[int, ...] | None
    engine_energy_pj: tuple[float, ...] | None
    residencies: tuple[Residency, ...]
    skipped: tuple[str, ...] = ()  # contenders not run through the engine (their closed form could not win)
    options: tuple[tuple, ...] = ()  # per layer, the programme's options (Scored) as it left them


def applies(hw: Hardware) -> bool:
    """Whether outputs can cross layers on chip on `hw` (a systolic array with the option on)."""
    return hw.directive_array is None and keeps_outputs_on_chip(hw)


def any_link(trace: Trace, hw: Hardware) -> bool:
    """Whether some layer's output could stay on chip for the next one (else each layer alone is the whole story)."""
    return applies(hw) and any(possible_links(list(trace.layers), hw)[0])


def _residency_costs(trace: Trace, hw: Hardware, options: list[list], objective: str, value, runs=None):
    """cost[i][j][(ifmap_on_chip, ofmap_kept)] for option j of layer i (only the residencies the trace allows: an
    ifmap on chip where the previous layer's output may stay, an ofmap kept where this one's may and nothing later
    reads it from DRAM; and the option holds the tensor whole); `runs`: the closed forms already computed
    (sim.mapper.runs.LayerRuns)."""
    from sim.mapper.runs import LayerRuns
    from sim.mapper.search import objective_of

    runs = runs if runs is not None else LayerRuns(hw, 0, {}, hw.model_dump_json())
    linkable, skippable = possible_links(list(trace.layers), hw)

    costs = []
    for i, (layer, scored) in enumerate(zip(trace.layers, options)):
        arrives = i > 0 and linkable[i - 1]
        kept = linkable[i] and skippable[i]
        per_layer = []
        for item in scored:
            base_c, base_e = value(item)
            table = {(False, False): float(objective_of(objective, base_c, base_e))}
            held_in = arrives and "ifmap" in item.mapping.whole
            held_out = kept and "ofmap" in item.mapping.whole
            alone = None
            for flags in ((True, False), (False, True), (True, True)):
                if (flags[0] and not held_in) or (flags[1] and not held_out):
                    continue
                alone = alone or runs.closed_form(layer, item.mapping)
                moved = runs.closed_form(layer, item.mapping, Residency(*flags))
                cycles = base_c + moved.cycles - alone.cycles  # the closed form's change for this residency
                energy = base_e + moved.energy.total_pj - alone.energy.total_pj
                table[flags] = float(objective_of(objective, cycles, energy))
            per_layer.append(table)
        costs.append(per_layer)
    return costs


def _programme(trace: Trace, hw: Hardware, options: list[list], costs) -> list[int]:
    """The option index per layer minimising the summed per-layer objectives (ties: the lower option index)."""
    linkable, skippable = possible_links(list(trace.layers), hw)
    count = len(options)
    # best[(j, arrives_on_chip)] = (cost of layers before this one, back-pointer)
    best: dict[tuple[int, bool], tuple[float, tuple | None]] = {(j, False): (0.0, None) for j in range(len(options[0]))}
    pointers = []
    for i in range(count):
        nxt: dict[tuple[int, bool], tuple[float, tuple | None]] = {}
        last = i + 1 == count
        for (j, arrives), (so_far, _) in sorted(best.items()):
            mapping = options[i][j].mapping
            for k in range(1 if last else len(options[i + 1])):
                linked = (not last and linkable[i] and "ofmap" in mapping.whole
                          and "ifmap" in options[i + 1][k].mapping.whole)
                flags = (arrives, linked and skippable[i])
                total = so_far + costs[i][j][flags]
                key = (k, linked)
                if key not in nxt or total < nxt[key][0]:
                    nxt[key] = (total, (j, arrives))
        pointers.append(nxt)
        best = nxt
    # Walk back from the cheapest end state.
    state = min(best, key=lambda s: (best[s][0], s))
    picks = [0] * count
    for i in range(count - 1, -1, -1):
        j, arrives = pointers[i][state][1]
        picks[i] = j
        state = (j, arrives)
    return picks


def choose_across_layers(trace: Trace, hw: Hardware, searches, objective: str, seed: int,
                         engine: bool, runs=None) -> TraceChoice:
    """The kept mappings of `trace` (see the module docstring); `searches`: the per-layer LayerSearch, trace order;
    `runs`: the model runs already done (sim.mapper.runs.LayerRuns), else a fresh store. A contender whose whole-trace
    closed-form objective exceeds the best engine objective so far by more than the search's skip margin is not run
    through the engine (it cannot win: the closed form is at most AGREEMENT above the engine); its listed objective is
    then that closed form's."""
    import sim
    from sim.errors import MappingError
    from sim.mapper.runs import LayerRuns
    from sim.mapper.search import AGREEMENT, engine_scored, objective_of, skip_margin

    def value(item) -> tuple[float, float]:
        if item.engine_cycles is not None:
            return item.engine_cycles, item.engine_energy_pj
        if engine:  # a baseline the validation skipped: its closed form over (1 + AGREEMENT), a lower bound
            return item.cycles / (1 + AGREEMENT), item.energy_pj / (1 + AGREEMENT)
        return item.cycles, item.energy_pj

    runs = runs if runs is not None else LayerRuns(hw, seed, {}, hw.model_dump_json())
    options = []
    for search in searches:
        unique = {search.best.mapping: search.best}
        for item in search.options:
            unique.setdefault(item.mapping, item)
        options.append(list(unique.values()))
    # Options without engine numbers enter with a lower bound; when the programme picks one, it runs through the
    # engine and the programme runs again, until every pick has engine numbers: then no other choice can beat it.
    while True:
        picks = _programme(trace, hw, options, _residency_costs(trace, hw, options, objective, value, runs))
        bounded = [(i, j) for i, j in enumerate(picks) if engine and options[i][j].engine_cycles is None]
        if not bounded:
            break
        for i, j in bounded:
            options[i][j] = engine_scored(trace.layers[i], options[i][j], runs)
    contenders = {"residency": [options[i][j].mapping for i, j in enumerate(picks)],
                  "per_layer": [search.best.mapping for search in searches]}
    for flow in ("os", "ws", "is"):
        try:
            contenders[flow] = [sim.map_layer(layer, hw, dataflow=flow) for layer in trace.layers]
        except MappingError:
            continue

    def whole_objective(layers) -> float:
        return float(objective_of(objective, sum(layer.cycles for layer in layers),
                                  sum(layer.energy.total_pj for layer in layers)))

    scores, results, best = [], {}, float("inf")
    for name, mappings in contenders.items():
        bound = whole_objective(runs.closed_form_trace(trace, mappings))
        if engine and bound > best * skip_margin(objective):
            scores.append((name, bound))  # not run: cannot win
            continue
        layers = results[name] = (runs.engine_trace(trace, mappings) if engine
                                  else runs.closed_form_trace(trace, mappings))
        scores.append((name, whole_objective(layers)))
        best = min(best, scores[-1][1])
    chosen = min((kv for kv in scores if kv[0] in results), key=lambda kv: kv[1])[0]  # a tie: the first listed
    skipped = tuple(name for name, _ in scores if name not in results)
    mappings = contenders[chosen]
    analytical = runs.closed_form_trace(trace, mappings)
    return TraceChoice(
        chosen=chosen, contenders=tuple(scores), mappings=tuple(mappings),
        cycles=tuple(int(layer.cycles) for layer in analytical),
        energy_pj=tuple(float(layer.energy.total_pj) for layer in analytical),
        engine_cycles=tuple(int(layer.cycles) for layer in results[chosen]) if engine else None,
        engine_energy_pj=tuple(float(layer.energy.total_pj) for layer in results[chosen]) if engine else None,
        residencies=trace_residency(list(zip(trace.layers, mappings)), hw), skipped=skipped,
        options=tuple(tuple(layer_options) for layer_options in options))


def apply_choice(searches, choice: TraceChoice):
    """The LayerSearch records with the kept mapping and its numbers in the whole trace as `best`, and the options
    the programme ran through the engine among their validated candidates."""
    from sim.mapper.search import Scored

    out = []
    for n, search in enumerate(searches):
        ran = {item.mapping: item for item in (choice.options[n] if choice.options else ())
               if item.engine_cycles is not None}
        options = tuple(ran.get(item.mapping, item) for item in search.options)
        validated = tuple(item for item in options if item.engine_cycles is not None)
        scored = next((item for item in (search.best, *options) if item.mapping == choice.mappings[n]), None)
        # The numbers of the whole run; the disagreement note is the layer-alone validation's.
        best = Scored(choice.mappings[n], choice.cycles[n], choice.energy_pj[n],
                      engine_cycles=choice.engine_cycles[n] if choice.engine_cycles else None,
                      engine_energy_pj=choice.engine_energy_pj[n] if choice.engine_energy_pj else None,
                      disagreement=scored.disagreement if scored is not None else "")
        res = choice.residencies[n]
        out.append(replace(search, best=best, residency=(res.ifmap_on_chip, res.ofmap_kept), options=options,
                           validated=validated))
    return tuple(out)
