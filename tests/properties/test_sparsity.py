"""N:M structured weight sparsity: compressed GEMM, MACs, functional values against numpy on the pruned
weights, engine = analytical for every dataflow, 1:1 = dense (SCALE-Sim's sparse reports:
test_scalesim_reports.py)."""
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.hardware.spec import Hardware
from sim.kernels.systolic_fast import run_layer_functional
from sim.mapping.operands import filter_matrix, ifmap_matrix, ofmap_from_matrix, random_operands
from sim.mapping.sparsity import compress_n_of_m, prune_n_of_m, sparse_storage
from sim.mapping.systolic import map_systolic
from sim.workload.layer import Layer

DATA = Path(__file__).resolve().parents[1] / "data" / "scalesim"
RATIOS = st.sampled_from([(1, 2), (2, 4), (1, 4), (3, 4), (4, 8), (2, 8), (3, 5), (1, 1), (2, 2)])


def _hw(dataflow: str, rows: int = 8, cols: int = 8) -> Hardware:
    return Hardware.model_validate({
        "name": "t", "pe_array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "buffers": {op: {"size_kb": 64} for op in ("ifmap", "filter", "ofmap")},
        "dram": {"bandwidth_bytes_per_cycle": 64}})


@st.composite
def sparse_layers(draw: st.DrawFn) -> Layer:
    n, m = draw(RATIOS)
    r = draw(st.integers(1, 3))
    return Layer("s", ifmap_h=draw(st.integers(r, 7)), ifmap_w=draw(st.integers(r, 7)), filter_h=r, filter_w=r,
                 in_channels=draw(st.integers(1, 9)), out_channels=draw(st.integers(1, 12)),
                 stride_h=draw(st.integers(1, 2)), stride_w=1, sparsity_n=n, sparsity_m=m, ofmap_bits=32)


@given(sparse_layers())
def test_macs_are_dense_macs_times_n_over_m(layer: Layer) -> None:
    dense = layer.dense_gemm
    blocks = -(-dense.k // layer.sparsity_m)
    assert layer.gemm.k == (blocks * layer.sparsity_n if layer.is_sparse else dense.k)
    if dense.k % layer.sparsity_m == 0:
        assert layer.macs * layer.sparsity_m == layer.dense_macs * layer.sparsity_n
    assert layer.filter_elements == layer.gemm.k * layer.gemm.n * layer.groups


@given(st.integers(1, 20), st.integers(1, 6), RATIOS, st.integers(0, 2**31))
def test_pruning_keeps_the_n_largest_of_every_m(k: int, cols: int, ratio: tuple[int, int], seed: int) -> None:
    n, m = ratio
    w = np.random.default_rng(seed).integers(-9, 10, size=(k, cols))
    pruned = prune_n_of_m(w, n, m)
    for start in range(0, k, m):
        block, kept = np.abs(w[start:start + m]), pruned[start:start + m]
        assert ((kept != 0).sum(axis=0) <= n).all()
        for c in range(cols):  # every dropped weight is no larger than every kept one
            dropped = block[:, c][(kept[:, c] == 0) & (w[start:start + m, c] != 0)]
            if dropped.size and (kept[:, c] != 0).any():
                assert dropped.max() <= np.abs(kept[:, c][kept[:, c] != 0]).min()
    values, rows = compress_n_of_m(w, n, m)
    dense = np.zeros((-(-k // m) * m, cols), dtype=w.dtype)
    np.add.at(dense, (rows, np.broadcast_to(np.arange(cols), rows.shape)), values)
    assert (dense[:k] == pruned).all() and not dense[k:].any()


@settings(max_examples=25, deadline=None)
@given(sparse_layers(), st.sampled_from(["os", "ws", "is"]), st.integers(0, 1000))
def test_functional_values_equal_numpy_on_the_pruned_weights(layer: Layer, dataflow: str, seed: int) -> None:
    ifmap, filters = random_operands(layer, seed)
    b = filter_matrix(layer, filters)
    for group in b:  # the operands are N:M sparse already
        assert (prune_n_of_m(group, layer.sparsity_n, layer.sparsity_m) == group).all()
    expected = ofmap_from_matrix(layer, np.einsum("gmk,gkn->gmn", ifmap_matrix(layer, ifmap).astype(np.int64),
                                                  b.astype(np.int64)))
    hw = _hw(dataflow)
    ofmap, overflow = run_layer_functional(layer, map_systolic(layer, hw), ifmap, filters)
    assert not overflow and (ofmap == expected).all()
    run = sim.simulate([layer], hw, functional=True, seed=seed)
    assert run.layers[0].functional.max_abs_error == 0


@settings(max_examples=20, deadline=None)
@given(sparse_layers(), st.sampled_from(["os", "ws", "is"]))
def test_engine_equals_analytical_and_dense_is_unchanged(layer: Layer, dataflow: str) -> None:
    hw = _hw(dataflow, 4, 4)
    engine, model = sim.simulate([layer], hw).layers[0], sim.estimate([layer], hw).layers[0]
    assert (engine.cycles, engine.macs, engine.sram_reads, engine.sram_writes) == \
           (model.cycles, model.macs, model.sram_reads, model.sram_writes)
    dense = sim.simulate([replace(layer, sparsity_n=1, sparsity_m=1)], hw).layers[0]
    if not layer.is_sparse:  # n:n is dense: exactly the 1:1 numbers
        assert (dense.cycles, dense.macs, dense.sram_reads, dense.dram_reads, dense.energy) == \
               (engine.cycles, engine.macs, engine.sram_reads, engine.dram_reads, engine.energy)
    elif layer.dense_gemm.k % layer.sparsity_m == 0:  # (a K shorter than M is padded to a whole block)
        assert engine.macs < dense.macs and engine.cycles <= dense.cycles


def test_dense_ratio_column_gives_todays_numbers(tmp_path) -> None:
    topology = (DATA / "topology" / "conv_small.csv").read_text().splitlines()
    with_column = [topology[0] + " Sparsity,"] + [line + " 1:1," for line in topology[1:] if line.strip()]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(with_column) + "\n")
    hw = sim.load_hardware(DATA / "cfg" / "ws_8x8.cfg")
    plain, dense = sim.load_trace(DATA / "topology" / "conv_small.csv"), sim.load_trace(path)
    assert plain.layers == dense.layers
    strip = lambda run: [{k: v for k, v in layer.to_dict().items() if k != "sim_wall_s"} for layer in run.layers]
    assert strip(sim.simulate(plain, hw)) == strip(sim.simulate(dense, hw))


def test_our_toml_takes_a_sparsity_section(tmp_path) -> None:
    configs = Path(__file__).resolve().parents[2] / "hw_configs"
    source = (configs / "scalesim_32x32_ws.toml").read_text()
    shutil.copytree(configs / "energy", tmp_path / "energy")  # includes stay inside the config's folder tree
    path = tmp_path / "hw.toml"
    path.write_text(source + '\n[sparsity]\nrepresentation = "csc"\n')
    hw = sim.load_hardware(path)
    assert hw.sparsity.representation == "csc"
    layer = Layer("s", ifmap_h=8, ifmap_w=8, filter_h=3, filter_w=3, in_channels=4, out_channels=8,
                  sparsity_n=2, sparsity_m=4)
    extra = dict(sim.simulate([layer], hw).layers[0].extra)
    assert extra["sparsity.metadata_words"] == sparse_storage(layer, "csc").metadata_words == 9 + 144
