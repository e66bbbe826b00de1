"""SCALE-Sim topology CSV: read (conv and GEMM forms) and write, plus the line reader our CSV formats share.

Reading follows SCALE-Sim 3.0.0's meaning of each column (see docs/traces.md):

- conv form `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,`:
  ifmap sizes are already padded and one stride serves both axes. SCALE-Sim's output size is
  ceil((H - R + S) / S); a Layer computes floor((H + pad - R) / S) + 1, so we set
  pad_bottom / pad_right = (-(H - R)) % S, which makes the two equal for every shape.
- a row whose name contains `DP` is depthwise: SCALE-Sim expands it into `Channels` one-channel layers with
  `Num Filter` filters each; we load it as one Layer with groups = in_channels = Channels and
  out_channels = Channels * Num Filter (the same MACs, cycles semantics per group).
- GEMM form `Layer, M, N, K,`: M output rows, K reduction, N output columns -> `Layer.gemm_layer`.
- every operand is SCALE-Sim's 1-byte word: ifmap, filter and ofmap bits are 8 (our default ofmap is 32).
- an optional last column `N:M` is SCALE-Sim's structured weight sparsity (Layer.sparsity_n / sparsity_m;
  any `n:n` is dense and read as 1:1).

We are stricter-but-kinder than SCALE-Sim: rows without the trailing comma are accepted, blank lines and
lines starting with `#` are skipped, and every error names the file, line, column, value and what is allowed.
The writer always writes SCALE-Sim's exact format (header, `, ` separators, trailing comma).
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from sim.errors import TraceError
from sim.inputs import MAX_INTEGER_DIGITS, MAX_TRACE_BYTES
from sim.inputs import read_text as read_input_text
from sim.workload.layer import MAX_SPARSITY_M, Layer
from sim.workload.trace import Trace

SCALESIM_FORMS: tuple[str, ...] = ("conv", "gemm")

CONV_COLUMNS: tuple[str, ...] = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                                 "Channels", "Num Filter", "Strides")
GEMM_COLUMNS: tuple[str, ...] = ("Layer", "M", "N", "K")
SPARSITY_COLUMN = "N:M sparsity"

CONV_HEADER = ", ".join(CONV_COLUMNS) + ","
GEMM_HEADER = ", ".join(GEMM_COLUMNS) + ","

_INTEGER = re.compile(r"[+-]?[0-9]+")
_RATIO = re.compile(r"([0-9]+)\s*:\s*([0-9]+)")
# SCALE-Sim's word is 1 byte for every operand, ofmap (and the partial sums it writes out) included.
SCALESIM_BITS = {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 8}
# Precisions the writer accepts: SCALE-Sim's own words, or our defaults (SCALE-Sim then counts 1-byte outputs).
_WRITABLE_BITS = (SCALESIM_BITS, {"ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 32})


# ---------------------------------------------------------------------------------------------- shared reading
@dataclass(frozen=True)
class CsvRow:
    """One data line of a CSV trace: its 1-based line number and its stripped cells."""

    line: int
    cells: tuple[str, ...]


def read_trace_text(path: str | Path) -> str:
    """The text of a trace file, or TraceError for a missing, unreadable, non-regular, oversized, non-UTF-8 or
    empty file (bounded before anything is parsed: sim.inputs)."""
    text = read_input_text(path, TraceError, limit=MAX_TRACE_BYTES, what="trace file")
    if not text.strip():
        raise TraceError("trace file is empty", file=path)
    return text


def split_rows(text: str) -> Iterator[CsvRow]:
    """Non-blank, non-comment lines split on commas, cells stripped. No quoting: names may not contain commas."""
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        yield CsvRow(number, tuple(cell.strip() for cell in line.split(",")))


def drop_trailing_empty(cells: tuple[str, ...]) -> tuple[str, ...]:
    """SCALE-Sim ends every line with a comma: one empty last cell is not a column."""
    return cells[:-1] if len(cells) > 1 and cells[-1] == "" else cells


def parse_int(text: str, *, file: str | Path, line: int, column: str, minimum: int) -> int:
    """An integer cell >= minimum, or TraceError naming the cell."""
    allowed = f"an integer >= {minimum}"
    if not _INTEGER.fullmatch(text):
        message = "missing value" if text == "" else "not an integer"
        raise TraceError(message, file=file, line=line, field=column, value=text, allowed=allowed)
    if len(text.lstrip("+-")) > MAX_INTEGER_DIGITS:  # before int(): thousands of digits cost time, then overflow
        raise TraceError("integer too long", file=file, line=line, field=column, value=f"{len(text)} digits",
                         allowed=f"{allowed} of at most {MAX_INTEGER_DIGITS} digits")
    value = int(text)
    if value < minimum:
        raise TraceError(f"must be >= {minimum}", file=file, line=line, field=column, value=value, allowed=allowed)
    return value


def relocate(err: TraceError, layer_name: str, *, file: str | Path, line: int,
             columns: dict[str, str] | None = None) -> TraceError:
    """A Layer validation error, re-pointed at the file, line and (where known) the CSV column of the field."""
    field = err.field or ""
    prefix = f"{layer_name}."
    field_name = field[len(prefix):] if field.startswith(prefix) else field
    column = (columns or {}).get(field_name, field_name)
    return TraceError(f"layer {layer_name!r}: {err.message}", file=file, line=line, field=column or None,
                      value=err.value, allowed=err.allowed)


def sniff_scalesim_form(header: tuple[str, ...]) -> str | None:
    """'conv' or 'gemm' when the header is SCALE-Sim's, else None."""
    names = [cell.lower() for cell in drop_trailing_empty(header)]
    if names[:4] == [c.lower() for c in GEMM_COLUMNS] and len(names) in (4, 5):
        return "gemm"
    if names[:8] == [c.lower() for c in CONV_COLUMNS] and len(names) in (8, 9):
        return "conv"
    return None


