"""Sweeps and processes: exports are atomic, one sweep per folder at a time, pool workers die with their parent."""
import errno
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sim.errors import OutputError
from sim.sweep import store, sweep
from sim.sweep.lock import LOCK_NAME, folder_lock

ROOT = Path(__file__).resolve().parents[3]
LINUX = sys.platform.startswith("linux")


def test_full_disk_during_export_leaves_no_zero_byte_file(write_spec, tmp_path, monkeypatch):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    spec = write_spec({"pe_array.rows": [4, 8]}, validate={"engine": "none"})
    out = tmp_path / "out"
    first = sweep(spec, out, workers=0)
    before = {path.name: path.read_bytes() for path in first.exports}

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pandas.DataFrame, "to_parquet", full)
    with pytest.raises(OutputError, match="points.parquet.*No space left"):
        store.export(out / store.DATABASE_NAME, out)
    after = {path.name: path.read_bytes() for path in out.iterdir() if path.suffix in (".csv", ".parquet")}
    assert after["points.parquet"] == before["points.parquet"]  # the previous export, not a 0-byte file
    assert all(after.values())
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_full_disk_during_a_first_export_leaves_no_file(write_spec, tmp_path, monkeypatch):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pandas.DataFrame, "to_csv", full)
    out = tmp_path / "out"
    with pytest.raises(OutputError):
        sweep(write_spec({"pe_array.rows": [4]}, validate={"engine": "none"}), out, workers=0)
    assert not list(out.glob("*.csv")) and not list(out.glob("*.tmp"))


@pytest.mark.skipif(not LINUX, reason="flock")
def test_a_second_sweep_on_the_folder_waits_for_the_first(tmp_path):
    events = []
    with folder_lock(tmp_path):
        def second():
            with folder_lock(tmp_path, on_wait=lambda holder: events.append(("waiting", holder))):
                events.append(("running", None))

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)
        assert events == [("waiting", f"pid {os.getpid()}")]
    thread.join(10)
    assert events[-1] == ("running", None)
    assert (tmp_path / LOCK_NAME).is_file()


@pytest.mark.skipif(not LINUX, reason="flock")
def test_two_concurrent_sweeps_on_one_folder_compute_each_point_once(write_spec, tmp_path):
    # accumulator_bits is outside the vectorized closed form, so each point runs the per-point model: slow
    # enough that the first sweep is mid-run when the second one starts.
    spec = write_spec({"pe_array.rows": {"start": 1, "stop": 16, "step": 1},
                       "pe_array.cols": {"start": 1, "stop": 32, "step": 1},
                       "pe_array.accumulator_bits": [16, 24, 32, 48, 64]}, validate={"engine": "none"})
    (tmp_path / "gemm.csv").write_text("name,type,m,n,k\n" + "".join(f"g{i},gemm,{24 + i},{20 + i},{18 + i}\n"
                                                                     for i in range(8)))
    out = tmp_path / "out"
    code = ("from sim.sweep import sweep; "
            f"print('screened', sweep({str(spec)!r}, {str(out)!r}, workers=0, export=False).screened_now)")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    first = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    database = out / store.DATABASE_NAME
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and first.poll() is None:  # until the first sweep is under way
        time.sleep(0.05)
        try:
            if sqlite3.connect(database).execute("SELECT COUNT(*) FROM points").fetchone()[0] >= 16:
                break
        except sqlite3.Error:
            continue
    second = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    screened = []
    for process in (first, second):
        output, _ = process.communicate(timeout=600)
        assert process.returncode == 0
        screened.append(int(output.split()[-1]))
    assert screened == [2560, 0]  # the second waited, then found every point done


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_pool_workers_die_when_the_sweep_is_killed(tmp_path):
    code = ("import time\n"
            "from sim.sweep.execute import open_backend\n"
            "with open_backend(workers=2) as backend:\n"
            "    list(backend.run(time.sleep, [(0,), (0,)]))\n"
            "    print('ready', flush=True)\n"
            "    time.sleep(600)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert parent.stdout.readline().strip() == "ready"
        workers = _children(parent.pid)
        assert len(workers) >= 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
    finally:
        if parent.poll() is None:
            parent.kill()
