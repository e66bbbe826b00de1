"""report.json, report.csv, SCALE-Sim-style reports and the bandwidth trace, written atomically.

Every file is first written into a hidden temporary folder inside the output folder and then renamed into
place, report.json last: a run that fails half-way leaves no report.json, so nothing looks complete.
"""
from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path
from typing import Any

from sim.records import LayerResult, RunResult, flatten
from sim.report.files import make_out_dir, replace_into, staging_folder

# Metadata too bulky for report.json: written to its own file instead.
BANDWIDTH_WINDOWS = "bandwidth_windows"
BANDWIDTH_WINDOW_CYCLES = "bandwidth_window_cycles"

COMPUTE_HEADER = ("LayerID", "Total Cycles (incl. prefetch)", "Total Cycles", "Stall Cycles", "Overall Util %",
                  "Mapping Efficiency %", "Compute Util %")
BANDWIDTH_HEADER = ("LayerID", "Avg IFMAP SRAM BW", "Avg FILTER SRAM BW", "Avg OFMAP SRAM BW", "Avg IFMAP DRAM BW",
                    "Avg FILTER DRAM BW", "Avg OFMAP DRAM BW")
# With sparsity SCALE-Sim inserts the metadata column after the filter SRAM column.
METADATA_BW_COLUMN = "Avg FILTER Metadata SRAM BW"
SPARSE_HEADER = ("LayerID", "Sparsity Representation", "Original Filter Storage", "New Storage (Filter+Metadata)",
                 "Filter Metadata Storage", METADATA_BW_COLUMN)
# Beyond SCALE-Sim: appended only when a layer has unstructured weight or activation sparsity (else SCALE-Sim's own).
DENSITY_COLUMNS = ("Weight Density", "IFMAP Density", "Effective MACs")
DETAILED_HEADER = ("LayerID",
                   "SRAM IFMAP Start Cycle", "SRAM IFMAP Stop Cycle", "SRAM IFMAP Reads",
                   "SRAM Filter Start Cycle", "SRAM Filter Stop Cycle", "SRAM Filter Reads",
                   "SRAM OFMAP Start Cycle", "SRAM OFMAP Stop Cycle", "SRAM OFMAP Writes",
                   "DRAM IFMAP Start Cycle", "DRAM IFMAP Stop Cycle", "DRAM IFMAP Reads",
                   "DRAM Filter Start Cycle", "DRAM Filter Stop Cycle", "DRAM Filter Reads",
                   "DRAM OFMAP Start Cycle", "DRAM OFMAP Stop Cycle", "DRAM OFMAP Writes")


def report_dict(run: RunResult) -> dict[str, Any]:
    """report.json's content (DESIGN.md §3), without the bulky bandwidth windows."""
    out = run.to_dict()
    out["metadata"] = {k: v for k, v in out.get("metadata", {}).items() if k != BANDWIDTH_WINDOWS}
    return out


def layer_rows(run: RunResult) -> tuple[list[str], list[dict[str, Any]]]:
    """report.csv: one flat row per layer; columns are the union over layers, in order of first appearance."""
    rows = [flatten(layer.to_dict()) for layer in run.layers]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns), rows


def _scalesim_line(values) -> str:
    # SCALE-Sim 3.0.0 separates with ", " and ends every line with a trailing comma.
    return ", ".join(str(v) for v in values) + ",\n"


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _extra(layer: LayerResult) -> dict[str, float]:
    return dict(layer.extra)


def _prefetch(layer: LayerResult) -> int:
    return int(_extra(layer).get("prefetch_cycles", 0))


def _total_cycles(layer: LayerResult) -> int:
    """SCALE-Sim's Total Cycles: the layer's cycles after the prefetch, or under the scalesim memory convention in
    USER mode compute plus SCALE-Sim's own stalls (sim/engine/scalesim_memory.py)."""
    return int(_extra(layer).get("scalesim.total_cycles", layer.cycles - _prefetch(layer)))


