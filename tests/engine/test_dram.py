"""DUT harness for the DRAM models: each test is named after the timing rule it checks."""
import math

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.dram import DRAM_MODELS, BankRowBufferDram, make_dram, resolve_timing
from sim.errors import ConfigError
from sim.hardware.spec import DramSpec, DramTimingSpec

TIMING = DramTimingSpec(banks=2, row_bytes=256, t_rcd_cycles=5, t_rp_cycles=7, t_cas_cycles=3, source="test")


class DramHarness:
    """probe() reads state, issue() starts one request and returns its event; times are absolute cycles."""

    def __init__(self, **spec):
        self.env = simpy.Environment()
        self.dram = make_dram(self.env, DramSpec(**spec))

    def probe(self):
        return self.dram.stats

    def issue(self, kind, address, size_bytes, operand=None):
        return self.dram.request(kind, address, size_bytes, operand=operand)

    def assert_earliest_ready_at(self, event, cycle):
        self.env.run(until=event)
        assert self.env.now == cycle


def test_read_takes_whole_bursts_at_the_bandwidth_plus_latency():
    h = DramHarness(bandwidth_bytes_per_cycle=8, latency_cycles=10, burst_bytes=64)
    h.assert_earliest_ready_at(h.issue("read", 0, 65), 128 // 8 + 10)
    assert h.probe().moved_bytes == 128 and h.probe().read_bytes == 65


def test_writes_are_posted_without_latency():
    h = DramHarness(bandwidth_bytes_per_cycle=8, latency_cycles=10, burst_bytes=64)
    h.assert_earliest_ready_at(h.issue("write", 0, 64), 8)


def test_reads_and_writes_share_one_channel_in_arrival_order():
    h = DramHarness(bandwidth_bytes_per_cycle=8, latency_cycles=0, burst_bytes=64)
    write = h.issue("write", 0, 640)
    read = h.issue("read", 4096, 64)
    h.assert_earliest_ready_at(read, 80 + 8)
    assert write.processed and h.probe().busy_cycles == 88


def test_unlimited_bandwidth_transfers_in_zero_cycles():
    h = DramHarness(bandwidth_bytes_per_cycle=math.inf, latency_cycles=0)
    h.assert_earliest_ready_at(h.issue("read", 0, 1 << 20), 0)


def test_operand_port_slower_than_the_channel_caps_that_operand_only():
    h = DramHarness(bandwidth_bytes_per_cycle=16, ifmap_bandwidth_bytes_per_cycle=4, burst_bytes=64)
    slow = h.issue("read", 0, 64, operand="ifmap")
    fast = h.issue("read", 4096, 64, operand="filter")
    h.assert_earliest_ready_at(fast, 8)  # the channel moved the ifmap bytes in 64/16 cycles, then these
    h.assert_earliest_ready_at(slow, 16)  # the ifmap port needs 64/4 cycles


def bank_row_harness():
    h = DramHarness(model="bank_row", bandwidth_bytes_per_cycle=64, burst_bytes=64, timing=TIMING)
    assert isinstance(h.dram, BankRowBufferDram)
    return h


def test_empty_bank_read_pays_rcd_and_cas():
    h = bank_row_harness()
    h.assert_earliest_ready_at(h.issue("read", 0, 64), 5 + 3 + 1)
    assert h.probe().row_misses == 1 and h.probe().row_conflicts == 0


def test_row_hit_read_is_tight_at_cas_latency():
    h = bank_row_harness()
    h.issue("read", 0, 64)
    h.assert_earliest_ready_at(h.issue("read", 64, 64), 9 + 3 + 1)
    assert h.probe().row_hits == 1


def test_row_conflict_pays_precharge_activate_and_cas():
    h = bank_row_harness()
    h.issue("read", 0, 64)  # row 0, bank 0
    h.assert_earliest_ready_at(h.issue("read", 2 * 256, 64), 9 + 7 + 5 + 3 + 1)  # row 2, bank 0
    assert h.probe().row_conflicts == 1


def test_stream_within_one_row_activates_once():
    h = bank_row_harness()
    h.assert_earliest_ready_at(h.issue("read", 0, 256), 5 + 3 + 4)
    assert (h.probe().row_misses, h.probe().row_hits) == (1, 3)


def test_unknown_model_lists_the_choices():
    spec = DramSpec.model_construct(model="magic", bandwidth_bytes_per_cycle=1.0)
    with pytest.raises(ConfigError, match="unknown DRAM model.*bandwidth, bank_row"):
        make_dram(simpy.Environment(), spec)
    assert set(DRAM_MODELS) == {"bandwidth", "bank_row", "ddr"}


def test_presets_convert_nanoseconds_to_cycles_of_the_clock():
    spec = DramSpec(model="bank_row", bandwidth_bytes_per_cycle=16, preset="DDR4-2400")
    assert resolve_timing(spec, 1000.0).t_cas_cycles == 14  # 13.32 ns at 1 GHz, rounded up
    assert resolve_timing(spec, 500.0).t_cas_cycles == 7
    with pytest.raises(ConfigError, match="unknown DRAM preset.*DDR4-2400"):
        resolve_timing(DramSpec(model="bank_row", bandwidth_bytes_per_cycle=16, preset="DDR9"))


def test_unknown_request_kind_is_an_error():
    h = DramHarness(bandwidth_bytes_per_cycle=8)
    with pytest.raises(ConfigError, match="read, write"):
        h.issue("erase", 0, 64)


def test_a_request_spanning_more_rows_than_banks_conflicts_on_every_later_row():
    h = bank_row_harness()  # 2 banks of 256-byte rows
    h.assert_earliest_ready_at(h.issue("read", 0, 4 * 256), 2 * (5 + 3) + 2 * (7 + 5 + 3) + 16)
    assert (h.probe().row_misses, h.probe().row_conflicts) == (4, 2)
    h.assert_earliest_ready_at(h.issue("read", 3 * 256, 64), 62 + 3 + 1)  # row 3 stayed open in bank 1
    assert h.dram.open_rows == {0: 2, 1: 3}


def _reference_row_commands(open_rows: dict[int, int], banks: int, first_row: int, last_row: int):
    """The rule spelled out row by row: (hits, empty banks, conflicts) of the first `banks` rows against the open
    rows, then each bank touched holds the request's last row in it."""
    hits = empty = conflicts = 0
    for row in range(first_row, first_row + min(last_row - first_row + 1, banks)):
        held = open_rows.get(row % banks)
        if held == row:
            hits += 1
        elif held is None:
            empty += 1
        else:
            conflicts += 1
    for row in range(max(first_row, last_row - banks + 1), last_row + 1):
        open_rows[row % banks] = row
    return hits, empty, conflicts


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 8), st.lists(st.tuples(st.integers(0, 40), st.integers(0, 20)), max_size=30))
def test_open_row_bookkeeping_equals_the_row_by_row_rule(banks, requests):
    timing = DramTimingSpec(banks=banks, row_bytes=64, t_rcd_cycles=5, t_rp_cycles=7, t_cas_cycles=3, source="test")
    dram = make_dram(simpy.Environment(), DramSpec(model="bank_row", bandwidth_bytes_per_cycle=64, burst_bytes=64,
                                                   timing=timing))
    reference: dict[int, int] = {}
    for first_row, extra_rows in requests:
        expected = _reference_row_commands(reference, banks, first_row, first_row + extra_rows)
        assert dram._meet_rows(first_row, first_row + extra_rows) == expected
        assert dram.open_rows == reference
