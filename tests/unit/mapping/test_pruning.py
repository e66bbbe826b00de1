"""TinyADC: column-segment magnitude pruning, the ADC bits formula, exact outputs when the bits suffice."""
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.crossbar import estimate_crossbar
from sim.analytical.tinyadc import adc_cost, tinyadc_saving
from sim.energy.area import chip_budget
from sim.engine.crossbar import simulate_crossbar_layer
from sim.errors import ConfigError, MappingError
from sim.hardware.load import load_hardware
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec
from sim.kernels.crossbar import crossbar_mvm
from sim.mapping.crossbar import BitSlicing, map_crossbar
from sim.mapping.pruning import adc_bits_per_column, prune_column_segments, segment_nonzero, tinyadc_bits
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[3]


def segments_of(w, rows):
    return [w[s:s + rows] for s in range(0, w.shape[0], rows)]


@settings(max_examples=60, deadline=None)
@given(k=st.integers(1, 200), n=st.integers(1, 12), rows=st.sampled_from([4, 8, 16, 128]),
       keep=st.integers(1, 128), seed=st.integers(0, 2**16))
def test_pruning_keeps_the_largest_magnitudes_of_every_column_segment(k, n, rows, keep, seed):
    rng = np.random.default_rng(seed)
    weights = rng.integers(-128, 128, size=(k, n)) * (rng.random((k, n)) < 0.8)
    pruned = prune_column_segments(weights, rows, keep)
    assert pruned.shape == weights.shape
    assert np.all((pruned == 0) | (pruned == weights))  # kept weights are untouched
    before, after = segment_nonzero(weights, rows), segment_nonzero(pruned, rows)
    assert np.array_equal(after, np.minimum(before, keep))
    for original, kept in zip(segments_of(weights, rows), segments_of(pruned, rows)):
        dropped = np.where(kept == 0, np.abs(original), 0).max(axis=0, initial=0)
        top = np.iinfo(np.int64).max
        smallest_kept = np.where(kept != 0, np.abs(kept), top).min(axis=0, initial=top)
        assert np.all(smallest_kept >= dropped)


@given(n=st.integers(1, 4096), dac=st.integers(1, 4), cell=st.integers(1, 4))
def test_bits_formula_and_every_halving_saves_one_bit(n, dac, cell):
    unit = (2**dac - 1) * (2**cell - 1)
    assert tinyadc_bits(n, dac, cell) == math.ceil(math.log2(n * unit + 1))
    if n % 2 == 0 and n & (n - 1) == 0 and unit & (unit + 1) == 0:  # n and unit + 1 powers of two
        assert tinyadc_bits(n, dac, cell) == tinyadc_bits(n // 2, dac, cell) + 1
    assert [tinyadc_bits(x, 1, 2) for x in (128, 64, 32, 16)] == [9, 8, 7, 6]  # reference notes §4 (ISAAC cell)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 160), n=st.integers(1, 10), rows=st.sampled_from([8, 16, 32, 64]),
       keep_log=st.integers(0, 5), cell=st.sampled_from([1, 2, 4]), dac=st.sampled_from([1, 2]),
       policy=st.sampled_from(["full_scale", "granular"]), flip=st.booleans(), seed=st.integers(0, 2**16))
def test_pruned_weights_need_exactly_the_formula_bits_and_are_exact_with_them(k, n, rows, keep_log, cell, dac, policy,
                                                                              flip, seed):
    keep = min(2**keep_log, rows)
    rng = np.random.default_rng(seed)
    weights = rng.integers(1, 128, size=(k, n)) * rng.choice([-1, 1], size=(k, n))  # dense: no zero weight
    pruned = prune_column_segments(weights, rows, keep)
    bits = tinyadc_bits(keep, dac, cell)
    longest = min(rows, k)
    # every column's fullest segment holds min(n, its rows) non-zero weights: the formula at that count
    assert np.all(adc_bits_per_column(pruned, rows, dac, cell) == tinyadc_bits(min(keep, longest), dac, cell))
    slicing = BitSlicing(crossbar_rows=rows, rows_per_partition=rows, cell_bits=cell, weight_bits=8, input_bits=8,
                         dac_bits=dac, signed_inputs=True, signed_weights="differential", adc_bits=bits,
                         range_policy=policy, column_flip=flip, nonzero_rows=keep)
    assert slicing.full_scale_bits <= bits  # the flip's half-scale bound can be the lower one for dense segments
    assert slicing.full_scale_bits == bits or (flip and 2 * keep > rows)
    inputs = rng.integers(-128, 128, size=(5, k))
    out = crossbar_mvm(pruned, inputs, slicing)
    assert out.output_error == 0.0
    assert int(out.required_bits.max(initial=0)) <= bits  # the kernel's digit-sum need never exceeds it


