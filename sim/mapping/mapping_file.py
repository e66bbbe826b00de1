"""Mapping files: the mapping record as TOML a user can write, read back and diff (docs/mapping.md).

    format = 1

    [[mapping]]
    layer = "conv1"                       # the trace layer it maps
    name = "ws"
    view = "gemm"
    dims = { G = 1, M = 12544, K = 147, N = 64 }

    double_buffered = ["filter_sram"]     # optional: the levels run as two halves (docs/mapping.md)

    [[mapping.level]]
    level = "dram"
    whole = ["filter"]
    loops = [{ dim = "G", size = 1 }, { dim = "N", size = 32 }, { dim = "K", size = 32 }, { dim = "M", parts = 4 }]

A file holds one [[mapping]] per layer. `write_mappings` and `read_mappings` are exact inverses: write ->
read gives records equal to the ones written. A malformed file is a MappingError naming the file and the
field (`mapping[0].level[1].loops[2].size`).
"""
from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.errors import MappingError
from sim.mapping.record import GEMM_DIMS, SPATIAL_AXES, VIEWS, LevelLoops, Loop, Mapping, Problem

FORMAT = 1
# Canonical dimension order per view (a file may list them in any order).
VIEW_DIMS = {"gemm": GEMM_DIMS, "conv": ("N", "K", "C", "R", "S", "Y", "X"),
             "dsconv": ("N", "K", "C", "R", "S", "Y", "X"), "matmul": ("M", "N", "K")}
LOOP_KEYS = ("dim", "size", "parts", "step", "spatial", "units")
LOOP_DEFAULTS = {"size": 0, "parts": 0, "step": 0, "spatial": "", "units": 1}


