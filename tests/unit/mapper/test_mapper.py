"""The mapper (sim.mapper): brute-force optimum per objective, write -> read -> run identical, never worse than the
named os / ws / is, determinism, the vectorized scoring equal to the one-record model, and bad input."""
import itertools
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import sim
from sim.api import compare as api_compare
from sim.analytical.systolic import estimate_systolic
from sim.cli import app
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import Hardware
from sim.mapper.report import write_map_outputs
from sim.mapper.search import BOUND_GAIN, BOUND_RUNS, MapperCache, map_trace, objective_of, search_layer
from sim.mapper.space import layer_space
from sim.mapping.mapping_file import read_mappings
from sim.mapping.record import CHUNK_ORDERS, OPERANDS
from sim.mapping.systolic import DATAFLOW_NAMES, array_mapping, fit_mapping
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from tests.batch_checks import assert_batch_equals_records

ROOT = Path(__file__).parents[3]
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 20)), n=draw(st.integers(1, 10)),
                                k=draw(st.integers(1, 20)))
    f = draw(st.integers(1, 3))
    return Layer(name="c", ifmap_h=draw(st.integers(f, 6)), ifmap_w=draw(st.integers(f, 6)),
                 in_channels=draw(st.integers(1, 3)), out_channels=draw(st.integers(1, 4)), filter_h=f, filter_w=f,
                 stride_h=draw(st.integers(1, 2)), stride_w=draw(st.integers(1, 2)))


def systolic_hw(rows: int, cols: int, sizes: list[int], bandwidth: float = 4.0) -> Hardware:
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": "ws"},
                    buffers={name: {"size_kb": size / 1024} for name, size in zip(OPERANDS, sizes)},
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 3})


hardware = st.tuples(st.integers(1, 5), st.integers(1, 5),
                     st.lists(st.sampled_from([32, 64, 256, 1 << 20]), min_size=3, max_size=3),
                     st.sampled_from([1.0, 4.0, 64.0]))


def brute_force(layer: Layer, hw: Hardware, objective: str) -> float:
    """Every record of the family the models run (both chunk orders), each through estimate_systolic: the reference
    optimum."""
    best = np.inf
    for flow in DATAFLOW_NAMES:
        temporal = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols).temporal
        for bits in range(8):
            held = tuple(name for i, name in enumerate(OPERANDS) if bits >> i & 1)
            for chunks, order in itertools.product(range(1, max(temporal, 1) + 1), CHUNK_ORDERS):
                if flow == "os" and order != "innermost":
                    continue  # os refuses the other order (no partial sums leave its PEs)
                record = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, chunks=chunks, whole=held,
                                       chunk_order=order)
                try:
                    result = estimate_systolic(layer, hw, record)
                except MappingError:
                    continue
                best = min(best, float(objective_of(objective, result.cycles, result.energy.total_pj)))
    return best


@SETTINGS
@given(layers(), hardware, st.sampled_from(["latency", "energy", "edp"]))
def test_exhaustive_search_returns_the_brute_force_optimum(layer, point, objective):
    hw = systolic_hw(*point)
    assert_exhaustive_search_finds(layer, hw, objective, brute_force(layer, hw, objective))


def assert_exhaustive_search_finds(layer, hw, objective, reference):
    """The exhaustive search's best equals the brute-force optimum `reference` (inf: nothing fits, an error)."""
    if not np.isfinite(reference):
        with pytest.raises(MappingError, match="layer '"):
            search_layer(layer, hw, objective=objective, top_k=0, budget=100_000)
        return
    found = search_layer(layer, hw, objective=objective, top_k=0, budget=100_000)
    assert found.strategy == "exhaustive"
    assert float(objective_of(objective, found.best.cycles, found.best.energy_pj)) == pytest.approx(reference,
                                                                                                   rel=1e-12)


@SETTINGS
@given(layers(), hardware, st.integers(0, 2**31))
def test_batched_scores_equal_the_one_record_model(layer, point, seed):
    hw = systolic_hw(*point)
    try:
        space = layer_space(layer, hw)
    except MappingError:
        return
    batch = space.all()
    if not len(batch):
        return
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(batch), size=min(len(batch), 8))
    assert_batch_equals_records(layer, hw, batch, picks)


def _resnet_part(count: int = 4) -> Trace:
    trace = sim.load_trace(ROOT / "traces" / "resnet18.csv")
    return replace(trace, layers=trace.layers[5:5 + count])


