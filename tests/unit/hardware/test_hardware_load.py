"""load_hardware: dispatch by suffix; every shipped config loads; every shipped number has a source."""
import re
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.hardware.load import check_hardware, load_hardware

ROOT = Path(__file__).resolve().parents[3]
HW_CONFIGS = ROOT / "hw_configs"
SHIPPED = sorted(p for p in HW_CONFIGS.rglob("*") if p.suffix in (".toml", ".cfg", ".m")
                 and "energy" not in p.relative_to(HW_CONFIGS).parts)
ENERGY_TABLES = sorted((HW_CONFIGS / "energy").glob("*.toml"))
# The digital configs and tables of this module's owner; other owners' files are only required to load.
OWN_TOML = [HW_CONFIGS / name for name in (
    "scalesim_32x32_os.toml", "scalesim_32x32_ws.toml", "scalesim_32x32_is.toml", "scalesim_32x32_ws_ddr4.toml",
    "tpu_v1_256x256_ws.toml", "eyeriss_12x14.toml", "energy/horowitz_45nm.toml", "energy/eyeriss_45nm_relative.toml")]
MINIMAL = """\
name = "t"
[pe_array]
rows = 1
cols = 1
[buffers.ifmap]
size_kb = 1
[buffers.filter]
size_kb = 1
[buffers.ofmap]
size_kb = 1
[dram]
bandwidth_bytes_per_cycle = 1
"""


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(HW_CONFIGS)))
def test_every_shipped_config_loads(path):
    hw = load_hardware(path)
    assert hw.name and hw.source_file == str(path)
    assert check_hardware(path) == hw


@pytest.mark.parametrize("path", OWN_TOML, ids=lambda p: str(p.relative_to(HW_CONFIGS)))
def test_every_shipped_number_has_a_source(path):
    """A numeric value needs `# source:` on its line or in a comment earlier in the same table."""
    sourced_table = False
    for number, line in enumerate(path.read_text().splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            sourced_table = False
        elif stripped.startswith("#"):
            sourced_table = sourced_table or "source:" in stripped
        elif re.match(r"^[\w.\"]+\s*=\s*[-+]?(\d|inf|nan)", stripped):
            assert "# source:" in line or sourced_table, f"{path.name}:{number}: number without a source: {line}"


@pytest.mark.parametrize("table", ENERGY_TABLES, ids=lambda p: p.name)
def test_every_shipped_energy_table_can_be_included(table, tmp_path):
    (tmp_path / "energy").mkdir()
    (tmp_path / "energy" / table.name).write_bytes(table.read_bytes())
    config = tmp_path / "hw.toml"
    config.write_text(f"energy_tables = ['energy/{table.name}']\n" + MINIMAL)
    hw = load_hardware(config)
    assert hw.energy and all(entry.source for entry in hw.energy.values())


def test_unknown_suffix_lists_the_formats(tmp_path):
    path = tmp_path / "hw.yaml"
    path.write_text("x: 1")
    with pytest.raises(ConfigError) as excinfo:
        load_hardware(path)
    assert excinfo.value.value == ".yaml" and ".toml" in excinfo.value.allowed and ".cfg" in excinfo.value.allowed


def test_missing_file_lists_the_formats(tmp_path):
    with pytest.raises(ConfigError) as excinfo:
        load_hardware(tmp_path / "nope.cfg")
    assert "not found" in str(excinfo.value) and ".m" in excinfo.value.allowed
    with pytest.raises(ConfigError, match="directory"):
        (tmp_path / "dir.toml").mkdir()
        load_hardware(tmp_path / "dir.toml")
