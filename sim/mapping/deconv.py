"""Zero-skipping for transposed convolutions on systolic arrays: a tconv as its stride-phase convolutions.

The zero-inserted lowering computes O[p] = sum_r Z[p + r d] W'[r] (W' the flipped kernel), where the
zero-inserted input Z holds x[i] at top + i s (top = d (R-1) - pad_top) and zeros elsewhere. The outputs of one
phase p = phi + s u only ever meet the taps r with (phi + r d - top) divisible by s, and then read
x[u + o_j], o_j = (phi + r_j d - top) / s, with o_j spaced d / gcd(s, d) apart. So each phase (phi_h, phi_w)
is an ordinary stride-1 convolution of the real input with that sub-kernel (dilation d / gcd(s, d)), cropped or
padded to the input rows it reads: no inserted zero is ever streamed into the array. A phase with no tap, or
whose outputs read no real input, computes nothing (its outputs are 0) and is left out.
The same decomposition per axis as RED's pixel-wise mapping of a tconv onto crossbars (Chen et al., DATE 2019),
in the output-stationary form digital accelerators use for sub-pixel convolution.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.errors import MappingError
from sim.workload.layer import Layer


@dataclass(frozen=True)
class AxisPhase:
    """One output phase along one axis: outputs first + step*u (u < count) from taps `taps` of the original
    (unflipped) kernel, reading input rows `low..low+size-1` with `pad_before` / `pad_after` zeros of border."""

    first: int
    count: int
    taps: tuple[int, ...]  # original kernel indices, in the sub-kernel's order
    dilation: int
    low: int
    size: int
    pad_before: int
    pad_after: int


@dataclass(frozen=True)
class Phase:
    """One stride phase of a tconv: the conv layer the array runs and where its outputs go."""

    layer: Layer
    rows: AxisPhase
    cols: AxisPhase


def axis_phases(ifmap: int, ofmap: int, kernel: int, stride: int, dilation: int, pad: int) -> tuple[AxisPhase, ...]:
    """The phases of one axis that compute something (see module)."""
    top = dilation * (kernel - 1) - pad
    step = dilation // math.gcd(stride, dilation)
    out = []
    for first in range(min(stride, ofmap)):
        count = -(-(ofmap - first) // stride)
        lowered = [r for r in range(kernel) if (first + r * dilation - top) % stride == 0]
        if not lowered:
            continue
        offsets = [(first + r * dilation - top) // stride for r in lowered]
        need_low, need_high = offsets[0], count - 1 + offsets[-1]
        low, high = max(0, need_low), min(ifmap - 1, need_high)
        if high < low:
            continue  # every product of this phase meets border padding only
        out.append(AxisPhase(first=first, count=count, taps=tuple(kernel - 1 - r for r in lowered), dilation=step,
                             low=low, size=high - low + 1, pad_before=low - need_low, pad_after=need_high - high))
    return tuple(out)


def tconv_phases(layer: Layer) -> tuple[Phase, ...]:
    """The stride-phase convolutions of a transposed conv (MappingError for any other kind)."""
    if layer.kind != "tconv":
        raise MappingError("zero-skipping applies to transposed convolutions", field=f"{layer.name}.kind",
                           value=layer.kind, allowed="tconv")
    if layer.block_size > 1:
        raise MappingError("zero-skipping of block-circulant transposed convolutions is not modelled",
                           field=f"{layer.name}.block_size", value=layer.block_size, allowed="1")
    e, f = layer.ofmap_hw
    rows = axis_phases(layer.ifmap_h, e, layer.filter_h, layer.stride_h, layer.dilation_h, layer.pad_top)
    cols = axis_phases(layer.ifmap_w, f, layer.filter_w, layer.stride_w, layer.dilation_w, layer.pad_left)
    phases = []
    for r in rows:
        for c in cols:
            sub = Layer(name=f"{layer.name}.phase{r.first}_{c.first}", kind="conv", ifmap_h=r.size, ifmap_w=c.size,
                        in_channels=layer.in_channels, out_channels=layer.out_channels, filter_h=len(r.taps),
                        filter_w=len(c.taps), stride_h=1, stride_w=1, pad_top=r.pad_before, pad_bottom=r.pad_after,
                        pad_left=c.pad_before, pad_right=c.pad_after, dilation_h=r.dilation, dilation_w=c.dilation,
                        groups=layer.groups, batch=layer.batch, ifmap_bits=layer.ifmap_bits,
                        filter_bits=layer.filter_bits, ofmap_bits=layer.ofmap_bits)
            phases.append(Phase(layer=sub, rows=r, cols=c))
    return tuple(phases)


def phase_operands(phase: Phase, ifmap: np.ndarray, filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The phase conv's (ifmap, filters) from the tconv's (B, H, W, C) and (O, R, S, C/g) operands."""
    r, c = phase.rows, phase.cols
    x = ifmap[:, r.low:r.low + r.size, c.low:c.low + c.size, :]
    w = filters[:, list(r.taps)][:, :, list(c.taps)]
    return np.ascontiguousarray(x), np.ascontiguousarray(w)


def scatter_phase(ofmap: np.ndarray, phase: Phase, values: np.ndarray, stride: tuple[int, int]) -> None:
    """Write a phase conv's (B, count_h, count_w, O) outputs into the tconv's ofmap (in place)."""
    r, c = phase.rows, phase.cols
    ofmap[:, r.first::stride[0], c.first::stride[1], :][:, :r.count, :c.count, :] = values


__all__ = ["AxisPhase", "Phase", "axis_phases", "phase_operands", "scatter_phase", "tconv_phases"]
