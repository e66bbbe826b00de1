"""SCALE-Sim .cfg (INI) -> Hardware, so SCALE-Sim users can run their configs unchanged.

What each key becomes is in docs/hardware.md. In short: array size and dataflow map directly, SRAM sizes are
KiB of 1-byte words (SCALE-Sim's hard-wired word), `InterfaceBandwidth = CALC` (SCALE-Sim estimates the
bandwidth that never stalls) becomes an unlimited DRAM, `USER` becomes per-operand DRAM ports, and the
compute-cycle convention is SCALE-Sim's. Where SCALE-Sim would silently do something else (an unknown dataflow
runs as os) or a feature is not modelled here (the optimized sparse mapping, Ramulator traces, custom layouts),
we raise. `SparsitySupport = true` becomes a [sparsity] section (SparseRep, BlockSize, seed); the N:M ratio of
each layer comes from the topology.
"""
from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.hardware.spec import DATAFLOWS, SPARSE_REPRESENTATIONS, Hardware
from sim.hardware.toml_loader import merge_energy_tables, read_text
from sim.hardware.validation import validate_hardware

# Package data (sim/hardware/energy links to hw_configs/energy and is copied into a wheel), so the default
# table is found without the source tree.
ENERGY_DIR = Path(__file__).resolve().parent / "energy"
# The digital table a .cfg gets: SCALE-Sim words are 1 byte, which is what this table prices.
DEFAULT_ENERGY_TABLE = ENERGY_DIR / "horowitz_45nm.toml"

# Every key SCALE-Sim 3.0.0 knows, by section, spelled as SCALE-Sim spells it (matching is case-insensitive).
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    "general": ("run_name",),
    "architecture_presets": (
        "ArrayHeight", "ArrayWidth", "IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB", "IfmapOffset",
        "FilterOffset", "OfmapOffset", "Dataflow", "Bandwidth", "MemoryBanks", "ReadRequestBuffer",
        "WriteRequestBuffer",
    ),
    "layout": (
        "IfmapCustomLayout", "IfmapSRAMBankBandwidth", "IfmapSRAMBankNum", "IfmapSRAMBankPort",
        "FilterCustomLayout", "FilterSRAMBankBandwidth", "FilterSRAMBankNum", "FilterSRAMBankPort",
    ),
    "sparsity": ("SparsitySupport", "SparseRep", "OptimizedMapping", "BlockSize", "RandomNumberGeneratorSeed"),
    "run_presets": ("InterfaceBandwidth", "UseRamulatorTrace"),
    "network_presets": ("TopologyCsvLoc", "LayoutCsvLoc"),
}
REQUIRED_SECTIONS = ("general", "architecture_presets", "run_presets")
INTERFACE_MODES = ("CALC", "USER")
# Features SCALE-Sim has and we do not model: on, they are an error rather than a silently different result.
UNMODELLED_SWITCHES = {
    ("run_presets", "UseRamulatorTrace"): "Ramulator latency traces are not read; use our TOML with "
                                          "[dram] model = \"bank_row\" for a bank/row DRAM",
    ("layout", "IfmapCustomLayout"): "custom SRAM layouts (bank conflicts) are not modelled",
    ("layout", "FilterCustomLayout"): "custom SRAM layouts (bank conflicts) are not modelled",
}
# Our field path -> the .cfg key it came from, so schema errors point at the user's own key.
FIELD_ORIGIN = {
    "name": ("general", "run_name"),
    "pe_array.rows": ("architecture_presets", "ArrayHeight"),
    "pe_array.cols": ("architecture_presets", "ArrayWidth"),
    "pe_array.dataflow": ("architecture_presets", "Dataflow"),
    "buffers.ifmap.size_kb": ("architecture_presets", "IfmapSramSzkB"),
    "buffers.filter.size_kb": ("architecture_presets", "FilterSramSzkB"),
    "buffers.ofmap.size_kb": ("architecture_presets", "OfmapSramSzkB"),
    "dram.ifmap_bandwidth_bytes_per_cycle": ("layout", "IfmapSRAMBankBandwidth"),
    "dram.filter_bandwidth_bytes_per_cycle": ("layout", "FilterSRAMBankBandwidth"),
    "dram.ofmap_bandwidth_bytes_per_cycle": ("architecture_presets", "Bandwidth"),
}
_BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


