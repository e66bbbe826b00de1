"""CANNON's tile network: the layers' tiles placed on a mesh of routers spanning the chips, and the traffic
between layers and between the tiles of one layer simulated on its links (contention, not a formula).

- Mesh: each chip is `rows x mesh_cols` routers, `tiles_per_router` tiles each; chips sit side by side, so the
  mesh spans the board and the links between neighbouring chips are chip-to-chip links (their own latency,
  bandwidth and energy). Routing is XY (dimension order, deadlock free on a mesh).
- Tiles: the trace's crossbars are packed in layer order (a layer's crossbars as `CrossbarMapping.placement`
  lists them, then its replicas), `imas_per_tile x crossbars_per_ima` to a *logical* tile. A placement maps
  logical tiles to the board's tile slots: `sequential` (slot = tile, ISAAC's fill order), `random` (seeded,
  a scattered baseline) or `communication_aware` (a greedy that puts each tile where its traffic to the tiles
  placed before it costs the least energy; the cheaper of that and `sequential` is kept).
- Traffic (per image): a layer's ofmap (`input_bits` per element) leaves from the tiles holding its first row
  partition, in proportion to the output columns they hold, and goes to every tile of the next layer in
  proportion to the input rows that tile holds (a row needed on several tiles is sent to each). Inside a
  layer, each tile holding row partitions > 0 of a column partition sends that partition's partial sums
  (`partial_sum_bits` each) to the tile holding row partition 0. Flows are summed per router pair.
- Time: the inter-layer pipeline of `sim.engine.crossbar.pipeline_schedule`, batch by batch, except that a
  batch's outputs count for the next layer only once its partial sums and then its outputs have arrived.
  A message's head crosses each link after the link's hop latency; its body holds each link
  ceil(bytes / bandwidth) cycles from when the link falls free (`sim.engine.noc.Link`), so uncontended it
  arrives hops x latency + ceil(bytes / bandwidth) after it was sent.
- Counts: `tile_noc.flit_hop` (flits x on-chip hops, `noc_flit_bits` flits) and `hypertransport.byte`
  (bytes x chip-link crossings), priced by the hardware's energy table and added to the sending layer.
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np
import simpy

from sim.energy.tables import apply
from sim.engine.noc import Link
from sim.engine.pipeline import batches_of, upstream_needed
from sim.errors import ConfigError
from sim.hardware.spec import Hardware, ReramSpec, TileNocSpec
from sim.mapping.crossbar import CrossbarMapping, ceil_div
from sim.records import ActionCounts, LayerResult

MAX_BATCHES = 128  # the pipeline's batches per layer (as sim.engine.crossbar)
MAX_MESSAGES = 20000  # router-pair messages per layer and run; beyond it batches are sent in groups
REFINE_PASSES = 2  # pairwise-exchange passes after the greedy placement
FLIT_HOP = "tile_noc.flit_hop"
CHIP_BYTE = "hypertransport.byte"


@dataclass(frozen=True)
class Mesh:
    """Routers of all chips on one mesh; router ids are chip-major, row-major inside a chip."""

    chips: int
    rows: int
    cols: int
    tiles_per_router: int
    tiles_per_chip: int

    @classmethod
    def of(cls, reram: ReramSpec, chips: int) -> "Mesh":
        routers = ceil_div(reram.tiles, reram.tiles_per_router)
        setting = reram.tile_noc.mesh_cols
        if setting == "auto":
            cols = min(c for c in range(1, routers + 1) if routers % c == 0 and c * c >= routers)
        else:
            cols = int(setting)
            if routers % cols:
                raise ConfigError("the mesh's columns must divide the routers of a chip",
                                  field="reram.tile_noc.mesh_cols",
                                  value=cols, allowed=f"a divisor of {routers} (tiles / tiles_per_router), or \"auto\"")
        return cls(chips=chips, rows=routers // cols, cols=cols, tiles_per_router=reram.tiles_per_router,
                   tiles_per_chip=reram.tiles)

    @property
    def routers_per_chip(self) -> int:
        return self.rows * self.cols

    @property
    def slots(self) -> int:
        return self.chips * self.tiles_per_chip

    def router_of_slot(self, slot: np.ndarray | int) -> np.ndarray | int:
        chip, local = slot // self.tiles_per_chip, slot % self.tiles_per_chip
        return chip * self.routers_per_chip + local // self.tiles_per_router

    def xy(self, router: np.ndarray | int) -> tuple:
        chip, local = router // self.routers_per_chip, router % self.routers_per_chip
        return chip * self.cols + local % self.cols, local // self.cols

    def router_at(self, x: int, y: int) -> int:
        return (x // self.cols) * self.routers_per_chip + y * self.cols + x % self.cols

    def route(self, src: int, dst: int) -> list[tuple[int, int]]:
        """XY route: the directed links (router, router) from src to dst."""
        (x, y), (tx, ty) = self.xy(src), self.xy(dst)
        path, here = [], src
        while x != tx:
            x += 1 if tx > x else -1
            nxt = self.router_at(x, y)
            path.append((here, nxt))
            here = nxt
        while y != ty:
            y += 1 if ty > y else -1
            nxt = self.router_at(x, y)
            path.append((here, nxt))
            here = nxt
        return path

    def is_chip_link(self, link: tuple[int, int]) -> bool:
        return link[0] // self.routers_per_chip != link[1] // self.routers_per_chip

    def distances(self) -> tuple[np.ndarray, np.ndarray]:
        """(on-chip hops, chip-link crossings) between every pair of routers."""
        ids = np.arange(self.chips * self.routers_per_chip)
        x, y = self.xy(ids)
        chip = ids // self.routers_per_chip
        crossings = np.abs(chip[:, None] - chip[None, :])
        hops = np.abs(x[:, None] - x[None, :]) + np.abs(y[:, None] - y[None, :])
        return hops - crossings, crossings


@dataclass(frozen=True)
class LayerTraffic:
    """Where one layer's data enter and leave, by logical tile (per image)."""

    tiles: np.ndarray  # the logical tiles holding the layer's crossbars
    producer_share: np.ndarray  # share of the layer's outputs each tile sends (sums to 1)
    consumer_share: np.ndarray  # share of the layer's input vector each tile needs (sums to >= 1)
    output_bytes: int  # the ofmap it sends to the next layer
    partial_sums: tuple[tuple[int, int, int], ...]  # (from tile, to tile, bytes)


