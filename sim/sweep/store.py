"""The sweep's SQLite database: one row per screened point, one per engine-validated point.

Rows are written as each task finishes (WAL mode, one transaction per task), keyed by the stable hash of the
point's trace, base hardware and parameters, with INSERT OR IGNORE: a sweep killed at any moment keeps every
committed row, and re-running it skips them and never duplicates one.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.sweep.evaluate import METRICS

DATABASE_NAME = "results.sqlite"
POINT_COLUMNS = ("key", "trace", "params", "status", "reason", "model", *METRICS, "wall_s", "versions",
                 "finished_at")
VALIDATION_COLUMNS = ("key", "trace", "params", "selected_by", "status", "reason", "cycles", "latency_us",
                      "energy_pj", "edp", "power_mw", "utilization", "output_error", "analytical_cycles",
                      "analytical_energy_pj", "cycles_rel_error", "energy_rel_error", "wall_s", "versions",
                      "finished_at")
_TEXT = {"key", "trace", "params", "status", "reason", "model", "versions", "selected_by"}


def _schema(table: str, columns: tuple[str, ...]) -> str:
    parts = []
    for column in columns:
        kind = "TEXT" if column in _TEXT else "REAL"
        parts.append(f"{column} {kind}{' PRIMARY KEY' if column == 'key' else ''}")
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)})"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a sweep database in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=60)
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable against a killed process (the case a resumable sweep guards against).
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-131072")  # 128 MiB: keyed inserts of big sweeps stay in memory
    connection.execute("PRAGMA wal_autocheckpoint=16384")  # checkpoint every ~64 MiB, not every 4 MiB
    connection.execute(_schema("points", POINT_COLUMNS))
    connection.execute(_schema("validations", VALIDATION_COLUMNS))
    connection.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
    connection.commit()
    return connection


def write_rows(connection: sqlite3.Connection, table: str, rows: Iterable[dict[str, Any] | tuple]) -> int:
    """Insert rows (dicts, or tuples in the table's column order), skipping keys already there; returns the
    number inserted."""
    columns = POINT_COLUMNS if table == "points" else VALIDATION_COLUMNS
    sql = f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    with connection:
        cursor = connection.executemany(sql, [row if isinstance(row, tuple) else tuple(row.get(c) for c in columns)
                                              for row in rows])
    return cursor.rowcount


def finished_keys(connection: sqlite3.Connection, table: str = "points") -> set[str]:
    """Keys of the rows already in `table` (the points a re-run skips)."""
    return {key for (key,) in connection.execute(f"SELECT key FROM {table}")}


def set_meta(connection: sqlite3.Connection, values: dict[str, Any]) -> None:
    with connection:
        connection.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                               [(name, json.dumps(value, default=str)) for name, value in values.items()])


def read_meta(connection: sqlite3.Connection) -> dict[str, Any]:
    return {name: json.loads(value) for name, value in connection.execute("SELECT name, value FROM meta")}


def read_frame(path: Path, table: str = "points") -> Any:
    """A table as a pandas DataFrame, with each swept parameter as its own `param.<path>` column."""
    import pandas

    connection = sqlite3.connect(path)
    try:
        frame = pandas.read_sql_query(f"SELECT * FROM {table} ORDER BY trace, key", connection)
    finally:
        connection.close()
    if len(frame):
        params = pandas.DataFrame([json.loads(text) for text in frame["params"]], index=frame.index)
        params.columns = [f"param.{name}" for name in params.columns]
        frame = pandas.concat([frame, params], axis=1)
    return frame


def export(path: Path, out_dir: Path) -> list[Path]:
    """points.csv / points.parquet and validations.csv / validations.parquet beside the database."""
    try:
        import pandas  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError("exporting CSV and Parquet needs pandas and pyarrow (the results are in the database)",
                          file=path, allowed="pip install 'sim[sweep]'") from None
    written = []
    for table in ("points", "validations"):
        frame = read_frame(path, table)
        csv_path, parquet_path = out_dir / f"{table}.csv", out_dir / f"{table}.parquet"
        frame.to_csv(csv_path, index=False)
        frame.to_parquet(parquet_path, index=False)
        written += [csv_path, parquet_path]
    return written
