"""Schedule realism (issue 12 item 4), first piece: a layer fetches only the ifmap elements it reads. An ifmap held
whole is its read set, not its tensor: a stride larger than the (dilated) filter skips rows and columns, which
neither the engine nor the closed form fetches; both agree, and equal a brute-force count of the elements read."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import estimate_systolic, estimate_systolic_grid
from sim.engine.simulate import simulate_layer
from sim.hardware.spec import Hardware
from sim.mapping.footprint import ifmap_read_elements
from sim.mapping.operands import ifmap_matrix
from sim.workload.layer import Layer


def large_buffers(dataflow: str = "ws") -> Hardware:
    return Hardware(name="t", pe_array={"rows": 4, "cols": 4, "dataflow": dataflow},
                    buffers={name: {"size_kb": 1024} for name in ("ifmap", "filter", "ofmap")},
                    dram={"bandwidth_bytes_per_cycle": 8.0, "latency_cycles": 2})


def read_by_brute_force(layer: Layer) -> int:
    """Distinct stored ifmap elements any im2col entry names (ids > 0; 0 marks padding and inserted zeros)."""
    ids = np.arange(1, layer.ifmap_elements + 1, dtype=np.int64).reshape(
        layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)
    matrix = ifmap_matrix(layer, ids)
    return int(np.unique(matrix[matrix > 0]).size)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 2), st.integers(3, 9), st.integers(1, 3),
       st.sampled_from(["os", "ws", "is"]), st.sampled_from([1, 2]))
def test_a_whole_ifmap_is_its_read_set_in_engine_and_closed_form(filter_size, stride, dilation, size, channels,
                                                                 dataflow, groups):
    span = dilation * (filter_size - 1) + 1
    if span > size:
        return
    layer = Layer(name="c", ifmap_h=size, ifmap_w=size + 1, in_channels=channels * groups, out_channels=2 * groups,
                  filter_h=filter_size, filter_w=filter_size, stride_h=stride, stride_w=stride,
                  dilation_h=dilation, dilation_w=dilation, groups=groups)
    hw = large_buffers(dataflow)
    read = read_by_brute_force(layer)
    assert ifmap_read_elements(layer) == read <= layer.ifmap_elements
    engine, model = simulate_layer(layer, hw), estimate_systolic(layer, hw)
    assert engine.dram_reads.ifmap == model.dram_reads.ifmap == read
    assert engine.sram_writes.ifmap == model.sram_writes.ifmap == read  # the fills
    grid = estimate_systolic_grid(layer, np.array([4]), np.array([4]), dataflow, ifmap_kb=1024, filter_kb=1024,
                                  ofmap_kb=1024, bandwidth_bytes_per_cycle=8.0, latency_cycles=2)
    assert int(grid["dram_ifmap_reads"][0]) == read and int(grid["cycles"][0]) == model.cycles


def test_a_stride_2_downsample_fetches_a_quarter_of_its_input():
    # ResNet-18's layer2.0.downsample: 1x1, stride 2, 56x56x64 -> 28x28x128 (the issue's 201 kB example, 8-bit).
    layer = Layer(name="layer2.0.downsample", ifmap_h=56, ifmap_w=56, in_channels=64, out_channels=128,
                  stride_h=2, stride_w=2)
    hw = Hardware(name="t", pe_array={"rows": 32, "cols": 32, "dataflow": "ws"},
                  buffers={name: {"size_kb": 512} for name in ("ifmap", "filter", "ofmap")},
                  dram={"bandwidth_bytes_per_cycle": 16.0})
    engine, model = simulate_layer(layer, hw), estimate_systolic(layer, hw)
    assert layer.ifmap_elements == 200704
    assert engine.dram_reads.ifmap == model.dram_reads.ifmap == 200704 // 4
