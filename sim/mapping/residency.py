"""Across layers: which layer outputs stay on chip for the next layer of a trace (issue 12 item 5).

With `buffers.ofmap.keep_for_next_layer` (None: on under the native cycle convention, off under "scalesim", so
SCALE-Sim-compatible configs keep SCALE-Sim's per-layer traffic), layer i + 1 reads its ifmap from chip instead of
DRAM when, conservatively (a trace has no graph edges, so the rule is by shape and order only):
- both are conv layers (a GEMM trace, e.g. a transformer's, feeds one input to several projections of the same
  shape, so a shape match is no evidence there; a transposed conv may run as stride phases);
- layer i + 1's ifmap tensor is layer i's ofmap tensor by shape: (batch, height, width, channels). Widths may
  differ (the traces' 32-bit outputs are accumulator words; the next layer reads them requantized to its
  ifmap_bits on the way to its buffer, as TPU v1's activation pipeline writes 8-bit results into the UB);
- layer i holds its ofmap whole in the ofmap buffer (no partial sums in DRAM) and layer i + 1 holds its ifmap whole,
  with room in one ifmap slot for the whole tensor (not only the elements a strided layer reads).
Layer i then also skips writing its ofmap to DRAM only when no later layer (after i + 1) has an ifmap of that
tensor's shape, which could be a second reader (ResNet's shortcut); the last layer always writes.
The move from the ofmap buffer to the ifmap buffer is free: one activation memory, as TPU v1's Unified Buffer
(Jouppi et al., ISCA 2017, sec. 2: the UB holds a layer's outputs, which are the next layer's inputs).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.errors import MappingError
from sim.hardware.spec import Hardware
from sim.mapping.operands import ifmap_shape, ofmap_shape
from sim.mapping.record import Mapping
from sim.mapping.systolic import buffer_slots
from sim.workload.layer import Layer


@dataclass(frozen=True)
class Residency:
    """How a layer's tensors cross layer boundaries: `ifmap_on_chip`, its ifmap is the previous layer's output,
    still on chip (no DRAM read); `ofmap_kept`, its ofmap stays on chip for the next layer and is not written."""

    ifmap_on_chip: bool = False
    ofmap_kept: bool = False


IN_DRAM = Residency()  # today's: every tensor comes from and goes to DRAM


def check_residency(mapping: Mapping, residency: Residency) -> None:
    """MappingError unless the tensors `residency` keeps on chip are held whole by `mapping` (what the rule needs)."""
    for name, on_chip in (("ifmap", residency.ifmap_on_chip), ("ofmap", residency.ofmap_kept)):
        if on_chip and name not in mapping.whole:
            raise MappingError(f"a {name} that crosses layers on chip must be held whole by the mapping",
                               field="mapping.dram.whole", value=mapping.whole, allowed=f"a list with '{name}'")


def keeps_outputs_on_chip(hw: Hardware) -> bool:
    """The hardware option resolved: buffers.ofmap.keep_for_next_layer, or (unset) on under the native convention."""
    if hw.pe_array is None or hw.buffers is None:
        return False
    option = hw.buffers.ofmap.keep_for_next_layer
    return hw.pe_array.cycle_convention == "native" if option is None else option


def possible_links(layers: Sequence[Layer], hw: Hardware) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
    """The mapping-independent part of the rule, per layer i of a trace: (linkable[i], layer i + 1 may read layer
    i's ofmap from chip if the two mappings hold it whole; skippable[i], layer i's DRAM write may then be skipped)."""
    count = len(layers)
    if count < 2 or not keeps_outputs_on_chip(hw) or (
            hw.pe_array.deconv == "zero_skipping" and any(layer.kind == "tconv" for layer in layers)):
        return (False,) * count, (False,) * count
    linkable = [False] * count
    for i in range(count - 1):
        layer, following = layers[i], layers[i + 1]
        if layer.kind != "conv" or following.kind != "conv" or ofmap_shape(layer) != ifmap_shape(following):
            continue
        linkable[i] = layer.ofmap_elements <= buffer_slots(hw.buffers, following)[1]["ifmap"]
    # A write is skipped only when no layer after the next could read the tensor: ifmap tensors seen from the end.
    later: set[tuple[int, ...]] = set()
    skippable = [False] * count
    for i in range(count - 2, -1, -1):
        skippable[i] = ofmap_shape(layers[i]) not in later
        later.add(ifmap_shape(layers[i + 1]))
    return tuple(linkable), tuple(skippable)


def residency_of(index: int, linkable: Sequence[bool], skippable: Sequence[bool], previous: Mapping | None,
                 mapping: Mapping, following: Mapping | None) -> Residency:
    """Layer `index`'s Residency given its own and its neighbours' mappings (None: no neighbour)."""
    linked_in = (index > 0 and previous is not None and linkable[index - 1] and "ofmap" in previous.whole
                 and "ifmap" in mapping.whole)
    linked_out = (following is not None and linkable[index] and "ofmap" in mapping.whole
                  and "ifmap" in following.whole)
    return Residency(ifmap_on_chip=linked_in, ofmap_kept=linked_out and skippable[index])


def trace_residency(layers: Sequence[tuple[Layer, Mapping]], hw: Hardware) -> tuple[Residency, ...]:
    """Each layer's Residency in a run of `layers` (layer, its systolic record) in trace order (module docstring)."""
    count = len(layers)
    linkable, skippable = possible_links([layer for layer, _ in layers], hw)
    mappings = [mapping for _, mapping in layers]
    return tuple(residency_of(i, linkable, skippable, mappings[i - 1] if i else None, mappings[i],
                              mappings[i + 1] if i + 1 < count else None) for i in range(count))
