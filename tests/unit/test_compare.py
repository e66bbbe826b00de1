"""sim.compare: engine vs analytical, field by field."""
import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.compare import compare_runs, relative_error
from sim.records import LayerResult, OperandCounts, RunResult


def layer(name="l", cycles=100, stalls=0, ifmap_reads=10, **kwargs) -> LayerResult:
    return LayerResult(name=name, kind="conv", model="engine", macs=1000, cycles=cycles, compute_cycles=cycles - stalls,
                       stall_cycles=stalls, utilization=0.5, mapping_efficiency=1.0,
                       sram_reads=OperandCounts(ifmap=ifmap_reads), **kwargs)


def run(*layers, model="engine") -> RunResult:
    return RunResult(hardware="hw", trace="t", model=model, layers=tuple(layers))


@given(st.floats(-1e9, 1e9), st.floats(-1e9, 1e9))
def test_relative_error_is_symmetric_in_sign_and_zero_only_when_equal(measured, reference):
    error = relative_error(measured, reference)
    assert error >= 0
    assert (error == 0) == (measured == reference)
    if reference != 0:
        assert math.isclose(error, abs(measured - reference) / abs(reference))


def test_identical_runs_have_zero_error_everywhere():
    a = run(layer("a"), layer("b", cycles=7))
    comparison = compare_runs(a, replace(a, model="analytical"))
    assert all(d.relative_error == 0 for d in comparison.diffs)
    assert all(row.worst == 0 and row.mean == 0 for row in comparison.summary())
    assert comparison.violations(0.0) == ()


def test_field_errors_summary_and_tolerance(tmp_path):
    engine = run(layer("a", ifmap_reads=11), layer("b", ifmap_reads=10))
    analytical = run(layer("a", ifmap_reads=10), layer("b", ifmap_reads=10), model="analytical")
    comparison = compare_runs(engine, analytical)
    summary = {row.field: row for row in comparison.summary()}
    assert summary["sram_reads.ifmap"].worst == pytest.approx(0.1)
    assert summary["sram_reads.ifmap"].mean == pytest.approx(0.05)
    assert summary["sram_reads.ifmap"].worst_layer == "a"
    assert [(d.layer, d.field) for d in comparison.violations(0.05)] == [("a", "sram_reads.ifmap")]
    comparison.write_csv(tmp_path / "compare.csv")
    lines = (tmp_path / "compare.csv").read_text().splitlines()
    assert lines[0] == "layer,field,engine,analytical,relative_error"
    assert len(lines) == 1 + len(comparison.diffs)


def test_stalls_are_relative_to_the_analytical_cycles_not_to_zero_stalls():
    comparison = compare_runs(run(layer(cycles=110, stalls=10)), run(layer(cycles=100, stalls=0), model="analytical"))
    stalls = next(d for d in comparison.diffs if d.field == "stall_cycles")
    assert stalls.relative_error == pytest.approx(0.1)


def test_runs_over_different_layers_are_refused():
    with pytest.raises(ValueError):
        compare_runs(run(layer("a")), run(layer("b"), model="analytical"))
