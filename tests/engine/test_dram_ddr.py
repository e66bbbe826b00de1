"""DUT harnesses for the command-level DRAM (`ddr`): one test per timing rule, for every preset, then the
controller's laws (column rate, refresh, conservation, more banks / channels never slower)."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.ddr import EXACT_TRANSACTIONS, DdrController
from sim.hardware.presets import ddr_preset_names, resolve_ddr_preset
from sim.kernels import ddr_controller as kernel
from sim.kernels.ddr_controller import ACT, PRE, RD, WR

PRESETS = ddr_preset_names()


class CommandHarness:
    """Issues single commands to a device's banks and probes the earliest legal cycle of the next one."""

    def __init__(self, device):
        self.device = device
        self.controller = DdrController(device)
        g = self.controller.geometry
        self.groups, self.banks, self.ranks = int(g[kernel.G_GROUPS]), int(g[kernel.G_BANKS]), int(g[kernel.G_RANKS])
        self.faw_slot = np.zeros(self.ranks * int(g[kernel.G_CHANNELS]), dtype=np.int64)
        self.open_row, *self.tables = self.controller.state[:6]

    def earliest(self, command, bank):
        return kernel._earliest(command, bank, self.groups, self.banks, self.ranks, self.open_row, *self.tables,
                                self.controller.timing, self.faw_slot)

    def issue(self, command, bank, cycle, row=0):
        """Issue `command` at `cycle`, which must be legal."""
        assert cycle >= self.earliest(command, bank), f"{command} at {cycle} is too early"
        kernel._issue(command, bank, cycle, self.groups, self.banks, self.ranks, self.open_row, *self.tables,
                      self.controller.timing, self.faw_slot, row)

    def assert_earliest(self, command, bank, cycle):
        assert self.earliest(command, bank) == cycle


@pytest.fixture(params=PRESETS)
def harness(request):
    return CommandHarness(resolve_ddr_preset(request.param))


def other_group(h):
    """A bank in another bank group than bank 0 (None on devices without bank groups)."""
    return h.banks if h.groups > 1 else None