# ---------------------------------------------------------------------------------------------- reading
def parse_scalesim_csv(text: str, *, form: str = "conv", file: str | Path = "<string>") -> tuple[Layer, ...]:
    """The layers of a SCALE-Sim topology in `form` ('conv' or 'gemm'); the first data line is the header."""
    if form not in SCALESIM_FORMS:
        raise TraceError("unknown SCALE-Sim topology form", file=file, field="form", value=form,
                         allowed=", ".join(SCALESIM_FORMS))
    rows = split_rows(text)
    header = next(rows, None)
    if header is None:
        raise TraceError("trace file has no header line", file=file)
    columns = CONV_COLUMNS if form == "conv" else GEMM_COLUMNS
    if len(header.cells) > 1 and _INTEGER.fullmatch(header.cells[1]):
        # SCALE-Sim would silently skip this layer as the header
        raise TraceError("the first line must be the header, but it looks like a layer", file=file, line=header.line,
                         value=",".join(header.cells), allowed=f"'{CONV_HEADER if form == 'conv' else GEMM_HEADER}'")
    layers = []
    for row in rows:
        cells = drop_trailing_empty(row.cells)
        if len(cells) not in (len(columns), len(columns) + 1):
            raise TraceError(f"wrong number of columns for a SCALE-Sim {form} topology", file=file, line=row.line,
                             value=len(cells),
                             allowed=f"{len(columns)} ({', '.join(columns)}) plus an optional {SPARSITY_COLUMN}, "
                                     "each line ending with a comma")
        sparsity = _sparsity(cells[-1], file=file, line=row.line) if len(cells) == len(columns) + 1 else {}
        layer = _conv_row(cells, file, row.line) if form == "conv" else _gemm_row(cells, file, row.line)
        layers.append(replace(layer, **sparsity) if sparsity else layer)
    if not layers:
        raise TraceError("trace has no layers (only a header)", file=file)
    return tuple(layers)


def load_scalesim_csv(path: str | Path, *, form: str | None = None) -> Trace:
    """A SCALE-Sim topology file as a Trace named after the file; `form` None sniffs conv vs GEMM from the header."""
    text = read_trace_text(path)
    if form is None:
        header = next(split_rows(text), None)
        if header is None:
            raise TraceError("trace file has only comments, no header line", file=path)
        form = sniff_scalesim_form(header.cells)
        if form is None:
            raise TraceError("header is neither SCALE-Sim's conv nor its GEMM topology header", file=path,
                             line=header.line, value=",".join(header.cells),
                             allowed=f"'{CONV_HEADER}' or '{GEMM_HEADER}' (or pass the form explicitly)")
    layers = parse_scalesim_csv(text, form=form, file=path)
    return Trace(name=Path(path).stem, layers=layers, source_file=str(path))


def _sparsity(cell: str, *, file: str | Path, line: int) -> dict[str, int]:
    """Layer fields for an `N:M` cell: {} when empty or dense (n:n)."""
    if cell == "":
        return {}
    match = _RATIO.fullmatch(cell)
    allowed = f"N:M with 1 <= N <= M <= {MAX_SPARSITY_M} (1:1 dense), or an empty cell"
    if not match:
        raise TraceError("not an N:M sparsity ratio", file=file, line=line, field=SPARSITY_COLUMN, value=cell,
                         allowed=allowed)
    n, m = int(match.group(1)), int(match.group(2))
    if not 1 <= n <= m <= MAX_SPARSITY_M:
        raise TraceError("N:M sparsity out of range", file=file, line=line, field=SPARSITY_COLUMN, value=cell,
                         allowed=allowed)
    return {} if n == m else {"sparsity_n": n, "sparsity_m": m}


