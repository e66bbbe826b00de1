"""`sweep(spec, out_dir)`: screen every point analytically, validate the front with the engine, resumably."""
from __future__ import annotations

import json
import platform
import sqlite3
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ConfigError
from sim.sweep import store
from sim.sweep.evaluate import (
    METRICS,
    STATUSES,
    ScreenedRows,
    SweepContext,
    file_id,
    grid_vectorizable,
    invalid_values,
    params_texts,
    point_key,
    screen_chunk,
    validate_point,
)
from sim.report.files import atomic_write_text
from sim.sweep.execute import open_backend
from sim.sweep.lock import folder_lock
from sim.sweep.pareto import objective_column, pareto_mask, top_k
from sim.sweep.spec import SweepSpec, load_sweep_spec


@dataclass(frozen=True)
class Disagreement:
    """A validated point where the analytical screening and the engine differ by more than the tolerance."""

    key: str
    trace: str
    params: str
    field: str
    engine: float
    analytical: float
    relative_error: float


@dataclass(frozen=True)
class SweepResult:
    """What a sweep produced; the rows themselves live in `database` (read them with to_frame())."""

    spec: SweepSpec
    out_dir: Path
    database: Path
    points: int  # screened points over all traces (this run and earlier ones)
    ok: int
    excluded: int
    failed: int
    screened_now: int  # points screened by this run (the rest were already in the database)
    front: tuple[str, ...]  # keys on the Pareto front, over all traces
    validated: int
    validated_now: int
    disagreements: tuple[Disagreement, ...]
    exports: tuple[Path, ...] = ()

    def to_frame(self, table: str = "points") -> Any:
        """The points (or "validations") as a pandas DataFrame; points carry `on_front` and `selected_by`."""
        frame = store.read_frame(self.database, table)
        if table == "points" and len(frame):
            connection = sqlite3.connect(self.database)
            try:
                selection = dict(connection.execute("SELECT key, selected_by FROM selection").fetchall())
            finally:
                connection.close()
            frame["selected_by"] = frame["key"].map(selection).fillna("")
            frame["on_front"] = frame["key"].isin(set(self.front))
        return frame


def versions() -> str:
    import numba
    import pydantic

    import sim

    return (f"sim={sim.__version__} python={platform.python_version()} numpy={np.__version__} "
            f"numba={numba.__version__} pydantic={pydantic.__version__}")


def _mapper_cache(spec: SweepSpec) -> Any:
    if spec.mapping != "auto":
        return None
    from sim.mapper.search import MapperCache

    return MapperCache()  # one per sweep (and per worker process it is pickled to): a layer is searched once there


def _contexts(spec: SweepSpec) -> list[SweepContext]:
    from sim.api import load_hardware, load_trace

    base = load_hardware(spec.hardware)
    base_id = file_id(spec.hardware) + ("|mapping=auto" if spec.mapping == "auto" else "")
    stamp = versions()
    contexts = [SweepContext(spec_file=spec.source_file, trace=load_trace(path, batch=spec.batch),
                             trace_id=file_id(path), base=base, base_id=base_id, parameters=spec.parameters,
                             constraints=spec.constraints, versions=stamp, accuracy=spec.accuracy,
                             mapping=spec.mapping, mapper_cache=_mapper_cache(spec))
                for path in spec.traces]
    if contexts and grid_vectorizable(contexts[0]):
        invalid = invalid_values(contexts[0])
        contexts = [replace(context, invalid_values=invalid) for context in contexts]
    return contexts


def _pending(context: SweepContext, done: set[str]) -> np.ndarray:
    """Grid indices of the points not in the database yet (all of them on a fresh sweep)."""
    total = int(np.prod(context.shape))
    if not done:
        return np.arange(total, dtype=np.int64)
    indices = np.arange(total, dtype=np.int64)
    texts = params_texts(context, np.unravel_index(indices, context.shape))
    finished = np.fromiter((point_key(context.trace_id, context.base_id, text) in done for text in texts),
                           dtype=bool, count=total)
    return indices[~finished]


def _chunks(pending: np.ndarray, size: int) -> list[np.ndarray]:
    return [pending[start:start + size] for start in range(0, pending.size, size)]


@dataclass(frozen=True)
class _Screened:
    """One trace's points screened by this run, as columns (the rows it inserted into a fresh database)."""

    keys: np.ndarray  # str, KEY_CHARS each
    status: np.ndarray  # int8 codes into STATUSES
    metrics: np.ndarray  # (len(METRICS), points), NaN where the database holds NULL