@pytest.fixture(scope="module")
def eyeriss():
    return sim.load_hardware(ROOT / "hw_configs" / "eyeriss_12x14.toml")


def test_written_mapping_read_back_and_run_gives_identical_numbers(tmp_path, eyeriss):
    trace = _resnet_part(3)
    result = map_trace(trace, eyeriss, objective="edp", top_k=1, budget=64)
    mapping_path, _ = write_map_outputs(result, tmp_path)
    records = read_mappings(mapping_path)
    assert records == result.mappings()
    engine = sim.simulate(trace, eyeriss, mapping=records)
    analytical = sim.estimate(trace, eyeriss, mapping=records)
    for search, run, est in zip(result.layers, engine.layers, analytical.layers):
        assert run.cycles == search.best.engine_cycles
        assert run.energy.total_pj == search.best.engine_energy_pj
        assert est.cycles == search.best.cycles


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
def test_never_worse_than_the_best_named_dataflow(eyeriss, objective):
    trace = _resnet_part(3)
    for top_k in (0, 1):
        result = map_trace(trace, eyeriss, objective=objective, top_k=top_k, budget=48)
        for search, layer in zip(result.layers, trace.layers):
            named = dict(search.baselines)
            assert set(named) == {"os", "ws", "is"} or named
            best = search.best
            cycles, energy = ((best.engine_cycles, best.engine_energy_pj) if top_k else (best.cycles, best.energy_pj))
            assert float(objective_of(objective, cycles, energy)) <= min(named.values())
            if top_k == 0:  # the baselines are the models' numbers of the fitted named records
                for flow in named:
                    ref = estimate_systolic(layer, eyeriss, fit_mapping(layer, flow, 12, 14, eyeriss.buffers))
                    assert named[flow] == float(objective_of(objective, ref.cycles, ref.energy.total_pj))


def test_same_seed_same_result_and_the_heuristic_is_used(eyeriss):
    trace = _resnet_part(2)
    first = map_trace(trace, eyeriss, objective="energy", top_k=0, budget=40, seed=7)
    second = map_trace(trace, eyeriss, objective="energy", top_k=0, budget=40, seed=7)
    assert first.mappings() == second.mappings()
    assert [s.evaluated for s in first.layers] == [s.evaluated for s in second.layers]
    assert {s.strategy for s in first.layers} == {"heuristic"}
    assert all(s.evaluated <= 40 for s in first.layers)


def test_cache_reuses_a_search_for_the_same_layer_shape(eyeriss):
    trace = _resnet_part(3)  # layer2.0.conv2 and layer2.1.conv1 have the same shape
    cache = MapperCache()
    result = map_trace(trace, eyeriss, top_k=0, budget=32, cache=cache)
    again = map_trace(trace, eyeriss, top_k=0, budget=32, cache=cache)
    assert all(s.cached for s in again.layers)
    assert again.mappings() == result.mappings()


def test_bad_objective_and_budget_are_config_errors(eyeriss):
    trace = _resnet_part(1)
    with pytest.raises(ConfigError, match="--objective"):
        sim.map(trace, eyeriss, objective="throughput")
    with pytest.raises(ConfigError, match="--budget"):
        sim.map(trace, eyeriss, budget=0)
    with pytest.raises(ConfigError, match="--time"):
        sim.map(trace, eyeriss, time_limit_s=-1)


def test_no_valid_mapping_names_the_layer_and_the_constraint():
    hw = systolic_hw(8, 8, [2, 2, 2])
    layer = Layer.gemm_layer("big_fc", m=64, n=64, k=64)
    with pytest.raises(MappingError, match=r"layer 'big_fc'.*buffers\.\w+\.size_kb"):
        sim.map(layer, hw, top_k=0)


def test_ctrl_c_returns_the_best_so_far_marked_incomplete(tmp_path, eyeriss, monkeypatch):
    import sim.mapper.search as search

    trace = _resnet_part(3)
    real = search.search_layer
    calls = []

    def interrupted(layer, hw, **kwargs):
        calls.append(layer.name)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(layer, hw, **kwargs)

    monkeypatch.setattr(search, "search_layer", interrupted)
    result = search.map_trace(trace, eyeriss, top_k=0, budget=16)
    assert not result.complete and len(result.layers) == 1
    assert result.missing == tuple(layer.name for layer in trace.layers[1:])
    path, _ = write_map_outputs(result, tmp_path)
    assert path.read_text().startswith("# INCOMPLETE")
    records = read_mappings(path)
    assert set(records) == {layer.name for layer in trace.layers}  # the file still runs the whole trace
    assert records[trace.layers[0].name] == result.layers[0].best.mapping
    assert records[trace.layers[1].name] == sim.map_layer(trace.layers[1], eyeriss)


