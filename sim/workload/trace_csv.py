"""Our extended trace CSV: named columns for every Layer field, `#` comment lines, SCALE-Sim header names as aliases.

One layer per line after the header. `name` and `type` are required; `type` is conv, dwconv, tconv, gemm or fc.
An empty cell means the column's default; a cell in a column that does not apply to the row's type is an error.
Output sizes follow the usual floor convention with explicit padding (only the SCALE-Sim loader applies
SCALE-Sim's ceil). For gemm/fc rows m, n, k are the shape of each of the `groups` independent GEMMs
(a per-head attention product is one row with groups = heads). Column reference: docs/traces.md.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.errors import TraceError
from sim.workload.layer import DENSITY_FIELDS, Layer
from sim.workload.scalesim_csv import (
    check_name_writable,
    drop_trailing_empty,
    parse_int,
    read_trace_text,
    relocate,
    split_rows,
)
from sim.workload.trace import Trace

TRACE_TYPES: tuple[str, ...] = ("conv", "dwconv", "tconv", "gemm", "fc")


@dataclass(frozen=True)
class Column:
    """One column of the extended format."""

    name: str
    minimum: int  # smallest allowed integer (0 for paddings)
    types: frozenset[str]  # row types the column applies to


_CONV_LIKE = frozenset({"conv", "dwconv", "tconv"})
_GEMM_LIKE = frozenset({"gemm", "fc"})
_ALL = _CONV_LIKE | _GEMM_LIKE


def _columns() -> tuple[Column, ...]:
    """Every column, in the order the writer uses (meanings and defaults: docs/traces.md)."""
    conv = [("ifmap_h", 1), ("ifmap_w", 1), ("filter_h", 1), ("filter_w", 1), ("channels", 1), ("num_filter", 1),
            ("stride", 1), ("stride_h", 1), ("stride_w", 1), ("pad", 0), ("pad_h", 0), ("pad_w", 0), ("pad_top", 0),
            ("pad_bottom", 0), ("pad_left", 0), ("pad_right", 0), ("dilation", 1), ("dilation_h", 1),
            ("dilation_w", 1)]
    gemm = [("m", 1), ("n", 1), ("k", 1)]
    tconv = [("output_padding", 0), ("output_padding_h", 0), ("output_padding_w", 0)]
    common = [("groups", 1), ("batch", 1), ("block_size", 1), ("ifmap_bits", 1), ("filter_bits", 1), ("ofmap_bits", 1),
              ("psum_bits", 0), ("sparsity_n", 1), ("sparsity_m", 1), ("weight_density", 0), ("ifmap_density", 0)]
    return ((Column("name", 0, _ALL), Column("type", 0, _ALL))
            + tuple(Column(n, lo, _CONV_LIKE) for n, lo in conv)
            + tuple(Column(n, lo, _GEMM_LIKE) for n, lo in gemm)
            + tuple(Column(n, lo, frozenset({"tconv"})) for n, lo in tconv)
            + tuple(Column(n, lo, _ALL) for n, lo in common))


COLUMNS: tuple[Column, ...] = _columns()
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
_BY_NAME = {c.name: c for c in COLUMNS}

# SCALE-Sim's header names, so a SCALE-Sim topology becomes an extended trace by adding columns (lower-cased).
ALIASES: dict[str, str] = {"layer name": "name", "layer": "name", "ifmap height": "ifmap_h",
                           "ifmap width": "ifmap_w", "filter height": "filter_h", "filter width": "filter_w",
                           "num filter": "num_filter", "strides": "stride"}

_REQUIRED = {"conv": ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filter"),
             "tconv": ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels", "num_filter"),
             "dwconv": ("ifmap_h", "ifmap_w", "filter_h", "filter_w", "channels"),
             "gemm": ("m", "n", "k"), "fc": ("n", "k")}

# (Layer field, spellings from most to least specific) for the per-axis quantities
_AXIS_SPELLINGS = (
    ("stride_h", ("stride_h", "stride")), ("stride_w", ("stride_w", "stride")),
    ("pad_top", ("pad_top", "pad_h", "pad")), ("pad_bottom", ("pad_bottom", "pad_h", "pad")),
    ("pad_left", ("pad_left", "pad_w", "pad")), ("pad_right", ("pad_right", "pad_w", "pad")),
    ("dilation_h", ("dilation_h", "dilation")), ("dilation_w", ("dilation_w", "dilation")),
    ("output_padding_h", ("output_padding_h", "output_padding")),
    ("output_padding_w", ("output_padding_w", "output_padding")),
)
# Layer fields whose column has another name (the rest are spelled alike)
_FIELD_COLUMNS = {"in_channels": "channels", "out_channels": "num_filter"}


def _canonical_column(cell: str) -> str:
    key = cell.strip().lower()
    return ALIASES.get(key, key)


def is_extended_header(header: Sequence[str]) -> bool:
    """True when a header line names the columns of our extended format (it has a `type` or `name` column)."""
    names = [_canonical_column(c) for c in drop_trailing_empty(tuple(header))]
    return "type" in names or header[0].strip().lower() == "name"


# ---------------------------------------------------------------------------------------------- reading
def parse_trace_csv(text: str, *, file: str | Path = "<string>") -> tuple[Layer, ...]:
    """The layers of an extended trace CSV text."""
    rows = split_rows(text)
    header_row = next(rows, None)
    if header_row is None:
        raise TraceError("trace file has no header line", file=file)
    header = _parse_header(header_row.cells, file, header_row.line)
    # SCALE-Sim style trailing commas only where the header has one: else an extra cell could shift the row silently
    trailing_comma = len(header_row.cells) > len(header)
    layers = []
    for row in rows:
        cells = row.cells
        if trailing_comma and len(cells) == len(header) + 1 and cells[-1] == "":
            cells = cells[:-1]
        if len(cells) != len(header):
            raise TraceError("wrong number of cells for the header", file=file, line=row.line, value=len(cells),
                             allowed=f"{len(header)} ({', '.join(header)})")
        layers.append(_parse_row(dict(zip(header, cells)), file, row.line))
    if not layers:
        raise TraceError("trace has no layers (only a header)", file=file)
    return tuple(layers)


def load_trace_csv(path: str | Path) -> Trace:
    """An extended trace CSV file as a Trace named after the file."""
    layers = parse_trace_csv(read_trace_text(path), file=path)
    return Trace(name=Path(path).stem, layers=layers, source_file=str(path))


def _parse_header(cells: tuple[str, ...], file: str | Path, line: int) -> tuple[str, ...]:
    cells = drop_trailing_empty(cells)
    names = tuple(_canonical_column(c) for c in cells)
    allowed = ", ".join(COLUMN_NAMES) + " (or SCALE-Sim's header names)"
    for raw, name in zip(cells, names):
        if name not in _BY_NAME:
            raise TraceError("unknown column", file=file, line=line, field=raw or "(empty)", value=raw,
                             allowed=allowed)
    seen: set[str] = set()
    for raw, name in zip(cells, names):
        if name in seen:
            raise TraceError("column given twice (an alias counts as its column)", file=file, line=line, field=raw,
                             value=raw)
        seen.add(name)
    for required in ("name", "type"):
        if required not in seen:
            raise TraceError(f"missing required column '{required}'", file=file, line=line,
                             value=",".join(cells), allowed=allowed)
    return names


def _parse_row(cells: dict[str, str], file: str | Path, line: int) -> Layer:
    name = cells["name"]
    if not name:
        raise TraceError("missing layer name", file=file, line=line, field="name", value=name,
                         allowed="a non-empty name")
    kind = cells["type"].lower()
    if kind not in TRACE_TYPES:
        raise TraceError("unknown layer type", file=file, line=line, field="type", value=cells["type"],
                         allowed=", ".join(TRACE_TYPES))
    values: dict[str, int] = {}
    for column, text in cells.items():
        if column in ("name", "type") or text == "":
            continue
        spec = _BY_NAME[column]
        if kind not in spec.types:
            applies = ", ".join(t for t in TRACE_TYPES if t in spec.types)
            raise TraceError(f"column does not apply to type {kind}", file=file, line=line, field=column, value=text,
                             allowed=f"an empty cell (applies to: {applies})")
        values[column] = _parse_density(text, file=file, line=line, column=column) if column in DENSITY_FIELDS \
            else parse_int(text, file=file, line=line, column=column, minimum=spec.minimum)
    for column in _REQUIRED[kind]:
        if column not in values:
            raise TraceError(f"type {kind} needs a value in this column", file=file, line=line, field=column,
                             value=cells.get(column, ""),
                             allowed=f"an integer; {kind} requires {', '.join(_REQUIRED[kind])}")
    columns = dict(_FIELD_COLUMNS)
    for field_name, spellings in _AXIS_SPELLINGS:  # name the column this row used for the field
        columns.update({field_name: s for s in reversed(spellings) if s in values})
    try:
        fields = _layer_fields(kind, values, file, line)
        return Layer(name=name, **fields)
    except TraceError as err:
        if err.file is not None:
            raise
        raise relocate(err, name, file=file, line=line, columns=columns) from err


def _parse_density(text: str, *, file: str | Path, line: int, column: str) -> float:
    """A density cell: a decimal fraction in (0, 1] (1 = dense)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:  # NaN, inf and text fail here too
        raise TraceError("not a density", file=file, line=line, field=column, value=text,
                         allowed="a fraction in (0, 1], e.g. 0.35; 1 = dense")
    return value


