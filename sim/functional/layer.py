"""One layer's output values on the simulated hardware, from the user's tensors.

`hardware_ofmap` takes integer operands in the Layer layouts (ifmap B x H x W x C, filters O x R x S x C/g)
and returns the ofmap (B x E x F x O) the hardware computes: the systolic fold model, the directive loop
nest tile by tile, or the bit-sliced crossbars (ADC, noise and all). `layer_values` adds the explicit
quantization step for float tensors and measures the error against the float result, not the quantized one.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from sim.errors import ConfigError, MappingError
from sim.functional.quantize import QuantConfig, QuantizedTensor, QuantParams, calibrate, quantize
from sim.hardware.spec import Hardware
from sim.mapping.operands import filter_matrix, filter_shape, ifmap_matrix, ifmap_shape, ofmap_from_matrix
from sim.workload.layer import Layer


@dataclass(frozen=True)
class OperandBits:
    """The integer operands a layer's hardware takes."""

    ifmap_bits: int
    filter_bits: int
    signed_ifmap: bool


def operand_bits(layer: Layer, hw: Hardware) -> OperandBits:
    """Crossbars: the chip's input and weight bits; PE arrays: the layer's operand precisions."""
    if hw.kind == "reram":
        return OperandBits(hw.reram.input_bits, hw.reram.weight_bits, hw.reram.signed_inputs)
    return OperandBits(layer.ifmap_bits, layer.filter_bits, True)


def hardware_layer(layer: Layer, hw: Hardware) -> Layer:
    """The layer with the operand precisions the hardware runs it at (a crossbar chip's own bits)."""
    if hw.kind != "reram":
        return layer
    return replace(layer, ifmap_bits=hw.reram.input_bits, filter_bits=hw.reram.weight_bits)


def hardware_ofmap(layer: Layer, hw: Hardware, ifmap: np.ndarray, filters: np.ndarray, *, dataflow: Any = None,
                   seed: int = 0) -> np.ndarray:
    """The ofmap (B, E, F, O) of integer operands as the hardware computes it (float64 for crossbars,
    whose ADCs may not return integers; int64 otherwise)."""
    _check_shapes(layer, ifmap, filters)
    for name, array in (("ifmap", ifmap), ("filters", filters)):
        if np.asarray(array).dtype.kind not in "iub":
            raise MappingError(f"{name} must be integers: quantize float tensors first (QuantConfig)",
                               field=f"{layer.name}.{name}", value=str(np.asarray(array).dtype),
                               allowed="an integer array")
    if hw.kind == "systolic":
        from sim.kernels.systolic_fast import run_layer_functional
        from sim.mapping.systolic import map_systolic

        ofmap, _ = run_layer_functional(layer, map_systolic(layer, hw, dataflow), np.asarray(ifmap),
                                        np.asarray(filters), hw.pe_array.accumulator_bits)
        return ofmap
    if hw.kind == "reram":
        from sim.kernels.crossbar import crossbar_mvm
        from sim.mapping.crossbar import map_crossbar

        if layer.block_size > 1:
            raise MappingError("user tensors for block-circulant layers are not supported",
                               field=f"{layer.name}.block_size", value=layer.block_size, allowed="1")
        mapping = map_crossbar(hardware_layer(layer, hw), hw)
        inputs = ifmap_matrix(layer, np.asarray(ifmap))
        weights = filter_matrix(layer, np.asarray(filters))
        out = np.stack([crossbar_mvm(weights[g], inputs[g], mapping.slicing, hw.reram.non_ideal, seed + g).outputs
                        for g in range(layer.gemm.groups)])
        return ofmap_from_matrix(layer, out)
    from sim.engine.directives import directive_ofmap

    if dataflow is None:
        raise MappingError(f"layer '{layer.name}' needs a dataflow on a directive array", field="dataflow",
                           allowed="a MAESTRO Dataflow (--mapping FILE, see mappings/)")
    return directive_ofmap(layer, hw, dataflow, np.asarray(ifmap), np.asarray(filters))


