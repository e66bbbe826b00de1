"""The mapper's model runs, each done once: a layer's engine LayerResult and its closed-form LayerResult per
(layer shape, mapping, residency, hardware, seed), kept in the MapperCache and shared by the per-layer search and
validation, the cross-layer pick's costs and whole-trace contenders, and successive `sim.map` calls given the same
cache (docs/mapper.md, "Search time").

A whole-trace contender is composed from per-layer runs, each with the residency it gets in the trace
(sim.mapping.residency), where that is exact: every layer of a run starts on an idle DRAM and with its own tiles
only (the previous layer has ended when its last ofmap tile reached DRAM or, kept on chip, left the array), so its
record equals the layer run alone with the same residency (hypothesis property in
tests/properties/test_mapper_runs_compose.py). Not where DRAM state crosses layer boundaries (the bank_row and ddr
models keep open rows and command queues) or where the API re-prices a layer after the models (sparsity, the
optimized mapping, zero-skipping transposed convolutions): there a contender runs whole, cached by its mappings.
"""
from __future__ import annotations

from dataclasses import replace

from sim.hardware.spec import Hardware
from sim.mapper.space import Space, layer_space
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


def _named(result: LayerResult, layer: Layer) -> LayerResult:
    return result if result.name == layer.name else replace(result, name=layer.name)


class LayerRuns:
    """The engine's and the closed form's LayerResults on one hardware and seed, looked up in (and added to)
    `store`, a MapperCache's dict; `hw_key` names the hardware's content in the keys."""

    def __init__(self, hw: Hardware, seed: int, store: dict, hw_key: str) -> None:
        self.hw, self.seed, self.store, self.hw_key = hw, seed, store, hw_key
        self.engine_runs = 0  # engine runs done by this object (cache misses): layers, or whole traces
        self._shapes: dict[Layer, Layer] = {}  # layer -> its shape (named "layer"): made once, not per look-up

    def _shape(self, layer: Layer) -> Layer:
        shape = self._shapes.get(layer)
        if shape is None:
            shape = self._shapes[layer] = replace(layer, name="layer")
        return shape

    def engine(self, layer: Layer, mapping: Mapping, residency: Residency = IN_DRAM) -> LayerResult:
        """`layer` alone on `mapping` with `residency` through the engine, as `sim.simulate` reports it."""
        key = ("engine", self._shape(layer), mapping, residency, self.hw_key, self.seed)
        result = self.store.get(key)
        if result is None:
            result = self.store[key] = self._engine_layer(layer, mapping, residency)
            self.engine_runs += 1
        return _named(result, layer)

    def closed_form(self, layer: Layer, mapping: Mapping, residency: Residency = IN_DRAM) -> LayerResult:
        """`sim.analytical.systolic.estimate_systolic` of `layer` on `mapping` with `residency`."""
        from sim.analytical.systolic import estimate_systolic

        key = ("closed_form", self._shape(layer), mapping, residency, self.hw_key)
        result = self.store.get(key)
        if result is None:
            result = self.store[key] = estimate_systolic(layer, self.hw, mapping, residency=residency)
        return _named(result, layer)

    def space(self, layer: Layer) -> Space:
        """`layer`'s mapping space (sim.mapper.space.layer_space), built once per layer shape (an empty one, whose
        refusal names the layer, each time)."""
        key = ("space", self._shape(layer), self.hw_key)
        space = self.store.get(key)
        if space is None:
            space = layer_space(layer, self.hw)
            if space.families:
                self.store[key] = space
        return space

    def scores(self, layer: Layer) -> dict:
        """The batched closed form's values of the candidates scored so far on `layer`'s shape (sim.mapper.search)."""
        return self.store.setdefault(("scores", self._shape(layer), self.hw_key), {})

    def _engine_layer(self, layer: Layer, mapping: Mapping, residency: Residency) -> LayerResult:
        if composes((layer,), self.hw):
            from sim.engine.simulate import simulate_layer

            return simulate_layer(layer, self.hw, mapping, seed=self.seed, residency=residency)
        import sim

        # Not composable: only the per-layer validation runs a layer alone (both tensors in DRAM), through the API
        # as `sim run` does; contenders run whole (`engine_trace`).
        return sim.simulate(Trace(name=layer.name, layers=(layer,)), self.hw, mapping=mapping,
                            seed=self.seed).layers[0]

    def engine_trace(self, trace: Trace, mappings: list[Mapping]) -> tuple[LayerResult, ...]:
        """Every layer of `trace` on its mapping in one engine run (residency as sim.simulate gives it)."""
        if composes(trace.layers, self.hw):
            residencies = trace_residency(list(zip(trace.layers, mappings)), self.hw)
            return tuple(self.engine(layer, mapping, residency)
                         for layer, mapping, residency in zip(trace.layers, mappings, residencies))
        return self._whole("engine_trace", trace, mappings)

    def closed_form_trace(self, trace: Trace, mappings: list[Mapping]) -> tuple[LayerResult, ...]:
        """Every layer of `trace` on its mapping by the analytical model (residency as sim.estimate gives it)."""
        if composes(trace.layers, self.hw):
            residencies = trace_residency(list(zip(trace.layers, mappings)), self.hw)
            return tuple(self.closed_form(layer, mapping, residency)
                         for layer, mapping, residency in zip(trace.layers, mappings, residencies))
        return self._whole("closed_form_trace", trace, mappings)

    def _whole(self, kind: str, trace: Trace, mappings: list[Mapping]) -> tuple[LayerResult, ...]:
        import sim

        key = (kind, tuple(replace(layer, name="layer") for layer in trace.layers), tuple(mappings), self.hw_key,
               self.seed)
        results = self.store.get(key)
        if results is None:
            mapping = dict(zip([layer.name for layer in trace.layers], mappings))
            if kind == "engine_trace":
                results = sim.simulate(trace, self.hw, mapping=mapping, seed=self.seed).layers
                self.engine_runs += 1
            else:
                results = sim.estimate(trace, self.hw, mapping=mapping).layers
            self.store[key] = results
        return tuple(_named(result, layer) for layer, result in zip(trace.layers, results))