def _layer_fields(kind: str, values: dict[str, int], file: str | Path, line: int) -> dict[str, object]:
    fields: dict[str, object] = {}
    for key in ("groups", "batch", "block_size", "ifmap_bits", "filter_bits", "ofmap_bits", "psum_bits",
                "sparsity_n", "sparsity_m", *DENSITY_FIELDS):
        if key in values:
            fields[key] = values[key]
    if kind in _GEMM_LIKE:
        groups = values.get("groups", 1)
        fields.update(kind="gemm", ifmap_h=values.get("m", 1), in_channels=values["k"] * groups,
                      out_channels=values["n"] * groups)
        return fields
    for field_name, spellings in _AXIS_SPELLINGS:
        given = [s for s in spellings if s in values]
        if len(given) > 1:
            raise TraceError(f"{field_name} given by more than one column", file=file, line=line, field=given[0],
                             value={s: values[s] for s in given}, allowed=f"one of {', '.join(spellings)}")
        if given:
            fields[field_name] = values[given[0]]
    channels = values["channels"]
    fields.update(kind="tconv" if kind == "tconv" else "conv", ifmap_h=values["ifmap_h"], ifmap_w=values["ifmap_w"],
                  filter_h=values["filter_h"], filter_w=values["filter_w"], in_channels=channels,
                  out_channels=values.get("num_filter", channels))
    if kind == "dwconv":
        if values.get("groups", channels) != channels:
            raise TraceError("a dwconv layer has groups == channels", file=file, line=line, field="groups",
                             value=values["groups"], allowed=f"{channels} or an empty cell")
        fields["groups"] = channels
    return fields


