"""The ZigZag-matched configs (hw_configs/zigzag_*.toml) on ResNet-18's layer1.0.conv1 with ZigZag's precisions:
wherever sim's named mapping moves the same data as the mapping ZigZag 3.9.1 reports for the layer, the level's
energy is ZigZag's to the pJ (values from benchmarks/results/zigzag_resnet18.json; docs/zigzag.md)."""
from dataclasses import replace
from pathlib import Path

import pytest

import sim
from sim.analytical.systolic import estimate_systolic
from sim.api import compare as api_compare
from sim.engine.simulate import simulate_layer
from sim.errors import MappingError
from sim.mapping.buffering import auto_decision
from sim.mapping.systolic import array_mapping, map_systolic
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[2]
LAYER = Layer(name="layer1.0.conv1", ifmap_h=56, ifmap_w=56, in_channels=64, out_channels=64, filter_h=3, filter_w=3,
              pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ofmap_bits=8, psum_bits=16)
# ZigZag 3.9.1, tpu_like, /layer1/layer1.0/conv1/Conv: energy per memory level and operand (pJ).
ZIGZAG_TPU = {"mac": 4624220.16, "rf_128b.filter": 10986024.96, "sram_2mb.ifmap": 6169515.52,
              "dram.ifmap": 17561600.0, "dram.filter": 3225600.0, "dram.ofmap": 18816000.0}


def _hw(name: str, dataflow: str):
    hw = sim.load_hardware(ROOT / "hw_configs" / f"zigzag_{name}.toml")
    return hw.model_copy(update={"pe_array": hw.pe_array.model_copy(update={"dataflow": dataflow})})


def test_tpu_like_weight_stationary_prices_macs_weights_inputs_and_dram_as_zigzag():
    result = estimate_systolic(LAYER, _hw("tpu_like", "ws"))
    energy = {f"{c.level}.{c.operand}": c.energy_pj for c in result.levels}
    energy["mac"] = result.energy.as_dict()["mac"]
    for key, value in ZIGZAG_TPU.items():
        assert energy[key] == pytest.approx(value, rel=1e-9), key
    assert result.energy.total_pj == pytest.approx(sum(c.energy_pj for c in result.levels) + energy["mac"])


@pytest.mark.parametrize("name", ["tpu_like", "eyeriss_like"])
@pytest.mark.parametrize("dataflow", ["ws", "os"])
def test_matched_configs_run_in_engine_and_closed_form_alike_under_their_own_levels(name, dataflow):
    hw = _hw(name, dataflow)
    closed, engine = estimate_systolic(LAYER, hw), simulate_layer(LAYER, hw)
    assert closed.levels == engine.levels
    assert closed.energy.total_pj == engine.energy.total_pj
    assert {c.level for c in closed.levels} == {level.name for level in hw.hierarchy}


def test_a_partial_sum_wider_than_the_psum_register_is_a_mapping_error_naming_it():
    layer = Layer(name="c", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=4, filter_h=3, filter_w=3)  # 32-bit psums
    with pytest.raises(MappingError, match="level 'rf_2b' cannot hold one ofmap element"):
        estimate_systolic(layer, _hw("tpu_like", "ws"))


def test_compare_diffs_every_level_and_operand():
    comparison = api_compare([LAYER], _hw("eyeriss_like", "os"))
    level_rows = [d for d in comparison.diffs if d.field.startswith("levels.")]
    assert {d.field for d in level_rows} >= {"levels.rf_16b.ofmap.reads", "levels.sram_1m.ifmap.writes"}
    assert all(d.relative_error == 0 for d in level_rows)
    assert "levels.rf_16b.ofmap.reads" in {s.field for s in comparison.summary()}


def _nearest(layer: Layer, hw):
    """ws with its chunks of T outside the row folds (bench_zigzag.py's nearest record before row folds per fill)."""
    fitted = map_systolic(layer, hw, "ws")
    return array_mapping(layer, "ws", fitted.rows, fitted.cols, chunks=fitted.chunks, whole=fitted.whole,
                         chunk_order="outside_row_folds")


def test_eyeriss_like_partial_sums_stay_on_chip_under_the_chunk_order_as_in_zigzags_nest():
    hw = _hw("eyeriss_like", "ws")
    mapping = _nearest(LAYER, hw)
    assert (mapping.chunks, mapping.row_folds) == (11, 48)
    engine, closed = simulate_layer(LAYER, hw, mapping), estimate_systolic(LAYER, hw, mapping)
    assert engine.levels == closed.levels and engine.energy.total_pj == closed.energy.total_pj
    energy = {f"{c.level}.{c.operand}": c.energy_pj for c in engine.levels}
    innermost = {f"{c.level}.{c.operand}": c.energy_pj for c in estimate_systolic(LAYER, hw).levels}
    # ZigZag 3.9.1, eyeriss_like, layer1.0.conv1: dram.ofmap 25088000 pJ (each output written once, finished).
    assert energy["dram.ofmap"] == pytest.approx(25088000.0, rel=1e-9)
    assert engine.dram_reads.ofmap == 0
    assert energy["sram_1m.ofmap"] < innermost["sram_1m.ofmap"] / 90  # 0.96 vs 91.4 uJ: no partial-sum round trips
    assert energy["sram_8kb.ofmap"] == pytest.approx(innermost["sram_8kb.ofmap"] / 2, rel=0.01)