def test_one_bit_fewer_than_the_formula_loses_the_worst_case():
    rows, keep = 32, 8
    weights = np.full((rows, 4), 127)  # magnitude 127: three 2-bit digits of 3 in every kept cell
    pruned = prune_column_segments(weights, rows, keep)
    inputs = np.full((1, rows), 127)  # every magnitude bit 1
    base = dict(crossbar_rows=rows, rows_per_partition=rows, cell_bits=2, weight_bits=8, input_bits=8, dac_bits=1,
                signed_inputs=True, signed_weights="differential", range_policy="granular", nonzero_rows=keep)
    enough = BitSlicing(adc_bits=tinyadc_bits(keep, 1, 2), **base)
    short = BitSlicing(adc_bits=tinyadc_bits(keep, 1, 2) - 1, **base)
    assert crossbar_mvm(pruned, inputs, enough).output_error == 0.0
    assert crossbar_mvm(pruned, inputs, short).output_error > 0.0


def test_per_crossbar_sizing_takes_the_largest_column_of_each_crossbar():
    weights = np.zeros((16, 5), dtype=np.int64)
    for column, count in enumerate([1, 4, 2, 8, 3]):
        weights[:count, column] = 5
    per_column = adc_bits_per_column(weights, 16, 1, 2)
    assert per_column.tolist() == [tinyadc_bits(c, 1, 2) for c in [1, 4, 2, 8, 3]]
    per_crossbar = adc_bits_per_column(weights, 16, 1, 2, sizing="crossbar", outputs_per_crossbar=2)
    assert per_crossbar.tolist() == [4, 4, 5, 5, 4]
    with pytest.raises(MappingError, match="column, crossbar"):
        adc_bits_per_column(weights, 16, 1, 2, sizing="chip")


def tinyadc_hw(**fields) -> Hardware:
    adc = AdcSpec(bits="lossless", column_flip=True, energy_law="exponential", area_law="exponential")
    return load_hardware(ROOT / "hw_configs" / "isaac.toml").model_copy(update={"reram": ReramSpec(
        **{"signed_weights": "differential", "adc": adc, "chips": "auto", **fields})})


def test_the_mapping_sizes_the_adc_from_n_and_the_engine_run_is_exact():
    layer = Layer(name="c", ifmap_h=6, ifmap_w=6, in_channels=64, out_channels=16, filter_h=3, filter_w=3)
    for n, bits in ((None, 8), (64, 8), (32, 7), (16, 6), (4, 4)):
        hw = tinyadc_hw(prune_nonzero=n)
        assert map_crossbar(layer, hw).adc_bits_configured == bits
        result = simulate_crossbar_layer(layer, hw, functional=True, seed=4)
        assert result.crossbar.output_error == 0.0 and result.crossbar.adc_bits_configured == bits
        if n is not None:
            extra = dict(result.extra)
            assert extra["adc_bits_per_crossbar_mean"] == extra["adc_bits_per_column_mean"] == bits
    plain, pruned = estimate_crossbar(layer, tinyadc_hw()), estimate_crossbar(layer, tinyadc_hw(prune_nonzero=16))
    assert plain.energy.as_dict()["adc"] == pytest.approx(4 * pruned.energy.as_dict()["adc"])  # x2 per bit, 2 bits
    assert plain.cycles == pruned.cycles


def test_adc_power_and_area_follow_the_bits_law():
    hw = tinyadc_hw()
    full, small = chip_budget(hw, adc_bits=8), chip_budget(hw, adc_bits=6)
    adc_area = lambda b: dict(b.area_by_component_mm2)["ima.adc"]
    adc_power = lambda b: dict(b.power_by_action_mw)["adc.convert"]
    assert adc_area(full) == pytest.approx(4 * adc_area(small))
    assert adc_power(full) == pytest.approx(4 * adc_power(small))
    assert chip_budget(hw).chip_mw == full.chip_mw  # the table entry is at the reference 8 bits
    trace = Trace("t", (Layer(name="c", ifmap_h=6, ifmap_w=6, in_channels=64, out_channels=16, filter_h=3,
                              filter_w=3),))
    saving = tinyadc_saving(trace, hw, 16)
    assert saving.adc_power_reduction == pytest.approx(4.0) and saving.adc_area_reduction == pytest.approx(4.0)
    assert 1.0 < saving.energy_reduction < 4.0
    assert adc_cost(trace, hw).adc_bits == (8,)


def test_pruning_needs_zero_cells_and_dense_blocks(tmp_path):
    path = tmp_path / "hw.toml"
    path.write_text('name = "x"\n[reram]\nprune_nonzero = 16\n')
    with pytest.raises(ConfigError, match="differential"):
        load_hardware(path)
    with pytest.raises(MappingError, match="block-circulant"):
        map_crossbar(Layer.gemm_layer("bc", m=1, n=16, k=16, block_size=8), tinyadc_hw(prune_nonzero=4))
    with pytest.raises(ConfigError, match="differential"):
        tinyadc_saving(Trace("t", (Layer.gemm_layer("fc", m=1, n=4, k=4),)),
                       load_hardware(ROOT / "hw_configs" / "isaac.toml"), 4)
    with pytest.raises(MappingError, match="positive"):
        prune_column_segments(np.ones((4, 4)), 4, 0)
