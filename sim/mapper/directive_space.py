"""The mapper's space on a directive array (MAESTRO-style PE array): per layer, dataflows in MAESTRO's directive
language over its convolution dimensions (N, K, C, Y, X, R, S; a GEMM / FC layer as the 1x1 convolution it is
stored as), each translated into the one mapping record by sim.mapping.directives.

A candidate chooses:
- the **spatial unrolling**: the dimension spread over the PEs (K, C, output rows Y or output columns X), or over
  clusters with a second dimension spread over each cluster's PEs (`Cluster(size, P)`, two levels);
- the **loop order** of the temporal maps (N outermost; R and S whole and innermost, so a PE sees whole windows)
  — the order axis, a permutation of the temporal dimensions;
- the **tile sizes** of the temporal maps: K and C tiles, and the output rows / columns a Y / X step covers.

Pruning before scoring: capacity (a PE's double-buffered tiles of input, filter and output must fit L1, as
MAESTRO sizes L1; applied only where the smallest tile fits, since neither model stalls on L1), and symmetry (loop orders that differ only in where a single-position loop sits walk the same
steps: one canonical order is kept), and cost (more than MAX_STEPS top-level steps: tiles so fine that a step
moves a few words, and the models' time grows with the steps). Dominance pruning is not applied (a larger tile is not always better: it trades
NoC bursts against compute per step, and the schedule decides).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from sim.errors import MappingError, TraceError
from sim.hardware.spec import Hardware
from sim.mapping.directives import maestro_problem, map_directive
from sim.mapping.record import Mapping
from sim.workload.layer import Layer
from sim.workload.maestro import parse_dataflow

SPATIAL_DIMS = ("K", "C", "Y", "X")
TILE_LADDER = (1, 4, 16, 64)  # K / C tile sizes tried (plus the whole dimension)
OUTPUT_LADDER = (1, 4)  # output rows / columns per Y / X step (plus all of them)
CLUSTER_SIZES = (8, 16, 64)  # PEs per cluster of the two-level family
# Candidates with more top-level steps are not scored: a step costs the models time (tabulation, pipeline) and
# such fine tiles leave the PEs mostly idle per step; the shipped mappings are scored whatever their steps.
MAX_STEPS = 50_000
SHIPPED = Path(__file__).resolve().parent / "mappings"  # a link to the repository's mappings/ (package data)


@dataclass(frozen=True)
class DirectiveCandidate:
    """One point of the space: its name (spatial / order / tiles) and its directives in MAESTRO's syntax."""

    name: str
    text: str


@dataclass(frozen=True)
class DirectiveSpace:
    """A layer's candidates after pruning, with the counts the report gives."""

    candidates: tuple[DirectiveCandidate, ...]
    raw_size: int
    pruned: tuple[tuple[str, int], ...]

    @property
    def size(self) -> int:
        return len(self.candidates)


def _ladder(extent: int, steps: tuple[int, ...]) -> list[int]:
    return sorted({s for s in steps if s < extent} | {extent})


