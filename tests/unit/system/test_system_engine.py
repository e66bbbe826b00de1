"""Systems of accelerators on one clock: the laws the issue lists, and the errors a user gets."""
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.errors import ConfigError, MappingError
from sim.system.engine import run_system
from sim.system.partition import Partition, Stage, even_pipeline, single
from sim.system.spec import Accelerator, System, load_system, topology_links
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[3]
HW = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
TRACE = sim.load_trace(ROOT / "traces" / "scalesim" / "test.csv")
INF = {"bandwidth_gbytes_per_s": math.inf, "latency_ns": 0.0}


def system(n: int, numbers=None, topology: str = "ring") -> System:
    accelerators = tuple(Accelerator(f"a{i}", HW, HW.pe_array.clock_mhz) for i in range(n))
    links = topology_links(tuple(a.name for a in accelerators), topology, numbers or INF, Path("t.toml")) \
        if numbers is not None or n > 1 else ()
    return System("s", accelerators, links, topology)


@pytest.mark.parametrize("training", [False, True])
def test_one_accelerator_without_links_gives_todays_numbers_exactly(training):
    result = run_system(TRACE, system(1), single(TRACE, "a0"), training=training)
    today = sim.train(TRACE, HW) if training else sim.simulate(TRACE, HW)
    strip = [(layer.name, layer.cycles, layer.compute_cycles, layer.stall_cycles, layer.dram_reads, layer.energy)
             for layer in today.layers]
    ours = [(layer.name, layer.cycles, layer.compute_cycles, layer.stall_cycles, layer.dram_reads, layer.energy)
            for layer in result.runs[0].layers]
    assert ours == strip
    assert result.step_ns == sum(layer.cycles for layer in today.layers) * 1000 / HW.pe_array.clock_mhz
    assert result.accelerators[0].idle_ns == result.accelerators[0].bubble_ns == 0


@pytest.mark.parametrize("n", [2, 4])
def test_data_parallel_with_infinite_links_runs_at_the_per_accelerator_batch(n):
    batch = 2 * n
    result = run_system(TRACE, system(n), Partition("data_parallel", accelerators=system(n).names), batch=batch)
    alone = run_system(TRACE, system(1), single(TRACE, "a0"), batch=batch // n)
    whole = run_system(TRACE, system(1), single(TRACE, "a0"), batch=batch)
    # exactly the time of one accelerator on batch/N; the work (MACs) divides by N exactly
    assert result.step_ns == alone.step_ns
    assert all(a.macs * n == whole.accelerators[0].macs for a in result.accelerators)
    # time is affine in the batch on a systolic array (fold fill), so the speed-up is at most N
    assert whole.step_ns / n <= result.step_ns < whole.step_ns


def test_data_parallel_time_grows_with_the_all_reduce_bytes():
    n = 4
    big = Layer(name="fc", kind="gemm", ifmap_h=16, in_channels=64, out_channels=64, batch=4)
    trace = Trace("one", (big,))
    times = []
    for bandwidth in (math.inf, 8.0, 2.0):
        numbers = {"bandwidth_gbytes_per_s": bandwidth, "latency_ns": 100.0}
        s = system(n, numbers)
        times.append(run_system(trace, s, Partition("data_parallel", accelerators=s.names)).step_ns)
    assert times[0] < times[1] < times[2]
    s = system(n, {"bandwidth_gbytes_per_s": 2.0, "latency_ns": 100.0})
    result = run_system(trace, s, Partition("data_parallel", accelerators=s.names))
    compute = run_system(trace, system(1), single(trace, "a0"), batch=1).step_ns
    # one layer, nothing to overlap: ring all-reduce = 2(N-1) steps of (latency + bytes/N / bandwidth)
    chunk = math.ceil(big.filter_bytes / n)
    assert result.step_ns == pytest.approx(compute + 2 * (n - 1) * (100.0 + chunk / 2.0))
    assert all(link.bytes == 2 * (n - 1) * chunk for link in result.links)


@settings(max_examples=8)
@given(st.integers(2, 4), st.integers(1, 6), st.booleans())
def test_balanced_pipeline_bubble_is_the_closed_form(n, m, training):
    layers = tuple(Layer(name=f"l{i}", ifmap_h=6, ifmap_w=6, in_channels=4, out_channels=4, filter_h=3, filter_w=3,
                         pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, batch=m) for i in range(n))
    trace = Trace("balanced", layers)
    s = system(n)
    result = run_system(trace, s, even_pipeline(trace, s.names, m), training=training)
    for acc in result.accelerators:
        assert (result.step_ns - acc.busy_ns) / result.step_ns == pytest.approx((n - 1) / (m + n - 1), rel=1e-12)
        assert acc.communication_ns == 0


def test_tensor_split_conserves_macs_and_gathers_outputs():
    s = system(2, {"bandwidth_gbytes_per_s": 10.0, "latency_ns": 10.0})
    result = run_system(TRACE, s, Partition("tensor", accelerators=s.names), training=False)
    whole = sim.simulate(TRACE, HW)
    assert sum(a.macs for a in result.accelerators) == sum(layer.macs for layer in whole.layers)
    assert sum(link.bytes for link in result.links) > 0


def test_heterogeneous_pipeline_runs_systolic_and_reram():
    s = load_system(ROOT / "systems" / "hetero_pair.toml")
    trace = Trace("two", (Layer.gemm_layer("a", m=4, k=32, n=32), Layer.gemm_layer("b", m=4, k=32, n=16)))
    partition = Partition("pipeline", (Stage("systolic", ("a",)), Stage("reram", ("b",))))
    result = run_system(trace, s, partition, model="analytical")
    assert [a.name for a in result.accelerators] == ["systolic", "reram"]
    assert any(r.name.endswith("weight_update") for r in result.runs[1].layers)
    assert result.links[0].bytes > 0


# ---------------------------------------------------------------- bad input
def test_unassigned_layer_is_named():
    s = system(2)
    names = [layer.name for layer in TRACE.layers]
    partition = Partition("pipeline", (Stage("a0", tuple(names[:2])), Stage("a1", tuple(names[3:]))))
    with pytest.raises(ConfigError, match=f"layer '{names[2]}' is not assigned"):
        run_system(TRACE, s, partition)


def test_layer_assigned_twice_is_named():
    s = system(2)
    names = [layer.name for layer in TRACE.layers]
    partition = Partition("pipeline", (Stage("a0", tuple(names[:3])), Stage("a1", tuple(names[2:]))))
    with pytest.raises(ConfigError, match=f"layer '{names[2]}' is assigned twice"):
        run_system(TRACE, s, partition)


def test_link_to_a_missing_accelerator_is_refused(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[accelerator]]\nname = "a"\nhw = "scalesim_32x32_ws.toml"\n'
                    '[links]\ntopology = "list"\nbandwidth_gbytes_per_s = 1.0\n[[links.link]]\na = "a"\nb = "ghost"\n')
    with pytest.raises(ConfigError, match="ghost") as err:
        load_system(path)
    assert "s.toml" in str(err.value) and "does not exist" in str(err.value)