def layer_traffic(mappings: tuple[CrossbarMapping, ...], reram: ReramSpec) -> tuple[LayerTraffic, ...]:
    """Pack the trace's crossbars into logical tiles in layer order and derive each layer's traffic."""
    per_tile = reram.imas_per_tile * reram.crossbars_per_ima
    offset = 0
    out = []
    for m in mappings:
        rows = m.placement()  # (group, row_partition, col_partition, rows_used, cols_used, ima, tile)
        per_replica = len(rows)
        index = offset + np.arange(per_replica * m.replication)
        tile = index // per_tile
        group = np.tile(rows[:, 0], m.replication)
        row_part = np.tile(rows[:, 1], m.replication)
        col_part = np.tile(rows[:, 2], m.replication)
        rows_used = np.tile(rows[:, 3], m.replication)
        cols_used = np.tile(rows[:, 4], m.replication)
        replica = np.repeat(np.arange(m.replication), per_replica)
        tiles = np.unique(tile)
        position = np.searchsorted(tiles, tile)
        first = row_part == 0
        produced = np.zeros(len(tiles))
        np.add.at(produced, position[first], (cols_used[first] - m.unit_columns).astype(float))
        producer = produced / produced.sum() if produced.sum() else np.full(len(tiles), 1.0 / len(tiles))
        # a tile needs each (replica, group, row partition) it holds once, whatever its column partitions
        needed = np.zeros(len(tiles))
        seen: set[tuple[int, int, int, int]] = set()
        for p, rep, g, r, used in zip(position, replica, group, row_part, rows_used):
            key = (int(p), int(rep), int(g), int(r))
            if key not in seen:
                seen.add(key)
                needed[p] += used
        consumer = needed / (m.crossbar_gemm.k * m.groups * m.replication)
        # partial sums: tiles with row partitions > 0 send to the tile of row partition 0 (same replica, group, column)
        home = {(int(rep), int(g), int(c)): int(t)
                for rep, g, c, t, f in zip(replica, group, col_part, tile, first) if f}
        vectors = ceil_div(m.vectors, m.replication)
        per_output = m.weight_slices * m.polarity if m.reram.slice_placement == "adjacent_columns" else 1
        flows: dict[tuple[int, int], int] = defaultdict(int)
        sent: set[tuple[int, int, int, int]] = set()
        for rep, g, r, c, t, cols in zip(replica, group, row_part, col_part, tile, cols_used):
            target = home[(int(rep), int(g), int(c))]
            if r == 0 or int(t) == target or (int(t), int(rep), int(g), int(c)) in sent:
                continue  # added inside the tile (ISAAC's tile shift-and-add), or already sent
            sent.add((int(t), int(rep), int(g), int(c)))
            outputs = max(0, int(cols) - m.unit_columns) // per_output
            flows[(int(t), target)] += ceil_div(vectors * outputs * reram.tile_noc.partial_sum_bits, 8)
        out.append(LayerTraffic(tiles=tiles, producer_share=producer, consumer_share=consumer,
                                output_bytes=ceil_div(m.layer.ofmap_elements * reram.input_bits, 8),
                                partial_sums=tuple((a, b, v) for (a, b), v in sorted(flows.items()))))
        offset += per_replica * m.replication
    return tuple(out)


