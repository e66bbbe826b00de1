"""Off-chip DRAM models: one channel that reads and writes compete for, chosen by name from `[dram] model`.

Contract of every model (`DramModel`):
- `issue(request, done)`: serve a `DramRequest`; `done(None)` runs (as a call of the CountingEnvironment) when a
  read's data has arrived or a write's data has left. Completion order is the model's: the command-level model
  (FR-FCFS) may finish a later request first. `request_call(kind, address, size_bytes, operand, done)` is the same
  with the request's fields spelled out (what the buffers call); `request(...)` returns a simpy.Event instead.
- `request(kind, address, size_bytes, operand=None) -> simpy.Event`: `kind` is "read" or "write";
  `operand` (ifmap / filter / ofmap) routes the request through that operand's own port when the config gives
  it a bandwidth (SCALE-Sim USER mode), the shared channel still capping the sum. The event fires when a
  read's data has arrived (transfer + access latency) or when a write's data has left the accelerator
  (writes are posted: no latency on the accelerator's side). Requests are served in arrival order on one
  channel, so a read queued behind a long write waits for it. The channel is a FIFO server with
  deterministic service times, so each request's turn is fixed on arrival: the model keeps the cycle the
  channel next falls free instead of a SimPy queue (same timeline, one event per request).
- The clock is the accelerator's cycle and stays integral: a transfer of `b` bytes (rounded up to whole
  bursts) holds the channel for `ceil(b_burst / bandwidth_bytes_per_cycle)` cycles; an infinite bandwidth
  makes that 0 (how a SCALE-Sim CALC-mode config arrives).
- Each model counts its own actions in `stats` (bytes requested and moved, busy cycles, row hits / misses).

Implementations: `BandwidthLatencyDram` ("bandwidth"), `BankRowBufferDram` ("bank_row") and the command-level
`DdrDram` ("ddr", sim.engine.ddr, imported when chosen); `make_dram` picks one by name, an unknown name is a
ConfigError listing the choices. Timings are data: `[dram.timing]` / `[dram.device]` in the hardware config (the
loader fills them from a preset) or a named preset of sim/hardware/dram_presets.toml (sim.hardware.presets, in ns,
converted with the array's clock when a spec was built in code).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from operator import eq
from typing import Callable, Protocol

import simpy

from sim.errors import ConfigError
from sim.hardware.presets import resolve_dram_preset
from sim.hardware.spec import DramSpec, DramTimingSpec

REQUEST_KINDS = ("read", "write")


@dataclass(frozen=True)
class DramRequest:
    """One request to off-chip memory: `kind` "read" or "write", a byte address and size, and the operand it
    serves (ifmap / filter / ofmap, or None)."""

    kind: str
    address: int
    size_bytes: int
    operand: str | None = None


@dataclass
class DramStats:
    """Action counts of one DRAM (mutable while a simulation runs; owned by its model)."""

    read_requests: int = 0
    write_requests: int = 0
    read_bytes: int = 0  # bytes the requesters asked for
    write_bytes: int = 0
    moved_bytes: int = 0  # bytes on the bus, whole bursts
    busy_cycles: int = 0  # cycles the channel was transferring or activating
    first_cycle: int | None = None
    last_cycle: int = 0
    row_hits: int = 0
    row_misses: int = 0  # row empty or conflict: an activation
    row_conflicts: int = 0  # a different row was open: precharge + activation
    peak_window_bytes: int = 0  # filled by the simulation driver from its bandwidth windows
    energy_pj: float | None = None  # models that price their commands: DRAM energy so far (commands + background)
    transfers: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, bytes) per request


class DramModel(Protocol):
    """What a buffer or a crossbar tile may ask of off-chip memory (see the module docstring)."""

    stats: DramStats

    def issue(self, request: DramRequest, done: Callable[[object], None]) -> None: ...

    def request_call(self, kind: str, address: int, size_bytes: int, operand: str | None,
                     callback: Callable[[object], None]) -> None: ...

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> simpy.Event: ...


def check_kind(kind: str) -> None:
    if kind not in REQUEST_KINDS:
        raise ConfigError("unknown DRAM request kind", field="dram.request.kind", value=kind,
                          allowed=", ".join(REQUEST_KINDS))


class BandwidthLatencyDram:
    """A fixed-bandwidth pipe with a fixed read latency: SCALE-Sim's DRAM plus contention between requests."""

    def __init__(self, env: simpy.Environment, spec: DramSpec, *, clock_mhz: float = 1000.0,
                 record_transfers: bool = False) -> None:
        self.env = env
        self.bandwidth = float(spec.bandwidth_bytes_per_cycle)
        self.latency_cycles = int(spec.latency_cycles)
        self.burst_bytes = int(spec.burst_bytes)
        self.clock_mhz = clock_mhz
        self.channel_free_at = 0
        # Operands with their own (slower) port: name -> bytes per cycle, and when each port falls free.
        self.ports: dict[str, float] = {}
        for operand in ("ifmap", "filter", "ofmap"):
            own = getattr(spec, f"{operand}_bandwidth_bytes_per_cycle", None)
            if own is not None and own < self.bandwidth:
                self.ports[operand] = float(own)
        self.port_free_at = dict.fromkeys(self.ports, 0)
        self.stats = DramStats()
        self.record_transfers = record_transfers

    def transfer_cycles(self, size_bytes: int, bandwidth: float | None = None) -> int:
        """Cycles `size_bytes` (in whole bursts) take at `bandwidth` (default: the channel's)."""
        bandwidth = self.bandwidth if bandwidth is None else bandwidth
        if size_bytes <= 0 or math.isinf(bandwidth):
            return 0
        return math.ceil(-(-size_bytes // self.burst_bytes) * self.burst_bytes / bandwidth)

    def row_cycles(self, address: int, size_bytes: int) -> int:
        """Cycles of row commands before the data streams (none here: no banks)."""
        return 0

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> simpy.Event:
        done = self.serve(kind, address, size_bytes, operand)
        return self.env.timeout(done - self.env.now, value=done)

    def issue(self, request: DramRequest, done: Callable[[object], None]) -> None:
        """Serve `request` now; `done(None)` runs when it has completed (in arrival order on this FIFO channel)."""
        self.env.call_at(self.serve(request.kind, request.address, request.size_bytes, request.operand)
                         - self.env._now, done)

    def request_call(self, kind: str, address: int, size_bytes: int, operand: str | None,
                     callback: Callable[[simpy.Event | None], None]) -> None:
        """`request(...)` with `callback` as its only waiter, as a call of a CountingEnvironment (no event built)."""
        self.env.call_at(self.serve(kind, address, size_bytes, operand) - self.env._now, callback)

    def serve(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> int:
        """Queue one request on the channel now; returns the cycle its data has arrived (read) or left (write)."""
        if kind != "read" and kind != "write":
            check_kind(kind)
        size_bytes = int(size_bytes)
        now = self.env._now
        # One FIFO server with deterministic service times: a request's turn is known when it arrives, so the
        # queue is kept as the cycle the channel (and each operand port) next falls free, one event per request.
        start = now if now > self.channel_free_at else self.channel_free_at
        port = operand if self.ports and operand in self.ports else None
        if port is not None:
            start = max(start, self.port_free_at[port])
        # The row commands hold the channel; the data then streams.
        hold = self.transfer_cycles(size_bytes)
        if size_bytes > 0:
            hold += self.row_cycles(address, size_bytes)
        finish = self.channel_free_at = start + hold
        if port is not None:
            # The slower port keeps streaming after the channel has moved on to other requests.
            finish = max(finish, start + self.transfer_cycles(size_bytes, self.ports[port]))
            self.port_free_at[port] = finish
        s = self.stats
        if kind == "read":
            s.read_requests += 1
            s.read_bytes += size_bytes
            finish += self.latency_cycles  # reads wait for their data; writes are posted
        else:
            s.write_requests += 1
            s.write_bytes += size_bytes
        s.moved_bytes += -(-size_bytes // self.burst_bytes) * self.burst_bytes
        s.busy_cycles += hold
        if s.first_cycle is None or start < s.first_cycle:
            s.first_cycle = start
        if start + hold > s.last_cycle:
            s.last_cycle = start + hold
        if self.record_transfers:
            s.transfers.append((start, start + hold, size_bytes))
        return finish


class BankRowBufferDram(BandwidthLatencyDram):
    """Banks with an open-row buffer each: a request pays tCAS on a row hit, tRCD + tCAS on an empty bank,
    tRP + tRCD + tCAS on a row conflict, per row it touches, then streams its bursts at the channel bandwidth.

    Rows are interleaved over banks (row r lives in bank r % banks); the open row of each bank persists between
    requests, so streaming a tile hits and alternating operands conflict. Banks are not overlapped (one
    command stream on one channel): a conservative, simple controller.
    """

    def __init__(self, env: simpy.Environment, spec: DramSpec, *, clock_mhz: float = 1000.0,
                 record_transfers: bool = False) -> None:
        super().__init__(env, spec, clock_mhz=clock_mhz, record_transfers=record_transfers)
        self.timing = t = resolve_timing(spec, clock_mhz)
        self._t_empty = t.t_rcd_cycles + t.t_cas_cycles
        self._t_conflict = t.t_rp_cycles + self._t_empty
        # The row open in each bank (-1: none) and how many banks have none (the first `banks` rows of a long
        # request meet every bank once, so they are counted with C-level list operations, not a loop).
        self._open = [-1] * t.banks
        self._empty_banks = t.banks

    @property
    def open_rows(self) -> dict[int, int]:
        """The row open in each bank that has one."""
        return {bank: row for bank, row in enumerate(self._open) if row >= 0}

    def _meet_rows(self, first_row: int, last_row: int) -> tuple[int, int, int]:
        """(hits, empty banks, conflicts) of rows first_row.. against the open rows, for the first `banks` of them;
        then each touched bank holds the last of the request's rows that maps to it."""
        banks = len(self._open)
        rows = last_row - first_row + 1
        if rows >= banks:
            # Every bank is met once: a hit where a bank holds the row of the first `banks` that maps to it.
            met = self._open[first_row % banks:] + self._open[:first_row % banks]  # bank of row first_row + i
            hits = sum(map(eq, met, range(first_row, first_row + banks)))
            empty = self._empty_banks
            start = last_row - banks + 1
            split = banks - start % banks
            self._open[start % banks:] = range(start, start + split)
            self._open[:start % banks] = range(start + split, last_row + 1)
            self._empty_banks = 0
            return hits, empty, banks - hits - empty
        # Fewer rows than banks: each row meets its own bank, which then holds it.
        hits = empty = 0
        open_rows = self._open
        for row in range(first_row, last_row + 1):
            held = open_rows[row % banks]
            if held == row:
                hits += 1
            else:
                if held < 0:
                    empty += 1
                open_rows[row % banks] = row
        self._empty_banks -= empty
        return hits, empty, rows - hits - empty

    def row_cycles(self, address: int, size_bytes: int) -> int:
        """Row commands of one request (`size_bytes` > 0): tCAS per row hit, tRCD + tCAS per empty bank, tRP + tRCD +
        tCAS per conflict; counts the hits and misses."""
        t = self.timing
        first_row = address // t.row_bytes
        last_row = (address + size_bytes - 1) // t.row_bytes
        rows = last_row - first_row + 1
        hits, empty, conflicts = self._meet_rows(first_row, last_row)
        # Rows beyond the first `banks` find their bank holding an earlier row of this request: conflicts.
        later = rows - t.banks if rows > t.banks else 0
        bursts = -(-size_bytes // self.burst_bytes)
        stats = self.stats
        # Later bursts of an open row are hits.
        stats.row_hits += hits + (bursts - rows if bursts > rows else 0)
        stats.row_misses += empty + conflicts + later
        stats.row_conflicts += conflicts + later
        return hits * t.t_cas_cycles + empty * self._t_empty + (conflicts + later) * self._t_conflict


class RequestLog:
    """A DRAM model that also writes every request it is given into `log`: (cycle, kind, address, size_bytes,
    operand), in issue order (`sim run --dram-trace`). Everything else is the wrapped model's."""

    def __init__(self, model: DramModel, log: list[tuple[int, str, int, int, str | None]]) -> None:
        self.model = model
        self.log = log
        self.env = model.env

    @property
    def stats(self) -> DramStats:
        return self.model.stats

    def __getattr__(self, name: str):
        return getattr(self.model, name)

    def issue(self, request: DramRequest, done: Callable[[object], None]) -> None:
        self.log.append((self.env._now, request.kind, request.address, request.size_bytes, request.operand))
        self.model.issue(request, done)

    def request_call(self, kind: str, address: int, size_bytes: int, operand: str | None,
                     callback: Callable[[object], None]) -> None:
        self.log.append((self.env._now, kind, address, size_bytes, operand))
        self.model.request_call(kind, address, size_bytes, operand, callback)

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> simpy.Event:
        self.log.append((self.env._now, kind, address, size_bytes, operand))
        return self.model.request(kind, address, size_bytes, operand)


def _ddr(env: simpy.Environment, spec: DramSpec, **options) -> DramModel:
    from sim.engine.ddr import DdrDram  # numba's start-up only for this model

    return DdrDram(env, spec, **options)


DRAM_MODELS: dict[str, Callable[..., DramModel]] = {
    "bandwidth": BandwidthLatencyDram,
    "bank_row": BankRowBufferDram,
    "ddr": _ddr,
}


def resolve_timing(spec: DramSpec, clock_mhz: float = 1000.0) -> DramTimingSpec:
    """The bank / row timing of a `bank_row` DRAM: `[dram.timing]` if given, else the named preset."""
    if spec.timing is not None:
        return spec.timing
    return resolve_dram_preset(spec.preset or "", clock_mhz)


def make_dram(env: simpy.Environment, spec: DramSpec, *, clock_mhz: float = 1000.0,
              record_transfers: bool = False) -> DramModel:
    """The DRAM model `spec.model` names, bound to `env`; `clock_mhz` converts preset timings to cycles."""
    model = DRAM_MODELS.get(spec.model)
    if model is None:
        raise ConfigError("unknown DRAM model", field="dram.model", value=spec.model,
                          allowed=", ".join(sorted(DRAM_MODELS)))
    return model(env, spec, clock_mhz=clock_mhz, record_transfers=record_transfers)
