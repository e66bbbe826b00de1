"""The engine with the command-level DRAM (`ddr`): stalls, bandwidth monotonicity, per-command energy, the
request log, and the engine's per-request path against the full controller."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.clock import CountingEnvironment
from sim.engine.ddr import DdrDram
from sim.engine.dram import DramRequest, make_dram
from sim.engine.dram_replay import replay
from sim.engine.simulate import simulate_layer, simulate_trace
from sim.hardware.load import load_hardware
from sim.workload.dram_trace import DramTrace, engine_requests_trace
from sim.workload.layer import Layer
from sim.workload.trace import Trace

from tests.e2e.test_cli import ROOT

HW = load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4_cmd.toml")


def slower(hw, factor):
    """The same DRAM with every DRAM clock cycle `factor` times longer: 1/factor of the bandwidth."""
    device = hw.dram.device
    return hw.model_copy(update={"dram": hw.dram.model_copy(update={
        "device": device.model_copy(update={"tck_ns": device.tck_ns * factor})})})


layers = st.builds(
    lambda size, cin, cout, k: Layer(name="c", ifmap_h=size, ifmap_w=size, in_channels=cin, out_channels=cout,
                                     filter_h=k, filter_w=k),
    st.integers(4, 24), st.integers(1, 48), st.integers(1, 96), st.sampled_from([1, 3]))


@settings(deadline=None, max_examples=15)
@given(layers)
def test_stalls_are_never_negative_and_halving_the_bandwidth_never_reduces_cycles(layer):
    fast = simulate_layer(layer, HW)
    slow = simulate_layer(layer, slower(HW, 2))
    assert fast.stall_cycles >= 0 and slow.stall_cycles >= 0
    assert slow.cycles >= fast.cycles


def test_dram_energy_is_priced_per_command_and_layers_add_up():
    trace = Trace(name="t", layers=tuple(Layer(name=f"l{i}", ifmap_h=14, ifmap_w=14, in_channels=32, out_channels=64,
                                               filter_h=3, filter_w=3) for i in range(3)))
    run = simulate_trace(trace, HW)
    env = CountingEnvironment()
    dram = make_dram(env, HW.dram, clock_mhz=HW.pe_array.clock_mhz)
    for layer in run.layers:
        energy = dict(layer.energy.by_component)
        assert energy["dram"] > 0
        assert "dram.commands" in dict(layer.energy.provenance)
    assert isinstance(dram, DdrDram)
    hits = sum(dict(layer.extra)["dram.row_hits"] for layer in run.layers)
    misses = sum(dict(layer.extra)["dram.row_misses"] for layer in run.layers)
    moved = sum(dict(layer.extra)["dram.read_bytes"] + dict(layer.extra)["dram.write_bytes"] for layer in run.layers)
    assert hits + misses >= moved // 64  # one transaction per started 64 B of each request


def test_issue_calls_back_when_the_request_is_done():
    env = CountingEnvironment()
    dram = make_dram(env, HW.dram, clock_mhz=1000.0)
    seen = []
    dram.issue(DramRequest("read", 0, 64, "ifmap"), lambda _call: seen.append(env.now))
    env.run()
    d = HW.dram.device
    assert seen == [int(np.ceil((d.rcd_tck + d.cl_tck + d.bl_tck) * d.tck_ns - 1e-9))]


def test_the_request_log_holds_every_request_in_issue_order():
    layer = Layer(name="c", ifmap_h=16, ifmap_w=16, in_channels=16, out_channels=32, filter_h=3, filter_w=3)
    log = []
    run = simulate_trace(Trace(name="t", layers=(layer,)), HW, dram_requests=log)
    extra = dict(run.layers[0].extra)
    assert sum(size for _, kind, _, size, _ in log if kind == "read") == extra["dram.read_bytes"]
    assert sum(size for _, kind, _, size, _ in log if kind == "write") == extra["dram.write_bytes"]
    assert [cycle for cycle, *_ in log] == sorted(cycle for cycle, *_ in log)
    trace = engine_requests_trace(log, HW.pe_array.clock_mhz)
    assert len(trace) == len(log) and set(trace.operand) <= {"ifmap", "filter", "ofmap"}


@pytest.mark.slow
def test_engine_requests_served_one_at_a_time_stay_within_10_percent_of_the_full_controller():
    resnet = [Layer(name="conv1", ifmap_h=56, ifmap_w=56, in_channels=64, out_channels=64, filter_h=3, filter_w=3),
              Layer(name="conv2", ifmap_h=28, ifmap_w=28, in_channels=128, out_channels=128, filter_h=3, filter_w=3)]
    log = []
    simulate_trace(Trace(name="t", layers=tuple(resnet)), HW, dram_requests=log)
    trace = engine_requests_trace(log, HW.pe_array.clock_mhz)
    offered = DramTrace("t", np.zeros(len(trace)), trace.write, trace.address, trace.size_bytes)
    full = replay(offered, HW.dram).total_ns
    env = CountingEnvironment()
    dram = DdrDram(env, HW.dram)
    for i in range(len(offered)):
        dram.serve("write" if offered.write[i] else "read", int(offered.address[i]), int(offered.size_bytes[i]))
    engine_way = dram.controller.end_tck * HW.dram.device.tck_ns
    assert abs(engine_way / full - 1) < 0.10


# Engine requests: (cycles since the previous one, write?, tile index, size in bytes); tiles of an operand region.
engine_requests = st.lists(st.tuples(st.integers(0, 400), st.booleans(), st.integers(0, 64),
                                     st.integers(1, 16384)), min_size=1, max_size=25)


def served(spec, requests, share=True):
    """Issue `requests` to a `ddr` DRAM on the engine's clock, sharing the channel (or each request after the
    earlier ones); (completion cycle per request, the model)."""
    env = CountingEnvironment()
    dram = DdrDram(env, spec)
    finish = [None] * len(requests)
    cycle = 0
    for i, (gap, write, tile, size) in enumerate(requests):
        cycle += gap
        region = (2 if write else i % 2) << 40  # ofmap writes, ifmap / filter reads: the engine's operand regions

        def issue(_call, i=i, write=write, address=region + tile * 16384, size=size):
            kind = "write" if write else "read"
            if share:
                dram.request_call(kind, address, size, None, lambda _done: finish.__setitem__(i, env.now))
            else:
                finish[i] = dram.serve(kind, address, size)

        env.call_at(cycle, issue)
    env.run()
    return finish, dram


@settings(deadline=None, max_examples=40)
@given(engine_requests)
def test_shared_requests_conserve_transactions_and_bytes(requests):
    finish, dram = served(HW.dram, requests)
    tb = HW.dram.device.transaction_bytes
    transactions = sum(-(-size // tb) for *_rest, size in requests)  # tiles start on transaction boundaries
    assert None not in finish
    assert dram.controller.transactions == transactions
    assert dram.stats.moved_bytes == transactions * tb
    assert dram.stats.read_bytes + dram.stats.write_bytes == sum(size for *_rest, size in requests)
    assert dram.controller.counts[:, 2:4].sum() == transactions  # one RD or WR each


@settings(deadline=None, max_examples=40)
@given(engine_requests)
def test_shared_requests_are_deterministic_and_keep_the_work_of_serving_them_one_after_another(requests):
    finish, dram = served(HW.dram, requests)
    again, _ = served(HW.dram, requests)
    assert finish == again
    one_by_one, _ = served(HW.dram, requests, share=False)
    d = HW.dram.device
    # The same busy stretches: the last completion moves by at most a read's or write's latency (and rounding).
    slack = int(np.ceil(max(d.cl_tck, d.cwl_tck + d.wr_tck) + d.bl_tck) * d.tck_ns) + 2
    assert abs(max(finish) - max(one_by_one)) <= slack


@pytest.mark.parametrize("field", ["banks_per_group", "channels"])
@settings(deadline=None, max_examples=25)
@given(requests=engine_requests)
def test_more_banks_or_channels_never_slow_shared_requests(field, requests):
    device = HW.dram.device
    wider = HW.dram.model_copy(update={"device": device.model_copy(update={field: getattr(device, field) * 2})})
    base, _ = served(HW.dram, requests)
    more, _ = served(wider, requests)
    assert max(more) <= max(base)


def test_a_short_read_issued_behind_a_long_write_shares_the_channel_instead_of_waiting_for_it():
    write_then_read = [(0, True, 0, 32768), (0, False, 1, 2048)]
    finish, _ = served(HW.dram, write_then_read)
    read_alone, _ = served(HW.dram, [(0, False, 1, 2048)])
    write_alone, _ = served(HW.dram, [(0, True, 0, 32768)])
    assert finish[1] < write_alone[0]  # done long before the write, which it would otherwise have waited for
    assert finish[1] <= 2 * read_alone[0] + 2
    assert finish[0] >= write_alone[0]
