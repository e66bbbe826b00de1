"""Hardware variants, the area and power rules, constraints, and the vectorized screening vs the per-point model."""
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sim import api
from sim.energy.area import chip_budget
from sim.errors import ConfigError
from sim.hardware.spec import AreaEntry
from sim.sweep.evaluate import (
    METRICS,
    SweepContext,
    area_mm2,
    derived_metrics,
    evaluate_point,
    hardware_variant,
    invalid_values,
    params_json,
    point_key,
    point_params,
    reram_area_mm2,
    screen_chunk,
    violations,
    workload_variant,
)
from sim.sweep.spec import Constraints, Parameter
from sim.sweep.store import POINT_COLUMNS
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[3]
SYSTOLIC_HW = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"

@pytest.fixture(scope="module")
def systolic():
    return api.load_hardware(SYSTOLIC_HW)


@pytest.fixture(scope="module")
def isaac():
    return api.load_hardware(ROOT / "hw_configs" / "isaac.toml")


def context_of(hw, parameters, trace=None, constraints=None):
    trace = trace or Trace("t", (Layer.gemm_layer("g", m=20, n=12, k=18), Layer("c", ifmap_h=6, ifmap_w=6,
                                                                                in_channels=3, out_channels=5,
                                                                                filter_h=3, filter_w=3)))
    context = SweepContext(spec_file="spec.toml", trace=trace, trace_id="t@0", base=hw, base_id="h@0",
                           parameters=tuple(parameters), constraints=constraints or Constraints(), versions="v")
    return replace(context, invalid_values=invalid_values(context))


def test_hardware_variant_sets_nested_fields_and_revalidates(systolic):
    hw = hardware_variant(systolic, {"pe_array.rows": 8, "buffers.ofmap.size_kb": 16})
    assert (hw.pe_array.rows, hw.buffers.ofmap.size_kb, hw.pe_array.cols) == (8, 16, systolic.pe_array.cols)
    with pytest.raises(ConfigError) as error:
        hardware_variant(systolic, {"pe_array.rows": 0}, "s.toml")
    assert error.value.field == "pe_array.rows" and error.value.file == "s.toml"


def test_workload_variant_changes_block_size_of_circulant_layers_only():
    dense = Layer.gemm_layer("dense", m=1, n=16, k=16)
    circulant = Layer.gemm_layer("bc", m=1, n=16, k=16, block_size=4)
    trace = workload_variant(Trace("t", (dense, circulant)), {"workload.block_size": 8})
    assert [layer.block_size for layer in trace.layers] == [1, 8]


def test_area_mac_entries_scale_with_pes_and_whole_components_by_ratio(systolic):
    mac = systolic.area["mac"]
    assert area_mm2(systolic, {}) == pytest.approx(mac.mm2 * mac.count * systolic.pe_array.pes)
    rows = np.array([8, 16])
    assert np.allclose(area_mm2(systolic, {"pe_array.rows": rows}), mac.mm2 * rows * systolic.pe_array.cols)
    whole = systolic.model_copy(update={"area": {"pe_array": AreaEntry(mm2=2.0, source="s"),
                                                 "ifmap_sram": AreaEntry(mm2=1.0, source="s"),
                                                 "core": AreaEntry(mm2=5.0, source="s")}})
    assert area_mm2(whole, {}) == pytest.approx(8.0)
    assert area_mm2(whole, {"pe_array.rows": 16, "buffers.ifmap.size_kb": 128}) == pytest.approx(1.0 + 2.0 + 5.0)
    assert math.isnan(area_mm2(systolic.model_copy(update={"area": {}}), {}))


def test_reram_area_is_chip_budget_at_base_and_grows_with_crossbar_cells(isaac):
    assert reram_area_mm2(isaac, isaac) == pytest.approx(chip_budget(isaac).chip_mm2)
    bigger = hardware_variant(isaac, {"reram.crossbar_rows": 256, "reram.crossbar_cols": 256})
    crossbar = isaac.area["ima.crossbar"]
    extra = 3 * crossbar.mm2 * crossbar.count * isaac.reram.imas_per_tile * isaac.reram.tiles
    assert reram_area_mm2(isaac, bigger) > reram_area_mm2(isaac, isaac) + 0.99 * extra


def test_power_is_energy_over_latency():
    metrics = derived_metrics(cycles=2000, energy_pj=1e6, macs=1000, pes=10, area=2.0, clock=1000.0, buffer=3.0)
    assert metrics["latency_us"] == pytest.approx(2.0)
    assert metrics["power_mw"] == pytest.approx(1e6 * 1e-12 / 2e-6 * 1e3)
    assert metrics["edp"] == pytest.approx(2e6)
    assert metrics["throughput_per_area"] == pytest.approx(2 * 1000 / 2e-6 / 1e9 / 2.0)


def test_violations_name_the_constraint_and_treat_unknown_as_violating():
    metrics = {"area_mm2": np.array([1.0, 3.0, np.nan]), "power_mw": np.array([1.0, 1.0, 1.0])}
    reasons = violations(metrics, Constraints(max_area_mm2=2.0, max_power_mw=5.0), 3)
    assert reasons[0] == "" and "max_area_mm2 2" in reasons[1] and reasons[2] != ""


@pytest.mark.parametrize("vectorized", [True, False])
def test_screened_rows_equal_the_per_point_model(systolic, vectorized):
    parameters = [Parameter("rows", ("pe_array.rows",), (0, 4, 7)), Parameter("df", ("pe_array.dataflow",),
                                                                             ("os", "ws", "is")),
                  Parameter("bw", ("dram.bandwidth_bytes_per_cycle",), (2.0, 16.0))]
    if not vectorized:  # a field outside the closed form's arguments forces the per-point path
        parameters.append(Parameter("acc", ("pe_array.accumulator_bits",), (32,)))
    context = context_of(systolic, parameters)
    rows = [dict(zip(POINT_COLUMNS, row)) for row in screen_chunk(context, np.arange(18))]
    for index, row in enumerate(rows):
        point = point_params(context.parameters, index, context.shape)
        assert row["params"] == params_json(point)
        assert row["key"] == point_key("t@0", "h@0", row["params"])
        if point["pe_array.rows"] == 0:
            assert row["status"] == "failed" and "pe_array.rows" in row["reason"]
            assert all(row[name] is None or math.isnan(row[name]) for name in METRICS)  # NULL in SQLite
            continue
        expected, run = evaluate_point(context, point, engine=False)
        assert row["status"] == "ok"
        assert row["cycles"] == run.totals()["cycles"]
        for name in METRICS:
            assert row[name] == pytest.approx(expected[name], rel=1e-12), name


@pytest.mark.parametrize("vectorized", [True, False])
def test_a_point_whose_tile_does_not_fit_its_buffer_fails_on_both_paths(systolic, vectorized):
    parameters = [Parameter("filter_kb", ("buffers.filter.size_kb",), (0.03125, 64.0))]  # 32 B vs 64 KiB
    if not vectorized:
        parameters.append(Parameter("acc", ("pe_array.accumulator_bits",), (32,)))
    context = context_of(systolic, parameters)
    rows = [dict(zip(POINT_COLUMNS, row)) for row in screen_chunk(context, np.arange(2))]
    assert [row["status"] for row in rows] == ["failed", "ok"]
    assert "fit" in rows[0]["reason"]
    assert all(rows[0][name] is None or math.isnan(rows[0][name]) for name in METRICS)