def test_tpu_like_overlaps_weight_fetches_and_drains_finished_outputs_as_zigzags_latency_model():
    hw = _hw("tpu_like", "ws")
    assert hw.buffers.filter.double_buffered == "auto" and hw.buffers.ofmap.drain_finished
    serial = hw.model_copy(update={"buffers": hw.buffers.model_copy(update={
        "filter": hw.buffers.filter.model_copy(update={"double_buffered": False}),
        "ofmap": hw.buffers.ofmap.model_copy(update={"drain_finished": False})})})
    # docs/zigzag.md: 157 401 cycles with the overlap (ZigZag 138 048), 169 945 fetching then computing.
    assert simulate_layer(LAYER, hw).cycles == 157401
    assert simulate_layer(LAYER, serial).cycles == 169945
    big = Layer(name="layer4.0.conv2", ifmap_h=7, ifmap_w=7, in_channels=512, out_channels=512, filter_h=3,
                filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ofmap_bits=8, psum_bits=16)
    # ZigZag 299 983 cycles: its weight stream overlaps compute; sim 303 598 with the overlap, 559 264 without.
    assert simulate_layer(big, hw).cycles == 303598
    assert simulate_layer(big, serial).cycles == 559264


def test_tpu_like_weights_of_every_row_fold_in_the_registers_keep_partial_sums_in_the_pe_as_zigzag():
    # 576 / 32 = 18 row folds; the 64 B half of rf_128b holds 18 one-byte weights: one fill (docs/zigzag.md), and
    # ZigZag's rule runs rf_128b in halves for it (the next weights preload while one computes).
    hw = _hw("tpu_like", "ws")
    fitted = map_systolic(LAYER, hw, "ws")
    mapping = auto_decision(LAYER, hw, array_mapping(LAYER, "ws", fitted.rows, fitted.cols, chunks=fitted.chunks,
                                                     whole=fitted.whole, row_folds_per_fill=18))
    assert "rf_128b" in mapping.double_buffered
    engine, closed = simulate_layer(LAYER, hw, mapping), estimate_systolic(LAYER, hw, mapping)
    assert engine.levels == closed.levels and engine.energy.total_pj == closed.energy.total_pj
    assert closed.compute_cycles == engine.compute_cycles == 113596  # 115 160 with one row fold per fill
    energy = {f"{c.level}.{c.operand}": c.energy_pj for c in closed.levels}
    # ZigZag 3.9.1: sram_2mb.ofmap 622 935.04 pJ, the finished outputs written once (21.8 uJ per row fold before).
    assert energy["sram_2mb.ofmap"] == pytest.approx(622935.04, rel=1e-9)
    for key, value in ZIGZAG_TPU.items():
        assert energy.get(key, closed.energy.as_dict()["mac"]) == pytest.approx(value, rel=1e-9), key
    big = Layer(name="l3", ifmap_h=14, ifmap_w=14, in_channels=256, out_channels=256, filter_h=3, filter_w=3,
                pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ofmap_bits=8, psum_bits=16)
    fitted = map_systolic(big, hw, "ws")
    whole_fill = array_mapping(big, "ws", fitted.rows, fitted.cols, chunks=fitted.chunks, whole=fitted.whole,
                               row_folds_per_fill=72)
    # 72 one-byte weights fit the whole 128 B register, not its 64 B half: the rule runs it single.
    assert "rf_128b" not in auto_decision(big, hw, whole_fill).double_buffered
    with pytest.raises(MappingError, match="level 'rf_128b', operand filter: 72 row folds per stationary fill"):
        estimate_systolic(big, hw, replace(whole_fill, double_buffered=("rf_128b", "sram_2mb")))


def test_eyeriss_like_runs_its_weight_buffers_in_halves_where_zigzags_rule_does():
    # docs/zigzag.md "Fetch overlap": layer4's 3x3 convs, ws with F = 32 (half of rf_64b_w), 12 fills: ZigZag's rule
    # runs sram_64kb and rf_64b_w in halves, so weight fetches and register preloads overlap compute (ZigZag 730,767).
    hw = _hw("eyeriss_like", "ws")
    big = Layer(name="layer4.0.conv2", ifmap_h=7, ifmap_w=7, in_channels=512, out_channels=512, filter_h=3,
                filter_w=3, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, ofmap_bits=8, psum_bits=16)
    fitted = map_systolic(big, hw, "ws")
    mapping = auto_decision(big, hw, array_mapping(big, "ws", fitted.rows, fitted.cols, chunks=fitted.chunks,
                                                   whole=fitted.whole, row_folds_per_fill=32))
    assert {"sram_64kb", "rf_64b_w"} <= set(mapping.double_buffered)
    assert simulate_layer(big, hw, mapping).cycles == 710306
    # The same tiles with every level single, as the static config ran them (its nearest record, F = 64: 1,169,383).
    single = replace(mapping, double_buffered=())
    assert simulate_layer(big, hw, single).cycles == 1175569
