"""Block-circulant layers (CirCNN): dense expansion, FFT form, and the compressed (ReBoc-style) crossbar run.

A layer of p x q blocks of size k is given by its defining vectors w (p x q x k). We use the first-row
convention, block C[r, c] = w[(c - r) mod k], so output r of block-row i is
a_i[r] = sum_j <w_ij, rot_r(x_j)> with rot_r(x)[m] = x[(m + r) mod k] (numpy's roll by -r), and the FFT
form is a_i = IFFT(sum_j conj(FFT(w_ij)) * FFT(x_j)).

The compressed mapping stores, for every block-row i and copy c < u, the column w_i1 | ... | w_iq rotated
by c*k/u; rotation round r < k/u drives the rows with rot_r of every input tile and yields outputs
r + c*k/u of every block-row (docs/reram.md §4).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from sim.hardware.spec import NonIdealitySpec
from sim.kernels.crossbar import CrossbarOutput, crossbar_mvm, exact_product
from sim.mapping.crossbar import BitSlicing


def expand(vectors: np.ndarray) -> np.ndarray:
    """Dense weights (q*k inputs x p*k outputs) of the block-circulant layer given by vectors (p x q x k)."""
    p, q, k = vectors.shape
    r = np.arange(k)[None, :]  # output index inside the block
    c = np.arange(k)[:, None]  # input index inside the block
    blocks = vectors[:, :, (c - r) % k]  # (p, q, k_in, k_out)
    return blocks.transpose(1, 2, 0, 3).reshape(q * k, p * k)


def fft_product(vectors: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """inputs (V x q*k) through the layer, computed in the frequency domain (float64)."""
    p, q, k = vectors.shape
    x = np.fft.fft(inputs.reshape(inputs.shape[0], q, k).astype(np.float64), axis=2)  # (V, q, k)
    w = np.conj(np.fft.fft(vectors.astype(np.float64), axis=2))  # (p, q, k)
    spectrum = np.einsum("vqf,pqf->vpf", x, w)
    return np.real(np.fft.ifft(spectrum, axis=2)).reshape(inputs.shape[0], p * k)


def compressed_columns(vectors: np.ndarray, duplication: int) -> np.ndarray:
    """Stored weights (q*k rows x p*u columns): column i*u + c holds w_i1..w_iq rolled by c*k/u."""
    p, q, k = vectors.shape
    step = k // duplication
    copies = [np.roll(vectors, c * step, axis=2) for c in range(duplication)]  # each (p, q, k)
    stacked = np.stack(copies, axis=1)  # (p, u, q, k)
    return stacked.reshape(p * duplication, q * k).T


def rotate_tiles(inputs: np.ndarray, k: int, r: int) -> np.ndarray:
    """rot_r applied to every k-element input tile: x'[j*k + m] = x[j*k + (m + r) mod k]."""
    v, n = inputs.shape
    return np.roll(inputs.reshape(v, n // k, k), -r, axis=2).reshape(v, n)


def compressed_mvm(vectors: np.ndarray, inputs: np.ndarray, slicing: BitSlicing, duplication: int,
                   non_ideal: NonIdealitySpec | None = None, seed: int = 0) -> CrossbarOutput:
    """The compressed mapping's functional result: k/u rotation rounds over the stored defining vectors.

    Row partitions hold whole blocks (floor(rows / k) per crossbar), so `slicing.rows_per_partition` is
    set here. The same seed programs the same cells in every round.
    """
    p, _, k = vectors.shape
    stored = compressed_columns(vectors, duplication)
    rows = max(1, slicing.crossbar_rows // k) * k
    slicing = replace(slicing, rows_per_partition=rows)
    rounds = k // duplication
    outputs = np.zeros((inputs.shape[0], p * k), dtype=np.float64)
    required = None
    for r in range(rounds):
        result = crossbar_mvm(stored, rotate_tiles(inputs, k, r), slicing, non_ideal, seed)
        for c in range(duplication):
            outputs[:, np.arange(p) * k + r + c * rounds] = result.outputs[:, np.arange(p) * duplication + c]
        required = result.required_bits if required is None else np.maximum(required, result.required_bits)
    exact = exact_product(expand(vectors), np.asarray(inputs, dtype=np.int64))
    error = float(np.abs(outputs - exact).max(initial=0.0))
    return CrossbarOutput(outputs=outputs, exact=exact, output_error=error, required_bits=required,
                          configured_bits=slicing.adc_bits, columns=result.columns)