def test_act_to_read_and_write_waits_trcd(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    harness.assert_earliest(RD, 0, 100 + d.rcd_tck)
    harness.assert_earliest(WR, 0, 100 + d.rcd_tck)


def test_act_to_pre_waits_tras(harness):
    harness.issue(ACT, 0, 100)
    harness.assert_earliest(PRE, 0, 100 + harness.device.ras_tck)


def test_act_to_act_same_bank_waits_trc(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    harness.issue(PRE, 0, 100 + d.ras_tck)
    harness.assert_earliest(ACT, 0, 100 + max(d.rc_tck, d.ras_tck + d.rp_tck))


def test_pre_to_act_waits_trp(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    late = 100 + d.rc_tck  # precharge late, so tRP binds rather than tRC
    harness.issue(PRE, 0, late)
    harness.assert_earliest(ACT, 0, late + d.rp_tck)


def test_read_to_pre_waits_trtp(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    read = 100 + d.ras_tck  # late read: tRTP binds, not tRAS
    harness.issue(RD, 0, read)
    harness.assert_earliest(PRE, 0, read + d.rtp_tck)


def test_write_to_pre_waits_write_recovery(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    harness.issue(WR, 0, 100 + d.rcd_tck)
    harness.assert_earliest(PRE, 0, max(100 + d.ras_tck, 100 + d.rcd_tck + d.cwl_tck + d.bl_tck + d.wr_tck))


def test_act_to_act_waits_trrd_l_in_a_bank_group_and_trrd_s_across(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    harness.assert_earliest(ACT, 1, 100 + d.rrd_l_tck)
    if other_group(harness) is not None:
        harness.assert_earliest(ACT, other_group(harness), 100 + d.rrd_s_tck)


def test_a_fifth_activation_waits_tfaw(harness):
    d = harness.device
    banks = harness.groups * harness.banks
    if banks < 5:
        pytest.skip("fewer than five banks in a rank")
    # Activate banks in group-rotating order, each as early as the tRRD rules allow.
    order = [(i % harness.groups) * harness.banks + i // harness.groups for i in range(5)]
    cycle = 100
    for bank in order[:4]:
        cycle = max(cycle, harness.earliest(ACT, bank))
        harness.issue(ACT, bank, cycle)
    spacing = harness.earliest(ACT, order[4])
    assert spacing == max(100 + d.faw_tck, cycle + (d.rrd_s_tck if harness.groups > 1 else d.rrd_l_tck))


def test_read_to_read_waits_tccd_l_in_a_group_tccd_s_across_and_the_burst_on_the_bus(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    harness.issue(ACT, 1, 100 + d.rrd_l_tck)
    read = 100 + d.rrd_l_tck + d.rcd_tck
    harness.issue(RD, 0, read)
    harness.assert_earliest(RD, 1, read + max(d.ccd_l_tck, d.bl_tck))
    group = other_group(harness)
    if group is not None:
        harness.issue(ACT, group, 100 + 2 * d.faw_tck)
        late = 100 + 2 * d.faw_tck + d.rcd_tck
        harness.issue(RD, 0, late)
        harness.assert_earliest(RD, group, late + max(d.ccd_s_tck, d.bl_tck))


def test_write_to_read_waits_twtr_l_in_a_group_and_twtr_s_across(harness):
    d = harness.device
    group = other_group(harness)
    harness.issue(ACT, 0, 100)
    if group is not None:
        harness.issue(ACT, group, 100 + d.rrd_s_tck)
    write = 100 + d.rrd_s_tck + d.rcd_tck
    harness.issue(WR, 0, write)
    harness.assert_earliest(RD, 0, write + d.cwl_tck + d.bl_tck + d.wtr_l_tck)
    if group is not None:
        harness.assert_earliest(RD, group, write + d.cwl_tck + d.bl_tck + d.wtr_s_tck)


def test_read_to_write_waits_the_bus_turnaround(harness):
    d = harness.device
    harness.issue(ACT, 0, 100)
    read = 100 + d.rcd_tck
    harness.issue(RD, 0, read)
    harness.assert_earliest(WR, 0, read + max(d.cl_tck + d.bl_tck + 2 - d.cwl_tck, d.ccd_l_tck))


# --- the controller -------------------------------------------------------------------------------------------------

def serve(device, write, lines, arrive=None):
    controller = DdrController(device)
    addresses = np.asarray(lines, dtype=np.int64) * device.transaction_bytes
    write = np.asarray(write, dtype=np.bool_)
    arrive = np.zeros(len(addresses), dtype=np.int64) if arrive is None else np.asarray(arrive, dtype=np.int64)
    done = controller.serve(write, addresses, arrive)
    return controller, done


@pytest.mark.parametrize("preset", PRESETS)
def test_row_hits_in_one_row_run_at_the_column_rate(preset):
    d = resolve_ddr_preset(preset)
    n = min(d.columns, 32)
    # Transactions of one row: with the channel field lowest, the row's lines are `channels` apart.
    _, done = serve(d, [False] * n, np.arange(n) * d.channels)
    assert done.max() == d.rcd_tck + (n - 1) * max(d.ccd_l_tck, d.bl_tck) + d.cl_tck + d.bl_tck


def test_refresh_takes_trfc_every_trefi():
    d = resolve_ddr_preset("DDR4-2400")
    # One read offered right when the first refresh falls due: REF first, then the read's ACT after tRFC.
    controller, done = serve(d, [False], [0], [d.refi_tck])
    assert done[0] == d.refi_tck + d.rfc_tck + d.rcd_tck + d.cl_tck + d.bl_tck
    assert controller.command_counts().ref == 1
    # A stream over many tREFI refreshes once per tREFI.
    controller, done = serve(d, [False] * 40000, np.arange(40000))
    assert controller.command_counts().ref == done.max() // d.refi_tck


def test_an_idle_controller_does_not_owe_refreshes():
    d = resolve_ddr_preset("DDR4-2400")
    controller = DdrController(d)
    controller.serve(np.array([False]), np.array([0]), np.array([0]))
    later = 50 * d.refi_tck + d.rp_tck + d.rfc_tck + 17  # the 50th refresh is over
    done = controller.serve(np.array([False]), np.array([1 << 30]), np.array([later]))
    assert done[0] == later + d.rcd_tck + d.cl_tck + d.bl_tck
    assert controller.command_counts().ref == 50


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1 << 20)), min_size=1, max_size=300),
       st.sampled_from(PRESETS))
def test_transactions_commands_and_bytes_are_conserved(requests, preset):
    d = resolve_ddr_preset(preset)
    write = [w for w, _ in requests]
    controller, done = serve(d, write, [line for _, line in requests])
    counts = controller.command_counts()
    assert counts.rd == write.count(False) and counts.wr == write.count(True)
    assert counts.act == controller.transactions - controller.row_hits
    assert 0 <= counts.act - counts.pre <= d.banks  # every ACT but those of rows still open was precharged
    assert (done > 0).all()
    reads = ~np.asarray(write)
    assert (done[reads] >= d.rcd_tck + d.cl_tck + d.bl_tck).all() if not counts.ref else True


def test_a_zero_low_watermark_still_returns_to_reads():
    d = resolve_ddr_preset("DDR4-2400").model_copy(update={"write_low_watermark": 0.0})
    write = [True] * 40 + [False] * 40
    controller, done = serve(d, write, np.arange(80))
    assert controller.command_counts().wr == 40 and controller.command_counts().rd == 40 and (done > 0).all()


def spread(device, lines, field):
    """The same stream on a device with twice the channels or banks per group: each line keeps its row, bank group,
    bank and column, and rows of odd number move to the new channel / banks."""
    lines = np.asarray(lines, dtype=np.int64)
    column_bits = (device.columns - 1).bit_length()
    group_bits = (device.bankgroups - 1).bit_length()
    bank_bits = (device.banks_per_group - 1).bit_length()
    low = column_bits + group_bits + bank_bits
    row = lines >> low
    if field == "channels":
        return (lines << 1) | (row & 1)
    return (row << (low + 1)) | ((row & 1) << low) | (lines & ((1 << low) - 1))


@settings(deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1 << 16)), min_size=1, max_size=200),
       st.sampled_from(["banks_per_group", "channels"]))
def test_more_banks_or_channels_never_slow_a_stream_beyond_scheduling_noise(requests, field):
    # Greedy first-ready FCFS is not strictly monotone (Ramulator's neither): with rows spread over more banks,
    # 10 hits to one row then 3 misses took 100 tCK instead of 99 (the column commands came in another order); a
    # channel left with only a write drains it at once (no read waits), 107 instead of 97 tCK on 12 requests. The
    # law holds up to that scheduling noise: at most 5 % plus one row cycle and one write-to-read turnaround; on
    # the lasting reference streams (below) strictly.
    d = resolve_ddr_preset("DDR4-2400")
    more = d.model_copy(update={field: getattr(d, field) * 2})
    write = [w for w, _ in requests]
    lines = [line for _, line in requests]
    _, base = serve(d, write, lines)
    _, wider = serve(more, write, spread(d, lines, field))
    assert wider.max() <= base.max() * 1.05 + d.rc_tck + d.cwl_tck + d.bl_tck + d.wtr_l_tck


@pytest.mark.parametrize("field", ["banks_per_group", "channels"])
@pytest.mark.parametrize("stream", ["stride_bankrow", "random_256m", "rw_3stream", "seq_1m"])
def test_more_banks_or_channels_never_slow_the_reference_streams(stream, field):
    from sim.workload.dram_trace import synthetic_streams

    d = resolve_ddr_preset("DDR4-2400")
    more = d.model_copy(update={field: getattr(d, field) * 2})
    trace = synthetic_streams(scale=16)[stream]
    lines = trace.address // d.transaction_bytes
    _, base = serve(d, trace.write, lines)
    _, wider = serve(more, trace.write, spread(d, lines, field))
    assert wider.max() <= base.max()


# source: Ramulator 2.1 on the reference streams (DDR4-2400R, FR-FCFS, 32-entry queues), total ns: the reference's
# dram README / ramulator_ddr4_streams.csv (measured facts, as in benchmarks/bench_dram.py).
RAMULATOR_NS = {
    "seq_64k": 4461.548, "seq_1m": 73050.768, "seq_16m": 1168965.566, "stride_row": 93090.249,
    "stride_bankrow": 786686.87, "random_256m": 373058.219, "rw_seq_2to1": 1180775.84, "rw_3stream": 1643066.685,
}


@pytest.mark.slow
def test_the_eight_reference_streams_are_within_10_percent_of_ramulator():
    from sim.engine.dram_replay import replay
    from sim.hardware.spec import DramSpec
    from sim.workload.dram_trace import synthetic_streams

    spec = DramSpec(model="ddr", bandwidth_bytes_per_cycle=19.2, preset="DDR4-2400")
    for name, trace in synthetic_streams().items():
        assert abs(replay(trace, spec).total_ns / RAMULATOR_NS[name] - 1) < 0.10, name


# The controller's own results on the eight streams before its scan was made cheaper (and its two scan loops merged):
# (last completion tCK, row hits, (ACT, PRE, RD, WR, REF)). Speed work must leave every one of them unchanged.
CONTROLLER_RESULTS = {
    "seq_64k": (5355, 1016, (8, 0, 1024, 0, 0)),
    "seq_1m": (87697, 16244, (140, 9, 16384, 0, 9)),
    "seq_16m": (1403283, 259895, (2249, 149, 262144, 0, 149)),
    "stride_row": (111752, 0, (16384, 16304, 16384, 0, 11)),
    "stride_bankrow": (944401, 0, (16384, 16383, 16384, 0, 100)),
    "random_256m": (447826, 89, (65447, 65062, 65536, 0, 47)),
    "rw_seq_2to1": (1417431, 259853, (2291, 151, 174763, 87381, 151)),
    "rw_3stream": (1972469, 248828, (13315, 12614, 174762, 87381, 210)),
}


def test_the_eight_reference_streams_keep_their_exact_totals_row_hits_and_commands():
    from sim.engine.dram_replay import expand
    from sim.workload.dram_trace import synthetic_streams

    measured = {}
    for stream, trace in synthetic_streams().items():
        owner, addresses = expand(trace, 64)
        controller = DdrController(resolve_ddr_preset("DDR4-2400"))
        done = controller.serve(trace.write[owner], addresses, np.zeros(len(addresses), dtype=np.int64))
        measured[stream] = (int(done.max()), controller.row_hits,
                            tuple(int(v) for v in controller.counts.sum(axis=0)))
    assert measured == CONTROLLER_RESULTS


@settings(deadline=None, max_examples=30)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1 << 22)), min_size=1, max_size=200),
       st.sampled_from(PRESETS), st.integers(0, 50_000))