def tile_flows(traffic: tuple[LayerTraffic, ...], tiles: int) -> np.ndarray:
    """Bytes per image between logical tiles (from, to), all layers (for placement)."""
    flows = np.zeros((tiles, tiles))
    for i, t in enumerate(traffic):
        for a, b, v in t.partial_sums:
            flows[a, b] += v
        if i + 1 < len(traffic):
            nxt = traffic[i + 1]
            flows[np.ix_(t.tiles, nxt.tiles)] += t.output_bytes * np.outer(t.producer_share, nxt.consumer_share)
    np.fill_diagonal(flows, 0.0)
    return flows


def byte_costs(mesh: Mesh, hw: Hardware) -> np.ndarray:
    """Energy (pJ) a byte costs between every pair of tile slots (hop and chip-link entries of the energy table;
    a hop costs 1 and a chip link 1 when the table has no entry)."""
    reram = hw.reram
    hop = hw.energy.get(FLIT_HOP)
    chip = hw.energy.get(CHIP_BYTE)
    hop_pj = hop.pj * 8 / reram.noc_flit_bits if hop is not None else 1.0
    chip_pj = chip.pj if chip is not None else 1.0
    hops, crossings = mesh.distances()
    per_router = hops * hop_pj + crossings * chip_pj
    router = mesh.router_of_slot(np.arange(mesh.slots))
    return per_router[np.ix_(router, router)]


def place(flows: np.ndarray, mesh: Mesh, costs: np.ndarray, spec: TileNocSpec) -> np.ndarray:
    """Slot of every logical tile under the configured placement."""
    tiles = flows.shape[0]
    sequential = np.arange(tiles)
    if spec.placement == "sequential":
        return sequential
    if spec.placement == "random":
        return np.random.default_rng(spec.seed).permutation(mesh.slots)[:tiles]
    both = flows + flows.T
    slot = np.full(tiles, -1)
    free = np.ones(mesh.slots, dtype=bool)
    for t in range(tiles):
        partners = np.flatnonzero((both[t, :t] > 0))
        if partners.size:
            cost = costs[:, slot[partners]] @ both[t, partners]
        elif t:
            cost = costs[:, slot[t - 1]].astype(float)  # no traffic yet: stay near the previous tile
        else:
            cost = np.zeros(mesh.slots)
        cost = np.where(free, cost, np.inf)
        slot[t] = int(np.argmin(cost))
        free[slot[t]] = False
    best = refine(slot, both, costs)
    return best if placement_cost(flows, best, costs) < placement_cost(flows, sequential, costs) else sequential