def test_cli_map_writes_a_file_run_reads_back(tmp_path):
    trace_path = tmp_path / "t.csv"
    trace_path.write_text("name,type,ifmap_h,ifmap_w,filter_h,filter_w,channels,num_filter,stride,pad,m,n,k\n"
                          "a,conv,14,14,3,3,16,32,1,1,,,\nb,gemm,,,,,,,,,64,32,128\n")
    hw = ROOT / "hw_configs" / "eyeriss_12x14.toml"
    runner = CliRunner()
    done = runner.invoke(app, ["map", "--hw", str(hw), "--trace", str(trace_path), "--top-k", "1", "--budget", "64",
                               "--out", str(tmp_path / "m"), "-q"])
    assert done.exit_code == 0, done.output
    mapping = tmp_path / "m" / "mappings.toml"
    ran = runner.invoke(app, ["run", "--hw", str(hw), "--trace", str(trace_path), "--mapping", str(mapping),
                              "--out", str(tmp_path / "r"), "-q"])
    assert ran.exit_code == 0, ran.output
    auto = runner.invoke(app, ["run", "--hw", str(hw), "--trace", str(trace_path), "--mapping", "auto", "--analytical",
                               "--out", str(tmp_path / "a"), "-q"])
    assert auto.exit_code == 0, auto.output
    bad = subprocess.run([sys.executable, "-m", "sim", "map", "--hw", str(hw), "--trace", str(trace_path),
                          "--objective", "speed", "--out", str(tmp_path / "bad")], capture_output=True, text=True,
                         cwd=ROOT)
    assert bad.returncode == 2 and "--objective" in bad.stderr + bad.stdout
    assert "Traceback" not in bad.stderr and not (tmp_path / "bad").exists()


def test_mapping_auto_in_compare_agrees_with_the_mapper(eyeriss):
    trace = _resnet_part(2)
    run = sim.estimate(trace, eyeriss, mapping="auto")
    mapped = sim.map(trace, eyeriss, top_k=0)
    assert [layer.cycles for layer in run.layers] == [s.best.cycles for s in mapped.layers]
    # sim.api.compare: once some test imports the module sim.compare, the package attribute is that module.
    comparison = api_compare(trace, eyeriss, mapping="auto")
    assert {row.worst_layer for row in comparison.summary()} <= {layer.name for layer in trace.layers}


def test_sweep_mapping_auto_judges_each_point_by_its_best_mappings(tmp_path):
    import json
    import sqlite3

    import tomli_w

    from sim.sweep import load_sweep_spec, sweep
    from sim.sweep.evaluate import hardware_variant

    (tmp_path / "gemm.csv").write_text("name,type,m,n,k\ng1,gemm,24,20,18\ng2,gemm,9,30,12\n")
    base_path = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(tomli_w.dumps({"sweep": {
        "name": "auto", "trace": "gemm.csv", "hardware": str(base_path), "objectives": ["latency", "energy"],
        "validate": {"engine": "none"}, "parameters": {"pe_array.rows": [4, 12]}}}))
    spec = replace(load_sweep_spec(spec_path), mapping="auto")
    result = sweep(spec, tmp_path / "out", workers=0)
    assert result.ok == 2
    connection = sqlite3.connect(result.database)
    points = connection.execute("SELECT params, cycles FROM points ORDER BY params").fetchall()
    connection.close()
    base = sim.load_hardware(base_path)
    trace = sim.load_trace(tmp_path / "gemm.csv")
    for params, cycles in points:
        hw = hardware_variant(base, json.loads(params))
        auto = sum(layer.cycles for layer in sim.estimate(trace, hw, mapping="auto").layers)
        fixed = min(sum(layer.cycles for layer in sim.estimate(trace, hw, mapping={
            layer.name: sim.map_layer(layer, hw, dataflow=flow) for layer in trace.layers}).layers)
            for flow in ("os", "ws", "is"))
        assert cycles == auto <= fixed


