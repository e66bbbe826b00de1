"""The discrete-event engine for MAESTRO-style directive mappings: a PE array fed by a NoC from L2 and DRAM.

What each step moves and computes is the mapping's step schedule (sim.mapping.directive_plan: the flattened
loop nest, tiles and ownership, temporal reuse, multicast and spatial reduction, chunks, off-chip words). This
module runs that schedule on a SimPy timeline, chunk by chunk with double buffering: DRAM -> L2 -> NoC -> PEs ->
NoC -> L2 -> DRAM (sim.engine.noc channels, a bandwidth DRAM for the off-chip link), and executes the loop nest
functionally (tile by tile over seeded operands, every MAC checked to happen exactly once).
"""
from __future__ import annotations

import math
import time

import numpy as np
import simpy

from sim.analytical.directive_pipeline import offchip_dram, plan_result
from sim.engine.dram import make_dram
from sim.engine.noc import Noc
from sim.errors import ConfigError, MappingError
from sim.hardware.spec import DirectiveArraySpec, Hardware
from sim.mapping.directive_plan import DirectivePlan, GroupTable, LoopNest, loop_tables, plan_directive
from sim.mapping.directives import DirectiveMapping, directive_view
from sim.mapping.record import Mapping
from sim.mapping.operands import lowered_input, ofmap_shape, random_operands, reference_ofmap
from sim.records import FunctionalCheck, LayerResult, RunResult
from sim.workload.layer import Layer
from sim.workload.maestro import Dataflow
from sim.workload.trace import Trace

# Above this many (step, PE) tiles the functional execution is refused: it runs tile by tile in numpy.
FUNCTIONAL_TILE_LIMIT = 200_000


def _run_timeline(spec: DirectiveArraySpec, plan: DirectivePlan) -> int:
    """Cycles of the pipelined SimPy timeline of a layer's chunks (see the module docstring)."""
    n = len(plan.chunk_compute)
    chunk = {"input": plan.chunk_input, "filter": plan.chunk_filter, "egress": plan.chunk_egress,
             "compute": plan.chunk_compute}
    multicast, reduction = plan.multicast, plan.reduction
    env = simpy.Environment()
    noc = Noc(env, spec.noc_bandwidth_words_per_cycle, spec.noc_hops * spec.noc_latency_cycles)
    dram = make_dram(env, offchip_dram(spec))
    depth = 2 if spec.double_buffered else 1
    stages = ("dram_in", "noc_in", "compute", "noc_out", "dram_out")
    done = {stage: [env.event() for _ in range(n)] for stage in stages}
    word = spec.word_bytes

    def fetch():
        for g in range(n):
            if g >= depth:
                yield done["noc_in"][g - depth]  # an L2 half is free once its tile went to the PEs
            if plan.dram_in[g]:
                yield dram.request("read", 0, plan.dram_in[g] * word)
            done["dram_in"][g].succeed()

    def deliver():
        for g in range(n):
            yield done["dram_in"][g]
            if g >= depth:
                yield done["compute"][g - depth]  # an L1 half is free once the PEs used it
            events = [noc.transfer(chunk[t][g], "multicast" if multicast[t] > 1 else "unicast", multicast[t])
                      for t in ("input", "filter") if chunk[t][g]]
            if events:
                yield env.all_of(events)
            done["noc_in"][g].succeed()

    def compute():
        for g in range(n):
            yield done["noc_in"][g]
            if g >= depth:
                yield done["noc_out"][g - depth]
            yield env.timeout(chunk["compute"][g])
            done["compute"][g].succeed()

    def collect():
        for g in range(n):
            yield done["compute"][g]
            if chunk["egress"][g]:
                yield noc.transfer(chunk["egress"][g], "reduce" if reduction > 1 else "gather", reduction)
            done["noc_out"][g].succeed()

    def drain():
        for g in range(n):
            yield done["noc_out"][g]
            if plan.dram_out[g]:
                yield dram.request("write", 0, plan.dram_out[g] * word)
            done["dram_out"][g].succeed()

    for process in (fetch, deliver, compute, collect, drain):
        env.process(process())
    env.run()
    return int(env.now)


def _spec(hw: Hardware) -> DirectiveArraySpec:
    if hw.directive_array is None:
        raise ConfigError("the directive engine needs a [directive_array] section", file=hw.source_file or None,
                          field="directive_array", allowed="a MAESTRO hardware .m file or a TOML [directive_array]")
    return hw.directive_array