def _name(cell: str, column: str, file: str | Path, line: int) -> str:
    if not cell:
        raise TraceError("missing layer name", file=file, line=line, field=column, value=cell,
                         allowed="a non-empty name")
    return cell


def _conv_row(cells: tuple[str, ...], file: str | Path, line: int) -> Layer:
    name = _name(cells[0], CONV_COLUMNS[0], file, line)
    h, w, r, s, channels, filters, stride = (
        parse_int(cell, file=file, line=line, column=column, minimum=1)
        for cell, column in zip(cells[1:8], CONV_COLUMNS[1:8])
    )
    if r > h:
        raise TraceError("filter taller than the (padded) ifmap", file=file, line=line, field="Filter Height",
                         value=r, allowed=f"<= IFMAP Height ({h})")
    if s > w:
        raise TraceError("filter wider than the (padded) ifmap", file=file, line=line, field="Filter Width",
                         value=s, allowed=f"<= IFMAP Width ({w})")
    depthwise = "DP" in name  # SCALE-Sim's own rule, case-sensitive
    try:
        return Layer(
            name=name, kind="conv", ifmap_h=h, ifmap_w=w, filter_h=r, filter_w=s,
            in_channels=channels, out_channels=channels * filters if depthwise else filters,
            groups=channels if depthwise else 1, stride_h=stride, stride_w=stride,
            # SCALE-Sim's ceil((H-R+S)/S) output == floor((H+pad-R)/S)+1 with this bottom/right padding
            pad_bottom=(-(h - r)) % stride, pad_right=(-(w - s)) % stride, **SCALESIM_BITS,
        )
    except TraceError as err:
        raise relocate(err, name, file=file, line=line, columns=_CONV_FIELD_COLUMNS) from err


def _gemm_row(cells: tuple[str, ...], file: str | Path, line: int) -> Layer:
    name = _name(cells[0], GEMM_COLUMNS[0], file, line)
    m, n, k = (parse_int(cell, file=file, line=line, column=column, minimum=1)
               for cell, column in zip(cells[1:4], GEMM_COLUMNS[1:4]))
    try:
        return Layer.gemm_layer(name, m=m, n=n, k=k, **SCALESIM_BITS)
    except TraceError as err:
        raise relocate(err, name, file=file, line=line) from err


_CONV_FIELD_COLUMNS = {"ifmap_h": "IFMAP Height", "ifmap_w": "IFMAP Width", "filter_h": "Filter Height",
                       "filter_w": "Filter Width", "in_channels": "Channels", "out_channels": "Num Filter",
                       "stride_h": "Strides", "stride_w": "Strides", "groups": "Channels"}