def refine(slot: np.ndarray, both: np.ndarray, costs: np.ndarray, passes: int = REFINE_PASSES) -> np.ndarray:
    """Pairwise exchange: each tile in turn moves to the slot (free, or another tile's, swapping) that lowers the
    placement's cost most, for a few passes or until no move helps. `both` is flows + flows.T."""
    slots = costs.shape[0]
    tiles = len(slot)
    # free slots as tiles without traffic, so a move to a free slot is a swap like any other
    owner = np.concatenate([slot, np.setdiff1d(np.arange(slots), slot)])
    weights = np.zeros((slots, slots))
    weights[:tiles, :tiles] = both
    distance = costs[np.ix_(owner, owner)]  # distance[b, k]: cost per byte between the slots of b and k
    weighted = (weights * distance).sum(axis=1)
    for _ in range(passes):
        moved = False
        for a in np.flatnonzero(both.any(axis=1)):
            row = weights[a]
            # cost change of exchanging the slots of a and b, for every b (the pair's own term does not change)
            delta = distance @ row - row @ distance[a] - weighted + weights @ distance[a] + 2 * row * distance[a]
            delta[a] = 0.0
            b = int(np.argmin(delta))
            if delta[b] >= -1e-9 * max(1.0, abs(float(row @ distance[a]))):
                continue
            before = distance[:, [a, b]].copy()
            owner[a], owner[b] = owner[b], owner[a]
            distance[[a, b]] = distance[[b, a]]
            distance[:, [a, b]] = distance[:, [b, a]]
            weighted += (weights[:, [a, b]] * (distance[:, [a, b]] - before)).sum(axis=1)
            weighted[[a, b]] = (weights[[a, b]] * distance[[a, b]]).sum(axis=1)
            moved = True
        if not moved:
            break
    return owner[:tiles].copy()


def placement_cost(flows: np.ndarray, slot: np.ndarray, costs: np.ndarray) -> float:
    """Communication energy (pJ, from `byte_costs`) of one image's flows under a placement."""
    return float((flows * costs[np.ix_(slot, slot)]).sum())


@dataclass(frozen=True)
class Message:
    """One transfer on the mesh, as the run logged it."""

    layer: int
    source: int  # router
    target: int
    size_bytes: int
    sent: int
    arrived: int
    uncontended: int  # when it would have arrived on an idle network
    hops: int


@dataclass(frozen=True)
class TileNocRun:
    """The pipeline on the mesh: makespan, per-layer spans and the messages."""

    makespan: int
    spans: tuple[tuple[int, int], ...]
    messages: tuple[Message, ...]
    links: tuple[tuple[tuple[int, int], int, int], ...]  # (link, bytes carried, busy cycles)
    latency_cycles: tuple[int, ...]  # per layer: cycles its send groups spent on the network
    uncontended_latency_cycles: tuple[int, ...]


class MeshNetwork:
    """The mesh's links (created on first use) and the message log; `send` reserves a message's route."""

    def __init__(self, mesh: Mesh, spec: TileNocSpec) -> None:
        self.mesh = mesh
        self.spec = spec
        self.links: dict[tuple[int, int], Link] = {}
        self.log: list[Message] = []
        self._routes: dict[tuple[int, int], list[Link]] = {}

    def _path(self, source: int, target: int) -> list[Link]:
        path = self._routes.get((source, target))
        if path is None:
            path = []
            for link in self.mesh.route(source, target):
                if link not in self.links:
                    chip = self.mesh.is_chip_link(link)
                    self.links[link] = Link(
                        bytes_per_cycle=self.spec.chip_link_bytes_per_cycle if chip else self.spec.link_bytes_per_cycle,
                        latency_cycles=self.spec.chip_hop_latency_cycles if chip else self.spec.hop_latency_cycles)
                path.append(self.links[link])
            self._routes[(source, target)] = path
        return path

    def send(self, layer: int, source: int, target: int, size_bytes: int, now: int) -> int:
        """Reserve the route at `now`; returns the cycle the last byte arrives."""
        path = self._path(source, target)
        head, arrived, latency_left = now, now, sum(link.latency_cycles for link in path)
        widest = 0
        for link in path:
            start, hold = link.reserve(head, size_bytes)
            arrived = max(arrived, start + hold + latency_left)  # the tail behind this link, then the rest
            latency_left -= link.latency_cycles
            head = start + link.latency_cycles
            widest = max(widest, hold)
        uncontended = now + sum(link.latency_cycles for link in path) + widest if path else now
        self.log.append(Message(layer, source, target, size_bytes, now, arrived, uncontended, len(path)))
        return arrived


