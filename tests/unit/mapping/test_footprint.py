"""Ifmap footprints (sim.mapping.footprint): every way of counting equals a brute-force count over the explicit
im2col block, for random conv / dilated / strided / padded / tconv / depthwise / batched layers and block edges."""
import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sim.errors import TraceError
from sim.mapping.footprint import (
    _raster_rectangles,
    block_footprints,
    footprint_counter,
    is_plain_matrix,
    real_axes,
    real_plane,
)
from sim.workload.layer import Layer


def stored_pixel_im2col(layer: Layer) -> np.ndarray:
    """int64 (M, K): the stored ifmap element (of one group) each im2col entry reads, or -1 (padding, inserted zero).

    Built from the definitions alone: rows (batch, e, f) in raster order, columns (r, s, c) with c fastest."""
    real = real_plane(layer)
    height, width = real.shape
    ofmap_h, ofmap_w = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    channels = layer.in_channels // layer.groups
    batch, e, f, r, s, c = np.meshgrid(np.arange(layer.batch), np.arange(ofmap_h), np.arange(ofmap_w),
                                       np.arange(layer.filter_h), np.arange(layer.filter_w), np.arange(channels),
                                       indexing="ij")
    y = e * stride_h + r * layer.dilation_h
    x = f * stride_w + s * layer.dilation_w
    element = ((batch * height + y) * width + x) * channels + c
    return np.where(real[y, x], element, -1).reshape(layer.gemm.m, layer.gemm.k)


def brute_force(layer: Layer, m_edges, k_edges) -> np.ndarray:
    im2col = stored_pixel_im2col(layer)
    out = np.zeros((len(m_edges) - 1, len(k_edges) - 1), dtype=np.int64)
    for i in range(len(m_edges) - 1):
        for j in range(len(k_edges) - 1):
            block = im2col[m_edges[i]:m_edges[i + 1], k_edges[j]:k_edges[j + 1]]
            out[i, j] = np.unique(block[block >= 0]).size
    return out


@st.composite
def conv_layers(draw):
    kind = draw(st.sampled_from(["conv", "conv", "depthwise", "tconv"]))
    filter_h, filter_w = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation_h, dilation_w = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2]))
    in_channels = groups * draw(st.integers(1, 3))
    if kind == "depthwise":
        groups = in_channels = draw(st.integers(1, 4))
    pads = [draw(st.integers(0, dilation * (size - 1)))
            for dilation, size in ((dilation_h, filter_h), (dilation_h, filter_h), (dilation_w, filter_w),
                                   (dilation_w, filter_w))]
    try:
        layer = Layer(name="f", kind="tconv" if kind == "tconv" else "conv", ifmap_h=draw(st.integers(1, 9)),
                      ifmap_w=draw(st.integers(1, 9)), in_channels=in_channels, out_channels=groups,
                      filter_h=filter_h, filter_w=filter_w, stride_h=draw(st.integers(1, 3)),
                      stride_w=draw(st.integers(1, 3)), pad_top=pads[0], pad_bottom=pads[1], pad_left=pads[2],
                      pad_right=pads[3], dilation_h=dilation_h, dilation_w=dilation_w, groups=groups,
                      batch=draw(st.integers(1, 3)))
    except TraceError:
        assume(False)
    return layer


@st.composite
def edges(draw, total):
    """Increasing edges within [0, total], not necessarily covering it."""
    cuts = draw(st.lists(st.integers(0, total), min_size=2, max_size=6, unique=True))
    return np.array(sorted(cuts), dtype=np.int64)


# (few_blocks, touches_per_product_count): the default choice, then each way of counting forced.
WAYS = [None, (10**9, 10**9), (0, 10**9), (0, 0)]


@settings(max_examples=150, deadline=None)
@given(conv_layers(), st.data(), st.sampled_from(WAYS))
def test_block_footprints_equal_distinct_stored_elements_of_the_im2col_block(layer, data, way):
    m_edges = data.draw(edges(layer.gemm.m))
    k_edges = data.draw(edges(layer.gemm.k))
    if way is None:
        counted = block_footprints(layer, m_edges, k_edges)
    else:
        few_blocks, touches = way
        counted = footprint_counter(layer, few_blocks=few_blocks, touches_per_product_count=touches)(m_edges, k_edges)
    assert counted.dtype == np.int64
    assert counted.tolist() == brute_force(layer, m_edges, k_edges).tolist()


@settings(max_examples=40, deadline=None)
@given(conv_layers(), st.data())
def test_a_counter_gives_the_same_counts_when_reused_across_tilings(layer, data):
    counter = footprint_counter(layer, few_blocks=0, touches_per_product_count=500)
    for _ in range(3):
        m_edges = data.draw(edges(layer.gemm.m))
        k_edges = data.draw(edges(layer.gemm.k))
        assert counter(m_edges, k_edges).tolist() == brute_force(layer, m_edges, k_edges).tolist()


