"""The system config: accelerators (any hardware configs, mixed kinds) and the links between them.

    name = "four-tpus"
    [[accelerator]]
    name = "chip0"                       # unique; `count = 4` makes chip0..chip3 from one entry
    hw = "tpu_v1_256x256_ws.toml"        # inside this file's folder tree, or a shipped config's name
    [links]
    topology = "ring"                    # ring | mesh | switch | list
    bandwidth_gbytes_per_s = 100.0       # per direction of each link; inf for an ideal link
    latency_ns = 500.0
    energy_pj_per_byte = 10.0
    mesh_cols = 2                        # mesh only
    [[links.link]]                       # list only: a = "chip0", b = "chip1" (+ optional own numbers)

A link is full duplex: each direction is its own resource. A transfer holds every link of its route at once
(cut-through), for the route's summed latency plus bytes over its slowest link.
"""
from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ConfigError
from sim.hardware.spec import Hardware

TOPOLOGIES = ("ring", "mesh", "switch", "list")
SWITCH = "switch"
_LINK_NUMBERS = ("bandwidth_gbytes_per_s", "latency_ns", "energy_pj_per_byte")


@dataclass(frozen=True)
class Accelerator:
    name: str
    hardware: Hardware
    clock_mhz: float

    def ns(self, cycles: float) -> float:
        return cycles * 1000.0 / self.clock_mhz


@dataclass(frozen=True)
class Link:
    """One full-duplex link between two nodes (accelerator names, or "switch")."""

    a: str
    b: str
    bandwidth_gbytes_per_s: float
    latency_ns: float
    energy_pj_per_byte: float

    @property
    def name(self) -> str:
        return f"{self.a}-{self.b}"

    def transfer_ns(self, size_bytes: float) -> float:
        return size_bytes / self.bandwidth_gbytes_per_s if math.isfinite(self.bandwidth_gbytes_per_s) else 0.0


@dataclass(frozen=True)
class System:
    name: str
    accelerators: tuple[Accelerator, ...]
    links: tuple[Link, ...] = ()
    topology: str = "list"
    source_file: str = ""

    def __post_init__(self) -> None:
        names = [a.name for a in self.accelerators]
        if not names:
            raise ConfigError("a system needs at least one accelerator", file=self.source_file or None,
                              field="accelerator")
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})[0]
            raise ConfigError("accelerator named twice", file=self.source_file or None, field="accelerator.name",
                              value=twice, allowed="unique names")
        nodes = set(names) | {SWITCH}
        for index, link in enumerate(self.links):
            for end in (link.a, link.b):
                if end not in nodes:
                    raise ConfigError(f"link {link.name} ends at an accelerator that does not exist",
                                      file=self.source_file or None, field=f"links.link[{index}]", value=end,
                                      allowed=", ".join(names))
            if link.a == link.b:
                raise ConfigError("a link must join two different nodes", file=self.source_file or None,
                                  field=f"links.link[{index}]", value=link.a)

    def accelerator(self, name: str) -> Accelerator:
        for acc in self.accelerators:
            if acc.name == name:
                return acc
        raise ConfigError("no such accelerator in the system", file=self.source_file or None, field="accelerator",
                          value=name, allowed=", ".join(a.name for a in self.accelerators))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accelerators)

    def route(self, source: str, destination: str) -> tuple[tuple[Link, str], ...]:
        """The links from `source` to `destination` (fewest hops; ties broken by link order), each with the node
        it leaves from, so a direction is (link, from). MappingError-free: ConfigError when unconnected."""
        if source == destination:
            return ()
        adjacency: dict[str, list[tuple[Link, str]]] = {}
        for link in self.links:
            adjacency.setdefault(link.a, []).append((link, link.b))
            adjacency.setdefault(link.b, []).append((link, link.a))
        previous: dict[str, tuple[Link, str]] = {source: None}  # type: ignore[dict-item]
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for link, other in adjacency.get(node, ()):
                if other not in previous and (other == destination or other == SWITCH or other in self.names):
                    previous[other] = (link, node)
                    queue.append(other)
        if destination not in previous:
            raise ConfigError(f"no route from {source} to {destination}: the links do not connect them",
                              file=self.source_file or None, field="links",
                              allowed="links joining every pair of accelerators that exchange data")
        hops = []
        node = destination
        while node != source:
            link, before = previous[node]
            hops.append((link, before))
            node = before
        return tuple(reversed(hops))


def _number(table: dict, key: str, where: str, path: Path, default: float | None = None, *,
            infinite: bool = False) -> float:
    value = table.get(key, default)
    if value is None:
        raise ConfigError("missing field", file=path, field=f"{where}.{key}", allowed="a number >= 0")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or math.isnan(value) \
            or (math.isinf(value) and not infinite):
        raise ConfigError("must be a number >= 0", file=path, field=f"{where}.{key}", value=value,
                          allowed="a number >= 0" + (" or inf" if infinite else ""))
    return float(value)


