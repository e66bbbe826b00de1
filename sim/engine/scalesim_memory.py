"""SCALE-Sim 3.0.0's read and write buffers in CALC mode, as it runs them: the `scalesim` memory convention.

Reproduced from SCALE-Sim's documented model (../shared/reference/scalesim.md §3.5) and from real runs
(tests/data/scalesim/golden_reports.csv, golden_sparse.csv, golden_small_sram.csv), not from its code:

- Each operand buffer is cut into `SETS` sets of floor(words / SETS) words; the active half is `SETS / 2` sets.
  An operand whose distinct words fit the active half is fetched once, before cycle 0, at `PREFETCH_WORDS_PER_CYCLE`
  words per cycle, whole sets at a time: DRAM start = -ceil(sets x set_words / 10), stop = -1 (whatever the
  cfg's bandwidths: CALC mode ignores them, measured with 10 and 20).
- Distinct words: the im2col addresses the layer touches (a stride larger than the filter skips pixels); for an
  N:M-sparse layer SCALE-Sim's ifmap matrix keeps the window elements k with k mod M < N (channel-fastest k),
  and the filter is the compressed ceil(K/M) x N rows.
- The ofmap buffer keeps every SRAM write (partial sums of every row fold included) and, when they fit its
  active half, drains them all after the last compute cycle at ArrayWidth words per cycle.
- Total Cycles (incl. prefetch) = last ofmap DRAM cycle - first ifmap/filter DRAM cycle; each DRAM bandwidth
  column = words / (stop - start + 1), that operand's own window.

Operands that overflow the active half are re-fetched. That regime is approximated (golden_small_sram.csv and
golden_resnet18.csv measure how far; docs/scalesim_compat.md): every pass of the array over the operand (ws: a column
fold re-streams the ifmap; os: column folds the ifmap, row folds the filter when a fold's block overflows; is: column
folds the filter) fetches its distinct words again, and a ws ifmap whose reuse distance (ceil(C / R) folds) exceeds
the active half is fetched fold by fold; the prefetch is the active half (less R cycles' worth for the operand
streamed along the rows, measured), the last refill lands when its first word is demanded under a uniform demand
rate; an overflowing ofmap drains a half at a time, one drain after another, while compute goes on.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.workload.layer import Layer

# SCALE-Sim 3.0.0 behaviour, measured on real runs (reference/scalesim.md §3.5): its buffers are hard-wired to
# 100 address sets, half of them active, and CALC mode prefetches at 10 words per cycle.
SETS = 100
ACTIVE_SETS = SETS // 2
PREFETCH_WORDS_PER_CYCLE = 10


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class DramWindow:
    """One operand's DRAM activity: first and last cycle (layer cycles; prefetches are negative) and words."""

    start: int
    stop: int
    words: int

    @property
    def bandwidth(self) -> float:
        """SCALE-Sim's "Avg <operand> DRAM BW": words over the operand's own window."""
        return self.words / (self.stop - self.start + 1)


@dataclass(frozen=True)
class ScalesimMemory:
    """A layer's DRAM activity under SCALE-Sim's buffers, with the SRAM ifmap reads SCALE-Sim counts."""

    ifmap: DramWindow
    filter: DramWindow
    ofmap: DramWindow
    sram_ifmap_reads: int
    overflow: bool  # some operand exceeded its active half (the approximated regime)

    @property
    def total_cycles_incl_prefetch(self) -> int:
        return self.ofmap.stop - min(self.ifmap.start, self.filter.start)


def _touched(extent: int, filter_extent: int, outputs: int, stride: int, dilation: int) -> np.ndarray:
    """bool (extent,): input positions some output's window reads along one axis."""
    used = np.zeros(extent, dtype=bool)
    for tap in range(filter_extent):
        used[tap * dilation: tap * dilation + (outputs - 1) * stride + 1: stride] = True
    return used


