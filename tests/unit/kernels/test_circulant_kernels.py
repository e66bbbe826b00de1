"""Block-circulant kernels: the first-row convention, the FFT form, compressed columns and rotations."""
import numpy as np

from sim.kernels.circulant import compressed_columns, expand, fft_product, rotate_tiles


def test_expansion_uses_the_first_row_convention():
    vectors = np.arange(1, 5).reshape(1, 1, 4)
    block = expand(vectors).T  # rows = outputs
    assert block.tolist() == [[1, 2, 3, 4], [4, 1, 2, 3], [3, 4, 1, 2], [2, 3, 4, 1]]


def test_fft_form_equals_the_dense_product():
    rng = np.random.default_rng(0)
    vectors = rng.integers(-9, 9, size=(3, 2, 8))
    x = rng.integers(-9, 9, size=(4, 16))
    assert np.allclose(fft_product(vectors, x), x @ expand(vectors))


def test_compressed_column_rounds_rebuild_every_output():
    rng = np.random.default_rng(1)
    vectors = rng.integers(-9, 9, size=(2, 3, 4))
    x = rng.integers(-9, 9, size=(1, 12))
    dense = x @ expand(vectors)
    u = 2
    stored = compressed_columns(vectors, u)
    assert stored.shape == (12, 4)
    for r in range(4 // u):
        part = rotate_tiles(x, 4, r) @ stored
        for c in range(u):
            assert np.array_equal(part[:, [i * u + c for i in range(2)]], dense[:, [i * 4 + r + c * 2 for i in range(2)]])