def _sram_ifmap_reads(layer: LayerResult) -> int:
    """SRAM ifmap reads as the reports count them: under the scalesim memory convention SCALE-Sim's (a sparse layer
    streams the dense window padded to whole M-blocks); the LayerResult keeps the reads our array makes."""
    return int(_extra(layer).get("scalesim.sram.ifmap.reads", layer.sram_reads.ifmap))


def _dram_window(layer: LayerResult, operand: str, words: int) -> tuple[int, int, int]:
    """(start, stop, words) of an operand's DRAM activity: SCALE-Sim's under the scalesim memory convention,
    else the whole layer (cycles relative to the layer's start) with the LayerResult's count."""
    extra = _extra(layer)
    if f"scalesim.dram.{operand}.words" not in extra:
        return 0, max(layer.cycles - 1, 0), words
    return tuple(int(extra[f"scalesim.dram.{operand}.{key}"]) for key in ("start", "stop", "words"))


def _dram_windows(layer: LayerResult) -> tuple[tuple[int, int, int], ...]:
    return (_dram_window(layer, "ifmap", layer.dram_reads.ifmap),
            _dram_window(layer, "filter", layer.dram_reads.filter),
            _dram_window(layer, "ofmap", layer.dram_writes.ofmap))


def compute_report_rows(run: RunResult) -> list[tuple]:
    """COMPUTE_REPORT.csv rows. Total Cycles excludes the initial prefetch (as SCALE-Sim); Compute Util % is MACs
    over compute cycles x PEs, or under the scalesim convention SCALE-Sim's own definition (whose ws/is fold
    length is C-1 too long; sim/report/scalesim_windows.py)."""
    rows = []
    for index, layer in enumerate(run.layers):
        total = _total_cycles(layer)
        stall = int(_extra(layer).get("scalesim.stall_cycles", max(total - layer.compute_cycles, 0)))
        pes = run.pes or 1
        # SCALE-Sim's Overall Util counts the dense layer's MACs, also for an N:M-sparse one
        overall = 100.0 * _extra(layer).get("dense_macs", layer.macs) / (total * pes) if total else 0.0
        compute = 100.0 * layer.macs / (layer.compute_cycles * pes) if layer.compute_cycles else 0.0
        compute = _extra(layer).get("scalesim.compute_util_pct", compute)  # SCALE-Sim's own, under its convention
        # SCALE-Sim's: from the first DRAM prefetch to the last ofmap drain (scalesim memory convention)
        incl_prefetch = int(_extra(layer).get("scalesim.total_cycles_incl_prefetch", layer.cycles))
        rows.append((index, incl_prefetch, total, stall, _fmt(overall), _fmt(100.0 * layer.mapping_efficiency),
                     _fmt(compute)))
    return rows


def _sram_ofmap_writes(layer: LayerResult) -> int:
    """SRAM ofmap writes as the reports count them: under the scalesim convention with SCALE-Sim's extra R + C per
    os fold (its issue #166); the LayerResult (and energy) keep the real writes."""
    return layer.sram_writes.ofmap + int(_extra(layer).get("scalesim.sram.ofmap.extra_writes", 0))


def is_sparse_run(run: RunResult) -> bool:
    """True when the run has sparsity extras (a sparse layer or a sparsity-aware array): SCALE-Sim then writes
    SPARSE_REPORT.csv and a metadata column in BANDWIDTH_REPORT.csv."""
    return any("sparsity.metadata_words" in _extra(layer) for layer in run.layers)


def bandwidth_header(run: RunResult) -> tuple[str, ...]:
    if not is_sparse_run(run):
        return BANDWIDTH_HEADER
    return (*BANDWIDTH_HEADER[:3], METADATA_BW_COLUMN, *BANDWIDTH_HEADER[3:])


def _metadata_bw(layer: LayerResult) -> float:
    return _extra(layer).get("sparsity.metadata_sram_reads", 0.0) / max(_total_cycles(layer), 1)


