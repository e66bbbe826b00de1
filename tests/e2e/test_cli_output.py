"""Outputs of the `sim` command: names from inputs stay one path component, the output folder is checked before
simulating, failed writes leave nothing partial, `sim plot` refuses malformed inputs cleanly, -q and progress."""
import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.errors import OutputError

ROOT = Path(__file__).resolve().parents[2]
HW = ROOT / "hw_configs" / "scalesim_32x32_ws.toml"
CFG = ROOT / "hw_configs" / "scalesim" / "scale.cfg"
HOSTILE_NAMES = ["a/../../escaped", "../../escaped", "/etc/escaped", "..", "x\\..\\..\\escaped"]


def sim(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=env)


def hardware_named(folder: Path, name: str) -> Path:
    text = HW.read_text().replace('name = "scalesim_32x32_ws"', f"name = {json.dumps(name)}")
    # Includes stay inside the config's folder tree: the shipped tables travel with the config.
    shutil.copytree(ROOT / "hw_configs" / "energy", folder / "energy", dirs_exist_ok=True)
    path = folder / "hw.toml"
    path.write_text(text)
    return path


def cfg_named(folder: Path, run_name: str) -> Path:
    text = CFG.read_text().replace("run_name = scale_example_run_32x32_os", f"run_name = {run_name}")
    path = folder / "scale.cfg"
    path.write_text(text)
    return path


def trace(folder: Path, layers: int = 2) -> Path:
    path = folder / "t.csv"
    path.write_text("name,type,m,n,k\n" + "".join(f"g{i},gemm,{16 + i},24,20\n" for i in range(layers)))
    return path


def files_outside(root: Path, inside: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and inside not in p.parents and p.parent != root]


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("command", ["run", "run --analytical", "compare"])
def test_hardware_name_cannot_steer_the_default_output_folder(tmp_path, monkeypatch, name, command):
    work = tmp_path / "work"
    work.mkdir()
    hw = hardware_named(tmp_path, name)
    monkeypatch.chdir(work)
    assert invoke(*command.split(), "--hw", str(hw), "--trace", str(trace(tmp_path)), "-q").exit_code == 0
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p.suffix in (".json", ".csv")
               and p.name not in ("t.csv",)]
    assert written and all(p.parent.parent == work / "out" for p in written), written


@pytest.mark.parametrize("run_name", ["a/../../escaped", "../../../escaped", "/etc/escaped"])
def test_cfg_run_name_cannot_steer_the_default_output_folder(tmp_path, monkeypatch, run_name):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert invoke("run", "--hw", str(cfg_named(tmp_path, run_name)), "--trace", str(trace(tmp_path)), "-q").exit_code == 0
    reports = list(tmp_path.rglob("report.json"))
    assert len(reports) == 1 and reports[0].parent.parent == work / "out", reports


def test_sweep_spec_name_is_a_safe_default_folder(tmp_path):
    from sim.cli import _default_out

    assert _default_out(Path("a/b/../t.csv"), "../../x").parent == Path("out")


@pytest.mark.parametrize("command", ["run", "compare"])
def test_out_naming_an_existing_file_fails_before_simulating(tmp_path, command):
    # A subprocess: the exit code and stderr as a user sees them.
    target = tmp_path / "report"
    target.write_text("keep me")
    done = sim(command, "--hw", str(HW), "--trace", str(trace(tmp_path)), "--out", str(target))
    assert done.returncode == 2
    assert "existing file" in done.stderr and "Traceback" not in done.stderr
    assert target.read_text() == "keep me"


def test_unwritable_out_fails_before_simulating(tmp_path, monkeypatch):
    import sim.report.files as files

    simulated = []
    monkeypatch.setattr("sim.api.simulate", lambda *a, **k: simulated.append(1))

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    result = CliRunner().invoke(app, ["run", "--hw", str(HW), "--trace", str(trace(tmp_path)), "--out",
                                      str(tmp_path / "out")])
    assert isinstance(result.exception, OutputError) and "Permission denied" in str(result.exception)
    assert not simulated and not (tmp_path / "out").exists()


def test_full_disk_while_writing_the_report_leaves_no_report(tmp_path, monkeypatch):
    import sim.report.writer as writer

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(writer.json, "dump", full)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", "--hw", str(HW), "--trace", str(trace(tmp_path)), "--out", str(out),
                                      "-q"])
    assert isinstance(result.exception, OutputError) and "No space left" in str(result.exception)
    assert list(out.iterdir()) == []  # no report.json, no half-written CSVs, no staging folder


def test_quiet_builds_no_table(tmp_path, monkeypatch):
    import sim.report.table as table

    monkeypatch.setattr(table, "render_table", lambda run: (_ for _ in ()).throw(AssertionError("table built")))
    result = CliRunner().invoke(app, ["run", "--hw", str(HW), "--trace", str(trace(tmp_path)), "--out",
                                      str(tmp_path / "out"), "-q"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "report.json").is_file()


def test_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path):
    done = sim("run", "--hw", str(HW), "--trace", str(trace(tmp_path, layers=5)), "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "simulating t: 5/5 layers (100 %)" in done.stderr
    assert "\x1b[" not in done.stderr  # no terminal control sequences in a log


@pytest.mark.parametrize("content", ['{"layers": [1, 2]}', '{"layers": [{"name": "a", "cycles": "x"}]}',
                                     '{"layers": "abc"}', "[" * 100_000, "not json", '{"layers": []}'])
def test_plot_of_a_malformed_report_is_a_clean_error(tmp_path, content):
    path = tmp_path / "report.json"
    path.write_text(content)
    done = sim("plot", str(path))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr and str(path) in done.stderr


def test_plot_of_a_malformed_database_is_a_clean_error(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(bytes(range(256)) * 4)
    other = tmp_path / "other.sqlite"
    connection = sqlite3.connect(other)
    connection.execute("CREATE TABLE x (a)")
    connection.commit()
    connection.close()
    for path in (garbage, other):
        before = path.read_bytes()
        done = sim("plot", str(path))
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert "not a sweep database" in done.stderr
        assert path.read_bytes() == before  # opened read-only


def test_sweep_out_naming_an_existing_file_fails_before_sweeping(tmp_path):
    target = tmp_path / "results"
    target.write_text("keep me")
    spec = tmp_path / "spec.toml"
    spec.write_text(f'[sweep]\nname = "s"\ntrace = "{trace(tmp_path).name}"\nhardware = "{HW.as_posix()}"\n'
                    '[sweep.parameters]\n"pe_array.rows" = [4, 8]\n')
    result = CliRunner().invoke(app, ["sweep", str(spec), "--out", str(target), "--workers", "0"])
    assert isinstance(result.exception, OutputError) and "existing file" in str(result.exception)
    assert target.read_text() == "keep me" and not (tmp_path / "results.sqlite").exists()