def float_ofmap(layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> np.ndarray:
    """The float64 reference ofmap (B, E, F, O): the lowered GEMM in float64."""
    product = np.matmul(ifmap_matrix(layer, np.asarray(ifmap, dtype=np.float64)),
                        filter_matrix(layer, np.asarray(filters, dtype=np.float64)))
    return ofmap_from_matrix(layer, product)


def zero_point_correction(layer: Layer, filters: np.ndarray, zero_point: int) -> np.ndarray:
    """zero_point x (the sum of the filter taps each output sees): what the digital side subtracts so that
    the hardware's W.q equals W.(q - zero_point) (padding is 0, not the zero point, on the crossbars)."""
    if not zero_point:
        return np.zeros((1, 1, 1, 1))
    ones = np.ones(ifmap_shape(layer), dtype=np.float64)
    return zero_point * float_ofmap(layer, ones, filters)


@dataclass(frozen=True)
class LayerValues:
    """A layer's values on the hardware and in float."""

    outputs: np.ndarray  # (B, E, F, O) float64: the hardware's result, dequantized
    reference: np.ndarray  # (B, E, F, O) float64: the float result of the float operands
    ifmap: QuantizedTensor
    filters: QuantizedTensor

    @property
    def max_abs_error(self) -> float:
        return float(np.max(np.abs(self.outputs - self.reference), initial=0.0))

    @property
    def relative_rms_error(self) -> float:
        """RMS(outputs - reference) / RMS(reference)."""
        scale = float(np.sqrt(np.mean(self.reference ** 2))) if self.reference.size else 0.0
        rms = float(np.sqrt(np.mean((self.outputs - self.reference) ** 2))) if self.reference.size else 0.0
        return rms / scale if scale else rms


def quantized_layer(layer: Layer, hw: Hardware, ifmap: QuantizedTensor, filters: QuantizedTensor, *,
                    dataflow: Any = None, seed: int = 0) -> np.ndarray:
    """Dequantized float64 ofmap of quantized operands run on the hardware: scale_x x scale_w[o] x
    (hardware(W, q) - zero_point x sum of taps)."""
    ifmap_scale = ifmap.params.scale.reshape(-1)
    zero = ifmap.params.zero_point.reshape(-1)
    if ifmap_scale.size != 1 or zero.size != 1:
        raise ConfigError("activations are quantized per tensor on the hardware", field="QuantConfig.input",
                          allowed="one scale and zero point per ifmap")
    raw = hardware_ofmap(layer, hw, ifmap.values, filters.values, dataflow=dataflow, seed=seed)
    corrected = raw - zero_point_correction(layer, filters.values, int(zero[0]))
    channel_scale = filters.params.scale.reshape(-1)  # per output channel (or one)
    return corrected * (float(ifmap_scale[0]) * channel_scale)


def layer_values(layer: Layer, hw: Hardware, ifmap: np.ndarray, filters: np.ndarray, *,
                 quantization: QuantConfig | None = None, ifmap_params: QuantParams | None = None,
                 dataflow: Any = None, seed: int = 0) -> LayerValues:
    """Float (or integer) operands -> quantized to the hardware's bits -> run -> dequantized outputs, with the
    error against the float product of the original operands. Integer operands that already fit are used as
    they are (scale 1)."""
    config = quantization or QuantConfig()
    bits = operand_bits(layer, hw)
    _check_shapes(layer, ifmap, filters)
    filter_spec = config.weight_spec(bits.filter_bits, axis=0)
    ifmap_spec = config.input_spec(bits.ifmap_bits, bits.signed_ifmap)
    q_filters = _as_is(filters, filter_spec) or quantize(filters, filter_spec)
    q_ifmap = _as_is(ifmap, ifmap_spec) or quantize(ifmap, ifmap_spec, ifmap_params or calibrate(ifmap_spec, ifmap))
    outputs = quantized_layer(layer, hw, q_ifmap, q_filters, dataflow=dataflow, seed=seed)
    return LayerValues(outputs=outputs, reference=float_ofmap(layer, ifmap, filters), ifmap=q_ifmap,
                       filters=q_filters)


def _check_shapes(layer: Layer, ifmap: np.ndarray, filters: np.ndarray) -> None:
    for name, array, expected in (("ifmap", ifmap, ifmap_shape(layer)), ("filters", filters, filter_shape(layer))):
        if np.shape(array) != expected:
            raise MappingError(f"{name} tensor does not fit layer '{layer.name}'", field=f"{layer.name}.{name}",
                               value=tuple(np.shape(array)), allowed=str(expected))


def _as_is(tensor: np.ndarray, spec: Any) -> QuantizedTensor | None:
    """An integer tensor inside the spec's range, unchanged (scale 1, zero point 0); None otherwise."""
    array = np.asarray(tensor)
    if array.dtype.kind not in "iub":
        return None
    low, high = spec.limits
    if array.size and (array.min() < low or array.max() > high):
        raise MappingError("integer tensor outside the hardware's operand range", field="tensor",
                           value=(int(array.min()), int(array.max())), allowed=f"{low}..{high}")
    one = np.ones((1,) * array.ndim)
    return QuantizedTensor(array.astype(np.int64), QuantParams(one, np.zeros_like(one, dtype=np.int64)))
