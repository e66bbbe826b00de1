"""Every shipped trace loads, cites its source, and its layers have the published shapes (hand-computed here)."""
from pathlib import Path

import pytest

from sim.workload.load import load_trace

TRACES = Path(__file__).resolve().parents[3] / "traces"
ALL = sorted(TRACES.rglob("*.csv"))


def layer(trace: str, name: str):
    (found,) = [l for l in load_trace(TRACES / trace).layers if l.name == name]
    return found


@pytest.mark.parametrize("path", ALL, ids=lambda p: str(p.relative_to(TRACES)))
def test_every_shipped_trace_loads(path: Path) -> None:
    trace = load_trace(path)
    assert trace.layers and trace.name == path.stem


@pytest.mark.parametrize("path", [p for p in ALL if p.parent == TRACES], ids=lambda p: p.name)
def test_extended_traces_start_with_a_source_comment(path: Path) -> None:
    assert path.read_text().startswith("# ")


def test_readme_lists_every_trace() -> None:
    readme = (TRACES / "README.md").read_text()
    for path in ALL:
        assert str(path.relative_to(TRACES)) in readme


def test_scalesim_traces_have_no_comment_lines() -> None:
    for path in (TRACES / "scalesim").glob("*.csv"):
        assert not any(line.startswith("#") for line in path.read_text().splitlines())


def test_resnet50_conv1() -> None:
    conv1 = layer("resnet50.csv", "conv1")
    assert conv1.ofmap_hw == (112, 112)
    assert conv1.macs == 112 * 112 * 7 * 7 * 3 * 64 == 118_013_952


def test_network_totals_match_published_figures() -> None:
    def giga_macs(name: str) -> float:
        return sum(l.macs for l in load_trace(TRACES / name).layers) / 1e9
    # torchvision / paper figures: ResNet-50 4.09 G, ResNet-18 1.81 G, VGG-16 15.47 G, MobileNetV2 0.30 G (300 M)
    assert giga_macs("resnet50.csv") == pytest.approx(4.09, abs=0.01)
    assert giga_macs("resnet18.csv") == pytest.approx(1.81, abs=0.01)
    assert giga_macs("vgg16.csv") == pytest.approx(15.47, abs=0.01)
    assert giga_macs("mobilenet_v2.csv") == pytest.approx(0.30, abs=0.005)
    assert giga_macs("alexnet.csv") == pytest.approx(0.714, abs=0.001)


def test_resnet_downsample_shortcuts_are_present() -> None:
    names = [l.name for l in load_trace(TRACES / "resnet50.csv").layers]
    assert [n for n in names if n.endswith("downsample")] == [f"layer{i}.0.downsample" for i in range(1, 5)]
    down = layer("resnet50.csv", "layer2.0.downsample")
    assert (down.ofmap_hw, down.in_channels, down.out_channels) == ((28, 28), 256, 512)


def test_mobilenet_v2_depthwise_layer() -> None:
    dw = layer("mobilenet_v2.csv", "features.2.depthwise")  # 112x112x96, 3x3 stride 2 pad 1
    assert dw.is_depthwise and dw.ofmap_hw == (56, 56)
    assert (dw.gemm.m, dw.gemm.k, dw.gemm.n, dw.gemm.groups) == (56 * 56, 9, 1, 96)
    assert dw.macs == 56 * 56 * 9 * 96 == 2_709_504
    assert dw.filter_elements == 9 * 96


def test_dcgan_tconv_4_to_8() -> None:
    t = layer("dcgan_generator.csv", "tconv1")
    assert t.kind == "tconv" and (t.ifmap_h, t.ifmap_w) == (4, 4) and t.ofmap_hw == (8, 8)
    assert t.effective_macs == 4 * 4 * 1024 * 5 * 5 * 512  # each input pixel meets each filter tap once
    assert t.macs == 8 * 8 * 5 * 5 * 1024 * 512  # the lowered stride-1 conv over the zero-inserted input
    last = layer("dcgan_generator.csv", "tconv4")
    assert last.ofmap_hw == (64, 64) and last.out_channels == 3


def test_bert_gemms() -> None:
    query = layer("bert_base_seq128.csv", "query")
    assert (query.gemm.m, query.gemm.k, query.gemm.n) == (128, 768, 768) and query.macs == 75_497_472
    scores = layer("bert_base_seq512.csv", "attention_scores")
    assert (scores.gemm.m, scores.gemm.k, scores.gemm.n, scores.gemm.groups) == (512, 64, 512, 12)
    assert scores.filter_elements == 12 * 64 * 512  # K^T differs per head
    ffn = layer("bert_base_seq128.csv", "intermediate")
    assert (ffn.gemm.k, ffn.gemm.n) == (768, 3072)


def test_alexnet_conv1_55_from_224_with_pad_or_scalesim_227() -> None:
    ours, scalesim = layer("alexnet.csv", "conv1"), layer("scalesim/alexnet.csv", "conv1")
    assert (ours.ifmap_h, ours.pad_top, scalesim.ifmap_h, scalesim.pad_top) == (224, 2, 227, 0)
    assert ours.ofmap_hw == scalesim.ofmap_hw == (55, 55)
    assert ours.macs == scalesim.macs == 55 * 55 * 11 * 11 * 3 * 64


@pytest.mark.parametrize("ours, theirs", [("resnet18.csv", "scalesim/resnet18.csv"),
                                          ("alexnet.csv", "scalesim/alexnet.csv")])
def test_scalesim_versions_lower_to_the_same_gemms(ours: str, theirs: str) -> None:
    a, b = load_trace(TRACES / ours).layers, load_trace(TRACES / theirs).layers
    assert [l.name for l in a] == [l.name for l in b]
    assert [l.gemm for l in a] == [l.gemm for l in b]


def test_scalesim_resnet18_uses_57_for_the_stride_2_3x3() -> None:
    down = layer("scalesim/resnet18.csv", "layer2.0.conv1")
    assert down.ifmap_h == 57 and down.ofmap_hw == (28, 28)


def test_scalesim_bert_gemm_form_matches_the_extended_trace() -> None:
    gemm = load_trace(TRACES / "scalesim/bert_base_seq128_gemm.csv").layers
    ext = load_trace(TRACES / "bert_base_seq128.csv").layers
    assert sum(l.macs for l in gemm) == sum(l.macs for l in ext)


def test_block_circulant_layers() -> None:
    layers = load_trace(TRACES / "block_circulant_fc.csv").layers
    assert {l.block_size for l in layers} == {4, 8, 16}
    for l in layers:
        assert l.filter_elements * l.block_size == l.in_channels * l.out_channels
    gates = layer("block_circulant_fc.csv", "lstm_fft16.gates")
    assert (gates.gemm.k, gates.gemm.n) == (160 + 512, 4 * 1024)
