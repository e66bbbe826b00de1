"""Exact timelines of tiny layers, worked out by hand: when each fold starts, what it waited for, when the
last ofmap byte reaches DRAM. DRAM: 1 byte per cycle, 1-byte bursts, no latency; native fold cycles."""
import pytest

from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Marker
from sim.engine.dram import make_dram
from sim.engine.simulate import simulate_layer
from sim.hardware.spec import DramSpec, Hardware
from sim.workload.layer import Layer


def tiny_hw(input_bytes, ofmap_bytes, double_buffered=True):
    def sram(size):
        return {"size_kb": size / 1024, "double_buffered": double_buffered}

    return Hardware(name="tiny", pe_array={"rows": 2, "cols": 2, "dataflow": "ws"},
                    buffers={"ifmap": sram(input_bytes), "filter": sram(input_bytes), "ofmap": sram(ofmap_bytes)},
                    dram={"bandwidth_bytes_per_cycle": 1, "burst_bytes": 1, "latency_cycles": 0})


def timeline(result):
    extra = dict(result.extra)
    return (result.cycles, result.compute_cycles, extra["prefetch_cycles"], extra["pe_array.stall_cycles.ifmap"],
            extra["pe_array.stall_cycles.filter"], extra["drain_cycles"])


def test_one_fold_waits_for_both_inputs_then_drains():
    # ifmap 0-4, filter 4-8, fold 8-14 (2+2+2+2-2 cycles), 16-byte ofmap drain 14-30.
    result = simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=2), tiny_hw(64, 64))
    assert timeline(result) == (30, 6, 8, 4, 4, 16)


def test_double_buffering_prefetches_the_next_fold_during_compute():
    # Two row folds (K=4). ifmap0 0-4, filter0 4-8, ifmap1 8-12, filter1 12-16 (second halves free);
    # fold0 8-14, fold1 waits for filter1 until 16, runs 16-22; ofmap drain 22-38.
    result = simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=4), tiny_hw(8, 32))
    assert timeline(result) == (38, 12, 8, 4, 6, 16)


def test_single_buffer_fetches_the_next_fold_only_after_compute():
    # ifmap1 waits for fold0 to free the only slot at 14: 14-18, filter1 18-22, fold1 22-28, drain 28-44.
    result = simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=4), tiny_hw(4, 16, double_buffered=False))
    assert timeline(result) == (44, 12, 8, 4 + 4, 4 + 4, 16)


def test_buffer_log_shows_slots_gate_fills():
    """(who, event, when) log of a one-slot buffer: the second fill starts at the release."""
    env = CountingEnvironment()
    dram = make_dram(env, DramSpec(bandwidth_bytes_per_cycle=1, burst_bytes=1))
    buffer = Buffer(env, "ifmap", 1, 8, dram)
    ready = {tile: Marker() for tile in ("a", "b")}
    log = []

    def prefetch(tiles):
        if tiles:
            tile, rest = tiles[0], tiles[1:]

            def filled():
                log.append(("buffer", f"filled {tile}", env.now))
                prefetch(rest)

            buffer.fill(tile, 4, 0, None, ready[tile], filled)

    def consumer():
        for tile in ("a", "b"):
            arrived = env.event()
            ready[tile].then(arrived.succeed)
            yield arrived
            log.append(("pe", f"start {tile}", env.now))
            yield env.timeout(10)
            buffer.release(tile)
            log.append(("pe", f"release {tile}", env.now))

    prefetch(("a", "b"))
    env.process(consumer())
    env.run()
    # The fill marks the tile ready before it goes on; the release hands the slot to the waiting fill at once.
    assert log == [("buffer", "filled a", 4), ("pe", "start a", 4), ("pe", "release a", 14),
                   ("buffer", "filled b", 18), ("pe", "start b", 18), ("pe", "release b", 28)]
    assert buffer.stats.peak_occupancy_elements == 4 and buffer.stats.filled_bytes == 8


def test_slots_grant_in_request_order_at_once():
    """Three requesters on a one-slot buffer: the first gets the free slot when it asks, the release hands it to
    the oldest queued one in the same cycle, the third waits for a release that never comes."""
    env = CountingEnvironment()
    buffer = Buffer(env, "ifmap", 1, 8, make_dram(env, DramSpec(bandwidth_bytes_per_cycle=1, burst_bytes=1)))
    log = []

    def holder():
        yield env.timeout(1)
        buffer.request(lambda: log.append(("first", env.now)))
        buffer.request(lambda: log.append(("second", env.now)))
        buffer.request(lambda: log.append(("third", env.now)))
        yield env.timeout(5)
        buffer._occupy("x", 0)
        buffer.release("x")
        log.append(("released", env.now))

    env.process(holder())
    env.run()
    assert log == [("first", 1), ("second", 6), ("released", 6)]
    # Process start, two timeouts and the process end: handing a slot over takes no event.
    assert env.events_processed == 4


def test_functional_check_runs_when_asked():
    hw = tiny_hw(64, 64)
    result = simulate_layer(Layer.gemm_layer("g", m=3, n=2, k=3), hw, functional=True, seed=3)
    assert result.functional is not None and result.functional.max_abs_error == 0


def test_non_systolic_hardware_is_rejected():
    hw = Hardware(name="x", reram={})
    from sim.errors import MappingError

    with pytest.raises(MappingError, match="no systolic array"):
        simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=2), hw)


def test_scalesim_convention_matches_its_total_cycles():
    hw = tiny_hw(64, 64)
    hw = hw.model_copy(update={
        "pe_array": hw.pe_array.model_copy(update={"cycle_convention": "scalesim"}),
        "dram": hw.dram.model_copy(update={"bandwidth_bytes_per_cycle": float("inf")}),
    })
    result = simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=4), hw)
    assert result.cycles == result.compute_cycles == 2 * (2 * 2 + 2 + 2 - 2) - 1


def test_progress_bar_and_overlap_run_a_trace():
    from sim.engine.simulate import simulate_trace
    from sim.workload.trace import Trace

    layer = Layer.gemm_layer("g", m=2, n=2, k=4)
    run = simulate_trace(Trace("t", (layer, layer)), tiny_hw(8, 32), progress=True, overlap_weight_prefetch=True)
    assert [r.name for r in run.layers] == ["g", "g"] and run.model == "engine"
    assert all(r.cycles >= r.compute_cycles for r in run.layers)


@pytest.mark.parametrize("window", [0, -5, 2.5])
def test_a_bad_bandwidth_window_is_a_config_error(window):
    from sim.errors import ConfigError

    with pytest.raises(ConfigError, match="window_cycles: .*positive whole number"):
        simulate_layer(Layer.gemm_layer("g", m=2, n=2, k=2), tiny_hw(64, 64), window_cycles=window)
