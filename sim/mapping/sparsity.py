"""N:M structured weight sparsity: the compressed filter's storage, its metadata, and the pruning itself.

A layer with `sparsity_n < sparsity_m` keeps N non-zero weights in every M consecutive window (K) elements of
each filter column (K x N filter matrix, per group); the array holds the compressed filter of ceil(K/M)*N rows
(Layer.gemm). Metadata per representation, in 1-byte words, as SCALE-Sim 3.0.0's SPARSE_REPORT counts it
(measured on real runs, tests/data/scalesim/golden_sparse.csv):

- csr: one row pointer per dense filter row plus one (K + 1) and one column index per stored weight;
- csc: one column pointer per filter plus one (N + 1) and one row index per stored weight;
- ellpack_block: ceil(log2 M) bits of position per stored weight, 32 bits to a metadata word; none when dense.

Storage = stored weights + metadata; the metadata is read from SRAM once per layer (SCALE-Sim's "Avg FILTER
Metadata SRAM BW" = metadata / Total Cycles).

Beyond SCALE-Sim (docs/scalesim_compat.md "beyond SCALE-Sim"):
- unstructured weight sparsity (Layer.weight_density < 1): nnz = ceil(density x K x N) stored weights per group,
  metadata by the same csr / csc counts (their index words over the K x N matrix), ellpack_block as one block
  of the whole window: ceil(log2 K) position bits per stored weight. The array still runs the dense GEMM (a
  systolic os/ws/is array cannot compact arbitrary zeros without SIGMA's flexible interconnect), so cycles and
  traffic stay the dense layer's; the MACs with a zero weight are clock-gated (Eyeriss v2), saving energy only.
- activation sparsity (Layer.ifmap_density < 1): with `skip_zero_activations` the MACs on zero activations are
  gated as well (Eyeriss's zero-skipping: energy, not cycles); every ifmap SRAM read passes a zero detector.
Effective MACs = dense MACs x (nnz / (K x N)) x (ifmap_density when skipping zero activations, else 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.workload.layer import Layer

DEFAULT_REPRESENTATION = "ellpack_block"
ELLPACK_WORD_BITS = 32  # bits of position metadata per ellpack_block metadata word (SCALE-Sim 3.0.0, measured)


@dataclass(frozen=True)
class SparseStorage:
    """A layer's filter storage in words: dense, stored (the non-zeros of the compressed filter) and metadata."""

    representation: str
    original_words: int  # the dense filter, K x N per group
    stored_words: int  # the compressed filter's weights (padding of a last partial block included)
    metadata_words: float

    @property
    def total_words(self) -> float:
        return self.stored_words + self.metadata_words


def sparse_storage(layer: Layer, representation: str = DEFAULT_REPRESENTATION) -> SparseStorage:
    """The filter storage of `layer` under `representation` (csr, csc or ellpack_block)."""
    dense, stored = layer.dense_gemm, layer.gemm
    groups = dense.groups
    original = groups * dense.k * dense.n
    nonzero = groups * (layer.nonzero_weights_per_group if layer.weight_density < 1 else
                        layer.optimized_mapping.stored if layer.optimized_mapping is not None else stored.k * stored.n)
    if representation == "csr":
        metadata: float = groups * (dense.k + 1) + nonzero
    elif representation == "csc":
        metadata = groups * (dense.n + 1) + nonzero
    elif representation == "ellpack_block":
        block = layer.optmap_block or layer.sparsity_m if layer.is_sparse else dense.k if layer.weight_density < 1 else 1
        position_bits = math.ceil(math.log2(block)) if block > 1 else 0
        metadata = nonzero * position_bits / ELLPACK_WORD_BITS
    else:
        raise ValueError(f"unknown sparse representation {representation!r}")
    return SparseStorage(representation, original, nonzero, metadata)


def has_density(layer: Layer) -> bool:
    """True for unstructured weight sparsity or a sparse ifmap (the options beyond SCALE-Sim)."""
    return layer.weight_density < 1 or layer.ifmap_density < 1


def metadata_bits(layer: Layer, representation: str) -> int:
    """The index bits of an unstructured-sparse filter (per group K x N, nnz non-zeros), packed to the fewest bits
    an index needs: csr (K + 1) row pointers of bits(nnz) + nnz column indices of bits(N - 1); csc (N + 1) column
    pointers + nnz row indices of bits(K - 1); ellpack_block nnz row positions of bits(K - 1)."""
    dense, nnz = layer.dense_gemm, layer.nonzero_weights_per_group
    width = lambda largest: max(1, int(largest).bit_length())  # bits of an unsigned index 0..largest
    per_group = {"csr": (dense.k + 1) * width(nnz) + nnz * width(dense.n - 1),
                 "csc": (dense.n + 1) * width(nnz) + nnz * width(dense.k - 1),
                 "ellpack_block": nnz * width(dense.k - 1)}[representation]
    return dense.groups * per_group


def effective_macs(layer: Layer, skip_zero_activations: bool) -> float:
    """The MACs a layer really performs: the run's MACs less those gated on a zero weight (unstructured sparsity)
    and, with `skip_zero_activations`, on a zero activation (expected value: x ifmap_density)."""
    dense = layer.dense_gemm
    macs = float(dense.groups * dense.m * layer.nonzero_weights_per_group) if layer.weight_density < 1 \
        else float(layer.macs)
    return macs * layer.ifmap_density if skip_zero_activations else macs


