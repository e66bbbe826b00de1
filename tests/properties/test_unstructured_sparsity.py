"""Unstructured weight sparsity and activation sparsity (beyond SCALE-Sim, sim.mapping.sparsity): engine =
analytical, MACs conserved, energy of gated MACs and metadata, functional values equal numpy on the pruned
weights, density 1.0 = today's numbers, trace columns and their errors."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.errors import TraceError
from sim.hardware.spec import Hardware
from sim.mapping.operands import filter_matrix, ifmap_matrix, ofmap_from_matrix, random_operands
from sim.mapping.sparsity import effective_macs, metadata_bits, prune_unstructured, sparse_storage
from sim.report.writer import DENSITY_COLUMNS, sparse_header, sparse_report_rows
from sim.workload.layer import Layer
from sim.workload.trace_csv import format_trace_csv, parse_trace_csv

DENSITIES = st.sampled_from([1.0, 0.9, 0.5, 0.35, 0.1, 0.01])


def _hw(dataflow: str, skip: bool = False, representation: str = "csr") -> Hardware:
    return Hardware.model_validate({
        "name": "t", "pe_array": {"rows": 4, "cols": 4, "dataflow": dataflow},
        "buffers": {op: {"size_kb": 64} for op in ("ifmap", "filter", "ofmap")},
        "dram": {"bandwidth_bytes_per_cycle": 64},
        "sparsity": {"representation": representation, "skip_zero_activations": skip},
        "energy": {"mac": {"pj": 1.0, "source": "test"}, "sparsity_metadata.read": {"pj": 0.5, "source": "test"},
                   "zero_detect.check": {"pj": 0.25, "source": "test"}}})


@st.composite
def sparse_layers(draw: st.DrawFn) -> Layer:
    r = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2]))
    return Layer("u", ifmap_h=draw(st.integers(r, 7)), ifmap_w=draw(st.integers(r, 7)), filter_h=r, filter_w=r,
                 in_channels=groups * draw(st.integers(1, 6)), out_channels=groups * draw(st.integers(1, 8)),
                 groups=groups, stride_h=draw(st.integers(1, 2)), weight_density=draw(DENSITIES),
                 ifmap_density=draw(DENSITIES))


@settings(max_examples=30, deadline=None)
@given(sparse_layers(), st.sampled_from(["os", "ws", "is"]), st.booleans(), st.sampled_from(["csr", "csc",
                                                                                                 "ellpack_block"]))
def test_engine_equals_analytical_and_cycles_are_the_dense_layers(layer: Layer, dataflow: str, skip: bool,
                                                                   representation: str) -> None:
    hw = _hw(dataflow, skip, representation)
    engine, model = sim.simulate([layer], hw).layers[0], sim.estimate([layer], hw).layers[0]
    assert (engine.cycles, engine.macs, engine.sram_reads, engine.sram_writes, engine.actions, engine.energy) == \
           (model.cycles, model.macs, model.sram_reads, model.sram_writes, model.actions, model.energy)
    assert {k: v for k, v in engine.extra if k.startswith("sparsity.") or k.endswith("macs")} == \
           {k: v for k, v in model.extra if k.startswith("sparsity.") or k.endswith("macs")}
    dense = sim.simulate([replace(layer, weight_density=1.0, ifmap_density=1.0)], hw).layers[0]
    # conservative rule: a systolic array gates zero operands, it does not compact them
    assert (engine.cycles, engine.macs, engine.sram_reads, engine.dram_reads) == \
           (dense.cycles, dense.macs, dense.sram_reads, dense.dram_reads)
    extra = dict(engine.extra)
    if layer.weight_density == layer.ifmap_density == 1 and not skip:  # dense: today's extras and energy
        assert "effective_macs" not in extra and engine.energy == dense.energy
        return
    g = layer.dense_gemm
    nnz = layer.nonzero_weights_per_group
    assert nnz == (g.k * g.n if layer.weight_density == 1 else max(1, -(-round(layer.weight_density * g.k * g.n
                                                                                 * 1e9) // 10**9)))
    expected = g.groups * g.m * nnz * (layer.ifmap_density if skip else 1.0)
    assert extra["effective_macs"] == pytest.approx(expected) and extra["effective_macs"] <= engine.macs
    assert extra["dense_macs"] == engine.macs  # MACs conserved: run = dense; effective = dense x skipped fraction
    # energy: only the effective MACs charged, plus the metadata reads and (when skipping) one check per ifmap read
    actions = engine.actions.as_dict()
    assert actions["mac"] == extra["effective_macs"]
    assert actions["sparsity_metadata.read"] == extra["sparsity.metadata_words"]
    assert actions.get("zero_detect.check", 0) == (engine.sram_reads.ifmap if skip else 0)
    storage = sparse_storage(layer, representation)
    assert storage.stored_words == g.groups * nnz and storage.original_words == g.groups * g.k * g.n


def test_metadata_formulas() -> None:
    layer = Layer.gemm_layer("g", m=4, n=10, k=20, weight_density=0.25)  # 50 non-zeros
    assert layer.nonzero_weights_per_group == 50
    assert sparse_storage(layer, "csr").metadata_words == 21 + 50
    assert sparse_storage(layer, "csc").metadata_words == 11 + 50
    assert sparse_storage(layer, "ellpack_block").metadata_words == 50 * 5 / 32  # ceil(log2 20) = 5 bits each
    # packed index bits: pointers 0..50 need 6 bits, column indices 0..9 need 4, row indices 0..19 need 5
    assert metadata_bits(layer, "csr") == 21 * 6 + 50 * 4
    assert metadata_bits(layer, "csc") == 11 * 6 + 50 * 5
    assert metadata_bits(layer, "ellpack_block") == 50 * 5
    assert Layer.gemm_layer("g", m=1, n=10, k=1, weight_density=0.3).nonzero_weights_per_group == 3  # not 4


@settings(max_examples=25, deadline=None)
@given(sparse_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(0, 1000))
def test_functional_values_equal_numpy_on_the_pruned_weights(layer: Layer, dataflow: str, seed: int) -> None:
    ifmap, filters = random_operands(layer, seed)
    b = filter_matrix(layer, filters)
    assert all((group != 0).sum() <= layer.nonzero_weights_per_group for group in b)
    assert (ifmap != 0).sum() <= max(1, -(-round(layer.ifmap_density * ifmap.size * 1e9) // 10**9))
    expected = ofmap_from_matrix(layer, np.einsum("gmk,gkn->gmn", ifmap_matrix(layer, ifmap).astype(np.int64),
                                                  b.astype(np.int64)))
    run = sim.simulate([layer], _hw(dataflow, skip=True), functional=True, seed=seed)
    assert run.layers[0].functional.max_abs_error == 0
    assert expected.size == run.layers[0].functional.elements


@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 2**31))
def test_magnitude_pruning_keeps_the_largest(k: int, cols: int, seed: int) -> None:
    w = np.random.default_rng(seed).integers(-9, 10, size=(k, cols))
    keep = int(np.random.default_rng(seed + 1).integers(1, k * cols + 1))
    pruned = prune_unstructured(w, keep)
    kept = pruned != 0
    assert kept.sum() <= keep and (pruned[kept] == w[kept]).all()
    if kept.any() and (~kept & (w != 0)).any():
        assert np.abs(w[~kept]).max() <= np.abs(w[kept]).min()


def test_density_one_gives_todays_numbers() -> None:
    layer = Layer("d", ifmap_h=9, ifmap_w=9, filter_h=3, filter_w=3, in_channels=5, out_channels=7)
    assert replace(layer, weight_density=1.0, ifmap_density=1.0) == layer
    hw = sim.load_hardware(Path(__file__).resolve().parents[2] / "hw_configs" / "scalesim_32x32_ws.toml")
    strip = lambda run: [{k: v for k, v in r.to_dict().items() if k != "sim_wall_s"} for r in run.layers]
    assert strip(sim.simulate([layer], hw)) == strip(sim.simulate([replace(layer, weight_density=1)], hw))
    assert effective_macs(layer, True) == layer.macs


def test_gated_macs_save_their_energy_only() -> None:
    layer = Layer("e", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=4, out_channels=8,
                  weight_density=0.5, ifmap_density=0.5)
    hw = _hw("ws", skip=True)
    sparse = sim.simulate([layer], hw).layers[0]
    plain = sim.simulate([layer], hw.model_copy(update={"sparsity": None})).layers[0]  # no zero-skipping
    dense = sim.simulate([replace(layer, weight_density=1.0, ifmap_density=1.0)], hw).layers[0]
    assert sparse.cycles == plain.cycles == dense.cycles
    assert dict(plain.extra)["effective_macs"] == dense.macs * layer.nonzero_weights_per_group \
        / (layer.dense_gemm.k * layer.dense_gemm.n)
    assert dict(sparse.extra)["effective_macs"] == dict(plain.extra)["effective_macs"] * 0.5
    mac_pj = lambda r: r.energy.as_dict().get("mac", 0.0)
    assert mac_pj(sparse) < mac_pj(plain) < mac_pj(dense)


def test_trace_columns_round_trip_and_errors() -> None:
    layers = (Layer("a", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=4, out_channels=8,
                    weight_density=0.3, ifmap_density=0.55), Layer.gemm_layer("b", m=4, n=5, k=6))
    text = format_trace_csv(layers)
    assert "weight_density" in text.splitlines()[0] and "ifmap_density" in text.splitlines()[0]
    assert parse_trace_csv(text) == layers
    for bad in ("0", "1.5", "abc", "nan", "-0.1"):
        with pytest.raises(TraceError, match="density") as error:
            parse_trace_csv(f"name,type,m,n,k,weight_density\ng,gemm,2,2,2,{bad}\n", file="t.csv")
        assert error.value.file == "t.csv" and error.value.field == "weight_density"
    with pytest.raises(TraceError, match="cannot be combined"):
        Layer.gemm_layer("g", m=2, n=2, k=8, sparsity_n=2, sparsity_m=4, weight_density=0.5)
    with pytest.raises(TraceError, match="out of range"):
        Layer("x", ifmap_density=0.0)
    with pytest.raises(TraceError, match="must be a number"):
        Layer("x", weight_density="0.5")


def test_sparse_report_carries_densities_and_effective_macs() -> None:
    layers = [Layer.gemm_layer("g", m=8, n=8, k=8, weight_density=0.5), Layer.gemm_layer("h", m=8, n=8, k=8)]
    run = sim.simulate(layers, _hw("ws", skip=True))
    assert sparse_header(run)[-3:] == DENSITY_COLUMNS
    rows = sparse_report_rows(run)
    assert rows[0][-3:] == ("0.5", "1", "256") and rows[1][-3:] == ("1", "1", "512")


@settings(max_examples=15, deadline=None)
@given(sparse_layers(), st.integers(0, 100))
def test_functional_mode_measures_the_densities_it_drew(layer: Layer, seed: int) -> None:
    result = sim.simulate([layer], _hw("os"), functional=True, seed=seed).layers[0]
    extra = dict(result.extra)
    if layer.weight_density == layer.ifmap_density == 1:
        assert "functional.ifmap_density" not in extra  # dense: today's extras
        return
    ifmap, filters = random_operands(layer, seed)
    kept = max(1, -(-round(layer.ifmap_density * ifmap.size * 1e9) // 10**9))
    assert extra["functional.ifmap_density"] == np.count_nonzero(ifmap) / ifmap.size <= kept / ifmap.size
    assert extra["functional.weight_density"] == np.count_nonzero(filters) / filters.size
    a, b = ifmap_matrix(layer, ifmap), filter_matrix(layer, filters)
    both = sum(int(((a[g] != 0)[:, :, None] & (b[g] != 0)[None, :, :]).sum()) for g in range(a.shape[0]))
    assert extra["functional.nonzero_macs"] == both <= extra["effective_macs"]


def test_scalesim_topology_writer_refuses_densities() -> None:
    from sim.workload.scalesim_csv import format_scalesim_csv

    with pytest.raises(TraceError, match="no unstructured or activation sparsity") as error:
        format_scalesim_csv([Layer("c", ifmap_h=4, ifmap_w=4, ifmap_density=0.5, ofmap_bits=8)])
    assert error.value.field == "c.ifmap_density"


def test_cli_exits_2_on_a_bad_density(tmp_path) -> None:
    import subprocess
    import sys

    trace = tmp_path / "t.csv"
    trace.write_text("name,type,m,n,k,ifmap_density\ng,gemm,2,2,2,1.5\n")
    hw = Path(__file__).resolve().parents[2] / "hw_configs" / "scalesim_32x32_ws.toml"
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "sim", "run", "--trace", str(trace), "--hw", str(hw), "--out", str(out)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "ifmap_density" in done.stderr and "(0, 1]" in done.stderr and not out.exists()


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_activation_skipping_composes_with_n_of_m(dataflow: str) -> None:
    layer = Layer("nm", ifmap_h=6, ifmap_w=6, filter_h=3, filter_w=3, in_channels=4, out_channels=6,
                  sparsity_n=2, sparsity_m=4, ifmap_density=0.4)
    hw = _hw(dataflow, skip=True)
    engine = sim.simulate([layer], hw, functional=True, seed=3).layers[0]
    model = sim.estimate([layer], hw).layers[0]
    assert (engine.cycles, engine.actions, engine.energy) == (model.cycles, model.actions, model.energy)
    assert engine.cycles == sim.simulate([replace(layer, ifmap_density=1.0)], hw).layers[0].cycles
    assert dict(engine.extra)["effective_macs"] == pytest.approx(layer.macs * 0.4)  # the N:M MACs, then gated
    assert engine.functional.max_abs_error == 0