def cfg_line_of(text: str, section: str, key: str | None = None) -> int | None:
    """Line of `key` in `section` (or of the section header), matched case-insensitively."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        header = _SECTION.match(line)
        if header:
            current = header.group(1).strip().lower()
            if key is None and current == section.lower():
                return number
            continue
        if key is not None and current == section.lower():
            name = re.split(r"[:=]", line, maxsplit=1)[0].strip().lower()
            if name == key.lower():
                return number
    return None


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


class _Cfg:
    """The parsed file with located, typed access to its values (all errors are ConfigError)."""

    def __init__(self, text: str, file: Path) -> None:
        self.text, self.file = text, file
        parser = configparser.ConfigParser(interpolation=None, strict=True)
        try:
            parser.read_string(text, source=str(file))
        except configparser.Error as error:
            raise ConfigError(f"not a valid INI file: {_first_line(error)}", file=file,
                              line=_error_line(error)) from None
        self.sections: dict[str, configparser.SectionProxy] = {}
        for name in parser.sections():
            canonical = name.strip().lower()
            if canonical not in KNOWN_KEYS:
                raise ConfigError("unknown section", file=file, field=name, line=cfg_line_of(text, name),
                                  allowed=", ".join(KNOWN_KEYS))
            if canonical in self.sections:
                raise ConfigError("section given twice (names are case-insensitive)", file=file, field=name,
                                  line=cfg_line_of(text, name))
            self.sections[canonical] = parser[name]
            self._check_keys(canonical, parser[name])
        for section in REQUIRED_SECTIONS:
            if section not in self.sections:
                raise ConfigError("missing required section", file=file, field=section,
                                  allowed=", ".join(f"[{name}]" for name in REQUIRED_SECTIONS) + " are required")

    def _check_keys(self, section: str, proxy: configparser.SectionProxy) -> None:
        if section == "network_presets":
            return  # topology locations: we take the topology from the command line and ignore these
        known = {key.lower() for key in KNOWN_KEYS[section]}
        for key in proxy:
            if key not in known:
                raise ConfigError("unknown key", file=self.file, field=f"{section}.{key}",
                                  line=cfg_line_of(self.text, section, key),
                                  allowed=", ".join(KNOWN_KEYS[section]))

    def where(self, section: str, key: str) -> dict[str, Any]:
        return {"file": self.file, "field": f"{section}.{key}", "line": cfg_line_of(self.text, section, key)}

    def raw(self, section: str, key: str, required: bool = True) -> str | None:
        proxy = self.sections.get(section)
        value = None if proxy is None else proxy.get(key.lower())
        if value is None or value.strip() == "":
            if required:
                extra = "" if proxy is not None else f" (section [{section}] is missing)"
                raise ConfigError(f"missing required key{extra}", **self.where(section, key))
            return None
        return value.strip()

    def integer(self, section: str, key: str, *, minimum: int = 1, required: bool = True,
                text: str | None = None) -> int | None:
        value = self.raw(section, key, required) if text is None else text
        if value is None:
            return None
        if not _INTEGER.fullmatch(value):  # ASCII digits only: int() also takes '1_000', '١٢' and 5,000 digits
            too_long = _INTEGER.fullmatch(value[:19]) is not None
            raise ConfigError("integer too long" if too_long else "not an integer",
                              value=f"{len(value)} digits" if too_long else value,
                              allowed=f"an integer >= {minimum}" + (" of at most 18 digits" if too_long else ""),
                              **self.where(section, key))
        number = int(value)
        if number < minimum:
            raise ConfigError("out of range", value=number, allowed=f"an integer >= {minimum}",
                              **self.where(section, key))
        return number

    def boolean(self, section: str, key: str) -> bool:
        value = self.raw(section, key, required=False)
        if value is None:
            return False
        if value.lower() not in _BOOLEANS:
            raise ConfigError("not a boolean", value=value, allowed="True or False", **self.where(section, key))
        return _BOOLEANS[value.lower()]

    def choice(self, section: str, key: str, choices: tuple[str, ...], note: str = "") -> str:
        value = self.raw(section, key)
        for choice in choices:
            if value.lower() == choice.lower():
                return choice
        raise ConfigError(f"unknown value{note}", value=value, allowed=", ".join(choices), **self.where(section, key))


def _first_line(error: configparser.Error) -> str:
    errors = getattr(error, "errors", None)
    if errors and not isinstance(error, configparser.MissingSectionHeaderError):
        return f"cannot parse line {errors[0][1]}; expected `key = value`, `key : value` or [section]"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def _error_line(error: configparser.Error) -> int | None:
    lineno = getattr(error, "lineno", None)  # MissingSectionHeaderError, Duplicate*Error
    if lineno is not None:
        return int(lineno)
    errors = getattr(error, "errors", None)  # ParsingError: [(line, text), ...]
    return int(errors[0][0]) if errors else None


def _dram(cfg: _Cfg) -> dict[str, Any]:
    mode = cfg.choice("run_presets", "InterfaceBandwidth", INTERFACE_MODES)
    # SCALE-Sim has no burst granularity (CALC) and counts its own USER-mode lines; we move exact bytes.
    if mode == "CALC":
        # CALC: SCALE-Sim reports the bandwidth needed never to stall, so the DRAM never limits compute.
        return {"bandwidth_bytes_per_cycle": float("inf"), "latency_cycles": 0, "burst_bytes": 1}
    word_bytes = 1  # SCALE-Sim's hard-wired word size
    ifmap = cfg.integer("layout", "IfmapSRAMBankBandwidth")
    filt = cfg.integer("layout", "FilterSRAMBankBandwidth")
    bandwidth = cfg.raw("architecture_presets", "Bandwidth")
    # Only the first element of the comma list is read, as the OFMAP drain bandwidth (SCALE-Sim 3.0.0).
    ofmap = cfg.integer("architecture_presets", "Bandwidth", text=bandwidth.split(",")[0].strip())
    return {
        "ifmap_bandwidth_bytes_per_cycle": float(ifmap * word_bytes),
        "filter_bandwidth_bytes_per_cycle": float(filt * word_bytes),
        "ofmap_bandwidth_bytes_per_cycle": float(ofmap * word_bytes),
        # The shared channel carries all three ports at once, so it is their sum and never the binding limit.
        "bandwidth_bytes_per_cycle": float((ifmap + filt + ofmap) * word_bytes),
        "latency_cycles": 1,  # SCALE-Sim USER mode without Ramulator: 1 cycle per read line
        "burst_bytes": 1,
    }


def hardware_from_cfg_text(text: str, file: str | Path, *,
                           energy_table: str | Path | None = DEFAULT_ENERGY_TABLE) -> Hardware:
    """A Hardware from SCALE-Sim .cfg source; `energy_table` (None: none) is attached as its [energy]."""
    file = Path(file)
    cfg = _Cfg(text, file)
    for (section, key), why in UNMODELLED_SWITCHES.items():
        if cfg.boolean(section, key):
            raise ConfigError(f"not supported: {why}", value=cfg.raw(section, key), allowed="False",
                              **cfg.where(section, key))
    dataflow = cfg.choice("architecture_presets", "Dataflow", DATAFLOWS,
                          note=" (SCALE-Sim would silently run 'os'; we refuse)")
    sizes = {operand: cfg.integer("architecture_presets", f"{operand.capitalize()}SramSzkB")
             for operand in ("ifmap", "filter", "ofmap")}
    dram = _dram(cfg)
    raw: dict[str, Any] = {
        "name": cfg.raw("general", "run_name"),
        "description": f"SCALE-Sim config {file.name}",
        "source_file": str(file),
        "pe_array": {
            "rows": cfg.integer("architecture_presets", "ArrayHeight"),
            "cols": cfg.integer("architecture_presets", "ArrayWidth"),
            "dataflow": dataflow,
            "cycle_convention": "scalesim",
            # SCALE-Sim's buffers for its report columns, CALC and USER mode (docs/scalesim_compat.md)
            "memory_convention": "scalesim",
        },
        # Sizes are KiB of 1-byte words, double-buffered half active / half prefetch (SCALE-Sim's split).
        "buffers": {operand: {"size_kb": float(size), "word_bytes": 1, "double_buffered": True}
                    for operand, size in sizes.items()},
        "dram": dram,
    }
    if cfg.boolean("sparsity", "SparsitySupport"):
        raw["sparsity"] = {
            "representation": cfg.choice("sparsity", "SparseRep", SPARSE_REPRESENTATIONS),
            "block_size": cfg.integer("sparsity", "BlockSize", required=False) or 8,
            "seed": cfg.integer("sparsity", "RandomNumberGeneratorSeed", minimum=0, required=False) or 0,
            "optimized_mapping": cfg.boolean("sparsity", "OptimizedMapping"),
        }
    if energy_table is not None:
        table = Path(energy_table)
        if not table.is_file():
            raise ConfigError("the default energy table for SCALE-Sim configs is missing", file=file,
                              value=str(table), allowed="an existing energy table (see docs/hardware.md)")
        raw["energy_tables"] = [str(table.resolve())]
        raw = merge_energy_tables(raw, file, include_root=table.resolve().parent)  # ours, not the user's

    def locate(field: str) -> tuple[str, int | None]:
        section, key = FIELD_ORIGIN.get(field, (None, None))
        if section is None:
            return field, None
        return f"{section}.{key}", cfg_line_of(text, section, key)

    return validate_hardware(raw, file, locate)


def load_scalesim_cfg(path: str | Path, *, energy_table: str | Path | None = DEFAULT_ENERGY_TABLE) -> Hardware:
    """A SCALE-Sim .cfg file as a validated Hardware (source_file = `path`)."""
    path = Path(path)
    return hardware_from_cfg_text(read_text(path), path, energy_table=energy_table)
