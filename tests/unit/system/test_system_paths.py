"""A system config's accelerator `hw` paths are confined like energy-table includes: inside the config's folder tree
(after symbolic links are followed) unless --include-root widens it, or the file name of a shipped config."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sim.errors import ConfigError
from sim.system.spec import load_system, shipped_hardware

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"
TREE = "inside the config's folder tree (or pass --include-root DIR)"


def _system(folder: Path, hw: str) -> Path:
    path = folder / "system.toml"
    path.write_text(f'[[accelerator]]\nname = "a"\nhw = "{hw}"\n')
    return path


def _own_copy(folder: Path) -> Path:
    """A hardware config that is not shipped, with its energy tables beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(SHIPPED, folder / "mine.toml")
    shutil.copytree(ROOT / "hw_configs" / "energy", folder / "energy", dirs_exist_ok=True)
    return folder / "mine.toml"


def test_shipped_names_and_paths_inside_the_tree_load(tmp_path):
    assert load_system(_system(tmp_path, "scalesim_32x32_ws.toml")).accelerators[0].hardware.name
    assert shipped_hardware("scalesim/scale.cfg") is not None and shipped_hardware("../x.toml") is None
    assert shipped_hardware("energy/horowitz_45nm.toml") is None
    _own_copy(tmp_path / "hw")
    assert load_system(_system(tmp_path, "hw/mine.toml")).accelerators[0].hardware is not None


@pytest.mark.parametrize("hw, message", [
    ("/etc/passwd", "absolute include paths are not allowed"),
    ("/dev/zero", "absolute include paths are not allowed"),
    ("../outside/mine.toml", "include path leaves the config's folder tree"),
    ("sub/../../outside/mine.toml", "include path leaves the config's folder tree"),
    ("escape.toml", "include path leaves the config's folder tree"),  # a symbolic link out of the tree
    ("zero.toml", "include path leaves the config's folder tree"),  # a symbolic link to a device
    ("nul\\u0001.toml", "include path contains a control character"),
    ("missing.toml", "hardware config not found"),
])
def test_paths_out_of_the_tree_are_refused_naming_file_and_field(tmp_path, hw, message):
    _own_copy(tmp_path / "outside")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    os.symlink(tmp_path / "outside" / "mine.toml", tree / "escape.toml")
    os.symlink("/dev/zero", tree / "zero.toml")
    with pytest.raises(ConfigError, match=message) as error:
        load_system(_system(tree, hw))
    text = str(error.value)
    assert "system.toml" in text and "accelerator[0].hw" in text
    assert "--include-root" in text or "not found" in message


def test_a_fifo_or_device_inside_the_tree_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "pipe.toml")
    with pytest.raises(ConfigError, match="FIFO"):
        load_system(_system(tmp_path, "pipe.toml"))
    (tmp_path / "dir.toml").mkdir()
    with pytest.raises(ConfigError, match="directory"):
        load_system(_system(tmp_path, "dir.toml"))


def test_include_root_widens_the_tree(tmp_path):
    _own_copy(tmp_path / "outside")
    tree = tmp_path / "tree"
    tree.mkdir()
    path = _system(tree, "../outside/mine.toml")
    with pytest.raises(ConfigError, match="leaves the config's folder tree"):
        load_system(path)
    assert load_system(path, include_root=tmp_path).accelerators[0].hardware is not None


def test_cli_system_refuses_an_escape_with_exit_2_and_accepts_include_root(tmp_path):
    _own_copy(tmp_path / "outside")
    tree = tmp_path / "tree"
    tree.mkdir()
    path = _system(tree, "../outside/mine.toml")
    trace = ROOT / "traces" / "scalesim" / "test.csv"

    def sim(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sim", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300)

    done = sim("system", str(path), "--trace", str(trace), "--analytical", "--inference", "-q", "--out", "o")
    assert done.returncode == 2 and "Traceback" not in done.stderr and not (tmp_path / "o").exists()
    assert "leaves the config's folder tree" in done.stderr and "accelerator[0].hw" in done.stderr
    done = sim("check", str(path))
    assert done.returncode == 2 and "leaves the config's folder tree" in done.stderr
    done = sim("check", str(path), "--include-root", str(tmp_path))
    assert done.returncode == 0, done.stderr
    done = sim("system", str(path), "--trace", str(trace), "--analytical", "--inference", "-q", "--out", "o",
               "--include-root", str(tmp_path))
    assert done.returncode == 0, done.stderr


def test_shipped_systems_name_shipped_configs_that_the_package_data_carries():
    import tomllib

    package_data = (ROOT / "pyproject.toml").read_text()
    for path in sorted((ROOT / "systems").glob("*.toml")):
        for entry in tomllib.loads(path.read_text())["accelerator"]:
            shipped = shipped_hardware(entry["hw"])
            assert shipped is not None and shipped.resolve() == (ROOT / "hw_configs" / entry["hw"]).resolve(), entry
            pattern = "shipped/*" + Path(entry["hw"]).suffix if "/" not in entry["hw"] else entry["hw"]
            assert f'"{pattern}"' in package_data or f'"shipped/{pattern}"' in package_data, pattern
