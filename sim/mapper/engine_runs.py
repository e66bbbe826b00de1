"""The mapper's engine runs, each done once: a layer's engine LayerResult per (layer shape, mapping, residency,
hardware, seed), kept in the MapperCache and shared by the per-layer validation, the whole-trace contenders of
the cross-layer pick and successive `sim.map` calls given the same cache (docs/mapper.md, "Search time").

A whole-trace contender is composed from per-layer runs, each with the residency it gets in the trace
(sim.mapping.residency), where that is exact: every layer of a run starts on an idle DRAM and with its own tiles
only (the previous layer has ended when its last ofmap tile reached DRAM or, kept on chip, left the array), so its
record equals the layer run alone with the same residency (hypothesis property in
tests/properties/test_engine_runs_compose.py). Not where DRAM state crosses layer boundaries (the bank_row and ddr
models keep open rows and command queues) or where the API re-prices a layer after the engine (sparsity, the
optimized mapping, zero-skipping transposed convolutions): there the contender runs whole, cached by its mappings.
"""
from __future__ import annotations

from dataclasses import replace

from sim.hardware.spec import Hardware
from sim.mapping.record import Mapping
from sim.mapping.residency import IN_DRAM, Residency, trace_residency
from sim.records import LayerResult
from sim.workload.layer import Layer
from sim.workload.trace import Trace


def composes(layers, hw: Hardware) -> bool:
    """Whether a whole run of `layers` on `hw` is, layer by layer, each layer run alone with its residency."""
    from sim.mapping.sparsity import has_density

    if hw.pe_array is None or hw.dram is None or hw.dram.model != "bandwidth" or hw.sparsity is not None:
        return False
    if hw.pe_array.deconv == "zero_skipping" and any(layer.kind == "tconv" for layer in layers):
        return False
    return not any(layer.is_sparse or has_density(layer) for layer in layers)


class EngineRuns:
    """Engine LayerResults of one hardware and seed, looked up in (and added to) `store`, a MapperCache's dict."""

    def __init__(self, hw: Hardware, seed: int, store: dict, hw_key: str) -> None:
        self.hw, self.seed, self.store, self.hw_key = hw, seed, store, hw_key
        self.runs = 0  # engine runs done by this object (cache misses): layers, or whole traces

    def layer(self, layer: Layer, mapping: Mapping, residency: Residency = IN_DRAM) -> LayerResult:
        """`layer` alone on `mapping` with `residency`, as `sim.simulate` reports it (name included)."""
        key = ("layer", replace(layer, name="layer"), mapping, residency, self.hw_key, self.seed)
        result = self.store.get(key)
        if result is None:
            result = self.store[key] = self._run_layer(layer, mapping, residency)
            self.runs += 1
        return result if result.name == layer.name else replace(result, name=layer.name)

    def _run_layer(self, layer: Layer, mapping: Mapping, residency: Residency) -> LayerResult:
        if composes((layer,), self.hw):
            from sim.engine.simulate import simulate_layer

            return simulate_layer(layer, self.hw, mapping, seed=self.seed, residency=residency)
        import sim

        # Not composable: only the per-layer validation runs a layer alone (both tensors in DRAM), through the API
        # as `sim run` does; contenders run whole (`trace`).
        return sim.simulate(Trace(name=layer.name, layers=(layer,)), self.hw, mapping=mapping,
                            seed=self.seed).layers[0]

    def trace(self, trace: Trace, mappings: list[Mapping]) -> tuple[LayerResult, ...]:
        """Every layer of `trace` on its mapping in one run (residency as sim.simulate gives it), per layer."""
        if composes(trace.layers, self.hw):
            residencies = trace_residency(list(zip(trace.layers, mappings)), self.hw)
            return tuple(self.layer(layer, mapping, residency)
                         for layer, mapping, residency in zip(trace.layers, mappings, residencies))
        import sim

        key = ("trace", tuple(replace(layer, name="layer") for layer in trace.layers), tuple(mappings), self.hw_key,
               self.seed)
        results = self.store.get(key)
        if results is None:
            names = [layer.name for layer in trace.layers]
            results = self.store[key] = sim.simulate(trace, self.hw, mapping=dict(zip(names, mappings)),
                                                     seed=self.seed).layers
            self.runs += 1
        return tuple(result if result.name == layer.name else replace(result, name=layer.name)
                     for layer, result in zip(trace.layers, results))
