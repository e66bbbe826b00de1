"""Crossbar placement: partitions, slices, polarity, circulant modes, replication, errors that say why."""
import pytest

from sim.errors import MappingError
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec
from sim.mapping.crossbar import (
    full_scale_bits,
    input_slices,
    map_crossbar,
    map_crossbar_trace,
)
from sim.workload.layer import Layer


def reram_hw(**fields) -> Hardware:
    return Hardware(name="t", reram=ReramSpec(**fields))


def test_isaac_conv_layer_fills_whole_crossbars():
    layer = Layer(name="conv", ifmap_h=30, ifmap_w=30, in_channels=128, out_channels=128, filter_h=3, filter_w=3)
    m = map_crossbar(layer, reram_hw())
    assert (m.row_partitions, m.col_partitions, m.crossbars) == (9, 8, 72)  # K=1152 rows, 128 x 8 slices columns
    assert m.crossbar_utilization == 1.0
    assert m.input_slices == 16 and m.weight_slices == 8


def test_partial_crossbars_lower_the_cell_utilization():
    m = map_crossbar(Layer.gemm_layer("fc", m=1, n=10, k=100), reram_hw())
    assert m.crossbars == 1
    assert m.crossbar_utilization == pytest.approx(100 * 10 * 8 / (128 * 128))


@pytest.mark.parametrize("encoding, columns", [("offset", 8), ("differential", 16), ("unit_column", 8)])
def test_signed_weight_encodings_use_their_columns(encoding, columns):
    m = map_crossbar(Layer.gemm_layer("fc", m=1, n=1, k=4), reram_hw(signed_weights=encoding))
    assert m.columns_per_row_partition == columns + (1 if encoding == "unit_column" else 0)


def test_separate_crossbars_put_each_slice_on_its_own_crossbar():
    m = map_crossbar(Layer.gemm_layer("fc", m=1, n=128, k=128), reram_hw(slice_placement="separate_crossbars"))
    assert m.col_partitions == 8 and m.crossbar_utilization == 1.0


def test_lossless_adc_bits_follow_the_reference_table():
    assert full_scale_bits(128, 1, 2, False) == 9 and full_scale_bits(128, 1, 2, True) == 8
    assert full_scale_bits(128, 2, 2, False) == 11 and full_scale_bits(256, 1, 2, False) == 10
    assert full_scale_bits(32, 1, 2, True) == 6
    assert map_crossbar(Layer.gemm_layer("fc", m=1, n=1, k=4),
                        reram_hw(adc=AdcSpec(bits="lossless", column_flip=True))).adc_bits_configured == 8


def test_signed_inputs_add_one_sign_read():
    assert input_slices(16, 1, True) == 16 and input_slices(16, 2, True) == 9 and input_slices(16, 2, False) == 8


def test_compressed_circulant_needs_k_times_fewer_crossbars_and_k_rounds():
    layer = Layer.gemm_layer("fc", m=1, n=1024, k=1024, block_size=16)
    expanded = map_crossbar(layer, reram_hw(block_circulant="expanded"))
    compressed = map_crossbar(layer, reram_hw(block_circulant="compressed"))
    assert expanded.crossbars == 16 * compressed.crossbars
    assert compressed.rounds == 16 and expanded.rounds == 1
    assert expanded.unique_weight_utilization == pytest.approx(1 / 16)
    assert compressed.unique_weight_utilization == pytest.approx(1.0)


def test_duplication_fills_idle_columns_and_cuts_rounds():
    layer = Layer.gemm_layer("fc", m=1, n=64, k=1024, block_size=64)  # p = 1 block-row: 8 of 128 columns used
    base = map_crossbar(layer, reram_hw(block_circulant="compressed"))
    auto = map_crossbar(layer, reram_hw(block_circulant="compressed", duplication="auto"))
    assert auto.duplication == 16 and auto.rounds == 4 and base.rounds == 64
    assert auto.crossbar_utilization == pytest.approx(16 * base.crossbar_utilization)
    assert auto.crossbars == base.crossbars


def test_duplication_must_divide_the_block():
    layer = Layer.gemm_layer("fc", m=1, n=64, k=64, block_size=16)
    with pytest.raises(MappingError, match="must divide the block size"):
        map_crossbar(layer, reram_hw(block_circulant="compressed", duplication=3))


def test_layer_too_big_for_the_chip_says_how_many_crossbars():
    with pytest.raises(MappingError, match=r"needs 8192 crossbars .* the board has 96"):
        map_crossbar(Layer.gemm_layer("fc", m=1, n=4096, k=4096), reram_hw(tiles=1))


def test_auto_chips_grow_the_board_to_hold_the_trace():
    hw = reram_hw(tiles=1, chips="auto", replicate_layers=False)
    layers = (Layer.gemm_layer("fc1", m=1, n=4096, k=4096), Layer.gemm_layer("fc2", m=1, n=10, k=4096))
    mappings = map_crossbar_trace(layers, hw)
    assert sum(m.crossbars for m in mappings) == 8192 + 32
    assert hw.reram.crossbar_capacity(8224) == 96 * 86
    four = tuple(Layer.gemm_layer(f"fc{i}", m=1, n=128, k=1024) for i in range(4))  # 64 crossbars each
    with pytest.raises(MappingError, match="the trace needs 256 crossbars but the board has 192"):
        map_crossbar_trace(four, reram_hw(tiles=1, chips=2))


def test_weight_slices_wider_than_a_crossbar_are_rejected():
    with pytest.raises(MappingError, match="slices do not fit"):
        map_crossbar(Layer.gemm_layer("fc", m=1, n=1, k=4), reram_hw(crossbar_cols=4))


def test_no_reram_section_is_a_mapping_error():
    hw = Hardware.model_validate({"name": "sys", "pe_array": {"rows": 4, "cols": 4},
                                  "buffers": {op: {"size_kb": 1} for op in ("ifmap", "filter", "ofmap")},
                                  "dram": {"bandwidth_bytes_per_cycle": 8}})
    with pytest.raises(MappingError, match="no \\[reram\\] section"):
        map_crossbar(Layer.gemm_layer("fc", m=1, n=1, k=4), hw)


def test_replication_balances_the_pipeline_within_capacity():
    hw = reram_hw(tiles=2)
    layers = (Layer(name="c1", ifmap_h=18, ifmap_w=18, in_channels=3, out_channels=16, filter_h=3, filter_w=3),
              Layer.gemm_layer("fc", m=1, n=10, k=256))
    mappings = map_crossbar_trace(layers, hw)
    assert mappings[0].replication > 1 and mappings[1].replication == 1
    assert sum(m.crossbars for m in mappings) <= hw.reram.crossbars_total
    assert map_crossbar_trace(layers, reram_hw(tiles=2, replicate_layers=False))[0].replication == 1


def test_placement_enumerates_every_crossbar_into_imas_and_tiles():
    m = map_crossbar(Layer(name="c", ifmap_h=10, ifmap_w=10, in_channels=64, out_channels=64, filter_h=3,
                           filter_w=3, groups=2), reram_hw())
    table = m.placement()
    assert len(table) == m.crossbars_per_replica
    assert table[:, 3].sum() == m.groups * m.layer.gemm.k * m.col_partitions
    assert table[:, 5].max() + 1 == m.imas and table[:, 6].max() + 1 == m.tiles
