"""Open-row bookkeeping of a banked DRAM for one request over consecutive rows (sim.engine.dram.BankRowBufferDram).

Rows are interleaved over banks (row r in bank r % banks); `open_rows[bank]` is the row open in that bank, -1 when
none. A request for rows first..last meets each bank's open row with its first `banks` rows (a hit when it is
that row, an empty bank when none is open, else a conflict); every later row finds its bank holding an earlier
row of the same request, which the caller counts as a conflict. Afterwards each touched bank holds the last row
of the request that maps to it.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def open_row_accesses(open_rows: np.ndarray, first_row: int, last_row: int) -> tuple[int, int, int]:
    """(hits, empty banks, conflicts) of the request's first min(rows, banks) rows; updates `open_rows`."""
    banks = open_rows.shape[0]
    rows = last_row - first_row + 1
    hits = empty = conflicts = 0
    for row in range(first_row, first_row + min(rows, banks)):
        open_row = open_rows[row % banks]
        if open_row == row:
            hits += 1
        elif open_row < 0:
            empty += 1
        else:
            conflicts += 1
    for row in range(max(first_row, last_row - banks + 1), last_row + 1):
        open_rows[row % banks] = row
    return hits, empty, conflicts