def _string(value: str) -> str:
    """A TOML basic string (names are plain identifiers and paths; quotes and backslashes escaped)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(pairs: list[tuple[str, Any]]) -> str:
    return "{ " + ", ".join(f"{key} = {_string(v) if isinstance(v, str) else v}" for key, v in pairs) + " }"


def mappings_text(mappings: dict[str, Mapping]) -> str:
    """The TOML text of one record per layer name, in the given order."""
    lines = ["# sim mapping file (docs/mapping.md): one [[mapping]] per layer, levels outermost first, loops",
             "# outermost first; a loop has size (tile extent) or parts (near-equal parts), optional step and",
             "# spatial = rows | cols | cluster with units.", f"format = {FORMAT}"]
    for layer, mapping in mappings.items():
        problem = mapping.problem
        lines += ["", "[[mapping]]", f"layer = {_string(layer)}", f"name = {_string(mapping.name)}",
                  f"view = {_string(problem.view)}", f"dims = {_table(list(problem.dims))}"]
        if problem.strides:
            lines.append(f"strides = {_table(list(problem.strides))}")
        if mapping.double_buffered is not None:  # absent: as the hardware declares
            lines.append("double_buffered = [" + ", ".join(_string(name) for name in mapping.double_buffered) + "]")
        for level in mapping.levels:
            lines += ["", "[[mapping.level]]", f"level = {_string(level.level)}"]
            if level.whole:
                lines.append("whole = [" + ", ".join(_string(name) for name in level.whole) + "]")
            lines.append("loops = [")
            for loop in level.loops:
                pairs = [("dim", loop.dim)] + [(key, getattr(loop, key)) for key in LOOP_KEYS[1:]
                                               if getattr(loop, key) != LOOP_DEFAULTS[key]]
                lines.append(f"  {_table(pairs)},")
            lines.append("]")
    return "\n".join(lines) + "\n"


def write_mappings(path: str | Path, mappings: dict[str, Mapping]) -> None:
    Path(path).write_text(mappings_text(mappings))


class _Reader:
    """Checks one parsed file, raising MappingError with the file and the field path."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, field: str, message: str, value: Any, allowed: str) -> MappingError:
        return MappingError(message, file=self.file or None, field=field, value=value, allowed=allowed)

    def keys(self, table: Any, field: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict:
        if not isinstance(table, dict):
            raise self.fail(field, "expected a table", table, "a TOML table")
        unknown = sorted(set(table) - set(required) - set(optional))
        if unknown:
            raise self.fail(f"{field}.{unknown[0]}", "unknown key", unknown[0], ", ".join(required + optional))
        for key in required:
            if key not in table:
                raise self.fail(f"{field}.{key}", "missing key", None, f"{key} is required")
        return table

    def integer(self, value: Any, field: str, low: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(field, "expected an integer", value, f">= {low}")
        return value

    def string(self, value: Any, field: str, allowed: tuple[str, ...] | None = None) -> str:
        if not isinstance(value, str) or (allowed is not None and value not in allowed):
            raise self.fail(field, "expected " + ("one of the names" if allowed else "a string"), value,
                            ", ".join(allowed) if allowed else "a string")
        return value

    def mapping(self, table: Any, field: str) -> tuple[str, Mapping]:
        table = self.keys(table, field, ("layer", "name", "view", "dims", "level"), ("strides", "double_buffered"))
        layer = self.string(table["layer"], f"{field}.layer")
        name = self.string(table["name"], f"{field}.name")
        view = self.string(table["view"], f"{field}.view", VIEWS)
        dims = self.keys(table["dims"], f"{field}.dims", (), VIEW_DIMS[view])
        problem_dims = tuple((d, self.integer(dims[d], f"{field}.dims.{d}", 1)) for d in VIEW_DIMS[view] if d in dims)
        strides = self.keys(table.get("strides", {}), f"{field}.strides", (), ("Y", "X"))
        problem_strides = tuple((d, self.integer(strides[d], f"{field}.strides.{d}", 1)) for d in ("Y", "X")
                                if d in strides)
        if not isinstance(table["level"], list) or not table["level"]:
            raise self.fail(f"{field}.level", "expected one or more [[mapping.level]] tables", table["level"],
                            "an array of tables")
        levels = tuple(self.level(level, f"{field}.level[{i}]") for i, level in enumerate(table["level"]))
        doubled = None
        if "double_buffered" in table:
            names = table["double_buffered"]
            if not isinstance(names, list):
                raise self.fail(f"{field}.double_buffered", "expected a list of memory level names", names,
                                "e.g. [\"sram_64kb\"] ([]: every \"auto\" level single)")
            doubled = tuple(self.string(n, f"{field}.double_buffered[{i}]") for i, n in enumerate(names))
        try:
            return layer, Mapping(name, Problem(view, problem_dims, problem_strides), levels, doubled)
        except MappingError as err:
            raise err.with_context(file=self.file or None, field_prefix=field) from None

    def level(self, table: Any, field: str) -> LevelLoops:
        table = self.keys(table, field, ("level", "loops"), ("whole",))
        name = self.string(table["level"], f"{field}.level")
        whole = table.get("whole", [])
        if not isinstance(whole, list):
            raise self.fail(f"{field}.whole", "expected a list of operands", whole, "ifmap, filter, ofmap")
        loops = table["loops"]
        if not isinstance(loops, list):
            raise self.fail(f"{field}.loops", "expected a list of loops", loops, "[{ dim = ..., size = ... }, ...]")
        parsed = []
        for i, loop in enumerate(loops):
            where = f"{field}.loops[{i}]"
            loop = self.keys(loop, where, ("dim",), LOOP_KEYS[1:])
            values = {"dim": self.string(loop["dim"], f"{where}.dim")}
            for key in ("size", "parts", "step"):
                values[key] = self.integer(loop.get(key, 0), f"{where}.{key}", 0)
            values["units"] = self.integer(loop.get("units", 1), f"{where}.units", 1)
            values["spatial"] = self.string(loop.get("spatial", ""), f"{where}.spatial", ("",) + SPATIAL_AXES)
            try:
                parsed.append(Loop(**values))
            except MappingError as err:
                raise err.with_context(file=self.file or None, field_prefix=where) from None
        try:
            return LevelLoops(name, tuple(parsed), tuple(self.string(w, f"{field}.whole", None) for w in whole))
        except MappingError as err:
            raise err.with_context(file=self.file or None, field_prefix=field) from None


def parse_mappings(text: str, file: str = "") -> dict[str, Mapping]:
    """The records of a mapping file's text, by layer name (MappingError on any malformed entry)."""
    from sim.inputs import check_toml_shape

    reader = _Reader(file)
    check_toml_shape(text, file or "mapping file", MappingError)  # no parser recursion or crawl on hostile text
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise MappingError(f"not valid TOML: {err}", file=file or None) from None
    except (ValueError, RecursionError) as err:  # e.g. an integer beyond Python's digit limit
        raise MappingError(f"not valid TOML: {str(err)[:120]}", file=file or None) from None
    reader.keys(data, "file", ("format", "mapping"), ())
    if data["format"] != FORMAT:
        raise reader.fail("format", "unknown mapping file format", data["format"], str(FORMAT))
    if not isinstance(data["mapping"], list):
        raise reader.fail("mapping", "expected [[mapping]] tables", data["mapping"], "an array of tables")
    out: dict[str, Mapping] = {}
    for i, table in enumerate(data["mapping"]):
        layer, mapping = reader.mapping(table, f"mapping[{i}]")
        if layer in out:
            raise reader.fail(f"mapping[{i}].layer", "a layer mapped twice", layer, "one [[mapping]] per layer")
        out[layer] = mapping
    return out


def read_mappings(path: str | Path) -> dict[str, Mapping]:
    """The records of a mapping file, by layer name."""
    from sim.inputs import MAX_MAPPING_BYTES, read_text

    text = read_text(path, MappingError, limit=MAX_MAPPING_BYTES, what="mapping file")  # bounded, regular, UTF-8
    return parse_mappings(text, str(path))