def test_repeated_layer_names_are_refused(eyeriss):
    layer = Layer.gemm_layer("same", m=8, n=8, k=8)
    with pytest.raises(MappingError, match="repeats a name"):
        sim.map(Trace(name="t", layers=(layer, layer)), eyeriss, top_k=0)


def test_chunk_order_is_searched_and_engine_validated():
    # Partial sums kept on chip (chunks outside the row folds) win here: the batched scorer and the engine see it.
    hw = systolic_hw(4, 4, [64, 256, 64])
    layer = Layer.gemm_layer("g", m=16, n=8, k=64)
    space = layer_space(layer, hw)
    assert "symmetry" in dict(space.pruned) and any(f.outside for f in space.families)
    assert not any(f.outside and DATAFLOW_NAMES[f.dataflow] == "os" for f in space.families)
    found = search_layer(layer, hw, top_k=1, budget=100_000)
    assert found.best.mapping.chunk_order == "outside_row_folds"
    assert found.best.engine_cycles is not None
    inner = search_layer(layer, hw, top_k=0, budget=100_000)
    innermost = min(o.cycles for o in inner.options if o.mapping.chunk_order == "innermost")
    assert inner.best.cycles < innermost


def fill_hw(rows: int, cols: int, sizes: list[int], register_bytes: int, bandwidth: float,
            psum_bytes: int = 4) -> Hardware:
    """Per-PE registers for filter and ifmap (so ws and is may hold several row folds per fill) and for partial sums
    (`psum_bytes`: runs of T per stationary read), one buffer per operand, DRAM."""
    levels = [{"name": "rf_w", "kind": "register_file", "operands": ["filter"], "size_bytes": register_bytes,
               "instances": rows * cols, "word_bytes": 1},
              {"name": "rf_i", "kind": "register_file", "operands": ["ifmap"], "size_bytes": register_bytes,
               "instances": rows * cols, "word_bytes": 1},
              {"name": "rf_p", "kind": "register_file", "operands": ["ofmap"], "size_bytes": psum_bytes,
               "instances": rows * cols, "word_bytes": 1}]
    levels += [{"name": f"{name}_buf", "kind": "global_buffer", "operands": [name], "size_bytes": size,
                "word_bytes": 2} for name, size in zip(OPERANDS, sizes)]
    levels.append({"name": "dram", "kind": "dram", "operands": list(OPERANDS),
                   "bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 3})
    energy = {"mac": {"pj": 0.5, "source": "test"}, "dram.read_byte": {"pj": 100.0, "source": "test"},
              "dram.write_byte": {"pj": 110.0, "source": "test"}}
    for index, level in enumerate(levels[:-1]):
        for action in ("read", "write"):
            energy[f"{level['name']}.{action}"] = {"pj": 1.0 + index + (action == "write"), "source": "test"}
    return Hardware(name="f", pe_array={"rows": rows, "cols": cols, "dataflow": "ws"},
                    dram={"bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 3}, memory=levels, energy=energy)


def every_record(layer: Layer, hw: Hardware, with_runs: bool = False):
    """(whole flags, estimate_systolic result) of every record with every F in 1..row folds on ws / is (both chunk
    orders) that maps; `with_runs`: also every u (streamed elements per stationary read: 1 .. what the psum register
    holds, up to the longest chunk) on ws / is."""
    from sim.analytical.levels import max_streamed_per_stationary_read

    most = max_streamed_per_stationary_read(layer, hw)[0] if with_runs else 1
    for flow in DATAFLOW_NAMES:
        base = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols)
        for fill in range(1, (base.row_folds if flow != "os" else 1) + 1):
            for bits in range(8):
                held = tuple(name for i, name in enumerate(OPERANDS) if bits >> i & 1)
                for chunks, order in itertools.product(range(1, max(base.temporal, 1) + 1), CHUNK_ORDERS):
                    if flow == "os" and order != "innermost":
                        continue
                    for run in range(1, (min(most, -(-base.temporal // chunks)) if flow != "os" else 1) + 1):
                        record = array_mapping(layer, flow, hw.pe_array.rows, hw.pe_array.cols, chunks=chunks,
                                               whole=held, chunk_order=order, row_folds_per_fill=fill,
                                               streamed_per_stationary_read=run)
                        try:
                            result = estimate_systolic(layer, hw, record)
                        except MappingError:
                            continue
                        yield held, result


def brute_force_fills(layer: Layer, hw: Hardware, objective: str) -> float:
    """The best objective over every_record."""
    return min((float(objective_of(objective, result.cycles, result.energy.total_pj))
                for _, result in every_record(layer, hw)), default=np.inf)


fill_points = st.tuples(st.integers(1, 4), st.integers(1, 4),
                        st.lists(st.sampled_from([64, 256, 1 << 20]), min_size=3, max_size=3),
                        st.sampled_from([1, 3, 64]), st.sampled_from([1.0, 64.0]))


@SETTINGS
@given(layers(), fill_points, st.sampled_from(["latency", "energy", "edp"]))
def test_row_folds_per_fill_search_returns_the_brute_force_optimum(layer, point, objective):
    hw = fill_hw(*point)
    assert_exhaustive_search_finds(layer, hw, objective, brute_force_fills(layer, hw, objective))


@SETTINGS
@given(layers(), fill_points, st.integers(0, 2**31))
def test_batched_fill_scores_equal_the_one_record_model(layer, point, seed):
    hw = fill_hw(*point)
    try:
        batch = layer_space(layer, hw).all()
    except MappingError:
        return
    if not len(batch):
        return
    picks = np.random.default_rng(seed).integers(0, len(batch), size=min(len(batch), 8))
    assert_batch_equals_records(layer, hw, batch, picks)


def brute_force_runs(layer: Layer, hw: Hardware, objective: str) -> float:
    """The best objective over every_record with every u."""
    return min((float(objective_of(objective, result.cycles, result.energy.total_pj))
                for _, result in every_record(layer, hw, with_runs=True)), default=np.inf)


@st.composite
def small_layers(draw):
    return Layer.gemm_layer("g", m=draw(st.integers(1, 6)), n=draw(st.integers(1, 5)), k=draw(st.integers(1, 6)))


run_points = st.tuples(st.integers(1, 3), st.integers(1, 3),
                       st.lists(st.sampled_from([64, 1 << 20]), min_size=3, max_size=3),
                       st.sampled_from([1, 3]), st.sampled_from([1.0, 64.0]), st.sampled_from([4, 8, 16]))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_layers(), run_points, st.sampled_from(["latency", "energy", "edp"]))
def test_streamed_per_stationary_read_search_returns_the_brute_force_optimum(layer, point, objective):
    hw = fill_hw(*point)
    assert_exhaustive_search_finds(layer, hw, objective, brute_force_runs(layer, hw, objective))


def test_streamed_per_stationary_read_is_searched_written_read_back_and_run_identically(tmp_path):
    # eyeriss_like's 16 B psum register holds 4 partial sums of 32 bits: for energy the mapper reads each weight
    # once per run of 4 output pixels, the engine validates it, and the mapping file carries u back.
    hw = sim.load_hardware(ROOT / "hw_configs" / "zigzag_eyeriss_like.toml")
    layer = Layer.gemm_layer("fc", m=49, n=64, k=96)
    trace = Trace(name="t", layers=(layer,))
    result = map_trace(trace, hw, objective="energy", top_k=2)
    best = result.layers[0].best
    assert best.mapping.streamed_per_stationary_read == 4 and best.engine_cycles is not None
    today = estimate_systolic(layer, hw, replace(best.mapping, levels=array_mapping(
        layer, best.mapping.dataflow, hw.pe_array.rows, hw.pe_array.cols, chunks=best.mapping.chunks,
        whole=best.mapping.whole, chunk_order=best.mapping.chunk_order,
        row_folds_per_fill=best.mapping.row_folds_per_fill).levels))
    assert best.energy_pj < today.energy.total_pj and best.cycles == today.cycles
    mapping_path, _ = write_map_outputs(result, tmp_path)
    records = read_mappings(mapping_path)
    assert records == result.mappings()
    run = sim.simulate(trace, hw, mapping=records).layers[0]
    assert run.cycles == best.engine_cycles and run.energy.total_pj == best.engine_energy_pj


def test_row_folds_per_fill_is_searched_written_read_back_and_run_identically(tmp_path):
    # tpu_like's 128 B weight register holds several row folds: for energy the mapper picks F > 1 on a deep-K layer, the
    # engine validates it, and the mapping file carries F back to the same numbers.
    hw = sim.load_hardware(ROOT / "hw_configs" / "zigzag_tpu_like.toml")
    layer = Layer.gemm_layer("deep", m=64, n=32, k=32 * 12, ofmap_bits=8)
    trace = Trace(name="t", layers=(layer,))
    space = layer_space(layer, hw)
    assert {f.fill for f in space.families} == {1, 2, 3, 4, 6, 12}  # the distinct fill counts of 12 row folds
    result = map_trace(trace, hw, objective="energy", top_k=2)
    best = result.layers[0].best
    assert best.mapping.row_folds_per_fill > 1 and best.engine_cycles is not None
    batch = space.all()
    values = batch.estimate(layer, hw)
    today = values["energy_pj"][values["valid"] & (batch.fill == 1)]
    assert best.energy_pj < today.min()  # F beats every F = 1 mapping here (partial sums stay in the PEs longer)
    mapping_path, _ = write_map_outputs(result, tmp_path)
    records = read_mappings(mapping_path)
    assert records == result.mappings()
    run = sim.simulate(trace, hw, mapping=records).layers[0]
    assert run.cycles == best.engine_cycles and run.energy.total_pj == best.engine_energy_pj
    assert sim.estimate(trace, hw, mapping=records).layers[0].cycles == best.cycles


def tied_optimum(layer: Layer, hw: Hardware, objective: str):
    """Brute force (every record through estimate_systolic): the best objective, the best other metric among the
    records at it (cycles for energy and edp, energy for latency), and which whole flags those records can have."""
    rows = []
    for held, result in every_record(layer, hw):
        other = result.energy.total_pj if objective == "latency" else result.cycles
        rows.append((float(objective_of(objective, result.cycles, result.energy.total_pj)), float(other), held))
    if not rows:
        return None
    best = min(r[0] for r in rows)
    tied = [r for r in rows if r[0] <= best * (1 + 1e-12)]
    other = min(r[1] for r in tied)
    return best, other, [r[2] for r in tied if r[1] <= other * (1 + 1e-12)]


@SETTINGS
@given(layers(), fill_points, st.sampled_from(["latency", "energy", "edp"]))
def test_ties_on_the_objective_go_to_the_other_metric_then_to_tensors_held_whole(layer, point, objective):
    # Energy does not see the chunk count and cycles often not the whole flags: among equal objectives the search
    # takes the fewer cycles (the lower energy for latency), then a held ofmap / ifmap, which only can stay on chip
    # across layers (sim.mapper.residency_pick).
    hw = fill_hw(*point)
    reference = tied_optimum(layer, hw, objective)
    if reference is None:
        return
    best, other, held = reference
    found = search_layer(layer, hw, objective=objective, top_k=0, budget=100_000).best
    found_other = found.energy_pj if objective == "latency" else found.cycles
    assert float(objective_of(objective, found.cycles, found.energy_pj)) == pytest.approx(best, rel=1e-12)
    assert found_other == pytest.approx(other, rel=1e-12)
    assert ("ofmap" in found.mapping.whole) == any("ofmap" in h for h in held)
    same_ofmap = [h for h in held if ("ofmap" in h) == ("ofmap" in found.mapping.whole)]
    assert ("ifmap" in found.mapping.whole) == any("ifmap" in h for h in same_ofmap)


def one_tiling_at_a_time_counter(layer: Layer):
    """A footprint counter whose batched counts (os chunkings of K, ws chunkings of M, is row extents) are made one
    tiling at a time by its per-tiling count: the reference for the batched footprints."""
    from sim.mapping.footprint import FootprintCounter, footprint_counter

    counter = footprint_counter(layer)

    def sums(tilings):
        blocks = [counter(m_edges, k_edges) for m_edges, k_edges in tilings]
        return (np.array([int(b.sum()) for b in blocks], dtype=np.int64),
                np.array([int(b[0, 0]) for b in blocks], dtype=np.int64))

    def steps(extent, step):
        return np.append(np.arange(0, extent, step, dtype=np.int64), extent)

    return FootprintCounter(
        counter.count,
        lambda m_edges, k, chunks: sums([(m_edges, (k * np.arange(c + 1)) // c) for c in np.asarray(chunks).tolist()]),
        lambda k_edges, m, chunks, **_: sums([((m * np.arange(c + 1)) // c, k_edges)
                                              for c in np.asarray(chunks).tolist()]),
        lambda m_edges, k, extents: sums([(m_edges, steps(k, s)) for s in np.asarray(extents).tolist()]))


@st.composite
def wide_convs(draw):
    """Strided, dilated, large-window, grouped convolutions with enough ofmap rows for the batched ws counts."""
    f_h, f_w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dilation = draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    smallest = dilation * (max(f_h, f_w) - 1) + 6  # the dilated window and a few ofmap rows
    size = draw(st.integers(smallest, smallest + 10))
    pad = draw(st.integers(0, dilation * (min(f_h, f_w) - 1)))
    return Layer(name="w", ifmap_h=size, ifmap_w=size, in_channels=groups * draw(st.integers(1, 3)),
                 out_channels=groups * draw(st.integers(1, 3)), filter_h=f_h, filter_w=f_w,
                 stride_h=draw(st.integers(1, 3)), stride_w=draw(st.integers(1, 3)), pad_top=pad, pad_bottom=pad,
                 pad_left=pad, pad_right=pad, dilation_h=dilation, dilation_w=dilation, groups=groups)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(wide_convs(), fill_points)
def test_batched_footprints_score_the_whole_space_as_one_tiling_at_a_time(layer, point):
    """Every candidate of the space (os, ws, is; every chunking and fill) scores identically with the batched
    footprint counts and with the counts made one tiling at a time."""
    from sim.analytical import systolic

    hw = fill_hw(*point)
    try:
        batch = layer_space(layer, hw).all()
    except MappingError:
        return

    def score():
        return batch.estimate(layer, hw)

    batched = score()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(systolic, "footprint_counter", one_tiling_at_a_time_counter)
        reference = score()
    assert set(batched) == set(reference)
    for key, value in batched.items():
        assert np.array_equal(value, reference[key]), key


@SETTINGS
@given(layers(), fill_points, st.sampled_from(["latency", "energy", "edp"]))
def test_candidates_below_the_best_engine_number_are_run_and_never_make_the_pick_worse(layer, point, objective):
    """Beyond the top-k, the search runs up to BOUND_RUNS more candidates whose closed form (a lower bound of the
    engine) is below the top-k's best engine objective by more than BOUND_GAIN, one per closed-form value: the pick
    is never worse than without them, and each extra one could still have won when it was run."""
    hw = fill_hw(*point)
    try:
        with mock.patch("sim.mapper.search.BOUND_RUNS", 0):
            plain = search_layer(layer, hw, objective=objective, top_k=1)
    except MappingError:
        return
    bounded = search_layer(layer, hw, objective=objective, top_k=1)

    def engine(item):
        return float(objective_of(objective, item.engine_cycles, item.engine_energy_pj))

    def closed_form(item):
        return float(objective_of(objective, item.cycles, item.energy_pj))

    bound = min(engine(item) for item in plain.validated)
    before = {item.mapping for item in plain.validated}
    extra = [item for item in bounded.validated if item.mapping not in before]
    assert len(extra) <= BOUND_RUNS
    assert all(closed_form(item) < bound * (1 - BOUND_GAIN) for item in extra)
    values = [closed_form(item) for item in (*plain.validated, *extra)]
    assert len({closed_form(item) for item in extra}) == len(extra)
    assert not {closed_form(item) for item in extra} & set(values[:len(plain.validated)])
    assert engine(bounded.best) <= engine(plain.best)


def test_a_closed_form_near_tie_the_engine_runs_faster_is_found_eyeriss_layer4_conv():
    """ZigZag's eyeriss_like ResNet-18 layer4.0.conv2 at its precisions (docs/zigzag.md "Latency, per layer"): the
    closed form ranks 49 chunks of T (710,298 cycles) 14 cycles ahead of one chunk (710,312), but the engine runs the
    49 chunks' 21,756 steps in 738,239 cycles (27,941 of them ofmap stalls between steps) and the one chunk in 710,306.
    With top-1 validation the search still finds the one chunk (ZigZag: 730,767)."""
    hw = sim.load_hardware(ROOT / "hw_configs" / "zigzag_eyeriss_like.toml")
    layer = next(layer for layer in sim.load_trace(ROOT / "traces" / "resnet18.csv").layers
                 if layer.name == "layer4.0.conv2")
    layer = replace(layer, ifmap_bits=8, filter_bits=8, ofmap_bits=8, psum_bits=0)
    found = search_layer(layer, hw, objective="latency", top_k=1)
    assert found.best.engine_cycles == 710_306
    assert found.best.mapping.chunks == 1
    with mock.patch("sim.mapper.search.BOUND_RUNS", 0):
        assert search_layer(layer, hw, objective="latency", top_k=1).best.engine_cycles == 738_239