# ---------------------------------------------------------------------------------------------- writing
def format_trace_csv(layers: Iterable[Layer], *, comments: Sequence[str] = ()) -> str:
    """Extended trace CSV text for `layers`: `# ` comment lines, then only the columns some layer needs."""
    layers = tuple(layers)
    if not layers:
        raise TraceError("no layers to write")
    for layer in layers:
        check_name_writable(layer.name)
        if layer.kind == "gemm" and (
                (layer.stride_h, layer.stride_w, layer.dilation_h, layer.dilation_w) != (1, 1, 1, 1)
                or any((layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right))):
            raise TraceError("a gemm layer with stride, dilation or padding cannot be written as a gemm row",
                             field=f"{layer.name}.kind", value=layer.describe(), allowed="a plain gemm layer")
    rows = [_row_cells(layer) for layer in layers]
    _compact_axes(rows, layers)  # rows now hold every non-default cell
    used = [c for c in COLUMN_NAMES if c in ("name", "type") or any(c in row for row in rows)]
    lines = [f"# {text}".rstrip() for comment in comments for text in comment.split("\n")]
    lines.append(",".join(used))
    lines.extend(",".join(str(row.get(c, "")) for c in used) for row in rows)
    return "\n".join(lines) + "\n"


def write_trace_csv(trace: Trace | Iterable[Layer], path: str | Path, *, comments: Sequence[str] = ()) -> None:
    """Write a trace (or layers) as an extended trace CSV that `load_trace_csv` reads back into equal Layers."""
    layers = trace.layers if isinstance(trace, Trace) else tuple(trace)
    Path(path).write_text(format_trace_csv(layers, comments=comments), encoding="utf-8")