def _screened_in_memory(batches: list[ScreenedRows]) -> dict[str, _Screened]:
    by_trace: dict[str, list[ScreenedRows]] = {}
    for batch in batches:
        by_trace.setdefault(batch.trace, []).append(batch)
    return {trace: _Screened(keys=np.concatenate([batch.key_array() for batch in group]),
                             status=np.concatenate([batch.status for batch in group]),
                             metrics=np.concatenate([batch.metrics for batch in group], axis=1))
            for trace, group in by_trace.items()}


def _objective_rows(connection: sqlite3.Connection, trace: str, columns: list[str], statuses: tuple[str, ...],
                    screened: dict[str, _Screened] | None) -> tuple[np.ndarray, list[np.ndarray]]:
    """Keys and objective columns of one trace's points with one of `statuses`, from the database, or from
    this run's batches when it screened every point into an empty database (the same rows, not re-read)."""
    if screened is not None:
        points = screened[trace]
        keep = np.isin(points.status, [STATUSES.index(status) for status in statuses])
        return points.keys[keep], [points.metrics[METRICS.index(column)][keep] for column in columns]
    query = (f"SELECT key, {', '.join(columns)} FROM points WHERE trace = ? "
             f"AND status IN ({', '.join('?' * len(statuses))})")
    rows = connection.execute(query, (trace, *statuses)).fetchall()
    if not rows:
        return np.array([], dtype=str), []
    key_column, *metric_columns = zip(*rows)
    return np.array(key_column), [np.array(column, dtype=np.float64) for column in metric_columns]  # NULL -> nan


def _select(connection: sqlite3.Connection, spec: SweepSpec, has_clock: bool,
            screened: dict[str, _Screened] | None = None) -> dict[str, tuple[str, str, str]]:
    """key -> (trace, params, selected_by) of the points the engine validates."""
    columns = [objective_column(objective, has_clock) for objective in spec.objectives]
    signs = np.array([sign for _, sign in columns])
    chosen: dict[str, tuple[str, str]] = {}
    traces = (sorted(screened) if screened is not None else
              [t for (t,) in connection.execute("SELECT DISTINCT trace FROM points ORDER BY trace")])
    statuses = ("ok", "excluded") if spec.engine == "all" else ("ok",)
    for trace in traces:
        key_column, metric_columns = _objective_rows(connection, trace, [c for c, _ in columns], statuses, screened)
        if not key_column.size:
            continue
        # By key: the same selection whatever order the rows were written in (keys are unique hex strings).
        order = np.argsort(key_column, kind="stable")
        keys = key_column[order].tolist()
        values = np.column_stack([column[order] for column in metric_columns]) * signs
        for index in np.flatnonzero(pareto_mask(values)):
            chosen[keys[index]] = (trace, "front")
        if spec.engine == "all":
            for key in keys:
                chosen.setdefault(key, (trace, "all"))
        for objective, column in zip(spec.objectives, range(values.shape[1])):
            for index in top_k(values[:, column], spec.top_k):
                chosen.setdefault(keys[index], (trace, f"top_{objective}"))
    params = {}
    chosen_keys = list(chosen)
    for start in range(0, len(chosen_keys), 500):
        batch = chosen_keys[start:start + 500]
        params.update(connection.execute(
            f"SELECT key, params FROM points WHERE key IN ({', '.join('?' * len(batch))})", batch).fetchall())
    return {key: (trace, params[key], by) for key, (trace, by) in chosen.items()}


def _write_selection(connection: sqlite3.Connection, selected: dict[str, tuple[str, str, str]]) -> None:
    with connection:
        connection.execute("CREATE TABLE IF NOT EXISTS selection (key TEXT PRIMARY KEY, trace TEXT, "
                           "selected_by TEXT)")
        connection.execute("DELETE FROM selection")
        connection.executemany("INSERT INTO selection VALUES (?, ?, ?)",
                               [(key, trace, by) for key, (trace, _, by) in selected.items()])


def _disagreements(connection: sqlite3.Connection, tolerance: float) -> tuple[Disagreement, ...]:
    found = []
    query = ("SELECT key, trace, params, cycles, analytical_cycles, cycles_rel_error, energy_pj, "
             "analytical_energy_pj, energy_rel_error FROM validations WHERE status = 'ok' ORDER BY trace, key")
    for key, trace, params, *values in connection.execute(query):
        for field, (engine, analytical, error) in (("cycles", values[0:3]), ("energy_pj", values[3:6])):
            if error is not None and error > tolerance:
                found.append(Disagreement(key, trace, params, field, engine, analytical, error))
    return tuple(found)


