"""The repository names no absolute path of a developer's machine (a venv, a reference folder, a home), and
a wheel carries the data every shipped config needs."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".toml", ".cfg", ".csv", ".m", ".txt", ".json", ".yaml", ".yml", ".ini"}
# Roots of one machine's file tree; written split so that this file does not match itself.
MACHINE_PATH = re.compile("|".join(re.escape(root) for root in (
    "/" + "home/", "/" + "root/", "/" + "work/", "/" + "Users/", "/" + "tmp/", "/" + "mnt/", "C:" + "\\Users")))


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / line for line in listed.splitlines() if Path(line).suffix in TEXT_SUFFIXES]


def test_no_absolute_machine_path_in_the_repository():
    hits = []
    for path in tracked_files():
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if MACHINE_PATH.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert not hits, "\n".join(hits)


def test_every_shipped_config_finds_its_energy_tables_inside_the_package():
    """The shipped configs' default energy tables resolve to files under sim/ (package data), so a wheel install
    loads every config in hw_configs/ without the source tree's hw_configs/energy folder."""
    import sim

    package = Path(sim.__file__).resolve().parent
    data = package / "hardware" / "energy"
    assert data.is_dir() and list(data.glob("*.toml"))
    referenced = set()
    for config in (ROOT / "hw_configs").rglob("*.toml"):
        referenced |= set(re.findall(r'"energy/([\w.-]+\.toml)"', config.read_text()))
    assert referenced and all((data / name).is_file() for name in referenced), referenced
