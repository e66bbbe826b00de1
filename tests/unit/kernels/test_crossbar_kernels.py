"""Bit-sliced crossbar kernels: the ADC quantizer, ISAAC's flip, required bits, input checks, the integer path's
DAC digit patterns and its exactness bound."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import MappingError
from sim.hardware.spec import AdcSpec, ReramSpec
from sim.kernels.crossbar import (
    adc_convert,
    adc_parameters,
    crossbar_mvm,
    encode_weights,
    exact_in_int64,
    patterns_of,
    slice_inputs,
)
from sim.mapping.crossbar import BitSlicing


def slicing(**fields) -> BitSlicing:
    adc = fields.pop("adc", AdcSpec(bits="lossless"))
    return BitSlicing.of(ReramSpec(**fields, adc=adc))


@pytest.mark.parametrize("rounding, expected", [(0, [0.0, 2.0, 2.0, 4.0]), (1, [1.0, 2.0, 3.0, 4.0]),
                                                 (2, [0.0, 1.0, 2.0, 3.0])])
def test_adc_rounding_modes(rounding, expected):
    # step 1, inputs at .5: half-even, half-up and floor differ
    assert [adc_convert(v, 0.0, 1.0, 16, rounding) for v in (0.5, 1.5, 2.5, 3.5)] == expected


def test_adc_clips_to_its_levels_and_ideal_passes_through():
    assert adc_convert(300.0, 0.0, 1.0, 256, 0) == 255.0
    assert adc_convert(-3.0, 0.0, 1.0, 256, 0) == 0.0
    assert adc_convert(1234.5, 0.0, 1.0, 0, 0) == 1234.5


def test_full_scale_step_is_a_power_of_two_and_calibrated_spans_its_range():
    assert adc_parameters(slicing(adc=AdcSpec(bits=6))) == (0.0, 8.0, 64)  # 9 lossless bits -> step 2**3
    low, step, levels = adc_parameters(slicing(adc=AdcSpec(bits=4, range_policy="calibrated",
                                                             calibrated_min=0.25, calibrated_max=0.5)))
    assert (low, low + step * (levels - 1), levels) == (96.0, 192.0, 16)
    assert adc_parameters(slicing(adc=AdcSpec(bits=4, range_policy="granular"))) == (0.0, 1.0, 16)


def test_isaac_column_flip_makes_8_bits_lossless_where_plain_8_bits_clip():
    weights = np.full((127, 2), 2**15 - 1)  # every offset digit is 3: column sums of 381 need 9 bits
    inputs = np.full((1, 127), -1)  # all bits set, the sign read included
    plain = crossbar_mvm(weights, inputs, slicing(adc=AdcSpec(bits=8)))
    flipped = crossbar_mvm(weights, inputs, slicing(adc=AdcSpec(bits=8, column_flip=True)))
    assert plain.output_error > 0 and int(plain.required_bits.max()) == 9
    assert flipped.output_error == 0.0 and int(flipped.required_bits.max()) <= 8


def test_required_bits_count_only_the_mapped_rows():
    out = crossbar_mvm(np.full((20, 1), 2**15 - 1), np.ones((1, 20), dtype=np.int64), slicing())
    assert int(out.required_bits.max()) == 6  # 20 rows x 3 = 60 < 64


def test_weight_encodings_reconstruct_the_weights():
    weights = np.array([[-32768, -1, 0, 1, 32767]])
    for encoding in ("offset", "differential", "unit_column"):
        s = slicing(signed_weights=encoding)
        cols = encode_weights(weights, s)
        value = np.zeros(weights.shape[1] + 1)
        np.add.at(value, cols.output, cols.scale * cols.digits[0])
        offset = {"offset": 2**15, "differential": 0, "unit_column": 0}[encoding]
        assert np.array_equal(value[:-1] + value[-1] - offset, weights[0])


def test_signed_inputs_slice_in_twos_complement():
    s = slicing(input_bits=8, dac_bits=2)
    x = np.array([[-128, -1, 0, 5, 127]])
    reads = slice_inputs(x, s)
    assert len(reads) == s.input_slices == 5
    assert np.array_equal(sum(d * w for d, w in reads), x)


def test_out_of_range_values_are_mapping_errors():
    with pytest.raises(MappingError, match=r"weights outside .* allowed: -128..127"):
        crossbar_mvm(np.array([[200]]), np.array([[1]]), slicing(weight_bits=8))
    with pytest.raises(MappingError, match="inputs outside"):
        crossbar_mvm(np.array([[1]]), np.array([[-1]]), slicing(signed_inputs=False))
    with pytest.raises(MappingError, match="disagree on K"):
        crossbar_mvm(np.ones((3, 1), dtype=np.int64), np.ones((1, 2), dtype=np.int64), slicing())


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(2, 16), st.booleans(), st.sampled_from([4, 8, 16, 50]), st.integers(1, 8),
       st.integers(1, 40), st.integers(1, 3), st.integers(0, 2**16))
def test_read_patterns_pack_each_groups_read_digits(dac_bits, input_bits, signed, rows, group_rows, k, vectors, seed):
    # pattern[v, t, g] = sum_j digit_t(x[v, row j of g]) << (dac_bits * j), the 1-bit bit transpose included
    group_rows = max(1, min(group_rows, 8 // dac_bits))
    s = slicing(crossbar_rows=rows, input_bits=input_bits, dac_bits=dac_bits, signed_inputs=signed)
    rng = np.random.default_rng(seed)
    low, high = (-(1 << (input_bits - 1)), 1 << (input_bits - 1)) if signed else (0, 1 << input_bits)
    inputs = rng.integers(low, high, size=(vectors, k))
    starts = np.arange(0, k, rows, dtype=np.int64)
    stops = np.minimum(starts + rows, k)
    patterns, first_group = patterns_of(inputs, s, starts, stops, group_rows)
    expected = np.zeros(patterns.shape, dtype=np.int64)
    for t, (digits, _) in enumerate(slice_inputs(inputs, s)):
        for p, (start, stop) in enumerate(zip(starts, stops)):
            for i in range(start, stop):
                group, j = divmod(i - start, group_rows)
                expected[:, t, first_group[p] + group] += digits[:, i] << (dac_bits * j)
    assert patterns.dtype == np.uint8
    assert np.array_equal(patterns, expected)


def test_integer_path_only_where_every_partial_sum_is_exact():
    isaac = slicing(adc=AdcSpec(bits=8, column_flip=True))
    weights = np.zeros((1152, 128), dtype=np.int64)
    assert exact_in_int64(isaac, encode_weights(weights, isaac), 1152, 9, 2**15, 255.0)
    wide = slicing(weight_bits=32, input_bits=32)
    assert not exact_in_int64(wide, encode_weights(weights[:, :1], wide), 1152, 9, 2**31, 255.0)


# ---------------------------------------------------------------- validation, no truncation, read noise
@pytest.mark.parametrize("field, value", [("range_policy", "max"), ("signed_weights", "unit"),
                                          ("rounding", "half-even")])
def test_bit_slicing_rejects_unknown_strings_listing_the_allowed_ones(field, value):
    from dataclasses import replace

    from sim.errors import ConfigError
    from sim.mapping.crossbar import SLICING_CHOICES

    with pytest.raises(ConfigError, match=", ".join(SLICING_CHOICES[field])) as err:
        replace(slicing(), **{field: value})
    assert err.value.field == f"BitSlicing.{field}"


def test_float_weights_are_refused_not_truncated():
    with pytest.raises(MappingError, match="quantize float tensors first") as err:
        crossbar_mvm(np.array([[0.5, 2.0]]), np.array([[3]]), slicing())
    assert err.value.value == 0.5
    integral = crossbar_mvm(np.array([[1.0, 2.0]]), np.array([[3]]), slicing())
    assert integral.output_error == 0.0 and integral.outputs.tolist() == [[3.0, 6.0]]


def test_read_noise_statistics_equal_a_numpy_monte_carlo_of_per_cell_noise():
    """Each driven cell's conductance fluctuates by sigma levels per read, independently (CrossSim): a numpy
    Monte-Carlo of that model, written from the encoding's definition, and the kernel agree in mean and
    variance; the old per-column sigma x sqrt(sum of digits) model does not (2-bit DACs: digit**2 != digit)."""
    from sim.hardware.spec import NonIdealitySpec

    sigma, cell_bits, weight_bits, input_bits, dac_bits = 0.3, 2, 4, 4, 2
    spec = BitSlicing.of(ReramSpec(crossbar_rows=64, cell_bits=cell_bits, weight_bits=weight_bits,
                                   input_bits=input_bits, dac_bits=dac_bits, signed_inputs=False,
                                   signed_weights="offset"), ideal_adc=True)
    rng = np.random.default_rng(5)
    k, n, v, trials = 48, 3, 40, 60
    weights = rng.integers(-8, 8, size=(k, n))
    inputs = rng.integers(0, 16, size=(v, k))
    noise = NonIdealitySpec(read_noise_sigma=sigma)
    kernel = np.stack([crossbar_mvm(weights, inputs, spec, noise, seed=s).outputs - inputs @ weights
                       for s in range(trials)])
    # the physical model in numpy: digits of w + 8 in 2-bit cells, 2-bit input digits, one draw per cell and read
    stored = weights + (1 << (weight_bits - 1))
    slices = [((stored >> (cell_bits * s)) & 3, float(1 << (cell_bits * s))) for s in range(weight_bits // cell_bits)]
    reads = [((inputs >> (dac_bits * t)) & 3, float(1 << (dac_bits * t))) for t in range(input_bits // dac_bits)]
    monte_carlo = np.zeros((trials, v, n))
    for trial in range(trials):
        for digits, read_weight in reads:
            for cells, slice_weight in slices:
                noisy = cells[None] + sigma * rng.standard_normal((v, k, n))
                monte_carlo[trial] += read_weight * slice_weight * (np.einsum("vk,vkn->vn", digits, noisy)
                                                                    - digits @ cells)
    slice_power = sum(weight ** 2 for _, weight in slices)
    per_cell = sigma ** 2 * slice_power * sum(w ** 2 * (d ** 2).sum(axis=1) for d, w in reads)
    per_column_old = sigma ** 2 * slice_power * sum(w ** 2 * d.sum(axis=1) for d, w in reads)
    kernel_var, monte_carlo_var = kernel.var(axis=0, ddof=1).mean(), monte_carlo.var(axis=0, ddof=1).mean()
    assert abs(kernel_var / monte_carlo_var - 1) < 0.08
    assert abs(kernel_var / per_cell.mean() - 1) < 0.08
    assert abs(kernel.mean()) < 0.05 * np.sqrt(kernel_var)
    assert per_column_old.mean() / per_cell.mean() < 0.8  # what the old model would have given is measurably off
