"""Quantization laws: values inside the range round-trip within half a step, per-channel scales cover each
channel, the zero point makes an asymmetric range exact at 0, and bad settings are ConfigErrors naming them."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.functional.quantize import QuantConfig, QuantSpec, calibrate, quantize


@given(st.integers(2, 16), st.booleans(), st.sampled_from(["symmetric", "asymmetric"]),
       st.sampled_from(["per_tensor", "per_channel"]), st.sampled_from(["half_even", "half_up", "floor"]),
       st.integers(0, 2**16))
def test_round_trip_error_is_at_most_one_step(bits, signed, scheme, granularity, rounding, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(3, 4, 5)) * rng.uniform(0.1, 10, size=(3, 1, 1))
    if not signed:
        x = np.abs(x)
    spec = QuantSpec(bits=bits, signed=signed, scheme=scheme, granularity=granularity, rounding=rounding)
    q = quantize(x, spec)
    low, high = spec.limits
    assert q.values.dtype == np.int64 and q.values.min() >= low and q.values.max() <= high
    step = q.params.scale
    bound = step if rounding == "floor" else step / 2
    assert np.all(np.abs(q.dequantize() - x) <= bound * (1 + 1e-9))
    if granularity == "per_channel":
        assert q.params.scale.shape == (3, 1, 1)


def test_per_channel_scales_each_channel_to_its_own_range():
    x = np.stack([np.linspace(-1, 1, 8), np.linspace(-100, 100, 8)])
    params = calibrate(QuantSpec(bits=8, granularity="per_channel", axis=0), x)
    np.testing.assert_allclose(params.scale.ravel(), [1 / 127, 100 / 127])


def test_asymmetric_zero_point_represents_zero_exactly():
    x = np.linspace(0.5, 3.0, 11)
    q = quantize(x, QuantSpec(bits=8, signed=True, scheme="asymmetric"))
    assert q.params.zero_point.item() == -128  # the range [0, 3] starts at the smallest integer
    assert quantize(np.zeros(1), QuantSpec(bits=8, scheme="asymmetric"), q.params).dequantize().item() == 0.0


def test_clipping_with_given_params():
    spec = QuantSpec(bits=4)
    params = calibrate(spec, np.array([-1.0, 1.0]))
    assert quantize(np.array([5.0, -5.0]), spec, params).values.tolist() == [7, -8]


@pytest.mark.parametrize("field, value, message", [
    ("scheme", "symetric", "symmetric, asymmetric"),
    ("granularity", "channel", "per_tensor, per_channel"),
    ("rounding", "nearest", "half_even, half_up, floor"),
    ("bits", 1, "2..32"),
])
def test_bad_quant_spec_names_the_field_and_the_allowed_values(field, value, message):
    with pytest.raises(ConfigError, match=message) as err:
        QuantSpec(**{"bits": 8, field: value})
    assert err.value.field == f"QuantSpec.{field}"


def test_quant_config_cannot_ask_for_more_bits_than_the_hardware():
    with pytest.raises(ConfigError, match="wider than the hardware"):
        QuantConfig(weight_bits=16).weight_spec(8, axis=0)
    assert QuantConfig().weight_spec(8, axis=0).bits == 8


def test_nan_is_refused():
    with pytest.raises(ConfigError, match="NaN"):
        quantize(np.array([np.nan, 1.0]), QuantSpec(bits=8))
