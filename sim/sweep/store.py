"""The sweep's SQLite database: one row per screened point, one per engine-validated point.

Rows are written as each task finishes (WAL mode, one transaction per task: a vectorized screening task's
batch of points, or one engine validation), keyed by the stable hash of the point's trace, base hardware and
parameters, with INSERT OR IGNORE: a sweep killed at any moment keeps every committed row, and re-running it
skips them and never duplicates one. Each row's `versions` holds a short key into the `versions` table (the
package-versions text is stored once); read_frame and the exports give the full text again.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.sweep.evaluate import METRICS, ScreenedRows

DATABASE_NAME = "results.sqlite"
POINT_COLUMNS = ("key", "trace", "params", "status", "reason", "model", *METRICS, "wall_s", "versions",
                 "finished_at")
VALIDATION_COLUMNS = ("key", "trace", "params", "selected_by", "status", "reason", "cycles", "latency_us",
                      "energy_pj", "edp", "power_mw", "utilization", "output_error", "accuracy", "accuracy_std",
                      "float_accuracy", "analytical_cycles",
                      "analytical_energy_pj", "cycles_rel_error", "energy_rel_error", "wall_s", "versions",
                      "finished_at")
_TEXT = {"key", "trace", "params", "status", "reason", "model", "versions", "selected_by"}
_BATCH_SCHEMA = "sweep_batch"  # the attached in-memory database a ScreenedRows image is loaded into
# Connection.serialize / deserialize need an SQLite built with them (the default since 3.36).
IMAGES_SUPPORTED = hasattr(sqlite3.Connection, "serialize") and hasattr(sqlite3.Connection, "deserialize")


def _schema(table: str, columns: tuple[str, ...], keyed: bool = True) -> str:
    parts = []
    for column in columns:
        kind = "TEXT" if column in _TEXT else "REAL"
        parts.append(f"{column} {kind}{' PRIMARY KEY' if column == 'key' and keyed else ''}")
    return f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(parts)})"


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def rows_image(rows: ScreenedRows) -> bytes:
    """A batch's rows as a serialized in-memory SQLite database (a `points` table with the same column types,
    versions already keyed): built where the batch was screened, copied by write_rows."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute(_schema("points", POINT_COLUMNS, keyed=False))
        connection.executemany(_insert_sql("points", POINT_COLUMNS),
                               iter(replace(rows, versions=version_key(rows.versions))))
        connection.commit()
        return connection.serialize()
    finally:
        connection.close()


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating) a sweep database in WAL mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=60)
    # 16 KiB pages (a new database only; must precede WAL): a quarter of the WAL frames and write calls per batch.
    connection.execute("PRAGMA page_size=16384")
    connection.execute("PRAGMA journal_mode=WAL")
    # NORMAL is durable against a killed process (the case a resumable sweep guards against), not against a
    # power loss or an OS crash, which may lose the last committed batches (never corrupt the database).
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute("PRAGMA cache_size=-131072")  # 128 MiB: keyed inserts of big sweeps stay in memory
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    # Checkpoint every ~64 MiB of WAL, not every 1000 pages.
    connection.execute(f"PRAGMA wal_autocheckpoint={64 * 2**20 // page_size}")
    connection.execute(_schema("points", POINT_COLUMNS))
    connection.execute(_schema("validations", VALIDATION_COLUMNS))
    present = {row[1] for row in connection.execute("PRAGMA table_info(validations)")}
    for column in VALIDATION_COLUMNS:
        if column not in present:  # a database of an earlier version resumes with the newer columns empty
            connection.execute(f"ALTER TABLE validations ADD COLUMN {column} REAL")
    connection.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
    connection.execute("CREATE TABLE IF NOT EXISTS versions (key TEXT PRIMARY KEY, text TEXT)")
    connection.commit()
    return connection


def write_rows(connection: sqlite3.Connection, table: str,
               rows: ScreenedRows | Iterable[dict[str, Any] | tuple]) -> int:
    """Insert rows (a ScreenedRows batch, dicts, or tuples in the table's column order) in one transaction,
    skipping keys already there; returns the number inserted."""
    columns = POINT_COLUMNS if table == "points" else VALIDATION_COLUMNS
    if isinstance(rows, ScreenedRows) and rows.image is not None:
        if _BATCH_SCHEMA not in {name for _, name, _ in connection.execute("PRAGMA database_list")}:
            connection.execute(f"ATTACH DATABASE ':memory:' AS {_BATCH_SCHEMA}")
        connection.deserialize(rows.image, name=_BATCH_SCHEMA)
        names = ", ".join(columns)
        with connection:  # one transaction: the batch and its versions entry, committed whole or not at all
            _version_key(connection, rows.versions)
            cursor = connection.execute(f"INSERT OR IGNORE INTO main.{table} ({names}) "
                                        f"SELECT {names} FROM {_BATCH_SCHEMA}.{table}")
        return cursor.rowcount
    sql = _insert_sql(table, columns)
    with connection:  # one transaction per task's batch (and its versions entry): committed whole or not at all
        if isinstance(rows, ScreenedRows):  # a batch yields its tuples lazily, while SQLite inserts them
            rows = replace(rows, versions=_version_key(connection, rows.versions))
        else:
            at = columns.index("versions")
            rows = [row if isinstance(row, tuple) else tuple(row.get(c) for c in columns) for row in rows]
            rows = [(*row[:at], _version_key(connection, row[at]), *row[at + 1:]) for row in rows]
        cursor = connection.executemany(sql, iter(rows))
    return cursor.rowcount


def version_key(text: str | None) -> str | None:
    """The short key rows store for a package-versions text (the `versions` table maps it back)."""
    return None if text is None else "v" + hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def _version_key(connection: sqlite3.Connection, text: str | None) -> str | None:
    """version_key(text), entered in the `versions` table."""
    key = version_key(text)
    if key is not None:
        connection.execute("INSERT OR IGNORE INTO versions (key, text) VALUES (?, ?)", (key, text))
    return key


def version_texts(connection: sqlite3.Connection) -> dict[str, str]:
    """key -> package-versions text (empty for a database written before the `versions` table existed)."""
    try:
        return dict(connection.execute("SELECT key, text FROM versions").fetchall())
    except sqlite3.OperationalError:
        return {}


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
        texts = version_texts(connection)
    finally:
        connection.close()
    if len(frame):
        frame["versions"] = frame["versions"].map(lambda key: texts.get(key, key))  # the full text again
        params = pandas.DataFrame([json.loads(text) for text in frame["params"]], index=frame.index)
        params.columns = [f"param.{name}" for name in params.columns]
        frame = pandas.concat([frame, params], axis=1)
    return frame


def export(path: Path, out_dir: Path) -> list[Path]:
    """points.csv / points.parquet and validations.csv / validations.parquet beside the database."""
    from sim.report.files import atomic_file

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
        # Atomic: a full disk leaves the previous export (or none), never a truncated or 0-byte file.
        with atomic_file(csv_path, newline="") as handle:
            frame.to_csv(handle, index=False)
        with atomic_file(parquet_path, "wb") as handle:
            frame.to_parquet(handle, index=False)
        written += [csv_path, parquet_path]
    return written
