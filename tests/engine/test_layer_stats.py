"""sim.engine.layer_stats: the batched per-layer statistics equal their per-layer references bit for bit."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analytical.systolic import fold_sram_counts, sram_count_totals
from sim.energy.tables import apply, prices
from sim.engine.layer_stats import SYSTOLIC_ACTIONS, bandwidth_windows, transfer_rows
from sim.hardware.spec import EnergyEntry
from sim.mapping.systolic import array_mapping
from sim.records import ActionCounts
from sim.workload.layer import Layer


def layer_windows(transfers: np.ndarray, start: int, end: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Bytes moved in each `window`-cycle window of [start, end), transfers spread evenly over their cycles: of all
    transfers (the run's bandwidth trace), and of those ending after `start` (the layer's own, for its peak
    statistic): the per-layer pass that `bandwidth_windows` batches (the engine's code before it). The two differ
    only by zero-length transfers at exactly `start`, whose whole-byte sums are exact, so adding the shared spread
    part to each gives the floats that two separate passes would."""
    count = max(-(-(end - start) // window), 1)
    out = np.zeros(count, dtype=np.float64)
    if transfers.size == 0:
        return out, out.copy()
    t0, t1, size = transfers[:, 0], transfers[:, 1], transfers[:, 2].astype(np.float64)
    own = np.zeros(count, dtype=np.float64)
    # Zero-length transfers (unlimited bandwidth) land in the window where they happen.
    instant = (t1 <= t0) & (t0 >= start) & (t0 < end)
    np.add.at(out, (t0[instant] - start) // window, size[instant])
    instant &= t1 > start
    np.add.at(own, (t0[instant] - start) // window, size[instant])
    spread = (t1 > t0) & (t1 > start) & (t0 < end)
    if spread.any():
        a, b = t0[spread], t1[spread]
        rate = size[spread] / (b - a)
        # Cumulative bytes moved is piecewise linear with breaks at transfer starts and ends: integrate the
        # rate between breaks, then read it at the window edges (exact, O(transfers + windows)).
        points = np.concatenate([a, b])
        order = np.argsort(points, kind="stable")
        points = points[order]
        rate_after = np.cumsum(np.concatenate([rate, -rate])[order])
        moved = np.concatenate([[0.0], np.cumsum(rate_after[:-1] * np.diff(points))])
        edges = np.minimum(start + window * np.arange(count + 1), end)
        part = np.diff(np.interp(edges, points, moved))
        out += part
        own += part
    return out, own


@st.composite
def transfer_logs(draw):
    """(transfers, layer starts, layer ends, window): a FIFO log (as the engine's DRAM records it) or any order,
    with zero-length transfers, odd byte counts (non-integral rates) and layers that may end where they start."""
    count = draw(st.integers(0, 30))
    holds = draw(st.lists(st.integers(0, 9), min_size=count, max_size=count))
    sizes = draw(st.lists(st.integers(0, 10_000), min_size=count, max_size=count))
    if draw(st.booleans()):
        gaps = draw(st.lists(st.integers(0, 6), min_size=count, max_size=count))
        starts, now = [], 0
        for gap, hold in zip(gaps, holds):
            now += gap
            starts.append(now)
            now += hold
    else:
        starts = draw(st.lists(st.integers(0, 120), min_size=count, max_size=count))
    transfers = np.array([(s, s + h, b) for s, h, b in zip(starts, holds, sizes)], dtype=np.int64).reshape(-1, 3)
    bounds = sorted(draw(st.lists(st.integers(0, 140), min_size=2, max_size=7)))
    layer_starts = np.array(bounds[:-1], dtype=np.int64)
    layer_ends = np.array(bounds[1:], dtype=np.int64)
    return transfers, layer_starts, layer_ends, draw(st.integers(1, 16))


@settings(max_examples=150)
@given(transfer_logs())
def test_bandwidth_windows_equal_the_per_layer_pass(log):
    transfers, starts, ends, window = log
    stats = bandwidth_windows(transfers, starts, ends, window)
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist())):
        stop = max(end, start + 1)
        run, own = layer_windows(transfers, start, stop, window)
        assert stats.of(index).tobytes() == run.tobytes()  # bit for bit, signs of zeros included
        assert float(stats.peak_bytes_per_cycle[index]) == float(own.max() / window)
        in_layer = transfers[(transfers[:, 1] > start) & (transfers[:, 0] < stop)]
        busy = np.clip(np.minimum(in_layer[:, 1], end) - np.maximum(in_layer[:, 0], start), 0, None).sum()
        assert int(stats.busy_cycles[index]) == int(busy)


def test_bandwidth_windows_of_no_transfers_are_zero():
    stats = bandwidth_windows(np.zeros((0, 3), dtype=np.int64), np.array([0, 5]), np.array([5, 2000]), 1024)
    assert [w.tolist() for w in (stats.of(0), stats.of(1))] == [[0.0], [0.0, 0.0]]
    assert stats.peak_bytes_per_cycle.tolist() == [0.0, 0.0] and stats.busy_cycles.tolist() == [0, 0]


def test_transfer_rows_equal_numpy_conversion():
    log = [(0, 4, 64), (4, 9, 100), (9, 9, 3)]
    assert np.array_equal(transfer_rows(log), np.asarray(log, dtype=np.int64))
    assert transfer_rows([]).shape == (0, 3)


@st.composite
def mappings(draw):
    if draw(st.booleans()):
        layer = Layer.gemm_layer("g", m=draw(st.integers(1, 300)), n=draw(st.integers(1, 300)),
                                 k=draw(st.integers(1, 300)))
    else:
        groups = draw(st.integers(1, 4))
        kernel = draw(st.integers(1, 3))
        size = draw(st.integers(kernel, 12))
        layer = Layer(name="c", ifmap_h=size, ifmap_w=size, in_channels=groups * draw(st.integers(1, 3)),
                      out_channels=groups * draw(st.integers(1, 4)), filter_h=kernel, filter_w=kernel, groups=groups)
    return array_mapping(layer=layer, dataflow=draw(st.sampled_from(("os", "ws", "is"))),
                         rows=draw(st.integers(1, 40)), cols=draw(st.integers(1, 40)))


@settings(max_examples=100)
@given(mappings())
def test_closed_forms_equal_the_per_fold_arrays(mapping):
    assert sram_count_totals(mapping) == tuple(int(v) for v in fold_sram_counts(mapping).sum(axis=0))
    used = mapping.fold_used
    efficiency = mapping.mapping_efficiency
    per_fold_mean = float(np.mean(used[:, 0] * used[:, 1]) / (mapping.rows * mapping.cols))
    assert type(efficiency) is float and efficiency == per_fold_mean


def test_apply_with_prices_equals_apply():
    table = {"mac": EnergyEntry(pj=0.2, source="a"), "ifmap_sram.read": EnergyEntry(pj=1.5, source="b"),
             "dram.read_byte": EnergyEntry(pj=31.1, source="c"), "leakage.cycle": EnergyEntry(pj=0.0, source="d")}
    counts = ActionCounts.of({key: 3 * i + 7 for i, key in enumerate(SYSTOLIC_ACTIONS)})
    assert apply(counts, table, prices(SYSTOLIC_ACTIONS, table)) == apply(counts, table)
    energy = apply(counts, table)
    assert energy.as_dict()["mac"] == float(counts.get("mac")) * 0.2
    assert dict(energy.provenance)["mac"] == f"0.2 pj x {counts.get('mac')} (a)"
    assert dict(energy.provenance)["filter_sram.read"].startswith("not priced")


def test_bandwidth_windows_of_one_long_layer_among_short_ones():
    # The per-layer sums are padded into rows grouped by length once one block would pad too much.
    rng = np.random.default_rng(7)
    holds = rng.integers(1, 5, 20_000)
    starts = np.cumsum(rng.integers(0, 3, holds.size) + np.concatenate([[0], holds[:-1]]))
    transfers = np.stack([starts, starts + holds, rng.integers(1, 5000, holds.size)], axis=1).astype(np.int64)
    bounds = np.concatenate([[0], np.arange(1, 31) * 7, [int(starts[-1]) + 10]]).astype(np.int64)
    stats = bandwidth_windows(transfers, bounds[:-1], bounds[1:], 64)
    for index, (start, end) in enumerate(zip(bounds[:-1].tolist(), bounds[1:].tolist())):
        run, own = layer_windows(transfers, start, end, 64)
        assert stats.of(index).tobytes() == run.tobytes()
        assert float(stats.peak_bytes_per_cycle[index]) == float(own.max() / 64)
