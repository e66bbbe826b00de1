"""The closed-form systolic model (sim.analytical.systolic): cycles, counts, DRAM traffic, stalls, energy."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from sim.analytical.systolic import (
    estimate_systolic,
    estimate_systolic_grid,
    fold_cycles,
    fold_sram_counts,
    layer_compute_cycles,
)
from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.systolic import SystolicMapping, map_systolic
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
    mapping = SystolicMapping(Layer.gemm_layer("g", m=5, n=7, k=9), "ws", 4, 3)  # Sr = K = 9, Sc = N = 7, T = 5
    # native: R + r + c + T - 2 with r in (4, 4, 1) and c in (3, 3, 1)
    assert fold_cycles(mapping, "native").tolist() == [14, 14, 11, 14, 14, 11, 12, 12, 9]
    assert fold_cycles(mapping, "scalesim").tolist() == [2 * 4 + 3 + 5 - 2] * 9
    assert layer_compute_cycles(mapping, "scalesim") == 9 * 14 - 1
    os_mapping = SystolicMapping(mapping.layer, "os", 4, 3)
    assert set(fold_cycles(os_mapping, "scalesim").tolist()) == {4 + 3 + 9 - 2}


def test_unknown_convention_is_a_mapping_error():
    with pytest.raises(MappingError, match="unknown cycle convention.*'fast'.*native, scalesim"):
        fold_cycles(SystolicMapping(CONV, "os", 4, 4), "fast")


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


def test_dram_refetch_when_operands_do_not_fit():
    hw = _hw(dataflow="ws", kb=0.25, double_buffered=False)  # 256 bytes each: nothing of CONV fits
    mapping = map_systolic(CONV, hw)
    result = estimate_systolic(CONV, hw)
    assert result.dram_reads.ifmap == mapping.col_folds * CONV.ifmap_elements
    assert result.dram_reads.filter == CONV.filter_elements  # ws keeps the filter stationary: one pass
    assert result.dram_writes.ofmap == mapping.row_folds * CONV.ofmap_elements  # partial sums spill
    assert result.dram_reads.ofmap == (mapping.row_folds - 1) * CONV.ofmap_elements


def test_stalls_follow_the_bandwidth_roofline():
    fast = estimate_systolic(CONV, _hw(bandwidth=1e6))
    slow = estimate_systolic(CONV, _hw(bandwidth=0.5))
    assert fast.stall_cycles == 0 and fast.cycles == fast.compute_cycles
    dram_bytes = dict(slow.extra)["dram_read_bytes"] + dict(slow.extra)["dram_write_bytes"]
    assert slow.cycles == int(np.ceil(dram_bytes / 0.5)) > slow.compute_cycles
    assert slow.compute_cycles == fast.compute_cycles


@given(st.integers(1, 40), st.integers(1, 40), st.sampled_from(["os", "ws", "is"]),
       st.sampled_from([0.25, 1.0, 64.0]), st.sampled_from([0.5, 4.0, 1e9]), st.sampled_from(["native", "scalesim"]))
def test_grid_equals_the_scalar_estimate(rows, cols, dataflow, kb, bandwidth, convention):
    hw = _hw(rows, cols, dataflow, kb, bandwidth, convention)
    result = estimate_systolic(CONV, hw)
    grid = estimate_systolic_grid(CONV, np.array([rows, 1]), np.array([cols, 1]), dataflow, ifmap_kb=kb,
                                  filter_kb=kb, ofmap_kb=kb, bandwidth_bytes_per_cycle=bandwidth,
                                  convention=convention)
    assert grid["cycles"][0] == result.cycles and grid["compute_cycles"][0] == result.compute_cycles
    assert grid["folds"][0] == result.folds
    assert grid["utilization"][0] == pytest.approx(result.utilization)
    assert grid["mapping_efficiency"][0] == pytest.approx(result.mapping_efficiency)
    assert grid["dram_ifmap_reads"][0] == result.dram_reads.ifmap
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
    hw = _hw(bandwidth=1e6)
    capped = hw.model_copy(update={"dram": hw.dram.model_copy(update={"filter_bandwidth_bytes_per_cycle": 0.01})})
    result = estimate_systolic(CONV, capped)
    assert result.cycles == int(np.ceil(CONV.filter_elements / 0.01))


def test_a_mapping_of_another_layer_is_refused():
    other = SystolicMapping(Layer.gemm_layer("other", m=2, n=2, k=2), "ws", 8, 8)
    with pytest.raises(MappingError, match="mapping is for layer 'other', not 'c'"):
        estimate_systolic(CONV, _hw(), other)