def bandwidth_report_rows(run: RunResult) -> list[tuple]:
    """BANDWIDTH_REPORT.csv rows: average words per cycle, SRAM over the layer's Total Cycles, DRAM over the
    layer's cycles or, under the scalesim memory convention, over each operand's own DRAM window as SCALE-Sim
    does (with the filter metadata column when the run is sparse, see `bandwidth_header`)."""
    sparse = is_sparse_run(run)
    rows = []
    for index, layer in enumerate(run.layers):
        cycles = max(_total_cycles(layer), 1)
        sram = (_sram_ifmap_reads(layer), layer.sram_reads.filter, _sram_ofmap_writes(layer))
        cells = [_fmt(v / cycles) for v in sram]
        if any(f"scalesim.dram.{operand}.words" in _extra(layer) for operand in ("ifmap", "filter", "ofmap")):
            cells += [_fmt(words / (stop - start + 1)) for start, stop, words in _dram_windows(layer)]
        else:
            cells += [_fmt(v / cycles) for v in (layer.dram_reads.ifmap, layer.dram_reads.filter,
                                                 layer.dram_writes.ofmap)]
        if sparse:
            cells.insert(2, _fmt(_metadata_bw(layer)))
        rows.append((index, *cells))
    return rows


def sparse_report_rows(run: RunResult) -> list[tuple]:
    """SPARSE_REPORT.csv rows (sparse runs): representation, dense filter words, stored + metadata words,
    metadata words and the metadata SRAM bandwidth."""
    rows = []
    for index, layer in enumerate(run.layers):
        extra = _extra(layer)
        metadata = extra.get("sparsity.metadata_words", 0.0)
        rows.append((index, run_sparse_representation(run), int(extra.get("sparsity.original_filter_words", 0)),
                     _fmt(extra.get("sparsity.stored_filter_words", 0) + metadata), _fmt(metadata),
                     _fmt(_metadata_bw(layer))))
    if has_density_columns(run):
        rows = [(*row, _fmt(extra.get("sparsity.weight_density", 1.0)), _fmt(extra.get("sparsity.ifmap_density", 1.0)),
                 _fmt(extra.get("effective_macs", layer.macs)))
                for row, layer, extra in ((row, layer, _extra(layer)) for row, layer in zip(rows, run.layers))]
    return rows


def has_density_columns(run: RunResult) -> bool:
    return any("effective_macs" in _extra(layer) for layer in run.layers)


def sparse_header(run: RunResult) -> tuple[str, ...]:
    return SPARSE_HEADER + DENSITY_COLUMNS if has_density_columns(run) else SPARSE_HEADER


def run_sparse_representation(run: RunResult) -> str:
    return str(dict(run.metadata).get("sparse_representation", "ellpack_block"))


def detailed_access_rows(run: RunResult) -> list[tuple]:
    """DETAILED_ACCESS_REPORT.csv rows. SRAM activity spans the compute window (after the prefetch), DRAM the
    whole layer; cycles are relative to the layer's start. Under the scalesim conventions: SCALE-Sim's own
    per-operand windows and counts (sim/report/scalesim_windows.py, sim/engine/scalesim_memory.py)."""
    rows = []
    for index, layer in enumerate(run.layers):
        prefetch = _prefetch(layer)
        extra = _extra(layer)
        compute_end = max(layer.cycles - int(extra.get("drain_cycles", 0)) - 1, prefetch)
        sram = (prefetch, compute_end)
        # under the scalesim convention: SCALE-Sim's own per-operand SRAM windows (sim/report/scalesim_windows.py)
        ifmap_w, filter_w, ofmap_w = (tuple(int(extra.get(f"scalesim.sram.{op}.{end}", default))
                                            for end, default in (("start", sram[0]), ("stop", sram[1])))
                                      for op in ("ifmap", "filter", "ofmap"))
        dram_ifmap, dram_filter, dram_ofmap = _dram_windows(layer)
        rows.append((index,
                     *ifmap_w, _sram_ifmap_reads(layer), *filter_w, layer.sram_reads.filter, *ofmap_w,
                     _sram_ofmap_writes(layer), *dram_ifmap, *dram_filter, *dram_ofmap))
    return rows


