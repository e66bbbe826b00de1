"""MAESTRO hardware .m files -> Hardware(directive_array), with ConfigError for bad files."""
from __future__ import annotations

from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.load import load_hardware
from sim.hardware.maestro_hw import hardware_from_maestro_text, load_maestro_hardware

REPO = Path(__file__).resolve().parents[3]


def test_shipped_accelerator_1():
    hw = load_maestro_hardware(REPO / "hw_configs" / "maestro" / "accelerator_1.m")
    spec = hw.directive_array
    assert (spec.num_pes, spec.l1_size_bytes, spec.l2_size_bytes) == (256, 100, 3000)
    assert (spec.noc_bandwidth_words_per_cycle, spec.offchip_bandwidth_words_per_cycle) == (1000, 50)
    assert hw.kind == "directive"
    assert hw.energy["l2.read"].pj == pytest.approx(18.61 * 0.23) and "BASE_constants" in hw.energy["l1.read"].source
    assert hw.energy["mac"].pj == pytest.approx(0.23)
    assert load_hardware(REPO / "tests" / "data" / "maestro" / "accelerator_1.m") == hw.model_copy(
        update={"source_file": str(REPO / "tests" / "data" / "maestro" / "accelerator_1.m")})


def test_optional_keys_and_comments():
    text = "num_pes: 16 // sixteen\nl1_size_cstr: 8\nl2_size_cstr: 64\nnoc_bw_cstr: 4\noffchip_bw_cstr: 2\n" \
           "vector_width: 2\n# a comment\nnoc_hops: 3\n"
    spec = hardware_from_maestro_text(text, "hw.m", energy_table=None).directive_array
    assert (spec.vector_width, spec.noc_hops, spec.num_pes) == (2, 3, 16)


@pytest.mark.parametrize("text, line, message", [
    ("num_pes 16\n", 1, "expected 'key: value'"),
    ("num_pes: 16\nbanana: 3\n", 2, "unknown MAESTRO hardware key"),
    ("num_pes: 16\nnum_pes: 8\n", 2, "given twice"),
    ("num_pes: -4\n", 1, "positive integer"),
    ("num_pes: 0\n", 1, "positive integer"),
    ("num_pes: 16\nl1_size_cstr: 8\n", None, "missing MAESTRO hardware key"),
])
def test_bad_hardware_files(text, line, message):
    with pytest.raises(ConfigError, match=message) as info:
        hardware_from_maestro_text(text, "hw.m", energy_table=None)
    assert info.value.file == "hw.m" and info.value.line == line
