"""MAESTRO .m parser: the shipped MAESTRO files, round trips, layer records and precise errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import TraceError
from sim.workload.maestro import (
    ClusterDirective,
    MapDirective,
    SizeExpr,
    canonical,
    load_mapping_file,
    load_maestro_network,
    load_maestro_trace,
    parse_dataflow,
    parse_maestro,
    to_layer,
    write_maestro,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "maestro"
REPO = Path(__file__).resolve().parents[3]
MAESTRO_FILES = sorted((DATA / "mappings").glob("*.m"))
LAYER_COUNTS = {"GEMM_Example.m": 1, "MobileNetV2_kcp_ws.m": 56, "Resnet50_kcp_ws.m": 66, "Resnet50_rs.m": 66,
                "Resnet50_xp_ws.m": 66, "Resnet50_yxp_os.m": 66, "UNet_yxp_os.m": 23, "example.m": 1,
                "googlenet_kcp_ws.m": 64, "vgg16_nlr.m": 13, "vgg16_rs.m": 13, "vgg16_xp_ws.m": 13}


def test_all_reference_files_are_present():
    assert sorted(p.name for p in MAESTRO_FILES) == sorted(LAYER_COUNTS)


@pytest.mark.parametrize("path", MAESTRO_FILES, ids=lambda p: p.name)
def test_reference_file_parses_and_round_trips(path):
    network = load_maestro_network(path)
    assert len(network.layers) == LAYER_COUNTS[path.name]
    assert all(layer.dataflow is not None for layer in network.layers)
    again = parse_maestro(write_maestro(network))
    assert canonical(again) == canonical(network)
    trace = load_maestro_trace(path)
    assert len(trace.layers) == len(trace.dataflows) == len(network.layers)
    assert trace.dataflow_of(0) == network.layers[0].dataflow


def test_example_layer_fields():
    network = load_maestro_network(DATA / "mappings" / "example.m")
    layer = network.layers[0]
    assert network.name == "ResNeXt50" and layer.name == "CONV1" and layer.type == "CONV"
    assert layer.sizes == {"K": 64, "C": 128, "R": 3, "S": 3, "Y": 224, "X": 224, "N": 1}
    directives = layer.dataflow.directives
    assert directives[0] == MapDirective("spatial", SizeExpr(1), SizeExpr(1), "K", directives[0].line)
    assert directives[2].size == SizeExpr(dim="R") and directives[4].offset == SizeExpr(1)
    assert isinstance(directives[6], ClusterDirective) and directives[6].size == SizeExpr(64)
    record = to_layer(layer)
    # MAESTRO's Y/X are input sizes: the output is (Y - R) / stride + 1, no padding added.
    assert record.ofmap_hw == (222, 222) and record.macs == 3633610752


def test_constants_gemm_and_comments():
    network = load_maestro_network(DATA / "mappings" / "GEMM_Example.m")
    layer = network.layers[0]
    assert layer.type == "GEMM" and layer.sizes == {"M": 100, "N": 100, "K": 100}
    assert dict(network.constants)["KTileSz"] == 100  # the later definition wins over none (comments skipped)
    record = to_layer(layer)
    assert record.kind == "gemm" and (record.gemm.m, record.gemm.k, record.gemm.n) == (100, 100, 100)


def test_dimensions_without_colons_and_stride_default():
    text = "Network n { Layer l { Type: CONV Dimensions { K 4,C 3,R 3,S 3,Y 8,X 8 } } }"
    layer = parse_maestro(text).layers[0]
    assert (layer.stride_x, layer.stride_y) == (1, 1) and layer.sizes["K"] == 4 and layer.dataflow is None


def test_depthwise_and_fc_layers():
    dw = parse_maestro("Network n { Layer d { Type: DSCONV Stride { X: 2, Y: 2 } "
                       "Dimensions { K: 1, C: 32, R: 3, S: 3, Y: 113, X: 113 } } }").layers[0]
    record = to_layer(dw)
    assert record.groups == 32 and record.out_channels == 32 and record.ofmap_hw == (56, 56)
    fc = parse_maestro("Network n { Layer f { Type: FC Dimensions { K: 10, C: 64, N: 2 } } }").layers[0]
    record = to_layer(fc)
    assert record.kind == "gemm" and (record.gemm.m, record.gemm.k, record.gemm.n) == (2, 64, 10)


def test_shipped_dataflow_only_mappings_parse():
    for name in ("kcp_ws.m", "yr_p_rs.m", "x_p_os.m", "c_p.m"):
        dataflow = load_mapping_file(REPO / "mappings" / name)
        assert any(isinstance(d, MapDirective) and d.kind == "spatial" for d in dataflow.directives)
    bare = parse_dataflow("SpatialMap(1,1) K; TemporalMap(Sz(R),1) Y;")
    assert len(bare.directives) == 2


def test_mapping_file_replaces_every_layers_dataflow():
    trace = load_maestro_trace(DATA / "mappings" / "vgg16_nlr.m", mapping=REPO / "mappings" / "kcp_ws.m")
    flows = set(trace.dataflows)
    assert len(flows) == 1 and next(iter(flows)).source_file.endswith("kcp_ws.m")


BAD = [
    ("Network n { Layer l { Type: POOL Dimensions { K: 1 } } }", 1, "unknown layer type", "CONV"),
    ("Network n {\n Layer l {\n Type: CONV\n Dimensions { K: 1, Q: 2 } } }", 4, "unknown dimension", "K, C, R"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 0 } } }", 1, "must be >= 1", ">= 1"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 }\n Dataflow { SpatialMap(1,1) Q; } } }", 2,
     "does not have", "K, C"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 }\n Dataflow { SpotialMap(1,1) K; } } }", 2,
     "unknown directive", "SpatialMap"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } Dataflow { Cluster(2, Q); } } }", 1,
     "unknown cluster type", "P, L"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } Dataflow { TemporalMap(Sz(Q),1) K; } } }", 1,
     "unknown dimension", "K, C, R"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } Dataflow { TemporalMap(0,1) K; } } }", 1,
     ">= 1", ">= 1"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2, R: 5, Y: 3 } } }", 1, "larger than input", "<= Y"),
    ("Network n { Layer l { Type: CONV } }", 1, "no Dimensions", None),
    ("Network n { Layer l { Dimensions { K: 2 } } }", 1, "no Type", "CONV"),
    ("Network n {\n Layer l { Type: CONV Dimensions { K: 2 } }\n", 2, "unexpected end of file", None),
    ("Layer l { }", 1, "expected 'Network'", "Network"),
    ("Network n { }", 1, "at least one layer", None),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } } } extra", 1, "after the end", None),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } Stride { Z: 1 } } }", 1, "stride axis", "X, Y"),
    ("Network n { Layer l { Type: GEMM Dimensions { M: 2, C: 3 } } }", 1, "M, N, K only", "M, N, K"),
    ("Network n { Layer l { Type: CONV Dimensions { K: 2 } } } @", 1, "unexpected character", None),
]


@pytest.mark.parametrize("text, line, message, allowed", BAD)
def test_bad_input_is_a_trace_error_with_line_and_allowed(text, line, message, allowed):
    with pytest.raises(TraceError, match=message) as info:
        parse_maestro(text, "bad.m")
    assert info.value.file == "bad.m"
    assert info.value.line == line
    if allowed is not None:
        assert allowed in (info.value.allowed or "")


def test_unreadable_files_are_trace_errors(tmp_path):
    with pytest.raises(TraceError, match="not found"):
        load_maestro_network(tmp_path / "missing.m")
    binary = tmp_path / "binary.m"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TraceError, match="not UTF-8"):
        load_maestro_network(binary)
    empty = tmp_path / "empty.m"
    empty.write_text("// nothing\n")
    with pytest.raises(TraceError, match="empty mapping file"):
        load_mapping_file(empty)