@given(conv_layers())
def test_the_stored_plane_is_the_product_of_its_rows_and_columns(layer):
    rows, cols = real_axes(layer)
    plane = real_plane(layer)
    assert plane.sum() == layer.ifmap_h * layer.ifmap_w
    assert (plane == np.outer(rows, cols)).all()


@given(st.integers(0, 60), st.integers(1, 60), st.integers(1, 9))
def test_raster_rectangles_cover_exactly_the_range(start, length, width):
    stop = start + length
    covered = []
    for row_lo, row_hi, col_lo, col_hi in _raster_rectangles(start, stop, width):
        assert 0 <= col_lo < col_hi <= width and row_lo < row_hi
        covered += [row * width + col for row in range(row_lo, row_hi) for col in range(col_lo, col_hi)]
    assert len(_raster_rectangles(start, stop, width)) <= 3
    assert sorted(covered) == list(range(start, stop))


def test_plain_matrix_blocks_are_their_size():
    layer = Layer.gemm_layer("g", m=10, n=4, k=7)
    assert is_plain_matrix(layer)
    assert block_footprints(layer, np.array([0, 3, 10]), np.array([0, 7])).tolist() == [[21], [49]]


def test_conv1_of_resnet50_on_a_ws_tiling_by_hand_checked_totals():
    # 7x7 stride 2 pad 3 over 224x224x3: 128-row column blocks span 43 taps, the rest 7; 13 chunks of 112x112 rows.
    layer = Layer("conv1", ifmap_h=224, ifmap_w=224, in_channels=3, out_channels=64, filter_h=7, filter_w=7,
                  stride_h=2, stride_w=2, pad_top=3, pad_bottom=3, pad_left=3, pad_right=3)
    m_edges = (layer.gemm.m * np.arange(14)) // 13
    counted = block_footprints(layer, m_edges, np.array([0, 128, 147]))
    expected = brute_force(layer, m_edges, np.array([0, 128, 147]))
    assert counted.tolist() == expected.tolist()
    # The whole layer touches every stored pixel once (all 3 channels): the ifmap's size.
    assert block_footprints(layer, np.array([0, layer.gemm.m]), np.array([0, layer.gemm.k])).item() == 224 * 224 * 3