_DEFAULTS = {"groups": 1, "batch": 1, "block_size": 1, "ifmap_bits": 8, "filter_bits": 8, "ofmap_bits": 32,
             "psum_bits": 0, "sparsity_n": 1, "sparsity_m": 1, "weight_density": 1.0, "ifmap_density": 1.0}


def _row_cells(layer: Layer) -> dict[str, object]:
    row: dict[str, object] = {"name": layer.name}
    for key, default in _DEFAULTS.items():
        if getattr(layer, key) != default:
            row[key] = getattr(layer, key)
    if layer.kind == "gemm":
        row.update(type="gemm", m=layer.ifmap_h, n=layer.out_channels // layer.groups,
                   k=layer.in_channels // layer.groups)
        return row
    depthwise = layer.kind == "conv" and layer.is_depthwise
    row.update(type="dwconv" if depthwise else layer.kind, ifmap_h=layer.ifmap_h, ifmap_w=layer.ifmap_w,
               filter_h=layer.filter_h, filter_w=layer.filter_w, channels=layer.in_channels,
               num_filter=layer.out_channels)
    if depthwise:
        row.pop("groups")
    return row


def _compact_axes(rows: list[dict[str, object]], layers: tuple[Layer, ...]) -> None:
    """Per file, the shortest spelling that expresses every layer (pad / pad_h+pad_w / four sides, etc.)."""
    spellings = (("stride", ("stride_h", "stride_w"), 1, _CONV_LIKE),
                 ("dilation", ("dilation_h", "dilation_w"), 1, _CONV_LIKE),
                 ("output_padding", ("output_padding_h", "output_padding_w"), 0, frozenset({"tconv"})))
    for one, pair, default, kinds in spellings:
        targets = [(row, tuple(getattr(layer, f) for f in pair)) for row, layer in zip(rows, layers)
                   if row["type"] in kinds]
        if all(value == (default, default) for _, value in targets):
            continue
        same = all(value[0] == value[1] for _, value in targets)
        for row, value in targets:
            row.update({one: value[0]} if same else dict(zip(pair, value)))
    targets = [(row, (layer.pad_top, layer.pad_bottom, layer.pad_left, layer.pad_right))
               for row, layer in zip(rows, layers) if row["type"] in _CONV_LIKE]
    if not any(any(pads) for _, pads in targets):
        return
    symmetric = all(p[0] == p[1] and p[2] == p[3] for _, p in targets)
    uniform = symmetric and all(p[0] == p[2] for _, p in targets)
    for row, p in targets:
        if uniform:
            row["pad"] = p[0]
        elif symmetric:
            row.update(pad_h=p[0], pad_w=p[2])
        else:
            row.update(pad_top=p[0], pad_bottom=p[1], pad_left=p[2], pad_right=p[3])