def test_energy_is_the_commands_times_their_energies_plus_background(requests, preset, extra_tck):
    d = resolve_ddr_preset(preset)
    controller, _ = serve(d, [w for w, _ in requests], [line for _, line in requests])
    elapsed = controller.end_tck + extra_tck
    counts = controller.command_counts(elapsed)
    commands = counts.act * d.act_pj + counts.pre * d.pre_pj + counts.rd * d.rd_pj + counts.wr * d.wr_pj \
        + counts.ref * d.ref_pj
    background = d.background_mw * elapsed * d.tck_ns * d.channels * d.ranks  # mW x ns = pJ, every rank
    assert sum(counts.energy_pj.values()) == pytest.approx(commands + background, rel=1e-12)
    assert counts.energy_pj["background"] == pytest.approx(background, rel=1e-12)


@settings(deadline=None, max_examples=30)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 1 << 24), st.integers(1, 64 * 40), st.integers(0, 3000)),
                min_size=1, max_size=40),
       st.sampled_from(PRESETS))
def test_the_engine_kernel_reusing_its_scratch_matches_fresh_scratch(requests, preset):
    """The engine's per-request call reuses scratch arrays kept in its packed buffer: nothing may carry over from
    one request to the next, so it gives what the same kernel gives with fresh arrays every call."""
    device = resolve_ddr_preset(preset)
    packed = DdrController(device)
    fresh = DdrController(device)
    state = [a.copy() for a in fresh.state]
    counts, totals = np.zeros_like(fresh.counts), np.zeros(3, dtype=np.int64)
    arrive = 0
    for write, address, size, gap in requests:
        arrive += gap
        got = packed.serve_request(write, address, size, arrive)
        tb = device.transaction_bytes
        first = address // tb
        n = (address + size - 1) // tb - first + 1
        steady = packed._steady_tck(write) if n > EXACT_TRANSACTIONS else 0.0
        want = kernel.serve_request(write, first, n, arrive, EXACT_TRANSACTIONS, steady, fresh.field_kind,
                                    fresh.field_bits, fresh.timing, fresh.geometry, *state, counts, totals)
        assert tuple(int(v) for v in got) == tuple(int(v) for v in want)
    assert np.array_equal(packed.counts, counts)
    assert all(np.array_equal(a, b) for a, b in zip(packed.state, state))
