"""The mapper across layers (sim.mapper.residency_pick): with outputs kept on chip for the next layer, the whole
trace is never worse than the best of os / ws / is run whole, the programme finds the brute-force optimum of its
summed costs, and the mapping file reproduces the numbers through `sim run --mapping`."""
from __future__ import annotations

import itertools
import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sim
from sim.cli import app
from sim.mapper.residency_pick import _programme, _residency_costs
from sim.mapper.search import MapperCache, map_trace, objective_of
from sim.mapping.residency import possible_links, residency_of

ROOT = Path(__file__).parents[3]
TPU = ROOT / "hw_configs" / "tpu_v1_256x256_ws.toml"


@pytest.fixture(scope="module")
def tpu():
    return sim.load_hardware(TPU)


def _part(start: int, count: int = 4):
    trace = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    return replace(trace, layers=trace.layers[start:start + count])


def _whole_objective(run, objective: str) -> float:
    return float(objective_of(objective, sum(layer.cycles for layer in run.layers),
                              sum(layer.energy.total_pj for layer in run.layers)))


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
@pytest.mark.parametrize("start", [1, 5])
def test_whole_trace_with_residency_never_worse_than_the_best_named_dataflow(tpu, objective, start):
    trace = _part(start)
    for top_k, model in ((0, sim.estimate), (1, sim.simulate)):
        result = map_trace(trace, tpu, objective=objective, top_k=top_k, budget=48)
        run = model(trace, tpu, mapping=result.mappings())
        named = [_whole_objective(model(trace, tpu, mapping={layer.name: sim.map_layer(layer, tpu, dataflow=flow)
                                                             for layer in trace.layers}), objective)
                 for flow in ("os", "ws", "is")]
        assert _whole_objective(run, objective) <= min(named) * (1 + 1e-12)
        # The reported numbers are the whole run's (residency included), layer by layer.
        for search, layer in zip(result.layers, run.layers):
            assert (search.best.engine_cycles if top_k else search.best.cycles) == layer.cycles
    assert any(search.residency != (False, False) for search in result.layers)  # outputs did stay on chip


def test_residency_beats_layers_scored_alone_on_the_tpu(tpu):
    trace = _part(5)
    result = map_trace(trace, tpu, top_k=1, budget=48)
    contenders = dict(result.contenders)
    assert result.across_layers == "residency"
    # The per-layer picks run whole may tie (a search's ties go to tensors held whole, which can stay on chip).
    assert contenders["residency"] <= contenders["per_layer"]
    alone = sum(sim.simulate(layer, tpu, mapping=search.best.mapping).layers[0].cycles
                for layer, search in zip(trace.layers, result.layers))
    assert contenders["residency"] < alone  # outputs kept on chip pay off against the same mappings run alone


def test_programme_finds_the_brute_force_optimum_of_its_costs(tpu):
    trace = _part(1)
    result = map_trace(trace, tpu, top_k=0, budget=24)
    options = [[s.best, *[o for o in s.options if o.mapping != s.best.mapping]][:4] for s in result.layers]

    def value(item):
        return item.cycles, item.energy_pj

    for objective in ("latency", "energy"):
        costs = _residency_costs(trace, tpu, options, objective, value)
        linkable, skippable = possible_links(list(trace.layers), tpu)

        def total(picks) -> float:
            maps = [options[i][j].mapping for i, j in enumerate(picks)]
            out = 0.0
            for i, mapping in enumerate(maps):
                res = residency_of(i, linkable, skippable, maps[i - 1] if i else None, mapping,
                                   maps[i + 1] if i + 1 < len(maps) else None)
                out += costs[i][picks[i]][(res.ifmap_on_chip, res.ofmap_kept)]
            return out

        brute = min(total(p) for p in itertools.product(*[range(len(o)) for o in options]))
        assert total(_programme(trace, tpu, options, costs)) == pytest.approx(brute, rel=1e-12)


def test_cli_map_file_reproduces_the_numbers_through_run(tmp_path):
    lines = (ROOT / "traces" / "resnet18.csv").read_text().splitlines()
    body = [line for line in lines if not line.startswith("#")]
    trace_path = tmp_path / "t.csv"
    trace_path.write_text("\n".join([body[0], *body[2:6]]) + "\n")  # layer1.0.conv1 .. layer1.1.conv2
    runner = CliRunner()
    done = runner.invoke(app, ["map", "--hw", str(TPU), "--trace", str(trace_path), "--top-k", "1", "--budget", "48",
                               "--out", str(tmp_path / "m"), "-q"])
    assert done.exit_code == 0, done.output
    report = json.loads((tmp_path / "m" / "map_report.json").read_text())
    ran = runner.invoke(app, ["run", "--hw", str(TPU), "--trace", str(trace_path), "--mapping",
                              str(tmp_path / "m" / "mappings.toml"), "--out", str(tmp_path / "r"), "-q"])
    assert ran.exit_code == 0, ran.output
    run = json.loads((tmp_path / "r" / "report.json").read_text())
    assert [layer["cycles"] for layer in run["layers"]] == [layer["engine_cycles"] for layer in report["layers"]]
    assert [layer["energy_pj"]["total"] for layer in run["layers"]] == pytest.approx(
        [layer["engine_energy_pj"] for layer in report["layers"]], rel=1e-12)
    assert any(layer["residency"] != [False, False] for layer in report["layers"])


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_engine_runs_skipped_and_cached_keep_the_answer(tpu, objective, monkeypatch):
    """Skipping engine runs that cannot win (closed form a lower bound) and sharing runs through the cache give the
    same mappings and numbers as running every candidate and contender fresh."""
    from sim.mapper import search

    trace = _part(1, 6)
    cache = MapperCache()
    map_trace(trace, tpu, objective="latency" if objective != "latency" else "energy", top_k=1, budget=48,
              cache=cache)  # another objective's runs in the cache first
    fast = map_trace(trace, tpu, objective=objective, top_k=1, budget=48, cache=cache)
    monkeypatch.setattr(search, "skip_margin", lambda objective: float("inf"))
    full = map_trace(trace, tpu, objective=objective, top_k=1, budget=48)
    assert fast.mappings() == full.mappings() and fast.across_layers == full.across_layers
    assert [s.best for s in fast.layers] == [s.best for s in full.layers]
    ran = dict(full.contenders)
    for name, value in fast.contenders:  # a contender not run is listed with its closed form, below its engine value
        assert value == ran[name] if name not in fast.contenders_skipped else value <= ran[name] * 1.05
    assert any(s.not_run for s in fast.layers) or fast.contenders_skipped  # something was skipped
    for s in fast.layers:
        best = min(float(objective_of(objective, v.engine_cycles, v.engine_energy_pj)) for v in s.validated)
        for item in s.options:
            if item.engine_cycles is None:  # a baseline not run: its closed form was too far above to win
                assert float(objective_of(objective, item.cycles, item.energy_pj)) > best * search.AGREEMENT + best
