"""Zero-skipping transposed convolutions on systolic arrays: the stride phases give the zero-insertion path's
outputs exactly, do exactly the on-grid work, and the option off leaves today's numbers alone."""
import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.engine.deconv import zero_skipping_ofmap
from sim.engine.simulate import simulate_trace
from sim.errors import MappingError, TraceError
from sim.hardware.spec import Hardware
from sim.kernels.systolic_fast import run_layer_functional
from sim.mapping.deconv import tconv_phases
from sim.mapping.operands import random_operands, reference_ofmap
from sim.mapping.systolic import map_systolic
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ENERGY = {"mac": {"pj": 0.2, "source": "test"}, "ifmap_sram.read": {"pj": 1.0, "source": "test"},
          "dram.read_byte": {"pj": 20.0, "source": "test"}}


def make_hw(rows=4, cols=4, dataflow="ws", deconv="zero_insertion", size_kb=64.0, bandwidth=math.inf):
    sram = {"size_kb": size_kb, "double_buffered": True}
    return Hardware(name="test", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow, "deconv": deconv},
                    buffers={"ifmap": sram, "filter": sram, "ofmap": sram},
                    dram={"model": "bandwidth", "bandwidth_bytes_per_cycle": bandwidth, "latency_cycles": 0},
                    energy=ENERGY)


@st.composite
def tconvs(draw):
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    span = [d * (k - 1) for d, k in zip(dilation, kernel)]
    pads = [draw(st.integers(0, s)) for s in (span[0], span[0], span[1], span[1])]
    out_pad = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation)]
    groups = draw(st.sampled_from([1, 2]))
    try:
        return Layer(name="t", kind="tconv", ifmap_h=draw(st.integers(1, 5)), ifmap_w=draw(st.integers(1, 5)),
                     in_channels=groups * draw(st.integers(1, 3)), out_channels=groups * draw(st.integers(1, 3)),
                     filter_h=kernel[0], filter_w=kernel[1], stride_h=stride[0], stride_w=stride[1],
                     dilation_h=dilation[0], dilation_w=dilation[1], pad_top=pads[0], pad_bottom=pads[1],
                     pad_left=pads[2], pad_right=pads[3], output_padding_h=out_pad[0], output_padding_w=out_pad[1],
                     groups=groups, batch=draw(st.integers(1, 2)), ifmap_bits=6, filter_bits=6)
    except TraceError:
        assume(False)


def on_grid_work(layer: Layer) -> int:
    """MACs of the phases, counted by brute force: per axis, (output, tap) pairs whose zero-inserted input position
    is on the stride grid, in phases that reach some real input."""
    total = []
    for size, out, kernel, stride, dilation, pad in (
            (layer.ifmap_h, layer.ofmap_h, layer.filter_h, layer.stride_h, layer.dilation_h, layer.pad_top),
            (layer.ifmap_w, layer.ofmap_w, layer.filter_w, layer.stride_w, layer.dilation_w, layer.pad_left)):
        top = dilation * (kernel - 1) - pad
        count = 0
        for phase in range(stride):
            pairs = [(p, (p + r * dilation - top) // stride) for p in range(phase, out, stride)
                     for r in range(kernel) if (p + r * dilation - top) % stride == 0]
            if any(0 <= i < size for _, i in pairs):
                count += len(pairs)
        total.append(count)
    return layer.batch * total[0] * total[1] * (layer.in_channels // layer.groups) * layer.out_channels


@settings(max_examples=80, deadline=None)
@given(layer=tconvs(), seed=st.integers(0, 50), dataflow=st.sampled_from(["os", "ws", "is"]))
def test_zero_skipping_outputs_equal_the_zero_insertion_path_and_do_the_on_grid_work(layer, seed, dataflow):
    hw = make_hw(dataflow=dataflow, deconv="zero_skipping")
    ifmap, filters = random_operands(layer, seed)
    inserted, _ = run_layer_functional(layer, map_systolic(layer, hw), ifmap, filters)
    try:
        skipped, _ = zero_skipping_ofmap(layer, hw, ifmap, filters)
    except MappingError:
        assert not tconv_phases(layer)  # only when no phase reaches a real input
        assert not reference_ofmap(layer, ifmap, filters).any()
        return
    assert np.array_equal(skipped, inserted)
    assert np.array_equal(skipped, reference_ofmap(layer, ifmap, filters))
    work = sum(p.layer.macs for p in tconv_phases(layer))
    assert work == on_grid_work(layer)
    assert work <= layer.macs


def small_trace() -> Trace:
    return Trace(name="gen", layers=(
        Layer(name="up1", kind="tconv", ifmap_h=4, ifmap_w=4, in_channels=8, out_channels=4, filter_h=4, filter_w=4,
              stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1),
        Layer(name="conv", kind="conv", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=4, filter_h=3, filter_w=3,
              pad_top=1, pad_bottom=1, pad_left=1, pad_right=1),
        Layer(name="up2", kind="tconv", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=2, filter_h=4, filter_w=4,
              stride_h=2, stride_w=2, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1)))


def strip(run):
    return [r.to_dict() | {"sim_wall_s": 0} for r in run.layers]


def test_option_off_gives_todays_numbers_and_on_one_record_per_layer():
    trace = small_trace()
    today = simulate_trace(trace, make_hw(size_kb=1.0, bandwidth=4.0))
    assert strip(today) == strip(simulate_trace(trace, make_hw(size_kb=1.0, bandwidth=4.0, deconv="zero_insertion")))
    skipping = simulate_trace(trace, make_hw(size_kb=1.0, bandwidth=4.0, deconv="zero_skipping"))
    assert [r.name for r in skipping.layers] == ["up1", "conv", "up2"]
    assert strip(skipping)[1]["macs"] == strip(today)[1]["macs"]
    for before, after, layer in zip(today.layers, skipping.layers, trace.layers):
        if layer.kind == "tconv":
            extra = dict(after.extra)
            assert after.macs * 4 == before.macs  # stride 2 x 2, a 4 x 4 kernel: every phase takes 2 x 2 taps
            assert extra["deconv.phases"] == 4 and extra["deconv.skipped_macs"] == before.macs - after.macs
            assert after.cycles < before.cycles and after.energy.total_pj < before.energy.total_pj
    assert len(dict(skipping.metadata)["bandwidth_windows"]) == 3


def test_engine_equals_closed_form_under_ideal_memory_with_zero_skipping():
    from sim import api

    hw = make_hw(deconv="zero_skipping")
    engine = simulate_trace(small_trace(), hw)
    analytical = api.estimate(small_trace(), hw)
    for e, a in zip(engine.layers, analytical.layers):
        assert (e.cycles, e.compute_cycles, e.macs, e.sram_reads, e.sram_writes) == \
            (a.cycles, a.compute_cycles, a.macs, a.sram_reads, a.sram_writes)


def test_functional_engine_run_checks_every_phase():
    run = simulate_trace(small_trace(), make_hw(deconv="zero_skipping"), functional=True, seed=3)
    assert all(r.functional is not None and r.functional.max_abs_error == 0 for r in run.layers)


def test_non_tconv_is_refused():
    with pytest.raises(MappingError, match="tconv"):
        tconv_phases(Layer.gemm_layer("g", m=2, n=2, k=2))
