"""bench_mapper's ZigZag section on a small fake results file (not ZigZag's real numbers): layers matched by name,
sim's engine-validated numbers beside ZigZag's, totals and layers better / worse; skipped without the file."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

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
