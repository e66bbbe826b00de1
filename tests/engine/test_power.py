"""Power over time and space: the trace integrates to the run's dynamic energy, the region maps sum to it, the
opt-in log leaves the run's numbers alone, and the window / region arithmetic."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.engine.power import PowerTrace, dynamic_energy_pj, fold_region_shares, parse_grid, simulate_power, spread
from sim.engine.simulate import simulate_trace
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import Hardware
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ENERGY = {
    "mac": {"pj": 0.2, "source": "test"},
    "ifmap_sram.read": {"pj": 1.0, "source": "test"},
    "filter_sram.read": {"pj": 1.1, "source": "test"},
    "ofmap_sram.read": {"pj": 1.2, "source": "test"},
    "ofmap_sram.write": {"pj": 1.5, "source": "test"},
    "ifmap_sram.write": {"pj": 1.3, "source": "test"},
    "filter_sram.write": {"pj": 1.4, "source": "test"},
    "dram.read_byte": {"pj": 20.0, "source": "test"},
    "dram.write_byte": {"pj": 25.0, "source": "test"},
    "leakage.cycle": {"pj": 3.0, "source": "test"},
}


def make_hw(rows=4, cols=4, dataflow="ws", bandwidth=8.0, size_kb=1.0, latency=5):
    sram = {"size_kb": size_kb, "double_buffered": True}
    return Hardware(name="test", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow},
                    buffers={"ifmap": sram, "filter": sram, "ofmap": sram},
                    dram={"model": "bandwidth", "bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": latency},
                    energy=ENERGY)


@st.composite
def layers(draw):
    if draw(st.booleans()):
        return Layer.gemm_layer("g", m=draw(st.integers(1, 20)), n=draw(st.integers(1, 12)), k=draw(st.integers(1, 20)))
    size = draw(st.integers(3, 8))
    return Layer(name="c", ifmap_h=size, ifmap_w=size, in_channels=draw(st.integers(1, 4)),
                 out_channels=draw(st.integers(1, 6)), filter_h=3, filter_w=3, stride_h=draw(st.integers(1, 2)),
                 stride_w=1, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)


@settings(max_examples=40, deadline=None)
@given(trace_layers=st.lists(layers(), min_size=1, max_size=3), rows=st.integers(2, 6), cols=st.integers(2, 6),
       dataflow=st.sampled_from(["os", "ws", "is"]), bandwidth=st.sampled_from([1.0, 8.0, math.inf]),
       window=st.sampled_from([1, 7, 64, 1024]), data=st.data())
def test_trace_integrates_to_dynamic_energy_and_regions_sum_to_it(trace_layers, rows, cols, dataflow, bandwidth,
                                                                  window, data):
    grid = (data.draw(st.integers(1, rows)), data.draw(st.integers(1, cols)))
    hw = make_hw(rows, cols, dataflow, bandwidth, latency=0 if math.isinf(bandwidth) else 5)
    trace = Trace(name="t", layers=tuple(trace_layers))
    try:
        run, power = simulate_power(trace, hw, grid=grid, window_cycles=window)
    except MappingError:
        assume(False)
    dynamic = dynamic_energy_pj(run)
    assert power.chip_pj.sum() == pytest.approx(dynamic, rel=1e-12)
    maps = power.region_map_pj().sum() + power.sram_pj.sum() + power.dram_pj.sum()
    assert maps == pytest.approx(dynamic, rel=1e-12)
    mac_energy = sum(layer.actions.get("mac") for layer in run.layers) * ENERGY["mac"]["pj"]
    assert power.region_pj.sum() == pytest.approx(mac_energy, rel=1e-12)
    assert (power.chip_pj >= -1e-9).all()
    # the opt-in log changes nothing in the run's records
    plain = simulate_trace(trace, hw, window_cycles=window)
    assert [r.to_dict() | {"sim_wall_s": 0} for r in plain.layers] == \
        [r.to_dict() | {"sim_wall_s": 0} for r in run.layers]


def test_spread_splits_an_interval_by_overlap_and_keeps_a_point_whole():
    out = spread(np.array([5, 12]), np.array([15, 12]), np.array([10.0, 4.0]), windows=3, window=10)
    assert out.tolist() == [5.0, 9.0, 0.0]  # 5 of 10 cycles in window 0, 5 in window 1; the point in window 1
    weighted = spread(np.array([0]), np.array([20]), np.array([8.0]), windows=2, window=10,
                      weights=np.array([[0.25, 0.75]]))
    assert weighted.tolist() == [[1.0, 3.0], [1.0, 3.0]]


def test_fold_region_shares_follow_the_occupied_pes():
    used = np.array([[4, 4], [2, 4], [1, 1]])
    shares = fold_region_shares(used, rows=4, cols=4, grid=(2, 2))
    assert shares.tolist() == [[0.25, 0.25, 0.25, 0.25], [0.5, 0.5, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]


def test_peak_and_largest_step():
    power = PowerTrace(window_cycles=1000, clock_mhz=1000.0, grid_rows=1, grid_cols=1, array_rows=1, array_cols=1,
                       region_pj=np.array([[100.0], [400.0], [250.0]]), sram_pj=np.zeros(3), dram_pj=np.zeros(3))
    assert power.chip_mw.tolist() == [0.1, 0.4, 0.25]  # pJ per 1000 ns
    assert power.peak_mw == 0.4 and power.largest_step_mw == pytest.approx(0.3)


def test_grid_errors_name_the_field():
    with pytest.raises(ConfigError, match="--power-grid"):
        parse_grid("4by4")
    with pytest.raises(ConfigError, match="power.grid"):
        simulate_power(Trace(name="t", layers=(Layer.gemm_layer("g", m=2, n=2, k=2),)), make_hw(), grid=(5, 1))


def test_zero_skipping_tconvs_draw_the_power_of_their_phases():
    tconv = Layer(name="up", kind="tconv", ifmap_h=4, ifmap_w=4, in_channels=4, out_channels=4, filter_h=4,
                  filter_w=4, stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)
    hw = make_hw()
    skipping = hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"deconv": "zero_skipping"})})
    run, power = simulate_power(Trace(name="t", layers=(tconv,)), skipping, grid=(2, 2), window_cycles=16)
    assert [layer.name for layer in run.layers] == ["up"] and dict(run.layers[0].extra)["deconv.phases"] == 4
    assert power.chip_pj.sum() == pytest.approx(dynamic_energy_pj(run), rel=1e-12)
    _, inserted = simulate_power(Trace(name="t", layers=(tconv,)), hw, grid=(2, 2), window_cycles=16)
    assert power.dynamic_energy_pj < inserted.dynamic_energy_pj