class _Progress:
    """A rich progress bar without a refresh thread (the pool forks while it runs) on a terminal; plain lines on
    stderr when stderr is not one (a pipe, a log)."""

    def __init__(self, console: Any, description: str, total: int) -> None:
        self.bar = self.lines = None
        self.done = 0
        if console is None or total == 0 or getattr(console, "quiet", False):
            return
        if not sys.stderr.isatty():
            from sim.report.progress import PlainLines

            self.lines = PlainLines(description, total, "points")
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TimeRemainingColumn,
        )

        self.bar = Progress("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=console, auto_refresh=False, transient=False)
        self.bar.start()
        self.task = self.bar.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        self.done += amount
        if self.lines is not None:
            self.lines.update(self.done)
        if self.bar is not None:
            self.bar.advance(self.task, amount)
            self.bar.refresh()

    def stop(self) -> None:
        if self.lines is not None:
            self.lines.close()
        if self.bar is not None:
            self.bar.stop()


def _run_stages(connection: sqlite3.Connection, spec: SweepSpec, contexts: list[SweepContext], backend: Any,
                console: Any) -> tuple[int, int, dict[str, _Screened] | None]:
    """Screen the pending points, then validate the selection with the engine; returns rows written by each,
    and this run's screened columns when they are the whole database (None otherwise)."""
    done = store.finished_keys(connection)
    tasks = []
    for context in contexts:
        pending = _pending(context, done)
        # Vectorized chunks are cheap; per-point chunks stay small so a kill loses little.
        size = (spec.chunk_points if grid_vectorizable(context)
                else max(1, min(16, pending.size // (4 * max(backend.workers, 1)))))
        # Worker processes also build each batch's SQLite image, which the single writer only copies.
        image = grid_vectorizable(context) and backend.parallel and store.IMAGES_SUPPORTED
        tasks += [(context, chunk, image) for chunk in _chunks(pending, size)]
    progress = _Progress(console, "screening (analytical)", sum(chunk.size for _, chunk, _ in tasks))
    screened_now = 0
    # Kept only while every row of the database is one this run inserted from a ScreenedRows batch.
    batches: list[ScreenedRows] | None = [] if not done else None
    try:
        for _, rows in backend.run(screen_chunk, tasks):
            written = store.write_rows(connection, "points", rows)
            screened_now += written
            progress.advance(len(rows))
            if batches is not None and isinstance(rows, ScreenedRows) and written == len(rows):
                batches.append(replace(rows, params="", reasons=(), image=None))  # what selection reads
            else:
                batches = None
    finally:
        progress.stop()
    screened = _screened_in_memory(batches) if batches else None

    has_clock = contexts[0].base.kind != "directive"
    validated_now = 0
    if spec.engine != "none":
        selected = _select(connection, spec, has_clock, screened)
        _write_selection(connection, selected)
        validated = store.finished_keys(connection, "validations")
        by_trace = {context.trace.name: context for context in contexts}
        analytical = {}
        for key in selected:
            found = connection.execute("SELECT cycles, energy_pj FROM points WHERE key = ?", (key,)).fetchone()
            analytical[key] = dict(zip(("cycles", "energy_pj"), found or (None, None)))
        jobs = [(by_trace[trace], json.loads(params), by, analytical.get(key, {}), spec.functional, spec.seed)
                for key, (trace, params, by) in selected.items() if key not in validated and trace in by_trace]
        progress = _Progress(console, "validating (engine)", len(jobs))
        try:
            for _, row in backend.run(validate_point, jobs):
                validated_now += store.write_rows(connection, "validations", [row])
                progress.advance(1)
        finally:
            progress.stop()
    else:
        _write_selection(connection, {})
    return screened_now, validated_now, screened


def sweep(spec: SweepSpec | str | Path, out_dir: str | Path, *, workers: int | None = None, dask: str | None = None,
          console: Any = None, export: bool = True) -> SweepResult:
    """Run (or resume) a sweep into `out_dir`; returns counts, the front and the disagreements.

    `workers`: local pool size (default: the CPUs this process may use; 0 runs in this process).
    `dask`: a scheduler address, or "local" for a LocalCluster. `console`: a rich Console for progress bars.
    """
    if not isinstance(spec, SweepSpec):
        spec = load_sweep_spec(spec)
    out_dir = Path(out_dir)
    wait_note = None if console is None else (
        lambda holder: console.print(f"another sweep ({holder}) is running on {out_dir}; waiting, then resuming"))
    # One sweep per folder at a time: a second one waits, then finds the first one's points in the database.
    with folder_lock(out_dir, wait_note):
        return _sweep_locked(spec, out_dir, workers=workers, dask=dask, console=console, export=export)


def _sweep_locked(spec: SweepSpec, out_dir: Path, *, workers: int | None, dask: str | None, console: Any,
                  export: bool) -> SweepResult:
    database = out_dir / store.DATABASE_NAME
    connection = store.connect(database)
    try:
        contexts = _contexts(spec)
        store.set_meta(connection, {"name": spec.name, "spec_file": spec.source_file,
                                    "objectives": list(spec.objectives), "hardware": str(spec.hardware),
                                    "hardware_kind": contexts[0].base.kind,
                                    "parameters": {p.name: list(p.paths) for p in spec.parameters},
                                    "constraints": spec.constraints.active()})
        with open_backend(workers=workers, dask=dask) as backend:
            screened_now, validated_now, screened = _run_stages(connection, spec, contexts, backend, console)
        has_clock = contexts[0].base.kind != "directive"
        counts = dict(connection.execute("SELECT status, COUNT(*) FROM points GROUP BY status").fetchall())
        front = tuple(key for (key,) in connection.execute(
            "SELECT key FROM selection WHERE selected_by = 'front' ORDER BY trace, key"))
        if spec.engine == "none":
            front = _front_only(connection, spec, has_clock, screened)
        validated_total = connection.execute("SELECT COUNT(*) FROM validations").fetchone()[0]
        disagreements = _disagreements(connection, spec.tolerance)
    finally:
        connection.close()
    exports = tuple(store.export(database, out_dir)) if export else ()
    result = SweepResult(
        spec=spec, out_dir=out_dir, database=database, points=sum(counts.values()), ok=counts.get("ok", 0),
        excluded=counts.get("excluded", 0), failed=counts.get("failed", 0) + counts.get("error", 0),
        screened_now=screened_now, front=front, validated=validated_total, validated_now=validated_now,
        disagreements=disagreements, exports=exports,
    )
    _write_summary(result)
    return result


def _front_only(connection: sqlite3.Connection, spec: SweepSpec, has_clock: bool,
                screened: dict[str, _Screened] | None) -> tuple[str, ...]:
    no_validation = replace(spec, engine="front", top_k=0)
    selected = _select(connection, no_validation, has_clock, screened)
    _write_selection(connection, selected)
    return tuple(sorted(selected))


def _write_summary(result: SweepResult) -> None:
    summary = {
        "name": result.spec.name, "points": result.points, "ok": result.ok, "excluded": result.excluded,
        "failed": result.failed, "front": list(result.front), "validated": result.validated,
        "tolerance": result.spec.tolerance,
        "disagreements": [d.__dict__ for d in result.disagreements],
    }
    atomic_write_text(result.out_dir / "summary.json", json.dumps(summary, indent=2, default=str))


def run_sweep_command(spec_path: str | Path, out_dir: str | Path, *, dask: str | None = None,
                      workers: int | None = None, console: Any = None, mapping: str | None = None) -> SweepResult:
    """What `sim sweep SPEC` does: run or resume the sweep, print a summary, write the Pareto plot."""
    from rich.table import Table

    spec = load_sweep_spec(spec_path)
    if mapping is not None:
        if mapping != "auto":
            raise ConfigError("a sweep takes --mapping auto (each point's best mappings) or no --mapping",
                              field="--mapping", value=mapping, allowed="auto")
        spec = replace(spec, mapping="auto")
    if console is not None:
        console.print(f"sweep '{spec.name}': {spec.points_per_trace} points x {len(spec.traces)} trace(s)")
    result = sweep(spec, out_dir, workers=workers, dask=dask, console=console)
    from sim.report.plots import plot_command

    written = plot_command(result.database, Path(out_dir))
    if console is None:
        return result
    table = Table(title=f"sweep {spec.name}")
    for column in ("points", "ok", "excluded", "failed", "screened now", "on front", "engine-validated",
                   "disagreements"):
        table.add_column(column, justify="right")
    table.add_row(str(result.points), str(result.ok), str(result.excluded), str(result.failed),
                  str(result.screened_now), str(len(result.front)), str(result.validated),
                  str(len(result.disagreements)))
    console.print(table)
    if result.disagreements:
        detail = Table(title=f"engine vs analytical beyond {spec.tolerance:.1%}")
        for column in ("trace", "params", "field", "engine", "analytical", "rel. error"):
            detail.add_column(column)
        worst_first = sorted(result.disagreements, key=lambda item: -item.relative_error)
        if len(worst_first) > 20:
            detail.caption = f"the 20 largest of {len(worst_first)}; all in summary.json and validations.csv"
        for item in worst_first[:20]:
            detail.add_row(item.trace, item.params, item.field, f"{item.engine:.6g}", f"{item.analytical:.6g}",
                           f"{item.relative_error:.2%}")
        console.print(detail)
    console.print(f"results in {result.database} (+ points.csv/.parquet, summary.json)")
    for path in written:
        console.print(f"plot {path}")
    return result