def _map(kind: str, dim: str, tile: int, dims: dict[str, int], stride: dict[str, int]) -> tuple[str, int]:
    """(directive text, positions) of a map of `tile` (output rows / columns for Y / X) along `dim`."""
    if dim in ("Y", "X"):
        window = dims["R" if dim == "Y" else "S"]
        outputs = (dims[dim] - window) // stride[dim] + 1
        tile = min(tile, outputs)
        size, offset = (tile - 1) * stride[dim] + window, tile * stride[dim]
        return f"{kind}({size},{offset}) {dim};", -(-outputs // tile)
    tile = min(tile, dims[dim])
    return f"{kind}({tile},{tile}) {dim};", -(-dims[dim] // tile)


def _l1_bytes(tiles: dict[str, int], dims: dict[str, int], stride: dict[str, int], word_bytes: int) -> int:
    """MAESTRO's L1 requirement of a PE tile: 2 x (input + filter + output) elements (output over input rows)."""
    rows = (tiles["Y"] - 1) * stride["Y"] + dims["R"] if tiles["Y"] else dims["Y"]
    cols = (tiles["X"] - 1) * stride["X"] + dims["S"] if tiles["X"] else dims["X"]
    input_ = tiles["C"] * rows * cols
    filter_ = tiles["K"] * tiles["C"] * dims["R"] * dims["S"]
    output = tiles["K"] * max(tiles["Y"], 1) * max(tiles["X"], 1)
    return 2 * (input_ + filter_ + output) * word_bytes


def directive_space(layer: Layer, hw: Hardware) -> DirectiveSpace:
    """The pruned candidates of `layer` on `hw.directive_array` (see the module docstring)."""
    spec = hw.directive_array
    _, dims, stride_y, stride_x = maestro_problem(layer, as_conv=True)
    stride = {"Y": stride_y, "X": stride_x}
    out_rows = (dims["Y"] - dims["R"]) // stride_y + 1
    out_cols = (dims["X"] - dims["S"]) // stride_x + 1
    tiles = {"K": _ladder(dims["K"], TILE_LADDER), "C": _ladder(dims["C"], TILE_LADDER),
             "Y": _ladder(out_rows, OUTPUT_LADDER), "X": _ladder(out_cols, OUTPUT_LADDER)}
    seen: set[str] = set()
    out: list[DirectiveCandidate] = []
    raw = capacity = symmetry = cost = 0
    tail = "TemporalMap(Sz(R),Sz(R)) R; TemporalMap(Sz(S),Sz(S)) S;"
    clusters = [None] + [c for c in CLUSTER_SIZES if c < spec.num_pes]
    # L1 prunes only where the smallest PE tile fits it: neither model stalls on L1 (MAESTRO reports the
    # requirement without enforcing it; accelerator_1's 100 B holds no 7x7 window tile).
    smallest = _l1_bytes({"K": 1, "C": 1, "Y": 1, "X": 1}, dims, stride, spec.word_bytes)
    enforce_l1 = smallest <= spec.l1_size_bytes
    for spatial, cluster in itertools.product(SPATIAL_DIMS, clusters):
        inner_options = [None] if cluster is None else [d for d in ("K", "C") if d != spatial]
        temporal_dims = [d for d in SPATIAL_DIMS if d != spatial]
        for inner, order in itertools.product(inner_options, itertools.permutations(temporal_dims)):
            for sizes in itertools.product(*(tiles[d] for d in order)):
                raw += 1
                tile = dict(zip(order, sizes))
                leaf = {"K": tile.get("K", 1), "C": tile.get("C", 1), "Y": tile.get("Y", 1), "X": tile.get("X", 1)}
                if inner is not None:
                    leaf[inner] = 1
                if enforce_l1 and _l1_bytes(leaf, dims, stride, spec.word_bytes) > spec.l1_size_bytes:
                    capacity += 1
                    continue
                spatial_text, spread = _map("SpatialMap", spatial, 1, dims, stride)
                units = spec.num_pes // cluster if cluster else spec.num_pes
                steps = -(-spread // max(units, 1))
                maps = []
                single = []
                for d in order:
                    text, positions = _map("TemporalMap", d, tile[d], dims, stride)
                    steps *= positions
                    (single if positions == 1 else maps).append(text)
                if steps > MAX_STEPS:
                    cost += 1
                    continue
                # Symmetry: single-position loops sit innermost in a fixed order (where they sit changes nothing).
                body = " ".join(maps + sorted(single))
                if inner is None:
                    text = f"TemporalMap(1,1) N; {spatial_text} {body} {tail}"
                else:
                    text = (f"TemporalMap(1,1) N; {spatial_text} {body} {tail} Cluster({cluster},P); "
                            f"SpatialMap(1,1) {inner}; {tail}")
                if text in seen:
                    symmetry += 1
                    continue
                seen.add(text)
                label = f"{spatial}-P" if inner is None else f"{spatial}{inner}-P{cluster}"
                order_text = ">".join(d for d in order if tile[d] < {"K": dims["K"], "C": dims["C"],
                                                                     "Y": out_rows, "X": out_cols}[d])
                tiles_text = ",".join(f"{d}{tile[d]}" for d in order)
                out.append(DirectiveCandidate(f"{label} {order_text or '-'} {tiles_text}", text))
    return DirectiveSpace(tuple(out), raw, (("capacity", capacity), ("symmetry", symmetry), ("steps", cost)))


def candidate_record(layer: Layer, hw: Hardware, candidate: DirectiveCandidate) -> Mapping:
    """The candidate as the one mapping record (MappingError if the directives do not map this layer)."""
    try:
        dataflow = parse_dataflow(candidate.text, file="<mapper>")
    except TraceError as error:  # a generated text is always valid; kept as a MappingError if not
        raise MappingError(f"generated dataflow does not parse: {error}", field=layer.name) from error
    record = map_directive(layer, hw, dataflow)
    return Mapping(name=candidate.name, problem=record.problem, levels=record.levels)


def shipped_baselines() -> tuple[DirectiveCandidate, ...]:
    """The shipped directive mappings (mappings/*.m but the systolic ones): scored and validated beside the
    winners, so the answer is never worse than the best of them."""
    return tuple(DirectiveCandidate(path.stem, path.read_text()) for path in sorted(SHIPPED.glob("*.m"))
                 if not path.stem.startswith("systolic_"))