def sparsity_extras(layer: Layer, representation: str | None,
                    skip_zero_activations: bool = False) -> dict[str, float]:
    """LayerResult extras for a sparse layer or a sparsity-aware array: storage, metadata reads and dense MACs
    (and, for unstructured / activation sparsity, the densities and effective MACs)."""
    if representation is None and not layer.is_sparse and not has_density(layer):
        return {}
    storage = sparse_storage(layer, representation or DEFAULT_REPRESENTATION)
    extras = {
        "sparsity.n": layer.sparsity_n,
        "sparsity.m": layer.sparsity_m,
        "sparsity.original_filter_words": storage.original_words,
        "sparsity.stored_filter_words": storage.stored_words,
        "sparsity.metadata_words": storage.metadata_words,
        "sparsity.metadata_sram_reads": storage.metadata_words,
        "dense_macs": layer.dense_macs,
    }
    if has_density(layer) or skip_zero_activations:
        extras.update({"sparsity.metadata_bits": metadata_bits(layer, storage.representation),
                       "sparsity.weight_density": layer.weight_density,
                       "sparsity.ifmap_density": layer.ifmap_density,
                       "effective_macs": effective_macs(layer, skip_zero_activations)})
    return extras


def measured_densities(layer: Layer, seed: int) -> dict[str, float]:
    """Functional mode: the densities of the seeded operands (sim.mapping.operands.random_operands) and the MACs
    with both operands non-zero (lowered ifmap, padding included: what a zero-skipping array really performs)."""
    from sim.mapping.operands import filter_matrix, ifmap_matrix, random_operands

    ifmap, filters = random_operands(layer, seed)
    a, b = ifmap_matrix(layer, ifmap) != 0, filter_matrix(layer, filters) != 0
    nonzero_macs = sum(int((a[g].sum(axis=0, dtype=np.int64) * b[g].sum(axis=1, dtype=np.int64)).sum())
                       for g in range(a.shape[0]))  # sum_k (non-zero a in column k) x (non-zero b in row k)
    return {"functional.weight_density": float(np.count_nonzero(filters)) / max(filters.size, 1),
            "functional.ifmap_density": float(np.count_nonzero(ifmap)) / max(ifmap.size, 1),
            "functional.nonzero_macs": float(nonzero_macs)}


def prune_unstructured(weights: np.ndarray, keep: int) -> np.ndarray:
    """`weights` (K x N) with all but the `keep` largest-magnitude entries zeroed (magnitude pruning; ties: the
    lower row-major index), so exactly `keep` positions may be non-zero."""
    flat = np.abs(weights.astype(np.float64)).ravel()
    order = np.argsort(-flat, kind="stable")  # stable: the lower index first among equals
    mask = np.zeros(flat.size, dtype=bool)
    mask[order[:keep]] = True
    return np.where(mask.reshape(weights.shape), weights, 0).astype(weights.dtype)


def prune_n_of_m(weights: np.ndarray, n: int, m: int) -> np.ndarray:
    """`weights` (K x N) with all but the n largest-magnitude of every m consecutive rows of each column zeroed
    (ties: the lower row); the last block may be short."""
    if n >= m:
        return weights.copy()
    k = weights.shape[0]
    blocks = -(-k // m)
    padded = np.zeros((blocks * m, weights.shape[1]), dtype=weights.dtype)
    padded[:k] = weights
    grouped = np.abs(padded.reshape(blocks, m, -1).astype(np.float64))
    # stable sort of -|w| keeps the lower row first among equals
    order = np.argsort(-grouped, axis=1, kind="stable")
    keep = np.zeros_like(grouped, dtype=bool)
    np.put_along_axis(keep, order[:, :n, :], True, axis=1)
    return np.where(keep.reshape(blocks * m, -1)[:k], weights, 0).astype(weights.dtype)


def compress_n_of_m(weights: np.ndarray, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The compressed filter of N:M-pruned `weights` (K x N): (values, rows), each ceil(K/m)*n x N, the kept
    weights of every block in row order with their dense row index (a block's unused slots: value 0, and a row
    index that may lie in the zero padding below K)."""
    k, cols = weights.shape
    blocks = -(-k // m)
    padded = np.zeros((blocks * m, cols), dtype=weights.dtype)
    padded[:k] = prune_n_of_m(weights, n, m)
    grouped = padded.reshape(blocks, m, cols)
    slots = np.argsort(grouped == 0, axis=1, kind="stable")[:, :n, :]  # non-zeros first, in row order
    values = np.take_along_axis(grouped, slots, axis=1).reshape(blocks * n, cols)
    rows = (slots + (np.arange(blocks) * m)[:, None, None]).reshape(blocks * n, cols)
    return values, rows


def sparse_gemm_exact(a: np.ndarray, b: np.ndarray, n: int, m: int, chunk: int = 64) -> np.ndarray:
    """a (M x K) times the N:M-compressed b (K x N) as the sparse array computes it: each column's stored
    weights meet the activations their metadata selects; exact int64 (M x N)."""
    values, rows = compress_n_of_m(b, n, m)
    k = a.shape[1]
    padded = np.zeros((a.shape[0], -(-k // m) * m), dtype=np.int64)
    padded[:, :k] = a
    out = np.zeros((a.shape[0], b.shape[1]), dtype=np.int64)
    for start in range(0, b.shape[1], chunk):  # bounded memory: M x K_c x chunk gathered activations
        part = slice(start, start + chunk)
        gathered = padded[:, rows[:, part]]  # (M, K_c, chunk)
        out[:, part] = np.einsum("mkc,kc->mc", gathered, values[:, part].astype(np.int64))
    return out
