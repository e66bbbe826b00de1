"""Command-level DRAM (`[dram] model = "ddr"`, docs/dram.md): a numba controller (sim.kernels.ddr_controller:
banks, bank groups, ranks, channels, FR-FCFS queues, write drains, refresh) keeps its bank and timing state
between requests.

`DdrController` is the simulator-free part (addresses -> channel / bank / row, state, counts, energy): `serve`
runs every transaction through the controller (what `sim dram` replays), `serve_request` is the engine's way,
one numba call per tile request: its first EXACT_TRANSACTIONS transactions through the controller, the rest at
the device's measured steady rate. `DdrDram` binds it to the engine's clock as a `DramModel`, with no
per-transaction event: the controller gives each request its work (the channel time it takes, after the earlier
ones, from the bank state they left), and requests in flight together share the channel in equal shares
(sim.engine.sharing), so a short ifmap read issued beside a long ofmap write no longer waits for all of it. The numba kernel is imported when the first controller is built, so other models never
pay numba's start-up.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from sim.engine.dram import DramRequest, DramStats, check_kind
from sim.engine.sharing import SharedChannel
from sim.hardware.presets import resolve_ddr_preset
from sim.hardware.spec import DdrDeviceSpec, DramSpec

# Transactions of one engine request that run through the controller; the rest stream at the steady rate.
EXACT_TRANSACTIONS = 8
# Field order of the kernel's geometry vector.
_SIZES = ("channels", "ranks", "bankgroups", "banks_per_group")


@dataclass(frozen=True)
class CommandCounts:
    """Commands a controller issued, and the energy they cost (pJ) with the device's background power."""

    act: int
    pre: int
    rd: int
    wr: int
    ref: int
    energy_pj: dict[str, float]


def device_of(spec: DramSpec) -> DdrDeviceSpec:
    """The command-level device of a `model = "ddr"` spec: [dram.device] if given, else the named preset."""
    return spec.device if spec.device is not None else resolve_ddr_preset(spec.preset or "")