def _link(a: str, b: str, numbers: dict, where: str, path: Path) -> Link:
    bandwidth = _number(numbers, "bandwidth_gbytes_per_s", where, path, infinite=True)
    if bandwidth == 0:
        raise ConfigError("must be > 0", file=path, field=f"{where}.bandwidth_gbytes_per_s", value=bandwidth,
                          allowed="a bandwidth > 0, or inf")
    return Link(a, b, bandwidth, _number(numbers, "latency_ns", where, path, 0.0),
                _number(numbers, "energy_pj_per_byte", where, path, 0.0))


def topology_links(names: tuple[str, ...], topology: str, numbers: dict, path: Path,
                   explicit: list | None = None, mesh_cols: int | None = None) -> tuple[Link, ...]:
    """The links a topology makes between `names` (in order), all with the same numbers but explicit lists."""
    if topology not in TOPOLOGIES:
        raise ConfigError("unknown topology", file=path, field="links.topology", value=topology,
                          allowed=", ".join(TOPOLOGIES))
    if topology == "list":
        links = []
        for index, entry in enumerate(explicit or []):
            where = f"links.link[{index}]"
            if not isinstance(entry, dict) or not {"a", "b"} <= set(entry):
                raise ConfigError("a link needs its two ends", file=path, field=where, allowed='a = "...", b = "..."')
            unknown = sorted(set(entry) - {"a", "b", *_LINK_NUMBERS})
            if unknown:
                raise ConfigError("unknown key", file=path, field=f"{where}.{unknown[0]}",
                                  allowed="a, b, " + ", ".join(_LINK_NUMBERS))
            links.append(_link(str(entry["a"]), str(entry["b"]), {**numbers, **entry}, where, path))
        return tuple(links)
    n = len(names)
    if topology == "switch":
        return tuple(_link(name, SWITCH, numbers, "links", path) for name in names)
    if topology == "ring":
        pairs = [(names[i], names[(i + 1) % n]) for i in range(n)] if n > 2 else ([(names[0], names[1])] if n == 2
                                                                                   else [])
        return tuple(_link(a, b, numbers, "links", path) for a, b in pairs)
    cols = mesh_cols or max(1, int(math.isqrt(n)))
    if isinstance(cols, bool) or not isinstance(cols, int) or cols < 1 or n % cols:
        raise ConfigError("mesh_cols must divide the number of accelerators", file=path, field="links.mesh_cols",
                          value=cols, allowed=f"a divisor of {n}")
    pairs = []
    for i in range(n):
        if (i + 1) % cols:
            pairs.append((names[i], names[i + 1]))
        if i + cols < n:
            pairs.append((names[i], names[i + cols]))
    return tuple(_link(a, b, numbers, "links", path) for a, b in pairs)


def _clock_of(hw: Hardware) -> float | None:
    if hw.pe_array is not None:
        return hw.pe_array.clock_mhz
    if hw.reram is not None:
        return hw.reram.clock_mhz
    return None


# Accelerators one system config may describe (counts included): the partitioner and the clock scale with it.
MAX_ACCELERATORS = 4096


# The shipped hardware configs (package data: a link to hw_configs/ in the source tree), which a system config may
# name by their file name alone.
SHIPPED_HW = Path(__file__).resolve().parents[1] / "hardware" / "shipped"
_HW_SUFFIXES = (".toml", ".cfg", ".m")
HW_ALLOWED = ("a path relative to the system config, inside its folder tree (or pass --include-root DIR), or the "
              "file name of a shipped hardware config (e.g. tpu_v1_256x256_ws.toml)")


def shipped_hardware(name: str) -> Path | None:
    """The shipped hardware config called `name` (`tpu_v1_256x256_ws.toml`, `scalesim/google.cfg`), or None."""
    if not name.endswith(_HW_SUFFIXES) or name.startswith("energy/") or any(ord(c) < 32 for c in name):
        return None
    candidates = {p.relative_to(SHIPPED_HW).as_posix() for folder in (SHIPPED_HW, *SHIPPED_HW.glob("*/"))
                  for p in folder.glob("*") if p.suffix in _HW_SUFFIXES and p.is_file()}
    return SHIPPED_HW / name if name in candidates else None