def _write_scalesim(path: Path, header: tuple, rows: list[tuple]) -> None:
    with path.open("w") as handle:
        handle.write(_scalesim_line(header))
        for row in rows:
            handle.write(_scalesim_line(row))


def _write_bandwidth_trace(path: Path, run: RunResult) -> bool:
    """bandwidth_trace.csv.gz: per layer and window, DRAM bytes and bytes/cycle (windows with traffic only)."""
    metadata = dict(run.metadata)
    windows = metadata.get(BANDWIDTH_WINDOWS)
    window = int(metadata.get(BANDWIDTH_WINDOW_CYCLES, 0) or 0)
    if not windows or window <= 0:
        return False
    with gzip.open(path, "wt", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["layer", "name", "window_start_cycle", "window_cycles", "dram_bytes", "bytes_per_cycle"])
        for index, (layer, values) in enumerate(zip(run.layers, windows)):
            for w, moved in enumerate(values):
                if moved:
                    writer.writerow([index, layer.name, w * window, window, _fmt(moved), _fmt(moved / window)])
    return True


def write_report(run: RunResult, out_dir: str | Path, *, scalesim_reports: bool = True,
                 bandwidth_trace: bool = True) -> list[Path]:
    """Write report.json and report.csv (and the SCALE-Sim-style reports, the bandwidth trace when the run has
    one) into `out_dir`; returns the paths written. Files appear only once all of them are complete."""
    out = make_out_dir(out_dir)
    with staging_folder(out, ".report-", "cannot write the report") as staging:
        return _write_staged(run, out, staging, scalesim_reports=scalesim_reports, bandwidth_trace=bandwidth_trace)


def _write_staged(run: RunResult, out: Path, staging: Path, *, scalesim_reports: bool,
                  bandwidth_trace: bool) -> list[Path]:
    names: list[str] = []
    columns, rows = layer_rows(run)
    with (staging / "report.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    names.append("report.csv")
    if scalesim_reports:
        _write_scalesim(staging / "COMPUTE_REPORT.csv", COMPUTE_HEADER, compute_report_rows(run))
        _write_scalesim(staging / "BANDWIDTH_REPORT.csv", bandwidth_header(run), bandwidth_report_rows(run))
        _write_scalesim(staging / "DETAILED_ACCESS_REPORT.csv", DETAILED_HEADER, detailed_access_rows(run))
        names += ["COMPUTE_REPORT.csv", "BANDWIDTH_REPORT.csv", "DETAILED_ACCESS_REPORT.csv"]
        if is_sparse_run(run):
            _write_scalesim(staging / "SPARSE_REPORT.csv", sparse_header(run), sparse_report_rows(run))
            names.append("SPARSE_REPORT.csv")
    if bandwidth_trace and _write_bandwidth_trace(staging / "bandwidth_trace.csv.gz", run):
        names.append("bandwidth_trace.csv.gz")
    with (staging / "report.json").open("w") as handle:
        json.dump(_finite(report_dict(run)), handle, indent=1, sort_keys=False, default=_json_default,
                  allow_nan=False)
        handle.write("\n")
    names.append("report.json")  # last: its presence marks a complete report
    if (out / "report.json").exists():
        (out / "report.json").unlink()  # an old complete marker must not outlive a half-replaced set
    for name in names:
        replace_into(staging / name, out / name)
    return [out / name for name in names]


def _finite(value: Any) -> Any:
    """Strict JSON has no Infinity/NaN: an unlimited quantity (e.g. CALC-mode DRAM bandwidth) is written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(inner) for key, inner in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(inner) for inner in value]
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return str(value)