class DdrController:
    """One command-level DRAM's controllers and devices, with state kept between `serve` calls (times in tCK)."""

    def __init__(self, device: DdrDeviceSpec) -> None:
        from sim.kernels import ddr_controller as kernel  # numba: only when this model is used

        self.kernel = kernel
        self.device = device
        self.timing = np.array([getattr(device, f"{name}_tck") for name in kernel.TIMING_FIELDS], dtype=np.int64)
        depth = device.queue_depth
        self.geometry = np.array([*(getattr(device, name) for name in _SIZES), depth,
                                  math.floor(device.write_high_watermark * depth),
                                  math.ceil(device.write_low_watermark * depth)], dtype=np.int64)
        self.state = kernel.new_state(self.geometry, self.timing)
        self.counts = np.zeros((device.channels, len(kernel.COMMANDS)), dtype=np.int64)
        # Address fields from the lowest bit up: (name, bits); the transaction offset below them.
        widths = {"channel": device.channels, "rank": device.ranks, "bankgroup": device.bankgroups,
                  "bank": device.banks_per_group, "column": device.columns, "row": 0}
        self.fields = [(name, int(widths[name]).bit_length() - 1) for name in reversed(device.mapping)]
        self.offset_bits = device.transaction_bytes.bit_length() - 1
        # The same fields for the kernel: codes and widths from the lowest bit up, the highest taking what is left.
        self.field_kind = np.array([kernel.FIELD_CODES[name] for name, _ in self.fields], dtype=np.int64)
        self.field_bits = np.array([bits for _, bits in self.fields], dtype=np.int64)
        self.field_bits[-1] = -1
        if self.fields[-1][0] != "row":
            # A row below other fields takes the bits up to 2**40 bytes (the engine's operand regions start there).
            row_index = [name for name, _ in self.fields].index("row")
            self.field_bits[row_index] = max(1, 40 - self.offset_bits - sum(bits for name, bits in self.fields
                                                                             if name != "row"))
        self._totals = np.zeros(3, dtype=np.int64)  # transactions, row hits, the latest completion (tCK)
        # Energy per command (kernel order) and background energy per tCK of every rank together (mW x ns = pJ).
        self._command_pj = np.array([getattr(device, f"{name}_pj") for name in kernel.COMMANDS], dtype=np.float64)
        self._background_pj_per_tck = device.background_mw * device.tck_ns * device.channels * device.ranks
        self._transaction_bytes = device.transaction_bytes
        self._steady: dict[bool, float] = {}  # tCK per transaction of a long stream, by kind (write?)
        # Every array an engine request passes to the kernel lives in one buffer (the attributes are views of it):
        # one argument instead of fifteen, as numba's dispatch checks each argument's type on every call.
        # The scratch arrays of one request ride along in it, so the kernel allocates nothing per call.
        scratch = (*(np.zeros(EXACT_TRANSACTIONS, dtype=np.int64) for _ in range(8)), np.zeros(6, dtype=np.int64),
                   *kernel.new_scratch(self.geometry, len(self.state[0])))
        views, self._packed, self._layout = kernel.pack((self.field_kind, self.field_bits, self.timing,
                                                         self.geometry, *self.state, self.counts, self._totals,
                                                         *scratch))
        views = views[:len(views) - len(scratch)]
        (self.field_kind, self.field_bits, self.timing, self.geometry, *state, self.counts, self._totals) = views
        self.state = tuple(state)

    @property
    def transactions(self) -> int:
        return int(self._totals[0])

    @property
    def row_hits(self) -> int:
        return int(self._totals[1])

    @property
    def end_tck(self) -> int:
        """The latest completion so far."""
        return int(self._totals[2])

    def energy_pj(self) -> float:
        """Energy so far: every command issued, and background power until the latest completion."""
        return float(self.counts.sum(axis=0) @ self._command_pj) + self._background_pj_per_tck * self.end_tck

    def decompose(self, addresses: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(channel, global bank index, row) of each transaction address (bytes)."""
        lines = np.asarray(addresses, dtype=np.int64) >> self.offset_bits
        channel, bank, row = (np.empty(len(lines), dtype=np.int64) for _ in range(3))
        self.kernel.decompose(lines, self.field_kind, self.field_bits, self.geometry, channel, bank, row)
        return channel, bank, row

    def serve(self, write: np.ndarray, addresses: np.ndarray, arrive_tck: np.ndarray) -> np.ndarray:
        """Serve transactions (in arrival order) after those of earlier calls; returns each one's completion (tCK)."""
        n = len(addresses)
        channel, bank, row = self.decompose(addresses)
        done = np.zeros(n, dtype=np.int64)
        missed = np.zeros(n, dtype=np.bool_)
        self.kernel.run_controller(np.ascontiguousarray(write, dtype=np.bool_), channel, bank, row,
                                   np.ascontiguousarray(arrive_tck, dtype=np.int64), self.timing, self.geometry,
                                   *self.state, done, missed, self.counts)
        self._totals[0] += n
        self._totals[1] += n - int(missed.sum())
        if n:
            self._totals[2] = max(self._totals[2], int(done.max()))
        return done

    def serve_request(self, write: bool, address: int, size_bytes: int,
                      arrive_tck: int) -> tuple[int, int, int, int, int]:
        """One contiguous request (the engine's way), served after the earlier ones: (completion of its last
        transaction, work: tCK from its start to the cycle after its last command, latency: from there to the
        completion, row hits, transactions).

        Up to `EXACT_TRANSACTIONS` transactions run through the controller; the rest of a longer request streams at
        the device's steady rate for that kind (measured once through the same controller, refresh apart), with a
        refresh (tRFC + tRP) for every tREFI the stretch crosses, and the controller's state moved past them."""
        first, n, steady = self.span(write, address, size_bytes)
        return self.kernel.serve_request_packed(write, first, n, arrive_tck, EXACT_TRANSACTIONS, steady,
                                                self._packed, self._layout)

    def span(self, write: bool, address: int, size_bytes: int) -> tuple[int, int, float]:
        """A request's first transaction, its transaction count, and the steady tCK per transaction that the
        transactions past `EXACT_TRANSACTIONS` stream at (0.0 when none do)."""
        tb = self._transaction_bytes
        first = address // tb
        n = (address + size_bytes - 1) // tb - first + 1
        steady = 0.0
        if n > EXACT_TRANSACTIONS:
            steady = self._steady.get(write)
            if steady is None:
                steady = self._steady_tck(write)
        return first, n, steady

    def _steady_tck(self, write: bool) -> float:
        """tCK per transaction of a long sequential stream of one kind on this device, refresh apart (measured
        once per controller through a fresh copy of it)."""
        rate = self._steady.get(write)
        if rate is None:
            probe = DdrController(self.device.model_copy(update={"refi_tck": 1 << 40, "rfc_tck": 1}))
            stripe = self.device.columns * self.device.channels
            warm, measured = 2 * stripe, 8 * stripe
            addresses = np.arange(warm + measured, dtype=np.int64) * self.device.transaction_bytes
            kinds = np.full(len(addresses), write)
            zeros = np.zeros(len(addresses), dtype=np.int64)
            probe.serve(kinds[:warm], addresses[:warm], zeros[:warm])
            start = int(probe.state[8][0])
            probe.serve(kinds[warm:], addresses[warm:], zeros[warm:])
            rate = self._steady[write] = (int(probe.state[8][0]) - start) / measured
        return rate

    def command_counts(self, elapsed_tck: int | None = None) -> CommandCounts:
        """Commands so far and their energy; background power over `elapsed_tck` (default: until the last
        completion) for every rank."""
        act, pre, rd, wr, ref = (int(v) for v in self.counts.sum(axis=0))
        d = self.device
        elapsed = self.end_tck if elapsed_tck is None else elapsed_tck
        ranks = d.channels * d.ranks
        energy = {"act": act * d.act_pj, "pre": pre * d.pre_pj, "rd": rd * d.rd_pj, "wr": wr * d.wr_pj,
                  "ref": ref * d.ref_pj, "background": d.background_mw * elapsed * d.tck_ns * ranks}  # mW x ns = pJ
        return CommandCounts(act, pre, rd, wr, ref, energy)


class DdrStats(DramStats):
    """DramStats whose `energy_pj` is read from the controller when asked (not recomputed per request)."""

    controller: DdrController | None = None

    @property
    def energy_pj(self) -> float | None:
        return None if self.controller is None else self.controller.energy_pj()

    @energy_pj.setter
    def energy_pj(self, _value: float | None) -> None:
        pass  # the controller's commands are the record


class DdrDram:
    """`model = "ddr"` in the engine (see the module docstring): the accelerator's cycles <-> the DRAM's tCK."""

    def __init__(self, env, spec: DramSpec, *, clock_mhz: float = 1000.0, record_transfers: bool = False) -> None:
        self.env = env
        self.controller = DdrController(device_of(spec))
        device = self.controller.device
        self.burst_bytes = device.transaction_bytes
        self.clock_mhz = clock_mhz
        self.tck_per_cycle = 1000.0 / clock_mhz / device.tck_ns
        self.stats = DdrStats(energy_pj=0.0)
        self.stats.controller = self.controller
        self.record_transfers = record_transfers
        self._last_start = 0
        self.shared = SharedChannel()  # requests in flight, sharing the channel
        self._next_key = 0
        # The controller's per-request kernel and its buffer, bound once: _serve runs once per engine request.
        self._serve_packed = self.controller.kernel.serve_request_packed
        self._packed, self._layout = self.controller._packed, self.controller._layout

    def _to_tck(self, cycle: int) -> int:
        return math.ceil(cycle * self.tck_per_cycle - 1e-9)

    def _to_cycle(self, tck: int) -> int:
        return math.ceil(tck / self.tck_per_cycle - 1e-9)

    def serve(self, kind: str, address: int, size_bytes: int, operand: str | None = None) -> int:
        """Serve one request arriving now, after every earlier one (no sharing); returns the cycle its last
        transaction completes."""
        return self._to_cycle_at_least(self._serve(kind, address, size_bytes)[0])

    def _to_cycle_at_least(self, tck: float) -> int:
        return max(self._to_cycle(math.ceil(tck - 1e-9)), self.env._now)

    def _serve(self, kind: str, address: int, size_bytes: int) -> tuple[int, int, int, int]:
        """Run one request arriving now through the controller after every earlier one and count it: (completion,
        work, latency, arrival) in tCK, work being the stretch the channel spends on it and latency what follows its
        last command (a read's CL + BL)."""
        if kind != "read" and kind != "write":
            check_kind(kind)
        size_bytes = int(size_bytes)
        now = self.env._now
        s = self.stats
        if kind == "read":
            s.read_requests += 1
            s.read_bytes += size_bytes
        else:
            s.write_requests += 1
            s.write_bytes += size_bytes
        tck_per_cycle = self.tck_per_cycle
        arrive = math.ceil(now * tck_per_cycle - 1e-9)  # _to_tck, inlined: once per request
        if size_bytes <= 0:
            return arrive, 0, 0, arrive
        # DdrController.serve_request, inlined (the same kernel call).
        write = kind == "write"
        first, n, steady = self.controller.span(write, address, size_bytes)
        done, work, latency, hits, n = self._serve_packed(write, first, n, arrive, EXACT_TRANSACTIONS, steady,
                                                          self._packed, self._layout)
        finish = math.ceil(done / tck_per_cycle - 1e-9)  # _to_cycle
        if finish < now:
            finish = now
        s.row_hits += hits
        s.row_misses += n - hits
        s.moved_bytes += n * self.burst_bytes
        # The channel's busy stretches are those of serving the requests one after another (sharing them keeps
        # the work): the busy time is the union of [arrival, completion] intervals, and the transfer log keeps
        # starts and ends in request order (as a FIFO channel's) for the bandwidth windows.
        start = now if now > self._last_start else self._last_start
        last = s.last_cycle
        end = finish if finish > last else last
        s.busy_cycles += end - (start if start > last else last)
        self._last_start = start
        if s.first_cycle is None:
            s.first_cycle = now
        s.last_cycle = end
        if self.record_transfers:
            s.transfers.append((start, end, size_bytes))
        return done, work, latency, arrive

    def request_call(self, kind: str, address: int, size_bytes: int, operand: str | None,
                     callback: Callable[[object], None]) -> None:
        """Serve a request arriving now, sharing the channel with the requests in flight (sim.engine.sharing);
        `callback(None)` runs when its last transaction has completed."""
        _done, work, latency, arrive = self._serve(kind, address, size_bytes)
        key = self._next_key
        self._next_key = key + 1
        shared = self.shared
        if shared.remaining:
            shared.add(key, arrive, work, latency)
            self._wait(key, callback, shared.finish(key))
            return
        # Nothing in flight (most requests): SharedChannel.add and .finish inlined, the same arithmetic.
        shared.arrivals += 1
        if arrive > shared.time:
            shared.time = arrive
        if work <= 0:
            finish = shared.done[key] = arrive + latency
        else:
            mine = shared.remaining[key] = float(work)
            shared.latency[key] = latency
            finish = shared.time + mine + latency
        self._wait(key, callback, finish)

    def _wait(self, key: int, callback: Callable[[object], None], finish: float) -> None:
        """Call back at `key`'s completion `finish` (tCK); a later arrival may move it later, then wait again (one
        call per move, never one per transaction)."""
        env = self.env
        due = math.ceil(math.ceil(finish - 1e-9) / self.tck_per_cycle - 1e-9)
        if due <= env._now:
            self.shared.collect(key)
            callback(None)
        else:
            env.call_at(due - env._now, partial(self._check, key, callback, self.shared.arrivals))

    def _check(self, key: int, callback: Callable[[object], None], arrivals: int, _call: object) -> None:
        shared = self.shared
        shared.advance(math.ceil(self.env._now * self.tck_per_cycle - 1e-9))
        if shared.arrivals == arrivals:  # nothing arrived since: the completion stands
            shared.collect(key)
            callback(None)
        else:
            self._wait(key, callback, shared.finish(key))

    def issue(self, request: DramRequest, done: Callable[[object], None]) -> None:
        """Serve `request` now; `done(None)` runs when its last transaction has completed."""
        self.request_call(request.kind, request.address, request.size_bytes, request.operand, done)

    def request(self, kind: str, address: int, size_bytes: int, operand: str | None = None):
        event = self.env.event()
        self.request_call(kind, address, size_bytes, operand, lambda _call: event.succeed(self.env._now))
        return event

    def command_counts(self) -> CommandCounts:
        return self.controller.command_counts()
