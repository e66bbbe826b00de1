"""One entry point for every trace format: pick the reader from the suffix and, for CSV, from the header line."""
from __future__ import annotations

from pathlib import Path

from sim.errors import TraceError
from sim.workload.scalesim_csv import (
    CONV_HEADER,
    GEMM_HEADER,
    load_scalesim_csv,
    read_trace_text,
    sniff_scalesim_form,
    split_rows,
)
from sim.workload.trace import Trace
from sim.workload.trace_csv import is_extended_header, load_trace_csv

TRACE_FORMS: tuple[str, ...] = ("conv", "gemm", "extended", "maestro", "onnx")
_SUPPORTED = (".csv (SCALE-Sim conv or GEMM topology, or our extended trace CSV), .m (MAESTRO), "
              ".onnx (an ONNX model)")


def load_trace(path: str | Path, *, form: str | None = None, batch: int | None = None) -> Trace:
    """The layers of a trace file; Trace.name is the file stem.

    `form` None picks the reader: `.m` -> MAESTRO; `.csv` -> sniff the header (SCALE-Sim conv, SCALE-Sim GEMM,
    or extended); `.onnx` -> ONNX, where `batch` fills an unknown (dynamic) batch dimension. An explicit form ('conv', 'gemm', 'extended', 'maestro', 'onnx') overrides the suffix and the sniffing.
    """
    path = Path(path)
    if form is not None and form not in TRACE_FORMS:
        raise TraceError("unknown trace form", file=path, field="form", value=form, allowed=", ".join(TRACE_FORMS))
    suffix = path.suffix.lower()
    if form is None:
        if suffix == ".m":
            form = "maestro"
        elif suffix == ".onnx":
            form = "onnx"
        elif suffix != ".csv":
            raise TraceError("unsupported trace file type", file=path, value=path.suffix or "(no suffix)",
                             allowed=_SUPPORTED + "; or pass the form explicitly")
    if form in ("maestro", "onnx") and not path.is_file():
        read_trace_text(path)  # the same missing-file TraceError as every other format
    if form == "onnx":
        from sim.workload.onnx_loader import (
            load_onnx_trace,  # lazy: needs the optional onnx package
        )

        return load_onnx_trace(path, batch=batch)
    if form == "maestro":
        from sim.workload.maestro import (
            load_maestro_trace,  # lazy: the MAESTRO parser is a separate module
        )

        return load_maestro_trace(path)
    if form is None:
        form = sniff_csv_form(path)
    if form == "extended":
        return load_trace_csv(path)
    return load_scalesim_csv(path, form=form)


def check_trace(path: str | Path, *, form: str | None = None, batch: int | None = None) -> Trace:
    """Validate a trace file (for `sim check`): the Trace, or the first TraceError with file, line and column."""
    return load_trace(path, form=form, batch=batch)


def sniff_csv_form(path: str | Path) -> str:
    """'conv', 'gemm' or 'extended' from the first non-comment line of a CSV trace."""
    header = next(split_rows(read_trace_text(path)), None)
    if header is None:
        raise TraceError("trace file has only comments, no header line", file=path)
    if is_extended_header(header.cells):
        return "extended"
    form = sniff_scalesim_form(header.cells)
    if form is None:
        raise TraceError("cannot tell the CSV trace format from its header", file=path, line=header.line,
                         value=",".join(header.cells),
                         allowed=f"SCALE-Sim conv '{CONV_HEADER}', SCALE-Sim GEMM '{GEMM_HEADER}', or an extended "
                                 "header with 'name' and 'type' columns (see docs/traces.md)")
    return form
