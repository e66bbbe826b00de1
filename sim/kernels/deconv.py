"""Transposed convolution on crossbars, both ways: the zero-inserted convolution and RED's pixel-wise mapping.

Weights are (R, S, C, N) in the lowered convolution's orientation (im2col order r, s, c). The zero-inserted
input Z has x[i, j] at (top + i*stride, left + j*stride), top = dilation*(R-1) - pad_top, and the lowered
conv gives O[p, q] = sum_(r,s) Z[p + r*d, q + s*d] . W[r, s]. Pixel-wise (RED, Chen et al., DATE 2019):
each input pixel drives the C rows of a crossbar holding W as C x (R*S*N), and its partial product for
kernel position (r, s) is added into O[top + i*stride - r*d, left + j*stride - s*d] when inside the ofmap,
so no inserted zero is ever read or converted. groups = 1.
"""
from __future__ import annotations

import numpy as np

from sim.errors import MappingError
from sim.hardware.spec import NonIdealitySpec
from sim.kernels.crossbar import CrossbarOutput, crossbar_mvm
from sim.mapping.crossbar import BitSlicing
from sim.workload.layer import Layer


def _check(layer: Layer, ifmap: np.ndarray, weights: np.ndarray) -> None:
    if layer.kind != "tconv" or layer.groups != 1:
        raise MappingError("the functional deconvolution takes a transposed conv with groups = 1",
                           field=f"{layer.name}.kind", value=(layer.kind, layer.groups), allowed="tconv, groups 1")
    shape = (layer.batch, layer.ifmap_h, layer.ifmap_w, layer.in_channels)
    kernel = (layer.filter_h, layer.filter_w, layer.in_channels, layer.out_channels)
    if ifmap.shape != shape or weights.shape != kernel:
        raise MappingError("ifmap or weights do not match the layer", field=layer.name,
                           value=(ifmap.shape, weights.shape), allowed=f"ifmap {shape}, weights {kernel}")


def _origin(layer: Layer) -> tuple[int, int]:
    """Where x[0, 0] sits in the zero-inserted input (top, left)."""
    return (layer.dilation_h * (layer.filter_h - 1) - layer.pad_top,
            layer.dilation_w * (layer.filter_w - 1) - layer.pad_left)


def zero_inserted(ifmap: np.ndarray, layer: Layer) -> np.ndarray:
    """(B, H', W', C): stride - 1 zeros between pixels and the border the lowered convolution slides over."""
    h, w = layer.padded_ifmap
    top, left = _origin(layer)
    out = np.zeros((ifmap.shape[0], h, w, ifmap.shape[3]), dtype=ifmap.dtype)
    out[:, top:top + (layer.ifmap_h - 1) * layer.stride_h + 1:layer.stride_h,
        left:left + (layer.ifmap_w - 1) * layer.stride_w + 1:layer.stride_w] = ifmap
    return out


def tconv_zero_insertion(ifmap: np.ndarray, weights: np.ndarray, layer: Layer, slicing: BitSlicing,
                         non_ideal: NonIdealitySpec | None = None, seed: int = 0) -> tuple[np.ndarray, CrossbarOutput]:
    """(B, E, F, N) outputs of the zero-inserted convolution on crossbars, and the crossbar run."""
    _check(layer, ifmap, weights)
    z = zero_inserted(ifmap, layer)
    e, f = layer.ofmap_hw
    d_h, d_w = layer.dilation_h, layer.dilation_w
    windows = np.stack([z[:, r * d_h:r * d_h + e, s * d_w:s * d_w + f, :]
                        for r in range(layer.filter_h) for s in range(layer.filter_w)], axis=3)  # (B, E, F, RS, C)
    columns = windows.reshape(-1, layer.filter_h * layer.filter_w * layer.in_channels)
    run = crossbar_mvm(weights.reshape(-1, layer.out_channels), columns, slicing, non_ideal, seed)
    return run.outputs.reshape(ifmap.shape[0], e, f, layer.out_channels), run


def _overlap_add(partials: np.ndarray, layer: Layer, dtype) -> np.ndarray:
    """Scatter-add (B, H, W, R, S, N) partial products into the (B, E, F, N) ofmap."""
    e, f = layer.ofmap_hw
    top, left = _origin(layer)
    out = np.zeros((partials.shape[0], e, f, layer.out_channels), dtype=dtype)
    rows_in, cols_in = np.arange(layer.ifmap_h), np.arange(layer.ifmap_w)
    for r in range(layer.filter_h):
        p = top + rows_in * layer.stride_h - r * layer.dilation_h
        keep_i = (p >= 0) & (p < e)
        for s in range(layer.filter_w):
            q = left + cols_in * layer.stride_w - s * layer.dilation_w
            keep_j = (q >= 0) & (q < f)
            # (r, s) maps input pixels to distinct output pixels, so a plain indexed add is exact
            out[:, p[keep_i][:, None], q[keep_j][None, :]] += \
                partials[:, rows_in[keep_i][:, None], cols_in[keep_j][None, :], r, s]
    return out


def tconv_pixel_wise(ifmap: np.ndarray, weights: np.ndarray, layer: Layer, slicing: BitSlicing,
                     non_ideal: NonIdealitySpec | None = None, seed: int = 0) -> tuple[np.ndarray, CrossbarOutput]:
    """(B, E, F, N) outputs of RED's pixel-wise mapping on crossbars (real pixels only), and the crossbar run."""
    _check(layer, ifmap, weights)
    stored = weights.transpose(2, 0, 1, 3).reshape(layer.in_channels, -1)  # C x (R S N)
    run = crossbar_mvm(stored, ifmap.reshape(-1, layer.in_channels), slicing, non_ideal, seed)
    partials = run.outputs.reshape(*ifmap.shape[:3], layer.filter_h, layer.filter_w, layer.out_channels)
    return _overlap_add(partials, layer, np.float64), run


def tconv_reference(ifmap: np.ndarray, weights: np.ndarray, layer: Layer) -> np.ndarray:
    """The exact integer transposed convolution (numpy, int64), by the scatter definition."""
    _check(layer, ifmap, weights)
    partials = np.einsum("bhwc,rscn->bhwrsn", ifmap.astype(np.int64), weights.astype(np.int64))
    return _overlap_add(partials, layer, np.int64)


__all__ = ["tconv_pixel_wise", "tconv_reference", "tconv_zero_insertion", "zero_inserted"]
