"""CANNON's tile mesh: XY routes, the uncontended transfer time, traffic conservation, bandwidth monotonicity,
placement cost, and the option off giving today's numbers."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.crossbar import _upstream_lag, simulate_crossbar_trace
from sim.engine.tile_noc import Mesh, MeshNetwork, placement_cost, refine, simulate_tile_noc
from sim.errors import ConfigError
from sim.hardware.load import load_hardware
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec, TileNocSpec
from sim.mapping.crossbar import map_crossbar_trace
from sim.workload.layer import Layer
from sim.workload.trace import Trace

SMALL = {"crossbar_rows": 16, "crossbar_cols": 16, "weight_bits": 4, "input_bits": 4, "clock_mhz": 1000,
         "read_latency_ns": 10, "adc": AdcSpec(sample_rate_gsps=1.0, cols_per_adc=16), "edram_port_bits": 16,
         "bus_bits": 32, "noc_flit_bits": 16, "crossbars_per_ima": 2, "imas_per_tile": 1, "tiles": 16,
         "tiles_per_router": 1, "chips": "auto", "replicate_layers": False}


def small_hw(noc: dict | None = None, **fields) -> Hardware:
    spec = TileNocSpec(**noc) if noc is not None else TileNocSpec()
    return Hardware(name="small", reram=ReramSpec(**{**SMALL, **fields, "tile_noc": spec}))


def chain(widths=(24, 40, 32, 8), m=6) -> Trace:
    layers = tuple(Layer.gemm_layer(f"fc{i}", m=m, n=n, k=k, ifmap_bits=4, filter_bits=4)
                   for i, (k, n) in enumerate(zip(widths, widths[1:])))
    return Trace(name="chain", layers=layers)


def test_mesh_auto_columns_and_xy_route():
    mesh = Mesh.of(small_hw().reram, chips=2)
    assert (mesh.rows, mesh.cols) == (4, 4)
    route = mesh.route(0, mesh.router_at(2, 3))
    assert route == [(0, 1), (1, 2), (2, 6), (6, 10), (10, 14)]  # X first, then Y
    crossing = mesh.route(mesh.router_at(3, 0), mesh.router_at(4, 0))
    assert len(crossing) == 1 and mesh.is_chip_link(crossing[0])


def test_mesh_columns_must_divide_the_routers(tmp_path):
    root = Path(__file__).resolve().parents[2] / "hw_configs"
    shutil.copytree(root / "energy", tmp_path / "energy")
    text = (root / "cannon.toml").read_text().replace('mesh_cols = "auto"', "mesh_cols = 5")
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(ConfigError, match="mesh_cols") as error:
        load_hardware(tmp_path / "bad.toml")
    assert "divisor of 42" in str(error.value) and "bad.toml" in str(error.value)


@settings(max_examples=60, deadline=None)
@given(src=st.integers(0, 31), dst=st.integers(0, 31), size=st.integers(1, 500), latency=st.integers(0, 5),
       bandwidth=st.sampled_from([1.0, 3.0, 4.0, 7.5]), now=st.integers(0, 100))
def test_uncontended_transfer_takes_hops_times_latency_plus_size_over_bandwidth(src, dst, size, latency, bandwidth,
                                                                                now):
    spec = TileNocSpec(enabled=True, hop_latency_cycles=latency, link_bytes_per_cycle=bandwidth,
                       chip_hop_latency_cycles=latency, chip_link_bytes_per_cycle=bandwidth)
    mesh = Mesh.of(small_hw().reram, chips=2)
    network = MeshNetwork(mesh, spec)
    arrived = network.send(0, src, dst, size, now)
    hops = len(mesh.route(src, dst))
    (x0, y0), (x1, y1) = mesh.xy(src), mesh.xy(dst)
    assert hops == abs(x0 - x1) + abs(y0 - y1)
    expected = now + hops * latency + -(-size // bandwidth) if hops else now
    assert arrived == expected == network.log[-1].uncontended


def test_a_busy_link_delays_the_second_message():
    spec = TileNocSpec(enabled=True, hop_latency_cycles=2, link_bytes_per_cycle=4.0)
    network = MeshNetwork(Mesh.of(small_hw().reram, chips=1), spec)
    first = network.send(0, 0, 1, 40, 0)  # 10 cycles on link (0, 1)
    second = network.send(0, 0, 1, 40, 0)
    assert (first, second) == (2 + 10, 10 + 2 + 10)


def _noc_run(trace, hw):
    run = simulate_crossbar_trace(trace, hw)
    return run, dict(run.metadata)


@pytest.mark.parametrize("placement", ["sequential", "random", "communication_aware"])
def test_bytes_sent_equal_bytes_received_and_links_carry_size_times_hops(placement):
    trace = chain()
    hw = small_hw({"enabled": True, "placement": placement})
    base = simulate_crossbar_trace(trace, small_hw())
    mappings = map_crossbar_trace(trace.layers, hw)
    lags = tuple(_upstream_lag(layer) for layer in trace.layers)
    result = simulate_tile_noc(base.layers, mappings, lags, hw)
    messages = result.run.messages
    assert messages, "the chain's layers sit on several tiles"
    sent = sum(m.size_bytes for m in messages)
    received = sum(m.size_bytes for m in messages if m.arrived <= result.run.makespan)
    assert sent == received == sum(dict(layer.extra)["tile_noc.bytes_sent"] for layer in result.layers)
    assert sum(carried for _, carried, _ in result.run.links) == sum(m.size_bytes * m.hops for m in messages)
    assert all(m.arrived >= m.uncontended >= m.sent for m in messages)


def test_energy_and_latency_land_in_the_layer_records():
    hw = small_hw({"enabled": True}, chips=2)
    run, meta = _noc_run(chain(), hw)
    assert meta["tile_noc.bytes_sent"] == meta["tile_noc.bytes_received"] > 0
    for layer in run.layers:
        extra = dict(layer.extra)
        flit_hops = layer.actions.get("tile_noc.flit_hop")
        assert extra["tile_noc.flit_hops"] == flit_hops
        assert extra["tile_noc.latency_cycles"] >= 0 and extra["tile_noc.contention_cycles"] >= 0
    without = dict(simulate_crossbar_trace(chain(), small_hw(chips=2)).metadata)
    assert meta["pipeline_cycles"] >= without["pipeline_cycles"]


@settings(max_examples=12, deadline=None)
@given(widths=st.lists(st.integers(4, 48), min_size=2, max_size=5), m=st.integers(1, 12),
       bandwidth=st.sampled_from([0.25, 0.5, 1.0, 2.0]), latency=st.integers(0, 4),
       placement=st.sampled_from(["sequential", "random", "communication_aware"]))
def test_doubling_link_bandwidth_never_slows_a_run(widths, m, bandwidth, latency, placement):
    trace = chain(tuple(widths), m=m)
    slow = {"enabled": True, "placement": placement, "link_bytes_per_cycle": bandwidth, "hop_latency_cycles": latency,
            "chip_link_bytes_per_cycle": bandwidth}
    fast = {**slow, "link_bytes_per_cycle": 2 * bandwidth, "chip_link_bytes_per_cycle": 2 * bandwidth}
    _, slow_meta = _noc_run(trace, small_hw(slow))
    _, fast_meta = _noc_run(trace, small_hw(fast))
    assert fast_meta["pipeline_cycles"] <= slow_meta["pipeline_cycles"]


def test_communication_aware_placement_costs_no_more_than_sequential():
    trace = chain((16, 64, 64, 64, 16), m=4)
    costs = {p: _noc_run(trace, small_hw({"enabled": True, "placement": p}))[1]["tile_noc.byte_energy_pj"]
             for p in ("sequential", "random", "communication_aware")}
    assert costs["communication_aware"] <= costs["sequential"]
    assert costs["communication_aware"] <= costs["random"]


def test_option_off_gives_todays_numbers_exactly():
    trace = chain()
    today = simulate_crossbar_trace(trace, small_hw())
    off = simulate_crossbar_trace(trace, small_hw({"enabled": False, "placement": "communication_aware"}))
    assert [layer.to_dict() | {"sim_wall_s": 0} for layer in today.layers] == \
        [layer.to_dict() | {"sim_wall_s": 0} for layer in off.layers]
    assert today.metadata == off.metadata


@settings(max_examples=25, deadline=None)
@given(tiles=st.integers(2, 12), seed=st.integers(0, 1000))
def test_pairwise_exchange_only_lowers_the_cost_and_ends_in_a_local_optimum(tiles, seed):
    rng = np.random.default_rng(seed)
    slots = 12
    xy = np.array([(i % 4, i // 4) for i in range(slots)])
    costs = np.abs(xy[:, None, :] - xy[None, :, :]).sum(-1).astype(float)
    flows = rng.random((tiles, tiles)) * (rng.random((tiles, tiles)) < 0.6)
    np.fill_diagonal(flows, 0.0)
    start = rng.permutation(slots)[:tiles]
    after = refine(start, flows + flows.T, costs, passes=100)
    cost = placement_cost(flows, after, costs)
    assert len(set(after.tolist())) == tiles and cost <= placement_cost(flows, start, costs) + 1e-9
    owner = np.concatenate([after, np.setdiff1d(np.arange(slots), after)])
    padded = np.zeros((slots, slots))
    padded[:tiles, :tiles] = flows
    for a in range(tiles):  # no single exchange (with a tile or a free slot) is cheaper, by brute force
        for b in range(slots):
            moved = owner.copy()
            moved[a], moved[b] = moved[b], moved[a]
            assert placement_cost(padded, moved, costs) >= cost - 1e-6


def test_shipped_cannon_config_runs_through_the_api():
    import sim

    hw = load_hardware(Path(__file__).resolve().parents[2] / "hw_configs" / "cannon.toml")
    layers = tuple(Layer.gemm_layer(f"fc{i}", m=2, n=n, k=k) for i, (k, n) in enumerate([(1024, 512), (512, 256)]))
    run = sim.simulate(Trace(name="mlp", layers=layers), hw)
    meta = dict(run.metadata)
    assert meta["tile_noc.placement"] == "communication_aware" and meta["tile_noc.mesh"] == "1 chips x 6 x 7 routers"
    assert meta["tile_noc.bytes_sent"] == meta["tile_noc.bytes_received"]
    assert all("tile_noc.energy_pj" in dict(layer.extra) for layer in run.layers)