@settings(max_examples=80, deadline=None)
@given(conv_layers(), st.data())
def test_k_chunkings_equal_the_brute_force_sums_of_every_chunking(layer, data):
    """The mapper's batched count: for many chunk counts of K at once, the sum over the blocks and the first
    block's footprint, as brute force over the explicit im2col blocks."""
    g = layer.gemm
    assume(not is_plain_matrix(layer) and g.k >= 1 and g.m >= 1)
    m_edges = data.draw(edges(g.m))
    assume(m_edges.size >= 2)
    chunks = np.array(data.draw(st.lists(st.integers(1, g.k), min_size=1, max_size=6)), dtype=np.int64)
    totals, firsts = footprint_counter(layer).k_chunkings(m_edges, g.k, chunks)
    for c, total, first in zip(chunks.tolist(), totals.tolist(), firsts.tolist()):
        reference = brute_force(layer, m_edges, (g.k * np.arange(c + 1)) // c)
        assert total == reference.sum() and first == reference[0, 0]


@settings(max_examples=80, deadline=None)
@given(conv_layers(), st.data())
def test_m_chunkings_equal_the_brute_force_sums_of_every_chunking(layer, data):
    """The mapper's batched count for ws: many chunk counts of M at once over fixed column edges."""
    g = layer.gemm
    assume(not is_plain_matrix(layer) and g.k >= 1 and g.m >= 1)
    k_edges = data.draw(edges(g.k))
    assume(k_edges.size >= 2)
    chunks = np.array(data.draw(st.lists(st.integers(1, g.m), min_size=1, max_size=6)), dtype=np.int64)
    counted = footprint_counter(layer).m_chunkings(k_edges, g.m, chunks)
    assert counted is not None
    totals, firsts = counted
    for c, total, first in zip(chunks.tolist(), totals.tolist(), firsts.tolist()):
        reference = brute_force(layer, (g.m * np.arange(c + 1)) // c, k_edges)
        assert total == reference.sum() and first == reference[0, 0]


@st.composite
def wide_conv_layers(draw):
    """Strided, dilated, large-window (up to 7x7), grouped / depthwise, padded, batched convolutions with enough
    ofmap rows for long chunk ladders."""
    filter_h, filter_w = draw(st.integers(1, 7)), draw(st.integers(1, 7))
    dilation_h, dilation_w = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    groups = draw(st.sampled_from([1, 2, 3]))
    in_channels = groups * draw(st.integers(1, 3))
    pads = [draw(st.integers(0, dilation * (size - 1)))
            for dilation, size in ((dilation_h, filter_h), (dilation_h, filter_h), (dilation_w, filter_w),
                                   (dilation_w, filter_w))]
    try:
        layer = Layer(name="w", kind=draw(st.sampled_from(["conv", "conv", "tconv"])),
                      ifmap_h=draw(st.integers(1, 14)), ifmap_w=draw(st.integers(1, 14)),
                      in_channels=in_channels, out_channels=groups, filter_h=filter_h, filter_w=filter_w,
                      stride_h=draw(st.integers(1, 3)), stride_w=draw(st.integers(1, 3)), pad_top=pads[0],
                      pad_bottom=pads[1], pad_left=pads[2], pad_right=pads[3], dilation_h=dilation_h,
                      dilation_w=dilation_w, groups=groups, batch=draw(st.integers(1, 2)))
    except TraceError:
        assume(False)
    assume(not is_plain_matrix(layer) and layer.gemm.m >= 1 and layer.gemm.k >= 1)
    return layer


def one_tiling_at_a_time(layer: Layer, m_edges, k_edges) -> tuple[int, int]:
    """(sum of the block footprints, the first block's) by the counter's per-tiling count."""
    blocks = footprint_counter(layer)(np.asarray(m_edges, dtype=np.int64), np.asarray(k_edges, dtype=np.int64))
    return int(blocks.sum()), int(blocks[0, 0])


def steps(extent: int, step: int) -> np.ndarray:
    return np.append(np.arange(0, extent, step, dtype=np.int64), extent)


@settings(max_examples=60, deadline=None)
@given(wide_conv_layers(), st.integers(1, 20))
def test_every_ws_chunking_of_m_equals_the_one_tiling_at_a_time_count(layer, row_ext):
    """ws: M chunked into every count 1..M (long chunks, more chunks than half the rows, chunks shorter than a
    linked pair's span) over column blocks of `row_ext` columns of K."""
    g = layer.gemm
    chunks = np.arange(1, g.m + 1, dtype=np.int64)
    counted = footprint_counter(layer).m_chunkings(steps(g.k, row_ext), g.m, chunks)
    assert counted is not None
    for c, total, first in zip(chunks.tolist(), *(part.tolist() for part in counted)):
        assert (total, first) == one_tiling_at_a_time(layer, (g.m * np.arange(c + 1)) // c, steps(g.k, row_ext))


@settings(max_examples=60, deadline=None)
@given(wide_conv_layers(), st.integers(1, 20))
def test_every_os_chunking_of_k_equals_the_one_tiling_at_a_time_count(layer, row_ext):
    g = layer.gemm
    chunks = np.arange(1, g.k + 1, dtype=np.int64)
    counted = footprint_counter(layer).k_chunkings(steps(g.m, row_ext), g.k, chunks)
    for c, total, first in zip(chunks.tolist(), *(part.tolist() for part in counted)):
        assert (total, first) == one_tiling_at_a_time(layer, steps(g.m, row_ext), (g.k * np.arange(c + 1)) // c)


@settings(max_examples=60, deadline=None)
@given(wide_conv_layers(), st.integers(1, 20))
def test_every_is_row_extent_equals_the_one_tiling_at_a_time_count(layer, col_ext):
    """is: column folds of `col_ext` rows of M, row folds (fills) of every extent of K."""
    g = layer.gemm
    extents = np.arange(1, g.k + 1, dtype=np.int64)
    counted = footprint_counter(layer).k_tilings(steps(g.m, col_ext), g.k, extents)
    for extent, total, first in zip(extents.tolist(), *(part.tolist() for part in counted)):
        assert (total, first) == one_tiling_at_a_time(layer, steps(g.m, col_ext), steps(g.k, extent))


@settings(max_examples=40, deadline=None)
@given(conv_layers(), st.data())
def test_k_tilings_equal_the_brute_force_sums(layer, data):
    g = layer.gemm
    assume(not is_plain_matrix(layer) and g.k >= 1 and g.m >= 1)
    m_edges = data.draw(edges(g.m))
    extents = np.array(data.draw(st.lists(st.integers(1, g.k), min_size=1, max_size=4)), dtype=np.int64)
    totals, firsts = footprint_counter(layer).k_tilings(m_edges, g.k, extents)
    for extent, total, first in zip(extents.tolist(), totals.tolist(), firsts.tolist()):
        reference = brute_force(layer, m_edges, steps(g.k, extent))
        assert total == reference.sum() and first == reference[0, 0]


def test_m_chunkings_give_way_when_their_tables_would_be_too_large():
    layer = Layer("c", ifmap_h=12, ifmap_w=12, in_channels=1, out_channels=1, filter_h=3, filter_w=3)
    g = layer.gemm
    assert footprint_counter(layer).m_chunkings(steps(g.k, g.k), g.m, np.arange(1, g.m + 1), max_table=g.m) is None
