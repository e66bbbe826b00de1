"""The closed-form systolic model (sim.analytical.systolic): cycles, counts, DRAM traffic, stalls, energy."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.analytical.systolic import (
    estimate_systolic,
    estimate_systolic_grid,
    fold_cycles,
    fold_sram_counts,
    layer_compute_cycles,
)
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import array_mapping, map_systolic
from sim.workload.layer import Layer

ENERGY = {key: {"pj": pj, "source": "test"} for key, pj in (
    ("mac", 0.2), ("ifmap_sram.read", 1.0), ("filter_sram.read", 1.5), ("ofmap_sram.read", 2.0),
    ("ofmap_sram.write", 2.5), ("ifmap_sram.write", 1.1), ("filter_sram.write", 1.2), ("dram.read_byte", 20.0),
    ("dram.write_byte", 25.0), ("leakage.cycle", 3.0))}


def _hw(rows=8, cols=8, dataflow="ws", kb=64.0, bandwidth=16.0, convention="native", double_buffered=True):
    sram = {"size_kb": kb, "double_buffered": double_buffered}
    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow,
                                        "cycle_convention": convention},
                    buffers={"ifmap": sram, "filter": sram, "ofmap": sram},
                    dram={"bandwidth_bytes_per_cycle": bandwidth}, energy=ENERGY)


CONV = Layer("c", ifmap_h=10, ifmap_w=10, in_channels=5, out_channels=20, filter_h=3, filter_w=3)


def test_fold_cycle_conventions_on_a_hand_example():
    layer = Layer.gemm_layer("g", m=5, n=7, k=9)
    mapping = array_mapping(layer, "ws", 4, 3)  # Sr = K = 9, Sc = N = 7, T = 5
    # native: R + r + c + T - 2 with r in (4, 4, 1) and c in (3, 3, 1)
    assert fold_cycles(mapping, "native").tolist() == [14, 14, 11, 14, 14, 11, 12, 12, 9]
    assert fold_cycles(mapping, "scalesim").tolist() == [2 * 4 + 3 + 5 - 2] * 9
    assert layer_compute_cycles(mapping, "scalesim") == 9 * 14 - 1
    os_mapping = array_mapping(layer, "os", 4, 3)
    assert set(fold_cycles(os_mapping, "scalesim").tolist()) == {4 + 3 + 9 - 2}


def test_unknown_convention_is_a_mapping_error():
    with pytest.raises(MappingError, match="unknown cycle convention.*'fast'.*native, scalesim"):
        fold_cycles(array_mapping(CONV, "os", 4, 4), "fast")


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_fold_sram_counts_add_up_to_the_layer_counts(dataflow):
    hw = _hw(dataflow=dataflow)
    mapping = map_systolic(CONV, hw)
    result = estimate_systolic(CONV, hw)
    totals = fold_sram_counts(mapping).sum(axis=0)
    assert totals.tolist() == [result.sram_reads.ifmap, result.sram_reads.filter, result.sram_reads.ofmap,
                               result.sram_writes.ofmap]
    g = CONV.gemm
    if dataflow == "ws":
        assert result.sram_reads.filter == g.k * g.n  # stationary: each weight read once
        assert result.sram_reads.ifmap == mapping.col_folds * g.m * g.k
        assert result.sram_reads.ofmap == (mapping.row_folds - 1) * g.m * g.n
    if dataflow == "os":
        assert result.sram_writes.ofmap == g.m * g.n and result.sram_reads.ofmap == 0
    if dataflow == "is":
        assert result.sram_reads.ifmap == g.m * g.k


def test_result_fields_are_consistent_and_energy_is_counts_times_table():
    result = estimate_systolic(CONV, _hw())
    assert result.model == "analytical" and result.macs == CONV.macs
    assert result.cycles == result.compute_cycles + result.stall_cycles
    assert result.utilization == pytest.approx(CONV.macs / (64 * result.cycles))
    actions = result.actions.as_dict()
    assert actions["mac"] == CONV.macs and actions["leakage.cycle"] == result.cycles
    assert actions["ifmap_sram.read"] == result.sram_reads.ifmap
    assert actions["ofmap_sram.write"] == result.sram_writes.ofmap
    assert actions["ifmap_sram.write"] == result.dram_reads.ifmap
    expected = sum(count * ENERGY[key]["pj"] for key, count in actions.items())
    assert result.energy.total_pj == pytest.approx(expected)


def test_dram_traffic_is_unique_operands_when_everything_fits():
    result = estimate_systolic(CONV, _hw(kb=64))
    assert result.dram_reads.ifmap == CONV.ifmap_elements
    assert result.dram_reads.filter == CONV.filter_elements
    assert result.dram_writes.ofmap == CONV.ofmap_elements and result.dram_reads.ofmap == 0


def _hw_sizes(dataflow, ifmap_kb, filter_kb, ofmap_kb, double_buffered=False, rows=8, cols=8):
    def sram(kb):
        return {"size_kb": kb, "double_buffered": double_buffered}

    return Hardware(name="t", pe_array={"rows": rows, "cols": cols, "dataflow": dataflow},
                    buffers={"ifmap": sram(ifmap_kb), "filter": sram(filter_kb), "ofmap": sram(ofmap_kb)},
                    dram={"bandwidth_bytes_per_cycle": np.inf}, energy=ENERGY)


GEMM = Layer.gemm_layer("g", m=20, n=20, k=20)  # 8-bit ifmap/filter, 32-bit ofmap


def test_dram_traffic_follows_the_tile_plan_when_nothing_fits():
    # ws on 8x8: K on rows (3 row folds), N on columns (3 column folds), M = 20 streamed. Slots of 256 bytes hold
    # 256 ifmap / filter elements and 64 ofmap elements: an ofmap tile of 8 columns fits 8 pixels of M, so every
    # fold streams M in 3 chunks and every step fetches new ifmap and ofmap tiles.
    result = estimate_systolic(GEMM, _hw_sizes("ws", 0.25, 0.25, 0.25))
    assert dict(result.extra)["chunks"] == 3
    assert result.dram_reads.ifmap == 3 * 20 * 20  # once per column fold
    assert result.dram_reads.filter == 20 * 20  # stationary: each fold's block once
    assert result.dram_writes.ofmap == 3 * 20 * 20  # partial sums drained once per row fold
    assert result.dram_reads.ofmap == 2 * 20 * 20  # and read back by the two later row folds


def test_an_unchunked_tile_over_the_columns_stays_resident_across_row_folds():
    # A 4 KiB ofmap SRAM holds the whole ofmap: no drains of partial sums; the ifmap still fits 32 pixels per
    # row-fold tile (one chunk), re-fetched per column fold because row folds alternate.
    result = estimate_systolic(GEMM, _hw_sizes("ws", 0.25, 0.25, 4.0))
    assert dict(result.extra)["chunks"] == 1
    assert result.dram_writes.ofmap == 20 * 20 and result.dram_reads.ofmap == 0
    assert result.dram_reads.ifmap == 3 * 20 * 20
    # One row fold (K <= rows): the ifmap tile (all of M x K) is the same for every column fold: fetched once.
    single_row_fold = estimate_systolic(Layer.gemm_layer("g", m=20, n=20, k=8), _hw_sizes("ws", 0.25, 0.25, 4.0))
    assert single_row_fold.dram_reads.ifmap == 20 * 8


def test_a_tile_that_cannot_fit_is_the_engines_mapping_error():
    with pytest.raises(MappingError, match="stationary filter block \\(64 elements\\) does not fit"):
        estimate_systolic(GEMM, _hw_sizes("ws", 4.0, 0.03125, 4.0))


def test_stalls_follow_the_bandwidth_roofline():
    fast = estimate_systolic(CONV, _hw(bandwidth=np.inf))
    slow = estimate_systolic(CONV, _hw(bandwidth=0.5))
    assert fast.stall_cycles == 0 and fast.cycles == fast.compute_cycles
    dram_bytes = dict(slow.extra)["dram_read_bytes"] + dict(slow.extra)["dram_write_bytes"]
    assert dict(slow.extra)["memory_cycles"] == int(np.ceil(dram_bytes / 0.5)) > slow.compute_cycles
    assert slow.cycles >= dict(slow.extra)["memory_cycles"]
    assert slow.compute_cycles == fast.compute_cycles


def test_first_tiles_and_latency_delay_the_start_and_the_last_drain_the_end():
    hw = _hw(bandwidth=2.0, kb=64.0)
    hw = hw.model_copy(update={"dram": hw.dram.model_copy(update={"latency_cycles": 100})})
    result = estimate_systolic(CONV, hw)
    # Everything fits: the first tiles are the whole ifmap and filter; the last drain is the whole ofmap (4 B each).
    expected = (result.compute_cycles + 100 + CONV.ifmap_elements // 2 + CONV.filter_elements // 2
                + CONV.ofmap_elements * 4 // 2)
    assert result.cycles == max(expected, dict(result.extra)["memory_cycles"]) == expected


@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from([0.25, 1.0, 64.0]), st.sampled_from([0.5, 4.0, 1e9]), st.sampled_from(["native", "scalesim"]))
def test_grid_equals_the_scalar_estimate(rows, cols, dataflow, kb, bandwidth, convention):
    hw = _hw(rows, cols, dataflow, kb, bandwidth, convention)
    grid = estimate_systolic_grid(CONV, np.array([rows, 1]), np.array([cols, 1]), dataflow, ifmap_kb=kb,
                                  filter_kb=kb, ofmap_kb=kb, bandwidth_bytes_per_cycle=bandwidth,
                                  convention=convention)
    try:
        result = estimate_systolic(CONV, hw)
    except MappingError:
        # The scalar raises the engine's error where a tile cannot fit; the grid marks the point instead.
        assert not grid["fits"][0]
        return
    assert grid["fits"][0]
    assert grid["cycles"][0] == result.cycles and grid["compute_cycles"][0] == result.compute_cycles
    assert grid["folds"][0] == result.folds
    assert grid["utilization"][0] == pytest.approx(result.utilization)
    assert grid["mapping_efficiency"][0] == pytest.approx(result.mapping_efficiency)
    assert grid["dram_ifmap_reads"][0] == result.dram_reads.ifmap
    assert grid["dram_ofmap_reads"][0] == result.dram_reads.ofmap
    assert grid["dram_ofmap_writes"][0] == result.dram_writes.ofmap
    assert grid["sram_filter_reads"][0] == result.sram_reads.filter
    if convention == "native":
        assert result.compute_cycles == int(fold_cycles(map_systolic(CONV, hw), "native").sum())


def test_grid_broadcasts_dataflow_codes_and_rejects_bad_parameters():
    grid = estimate_systolic_grid(CONV, np.array([[4], [8]]), np.array([4, 8, 16]), np.array([0, 1, 2]))
    assert grid["cycles"].shape == (2, 3)
    assert grid["stall_cycles"].max() == 0  # unlimited bandwidth by default
    with pytest.raises(MappingError, match="array size must be positive"):
        estimate_systolic_grid(CONV, np.array([0]), np.array([4]), "os")
    with pytest.raises(MappingError, match="unknown dataflow"):
        estimate_systolic_grid(CONV, np.array([4]), np.array([4]), "rs")
    with pytest.raises(MappingError, match="unknown dataflow code"):
        estimate_systolic_grid(CONV, np.array([4]), np.array([4]), np.array([3]))


def test_per_operand_dram_port_caps_its_operand():
    hw = _hw(bandwidth=np.inf)
    capped = hw.model_copy(update={"dram": hw.dram.model_copy(update={"filter_bandwidth_bytes_per_cycle": 0.01})})
    result = estimate_systolic(CONV, capped)
    filter_cycles = int(np.ceil(CONV.filter_elements / 0.01))
    assert dict(result.extra)["memory_cycles"] == filter_cycles
    # The whole filter is the first filter tile: the array waits for it before its first fold.
    assert result.cycles == result.compute_cycles + filter_cycles


def test_a_mapping_of_another_layer_is_refused():
    other = array_mapping(Layer.gemm_layer("other", m=2, n=2, k=2), "ws", 8, 8)
    with pytest.raises(MappingError, match="mapping 'ws' is for another problem than layer 'c'"):
        estimate_systolic(CONV, _hw(), other)
