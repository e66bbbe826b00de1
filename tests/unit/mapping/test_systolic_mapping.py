"""os / ws / is as mapping records: folds tile the GEMM exactly once, in SCALE-Sim's order, with the right occupancy."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import array_mapping, map_systolic
from sim.workload.layer import Layer

# The documented table (GEMM axis 0 = M, 1 = K, 2 = N on rows, cols, streamed), independent of the records.
DATAFLOW_AXES = {"os": (0, 2, 1), "ws": (1, 2, 0), "is": (1, 0, 2)}


def _hw(**pe_array):
    return Hardware(name="t", pe_array={"rows": 4, "cols": 3, **pe_array},
                    buffers={"ifmap": {"size_kb": 4}, "filter": {"size_kb": 4}, "ofmap": {"size_kb": 4}},
                    dram={"bandwidth_bytes_per_cycle": 8})


@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20), st.integers(1, 3),
       st.integers(1, 7), st.integers(1, 7), st.sampled_from(["os", "ws", "is"]))
def test_folds_cover_every_gemm_point_once(m, k, n, groups, rows, cols, dataflow):
    layer = Layer("g", kind="gemm", ifmap_h=m, in_channels=k * groups, out_channels=n * groups, groups=groups)
    mapping = array_mapping(layer, dataflow, rows, cols)
    covered = np.zeros((groups, m, k, n), dtype=np.int64)
    for g, m0, m1, k0, k1, n0, n1 in mapping.fold_bounds:
        covered[g, m0:m1, k0:k1, n0:n1] += 1
    assert (covered == 1).all()
    assert mapping.folds == len(mapping.fold_bounds) == groups * mapping.row_folds * mapping.col_folds
    used = mapping.fold_used
    assert (used[:, 0] <= rows).all() and (used[:, 1] <= cols).all() and (used >= 1).all()
    assert mapping.mapping_efficiency == pytest.approx(mapping.fold_mapping_efficiency.mean())
    # Per group and column fold, the used rows add up to the spatial extent on the rows.
    assert used[:, 0].sum() == groups * mapping.col_folds * mapping.spatial_rows
    assert used[:, 1].sum() == groups * mapping.row_folds * mapping.spatial_cols


@given(st.integers(1, 20), st.integers(1, 20), st.integers(1, 20), st.integers(1, 3),
       st.integers(1, 7), st.integers(1, 7), st.sampled_from(["os", "ws", "is"]))
def test_fold_bounds_enumerate_groups_then_column_folds_then_row_folds(m, k, n, groups, rows, cols, dataflow):
    layer = Layer("g", kind="gemm", ifmap_h=m, in_channels=k * groups, out_channels=n * groups, groups=groups)
    mapping = array_mapping(layer, dataflow, rows, cols)
    row_axis, col_axis, _ = DATAFLOW_AXES[dataflow]
    dims = (m, k, n)
    expected, used = [], []
    for group in range(groups):
        for col_lo in range(0, dims[col_axis], cols):
            for row_lo in range(0, dims[row_axis], rows):
                lo, hi = [0, 0, 0], list(dims)
                lo[row_axis], hi[row_axis] = row_lo, min(row_lo + rows, dims[row_axis])
                lo[col_axis], hi[col_axis] = col_lo, min(col_lo + cols, dims[col_axis])
                expected.append([group, lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]])
                used.append([hi[row_axis] - lo[row_axis], hi[col_axis] - lo[col_axis]])
    assert mapping.fold_bounds.dtype == mapping.fold_used.dtype == np.int64
    assert mapping.fold_bounds.tolist() == expected
    assert mapping.fold_used.tolist() == used


def test_fold_order_is_groups_then_column_folds_then_row_folds():
    layer = Layer.gemm_layer("g", m=5, n=7, k=9)
    mapping = array_mapping(layer, "ws", 4, 3)  # rows hold K (3 row folds), cols hold N (3 column folds)
    bounds = mapping.fold_bounds
    assert mapping.row_folds == 3 and mapping.col_folds == 3
    assert bounds[:3, 3].tolist() == [0, 4, 8]  # k0 advances first (row folds inner)
    assert bounds[:3, 5].tolist() == [0, 0, 0]
    assert bounds[3, 5] == 3
    assert mapping.fold_row_index.tolist() == [0, 1, 2] * 3
    assert mapping.temporal == 5


@pytest.mark.parametrize("dataflow, stationary, streamed", [("os", "ofmap", ("ifmap", "filter")),
                                                            ("ws", "filter", ("ifmap",)),
                                                            ("is", "ifmap", ("filter",))])
def test_stationary_and_streamed_operands(dataflow, stationary, streamed):
    mapping = array_mapping(Layer.gemm_layer("g", m=2, n=2, k=2), dataflow, 2, 2)
    assert mapping.stationary == stationary
    assert mapping.streamed == streamed
    row_axis, col_axis, time_axis = DATAFLOW_AXES[dataflow]
    assert (mapping.spatial_rows, mapping.spatial_cols, mapping.temporal) == (
        mapping.gemm_dims[row_axis], mapping.gemm_dims[col_axis], mapping.gemm_dims[time_axis])


def test_depthwise_layer_maps_one_fold_set_per_group():
    layer = Layer("dw", ifmap_h=5, ifmap_w=5, in_channels=4, out_channels=4, filter_h=3, filter_w=3, groups=4)
    mapping = array_mapping(layer, "os", 4, 4)
    assert mapping.groups == 4
    assert mapping.gemm_dims == (9, 9, 1)
    assert sorted(set(mapping.fold_bounds[:, 0].tolist())) == [0, 1, 2, 3]


def test_map_systolic_uses_the_config_and_allows_an_override():
    layer = Layer.gemm_layer("g", m=3, n=3, k=3)
    assert map_systolic(layer, _hw(dataflow="is")).dataflow == "is"
    assert map_systolic(layer, _hw(dataflow="is"), "os").dataflow == "os"
    mapping = map_systolic(layer, _hw())
    assert (mapping.rows, mapping.cols) == (4, 3)


def test_map_systolic_rejects_unknown_dataflow_and_non_systolic_hardware():
    layer = Layer.gemm_layer("g", m=3, n=3, k=3)
    with pytest.raises(MappingError, match="unknown dataflow.*'rs'.*os, ws, is"):
        map_systolic(layer, _hw(), "rs")
    reram = Hardware(name="x", reram={})
    with pytest.raises(MappingError, match="no \\[pe_array\\]"):
        map_systolic(layer, reram)