def test_layer_an_accelerator_cannot_run_names_layer_accelerator_and_why():
    reram = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")
    s = System("s", (Accelerator("tiny", HW, 1000.0), Accelerator("xbar", reram, 1200.0)))
    wide = Layer.gemm_layer("wide", m=4, k=8, n=8, filter_bits=32)  # ISAAC stores 16-bit weights
    trace = Trace("t", (Layer.gemm_layer("ok", m=4, k=8, n=8), wide))
    partition = Partition("pipeline", (Stage("tiny", ("ok",)), Stage("xbar", ("wide",))))
    with pytest.raises(MappingError, match="layer 'wide' cannot run on accelerator 'xbar' \\(isaac\\): .*wider"):
        run_system(trace, s, partition, training=False)


def test_unknown_topology_lists_the_allowed(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[accelerator]]\nname = "a"\nhw = "scalesim_32x32_ws.toml"\n'
                    '[links]\ntopology = "torus"\nbandwidth_gbytes_per_s = 1.0\n')
    with pytest.raises(ConfigError, match="ring, mesh, switch, list"):
        load_system(path)


@pytest.mark.parametrize("topology, links, hops", [("ring", 4, 2), ("mesh", 4, 2), ("switch", 4, 2)])
def test_topologies_make_their_links_and_shortest_routes(topology, links, hops):
    s = system(4, {"bandwidth_gbytes_per_s": 1.0}, topology)
    assert len(s.links) == links
    route = s.route("a0", "a3" if topology == "mesh" else "a2")
    assert len(route) == hops
    assert route[0][1] == "a0"


def test_transfers_sharing_a_link_direction_wait_for_each_other():
    from sim.system.engine import _Clock

    s = system(3, {"bandwidth_gbytes_per_s": 2.0, "latency_ns": 5.0}, "switch")
    clock = _Clock(s)
    # a0 -> a2 and a1 -> a2 share the switch -> a2 direction; a2 -> a0 runs the other way, undisturbed
    first = clock.transfer("a0", "a2", 100, [], "x")
    second = clock.transfer("a1", "a2", 100, [], "y")
    back = clock.transfer("a2", "a0", 100, [], "z")
    ends = {}
    for name, event in (("first", first), ("second", second), ("back", back)):
        event.callbacks.append(lambda _e, name=name: ends.__setitem__(name, clock.env.now))
    clock.env.run()
    one = 2 * 5.0 + 100 / 2.0
    assert ends == {"first": one, "second": 2 * one, "back": one}


def test_partition_from_the_config_file_runs_and_bad_keys_are_named(tmp_path):
    hw = "scalesim_32x32_ws.toml"  # a shipped config, by name
    names = [layer.name for layer in TRACE.layers]
    head = (f'[[accelerator]]\nname = "a"\nhw = "{hw}"\ncount = 2\n[links]\ntopology = "ring"\n'
            'bandwidth_gbytes_per_s = 10.0\n')
    good = tmp_path / "good.toml"
    good.write_text(head + '[partition]\nkind = "pipeline"\nmicro_batches = 2\n'
                    f'[[partition.stage]]\naccelerator = "a0"\nlayers = {names[:2]!r}\n'
                    f'[[partition.stage]]\naccelerator = "a1"\nlayers = {names[2:]!r}\n'.replace("'", '"'))
    result, search = sim.simulate_system(TRACE, sim.load_system(good), batch=2)
    assert search is None and result.partition.startswith("pipeline a0:2 | a1:")
    bad = tmp_path / "bad.toml"
    bad.write_text(head + '[partition]\nkind = "data_parallel"\nreplicas = 2\n')
    with pytest.raises(ConfigError, match="partition.replicas"):
        sim.simulate_system(TRACE, sim.load_system(bad), batch=2)
