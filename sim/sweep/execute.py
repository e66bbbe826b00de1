"""Running sweep tasks: in this process, on a local process pool (default), or on a Dask cluster.

`run_tasks` yields each task's result as it completes, so the caller writes it to the database at once; the
backends are concurrent.futures and dask.distributed, nothing home-made.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from sim.errors import ConfigError


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


@contextmanager
def _dask_client(address: str, workers: int | None) -> Iterator[Any]:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--dask needs dask.distributed installed", field="--dask", value=address,
                          allowed="pip install 'sim[sweep]'") from None
    if address in ("", "local"):
        # Quiet, process-based workers: the same isolation as the local pool.
        with LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
        return
    try:
        client = Client(address, timeout=30)
    except (OSError, TimeoutError) as error:
        raise ConfigError(f"cannot reach the Dask scheduler: {error}", field="--dask", value=address,
                          allowed="tcp://HOST:PORT of a running scheduler, or 'local'") from None
    with client:
        yield client


class Backend:
    """Where tasks run: this process (`workers=0`), a process pool, or a Dask client; open once per sweep."""

    def __init__(self, workers: int, pool: ProcessPoolExecutor | None = None, client: Any = None) -> None:
        self.workers = workers
        self.pool = pool
        self.client = client

    @property
    def parallel(self) -> bool:
        """Whether tasks run outside this process (a pool or a cluster)."""
        return self.pool is not None or self.client is not None

    def run(self, function: Callable[..., Any], arguments: Sequence[tuple]) -> Iterator[tuple[int, Any]]:
        """(task index, result) for each task, in completion order."""
        if not arguments:
            return
        if self.client is not None:
            from distributed import as_completed as dask_completed

            futures = {self.client.submit(function, *args, pure=False): index for index, args in enumerate(arguments)}
            for future in dask_completed(list(futures)):
                yield futures[future], future.result()
            return
        if self.pool is None:
            for index, args in enumerate(arguments):
                yield index, function(*args)
            return
        futures = {self.pool.submit(function, *args): index for index, args in enumerate(arguments)}
        for future in as_completed(futures):
            yield futures[future], future.result()


@contextmanager
def open_backend(*, workers: int | None = None, dask: str | None = None) -> Iterator[Backend]:
    """A Backend: `dask` is a scheduler address or "local" (a LocalCluster); else a pool of `workers`
    processes (default: the CPUs this process may use), or this process when `workers=0`."""
    count = default_workers() if workers is None else workers
    if count < 0:
        raise ConfigError("workers must be >= 0", field="--workers", value=count, allowed="0 (in process), 1, 2 ...")
    if dask is not None:
        with _dask_client(dask, workers) as client:
            yield Backend(count, client=client)
        return
    if count == 0:
        yield Backend(0)
        return
    from sim.sweep.lock import die_with_parent

    # Workers end with this process, even when it is killed by SIGKILL and cannot shut the pool down.
    with ProcessPoolExecutor(max_workers=count, initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        yield Backend(count, pool=pool)