def _router_flows(pairs: dict[tuple[int, int], float], router: np.ndarray) -> dict[tuple[int, int], int]:
    """Tile-pair bytes summed per router pair, as whole bytes."""
    merged: dict[tuple[int, int], float] = defaultdict(float)
    for (a, b), v in pairs.items():
        merged[(int(router[a]), int(router[b]))] += v
    return {key: int(math.ceil(v - 1e-9)) for key, v in sorted(merged.items()) if v > 0}


def _layer_flows(traffic: tuple[LayerTraffic, ...], router: np.ndarray):
    """Per layer: (partial-sum flows, output flows to the next layer), router pair -> bytes per image."""
    out = []
    for i, t in enumerate(traffic):
        psums = _router_flows({(a, b): v for a, b, v in t.partial_sums}, router)
        outputs: dict[tuple[int, int], int] = {}
        if i + 1 < len(traffic):
            nxt = traffic[i + 1]
            share = t.output_bytes * np.outer(t.producer_share, nxt.consumer_share)
            pairs = {(int(a), int(b)): float(share[x, y])
                     for x, a in enumerate(t.tiles) for y, b in enumerate(nxt.tiles) if a != b and share[x, y] > 0}
            outputs = _router_flows(pairs, router)
        out.append((psums, outputs))
    return out


