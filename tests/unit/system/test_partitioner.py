"""The partitioner: optimal cut points (vs brute force), the best beats the naive split, predictions hold."""
import itertools
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim
from sim.errors import ConfigError
from sim.system.engine import run_system
from sim.system.partition import even_pipeline
from sim.system.partitioner import _best_cuts, search_partitions
from sim.system.spec import Accelerator, System, topology_links
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[3]
HW = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")


@given(st.integers(1, 4).flatmap(lambda s: st.tuples(
    st.just(s), st.lists(st.lists(st.integers(1, 50), min_size=7, max_size=7), min_size=s, max_size=s))),
    st.integers(0, 3))
def test_best_cuts_minimise_the_slowest_stage_like_brute_force(stages_costs, drop):
    stages, costs = stages_costs
    n = 7 - drop
    costs = [[float(c) for c in row[:n]] for row in costs]
    if n < stages:
        return
    slowest, ends = _best_cuts(costs, stages)
    brute = math.inf
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = (0, *cuts, n)
        brute = min(brute, max(sum(costs[s][bounds[s]:bounds[s + 1]]) for s in range(stages)))
    assert slowest == brute
    assert ends[-1] == n and all(a < b for a, b in zip([0] + ends[:-1], ends))


def _trace() -> Trace:
    shapes = [(16, 8, 16), (16, 16, 32), (8, 32, 64), (8, 64, 64), (4, 64, 128), (4, 128, 10)]
    return Trace("net", tuple(Layer(name=f"c{i}", ifmap_h=h, ifmap_w=h, in_channels=c, out_channels=o, filter_h=3,
                                    filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, batch=4)
                              for i, (h, c, o) in enumerate(shapes)))


def test_best_partition_is_no_slower_than_the_naive_even_split_and_prediction_holds():
    accelerators = tuple(Accelerator(f"a{i}", HW, 1000.0) for i in range(2))
    links = topology_links(("a0", "a1"), "ring", {"bandwidth_gbytes_per_s": 50.0, "latency_ns": 100.0},
                           Path("t.toml"))
    system = System("pair", accelerators, links, "ring")
    search = search_partitions(_trace(), system, validate=True)
    naive = run_system(_trace(), system, even_pipeline(_trace(), system.names), training=True)
    assert search.validated.step_ns <= naive.step_ns
    # the analytical prediction vs the engine run of the same partition
    assert search.validated.step_ns == pytest.approx(search.best.step_ns, rel=0.25)
    assert search.candidates[0] == search.best


def test_mixed_pipeline_gives_the_faster_chip_more_layers():
    fast = Accelerator("fast", HW, 4000.0)
    slow = Accelerator("slow", HW, 500.0)
    links = topology_links(("fast", "slow"), "list", {"bandwidth_gbytes_per_s": math.inf},
                           Path("t.toml"), [{"a": "fast", "b": "slow"}])
    search = search_partitions(_trace(), System("mixed", (fast, slow), links), kinds=("pipeline",), validate=False)
    layers = {stage.accelerator: len(stage.layers) for stage in search.best.partition.stages}
    assert layers["fast"] > layers["slow"]


def test_unknown_objective_lists_the_allowed():
    system = System("one", (Accelerator("a", HW, 1000.0),))
    with pytest.raises(ConfigError, match="step_time, energy, balance"):
        search_partitions(_trace(), system, objective="speed")


def test_mixed_data_parallel_gives_the_faster_chip_more_images():
    fast = Accelerator("fast", HW, 4000.0)
    slow = Accelerator("slow", HW, 500.0)
    links = topology_links(("fast", "slow"), "ring", {"bandwidth_gbytes_per_s": math.inf}, Path("t.toml"))
    search = search_partitions(_trace(), System("mixed", (fast, slow), links, "ring"), kinds=("data_parallel",),
                               validate=False)
    shares = dict(zip(search.best.partition.accelerators, search.best.partition.shares))
    assert shares["fast"] > shares["slow"] and sum(shares.values()) == 4


@pytest.mark.parametrize("objective, key", [("energy", "energy_pj"), ("balance", "balance"),
                                            ("step_time", "step_ns")])
def test_the_best_candidate_is_the_minimum_of_its_objective(objective, key):
    accelerators = tuple(Accelerator(f"a{i}", HW, 1000.0) for i in range(2))
    links = topology_links(("a0", "a1"), "ring", {"bandwidth_gbytes_per_s": 10.0, "latency_ns": 100.0,
                                                  "energy_pj_per_byte": 5.0}, Path("t.toml"))
    search = search_partitions(_trace(), System("pair", accelerators, links, "ring"), objective=objective,
                               validate=False)
    assert getattr(search.best, key) == min(getattr(c, key) for c in search.candidates)


@pytest.mark.parametrize("training", [False, True])
def test_pipeline_prediction_equals_the_analytical_system_run_on_a_mixed_pair(training):
    # a ReRAM chip's board (chips = "auto") and replicas depend on the layers of its stage, so the partitioner
    # prices each stage on its own trace, as the system engine runs it (and its crossbar writes once per step)
    isaac = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")
    accelerators = (Accelerator("sys", HW, 1000.0), Accelerator("isaac", isaac, isaac.reram.clock_mhz))
    links = topology_links(("sys", "isaac"), "list", {"bandwidth_gbytes_per_s": math.inf}, Path("t.toml"),
                           [{"a": "sys", "b": "isaac"}])
    system = System("mixed", accelerators, links)
    search = search_partitions(_trace(), system, kinds=("pipeline",), validate=False, training=training)
    assert {tuple(s.accelerator for s in c.partition.stages) for c in search.candidates} == {
        ("sys", "isaac"), ("isaac", "sys")}
    for candidate in search.candidates:
        run = run_system(_trace(), system, candidate.partition, training=training, model="analytical")
        assert candidate.step_ns == pytest.approx(run.step_ns, rel=1e-9)
        assert candidate.energy_pj == pytest.approx(run.energy_pj, rel=1e-9)
