"""Bit-sliced crossbar MVM laws: lossless is exact, enough ADC bits are exact, fewer bits lose monotonically,
the integer path equals the float path bit for bit, block-circulant compressed == expanded == FFT."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.hardware.spec import AdcSpec, NonIdealitySpec, ReramSpec
from sim.kernels import crossbar
from sim.kernels.circulant import compressed_mvm, expand, fft_product
from sim.kernels.crossbar import crossbar_mvm
from sim.mapping.crossbar import BitSlicing


@st.composite
def problems(draw, signed_inputs=None, encodings=("offset", "unit_column", "differential")):
    reram = {
        "crossbar_rows": draw(st.sampled_from([4, 8, 16, 32, 128])),
        "cell_bits": draw(st.integers(1, 4)),
        "weight_bits": draw(st.integers(2, 16)),
        "input_bits": draw(st.integers(2, 16)),
        "dac_bits": draw(st.integers(1, 3)),
        "signed_inputs": draw(st.booleans()) if signed_inputs is None else signed_inputs,
        "signed_weights": draw(st.sampled_from(encodings)),
    }
    k, n, v = draw(st.integers(1, 70)), draw(st.integers(1, 5)), draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    half_w = 1 << (reram["weight_bits"] - 1)
    weights = rng.integers(-half_w, half_w, size=(k, n))
    if reram["signed_inputs"]:
        half_x = 1 << (reram["input_bits"] - 1)
        inputs = rng.integers(-half_x, half_x, size=(v, k))
    else:
        inputs = rng.integers(0, 1 << reram["input_bits"], size=(v, k))
    return reram, weights, inputs


@settings(max_examples=40)
@given(problems(), st.booleans(), st.sampled_from(["ideal", "lossless"]))
def test_ideal_or_lossless_adc_gives_the_exact_integer_product(problem, flip, adc):
    reram, weights, inputs = problem
    spec = ReramSpec(**reram, adc=AdcSpec(bits="lossless", column_flip=flip))
    out = crossbar_mvm(weights, inputs, BitSlicing.of(spec, ideal_adc=adc == "ideal"))
    assert out.output_error == 0.0
    assert np.array_equal(out.outputs, out.exact)
    assert np.array_equal(out.exact, inputs @ weights)


@settings(max_examples=30)
@given(problems(), st.booleans(), st.integers(0, 3))
def test_adc_bits_at_least_the_required_per_column_stay_exact(problem, flip, spare):
    reram, weights, inputs = problem
    probe = crossbar_mvm(weights, inputs, BitSlicing.of(ReramSpec(**reram, adc=AdcSpec(column_flip=flip)), ideal_adc=True))
    bits = int(probe.required_bits.max()) + spare
    spec = ReramSpec(**reram, adc=AdcSpec(bits=bits, range_policy="granular", column_flip=flip))
    assert crossbar_mvm(weights, inputs, BitSlicing.of(spec)).output_error == 0.0


@settings(max_examples=25)
@given(problems(signed_inputs=False, encodings=("offset",)), st.sampled_from(["granular", "full_scale_floor"]))
def test_fewer_adc_bits_lose_and_the_error_shrinks_as_bits_grow(problem, policy):
    # unsigned inputs and digitally removed offsets: every read's ADC error has the same sign, so none cancel
    reram, weights, _ = problem
    inputs = np.full((1, weights.shape[0]), (1 << reram["input_bits"]) - 1)  # all-ones reads reach each column's max
    probe = crossbar_mvm(weights, inputs, BitSlicing.of(ReramSpec(**reram), ideal_adc=True))
    required = int(probe.required_bits.max())
    errors = []
    for bits in range(1, required + 1):
        adc = AdcSpec(bits=bits, range_policy="granular") if policy == "granular" else \
            AdcSpec(bits=bits, range_policy="full_scale", rounding="floor")
        errors.append(crossbar_mvm(weights, inputs, BitSlicing.of(ReramSpec(**reram, adc=adc))).output_error)
    if policy == "granular":
        assert errors[-1] == 0.0
        assert all(e > 0 for e in errors[:-1])
    assert all(a >= b for a, b in itertools.pairwise(errors))


@settings(max_examples=15)
@given(problems(), st.integers(0, 1000))
def test_non_idealities_are_deterministic_for_a_seed(problem, seed):
    reram, weights, inputs = problem
    noisy = NonIdealitySpec(on_off_ratio=20, programming_sigma=0.05, stuck_at_on=0.01, read_noise_sigma=0.1)
    slicing = BitSlicing.of(ReramSpec(**reram, adc=AdcSpec(bits="lossless")))
    first = crossbar_mvm(weights, inputs, slicing, noisy, seed)
    again = crossbar_mvm(weights, inputs, slicing, noisy, seed)
    assert np.array_equal(first.outputs, again.outputs)
    assert first.output_error == float(np.abs(first.outputs - first.exact).max())


def test_finite_on_off_ratio_alone_is_removed_by_the_reference_column():
    rng = np.random.default_rng(3)
    weights, inputs = rng.integers(-128, 128, size=(40, 3)), rng.integers(-128, 128, size=(2, 40))
    spec = ReramSpec(weight_bits=8, input_bits=8, adc=AdcSpec(bits="lossless"))
    out = crossbar_mvm(weights, inputs, BitSlicing.of(spec), NonIdealitySpec(on_off_ratio=10))
    assert out.output_error == 0.0
    worse = crossbar_mvm(weights, inputs, BitSlicing.of(spec), NonIdealitySpec(programming_sigma=0.2), seed=1)
    assert worse.output_error > 0


@settings(max_examples=25)
@given(st.sampled_from([2, 4, 8]), st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**16), st.data())
def test_circulant_compressed_equals_expanded_equals_fft(k, p, q, seed, data):
    u = data.draw(st.sampled_from([d for d in range(1, k + 1) if k % d == 0]))
    rows = data.draw(st.sampled_from([k, 2 * k, 16, 64]))
    rng = np.random.default_rng(seed)
    vectors = rng.integers(-128, 128, size=(p, q, k))
    inputs = rng.integers(-128, 128, size=(3, q * k))
    spec = ReramSpec(crossbar_rows=max(rows, k), weight_bits=8, input_bits=8, adc=AdcSpec(bits="lossless"))
    slicing = BitSlicing.of(spec)
    dense = expand(vectors)
    compressed = compressed_mvm(vectors, inputs, slicing, u)
    expanded = crossbar_mvm(dense, inputs, slicing)
    assert compressed.output_error == 0.0 and expanded.output_error == 0.0
    assert np.array_equal(compressed.outputs, expanded.outputs)
    assert np.allclose(fft_product(vectors, inputs), expanded.outputs, atol=1e-6)


ADCS = [AdcSpec(bits="lossless"), AdcSpec(bits=3), AdcSpec(bits=5, rounding="half_up"),
        AdcSpec(bits=4, range_policy="full_scale", rounding="floor"), AdcSpec(bits=2, range_policy="granular"),
        AdcSpec(bits=6, range_policy="granular", rounding="half_up")]


@settings(max_examples=40)
@given(problems(), st.booleans(), st.sampled_from(ADCS + ["ideal"]))
def test_integer_path_is_bit_identical_to_the_float_path(problem, flip, adc):
    # integer ADC outputs and sums below 2**53: int64 kernels, reordered, must give the float kernels' very bits
    reram, weights, inputs = problem
    spec = ReramSpec(**reram, adc=AdcSpec(bits="lossless") if adc == "ideal" else adc)
    slicing = BitSlicing.of(spec.model_copy(update={"adc": spec.adc.model_copy(update={"column_flip": flip})}),
                            ideal_adc=adc == "ideal")
    taken = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(crossbar, "_integer_partitions", _spy(crossbar._integer_partitions, taken))
        integer = crossbar_mvm(weights, inputs, slicing)
        patch.setattr(crossbar, "exact_in_int64", lambda *args: False)
        floating = crossbar_mvm(weights, inputs, slicing)
    assert taken == [True]
    assert integer.outputs.tobytes() == floating.outputs.tobytes()
    assert integer.output_error == floating.output_error


def _spy(function, calls):
    def spied(*args):
        calls.append(True)
        return function(*args)
    return spied
