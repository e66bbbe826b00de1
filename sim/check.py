"""`sim check FILE...`: validate configs, traces, mappings and sweep specs, one line per file.

The typer command (`sim.cli.check`) calls `check_files`. A plain `sim check FILE...` (no option) is also run from
`sim/__main__.py` without typer and click (`plain_check_files`, `run_check_command`): importing them is a sixth of
a hardware check's start-up and two fifths of a trace check's (docs/robustness.md, "Start-up"). Both ways print
the same lines and exit with the same code; anything typer would parse differently (an option, `--`, `-`, an empty
or unreadable name, a shell-completion request) goes through typer.
"""
from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Optional

from sim.errors import SimError

# Files `sim check` validates; anything else found in a folder (README.md ...) is documentation.
CHECKED_SUFFIXES = (".toml", ".cfg", ".m", ".csv", ".onnx")
DOCUMENTATION_SUFFIXES = (".md", ".txt", ".rst")


def check_files(files: list[Path], batch: Optional[int] = None, include_root: Optional[Path] = None) -> int:
    """Check each file (folders: the checkable files below them); print `ok` or the error; return the failures."""
    failed = 0
    for path in _files_to_check(files):  # plain lines: no rich import, so a check starts fast
        if path.suffix.lower() in DOCUMENTATION_SUFFIXES:
            print(f"skip  {path}  (documentation)")
            continue
        try:
            print(f"ok    {path}  ({_check_one(path, batch, include_root)})")
        except SimError as err:
            failed += 1
            print(f"error {err}", file=sys.stderr)
    return failed


def _files_to_check(paths: list[Path]) -> list[Path]:
    """Named files as given; folders expanded to the checkable files below them, in a stable order."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in CHECKED_SUFFIXES))
        else:
            out.append(path)
    return out


def _check_one(path: Path, batch: Optional[int] = None, include_root: Optional[Path] = None) -> str:
    """Validate one file; returns what it is, or raises SimError."""
    # Each kind's loader imported directly (what sim.api's load_* call), not sim.api: its import is ~1 % of a check.
    suffix = path.suffix.lower()
    maestro_kind = _maestro_file_kind(path) if suffix == ".m" else None
    if maestro_kind == "dataflow":
        from sim.workload.maestro import load_mapping_file

        dataflow = load_mapping_file(path)
        return f"dataflow, {len(dataflow.directives)} directives"
    if suffix in (".toml", ".cfg") or maestro_kind == "hardware":
        keys = _toml_keys(path) if suffix == ".toml" else set()  # read once: what kind of TOML this is
        if "sweep" in keys:
            from sim.sweep import load_sweep_spec

            load_sweep_spec(path)
            return "sweep spec"
        if "accelerator" in keys:
            from sim.system.partition import partition_from_table
            from sim.system.spec import load_system, raw_partition

            machine = load_system(path, include_root=include_root)
            table = raw_partition(path)
            if table is not None:
                partition_from_table(table, machine)
            return f"system '{machine.name}', {len(machine.accelerators)} accelerators, {len(machine.links)} links"
        if _is_energy_table(keys):
            from sim.hardware.energy_table import check_energy_table

            entries = check_energy_table(path)
            return f"energy/area table, {entries} entries"
        from sim.hardware.load import load_hardware

        hardware = load_hardware(path, include_root=include_root)
        return f"hardware '{hardware.name}', {hardware.kind}"
    from sim.workload.load import load_trace

    trace = load_trace(path, batch=batch)
    return f"trace '{trace.name}', {len(trace.layers)} layers"


def _maestro_file_kind(path: Path) -> str:
    """'network', 'dataflow' (a mapping file) or 'hardware': MAESTRO uses .m for all three."""
    from sim.inputs import MAX_TRACE_BYTES, read_bytes

    try:
        text = read_bytes(path, SimError, limit=MAX_TRACE_BYTES).decode(errors="replace")
    except SimError:
        return "network"  # let the trace loader report the unreadable file
    if "Network" in text or "Layer" in text:
        return "network"
    return "dataflow" if "Dataflow" in text or "Map(" in text else "hardware"


def _toml_keys(path: Path) -> set[str]:
    """Top-level keys of a TOML file, read bounded; empty when it cannot be read (the loader then says why)."""
    from sim.hardware.toml_loader import parse_toml, read_text

    try:
        return set(parse_toml(read_text(path), path))
    except SimError:
        return set()


def _is_energy_table(keys: set[str]) -> bool:
    """A shared table (hw_configs/energy/*.toml) has [energy]/[area] entries and no hardware section."""
    return bool(keys & {"energy", "area"}) and keys <= {"description", "energy", "area"}


def plain_check_files(argv: list[str]) -> list[Path] | None:
    """The files of `argv` when it is `check FILE...` and typer would pass every FILE through unchanged; None
    for anything typer must parse itself (an option, `--`, `-`, an empty name, a path that exists but cannot be
    read: typer refuses it with a usage error) and for a shell-completion request (typer answers it)."""
    if len(argv) < 2 or argv[0] != "check":
        return None
    if any(key.startswith("_") and key.endswith("_COMPLETE") for key in os.environ):
        return None
    for arg in argv[1:]:
        if not arg or arg.startswith("-"):
            return None
        try:
            os.stat(arg)
        except OSError:
            continue  # a missing file is ours to report, as it is through typer
        if not os.access(arg, os.R_OK):
            return None
    return [Path(arg) for arg in argv[1:]]


class _QuietFlush:
    """A stream after a broken pipe (`sim check ... | head`): its flushes at exit stay silent, as click's are."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as err:
            if err.errno != errno.EPIPE:
                raise

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def run_check_command(files: list[Path]) -> None:
    """`sim check FILE...` as the typer command runs it: exit 0, 2 if a file failed, 1 on a broken pipe."""
    from sim.entry import run_command

    def command() -> None:
        try:
            failed = check_files(files)
        except OSError as err:
            if err.errno != errno.EPIPE:
                raise
            sys.stdout, sys.stderr = _QuietFlush(sys.stdout), _QuietFlush(sys.stderr)
            sys.exit(1)
        sys.exit(2 if failed else 0)

    run_command(command)
