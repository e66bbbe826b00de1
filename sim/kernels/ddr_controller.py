"""Command-level DRAM controller: FR-FCFS over read / write queues, open rows, refresh, one command per cycle.

Arrays in, arrays out (sim.engine.ddr owns the objects). Time is in DRAM clock cycles (tCK). Each channel has
a read queue and a write queue of `queue_depth` transactions, an active list (requests whose own ACT has issued,
served first, as Ramulator 2's generic controller does) and one command bus. Every cycle a channel may issue
one command of its best request: the active list first; else a due all-bank refresh (which blocks the queues
until its PREA / REF have issued); else the read queue, or the write queue while in write mode (entered above
the high watermark or when no read waits, left below the low watermark with reads waiting). The best request
is the oldest among those whose next command (ACT, PRE, RD or WR) is legal now (first-ready FCFS); a PRE that
would close the row of an active request waits. Transactions enter the queues in order as space frees (an
in-order requester). The clock jumps to the next cycle at which anything can change, so idle cycles cost nothing.
One scan serves the active list and the queues: per cycle the rank-, channel- and FAW-level bound of each command
is taken once per rank, so a queued request costs its bank's and bank group's entries only.

Timing rules (the issue of a command moves the earliest legal cycle of later commands, per bank, bank group,
rank and channel), with T = the timing vector indexed by the T_* constants:
  ACT -> ACT same bank RC, same bank group RRD_L, same rank RRD_S, and at most four ACT per FAW per rank;
  ACT -> RD/WR RCD; ACT -> PRE RAS; PRE -> ACT RP; RD -> PRE RTP; WR -> PRE CWL + BL + WR;
  RD -> RD / WR -> WR: CCD_L in a bank group, CCD_S in a rank, BL on the channel's data bus;
  RD -> WR: CL + BL + 2 - CWL; WR -> RD: CWL + BL + WTR_L in a bank group, CWL + BL + WTR_S in a rank;
  REF needs every bank of the rank closed (PREA) and then blocks the rank for RFC; one is due every REFI.
A read completes CL + BL after its RD, a write CWL + BL after its WR.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Timing vector indices (cycles of tCK).
T_CL, T_CWL, T_BL, T_RCD, T_RP, T_RAS, T_RC, T_RTP, T_WR = 0, 1, 2, 3, 4, 5, 6, 7, 8
T_CCD_S, T_CCD_L, T_RRD_S, T_RRD_L, T_FAW, T_WTR_S, T_WTR_L, T_RFC, T_REFI = 9, 10, 11, 12, 13, 14, 15, 16, 17
TIMING_FIELDS = ("cl", "cwl", "bl", "rcd", "rp", "ras", "rc", "rtp", "wr", "ccd_s", "ccd_l", "rrd_s", "rrd_l",
                 "faw", "wtr_s", "wtr_l", "rfc", "refi")
# Geometry vector indices.
G_CHANNELS, G_RANKS, G_GROUPS, G_BANKS, G_QUEUE, G_HIGH, G_LOW = 0, 1, 2, 3, 4, 5, 6
# Commands (columns of the earliest-cycle tables and of the command counts).
ACT, PRE, RD, WR, REF = 0, 1, 2, 3, 4
COMMANDS = ("act", "pre", "rd", "wr", "ref")
NEVER = np.int64(1) << 62

# Scalar state slots: the controller clock (next cycle a command may issue anywhere).
S_CLOCK = 0


def new_state(geometry: np.ndarray, timing: np.ndarray) -> tuple:
    """Zeroed controller state for `geometry`: bank / bank-group / rank / channel tables, kept between calls."""
    channels, ranks, groups, banks = (int(geometry[i]) for i in (G_CHANNELS, G_RANKS, G_GROUPS, G_BANKS))
    n_ranks = channels * ranks
    n_groups = n_ranks * groups
    n_banks = n_groups * banks
    open_row = np.full(n_banks, -1, dtype=np.int64)
    bank_ok = np.zeros((n_banks, 5), dtype=np.int64)
    group_ok = np.zeros((n_groups, 5), dtype=np.int64)
    rank_ok = np.zeros((n_ranks, 5), dtype=np.int64)
    channel_ok = np.zeros((channels, 5), dtype=np.int64)
    faw = np.full((n_ranks, 4), -NEVER, dtype=np.int64)  # the rank's last four ACT cycles, a ring
    refresh_due = np.full(n_ranks, int(timing[T_REFI]), dtype=np.int64)
    flags = np.zeros(channels + n_ranks, dtype=np.int64)  # write mode per channel, refresh pending per rank
    scalars = np.zeros(2, dtype=np.int64)
    return open_row, bank_ok, group_ok, rank_ok, channel_ok, faw, refresh_due, flags, scalars


@njit(cache=True, inline="always")
def _earliest_in(command, bank, group, rank, channel, bank_ok, group_ok, rank_ok, channel_ok, faw, T, faw_slot):
    """The earliest legal cycle of `command` at `bank`, its bank group, rank and channel given (no divisions)."""
    t = bank_ok[bank, command]
    if group_ok[group, command] > t:
        t = group_ok[group, command]
    if rank_ok[rank, command] > t:
        t = rank_ok[rank, command]
    if channel_ok[channel, command] > t:
        t = channel_ok[channel, command]
    if command == ACT:
        oldest = faw[rank, faw_slot[rank]] + T[T_FAW]
        if oldest > t:
            t = oldest
    return t


@njit(cache=True, inline="always")
def _earliest(command, bank, groups, banks, ranks, open_row, bank_ok, group_ok, rank_ok, channel_ok, faw, T,
              faw_slot):
    group = bank // banks
    rank = group // groups
    return _earliest_in(command, bank, group, rank, rank // ranks, bank_ok, group_ok, rank_ok, channel_ok, faw, T,
                        faw_slot)


@njit(cache=True, inline="always")
def _later(table, row, column, value):
    if value > table[row, column]:
        table[row, column] = value


@njit(cache=True)
def _issue(command, bank, now, groups, banks, ranks, open_row, bank_ok, group_ok, rank_ok, channel_ok, faw, T,
           faw_slot, row):
    group = bank // banks
    rank = group // groups
    channel = rank // ranks
    if command == ACT:
        open_row[bank] = row
        _later(bank_ok, bank, ACT, now + T[T_RC])
        _later(bank_ok, bank, RD, now + T[T_RCD])
        _later(bank_ok, bank, WR, now + T[T_RCD])
        _later(bank_ok, bank, PRE, now + T[T_RAS])
        _later(group_ok, group, ACT, now + T[T_RRD_L])
        _later(rank_ok, rank, ACT, now + T[T_RRD_S])
        _later(rank_ok, rank, REF, now + T[T_RC])
        faw[rank, faw_slot[rank]] = now
        faw_slot[rank] = (faw_slot[rank] + 1) % 4
    elif command == PRE:
        open_row[bank] = -1
        _later(bank_ok, bank, ACT, now + T[T_RP])
        _later(rank_ok, rank, REF, now + T[T_RP])
    elif command == RD:
        read_to_write = T[T_CL] + T[T_BL] + 2 - T[T_CWL]
        _later(bank_ok, bank, PRE, now + T[T_RTP])
        _later(group_ok, group, RD, now + T[T_CCD_L])
        _later(group_ok, group, WR, now + read_to_write)
        _later(rank_ok, rank, RD, now + T[T_CCD_S])
        _later(rank_ok, rank, WR, now + read_to_write)
        _later(channel_ok, channel, RD, now + T[T_BL])
        _later(channel_ok, channel, WR, now + read_to_write)
    elif command == WR:
        _later(bank_ok, bank, PRE, now + T[T_CWL] + T[T_BL] + T[T_WR])
        _later(group_ok, group, WR, now + T[T_CCD_L])
        _later(group_ok, group, RD, now + T[T_CWL] + T[T_BL] + T[T_WTR_L])
        _later(rank_ok, rank, WR, now + T[T_CCD_S])
        _later(rank_ok, rank, RD, now + T[T_CWL] + T[T_BL] + T[T_WTR_S])
        _later(channel_ok, channel, WR, now + T[T_BL])


@njit(cache=True)
def _refresh_step(c, now, channels, ranks, groups, banks, queue, size, t_bank, open_row, bank_ok, group_ok, rank_ok,
                  channel_ok, faw, T, faw_slot, flags, counts, command_bus, bank_rank, wake_box):
    """A due all-bank refresh of channel `c`'s first pending rank: issue its PREA or REF if legal at `now` (then the
    command bus is busy until now + 1), else set wake_box[0] to when it may. Returns whether a refresh is pending
    (which blocks the channel's queues)."""
    wake_box[0] = NEVER
    for rr in range(ranks):
        r = c * ranks + rr
        if flags[channels + r] == 0:
            continue
        first = r * groups * banks
        any_open = False
        at = rank_ok[r, REF]
        for b in range(first, first + groups * banks):
            if open_row[b] >= 0:
                any_open = True
        if any_open:
            at = 0
            for b in range(first, first + groups * banks):
                if open_row[b] >= 0 and bank_ok[b, PRE] > at:
                    at = bank_ok[b, PRE]
            # PREA may not close a row an active request still needs.
            for k in range(size[c, 2]):
                if bank_rank[t_bank[queue[c * 3 + 2, k]]] == r:
                    at = NEVER
        if at <= now:
            if any_open:
                for b in range(first, first + groups * banks):
                    if open_row[b] >= 0:
                        _issue(PRE, b, now, groups, banks, ranks, open_row, bank_ok, group_ok, rank_ok, channel_ok,
                               faw, T, faw_slot, -1)
                counts[c, PRE] += 1
            else:
                for b in range(first, first + groups * banks):
                    _later(bank_ok, b, ACT, now + T[T_RFC])
                _later(rank_ok, r, ACT, now + T[T_RFC])
                _later(rank_ok, r, REF, now + T[T_RFC])
                flags[channels + r] = 0
                counts[c, REF] += 1
            command_bus[c] = now + 1
        else:
            wake_box[0] = at
        return True
    return False


def scratch_shapes(G, n_banks: int) -> tuple:
    """Shapes of run_controller's scratch arrays (queue, size, command_bus, faw_slot, rank_bound, bank_group,
    bank_rank, wake_box) for geometry G; the queue is (channels x 3 queues, slots)."""
    channels, ranks, depth = int(G[G_CHANNELS]), int(G[G_RANKS]), int(G[G_QUEUE])
    n_ranks = channels * ranks
    return ((channels * 3, depth * 2 + n_banks + 1), (channels, 3), (channels,), (n_ranks,),
            (n_ranks, 4), (n_banks,), (n_banks,), (1,))


def new_scratch(G, n_banks: int) -> tuple:
    """Scratch arrays for run_controller_into: all but bank_group and bank_rank (each bank's bank group and rank,
    filled here once) are set by every call."""
    scratch = tuple(np.zeros(shape, dtype=np.int64) for shape in scratch_shapes(G, n_banks))
    scratch[5][:] = np.arange(n_banks) // int(G[G_BANKS])
    scratch[6][:] = scratch[5] // int(G[G_GROUPS])
    return scratch


@njit(cache=True)
def run_controller(t_write, t_channel, t_bank, t_row, t_arrive, T, G, open_row, bank_ok, group_ok, rank_ok,
                   channel_ok, faw, refresh_due, flags, scalars, done, missed, counts):
    """Serve every transaction (arrays in arrival order; banks are global indices) from the state left by the last
    call; fills done[i] (completion cycle), missed[i] (an ACT was issued for it) and counts[channel, command].
    Returns the cycle after the last command issued (where the next call's clock resumes)."""
    channels, ranks, groups, banks = G[G_CHANNELS], G[G_RANKS], G[G_GROUPS], G[G_BANKS]
    n_ranks = channels * ranks
    n_banks = open_row.shape[0]
    queue = np.empty((channels * 3, G[G_QUEUE] * 2 + n_banks + 1), dtype=np.int64)
    bank_group = np.arange(n_banks) // banks
    return run_controller_into(t_write, t_channel, t_bank, t_row, t_arrive, T, G, open_row, bank_ok, group_ok,
                               rank_ok, channel_ok, faw, refresh_due, flags, scalars, done, missed, counts, queue,
                               np.zeros((channels, 3), dtype=np.int64), np.zeros(channels, dtype=np.int64),
                               np.zeros(n_ranks, dtype=np.int64), np.zeros((n_ranks, 4), dtype=np.int64),
                               bank_group, bank_group // groups, np.zeros(1, dtype=np.int64))


@njit(cache=True)
def run_controller_into(t_write, t_channel, t_bank, t_row, t_arrive, T, G, open_row, bank_ok, group_ok, rank_ok,
                        channel_ok, faw, refresh_due, flags, scalars, done, missed, counts, queue, size, command_bus,
                        faw_slot, rank_bound, bank_group, bank_rank, wake_box):
    """run_controller with its scratch arrays given (new_scratch), so a caller per request allocates nothing;
    queue row c * 3 + q is channel c's queue q (0 read, 1 write, 2 active); bank_group and bank_rank are read."""
    n = t_write.shape[0]
    channels, ranks, groups, banks = G[G_CHANNELS], G[G_RANKS], G[G_GROUPS], G[G_BANKS]
    depth, high, low = G[G_QUEUE], G[G_HIGH], G[G_LOW]
    n_ranks = channels * ranks
    # Queues per channel: 0 read, 1 write, 2 active; entries are transaction indices in arrival order.
    for c in range(channels):
        for q in range(3):
            size[c, q] = 0
    # The FAW ring's oldest entry is the one the next ACT overwrites: recover the slot from the stored times.
    for r in range(n_ranks):
        oldest = 0
        for k in range(1, 4):
            if faw[r, k] < faw[r, oldest]:
                oldest = k
        faw_slot[r] = oldest
    now = scalars[S_CLOCK]
    if n > 0 and t_arrive[0] > now:
        now = t_arrive[0]
    # Refreshes due while the controller sat idle were issued then: close the rows, keep the last one's tRFC.
    for r in range(n_ranks):
        c = r // ranks
        if flags[channels + r] and refresh_due[r] >= now and now - scalars[S_CLOCK] >= T[T_RP] + T[T_RFC]:
            # A refresh left pending by the last call had the idle time to complete.
            first = r * groups * banks
            for b in range(first, first + groups * banks):
                if open_row[b] >= 0:
                    open_row[b] = -1
            counts[c, PRE] += 1
            counts[c, REF] += 1
            flags[channels + r] = 0
        if refresh_due[r] >= now:
            continue
        first = r * groups * banks
        last_due = refresh_due[r]
        while refresh_due[r] < now:
            last_due = refresh_due[r]
            refresh_due[r] += T[T_REFI]
            counts[c, REF] += 1
        closing = False
        for b in range(first, first + groups * banks):
            if open_row[b] >= 0:
                closing = True
                open_row[b] = -1
        if closing:
            counts[c, PRE] += 1
        ready = last_due + T[T_RP] + T[T_RFC]
        for b in range(first, first + groups * banks):
            _later(bank_ok, b, ACT, ready)
        _later(rank_ok, r, ACT, ready)
        _later(rank_ok, r, REF, ready)
        flags[channels + r] = 0
    for c in range(channels):
        command_bus[c] = now
    next_in = 0
    finished = 0
    last_issue = scalars[S_CLOCK] - 1
    while finished < n:
        # Arrivals, in order, while their queue has room.
        while next_in < n and t_arrive[next_in] <= now:
            c = t_channel[next_in]
            kind = 1 if t_write[next_in] else 0
            if size[c, kind] >= depth:
                break
            queue[c * 3 + kind, size[c, kind]] = next_in
            size[c, kind] += 1
            next_in += 1
        wake = NEVER
        if next_in < n and t_arrive[next_in] > now:
            wake = t_arrive[next_in]
        for r in range(n_ranks):
            if now >= refresh_due[r]:
                flags[channels + r] = 1
                refresh_due[r] += T[T_REFI]
            if refresh_due[r] < wake:
                wake = refresh_due[r]
        for c in range(channels):
            if command_bus[c] > now:
                if command_bus[c] < wake:
                    wake = command_bus[c]
                continue
            # 1. Requests whose row this controller opened for them (the active list); 2. a due refresh, which
            # blocks the queues until its PREA and REF have issued; 3. the read queue, or the write queue in write
            # mode. One first-ready FCFS scan serves 1 and 3.
            which = 2
            chosen = -1
            chosen_command = -1
            # What the rank and channel allow each command (and the FAW window an ACT): the same for every request
            # of the rank this cycle, so it is taken once; per request only the bank and bank group are looked up.
            for r in range(c * ranks, (c + 1) * ranks):
                for cmd in range(4):
                    bound = rank_ok[r, cmd]
                    if channel_ok[c, cmd] > bound:
                        bound = channel_ok[c, cmd]
                    rank_bound[r, cmd] = bound
                window = faw[r, faw_slot[r]] + T[T_FAW]
                if window > rank_bound[r, ACT]:
                    rank_bound[r, ACT] = window
            while True:
                last_bank, last_cmd = -1, -1
                for k in range(size[c, which]):
                    tx = queue[c * 3 + which, k]
                    bank = t_bank[tx]
                    held = open_row[bank]
                    cmd = (RD + t_write[tx]) if held == t_row[tx] else (PRE if held >= 0 else ACT)
                    if bank == last_bank and cmd == last_cmd:
                        continue  # the same command at the same bank as the request before: not ready either
                    last_bank, last_cmd = bank, cmd
                    at = max(bank_ok[bank, cmd], group_ok[bank_group[bank], cmd], rank_bound[bank_rank[bank], cmd])
                    if at <= now:
                        chosen, chosen_command = k, cmd
                        break  # the oldest ready request wins
                    if at < wake:
                        wake = at  # a lower bound is enough: a cycle in which nothing can issue changes nothing
                if chosen >= 0 or which != 2:
                    break
                pending = False
                for r in range(c * ranks, (c + 1) * ranks):
                    if flags[channels + r]:
                        pending = True
                if pending and _refresh_step(c, now, channels, ranks, groups, banks, queue, size, t_bank, open_row, bank_ok,
                                 group_ok, rank_ok, channel_ok, faw, T, faw_slot, flags, counts, command_bus,
                                 bank_rank, wake_box):
                    which = -1  # blocked by a refresh
                    if wake_box[0] < wake:
                        wake = wake_box[0]
                    if command_bus[c] == now + 1:
                        last_issue = now
                    break
                if flags[c] == 0:
                    if size[c, 1] > high or size[c, 0] == 0:
                        flags[c] = 1
                elif (size[c, 1] < low or size[c, 1] == 0) and size[c, 0] != 0:
                    flags[c] = 0  # an empty write queue ends the drain too (a low watermark of 0)
                which = 1 if flags[c] else 0
            if which < 0:
                if command_bus[c] > now and command_bus[c] < wake:
                    wake = command_bus[c]
                continue
            chosen_from = which
            if chosen >= 0 and chosen_command == PRE and which != 2:
                # A PRE may not close the row of an active request.
                bank = t_bank[queue[c * 3 + which, chosen]]
                for k in range(size[c, 2]):
                    if t_bank[queue[c * 3 + 2, k]] == bank:
                        chosen = -1
            chosen_bank = t_bank[queue[c * 3 + which, chosen]] if chosen >= 0 else -1
            if chosen < 0:
                continue
            tx = queue[c * 3 + chosen_from, chosen]
            _issue(chosen_command, chosen_bank, now, groups, banks, ranks, open_row, bank_ok, group_ok, rank_ok,
                   channel_ok, faw, T, faw_slot, t_row[tx])
            counts[c, chosen_command] += 1
            command_bus[c] = now + 1
            last_issue = now
            if chosen_command == RD or chosen_command == WR:
                done[tx] = now + (T[T_CL] if chosen_command == RD else T[T_CWL]) + T[T_BL]
                finished += 1
                remove = True
            elif chosen_command == ACT:
                missed[tx] = True
                remove = chosen_from != 2
                if remove:
                    queue[c * 3 + 2, size[c, 2]] = tx
                    size[c, 2] += 1
            else:
                remove = False
            if remove:
                for k in range(chosen, size[c, chosen_from] - 1):
                    queue[c * 3 + chosen_from, k] = queue[c * 3 + chosen_from, k + 1]
                size[c, chosen_from] -= 1
        step = now + 1
        for c in range(channels):
            if command_bus[c] == now + 1:
                wake = step  # a command issued: the next cycle may issue again
        if wake <= now:
            wake = step
        now = wake
    scalars[S_CLOCK] = last_issue + 1
    return last_issue + 1


def pack(arrays: tuple) -> tuple[list, np.ndarray, np.ndarray]:
    """One int64 buffer holding copies of `arrays` (1-D, or 2-D tables), views of it shaped as each, and its layout
    for `serve_request_packed`: the start of each array and the end, then each one's column count (0: 1-D)."""
    sizes = [a.size for a in arrays]
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    buffer = np.concatenate([np.asarray(a, dtype=np.int64).ravel() for a in arrays])
    views = [buffer[starts[i]:starts[i + 1]].reshape(a.shape) for i, a in enumerate(arrays)]
    columns = np.array([a.shape[1] if a.ndim == 2 else 0 for a in arrays], dtype=np.int64)
    return views, buffer, np.concatenate((starts, columns))


@njit(cache=True, inline="always")
def _flat(buffer, layout, i):
    return buffer[layout[i]:layout[i + 1]]


@njit(cache=True, inline="always")
def _table(buffer, layout, i, count):
    columns = layout[count + 1 + i]
    return buffer[layout[i]:layout[i + 1]].reshape(((layout[i + 1] - layout[i]) // columns, columns))


# Arrays of serve_request in a packed buffer, in this order: the controller's (field_kind .. totals), then scratch.
PACKED_STATE = 15
# Scratch of serve_request: per transaction (lines, channel, bank, row, kinds, arrivals, done, missed; `exact`
# long), the address parts (6), then run_controller_into's (scratch_shapes).
PACKED_SCRATCH = 17


@njit(cache=True)
def serve_request_packed(write, first_line, n, arrive, exact, steady, buffer, layout):
    """`serve_request` with its arrays and scratch in one buffer (`pack`: PACKED_STATE arrays in serve_request's
    argument order, then PACKED_SCRATCH scratch arrays)."""
    k = PACKED_STATE + PACKED_SCRATCH
    return serve_request_into(
        write, first_line, n, arrive, exact, steady, _flat(buffer, layout, 0), _flat(buffer, layout, 1),
        _flat(buffer, layout, 2), _flat(buffer, layout, 3), _flat(buffer, layout, 4), _table(buffer, layout, 5, k),
        _table(buffer, layout, 6, k), _table(buffer, layout, 7, k), _table(buffer, layout, 8, k),
        _table(buffer, layout, 9, k), _flat(buffer, layout, 10), _flat(buffer, layout, 11), _flat(buffer, layout, 12),
        _table(buffer, layout, 13, k), _flat(buffer, layout, 14),
        _flat(buffer, layout, 15), _flat(buffer, layout, 16), _flat(buffer, layout, 17), _flat(buffer, layout, 18),
        _flat(buffer, layout, 19), _flat(buffer, layout, 20), _flat(buffer, layout, 21), _flat(buffer, layout, 22),
        _flat(buffer, layout, 23), _table(buffer, layout, 24, k), _table(buffer, layout, 25, k),
        _flat(buffer, layout, 26), _flat(buffer, layout, 27), _table(buffer, layout, 28, k), _flat(buffer, layout, 29),
        _flat(buffer, layout, 30), _flat(buffer, layout, 31))


@njit(cache=True)
def shift_state(delta, bank_ok, group_ok, rank_ok, channel_ok, faw, scalars):
    """Move every recorded constraint and the clock `delta` cycles later (a stretch of steady streaming skipped)."""
    for table in (bank_ok, group_ok, rank_ok, channel_ok):
        for i in range(table.shape[0]):
            for j in range(table.shape[1]):
                table[i, j] += delta
    for i in range(faw.shape[0]):
        for j in range(faw.shape[1]):
            faw[i, j] += delta
    scalars[S_CLOCK] += delta


# Address field codes (field_kind): the fields of a transaction index from its lowest bits up.
F_CHANNEL, F_RANK, F_GROUP, F_BANK, F_COLUMN, F_ROW = 0, 1, 2, 3, 4, 5
FIELD_CODES = {"channel": F_CHANNEL, "rank": F_RANK, "bankgroup": F_GROUP, "bank": F_BANK, "column": F_COLUMN,
               "row": F_ROW}


@njit(cache=True)
def decompose(lines, field_kind, field_bits, G, out_channel, out_bank, out_row):
    """Channel, global bank and row of each transaction index (address / transaction bytes)."""
    decompose_into(lines, field_kind, field_bits, G, out_channel, out_bank, out_row, np.zeros(6, dtype=np.int64))


@njit(cache=True)
def decompose_into(lines, field_kind, field_bits, G, out_channel, out_bank, out_row, parts):
    """decompose with its scratch (6 address parts) given."""
    for i in range(lines.shape[0]):
        rest = lines[i]
        for f in range(field_kind.shape[0]):
            bits = field_bits[f]
            if bits < 0:  # the highest field: everything left
                parts[field_kind[f]] = rest
            else:
                parts[field_kind[f]] = rest & ((np.int64(1) << bits) - 1)
                rest = rest >> bits
        out_channel[i] = parts[F_CHANNEL]
        out_row[i] = parts[F_ROW]
        out_bank[i] = ((parts[F_CHANNEL] * G[G_RANKS] + parts[F_RANK]) * G[G_GROUPS] + parts[F_GROUP]) * G[G_BANKS] \
            + parts[F_BANK]


@njit(cache=True)
def serve_request(write, first_line, n, arrive, exact, steady, field_kind, field_bits, T, G, open_row, bank_ok,
                  group_ok, rank_ok, channel_ok, faw, refresh_due, flags, scalars, counts, totals):
    """serve_request_into with fresh scratch (see there)."""
    per = [np.zeros(exact, dtype=np.int64) for _ in range(8)]
    n_banks = open_row.shape[0]
    channels, n_ranks = G[G_CHANNELS], G[G_CHANNELS] * G[G_RANKS]
    return serve_request_into(write, first_line, n, arrive, exact, steady, field_kind, field_bits, T, G, open_row,
                              bank_ok, group_ok, rank_ok, channel_ok, faw, refresh_due, flags, scalars, counts, totals,
                              per[0], per[1], per[2], per[3], per[4], per[5], per[6], per[7],
                              np.zeros(6, dtype=np.int64),
                              np.zeros((channels * 3, G[G_QUEUE] * 2 + n_banks + 1), dtype=np.int64),
                              np.zeros((channels, 3), dtype=np.int64), np.zeros(channels, dtype=np.int64),
                              np.zeros(n_ranks, dtype=np.int64), np.zeros((n_ranks, 4), dtype=np.int64),
                              np.arange(n_banks) // G[G_BANKS], np.arange(n_banks) // G[G_BANKS] // G[G_GROUPS],
                              np.zeros(1, dtype=np.int64))


@njit(cache=True)
def serve_request_into(write, first_line, n, arrive, exact, steady, field_kind, field_bits, T, G, open_row, bank_ok,
                       group_ok, rank_ok, channel_ok, faw, refresh_due, flags, scalars, counts, totals,
                       s_lines, s_channel, s_bank, s_row, s_kinds, s_arrivals, s_done, s_missed, s_parts,
                       queue, size, command_bus, faw_slot, rank_bound, bank_group, bank_rank, wake_box):
    """One contiguous request of `n` transactions from transaction index `first_line`, all arriving at `arrive`:
    the first `exact` through the controller, the rest at `steady` tCK each (refresh apart: tRFC + tRP for each
    tREFI crossed), the state moved past them. Adds to totals [transactions, row hits, latest completion];
    returns (completion of the last transaction, work: the stretch from its start to the cycle after its last
    command, latency: from there to the completion, row hits, transactions)."""
    start = scalars[S_CLOCK] if scalars[S_CLOCK] > arrive else arrive
    m = n if n < exact else exact
    lines, channel, bank, row = s_lines[:m], s_channel[:m], s_bank[:m], s_row[:m]
    kinds, arrivals, done, missed = s_kinds[:m], s_arrivals[:m], s_done[:m], s_missed[:m]
    for i in range(m):
        lines[i] = first_line + i
        kinds[i] = 1 if write else 0
        arrivals[i] = arrive
        done[i] = 0
        missed[i] = 0
    decompose_into(lines, field_kind, field_bits, G, channel, bank, row, s_parts)
    run_controller_into(kinds, channel, bank, row, arrivals, T, G, open_row, bank_ok, group_ok, rank_ok, channel_ok,
                        faw, refresh_due, flags, scalars, done, missed, counts, queue, size, command_bus, faw_slot,
                        rank_bound, bank_group, bank_rank, wake_box)
    finish = done.max()
    hits = m - missed.sum()
    rest = n - m
    if rest > 0:
        delta = steady * rest
        clock = scalars[S_CLOCK]
        refreshes = 0
        while refresh_due[0] <= clock + delta:
            for r in range(refresh_due.shape[0]):
                refresh_due[r] += T[T_REFI]
            delta += T[T_RFC] + T[T_RP]
            refreshes += 1
        shift = np.int64(np.ceil(delta))
        shift_state(shift, bank_ok, group_ok, rank_ok, channel_ok, faw, scalars)
        columns = np.int64(1) << field_bits[0] if field_kind[0] == F_COLUMN else 1
        for f in range(field_kind.shape[0]):
            if field_kind[f] == F_COLUMN:
                columns = np.int64(1) << field_bits[f]
        rows = (rest + columns - 1) // columns
        counts[0, WR if write else RD] += rest
        counts[0, ACT] += rows
        counts[0, PRE] += rows + refreshes
        counts[0, REF] += refreshes * refresh_due.shape[0]
        hits += rest - rows
        finish += shift
    totals[0] += n
    totals[1] += hits
    if finish > totals[2]:
        totals[2] = finish
    return finish, scalars[S_CLOCK] - start, finish - scalars[S_CLOCK], hits, n
