"""The SQLite store: keyed rows never duplicate; frames expand the parameters."""
import json

from sim.sweep import store


def row(key, **values):
    base = {"key": key, "trace": "t", "params": json.dumps({"pe_array.rows": values.pop("rows", 4)}),
            "status": "ok", "reason": "", "model": "analytical", "cycles": 10.0}
    base.update(values)
    return base


def test_rows_with_a_known_key_are_ignored(tmp_path):
    connection = store.connect(tmp_path / "r.sqlite")
    assert store.write_rows(connection, "points", [row("a"), row("b", rows=8)]) == 2
    assert store.write_rows(connection, "points", [row("a", cycles=99.0), row("c")]) == 1
    assert store.finished_keys(connection) == {"a", "b", "c"}
    assert connection.execute("SELECT cycles FROM points WHERE key = 'a'").fetchone() == (10.0,)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()
    frame = store.read_frame(tmp_path / "r.sqlite")
    assert sorted(frame["param.pe_array.rows"]) == [4, 4, 8]


def test_meta_round_trips_and_export_writes_csv_and_parquet(tmp_path):
    connection = store.connect(tmp_path / "r.sqlite")
    store.set_meta(connection, {"objectives": ["latency", "energy"]})
    store.write_rows(connection, "points", [row("a")])
    assert store.read_meta(connection) == {"objectives": ["latency", "energy"]}
    connection.close()
    written = store.export(tmp_path / "r.sqlite", tmp_path)
    assert {p.name for p in written} == {"points.csv", "points.parquet", "validations.csv", "validations.parquet"}
    assert all(p.stat().st_size > 0 for p in written)