# ---------------------------------------------------------------------------------------------- writing
def format_scalesim_csv(layers: Iterable[Layer], form: str = "conv") -> str:
    """SCALE-Sim's exact topology text for `layers`, or TraceError naming the first layer it cannot express.

    conv form: padding is folded into the ifmap size SCALE-Sim expects, the rows/columns the windows touch
    (R + (E-1)*S); a layer already in SCALE-Sim's own form (pad only bottom/right, as read) keeps its size, so
    reading back gives an equal Layer. Depthwise layers need `DP` in the name (SCALE-Sim's rule), others must not
    have it. GEMM form: only `gemm` layers with one group.
    """
    if form not in SCALESIM_FORMS:
        raise TraceError("unknown SCALE-Sim topology form", field="form", value=form,
                         allowed=", ".join(SCALESIM_FORMS))
    layers = tuple(layers)
    sparse = any(layer.is_sparse for layer in layers)
    header = CONV_HEADER if form == "conv" else GEMM_HEADER
    lines = [header + f" {SPARSITY_COLUMN}," if sparse else header]
    for layer in layers:
        _check_writable(layer, form)
        if form == "gemm":
            gemm = layer.gemm
            cells = [layer.name, gemm.m, gemm.n, gemm.k]
        else:
            depthwise = "DP" in layer.name
            cells = [layer.name, _scalesim_extent(layer, "h"), _scalesim_extent(layer, "w"), layer.filter_h,
                     layer.filter_w, layer.in_channels,
                     layer.out_channels // layer.in_channels if depthwise else layer.out_channels, layer.stride_h]
        if sparse:
            cells.append(f"{layer.sparsity_n}:{layer.sparsity_m}")
        lines.append(", ".join(str(cell) for cell in cells) + ",")
    if len(lines) == 1:
        raise TraceError("no layers to write")
    return "\n".join(lines) + "\n"


def write_scalesim_csv(layers: Iterable[Layer], path: str | Path, form: str = "conv") -> None:
    """Write `layers` as a SCALE-Sim topology CSV (see `format_scalesim_csv` for what can be expressed)."""
    text = format_scalesim_csv(layers, form)
    Path(path).write_text(text, encoding="utf-8")


def check_name_writable(name: str) -> None:
    """Our CSVs have no quoting: a name must survive split-on-comma, strip and the comment rule."""
    if not name.isprintable() or "," in name or name != name.strip() or name.startswith("#"):
        raise TraceError("layer name cannot be written to a CSV trace", field="name", value=name,
                         allowed="printable text without commas, surrounding spaces or a leading '#'")


def _scalesim_extent(layer: Layer, axis: str) -> int:
    size, filt, stride, pad_first, pad_last = (
        (layer.ifmap_h, layer.filter_h, layer.stride_h, layer.pad_top, layer.pad_bottom) if axis == "h"
        else (layer.ifmap_w, layer.filter_w, layer.stride_w, layer.pad_left, layer.pad_right))
    if pad_first == 0 and size >= filt and pad_last == (-(size - filt)) % stride:
        return size
    out = layer.ofmap_h if axis == "h" else layer.ofmap_w
    return filt + (out - 1) * stride


def _check_writable(layer: Layer, form: str) -> None:
    check_name_writable(layer.name)

    def refuse(field_name: str, why: str, value: object, allowed: str) -> None:
        raise TraceError(f"layer {layer.name!r} cannot be written as a SCALE-Sim {form} topology: {why}",
                         field=f"{layer.name}.{field_name}", value=value, allowed=allowed)

    bits = {name: getattr(layer, name) for name in SCALESIM_BITS}
    if bits not in _WRITABLE_BITS or layer.psum_bits not in (0, layer.ofmap_bits):
        wrong = next((name for name in bits if all(bits[name] != ok[name] for ok in _WRITABLE_BITS)), "psum_bits")
        refuse(wrong, "SCALE-Sim has no operand precisions (1-byte words)", getattr(layer, wrong),
               "ifmap/filter 8 bits, ofmap 8 (SCALE-Sim's word) or 32 (our default), psum 0")
    if layer.batch != 1:
        refuse("batch", "SCALE-Sim has no batch", layer.batch, "1")
    if layer.block_size != 1:
        refuse("block_size", "SCALE-Sim has no block-circulant layers", layer.block_size, "1")
    for density in ("weight_density", "ifmap_density"):
        if getattr(layer, density) != 1:
            refuse(density, "SCALE-Sim has no unstructured or activation sparsity", getattr(layer, density), "1.0")
    if form == "gemm":
        if layer.kind != "gemm":
            refuse("kind", "the GEMM form holds only gemm layers", layer.kind, "gemm (or use form='conv')")
        if layer.groups != 1:
            refuse("groups", "the GEMM form has no grouped GEMMs", layer.groups, "1")
        if (layer.stride_h, layer.stride_w, layer.dilation_h, layer.dilation_w) != (1, 1, 1, 1) or any(
                (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right)):
            refuse("kind", "a gemm layer with stride, dilation or padding", layer.describe(), "a plain gemm layer")
        return
    if layer.kind == "tconv":
        refuse("kind", "SCALE-Sim has no transposed convolutions", layer.kind, "conv, gemm")
    if layer.stride_h != layer.stride_w:
        refuse("stride_w", "SCALE-Sim has one stride for both axes", (layer.stride_h, layer.stride_w), "equal strides")
    if (layer.dilation_h, layer.dilation_w) != (1, 1):
        refuse("dilation_h", "SCALE-Sim has no dilation", (layer.dilation_h, layer.dilation_w), "1")
    if "DP" in layer.name:
        if layer.groups != layer.in_channels:
            refuse("groups", "SCALE-Sim treats a name containing 'DP' as depthwise", layer.groups,
                   f"groups == in_channels ({layer.in_channels}), or a name without 'DP'")
    elif layer.groups != 1:
        refuse("groups", "SCALE-Sim has no grouped convolutions; depthwise layers need 'DP' in the name",
               layer.groups, "1, or groups == in_channels with 'DP' in the name")
