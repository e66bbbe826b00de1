"""The sweep spec: value forms, aliases, the grid, and ConfigErrors that name file, field and line."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.errors import ConfigError
from sim.sweep.spec import load_sweep_spec, parse_sweep_spec


def test_value_forms_list_range_geometric_and_log(write_spec):
    spec = load_sweep_spec(write_spec({
        "pe_array.rows": [4, 8],
        "pe_array.cols": {"start": 8, "stop": 32, "step": 8},
        "buffers.ifmap.size_kb": {"start": 16, "stop": 256, "factor": 4},
        "dram.bandwidth_bytes_per_cycle": {"start": 1, "stop": 100, "num": 3, "scale": "log"},
    }))
    values = {p.name: p.values for p in spec.parameters}
    assert values["pe_array.rows"] == (4, 8)
    assert values["pe_array.cols"] == (8, 16, 24, 32)
    assert values["buffers.ifmap.size_kb"] == (16, 64, 256)
    assert values["dram.bandwidth_bytes_per_cycle"] == (1, 10, 100)
    assert spec.points_per_trace == 2 * 4 * 3 * 3
    assert spec.traces[0].name == "gemm.csv" and spec.traces[0].is_file()


def test_aliases_expand_to_field_paths_and_grid_varies_last_fastest(write_spec):
    spec = load_sweep_spec(write_spec({"rows": [4, 8], "dataflow": ["os", "ws"]}))
    assert [p.paths for p in spec.parameters] == [("pe_array.rows",), ("pe_array.dataflow",)]
    assert list(spec.grid()) == [
        {"pe_array.rows": 4, "pe_array.dataflow": "os"}, {"pe_array.rows": 4, "pe_array.dataflow": "ws"},
        {"pe_array.rows": 8, "pe_array.dataflow": "os"}, {"pe_array.rows": 8, "pe_array.dataflow": "ws"},
    ]


def test_crossbar_size_alias_sets_rows_and_cols(tmp_path):
    spec = parse_sweep_spec({"sweep": {"trace": "t.csv", "hardware": "h.toml", "parameters": {
        "crossbar_size": [64, 128]}}}, tmp_path / "s.toml")
    assert spec.parameters[0].paths == ("reram.crossbar_rows", "reram.crossbar_cols")
    assert next(spec.grid()) == {"reram.crossbar_rows": 64, "reram.crossbar_cols": 64}


@settings(max_examples=30)
@given(start=st.integers(1, 50), length=st.integers(0, 40), step=st.integers(1, 9))
def test_integer_range_includes_stop_like_python_range(tmp_path_factory, start, length, step):
    stop = start + length
    spec = parse_sweep_spec({"sweep": {"trace": "t.csv", "hardware": "h.toml", "parameters": {
        "pe_array.rows": {"start": start, "stop": stop, "step": step}}}}, tmp_path_factory.mktemp("s") / "s.toml")
    assert spec.parameters[0].values == tuple(range(start, stop + 1, step))


@pytest.mark.parametrize("sweep_keys, field, message", [
    ({"colour": 1}, "sweep.colour", "unknown key"),
    ({"objectives": ["speed"]}, "sweep.objectives", "unknown objective"),
    ({"validate": {"engine": "some"}}, "sweep.validate.engine", "unknown selection"),
    ({"constraints": {"max_area": 3}}, "sweep.constraints.max_area", "unknown key"),
])
def test_bad_keys_name_the_field(write_spec, sweep_keys, field, message):
    with pytest.raises(ConfigError, match=message) as error:
        load_sweep_spec(write_spec({"pe_array.rows": [4]}, **sweep_keys))
    assert error.value.field == field
    assert error.value.file.endswith("spec.toml")


def test_unknown_parameter_path_lists_aliases_and_has_line(write_spec):
    with pytest.raises(ConfigError, match="not a hardware field") as error:
        load_sweep_spec(write_spec({"pe_array.rows": [4], "pe_array.colour": [1]}))
    assert error.value.field == 'sweep.parameters."pe_array.colour"'
    assert error.value.line is not None
    assert "adc_bits" in error.value.allowed


def test_parameter_of_a_section_the_base_lacks(write_spec):
    with pytest.raises(ConfigError, match=r"has no \[reram\] section"):
        load_sweep_spec(write_spec({"adc_bits": [4, 8]}))


@pytest.mark.parametrize("values, message", [
    ([], "at least one value"),
    ({"start": 8, "stop": 4, "step": 1}, "stop must be >= start"),
    ({"start": 1, "stop": 4, "step": 0}, "step must be > 0"),
    ({"start": 1, "stop": 4, "factor": 1}, "factor > 1"),
    ({"start": 1, "stop": 4}, "unknown range form"),
    ({"start": "a", "stop": 4, "step": 1}, "must be a number"),
    ("8", "list of values or a range table"),
])
def test_bad_values(write_spec, values, message):
    with pytest.raises(ConfigError, match=message):
        load_sweep_spec(write_spec({"pe_array.rows": values}))


def test_missing_files_and_tables(tmp_path, write_spec):
    with pytest.raises(ConfigError, match="not found"):
        load_sweep_spec(tmp_path / "none.toml")
    with pytest.raises(ConfigError, match="trace 0 is invalid") as error:
        load_sweep_spec(write_spec({"pe_array.rows": [4]}, trace="missing.csv"))
    assert error.value.field == "sweep.traces"
    (tmp_path / "empty.toml").write_text("[other]\n")
    with pytest.raises(ConfigError, match=r"needs a \[sweep\] table"):
        load_sweep_spec(tmp_path / "empty.toml")
    with pytest.raises(ConfigError, match="at least one parameter"):
        load_sweep_spec(write_spec({}))
