"""Quantization from float tensors to the hardware's integer operands, as an explicit, configurable step.

A tensor x is stored as integers q with x ~ scale * (q - zero_point). `QuantSpec` says how: bits, signed or
unsigned integers, symmetric (zero point 0) or asymmetric, one scale per tensor or per channel, and the
rounding. The scale comes from the tensor itself (`quantize`) or from calibration data (`calibrate`, then
`quantize(..., params=...)`), so activations use ranges measured on the dataset's float run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.errors import ConfigError

SCHEMES = ("symmetric", "asymmetric")
GRANULARITIES = ("per_tensor", "per_channel")
ROUNDINGS = ("half_even", "half_up", "floor")


def _choice(owner: str, name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {owner}.{name}", field=f"{owner}.{name}", value=value, allowed=", ".join(allowed))


def _bits(owner: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 2 <= value <= 32:
        raise ConfigError(f"{owner}.{name} must be an integer in 2..32", field=f"{owner}.{name}", value=value,
                          allowed="2..32")


@dataclass(frozen=True)
class QuantSpec:
    """How one tensor becomes integers: `bits`-bit (un)signed values, symmetric or with a zero point,
    one scale per tensor or per channel along `axis`, rounded by `rounding`."""

    bits: int
    signed: bool = True
    scheme: str = "symmetric"
    granularity: str = "per_tensor"
    axis: int = 0
    rounding: str = "half_even"

    def __post_init__(self) -> None:
        _bits("QuantSpec", "bits", self.bits)
        _choice("QuantSpec", "scheme", self.scheme, SCHEMES)
        _choice("QuantSpec", "granularity", self.granularity, GRANULARITIES)
        _choice("QuantSpec", "rounding", self.rounding, ROUNDINGS)

    @property
    def limits(self) -> tuple[int, int]:
        """Smallest and largest integer."""
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1


@dataclass(frozen=True)
class QuantParams:
    """scale and zero point, shaped to broadcast against the tensor (size 1 except on the channel axis)."""

    scale: np.ndarray  # float64
    zero_point: np.ndarray  # int64


@dataclass(frozen=True)
class QuantizedTensor:
    values: np.ndarray  # int64
    params: QuantParams

    def dequantize(self) -> np.ndarray:
        return (self.values - self.params.zero_point) * self.params.scale


def _reduce_axes(spec: QuantSpec, ndim: int) -> tuple[int, ...]:
    if spec.granularity == "per_tensor":
        return tuple(range(ndim))
    axis = spec.axis if spec.axis >= 0 else ndim + spec.axis
    if not 0 <= axis < ndim:
        raise ConfigError("per-channel axis outside the tensor", field="QuantSpec.axis", value=spec.axis,
                          allowed=f"-{ndim}..{ndim - 1}")
    return tuple(a for a in range(ndim) if a != axis)


def calibrate(spec: QuantSpec, tensor: np.ndarray) -> QuantParams:
    """Scale and zero point that cover the range of `tensor` (all of it, or per channel)."""
    x = np.asarray(tensor, dtype=np.float64)
    if x.size and not np.all(np.isfinite(x)):
        raise ConfigError("cannot quantize a tensor with NaN or infinite values", field="tensor",
                          allowed="finite values")
    axes = _reduce_axes(spec, x.ndim)
    low, high = spec.limits
    if x.size == 0:
        shape = tuple(1 for _ in range(x.ndim))
        return QuantParams(np.ones(shape), np.zeros(shape, dtype=np.int64))
    lo = np.minimum(x.min(axis=axes, keepdims=True), 0.0)
    hi = np.maximum(x.max(axis=axes, keepdims=True), 0.0)
    if spec.scheme == "symmetric":
        # the largest magnitude maps to the largest positive integer (zero point 0)
        magnitude = np.maximum(hi, -lo) if spec.signed else hi
        scale = magnitude / high
        zero = np.zeros_like(scale, dtype=np.int64)
    else:
        scale = (hi - lo) / (high - low)
        safe = np.where(scale > 0, scale, 1.0)
        zero = np.clip(np.rint(low - lo / safe), low, high).astype(np.int64)
    scale = np.where(scale > 0, scale, 1.0)  # an all-zero channel: any scale represents it exactly
    return QuantParams(scale, zero)


def _round(values: np.ndarray, rounding: str) -> np.ndarray:
    if rounding == "half_even":
        return np.rint(values)
    if rounding == "half_up":
        return np.floor(values + 0.5)
    return np.floor(values)


def quantize(tensor: np.ndarray, spec: QuantSpec, params: QuantParams | None = None) -> QuantizedTensor:
    """Integers of `spec` for `tensor` (clipped to the range), with its own range or the given params."""
    x = np.asarray(tensor, dtype=np.float64)
    params = params or calibrate(spec, x)
    low, high = spec.limits
    q = np.clip(_round(x / params.scale, spec.rounding) + params.zero_point, low, high).astype(np.int64)
    return QuantizedTensor(q, params)


@dataclass(frozen=True)
class QuantConfig:
    """Quantization of a whole network: weights per output channel (symmetric), activations per tensor
    from calibration on the dataset. Bits default to the hardware's operand bits (None)."""

    weight_bits: int | None = None
    input_bits: int | None = None
    weight_granularity: str = "per_channel"
    input_scheme: str = "symmetric"
    rounding: str = "half_even"

    def __post_init__(self) -> None:
        for name in ("weight_bits", "input_bits"):
            if getattr(self, name) is not None:
                _bits("QuantConfig", name, getattr(self, name))
        _choice("QuantConfig", "weight_granularity", self.weight_granularity, GRANULARITIES)
        _choice("QuantConfig", "input_scheme", self.input_scheme, SCHEMES)
        _choice("QuantConfig", "rounding", self.rounding, ROUNDINGS)

    def weight_spec(self, hardware_bits: int, axis: int) -> QuantSpec:
        return QuantSpec(bits=_within("weight_bits", self.weight_bits, hardware_bits), signed=True,
                         granularity=self.weight_granularity, axis=axis, rounding=self.rounding)

    def input_spec(self, hardware_bits: int, signed: bool) -> QuantSpec:
        return QuantSpec(bits=_within("input_bits", self.input_bits, hardware_bits), signed=signed,
                         scheme=self.input_scheme, rounding=self.rounding)


def _within(name: str, requested: int | None, hardware_bits: int) -> int:
    if requested is None:
        return hardware_bits
    if requested > hardware_bits:
        raise ConfigError(f"QuantConfig.{name} wider than the hardware's operands", field=f"QuantConfig.{name}",
                          value=requested, allowed=f"2..{hardware_bits}")
    return requested
