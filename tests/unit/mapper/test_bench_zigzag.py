"""bench_mapper's ZigZag section on a small fake results file (not ZigZag's real numbers): layers matched by name,
sim's engine-validated numbers beside ZigZag's, totals and layers better / worse; skipped without the file."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parents[3]
TRACE = """name,type,ifmap_h,ifmap_w,filter_h,filter_w,channels,num_filter,stride,pad,m,n,k
small_conv,conv,10,10,3,3,8,16,1,1,,,
small_fc,gemm,,,,,,,,,4,32,64
"""


def bench():
    spec = importlib.util.spec_from_file_location("bench_mapper", ROOT / "benchmarks" / "bench_mapper.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_zigzag_section_compares_matched_layers(tmp_path, capsys):
    trace = tmp_path / "net.csv"
    trace.write_text(TRACE)
    fake = {"zigzag_version": "fake", "accelerators": {
        "eyeriss_like": {"sim_config": "hw_configs/eyeriss_12x14.toml", "zigzag_seconds": 100.0, "layers": [
            {"name": "small_conv", "zigzag_cycles": 1, "zigzag_energy_pj": 1e12, "zigzag_mapping": "-",
             "sim_cycles": 0, "sim_energy_pj": 0},
            {"name": "small_fc", "zigzag_cycles": 10**12, "zigzag_energy_pj": 1.0, "zigzag_mapping": "-",
             "sim_cycles": 0, "sim_energy_pj": 0},
            {"name": "not_in_trace", "zigzag_cycles": 5, "zigzag_energy_pj": 5.0}]},
        "tpu_like": {"sim_config": "hw_configs/no_such_config.toml", "zigzag_seconds": 1.0, "layers": []}}}
    path = tmp_path / "zigzag_resnet18.json"
    path.write_text(json.dumps(fake))
    module = bench()
    section = module.zigzag_comparison(path, trace, ROOT, top_k=1)
    acc = section["accelerators"]["eyeriss_like"]
    assert [r["name"] for r in acc["layers"]] == ["small_conv", "small_fc"]
    assert acc["unmatched"] == ["not_in_trace"]
    hw = sim.load_hardware(ROOT / "hw_configs" / "eyeriss_12x14.toml")
    layers = sim.load_trace(trace).layers
    by_latency = sim.map(layers, hw, objective="latency", top_k=1)
    assert [r["sim_cycles"] for r in acc["layers"]] == [s.best.engine_cycles for s in by_latency.layers]
    assert acc["sim_cycles"] == sum(r["sim_cycles"] for r in acc["layers"])
    assert acc["zigzag_cycles"] == 1 + 10**12
    # small_conv: sim slower than the fake 1 cycle, cheaper than 1e12 pJ; small_fc the other way round.
    assert acc["latency_better_or_equal"] == 1 and acc["energy_better_or_equal"] == 1
    assert acc["zigzag_seconds"] == 100.0 and acc["sim_search_s"] > 0
    assert "not found" in section["accelerators"]["tpu_like"]["skipped"]
    module.print_zigzag(section)
    printed = capsys.readouterr().out
    assert "small_conv" in printed and "latency 1/2, energy 1/2" in printed and "tpu_like: skipped" in printed


def test_zigzag_section_is_skipped_without_the_file(tmp_path, capsys):
    module = bench()
    assert module.zigzag_comparison(tmp_path / "absent.json") is None
    module.print_zigzag(None)
    assert "comparison skipped" in capsys.readouterr().out


def test_onnx_layer_names_match_the_trace_names():
    module = bench()
    trace = {layer.name for layer in sim.load_trace(ROOT / "traces" / "resnet18.csv").layers}
    for onnx, name in (("/conv1/Conv", "conv1"), ("/layer1/layer1.0/conv2/Conv", "layer1.0.conv2"),
                       ("/layer3/layer3.0/downsample/downsample.0/Conv", "layer3.0.downsample"), ("/fc/Gemm", "fc"),
                       ("small_conv", "small_conv")):
        assert module.trace_name(onnx) == name
        assert name in trace or name == "small_conv"


def fake_layer(name: str, energy_pj: float) -> dict:
    """A ZigZag row with the fields the energy-gap table reads (numbers made up, not ZigZag's)."""
    return {"name": name, "zigzag_cycles": 1, "zigzag_energy_pj": energy_pj, "zigzag_mac_energy_pj": 1.0,
            "zigzag_operands": {"I": {"levels": ["rf_64B_A", "sram_1M", "dram"], "energy_pj": [1.0, 1.0, 1.0]},
                                "W": {"levels": ["rf_64B_W", "sram_64KB", "dram"], "energy_pj": [1.0, 1.0, 1.0]},
                                "O": {"levels": ["rf_16B", "sram_8KB", "sram_1M", "dram"],
                                      "energy_pj": [1.0, 1.0, 1.0, 1.0]}},
            "zigzag_loops": {"I": [[["OY", 2.0], ["C", 2.0]], []], "W": [[["OY", 2.0], ["OX", 2.0], ["C", 2.0]], []],
                             "O": [[["C", 2.0]], []]}}


def test_register_reuse_counts_the_innermost_loops_an_operand_does_not_depend_on():
    module = bench()
    assert module.register_reuse([["OY", 7.0], ["OX", 2.0], ["C", 3.0], ["OY", 5.0]], "W") == 14
    assert module.register_reuse([["C", 2.0], ["OY", 7.0]], "W") == 1  # stops at the first loop it depends on
    assert module.register_reuse([["K", 2.0], ["C", 43.0], ["K", 3.0]], "I") == 2
    assert module.register_reuse([], "I") == 1


def test_energy_gaps_list_each_worse_layer_with_levels_that_sum_to_the_total(tmp_path, capsys):
    trace = tmp_path / "net.csv"
    trace.write_text(TRACE)
    fake = {"zigzag_version": "fake", "accelerators": {"eyeriss_like": {
        "sim_config": "hw_configs/zigzag_eyeriss_like.toml", "zigzag_seconds": 1.0,
        "layers": [fake_layer("small_conv", 1.0), fake_layer("small_fc", 1e15)]}}}
    path = tmp_path / "zigzag_resnet18.json"
    path.write_text(json.dumps(fake))
    module = bench()
    precision = {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 8, "psum_bits": 0}
    section = module.zigzag_energy_gaps(path, trace, ROOT, top_k=1, precision=precision)
    acc = section["accelerators"]["eyeriss_like"]
    assert acc["layers"] == 2 and [r["name"] for r in acc["worse"]] == ["small_conv"]  # small_fc is cheaper
    row = acc["worse"][0]
    # The level rows are the whole of both sides: sim's levels and MACs sum to its layer energy, ZigZag's to its
    # fake per-level numbers (ten levels of 1 pJ and the MACs' 1 pJ).
    assert sum(r["sim_pj"] for r in row["levels"]) == pytest.approx(row["sim_pj"], rel=1e-9)
    assert sum(r["zigzag_pj"] for r in row["levels"]) == pytest.approx(11.0)
    assert row["carrier"] == max(row["levels"], key=lambda r: r["difference_pj"])["level"]
    # Recounted at one register read per MAC: filter reused over OY x OX = 4, ifmap over nothing (OY is relevant).
    hw = sim.load_hardware(ROOT / "hw_configs" / "zigzag_eyeriss_like.toml")
    layer = next(layer for layer in sim.load_trace(trace).layers if layer.name == "small_conv")
    assert row["zigzag_register_reuse"] == {"ifmap": 1, "filter": 4}
    assert row["zigzag_recounted_pj"] == pytest.approx(1.0 + layer.macs * hw.energy["rf_64b_w.read"].pj * 3 / 4)
    module.print_energy_gaps(section)
    printed = capsys.readouterr().out
    assert "1 of 2 layers worse" in printed and "carried by" in printed
