"""Our hardware TOML: load (with shared energy tables and DRAM presets resolved) and write back.

Loading steps, each a pure transformation of the parsed dict before one strict schema validation:
1. `energy_tables = ["energy/x.toml", ...]` (relative to the config): each included file's [energy] and [area]
   entries are validated on their own and merged in order; the config's inline entries override them.
2. `[dram] preset = "DDR4-2400"`: the preset's ns timings become [dram.timing] in cycles of the array's clock;
   inline [dram.timing] keys override the preset's.
3. Validation: every problem of the file in one ConfigError, each with its dotted field path and line.
`dump_hardware_toml` writes the resolved record (all sections inline), so its output loads back equal.
"""
from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.inputs import MAX_CONFIG_BYTES, check_toml_shape
from sim.inputs import read_text as read_input_text
from sim.hardware.presets import ddr_preset_table, resolve_dram_preset
from sim.hardware.spec import AreaEntry, EnergyEntry, Hardware, PeArraySpec, ReramSpec
from sim.hardware.validation import Locator, validate_hardware, validate_table

ENERGY_TABLE_KEYS = ("description", "energy", "area")
_SYNTAX_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER = re.compile(r"^\[\[?(.+?)\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_key(text: str) -> tuple[str, ...]:
    """A TOML dotted key (`a."b.c".d`) as its parts."""
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", text)
    return tuple(part[1:-1] if part[:1] in "\"'" else part for part in parts)


def toml_line_of(text: str, field: str) -> int | None:
    """Best-effort line of a dotted field in TOML source: its key, else its nearest enclosing table header."""
    best_depth, best_line = 0, None
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        header = _HEADER.match(stripped)
        if header:
            table = _split_key(header.group(1))
            path = ".".join(table)
        else:
            key = _KEY.match(stripped)
            if not key:
                continue
            path = ".".join(table + _split_key(key.group(1)))
        if path == field:
            return number
        if field.startswith(path + ".") and len(path) > best_depth:
            best_depth, best_line = len(path), number
    return best_line


def _toml_locator(text: str) -> Locator:
    return lambda field: (field, toml_line_of(text, field))


def parse_toml(text: str, file: str | Path, included_by: str | Path | None = None) -> dict:
    """tomllib with syntax errors as ConfigError carrying the file and line; the text's shape (nesting, key and
    number lengths) is checked first so a hostile file cannot make the parser recurse or crawl."""
    suffix = f" (in an energy table included by {included_by})" if included_by is not None else ""
    try:
        check_toml_shape(text, file, ConfigError)
    except ConfigError as error:
        raise ConfigError(error.message + suffix, file=file, line=error.line, value=error.value,
                          allowed=error.allowed) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        position = _SYNTAX_POSITION.search(str(error))
        message = f"TOML syntax error: {_SYNTAX_POSITION.sub('', str(error)).strip()}{suffix}"
        raise ConfigError(message, file=file, line=int(position.group(1)) if position else None) from None
    except (ValueError, RecursionError) as error:  # e.g. an integer beyond Python's digit limit
        raise ConfigError(f"TOML value cannot be read: {type(error).__name__}{suffix}", file=file) from None


def read_text(path: Path, *, included_by: str | Path | None = None) -> str:
    """A config file's text, bounded (sim.inputs); for an include the error names the including file too."""
    if included_by is None:
        return read_input_text(path, ConfigError, limit=MAX_CONFIG_BYTES, what="config file")
    return read_input_text(path, ConfigError, limit=MAX_CONFIG_BYTES, what=f"energy table {path.name}",
                           field="energy_tables", file=included_by)


def resolve_include(name: str, file: Path, include_root: Path | None = None, field: str = "energy_tables",
                    allowed: str = "a relative path to a file inside the config's folder tree (or pass "
                                   "--include-root DIR)") -> Path:
    """Where an include (an `energy_tables` entry, a system config's accelerator `hw`, named by `field`) points:
    relative to the including file, and inside its folder tree (or `include_root`'s, when the user widened it)
    after symbolic links are followed."""
    if any(ord(char) < 32 for char in name):
        raise ConfigError("include path contains a control character", file=file, field=field,
                          allowed=allowed)
    if len(name) > 1024:
        raise ConfigError("include path too long", file=file, field=field,
                          value=f"{len(name)} characters", allowed="at most 1024 characters")
    if Path(name).is_absolute() and include_root is None:
        raise ConfigError("absolute include paths are not allowed", file=file, field=field,
                          value=name, allowed=allowed)
    path = file.parent / name
    root = (include_root if include_root is not None else file.parent).resolve()
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symbolic-link loop
        raise ConfigError("include path cannot be resolved", file=file, field=field, value=name,
                          allowed=allowed) from None
    if not resolved.is_relative_to(root):
        raise ConfigError("include path leaves the config's folder tree", file=file, field=field,
                          value=name, allowed=allowed)
    return path


def flatten_entries(table: Any, prefix: str = "") -> Any:
    """`[energy.ifmap_sram.read]` (nested tables) and `[energy."ifmap_sram.read"]` both as key "ifmap_sram.read".

    A table is an entry when any of its values is not a table (an entry has `pj`, `source` ...).
    """
    if not isinstance(table, dict):
        return table
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(inner, dict) for inner in value.values()):
            flat.update(flatten_entries(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _included_tables(raw: dict, file: Path, include_root: Path | None = None) -> tuple[dict, dict]:
    """The merged [energy] and [area] entries of the files `energy_tables` names, in order."""
    names = raw.pop("energy_tables")
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ConfigError("must be an array of paths (strings) relative to the config file", file=file,
                          field="energy_tables", value=names, allowed='e.g. ["energy/horowitz_45nm.toml"]')
    if len(names) > 64:
        raise ConfigError("too many energy tables", file=file, field="energy_tables", value=len(names),
                          allowed="at most 64")
    energy: dict[str, Any] = {}
    area: dict[str, Any] = {}
    for name in names:
        path = resolve_include(name, file, include_root)
        text = read_text(path, included_by=file)
        table = parse_toml(text, path, included_by=file)
        unknown = sorted(set(table) - set(ENERGY_TABLE_KEYS))
        if unknown:
            raise ConfigError(f"unknown key in an energy table included by {file}", file=path,
                              field=unknown[0], line=toml_line_of(text, unknown[0]),
                              allowed=", ".join(ENERGY_TABLE_KEYS))
        locate = _toml_locator(text)

        def locate_here(field: str, _locate: Locator = locate) -> tuple[str, int | None]:
            shown, line = _locate(field)
            return f"{shown} (in an energy table included by {file})", line

        for section, entry_type, merged in (("energy", EnergyEntry, energy), ("area", AreaEntry, area)):
            entries = flatten_entries(table.get(section, {}))
            validate_table(dict[str, entry_type], entries, (section,), path, locate_here)
            merged.update(entries)
    return energy, area


def _clock_mhz(raw: dict) -> float:
    """The clock a DRAM preset is converted with: the PE array's, else the ReRAM chip's, else the default."""
    for section, spec in (("pe_array", PeArraySpec), ("reram", ReramSpec)):
        table = raw.get(section)
        if isinstance(table, dict):
            clock = table.get("clock_mhz", spec.model_fields["clock_mhz"].default)
            if isinstance(clock, (int, float)) and not isinstance(clock, bool) and clock > 0:
                return float(clock)
    return float(PeArraySpec.model_fields["clock_mhz"].default)


def _resolve_preset(raw: dict, file: Path, text: str) -> None:
    dram = raw.get("dram")
    if not isinstance(dram, dict) or not isinstance(dram.get("preset"), str):
        return
    if dram.get("model") == "ddr":
        _resolve_ddr_preset(dram, file, text)
        return
    try:
        timing = resolve_dram_preset(dram["preset"], _clock_mhz(raw)).model_dump()
    except ConfigError as error:
        raise error.with_context(file=file, line=toml_line_of(text, "dram.preset")) from None
    inline = dram.get("timing")
    if isinstance(inline, dict):
        timing.update(inline)
    elif inline is not None:
        return  # a non-table [dram.timing]: leave it for the schema to report
    dram["timing"] = timing


def _resolve_ddr_preset(dram: dict, file: Path, text: str) -> None:
    """`model = "ddr"`: the preset's device table becomes [dram.device]; inline [dram.device] keys override it."""
    inline = dram.get("device")
    if inline is not None and not isinstance(inline, dict):
        return  # a non-table [dram.device]: leave it for the schema to report
    try:
        device = ddr_preset_table(dram["preset"])
    except ConfigError as error:
        raise error.with_context(file=file, line=toml_line_of(text, "dram.preset")) from None
    device.update(inline or {})
    dram["device"] = device


def merge_energy_tables(raw: dict, file: str | Path, include_root: Path | None = None) -> dict:
    """`raw` with its `energy_tables` merged under [energy] / [area] (inline entries win) and nested entry
    tables flattened; paths are relative to `file`. Errors in an included file name both files."""
    file = Path(file)
    raw = dict(raw)
    if "energy_tables" in raw:
        energy, area = _included_tables(raw, file, include_root)
        for section, merged in (("energy", energy), ("area", area)):
            inline = raw.get(section, {})
            if isinstance(inline, dict):
                merged.update(flatten_entries(inline))
                raw[section] = merged
    for section in ("energy", "area"):
        if isinstance(raw.get(section), dict):
            raw[section] = flatten_entries(raw[section])
    return raw


def hardware_from_toml_text(text: str, file: str | Path, include_root: Path | None = None) -> Hardware:
    """A Hardware from TOML source; `file` locates errors and resolves `energy_tables` paths (confined to its
    folder tree, or to `include_root`)."""
    file = Path(file)
    raw = merge_energy_tables(parse_toml(text, file), file, include_root)
    _resolve_preset(raw, file, text)
    raw["source_file"] = str(file)
    return validate_hardware(raw, file, _toml_locator(text))


def load_hardware_toml(path: str | Path, include_root: Path | None = None) -> Hardware:
    """Our hardware TOML file as a validated Hardware (source_file = `path`)."""
    path = Path(path)
    return hardware_from_toml_text(read_text(path), path, include_root)


def _plain(value: Any) -> Any:
    """model_dump output as TOML-writable data: no None (absent keys), tuples as arrays."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items() if inner is not None}
    if isinstance(value, (list, tuple)):
        return [_plain(inner) for inner in value]
    return value


def dump_hardware_toml(hw: Hardware) -> str:
    """`hw` as our TOML (every field written, presets and energy tables already resolved inline).

    `load_hardware_toml` of the text gives back `hw` (with source_file set to where it was written).
    """
    import tomli_w  # writing only: loading a config (`sim check`, every run) does not import it

    data = _plain(hw.model_dump(mode="python", exclude={"source_file"}))
    return f"# written by sim.hardware.dump_hardware_toml\n{tomli_w.dumps(data)}"
