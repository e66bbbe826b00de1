"""What the fuzz campaign over the later formats found, one regression test each: every case is a clean SimError
(never a traceback) naming the file."""
from __future__ import annotations

from pathlib import Path

import pytest

import sim
from sim.errors import ConfigError, MappingError, TraceError
from sim.workload.layer import Layer

ROOT = Path(__file__).resolve().parents[2]


def test_a_request_trace_that_is_not_utf8_is_a_trace_error(tmp_path):
    from sim.workload.dram_trace import load_dram_trace

    path = tmp_path / "t.req"
    path.write_bytes(b"0 R 0x0 64\n\xff\xfe 1 W 0x40 64\n")
    with pytest.raises(TraceError, match="not UTF-8") as error:
        load_dram_trace(path)
    assert "t.req" in str(error.value)
    path.write_text("0 R 0x0 1099511627776\n")
    with pytest.raises(TraceError, match="size_bytes"):
        load_dram_trace(path)
    path.write_text("0 R 0x0 64\n4611686018427387904 R 0x40 64\n")  # 2^62 ns: the replay could not advance
    with pytest.raises(TraceError, match="issue_ns"):
        load_dram_trace(path)


def test_a_mapping_file_that_is_not_utf8_or_too_deep_is_a_mapping_error(tmp_path):
    from sim.mapping.mapping_file import read_mappings

    path = tmp_path / "map.toml"
    path.write_bytes(b"format = 1\n\x8b\n")
    with pytest.raises(MappingError, match="not UTF-8"):
        read_mappings(path)
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(MappingError, match="map.toml"):
        read_mappings(path)


def test_corrupt_or_oversized_datasets_are_config_errors(tmp_path):
    import io
    import zipfile

    import numpy as np

    from sim.functional.infer import load_arrays

    buffer = io.BytesIO()
    np.savez(buffer, image=np.zeros((4, 1, 8, 8)))
    data = bytearray(buffer.getvalue())
    data[60] ^= 0xFF  # inside the member: a bad CRC or header
    path = tmp_path / "d.npz"
    path.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match="d.npz"):
        load_arrays(path, "dataset file")
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("image.npy", b"\0" * (600 * 2**20))  # 600 MiB of zeros, a few hundred KiB packed
    with pytest.raises(ConfigError, match="unpacks to"):
        load_arrays(tmp_path / "bomb.npz", "dataset file")


def test_an_onnx_batch_beyond_the_dimension_bound_is_refused():
    with pytest.raises(TraceError, match="batch"):
        sim.load_trace(ROOT / "examples" / "digits_cnn.onnx", batch=2**63)


def test_a_layer_of_billions_of_folds_is_a_mapping_error_not_an_allocation():
    hw = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
    mapping = sim.map_layer(Layer.gemm_layer("big", m=1, k=2**20, n=2**20), hw)  # 2^30 folds on 32 x 32
    with pytest.raises(MappingError, match="too many folds"):
        mapping.fold_bounds