def _kept_window_elements(layer: Layer) -> np.ndarray:
    """int64: the window elements k (channel fastest) of SCALE-Sim's ifmap matrix, in order (N:M: k mod M < N)."""
    window = np.arange(layer.filter_h * layer.filter_w * (layer.in_channels // layer.groups))
    return window[window % layer.sparsity_m < layer.sparsity_n] if layer.is_sparse_n_of_m else window


def _distinct_words(layer: Layer, elements: np.ndarray, cache: dict | None = None) -> int:
    """Distinct ifmap addresses the window elements `elements` read over every output pixel (and image): per
    channel, the union of its taps' shifted pixel grids (`cache` keeps union sizes per tap set across calls)."""
    height, width = layer.padded_ifmap
    out_h, out_w = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    channels = layer.in_channels // layer.groups
    cache = {} if cache is None else cache
    taps_of: dict[int, list[int]] = {}
    for k in elements.tolist():
        tap, channel = divmod(k, channels)
        taps_of.setdefault(channel, []).append(tap)
    total = 0
    for taps in taps_of.values():
        key = tuple(taps)
        if key not in cache:
            used = np.zeros((height, width), dtype=bool)
            for tap in taps:
                r, q = divmod(tap, layer.filter_w)
                row, col = r * layer.dilation_h, q * layer.dilation_w
                used[row: row + (out_h - 1) * stride_h + 1: stride_h,
                     col: col + (out_w - 1) * stride_w + 1: stride_w] = True
            cache[key] = int(used.sum())
        total += cache[key]
    return layer.batch * total


def distinct_ifmap_words(layer: Layer) -> int:
    """Distinct ifmap addresses of SCALE-Sim's ifmap matrix (one group, every image of the batch)."""
    if layer.is_sparse_n_of_m:  # the kept elements' shifted grids may overlap: count them
        return _distinct_words(layer, _kept_window_elements(layer))
    height, width = layer.padded_ifmap
    out_h, out_w = layer.ofmap_hw
    stride_h, stride_w = layer.lowered_stride
    rows = _touched(height, layer.filter_h, out_h, stride_h, layer.dilation_h)
    cols = _touched(width, layer.filter_w, out_w, stride_w, layer.dilation_w)
    return layer.batch * int(rows.sum()) * int(cols.sum()) * (layer.in_channels // layer.groups)


def ws_fold_ifmap_words(layer: Layer, rows: int) -> list[int]:
    """ws: distinct ifmap words of each row fold (R consecutive window elements over every pixel)."""
    elements = _kept_window_elements(layer)
    cache: dict = {}
    return [_distinct_words(layer, elements[start: start + rows], cache) for start in range(0, elements.size, rows)]


def _passes(dataflow: str, rows: int, cols: int, m: int, k: int, n: int, half_words: int) -> tuple[int, int]:
    """How many times the array streams the ifmap and the filter matrix: column folds (the outer loop) re-read
    what they share; os row folds re-read a column fold's K x C filter block only when it exceeds the active half."""
    if dataflow == "ws":
        return _ceil(n, cols), 1
    if dataflow == "os":
        return _ceil(n, cols), _ceil(m, rows) if k * min(n, cols) > half_words else 1
    return 1, _ceil(m, cols)  # is


def _read_window(distinct: int, words: int, set_words: int, demand: tuple[int, int],
                 prefetch_shortfall: int) -> tuple[DramWindow, bool]:
    """DRAM window of a read buffer (ifmap or filter) of `set_words`-word sets that reads `distinct` words, or
    `words` with its re-fetches when they overflow the active half."""
    sets = _ceil(distinct, set_words)
    if sets <= ACTIVE_SETS:
        return DramWindow(-_ceil(sets * set_words, PREFETCH_WORDS_PER_CYCLE), -1, distinct), False
    half = ACTIVE_SETS * set_words
    last_refill = words - half * ((words - 1) // half)
    first, last = demand
    stop = first + math.floor((words - last_refill) / words * (last - first)) - 1
    return DramWindow(-_ceil(half, PREFETCH_WORDS_PER_CYCLE) + prefetch_shortfall, stop, words), True


def ofmap_writes_per_cycle(dataflow: str, rows: int, cols: int, m: int, k: int, n: int) -> np.ndarray:
    """int64 (cycles,): ofmap SRAM writes per cycle as SCALE-Sim schedules them (folds back to back, column folds
    outer; ws / is: each used column writes T results from 2R - 1 cycles into its fold, one column later each;
    os: the used rows x columns leave along anti-diagonals from T - 1 + R - used rows into the fold)."""
    spatial_rows, spatial_cols, streamed = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]
    row_folds, col_folds = _ceil(spatial_rows, rows), _ceil(spatial_cols, cols)
    fold = (rows if dataflow == "os" else 2 * rows) + cols + streamed - 2
    used_rows = np.minimum(rows, spatial_rows - rows * np.arange(row_folds))
    used_cols = np.minimum(cols, spatial_cols - cols * np.arange(col_folds))
    fold_rows = np.tile(used_rows, col_folds)  # fold order: column fold outer, row fold inner
    fold_cols = np.repeat(used_cols, row_folds)
    fold_start = fold * np.arange(row_folds * col_folds)
    length = fold * row_folds * col_folds + rows + cols + streamed
    diff = np.zeros(length + 1, dtype=np.int64)
    if dataflow == "os":
        # anti-diagonal d of an r x c block holds min(d + 1, r, c, r + c - 1 - d) results: a sum of four ramps
        first = fold_start + streamed - 1 + rows - fold_rows
        for start, r, c in zip(first, fold_rows, fold_cols):
            d = np.arange(r + c - 1)
            diff[start + d] += np.minimum(np.minimum(d + 1, min(r, c)), r + c - 1 - d)
        return diff[:length]
    column = np.arange(cols)
    starts = (fold_start[:, None] + 2 * rows - 1 + column[None, :])[column[None, :] < fold_cols[:, None]]
    np.add.at(diff, starts, 1)
    np.add.at(diff, starts + streamed, -1)
    return np.cumsum(diff)[:length]


def _write_window(writes_per_cycle: np.ndarray, set_words: int, buffer_words: int, cols: int,
                  total_cycles: int) -> tuple[DramWindow, bool]:
    """DRAM window of the ofmap buffer: each filled half drains at `cols` words per cycle, one drain at a time;
    what is left drains after the last compute cycle."""
    writes = int(writes_per_cycle.sum())
    if _ceil(writes, set_words) <= ACTIVE_SETS:
        return DramWindow(total_cycles, total_cycles + _ceil(writes, cols) - 1, writes), False
    half = buffer_words // 2
    written = np.cumsum(writes_per_cycle)
    full_halves = (writes - 1) // half
    ready = np.searchsorted(written, half * np.arange(1, full_halves + 1))  # cycle each half fills
    busy_until = -1
    first = None
    for cycle in ready:
        start = max(int(cycle), busy_until + 1)
        first = start if first is None else first
        busy_until = start + _ceil(half, cols) - 1
    # measured: SCALE-Sim writes C - 1 words more than it stores once its ofmap buffer has drained mid-layer
    words = writes + cols - 1
    rest = words - half * full_halves
    start = max(total_cycles, busy_until + 1)
    return DramWindow(first, start + _ceil(rest, cols) - 1, words), True


def scalesim_memory(layer: Layer, dataflow: str, rows: int, cols: int, buffer_words: dict[str, int],
                    total_cycles: int, sram_windows: dict[str, tuple[int, int]]) -> ScalesimMemory:
    """SCALE-Sim's DRAM activity for one ungrouped layer on an R x C array with `buffer_words` per operand
    buffer; `total_cycles` is its Total Cycles and `sram_windows` its per-operand SRAM (start, stop) cycles."""
    gemm = layer.gemm
    m, k, n = gemm.m, gemm.k, gemm.n
    set_words = {operand: max(words // SETS, 1) for operand, words in buffer_words.items()}
    ifmap_passes, filter_passes = _passes(dataflow, rows, cols, m, k, n, ACTIVE_SETS * set_words["filter"])
    half = {operand: ACTIVE_SETS * words for operand, words in set_words.items()}
    distinct = distinct_ifmap_words(layer)
    ifmap_words = distinct * ifmap_passes
    if dataflow == "ws" and distinct > half["ifmap"] and layer.filter_h * layer.filter_w > 1:
        # the next fold on the same channels (another filter tap, reading mostly the same words) comes ceil(C / R)
        # folds later; when the words fetched meanwhile exceed the active half, every fold is fetched afresh
        folds = ws_fold_ifmap_words(layer, rows)
        reuse_folds = _ceil(layer.in_channels // layer.groups, rows)
        if reuse_folds * sum(folds) / len(folds) > half["ifmap"]:
            ifmap_words = ifmap_passes * sum(folds)
    # measured: the operand streamed along the rows (ws ifmap, is filter) prefetches R cycles' worth less
    ifmap, ifmap_over = _read_window(distinct, ifmap_words, set_words["ifmap"], sram_windows["ifmap"],
                                     rows if dataflow == "ws" else 0)
    # the optimized mapping fetches each column's kept weights only (SCALE-Sim: DRAM filter reads = stored)
    filter_words = layer.optimized_mapping.stored if layer.optimized_mapping is not None else k * n
    filt, filter_over = _read_window(filter_words, filter_words * filter_passes, set_words["filter"], sram_windows["filter"],
                                     rows if dataflow == "is" else 0)
    # every row fold's partial sums are SRAM writes, and every SRAM write goes to DRAM (os: one row fold over K)
    schedule = ofmap_writes_per_cycle(dataflow, rows, cols, m, k, n)
    ofmap, ofmap_over = _write_window(schedule, set_words["ofmap"], buffer_words["ofmap"], cols, total_cycles)
    # SCALE-Sim streams the dense window padded to whole M-blocks, selecting with the metadata
    window = _ceil(layer.dense_gemm.k, layer.sparsity_m) * layer.sparsity_m if layer.is_sparse_n_of_m else k
    spatial_cols = n if dataflow in ("os", "ws") else m
    sram_ifmap_reads = m * k if dataflow == "is" else _ceil(spatial_cols, cols) * m * window
    if layer.optimized_mapping is not None and dataflow == "ws":
        # measured (golden_optmap.csv, 8-row arrays, BlockSize 4 and 8): per fold R x M reads per skewed output row
        sram_ifmap_reads = _ceil(n, cols) * _ceil(k, rows) * (m + rows - 1) * rows * layer.optmap_block
    return ScalesimMemory(ifmap, filt, ofmap, sram_ifmap_reads, ifmap_over or filter_over or ofmap_over)


def scalesim_memory_extras(memory: ScalesimMemory) -> dict[str, float]:
    """LayerResult extras `scalesim.dram.<operand>.start|stop|words`, the SRAM ifmap reads and the total."""
    out: dict[str, float] = {"scalesim.total_cycles_incl_prefetch": memory.total_cycles_incl_prefetch,
                             "scalesim.sram.ifmap.reads": memory.sram_ifmap_reads,
                             "scalesim.memory_overflow": float(memory.overflow)}
    for operand in ("ifmap", "filter", "ofmap"):
        window: DramWindow = getattr(memory, operand)
        out[f"scalesim.dram.{operand}.start"] = window.start
        out[f"scalesim.dram.{operand}.stop"] = window.stop
        out[f"scalesim.dram.{operand}.words"] = window.words
    return out


# ---- USER mode (finite per-operand DRAM bandwidths) ----------------------------------------------------------------
# Measured on real runs (tests/data/scalesim/golden_user.csv): in USER mode the read buffers fetch SCALE-Sim's
# prefetch matrix (the operand padded to whole folds along the array) in lines of `bandwidth` words, one line per
# cycle; the active half is buffer_words / 2 (not the 100-set grid of CALC mode); positive stalls count twice
# (SCALE-Sim #130).
STALL_COUNT = 2


def prefetch_matrix_words(dataflow: str, rows: int, cols: int, m: int, k: int, n: int) -> tuple[int, int]:
    """USER mode: words of SCALE-Sim's ifmap and filter prefetch matrices, measured on every golden layer that fits:
    a streamed operand is padded to whole folds along its array side, a stationary one along the columns only
    (os: ifmap M to R, filter N to C; ws: ifmap K to R, filter N to C; is: ifmap M to C, filter K to R)."""
    if dataflow == "os":
        return _ceil(m, rows) * rows * k, k * _ceil(n, cols) * cols
    if dataflow == "ws":
        return m * _ceil(k, rows) * rows, k * _ceil(n, cols) * cols
    return _ceil(m, cols) * cols * k, _ceil(k, rows) * rows * n  # is


def _fold_demand(dataflow: str, rows: int, cols: int, m: int, k: int, n: int,
                 operand: str) -> tuple[np.ndarray, int, int, int]:
    """(real words each fold demands, fold length, first demand cycle in the fold, demand cycles): folds in
    SCALE-Sim's order (column folds outer); a stationary operand loads in the fold's first R cycles, a streamed one
    streams for T cycles (ws / is: after the R load cycles)."""
    spatial_rows, spatial_cols, streamed = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[dataflow]
    row_folds, col_folds = _ceil(spatial_rows, rows), _ceil(spatial_cols, cols)
    fold = (rows if dataflow == "os" else 2 * rows) + cols + streamed - 2
    used_rows = np.tile(np.minimum(rows, spatial_rows - rows * np.arange(row_folds)), col_folds)
    used_cols = np.repeat(np.minimum(cols, spatial_cols - cols * np.arange(col_folds)), row_folds)
    # which array side the operand enters along: os ifmap rows / filter columns; ws, is: the streamed one rows,
    # the stationary one rows x columns
    side = {("os", "ifmap"): used_rows * streamed, ("os", "filter"): used_cols * streamed,
            ("ws", "ifmap"): used_rows * streamed, ("ws", "filter"): used_rows * used_cols,
            ("is", "filter"): used_rows * streamed, ("is", "ifmap"): used_rows * used_cols}[(dataflow, operand)]
    stationary = (dataflow, operand) in (("ws", "filter"), ("is", "ifmap"))
    offset, duration = (0, rows) if stationary else (0 if dataflow == "os" else rows, streamed)
    return side.astype(np.int64), fold, offset, duration


@dataclass(frozen=True)
class _ReadStream:
    """A read buffer's chunks: the stall-free cycle each chunk is first demanded and its fetch time in cycles."""

    first_demand: np.ndarray
    fetch_cycles: int
    prefetch_cycles: int
    words: int  # DRAM words read (whole lines)


def _read_stream(dataflow: str, rows: int, cols: int, m: int, k: int, n: int, operand: str, prefetch: int,
                 buffer_words: int, bandwidth: int) -> _ReadStream:
    half = buffer_words // 2
    if prefetch <= half:  # fetched whole before cycle 0, never again
        lines = _ceil(prefetch, bandwidth)
        return _ReadStream(np.zeros(0, dtype=np.int64), 0, lines, lines * bandwidth)
    demand, fold, offset, duration = _fold_demand(dataflow, rows, cols, m, k, n, operand)
    # approximation: each fold demands its words uniformly over its demand cycles; a miss fetches the next chunk
    total = int(demand.sum())
    chunks = _ceil(total, half)
    ends = np.cumsum(demand)
    starts = ends - demand
    first = []
    for chunk in range(1, chunks):
        word = chunk * half
        f = int(np.searchsorted(ends, word, side="right"))
        first.append(f * fold + offset + int((word - starts[f]) * duration // max(int(demand[f]), 1)))
    lines = _ceil(half, bandwidth)
    return _ReadStream(np.asarray(first, dtype=np.int64), lines, lines, chunks * lines * bandwidth)


def _replay(streams: dict[str, _ReadStream]) -> tuple[int, dict[str, int], list[tuple[int, int]]]:
    """Stall cycles (counted as SCALE-Sim counts them), each operand's last DRAM read cycle and the stalls as
    (stall-free cycle, cycles): chunk c + 1 is requested when chunk c is first demanded (chunk 1 at cycle 0), one
    fetch at a time per port."""
    events = sorted((int(cycle), operand, index) for operand, stream in streams.items()
                    for index, cycle in enumerate(stream.first_demand))
    ready = {operand: stream.fetch_cycles for operand, stream in streams.items()}  # chunk 1 requested at cycle 0
    stop = {operand: (ready[operand] - 1 if stream.first_demand.size else -1) for operand, stream in streams.items()}
    stall = 0
    stalls = []
    for cycle, operand, index in events:
        stream = streams[operand]
        actual = cycle + stall
        if actual < ready[operand]:
            stalls.append((cycle, STALL_COUNT * (ready[operand] - actual)))
            stall += stalls[-1][1]
            actual = ready[operand]
        if index + 1 < stream.first_demand.size:  # the next chunk is requested as this one becomes active
            ready[operand] = max(actual, ready[operand]) + stream.fetch_cycles
            stop[operand] = ready[operand] - 1
    return stall, stop, stalls


def _stalled(schedule: np.ndarray, stalls: list[tuple[int, int]]) -> np.ndarray:
    """A stall-free per-cycle schedule with every stall inserted before its stall-free cycle."""
    shift = np.zeros(schedule.size, dtype=np.int64)
    for cycle, cycles in stalls:
        shift[min(cycle, schedule.size):] += cycles
    out = np.zeros(schedule.size + int(shift[-1] if shift.size else 0), dtype=schedule.dtype)
    np.add.at(out, np.arange(schedule.size) + shift, schedule)
    return out


def scalesim_memory_user(layer: Layer, dataflow: str, rows: int, cols: int, buffer_words: dict[str, int],
                         bandwidths: dict[str, int], compute_cycles: int) -> tuple[ScalesimMemory, int]:
    """SCALE-Sim's USER-mode DRAM activity for one ungrouped layer with `bandwidths` words per cycle per operand
    port, and its Stall Cycles. Exact where the prefetch matrices fit their buffers' active halves and the ofmap
    writes fit its half (no stalls); approximated where they overflow (docs/scalesim_compat.md)."""
    gemm = layer.gemm
    m, k, n = gemm.m, gemm.k, gemm.n
    prefetch = dict(zip(("ifmap", "filter"), prefetch_matrix_words(dataflow, rows, cols, m, k, n)))
    streams = {operand: _read_stream(dataflow, rows, cols, m, k, n, operand, prefetch[operand],
                                     buffer_words[operand], bandwidths[operand]) for operand in ("ifmap", "filter")}
    stall, stops, stalls = _replay(streams)
    total = compute_cycles + stall
    reads = {operand: DramWindow(-stream.prefetch_cycles, stops[operand], stream.words)
             for operand, stream in streams.items()}
    schedule = ofmap_writes_per_cycle(dataflow, rows, cols, m, k, n)
    half = buffer_words["ofmap"] // 2
    writes = int(schedule.sum())
    bandwidth = bandwidths["ofmap"]
    if writes <= half:  # drained after the last compute cycle
        ofmap, ofmap_over = DramWindow(total, total + _ceil(writes, bandwidth) - 1, writes), False
    else:  # approximation: halves drain as they fill (the schedule shifted by the stalls), the rest at the end
        ofmap, ofmap_over = _write_window(_stalled(schedule, stalls), max(half // ACTIVE_SETS, 1),
                                          buffer_words["ofmap"], bandwidth, total)
    overflow = ofmap_over or any(stream.first_demand.size for stream in streams.values())
    spatial_cols = n if dataflow in ("os", "ws") else m
    sram_ifmap_reads = m * k if dataflow == "is" else _ceil(spatial_cols, cols) * m * k
    return ScalesimMemory(reads["ifmap"], reads["filter"], ofmap, sram_ifmap_reads, overflow), stall
