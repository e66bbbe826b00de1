"""maestro.csv: MAESTRO's own per-layer CSV (header text and column order as MAESTRO prints them).

Values come from each LayerResult's `extra` (the directive model stores MAESTRO's statistics under MAESTRO's
column names). Columns this simulator does not model (MAESTRO's area and power figures from its own cost
tables) are left empty rather than invented. MAESTRO's header names two columns "Compute Delay (Min)"; the
second holds the maximum, which `extra` keys as "Compute Delay (Max)".
"""
from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterable, Mapping

from sim.records import LayerResult
from sim.report.files import atomic_file

# MAESTRO's header, verbatim (spaces included), as its --print_res_csv_file output writes it.
MAESTRO_HEADER = (
    "Neural Network Name, Layer Number, NumPEs, Runtime (Cycles), Activity count-based Energy (nJ), "
    "Throughput (MACs/Cycle), Throughput Per Energy (GMACs/s*J), Area, Power, NoC BW Req (Elements/cycle), "
    "Avg BW Req, Peak BW Req, Vector Width, Offchip BW Req (Elements/cycle),  L2 SRAM Size Req (Bytes), "
    "L1 SRAM Size Req (Bytes), Multicasting Factor (Weight), Multicasting Factor (Input), Num Total Input Pixels, "
    "Num Total Weight Pixels, Ops/J, Num MACs, PE power, L1 power, L2 power, NOC power, input l1 read, "
    "input l1 write, input l2 read, input l2 write, input reuse factor,filter l1 read, filter l1 write, "
    "filter l2 read, filter l2 write, filter reuse factor,output l1 read, output l1 write, output l2 read, "
    "output l2 write, output reuse factor,Ingress Delay (Min), Ingress Delay (Max), Ingress Delay (Avg), "
    "Egress Delay (Min), Egress Delay (Max),  Egress Delay (Avg),Compute Delay (Min), Compute Delay (Min), "
    "Compute Delay (Avg),Avg number of utilized PEs, Arithmetic Intensity"
)
COLUMNS: tuple[str, ...] = tuple(name.strip() for name in MAESTRO_HEADER.split(","))
# Column index -> the `extra` key holding it where the header's name is not that key.
_RENAMED = {COLUMNS.index("Compute Delay (Min)") + 1: "Compute Delay (Max)"}
_NOT_MODELLED = ("Area", "Power", "PE power", "L1 power", "L2 power", "NOC power")


def _format(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def maestro_row(result: LayerResult, network: str = "") -> list[str]:
    """One layer's MAESTRO row; derived columns (throughput per energy, Ops/J) are computed here."""
    extra: Mapping[str, float] = dict(result.extra)
    energy_nj = extra.get("Activity count-based Energy (nJ)", result.energy.total_pj / 1000.0)
    runtime = extra.get("Runtime (Cycles)", result.cycles)
    macs = extra.get("Num MACs", result.macs)
    derived = {
        "Activity count-based Energy (nJ)": energy_nj,
        # MAESTRO's units: MACs per second per joule at 1 GHz, reported in G; Ops/J counts a MAC as 2 ops.
        "Throughput Per Energy (GMACs/s*J)": (macs / runtime) / (energy_nj * 1e-9) if runtime and energy_nj else 0.0,
        "Ops/J": 2 * macs / (energy_nj * 1e-9) if energy_nj else 0.0,
    }
    row = [network, result.name]
    for index, column in enumerate(COLUMNS[2:], start=2):
        key = _RENAMED.get(index, column)
        if column in _NOT_MODELLED:
            row.append("")
        elif key in derived:
            row.append(_format(derived[key]))
        elif key in extra:
            row.append(_format(extra[key]))
        else:
            row.append("")
    return row


def write_maestro_csv(results: Iterable[LayerResult], path: str | Path, network: str = "") -> Path:
    """Write MAESTRO's CSV for directive-mapped layers (others are skipped); returns the path written."""
    path = Path(path)
    rows = [maestro_row(result, network) for result in results if "Num MACs" in dict(result.extra)]
    with atomic_file(path, newline="") as handle:
        handle.write(MAESTRO_HEADER + "\n")
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerows(rows)
    return path
