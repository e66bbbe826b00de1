"""DRAM request traces (`*.req`): load, write (ours and Ramulator 2's format) and the synthetic reference streams.

Format, one request a line, `#` starts a comment:  `<issue_ns> <R|W> <address, hex or decimal> <size_bytes>`;
fields after the size (e.g. the operand) are allowed and carry no timing. A malformed line is a TraceError naming
the file, the line and the field.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.errors import TraceError

KIB, MIB = 1024, 1024 * 1024
FIELDS = ("issue_ns", "kind", "address", "size_bytes")
# Issue times up to ~11 days: near 2^62 ns a float's step exceeds the DRAM's cycle and the replay cannot advance.
MAX_ISSUE_NS = 1e15
MAX_REQUEST_BYTES = 1 << 30  # one request of at most 1 GiB: an engine tile transfer is bounded by its buffer


@dataclass(frozen=True)
class DramTrace:
    """Requests in file order: issue time (ns), write flag, byte address and size, and an optional operand."""

    name: str
    issue_ns: np.ndarray  # float64
    write: np.ndarray  # bool
    address: np.ndarray  # int64
    size_bytes: np.ndarray  # int64
    operand: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.address)


def _field_error(path: Path, line: int, field: str, value: str, allowed: str) -> TraceError:
    return TraceError(f"bad {field}", file=path, line=line, field=field, value=value, allowed=allowed)


def load_dram_trace(path: str | Path) -> DramTrace:
    """Parse a request trace; every malformed line is an error with its line number and field."""
    from sim.inputs import MAX_REQUEST_TRACE_BYTES, read_text

    path = Path(path)
    text = read_text(path, TraceError, limit=MAX_REQUEST_TRACE_BYTES, what="request trace")  # bounded, regular, UTF-8
    issue, write, address, size, operand = [], [], [], [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        if len(line) < 4:
            raise TraceError("a request needs 4 fields", file=path, line=number, field=FIELDS[len(line)],
                             value=raw.strip(), allowed="<issue_ns> <R|W> <address> <size_bytes> [operand]")
        try:
            issue_ns = float(line[0])
        except ValueError:
            raise _field_error(path, number, "issue_ns", line[0], "a number of ns >= 0") from None
        if not 0 <= issue_ns <= MAX_ISSUE_NS:
            raise _field_error(path, number, "issue_ns", line[0], "a number of ns >= 0 and <= 1e15")
        kind = line[1].upper()
        if kind not in ("R", "W"):
            raise _field_error(path, number, "kind", line[1], "R or W")
        try:
            addr = int(line[2], 0)
        except ValueError:
            raise _field_error(path, number, "address", line[2], "a hex (0x...) or decimal byte address") from None
        if addr < 0 or addr >= 1 << 62:
            raise _field_error(path, number, "address", line[2], "0 <= address < 2**62")
        try:
            nbytes = int(line[3], 0)
        except ValueError:
            raise _field_error(path, number, "size_bytes", line[3], "a whole number of bytes > 0") from None
        if not 0 < nbytes <= MAX_REQUEST_BYTES:
            raise _field_error(path, number, "size_bytes", line[3], "a whole number of bytes > 0 and <= 2**30")
        issue.append(issue_ns)
        write.append(kind == "W")
        address.append(addr)
        size.append(nbytes)
        operand.append(line[4] if len(line) > 4 else "")
    if not address:
        raise TraceError("the request trace has no requests", file=path,
                         allowed="lines '<issue_ns> <R|W> <addr> <size>'")
    return DramTrace(path.stem, np.array(issue, dtype=np.float64), np.array(write, dtype=np.bool_),
                     np.array(address, dtype=np.int64), np.array(size, dtype=np.int64),
                     tuple(operand) if any(operand) else ())


def format_dram_trace(trace: DramTrace, comment: str = "") -> str:
    """The trace in our `.req` format."""
    lines = [f"# issue_ns kind addr size [operand]  {comment}".rstrip()]
    for i in range(len(trace)):
        extra = f" {trace.operand[i]}" if trace.operand and trace.operand[i] else ""
        lines.append(f"{trace.issue_ns[i]:g} {'W' if trace.write[i] else 'R'} {int(trace.address[i]):#x} "
                     f"{int(trace.size_bytes[i])}{extra}")
    return "\n".join(lines) + "\n"


def format_ramulator_trace(trace: DramTrace, transaction_bytes: int = 64) -> str:
    """The trace as Ramulator 2's LoadStoreTrace (`LD|ST <address>`, one aligned transaction a line, in order)."""
    lines = []
    for i in range(len(trace)):
        op = "ST" if trace.write[i] else "LD"
        first = int(trace.address[i]) // transaction_bytes
        last = (int(trace.address[i]) + int(trace.size_bytes[i]) - 1) // transaction_bytes
        lines.extend(f"{op} {line * transaction_bytes:#x}" for line in range(first, last + 1))
    return "\n".join(lines) + "\n"


def synthetic_streams(row_bytes: int = 8192, banks: int = 16, request_bytes: int = 64, random_n: int = 65536,
                      stride_n: int = 16384, seed: int = 1, scale: int = 1) -> dict[str, DramTrace]:
    """The eight reference streams (sequential, row strides, random, read/write mixes), every request offered at 0.
    `scale` divides the sizes of the long streams (tests use small copies)."""
    req = request_bytes

    def seq(total: int) -> list[tuple[bool, int]]:
        return [(False, i * req) for i in range(total // req)]

    out = {
        "seq_64k": seq(64 * KIB),
        "seq_1m": seq(MIB // scale),
        "seq_16m": seq(16 * MIB // scale),
        "stride_row": [(False, i * row_bytes) for i in range(stride_n // scale)],
        "stride_bankrow": [(False, i * row_bytes * banks) for i in range(stride_n // scale)],
    }
    rng = random.Random(seed)
    lines = 256 * MIB // req
    out["random_256m"] = [(False, rng.randrange(lines) * req) for _ in range(random_n // scale)]
    out["rw_seq_2to1"] = [(i % 3 == 2, i * req) for i in range(16 * MIB // scale // req)]
    a, b, c = 0, 64 * MIB, 128 * MIB
    rw3 = []
    for i in range(16 * MIB // scale // req // 3):
        rw3 += [(False, a + i * req), (False, b + i * req), (True, c + i * req)]
    out["rw_3stream"] = rw3
    traces = {}
    for name, requests in out.items():
        n = len(requests)
        traces[name] = DramTrace(name, np.zeros(n), np.array([w for w, _ in requests], dtype=np.bool_),
                                 np.array([a for _, a in requests], dtype=np.int64), np.full(n, req, dtype=np.int64))
    return traces


def engine_requests_trace(requests: list[tuple[int, str, int, int, str | None]], clock_mhz: float,
                          name: str = "engine") -> DramTrace:
    """The engine's DRAM requests (cycle, kind, address, size_bytes, operand), cycles converted to ns."""
    n = len(requests)
    ns_per_cycle = 1000.0 / clock_mhz
    return DramTrace(name, np.array([r[0] * ns_per_cycle for r in requests], dtype=np.float64),
                     np.array([r[1] == "write" for r in requests], dtype=np.bool_),
                     np.array([r[2] for r in requests], dtype=np.int64),
                     np.array([r[3] for r in requests], dtype=np.int64),
                     tuple(r[4] or "" for r in requests) if n else ())