def run_pipeline(cycles: tuple[int, ...], lags: tuple[float, ...], flows, network: MeshNetwork) -> TileNocRun:
    """`pipeline_schedule`'s batches, with each batch's partial sums and outputs sent over the mesh."""
    env = simpy.Environment()
    count = len(cycles)
    batches = [min(MAX_BATCHES, max(1, c)) for c in cycles]
    arrived = [0] * count  # batches whose outputs reached the next layer, in order
    progress = [env.event() for _ in range(count)]
    span = [[0, 0] for _ in range(count)]
    latency = [0] * count
    uncontended = [0] * count

    sizes = []
    for i in range(count):
        messages = len(flows[i][0]) + len(flows[i][1])
        sizes.append(max(1, math.ceil(batches[i] * messages / MAX_MESSAGES)))
    parts = [ceil_div(batches[i], sizes[i]) for i in range(count)]
    finished = [[False] * parts[i] for i in range(count)]
    next_part = [0] * count

    def send(i: int, part: int):
        start = int(env.now)
        ideal = 0
        for phase in (0, 1):  # partial sums, then the outputs they complete
            issued = int(env.now)
            latest, ideal_phase = issued, 0
            for (a, b), size in flows[i][phase].items():
                piece = size // parts[i] + (1 if part < size % parts[i] else 0)
                if piece:
                    latest = max(latest, network.send(i, a, b, piece, issued))
                    ideal_phase = max(ideal_phase, network.log[-1].uncontended - issued)
            ideal += ideal_phase
            if latest > issued:
                yield env.timeout(latest - issued)
        latency[i] += int(env.now) - start
        uncontended[i] += ideal
        finished[i][part] = True
        while next_part[i] < parts[i] and finished[i][next_part[i]]:
            next_part[i] += 1
        arrived[i] = min(batches[i], next_part[i] * sizes[i])
        span[i][1] = max(span[i][1], int(env.now))
        event, progress[i] = progress[i], env.event()
        event.succeed()

    def stage(i: int):
        for b, c in enumerate(batches_of(cycles[i], batches[i])):
            if i > 0:
                need = upstream_needed(b, batches[i], batches[i - 1], lags[i])
                while arrived[i - 1] < need:
                    yield progress[i - 1]
            if b == 0:
                span[i][0] = int(env.now)
            yield env.timeout(c)
            span[i][1] = max(span[i][1], int(env.now))
            if (b + 1) % sizes[i] == 0 or b == batches[i] - 1:
                env.process(send(i, b // sizes[i]))

    for i in range(count):
        env.process(stage(i))
    env.run()
    links = tuple((key, link.carried_bytes, link.busy_cycles) for key, link in sorted(network.links.items()))
    return TileNocRun(makespan=int(env.now), spans=tuple((s, f) for s, f in span), messages=tuple(network.log),
                      links=links, latency_cycles=tuple(latency), uncontended_latency_cycles=tuple(uncontended))


@dataclass(frozen=True)
class TileNocResult:
    """The layers with their communication counts, energy and latency, and the run's summary."""

    layers: tuple[LayerResult, ...]
    run: TileNocRun
    metadata: tuple[tuple[str, object], ...]


def simulate_tile_noc(results: tuple[LayerResult, ...], mappings: tuple[CrossbarMapping, ...],
                      lags: tuple[float, ...], hw: Hardware) -> TileNocResult:
    """Place the trace's tiles, run its pipeline on the mesh, and add each layer's communication to its record."""
    reram = hw.reram
    spec = reram.tile_noc
    traffic = layer_traffic(mappings, reram)
    per_tile = reram.imas_per_tile * reram.crossbars_per_ima
    used = sum(m.crossbars for m in mappings)
    tiles = ceil_div(max(used, 1), per_tile)
    chips = max(reram.crossbar_capacity(used) // reram.crossbars_per_chip, ceil_div(tiles, reram.tiles))
    mesh = Mesh.of(reram, chips)
    flows = tile_flows(traffic, tiles)
    costs = byte_costs(mesh, hw)
    slot = place(flows, mesh, costs, spec)
    router = mesh.router_of_slot(slot)
    per_layer = _layer_flows(traffic, router)
    network = MeshNetwork(mesh, spec)
    run = run_pipeline(tuple(r.cycles for r in results), lags, per_layer, network)
    hops, crossings = mesh.distances()
    layers = []
    for i, (result, (psums, outputs)) in enumerate(zip(results, per_layer)):
        flit_hops, chip_bytes, sent = 0, 0, 0
        for (a, b), size in list(psums.items()) + list(outputs.items()):
            flit_hops += ceil_div(size * 8, reram.noc_flit_bits) * int(hops[a, b])
            chip_bytes += size * int(crossings[a, b])
            sent += size
        counts = ActionCounts.of({FLIT_HOP: flit_hops, CHIP_BYTE: chip_bytes})
        energy = apply(counts, hw.energy)
        layers.append(replace(result, actions=result.actions + counts, energy=result.energy + energy).with_extra({
            "tile_noc.bytes_sent": sent,
            "tile_noc.partial_sum_bytes": sum(psums.values()),
            "tile_noc.flit_hops": flit_hops,
            "tile_noc.chip_link_bytes": chip_bytes,
            "tile_noc.energy_pj": energy.total_pj,
            "tile_noc.latency_cycles": run.latency_cycles[i],
            "tile_noc.contention_cycles": run.latency_cycles[i] - run.uncontended_latency_cycles[i],
            "pipeline_start": run.spans[i][0], "pipeline_finish": run.spans[i][1],
        }))
    metadata = (("pipeline_cycles", run.makespan),
                ("tile_noc.placement", spec.placement),
                ("tile_noc.mesh", f"{mesh.chips} chips x {mesh.rows} x {mesh.cols} routers"),
                ("tile_noc.tiles", tiles),
                ("tile_noc.byte_energy_pj", placement_cost(flows, slot, costs)),
                ("tile_noc.energy_pj", sum(dict(layer.extra)["tile_noc.energy_pj"] for layer in layers)),
                ("tile_noc.latency_cycles", sum(run.latency_cycles)),
                ("tile_noc.bytes_sent", sum(m.size_bytes for m in run.messages)),
                ("tile_noc.bytes_received", sum(m.size_bytes for m in run.messages if m.arrived <= run.makespan)))
    return TileNocResult(layers=tuple(layers), run=run, metadata=metadata)


__all__ = ["LayerTraffic", "Mesh", "MeshNetwork", "Message", "TileNocResult", "TileNocRun", "byte_costs", "refine",
           "layer_traffic", "place", "placement_cost", "run_pipeline", "simulate_tile_noc", "tile_flows"]
