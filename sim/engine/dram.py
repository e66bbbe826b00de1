"""Off-chip DRAM models: one channel that reads and writes compete for, chosen by name from `[dram] model`.

Contract of every model (`DramModel`):
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

Implementations: `BandwidthLatencyDram` ("bandwidth") and `BankRowBufferDram` ("bank_row"); `make_dram`
picks one by name, an unknown name is a ConfigError listing the choices. Bank / row timings are data:
`[dram.timing]` in the hardware config (the loader fills it from a preset) or a named preset of
sim/hardware/dram_presets.toml (in ns, converted here with the array's clock when a spec was built in code).
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import simpy

from sim.errors import ConfigError
from sim.hardware.spec import DramSpec, DramTimingSpec

PRESETS_FILE = Path(__file__).parent.parent / "hardware" / "dram_presets.toml"
REQUEST_KINDS = ("read", "write")


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
    transfers: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, bytes) per request


class DramModel(Protocol):
    """What a buffer or a crossbar tile may ask of off-chip memory (see the module docstring)."""

    stats: DramStats

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> simpy.Event: ...


def _check_kind(kind: str) -> None:
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

    def burst_padded(self, size_bytes: int) -> int:
        return -(-size_bytes // self.burst_bytes) * self.burst_bytes

    def transfer_cycles(self, size_bytes: int, bandwidth: float | None = None) -> int:
        bandwidth = self.bandwidth if bandwidth is None else bandwidth
        if size_bytes <= 0 or math.isinf(bandwidth):
            return 0
        return math.ceil(self.burst_padded(size_bytes) / bandwidth)

    def access_cycles(self, kind: str, address: int, size_bytes: int) -> tuple[int, int]:
        """(cycles holding the channel, extra cycles until a read's data is back) for one request."""
        return self.transfer_cycles(size_bytes), self.latency_cycles if kind == "read" else 0

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> simpy.Event:
        _check_kind(kind)
        size_bytes = int(size_bytes)
        now = int(self.env.now)
        # One FIFO server with deterministic service times: a request's turn is known when it arrives, so the
        # queue is kept as the cycle the channel (and each operand port) next falls free, one event per request.
        port_bandwidth = self.ports.get(operand) if operand is not None else None
        start = max(now, self.channel_free_at)
        if port_bandwidth is not None:
            start = max(start, self.port_free_at[operand])
        hold, latency = self.access_cycles(kind, address, size_bytes)
        self.channel_free_at = start + hold
        finish = start + hold
        if port_bandwidth is not None:
            # The slower port keeps streaming after the channel has moved on to other requests.
            finish = max(finish, start + self.transfer_cycles(size_bytes, port_bandwidth))
            self.port_free_at[operand] = finish
        self._count(kind, size_bytes, start, hold)
        return self.env.timeout(finish + latency - now, value=finish + latency)

    def _count(self, kind: str, size_bytes: int, start: int, hold: int) -> None:
        s = self.stats
        if kind == "read":
            s.read_requests += 1
            s.read_bytes += size_bytes
        else:
            s.write_requests += 1
            s.write_bytes += size_bytes
        s.moved_bytes += self.burst_padded(size_bytes)
        s.busy_cycles += hold
        s.first_cycle = start if s.first_cycle is None else min(s.first_cycle, start)
        s.last_cycle = max(s.last_cycle, start + hold)
        if self.record_transfers:
            s.transfers.append((start, start + hold, size_bytes))


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
        self.timing = resolve_timing(spec, clock_mhz)
        self.open_rows: dict[int, int] = {}

    def access_cycles(self, kind: str, address: int, size_bytes: int) -> tuple[int, int]:
        t = self.timing
        activation = 0
        if size_bytes > 0:
            banks, row_bytes = t.banks, t.row_bytes
            t_cas = t.t_cas_cycles
            t_empty = t.t_rcd_cycles + t_cas
            t_conflict = t.t_rp_cycles + t_empty
            open_rows = self.open_rows
            stats = self.stats
            first_row = address // row_bytes
            last_row = (address + size_bytes - 1) // row_bytes
            rows = last_row - first_row + 1
            hits = misses = conflicts = 0
            # The first `banks` rows meet whatever each bank had open; every later row finds its bank holding
            # an earlier row of this same request: a conflict.
            for row in range(first_row, first_row + min(rows, banks)):
                open_row = open_rows.get(row % banks)
                if open_row == row:
                    hits += 1
                    activation += t_cas
                elif open_row is None:
                    misses += 1
                    activation += t_empty
                else:
                    misses += 1
                    conflicts += 1
                    activation += t_conflict
            later = max(rows - banks, 0)
            activation += later * t_conflict
            for row in range(max(first_row, last_row - banks + 1), last_row + 1):
                open_rows[row % banks] = row
            bursts = -(-size_bytes // self.burst_bytes)
            # Later bursts of an open row are hits.
            stats.row_hits += hits + max(bursts - rows, 0)
            stats.row_misses += misses + later
            stats.row_conflicts += conflicts + later
        # The row commands hold the channel; the data then streams; reads add the fixed latency on top.
        return activation + self.transfer_cycles(size_bytes), self.latency_cycles if kind == "read" else 0


DRAM_MODELS: dict[str, Callable[..., BandwidthLatencyDram]] = {
    "bandwidth": BandwidthLatencyDram,
    "bank_row": BankRowBufferDram,
}


def _preset_key(name: str) -> str:
    return name.lower().replace("-", "_")


def load_presets(clock_mhz: float, path: Path = PRESETS_FILE) -> dict[str, DramTimingSpec]:
    """Named bank / row presets (DDR4, HBM2 ...) in cycles of a `clock_mhz` clock (ceil of ns x clock)."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    presets = {}
    for name, values in raw.items():
        cycles = {f"t_{t}_cycles": math.ceil(values[f"t_{t}_ns"] * clock_mhz / 1000 - 1e-9) for t in ("rcd", "rp", "cas")}
        presets[_preset_key(name)] = DramTimingSpec(
            channels=values.get("channels", 1), banks=values.get("banks", 16), row_bytes=values.get("row_bytes", 2048),
            source=values.get("source", ""), **cycles)
    return presets


def resolve_timing(spec: DramSpec, clock_mhz: float = 1000.0) -> DramTimingSpec:
    """The bank / row timing of a `bank_row` DRAM: `[dram.timing]` if given, else the named preset."""
    if spec.timing is not None:
        return spec.timing
    presets = load_presets(clock_mhz)
    key = _preset_key(spec.preset or "")
    if key not in presets:
        raise ConfigError("unknown DRAM timing preset", field="dram.preset", value=spec.preset,
                          allowed=", ".join(sorted(presets)))
    return presets[key]


def make_dram(env: simpy.Environment, spec: DramSpec, *, clock_mhz: float = 1000.0,
              record_transfers: bool = False) -> BandwidthLatencyDram:
    """The DRAM model `spec.model` names, bound to `env`; `clock_mhz` converts preset timings to cycles."""
    model = DRAM_MODELS.get(spec.model)
    if model is None:
        raise ConfigError("unknown DRAM model", field="dram.model", value=spec.model,
                          allowed=", ".join(sorted(DRAM_MODELS)))
    return model(env, spec, clock_mhz=clock_mhz, record_transfers=record_transfers)
