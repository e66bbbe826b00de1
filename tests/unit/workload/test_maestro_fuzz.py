"""Fuzzed MAESTRO files: any mutation of a valid file either parses or raises a located TraceError."""
from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.errors import SimError, TraceError
from sim.workload.maestro import canonical, parse_dataflow, parse_maestro, to_layer, write_maestro

DATA = Path(__file__).resolve().parents[2] / "data" / "maestro" / "mappings"
SOURCES = [(DATA / name).read_text() for name in ("example.m", "GEMM_Example.m", "vgg16_rs.m")]
PIECES = ["{", "}", "(", ")", ":", ";", ",", "Sz(R)", "Layer", "Network", "Dataflow", "Cluster(2,P);",
          "SpatialMap", "TemporalMap", "-1", "0", "K", "Q", "//", "/*", "\n", "Type: GEMM", "Dimensions"]


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["delete", "insert", "replace"]))
        span = draw(st.integers(1, 12))
        piece = draw(st.sampled_from(PIECES) | st.text(max_size=3))
        if action == "delete":
            text = text[:at] + text[at + span:]
        elif action == "insert":
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + piece + text[at + span:]
    return text


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_files_parse_or_raise_a_located_trace_error(text):
    try:
        network = parse_maestro(text, "fuzz.m")
    except TraceError as error:
        assert error.file == "fuzz.m" and error.line is not None and error.line >= 1
        assert str(error).startswith("fuzz.m:")
        return
    assert canonical(parse_maestro(write_maestro(network))) == canonical(network)
    for layer in network.layers:
        try:
            to_layer(layer, "fuzz.m")
        except SimError as error:
            assert isinstance(error, TraceError)


@settings(deadline=None)
@given(st.text(max_size=60))
def test_random_text_as_a_mapping_file_never_crashes(text):
    try:
        parse_dataflow(text, file="m.m")
    except TraceError as error:
        assert error.file == "m.m"