def hardware_path(name: str, path: Path, field: str, include_root: Path | None = None) -> Path:
    """Where an accelerator's `hw` points: a file inside the system config's folder tree (or `include_root`'s),
    confined like an energy-table include; else, when no such file exists, a shipped config of that name."""
    from sim.hardware.toml_loader import resolve_include
    from sim.inputs import MAX_CONFIG_BYTES, read_bytes

    if not Path(name).is_absolute() and not (path.parent / name).exists():
        shipped = shipped_hardware(name)
        if shipped is not None:
            return shipped
    hw_path = resolve_include(name, path, include_root, field=field, allowed=HW_ALLOWED)
    if not hw_path.exists():
        raise ConfigError("hardware config not found", file=path, field=field, value=name, allowed=HW_ALLOWED)
    if hw_path.suffix.lower() not in _HW_SUFFIXES:
        raise ConfigError("unsupported hardware config format", file=path, field=field, value=name,
                          allowed=".toml (our hardware TOML), .cfg (a SCALE-Sim .cfg), .m (a MAESTRO hardware .m)")
    # A directory, FIFO or device (or an oversized file) is refused here, naming the system config and field.
    read_bytes(hw_path, ConfigError, limit=MAX_CONFIG_BYTES, what=f"hardware config {hw_path.name}", field=field,
               file=path)
    return hw_path


def load_system(path: str | Path, include_root: str | Path | None = None) -> System:
    """A system config (TOML); every problem is a ConfigError naming the file and field. Accelerator `hw` paths
    stay inside the config's folder tree unless `include_root` widens it (as energy-table includes)."""
    from sim.hardware.load import load_hardware

    path = Path(path)
    include_root = Path(include_root) if include_root is not None else None
    table = _read_table(path)
    unknown = sorted(set(table) - {"name", "description", "accelerator", "links", "partition"})
    if unknown:
        raise ConfigError("unknown key", file=path, field=unknown[0],
                          allowed="name, description, accelerator, links, partition")
    entries = table.get("accelerator")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("a system needs at least one [[accelerator]]", file=path, field="accelerator")
    accelerators: list[Accelerator] = []
    for index, entry in enumerate(entries):
        where = f"accelerator[{index}]"
        unknown = sorted(set(entry) - {"name", "hw", "count", "clock_mhz"})
        if unknown:
            raise ConfigError("unknown key", file=path, field=f"{where}.{unknown[0]}", allowed="name, hw, count, clock_mhz")
        if "hw" not in entry or "name" not in entry:
            raise ConfigError("an accelerator needs a name and a hw config path", file=path, field=where,
                              allowed='name = "...", hw = "path/to/config.toml"')
        if not isinstance(entry["hw"], str):
            raise ConfigError("must be a string", file=path, field=f"{where}.hw", value=entry["hw"],
                              allowed=HW_ALLOWED)
        hw_path = hardware_path(entry["hw"], path, f"{where}.hw", include_root)
        shipped = hw_path.is_relative_to(SHIPPED_HW)  # ours: its own energy tables, not the user's root
        hardware = load_hardware(hw_path, include_root=None if shipped else include_root)
        count = entry.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ACCELERATORS:
            raise ConfigError("must be a whole number", file=path, field=f"{where}.count", value=count,
                              allowed=f">= 1 and <= {MAX_ACCELERATORS}")
        clock = entry.get("clock_mhz", _clock_of(hardware))
        if clock is None:
            raise ConfigError(f"hardware '{hardware.name}' has no clock: give the accelerator one", file=path,
                              field=f"{where}.clock_mhz", allowed="a clock in MHz > 0")
        clock = _number({"clock_mhz": clock}, "clock_mhz", where, path)
        if clock <= 0:
            raise ConfigError("must be > 0", file=path, field=f"{where}.clock_mhz", value=clock)
        name = str(entry["name"])
        for copy in range(count):
            accelerators.append(Accelerator(f"{name}{copy}" if count > 1 else name, hardware, clock))
    links_table = table.get("links", {})
    names = tuple(a.name for a in accelerators)
    links: tuple[Link, ...] = ()
    topology = "list"
    if links_table:
        unknown = sorted(set(links_table) - {"topology", "mesh_cols", "link", *_LINK_NUMBERS})
        if unknown:
            raise ConfigError("unknown key", file=path, field=f"links.{unknown[0]}",
                              allowed="topology, mesh_cols, link, " + ", ".join(_LINK_NUMBERS))
        topology = links_table.get("topology", "list")
        numbers = {k: links_table[k] for k in _LINK_NUMBERS if k in links_table}
        links = topology_links(names, topology, numbers, path, links_table.get("link"),
                               links_table.get("mesh_cols"))
    name = table.get("name", path.stem)
    if not isinstance(name, str) or not re.match(r"\S", name):
        raise ConfigError("must be a non-empty string", file=path, field="name", value=name)
    return System(name, tuple(accelerators), links, topology, str(path))


def raw_partition(path: str | Path) -> Any:
    """The [partition] table of a system config, or None."""
    return _read_table(Path(path)).get("partition")


def _read_table(path: Path) -> dict:
    """The system config's TOML, read bounded like every config (regular file, size and shape limits)."""
    from sim.hardware.toml_loader import parse_toml, read_text

    return parse_toml(read_text(path), path)
