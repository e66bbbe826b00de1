"""TinyADC's crossbar-aware pruning: at most n non-zero weights per crossbar column segment, and the ADC
bits that then suffice, per column or per crossbar.

A column segment is one output's weights inside one row partition (the rows one ADC conversion sums).
Magnitude pruning keeps each segment's n largest |w| (ties: the lower row) and zeroes the rest. With
zero weights stored as zero cells (differential encoding), a read's column sum is then at most
n (2^d-1)(2^c-1), so `ceil(log2(n (2^d-1)(2^c-1) + 1))` ADC bits are lossless: every halving of n saves
one bit (Yuan et al., "TinyADC", DATE 2021; reference notes §4).
"""
from __future__ import annotations

import numpy as np

from sim.errors import MappingError
from sim.mapping.crossbar import bits_for, ceil_div, full_scale_bits

ADC_SIZING = ("column", "crossbar")


def _segments(weights: np.ndarray, segment_rows: int) -> np.ndarray:
    """weights (K x N) as (segments x segment_rows x N), zero-padded below."""
    k, n = weights.shape
    segments = ceil_div(k, segment_rows)
    padded = np.zeros((segments * segment_rows, n), dtype=weights.dtype)
    padded[:k] = weights
    return padded.reshape(segments, segment_rows, n)


def prune_column_segments(weights: np.ndarray, segment_rows: int, nonzero: int) -> np.ndarray:
    """`weights` (K x N) with all but the `nonzero` largest-magnitude weights of every column segment zeroed."""
    if segment_rows < 1 or nonzero < 1:
        raise MappingError("pruning needs positive segment rows and non-zero count", field="reram.prune_nonzero",
                           value=(segment_rows, nonzero), allowed=">= 1")
    weights = np.asarray(weights)
    k = weights.shape[0]
    blocks = _segments(weights, segment_rows)
    order = np.argsort(-np.abs(blocks), axis=1, kind="stable")  # largest first, lower row on ties
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(segment_rows)[None, :, None], axis=1)
    kept = np.where(rank < nonzero, blocks, 0)
    return kept.reshape(-1, weights.shape[1])[:k]


def segment_nonzero(weights: np.ndarray, segment_rows: int) -> np.ndarray:
    """Non-zero weights per column segment, (segments x N)."""
    return np.count_nonzero(_segments(np.asarray(weights), segment_rows), axis=1)


def tinyadc_bits(nonzero: int, dac_bits: int, cell_bits: int) -> int:
    """ceil(log2(n (2^d-1)(2^c-1) + 1)): lossless ADC bits for a column segment with n non-zero cells."""
    return full_scale_bits(nonzero, dac_bits, cell_bits, column_flip=False)


def adc_bits_per_column(weights: np.ndarray, segment_rows: int, dac_bits: int, cell_bits: int, *,
                        sizing: str = "column", outputs_per_crossbar: int = 1) -> np.ndarray:
    """ADC bits each output's columns need, (N,), from the non-zero count of its fullest segment.

    `sizing = "crossbar"` gives every output the largest need among the outputs that share its crossbar
    (consecutive groups of `outputs_per_crossbar`): one ADC resolution per crossbar.
    """
    if sizing not in ADC_SIZING:
        raise MappingError("unknown ADC sizing", field="adc_sizing", value=sizing, allowed=", ".join(ADC_SIZING))
    unit = (2 ** dac_bits - 1) * (2 ** cell_bits - 1)
    counts = segment_nonzero(weights, segment_rows).max(axis=0, initial=0)
    bits = np.array([bits_for(int(c) * unit) for c in counts], dtype=np.int64)
    if sizing == "crossbar" and bits.size:
        groups = ceil_div(bits.size, outputs_per_crossbar)
        padded = np.zeros(groups * outputs_per_crossbar, dtype=np.int64)
        padded[:bits.size] = bits
        bits = np.repeat(padded.reshape(groups, -1).max(axis=1), outputs_per_crossbar)[:counts.size]
    return bits


__all__ = ["ADC_SIZING", "adc_bits_per_column", "prune_column_segments", "segment_nonzero", "tinyadc_bits"]
