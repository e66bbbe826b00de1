"""Conservation laws of the crossbar counts: reads, conversions and energy, engine == analytical."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.crossbar import estimate_crossbar
from sim.engine.crossbar import simulate_crossbar_layer
from sim.hardware.spec import EnergyEntry, Hardware, ReramSpec
from sim.mapping.crossbar import map_crossbar
from sim.workload.layer import Layer

ENERGY = {key: EnergyEntry(pj=pj, source="test") for key, pj in {
    "crossbar.read": 30.0, "dac.convert": 0.39, "adc.convert": 1.56, "sample_hold.sample": 0.001,
    "shift_add.op": 0.02, "edram.read": 17.0, "edram.write": 17.0, "bus.transfer": 5.8, "router.flit": 8.7,
    "input_register.read": 15.5, "output_register.write": 0.02, "tile_shift_add.op": 0.04}.items()}


@st.composite
def layers_and_hw(draw):
    k = draw(st.sampled_from([1, 1, 2, 4, 8]))
    groups = draw(st.sampled_from([1, 1, 2]))
    channels = k * groups * draw(st.integers(1, 6))
    filters = k * groups * draw(st.integers(1, 6))
    size = draw(st.integers(1, 3))
    deconv = draw(st.sampled_from(["zero_insertion", "pixel_wise"]))
    tconv = k == 1 and draw(st.booleans())  # RED's pixel-wise mapping takes dense transposed convs
    layer = Layer(name="l", kind="tconv" if tconv else "conv", ifmap_h=size + 2, ifmap_w=size + 2,
                  in_channels=channels, out_channels=filters, filter_h=3, filter_w=3, groups=groups, block_size=k,
                  stride_h=2 if tconv else 1, stride_w=2 if tconv else 1)
    rows = draw(st.sampled_from([8, 16, 32]))
    reram = ReramSpec(
        crossbar_rows=rows, crossbar_cols=draw(st.sampled_from([16, 32, 64])),
        cell_bits=draw(st.sampled_from([1, 2, 4])), weight_bits=8, input_bits=8,
        dac_bits=draw(st.sampled_from([1, 2])), signed_inputs=draw(st.booleans()),
        signed_weights=draw(st.sampled_from(["offset", "unit_column", "differential"])),
        slice_placement=draw(st.sampled_from(["adjacent_columns", "separate_crossbars"])),
        block_circulant=draw(st.sampled_from(["expanded", "compressed"])),
        duplication=draw(st.sampled_from([1, "auto"])), adcs_per_ima=draw(st.sampled_from([2, 8])),
        circulant_budget=draw(st.sampled_from(["none", "none", "expanded", 1])),
        intra_layer_pipeline=draw(st.booleans()), deconv=deconv)
    return layer, Hardware(name="t", reram=reram, energy=ENERGY)


@settings(max_examples=40)
@given(layers_and_hw())
def test_reads_and_conversions_follow_the_placement(case):
    layer, hw = case
    m = map_crossbar(layer, hw)
    table = m.placement()  # crossbars enumerated one by one
    reads_per_crossbar = m.vectors * m.input_slices * m.rounds
    assert m.crossbar_reads == reads_per_crossbar * len(table)
    assert m.crossbar_reads == m.vectors * m.input_slices * m.row_partitions * m.col_partitions * m.groups * m.rounds
    assert m.adc_conversions == reads_per_crossbar * int(table[:, 4].sum())  # reads x active columns
    assert m.dac_conversions == reads_per_crossbar * int(table[:, 3].sum())  # reads x active rows
    assert 0 < m.crossbar_utilization <= 1


@settings(max_examples=20)
@given(layers_and_hw())
def test_energy_is_counts_times_table_and_engine_counts_equal_analytical(case):
    layer, hw = case
    analytical = estimate_crossbar(layer, hw)
    engine = simulate_crossbar_layer(layer, hw)
    counts = analytical.actions.as_dict()
    expected = sum(count * hw.energy[key].pj for key, count in counts.items() if key in hw.energy)
    assert analytical.energy.total_pj == pytest.approx(expected)
    assert sum(analytical.energy.as_dict().values()) == pytest.approx(analytical.energy.total_pj)
    without_cycles = lambda r: {k: v for k, v in r.actions.as_dict().items() if k != "leakage.cycle"}
    assert without_cycles(engine) == without_cycles(analytical)
    assert engine.crossbar.adc_conversions == counts["adc.convert"] == counts["sample_hold.sample"]
    assert engine.compute_cycles == analytical.compute_cycles
    assert engine.cycles >= engine.compute_cycles and engine.stall_cycles == engine.cycles - engine.compute_cycles
    assert 0 < engine.utilization <= 1.0 + 1e-9