def simulate_directive_layer(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow, *, seed: int = 0,
                             functional: bool = False) -> LayerResult:
    """One layer under a directive mapping record (or MAESTRO directives, translated into one) through the NoC /
    PE / DRAM timeline (model="engine")."""
    start = time.perf_counter()
    spec = _spec(hw)
    mapping = directive_view(layer, hw, mapping)
    plan = plan_directive(mapping, spec)
    cycles = _run_timeline(spec, plan)
    check = None
    if functional:
        nest, tables = loop_tables(mapping)
        check = _functional(layer, mapping, nest, tables, seed)
    return plan_result(layer, hw, plan, cycles, model="engine", start=start, functional=check)


# ---------------------------------------------------------------- functional execution
def _tile_sets(mapping: DirectiveMapping, table: GroupTable, combo: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Index sets one group's tile computes at one combination: a range per plain dimension, (output, tap)
    pairs (shape (pairs, 2)) per Y / X."""
    out: dict[str, np.ndarray] = {}
    for d, (lo, hi) in table.done.items():
        if d in table.pairs:
            stride = mapping.stride_y if d == "Y" else mapping.stride_x
            tap_lo, tap_hi, in_lo, in_hi, start_lo, start_hi = (int(b[combo]) for b in table.pairs[d])
            pairs = [(o, r) for r in range(tap_lo, tap_hi) for o in range(int(lo[combo]), int(hi[combo]))
                     if in_lo <= o * stride + r < in_hi and start_lo <= o * stride < start_hi]
            out[d] = np.array(pairs, dtype=np.int64).reshape(-1, 2)
        else:
            out[d] = np.arange(int(lo[combo]), max(int(lo[combo]), int(hi[combo])), dtype=np.int64)
    return out


def _canonical_operands(layer: Layer, mapping: DirectiveMapping, ifmap: np.ndarray,
                        filters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ifmap, filters) of the layer in MAESTRO's index order: CONV x[N,C,Y,X], w[K,C,R,S];
    DSCONV w[K,C,R,S] (output channel c * K + k); GEMM x[M,K], w[K,N]."""
    x = lowered_input(layer, ifmap).astype(np.int64)
    w = filters.astype(np.int64)
    if layer.kind == "tconv":
        w = w[:, ::-1, ::-1, :]  # the lowered stride-1 convolution uses the flipped filter
    if mapping.layer_type == "GEMM":
        return x.reshape(-1, x.shape[-1]), w.reshape(w.shape[0], -1).T
    x = x.transpose(0, 3, 1, 2)
    if mapping.layer_type == "DSCONV":
        k = mapping.sizes["K"]
        w = w[..., 0].reshape(layer.in_channels, k, layer.filter_h, layer.filter_w).transpose(1, 0, 2, 3)
    else:
        w = w.transpose(0, 3, 1, 2)
    return x, w


def _accumulate(mapping: DirectiveMapping, x: np.ndarray, w: np.ndarray, out: np.ndarray, coverage: np.ndarray,
                sets: dict[str, np.ndarray]) -> None:
    """Add one PE tile's partial products into `out` and count each MAC it performs in `coverage`."""
    if mapping.layer_type == "GEMM":
        m, k, n = sets["M"], sets["K"], sets["N"]
        if not (len(m) and len(k) and len(n)):
            return
        out[np.ix_(m, n)] += x[np.ix_(m, k)] @ w[np.ix_(k, n)]
        coverage[np.ix_(m, n, k)] += 1
        return
    b, k, c, ys, xs = sets["N"], sets["K"], sets["C"], sets["Y"], sets["X"]
    if not (len(b) and len(k) and len(c) and len(ys) and len(xs)):
        return
    sy, sx = mapping.stride_y, mapping.stride_x
    rows = ys[:, 0] * sy + ys[:, 1]
    cols = xs[:, 0] * sx + xs[:, 1]
    xt = x[np.ix_(b, c)][:, :, rows[:, None], cols[None, :]]  # (n, c, P, Q)
    wt = w[np.ix_(k, c)][:, :, ys[:, 1][:, None], xs[:, 1][None, :]]  # (k, c, P, Q)
    oy, ox = ys[:, 0][:, None], xs[:, 0][None, :]
    index = np.ix_(b, k, c, np.arange(len(ys)), np.arange(len(xs)))
    if mapping.layer_type == "DSCONV":
        products = np.einsum("ncpq,kcpq->nkcpq", xt, wt)
        np.add.at(out, (index[0], index[1], index[2], oy[None, None, None], ox[None, None, None]), products)
    else:
        products = np.einsum("ncpq,kcpq->nkpq", xt, wt)
        np.add.at(out, (index[0][..., 0], index[1][..., 0], oy[None, None], ox[None, None]), products)
    np.add.at(coverage, (index[0], index[1], index[2], oy[None, None, None], ys[:, 1][:, None][None, None, None],
                         ox[None, None, None], xs[:, 1][None, :][None, None, None]), 1)


def _functional(layer: Layer, mapping: DirectiveMapping, nest: LoopNest, tables: list[GroupTable],
                seed: int) -> FunctionalCheck:
    """Execute the loop nest tile by tile over seeded random operands and check the output against numpy.

    A mapping that skips or repeats a MAC fails even where the values would happen to agree.
    """
    ifmap, filters = random_operands(layer, seed)
    reference = reference_ofmap(layer, ifmap, filters)
    result, exactly_once = _execute(layer, mapping, nest, tables, ifmap, filters)
    error = float(np.max(np.abs(result - reference))) if reference.size else 0.0
    return FunctionalCheck(max_abs_error=error if exactly_once else max(error, 1.0), elements=int(reference.size),
                           seed=seed)


def directive_ofmap(layer: Layer, hw: Hardware, mapping: Mapping | Dataflow, ifmap: np.ndarray,
                    filters: np.ndarray) -> np.ndarray:
    """The ofmap (B, E, F, O) int64 of the given integer operands, executed tile by tile under `mapping` (a record
    or MAESTRO directives)."""
    _spec(hw)
    mapping = directive_view(layer, hw, mapping)
    nest, tables = loop_tables(mapping)
    result, exactly_once = _execute(layer, mapping, nest, tables, ifmap, filters)
    if not exactly_once:
        raise MappingError("the dataflow skips or repeats MACs of this layer", field=f"{layer.name}.dataflow")
    return result


def _execute(layer: Layer, mapping: DirectiveMapping, nest: LoopNest, tables: list[GroupTable], ifmap: np.ndarray,
             filters: np.ndarray) -> tuple[np.ndarray, bool]:
    """(ofmap (B, E, F, O) int64, every MAC done exactly once): every (step, PE) tile adds its partial
    products; `coverage` counts how often each MAC was done."""
    tiles = math.prod(v.count for v in nest.variables)
    if tiles > FUNCTIONAL_TILE_LIMIT:
        raise MappingError("layer too large for the directive engine's functional execution",
                           field=f"{layer.name}.functional", value=tiles,
                           allowed=f"<= {FUNCTIONAL_TILE_LIMIT} (step, PE) tiles")
    x, w = _canonical_operands(layer, mapping, ifmap, filters)
    sizes = mapping.sizes
    if mapping.layer_type == "GEMM":
        out = np.zeros((sizes["M"], sizes["N"]), dtype=np.int64)
        coverage = np.zeros((sizes["M"], sizes["N"], sizes["K"]), dtype=np.int64)
    else:
        rows = (sizes["Y"] - sizes["R"]) // mapping.stride_y + 1
        cols = (sizes["X"] - sizes["S"]) // mapping.stride_x + 1
        shape = (sizes["N"], sizes["K"], sizes["C"], rows, cols) if mapping.layer_type == "DSCONV" \
            else (sizes["N"], sizes["K"], rows, cols)
        out = np.zeros(shape, dtype=np.int64)
        coverage = np.zeros((sizes["N"], sizes["K"], sizes["C"], rows, sizes["R"], cols, sizes["S"]), dtype=np.int64)
    cache: list[dict[tuple[int, ...], dict[str, np.ndarray]]] = [{} for _ in tables]
    for values in np.ndindex(*(v.count for v in nest.variables)):
        sets: dict[str, np.ndarray] = {}
        for table, memo in zip(tables, cache):
            combo = tuple(values[v] for v in table.variables)
            if combo not in memo:
                memo[combo] = _tile_sets(mapping, table, combo)
            sets.update(memo[combo])
        _accumulate(mapping, x, w, out, coverage, sets)
    if mapping.layer_type == "GEMM":
        result = out
    elif mapping.layer_type == "DSCONV":
        result = out.transpose(0, 3, 4, 2, 1)  # (N, Y, X, C, K): channel c * K + k
    else:
        result = out.transpose(0, 2, 3, 1)
    exactly_once = bool(coverage.size == 0 or (coverage.min() == 1 and coverage.max() == 1))
    return result.reshape(ofmap_shape(layer)), exactly_once


def simulate_directive_trace(trace: Trace, hw: Hardware, *, seed: int = 0, functional: bool = False) -> RunResult:
    """Every layer of a trace through the directive engine, in order (each layer's Dataflow from the trace)."""
    spec = _spec(hw)
    results = []
    for index, layer in enumerate(trace.layers):
        dataflow = trace.dataflow_of(index)
        if dataflow is None:
            raise MappingError(f"layer '{layer.name}' has no Dataflow block and no mapping file was given",
                               field="dataflow",
                               allowed="a MAESTRO .m trace with Dataflow blocks, or --mapping FILE (see mappings/)")
        results.append(simulate_directive_layer(layer, hw, dataflow, seed=seed, functional=functional))
    return RunResult(hardware=hw.name, trace=trace.name, model="engine", layers=tuple(results), pes=spec.num_pes)
