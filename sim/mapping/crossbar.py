"""Placing a layer's weight matrix onto ReRAM crossbars (ISAAC-style dense, CirCNN/ReBoc block-circulant).

The lowered GEMM of group g is (M x K) @ (K x N): K inputs drive the crossbar rows (wordlines), each of the
N outputs owns `weight_slices` columns (bitlines) per polarity. Conventions (docs/reram.md §1):

- Row partitions: K is cut into pieces of `rows_per_partition` rows; their partial sums are added
  digitally after the ADC.
- Weight slices: a `weight_bits` weight spans S = ceil(weight_bits / cell_bits) cells, in adjacent columns
  of one crossbar (ISAAC) or one slice per crossbar (PUMA, `separate_crossbars`).
- Signed weights: `offset` stores w + 2**(weight_bits-1) and removes the offset digitally; `unit_column`
  does the same with one analog unit column per crossbar; `differential` stores |w| on a positive and a
  negative column (two conversions, digital subtraction).
- Inputs stream `dac_bits` per read; signed inputs add one sign-bit read weighted -2**(input_bits-1).
- Block-circulant layers (k = layer.block_size): `expanded` stores every k x k block densely; `compressed`
  stores each block's defining vector once per column (rows stacked over the q input blocks), duplicated
  u times inside the crossbar with rotations, and needs k/u rotation rounds per input vector (§1.3 of
  the reference notes; the ReBoc reading is ours). With a `circulant_budget` (ReBoc at equal area) u grows
  past one crossbar: further copies take further column partitions.
- Transposed convs: the zero-inserted convolution, or RED's pixel-wise mapping (`deconv = "pixel_wise"`:
  input channels on the rows, kernel x filters on the columns, one vector per real input pixel).
- TinyADC (`prune_nonzero = n`): the lossless ADC resolves n non-zero cells per column segment.

`crossbar_utilization` = cells holding a weight slice / cells of the crossbars provisioned for the layer.
"""
from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import get_args

import numpy as np

from sim.errors import ConfigError, MappingError
from sim.hardware.spec import AdcSpec, Hardware, ReramSpec
from sim.workload.layer import GemmShape, Layer


def bits_for(value: int) -> int:
    """Bits an unsigned converter needs to represent 0..value exactly (at least 1)."""
    return max(1, int(value).bit_length())


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# Every string field of BitSlicing and its allowed values: the hardware schema's own choices.
SLICING_CHOICES: dict[str, tuple[str, ...]] = {
    "signed_weights": get_args(ReramSpec.model_fields["signed_weights"].annotation),
    "range_policy": get_args(AdcSpec.model_fields["range_policy"].annotation),
    "rounding": get_args(AdcSpec.model_fields["rounding"].annotation),
}


@dataclass(frozen=True)
class BitSlicing:
    """The numeric encoding the functional kernels need: slices, partitions, ADC policy (no placement)."""

    crossbar_rows: int
    rows_per_partition: int
    cell_bits: int
    weight_bits: int
    input_bits: int
    dac_bits: int
    signed_inputs: bool
    signed_weights: str  # offset | unit_column | differential
    adc_bits: int | None  # None: an ideal ADC (no quantization at all)
    range_policy: str = "full_scale"
    rounding: str = "half_even"
    calibrated_min: float = 0.0
    calibrated_max: float = 1.0
    column_flip: bool = False
    nonzero_rows: int | None = None  # TinyADC: at most this many non-zero cells per column segment

    def __post_init__(self) -> None:
        for name, allowed in SLICING_CHOICES.items():
            value = getattr(self, name)
            if value not in allowed:
                raise ConfigError(f"unknown BitSlicing.{name}", field=f"BitSlicing.{name}", value=value,
                                  allowed=", ".join(allowed))
        for name in ("crossbar_rows", "rows_per_partition", "cell_bits", "weight_bits", "input_bits", "dac_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"BitSlicing.{name} must be an integer >= 1", field=f"BitSlicing.{name}",
                                  value=value, allowed=">= 1")
        if self.adc_bits is not None and (isinstance(self.adc_bits, bool)
                                          or not isinstance(self.adc_bits, (int, np.integer)) or self.adc_bits < 1):
            raise ConfigError("BitSlicing.adc_bits must be an integer >= 1 or None (ideal ADC)",
                              field="BitSlicing.adc_bits", value=self.adc_bits, allowed=">= 1, or None")

    @classmethod
    def of(cls, reram: ReramSpec, rows_per_partition: int | None = None, *, ideal_adc: bool = False) -> BitSlicing:
        adc = reram.adc
        fs_bits = full_scale_bits(reram.crossbar_rows, reram.dac_bits, reram.cell_bits, adc.column_flip,
                                  reram.prune_nonzero)
        bits = None if ideal_adc else (fs_bits if adc.bits == "lossless" else int(adc.bits))
        return cls(
            crossbar_rows=reram.crossbar_rows,
            rows_per_partition=rows_per_partition or reram.crossbar_rows,
            cell_bits=reram.cell_bits, weight_bits=reram.weight_bits, input_bits=reram.input_bits,
            dac_bits=reram.dac_bits, signed_inputs=reram.signed_inputs, signed_weights=reram.signed_weights,
            adc_bits=bits, range_policy=adc.range_policy, rounding=adc.rounding,
            calibrated_min=adc.calibrated_min, calibrated_max=adc.calibrated_max, column_flip=adc.column_flip,
            nonzero_rows=reram.prune_nonzero,
        )

    @property
    def weight_slices(self) -> int:
        return ceil_div(self.weight_bits, self.cell_bits)

    @property
    def polarity(self) -> int:
        return 2 if self.signed_weights == "differential" else 1

    @property
    def input_slices(self) -> int:
        return input_slices(self.input_bits, self.dac_bits, self.signed_inputs)

    @property
    def full_scale(self) -> int:
        """Largest column sum of one read of a full crossbar (halved by the column flip, capped by TinyADC's
        non-zero cells per column segment)."""
        return full_scale(self.crossbar_rows, self.dac_bits, self.cell_bits, self.column_flip, self.nonzero_rows)

    @property
    def full_scale_bits(self) -> int:
        return bits_for(self.full_scale)


def pixel_wise_gemm(layer: Layer) -> GemmShape:
    """RED's mapping of a transposed conv: every input pixel (C/g channels on the rows) times the whole
    kernel (R x S x N/g columns); the zero-inserted pixels are never driven (Chen et al., DATE 2019)."""
    return GemmShape(m=layer.batch * layer.ifmap_h * layer.ifmap_w, k=layer.in_channels // layer.groups,
                     n=layer.filter_h * layer.filter_w * (layer.out_channels // layer.groups), groups=layer.groups)


def full_scale(rows: int, dac_bits: int, cell_bits: int, column_flip: bool, nonzero_rows: int | None = None) -> int:
    """Largest column sum of one read: R (2^d-1)(2^c-1), halved by the flip; with at most n non-zero cells per
    column segment (TinyADC) also at most n (2^d-1)(2^c-1) (a sparse column is never flipped)."""
    unit = (2 ** dac_bits - 1) * (2 ** cell_bits - 1)
    fs = rows * unit // 2 if column_flip else rows * unit
    return fs if nonzero_rows is None else min(fs, nonzero_rows * unit)


def full_scale_bits(rows: int, dac_bits: int, cell_bits: int, column_flip: bool,
                    nonzero_rows: int | None = None) -> int:
    """Lossless ADC bits for one read of `rows` rows: ceil(log2(R (2^d-1)(2^c-1) + 1)), minus one with the flip;
    TinyADC: ceil(log2(n (2^d-1)(2^c-1) + 1)) with n non-zero cells per column segment."""
    return bits_for(full_scale(rows, dac_bits, cell_bits, column_flip, nonzero_rows))


def input_slices(input_bits: int, dac_bits: int, signed_inputs: bool) -> int:
    """Reads per input vector: magnitude slices of dac_bits, plus one sign-bit read for signed inputs."""
    if signed_inputs:
        return ceil_div(input_bits - 1, dac_bits) + 1 if input_bits > 1 else 1
    return ceil_div(input_bits, dac_bits)


@dataclass(frozen=True)
class CrossbarMapping:
    """Where one layer's weights live on the chip, and the per-read geometry the models count with."""

    layer: Layer
    reram: ReramSpec
    mode: str  # dense | expanded | compressed
    block_size: int
    duplication: int  # u (1 for dense / expanded)
    rows_per_partition: int
    row_partitions: int
    outputs: int  # logical output columns per group: N, or p*u block-row copies when compressed
    outputs_per_crossbar: int
    col_partitions: int
    replication: int = 1
    pixel_wise: bool = False  # RED: a tconv mapped pixel-wise (rows = input channels, columns = kernel x filters)

    # ------------------------------------------------------------------ encoding
    @property
    def slicing(self) -> BitSlicing:
        return BitSlicing.of(self.reram, self.rows_per_partition)

    @property
    def weight_slices(self) -> int:
        return ceil_div(self.reram.weight_bits, self.reram.cell_bits)

    @property
    def polarity(self) -> int:
        return 2 if self.reram.signed_weights == "differential" else 1

    @property
    def unit_columns(self) -> int:
        """Analog unit (offset) columns per crossbar."""
        return 1 if self.reram.signed_weights == "unit_column" else 0

    @property
    def input_slices(self) -> int:
        return input_slices(self.reram.input_bits, self.reram.dac_bits, self.reram.signed_inputs)

    @property
    def rounds(self) -> int:
        """Rotation rounds per input vector: k/u for the compressed circulant mapping, else 1."""
        return self.block_size // self.duplication if self.mode == "compressed" else 1

    @property
    def adc_bits_configured(self) -> int:
        adc = self.reram.adc
        if adc.bits == "lossless":
            return full_scale_bits(self.reram.crossbar_rows, self.reram.dac_bits, self.reram.cell_bits, adc.column_flip,
                                   self.reram.prune_nonzero)
        return int(adc.bits)

    # ------------------------------------------------------------------ geometry
    @property
    def crossbar_gemm(self) -> GemmShape:
        """The product the crossbars compute: the lowered GEMM, or RED's pixel-wise one for a tconv."""
        return pixel_wise_gemm(self.layer) if self.pixel_wise else self.layer.gemm

    @property
    def groups(self) -> int:
        return self.layer.gemm.groups

    @property
    def vectors(self) -> int:
        """Input vectors per group: ofmap pixels x batch (im2col rows), or input pixels x batch (pixel-wise)."""
        return self.crossbar_gemm.m

    @property
    def crossbars_per_replica(self) -> int:
        return self.groups * self.row_partitions * self.col_partitions

    @property
    def crossbars(self) -> int:
        return self.crossbars_per_replica * self.replication

    @property
    def columns_per_row_partition(self) -> int:
        """Columns converted per read round over all column partitions of one row partition and group."""
        return self.outputs * self.weight_slices * self.polarity + self.unit_columns * self.col_partitions

    @property
    def weight_cells(self) -> int:
        """Cells holding a weight slice (all replicas)."""
        return self.replication * self.groups * self.crossbar_gemm.k * self.outputs * self.weight_slices * self.polarity

    @property
    def provisioned_cells(self) -> int:
        return self.crossbars * self.reram.crossbar_rows * self.reram.crossbar_cols

    @property
    def crossbar_utilization(self) -> float:
        return self.weight_cells / self.provisioned_cells

    @property
    def unique_weight_utilization(self) -> float:
        """Cells holding a distinct weight slice / provisioned cells (1/k of the stored ones when expanded)."""
        stored_per_unique = self.block_size if self.mode == "expanded" else (self.duplication if self.mode == "compressed" else 1)
        return self.crossbar_utilization / stored_per_unique

    @property
    def duplication_intra(self) -> int:
        """Copies of a block-row side by side in one crossbar (the largest divisor of u that fits its columns)."""
        if self.mode != "compressed":
            return 1
        blocks = self.outputs // self.duplication
        return max(d for d in range(1, self.duplication + 1)
                   if self.duplication % d == 0 and (d == 1 or d * blocks <= self.outputs_per_crossbar))

    @property
    def duplication_across(self) -> int:
        """Copies held on further crossbars (u / intra-crossbar copies)."""
        return self.duplication // self.duplication_intra

    @property
    def input_buffer_bits(self) -> int:
        """Input-register bits one vector occupies: one copy shared by every block-row with input tile
        sharing (and by dense layers), one per block-row without it (ours, reference notes §1.3)."""
        copies = 1
        if self.mode == "compressed" and not self.reram.input_tile_sharing:
            copies = self.outputs // self.duplication
        return self.groups * copies * self.input_bits_per_vector

    def placement(self) -> np.ndarray:
        """One row per crossbar of one replica, enumerated explicitly (not from the closed forms):
        (group, row_partition, col_partition, rows_used, cols_used, ima, tile). Crossbars fill IMAs and
        tiles in this order; replicas follow on the next IMAs."""
        k = self.crossbar_gemm.k
        per_slice = ceil_div(self.outputs, self.outputs_per_crossbar)
        rows_list = [min(self.rows_per_partition, k - r * self.rows_per_partition) for r in range(self.row_partitions)]
        cols_list = []
        for c in range(self.col_partitions):
            block = c % per_slice if self.reram.slice_placement == "separate_crossbars" else c
            outputs_here = min(self.outputs_per_crossbar, self.outputs - block * self.outputs_per_crossbar)
            width = outputs_here if self.reram.slice_placement == "separate_crossbars" \
                else outputs_here * self.weight_slices * self.polarity
            cols_list.append(width + self.unit_columns)
        out = []
        index = 0
        for g in range(self.groups):
            for r, rows_used in enumerate(rows_list):
                for c, cols_used in enumerate(cols_list):
                    ima = index // self.reram.crossbars_per_ima
                    out.append((g, r, c, rows_used, cols_used, ima, ima // self.reram.imas_per_tile))
                    index += 1
        return np.array(out, dtype=np.int64).reshape(-1, 7)

    @property
    def imas(self) -> int:
        return ceil_div(self.crossbars, self.reram.crossbars_per_ima)

    @property
    def tiles(self) -> int:
        return ceil_div(self.imas, self.reram.imas_per_tile)

    # ------------------------------------------------------------------ action counts (whole layer, one image)
    @property
    def reads_per_vector(self) -> int:
        """Reads each crossbar does per input vector: input slices x rotation rounds."""
        return self.input_slices * self.rounds

    @property
    def crossbar_reads(self) -> int:
        return self.groups * self.vectors * self.reads_per_vector * self.row_partitions * self.col_partitions

    @property
    def adc_conversions(self) -> int:
        """reads x active columns, summed over crossbars."""
        return self.groups * self.vectors * self.reads_per_vector * self.row_partitions * self.columns_per_row_partition

    @property
    def dac_conversions(self) -> int:
        """reads x active rows, summed over crossbars (every column partition drives its own rows)."""
        return self.groups * self.vectors * self.reads_per_vector * self.crossbar_gemm.k * self.col_partitions

    @property
    def input_fetch_multiplier(self) -> int:
        """How often each input vector is fetched from eDRAM: once with ReBoc's reuse and sharing (ours)."""
        if self.mode != "compressed":
            return 1
        rounds = 1 if self.reram.input_slice_reuse else self.rounds
        blocks = 1 if self.reram.input_tile_sharing else self.outputs // self.duplication
        return rounds * blocks

    @property
    def input_bits_per_vector(self) -> int:
        return self.crossbar_gemm.k * self.reram.input_bits

    @property
    def output_bits_per_vector(self) -> int:
        """Each output leaves the crossbars as one input_bits-wide value (ISAAC keeps 16-bit activations);
        pixel-wise partial products are overlap-added in the tile, so only the ofmap leaves (its share per vector)."""
        if self.pixel_wise:
            return ceil_div(self.layer.ofmap_elements, self.groups * self.vectors) * self.reram.input_bits
        return self.layer.gemm.n * self.reram.input_bits

    @property
    def overlap_adds(self) -> int:
        """RED's digital overlap-add: every pixel-wise partial product is added into the ofmap once."""
        return self.groups * self.vectors * self.crossbar_gemm.n if self.pixel_wise else 0


def map_crossbar(layer: Layer, hw: Hardware, replication: int = 1) -> CrossbarMapping:
    """Place `layer` on the crossbars of `hw.reram`; MappingError (with the reason) when it cannot fit.

    With a `circulant_budget`, a compressed layer takes the largest duplication u | k whose crossbars fit
    the budget (the layer's expanded crossbars, or that many chips).
    """
    mapping = _place(layer, hw, replication)
    if mapping.mode != "compressed" or hw.reram.circulant_budget == "none":
        return mapping
    limit = _budget_limit(hw, expanded_crossbars=lambda: _place(layer, expanded_hardware(hw), replication,
                                                                  check_capacity=False).crossbars)
    for u in reversed(_divisors_above(mapping.block_size, mapping.duplication)):
        candidate = _place(layer, hw, replication, u, check_capacity=False)
        if candidate.crossbars <= limit:
            return candidate
    return mapping


def expanded_hardware(hw: Hardware) -> Hardware:
    """`hw` with the expanded block-circulant mapping and no budget: the equal-area baseline."""
    reram = hw.reram.model_copy(update={"block_circulant": "expanded", "circulant_budget": "none"})
    return hw.model_copy(update={"reram": reram})


def _budget_limit(hw: Hardware, expanded_crossbars) -> int:
    """Crossbars a budgeted compressed mapping may use: the expanded baseline's, or `budget` chips."""
    budget = hw.reram.circulant_budget
    crossbars = expanded_crossbars() if budget == "expanded" else int(budget) * hw.reram.crossbars_per_chip
    return min(crossbars, hw.reram.crossbar_capacity(crossbars))


def _divisors_above(k: int, u: int) -> list[int]:
    """Divisors of k from u upwards (the duplication factors a budget can grow to)."""
    return [d for d in range(u, k + 1) if k % d == 0]


def _place(layer: Layer, hw: Hardware, replication: int = 1, duplication: int | None = None, *,
           check_capacity: bool = True) -> CrossbarMapping:
    """The placement of `layer` at `duplication` u (None: the configured one); MappingError when it does not
    fit the board (unless `check_capacity` is off: budgets compare sizes before anything is placed)."""
    reram = hw.reram
    if reram is None:
        raise MappingError("hardware has no [reram] section; crossbar mapping needs one",
                           field="reram", file=hw.source_file or None)
    if replication < 1:
        raise MappingError("replication must be >= 1", field=f"{layer.name}.replication", value=replication)
    if layer.filter_bits > reram.weight_bits:
        raise MappingError("layer weights are wider than the crossbar's weight precision",
                           field=f"{layer.name}.filter_bits", value=layer.filter_bits,
                           allowed=f"<= reram.weight_bits = {reram.weight_bits}")
    if layer.ifmap_bits > reram.input_bits:
        raise MappingError("layer inputs are wider than the crossbar's input precision",
                           field=f"{layer.name}.ifmap_bits", value=layer.ifmap_bits,
                           allowed=f"<= reram.input_bits = {reram.input_bits}")
    pixel_wise = layer.kind == "tconv" and reram.deconv == "pixel_wise"
    if pixel_wise and layer.block_size > 1:
        raise MappingError("the pixel-wise (RED) mapping of a block-circulant transposed conv is not modelled "
                           "(its circulant blocks run over the lowered filter matrix)", field="reram.deconv",
                           value=reram.deconv, allowed=f'"zero_insertion" for {layer.name} (block_size = '
                           f'{layer.block_size})')
    gemm = pixel_wise_gemm(layer) if pixel_wise else layer.gemm
    rows, cols = reram.crossbar_rows, reram.crossbar_cols
    slices = ceil_div(reram.weight_bits, reram.cell_bits)
    polarity = 2 if reram.signed_weights == "differential" else 1
    usable_cols = cols - (1 if reram.signed_weights == "unit_column" else 0)
    if reram.slice_placement == "adjacent_columns":
        per_crossbar = usable_cols // (slices * polarity)
        if per_crossbar < 1:
            raise MappingError("one weight's slices do not fit in a crossbar's columns", field="reram.crossbar_cols",
                               value=cols, allowed=f">= {slices * polarity + cols - usable_cols} for "
                               f"{slices} slices x {polarity} polarity, or slice_placement = 'separate_crossbars'")
    else:
        per_crossbar = usable_cols
        if per_crossbar < 1:
            raise MappingError("no column left for weights next to the unit column", field="reram.crossbar_cols",
                               value=cols, allowed=">= 2")

    k = layer.block_size
    if k > 1 and reram.prune_nonzero is not None:
        raise MappingError("TinyADC pruning of block-circulant layers is not modelled (a circulant block's "
                           "columns share one vector)", field="reram.prune_nonzero", value=reram.prune_nonzero,
                           allowed=f"unset for {layer.name} (block_size = {k})")
    mode, u = "dense", 1
    rows_per_partition, outputs = rows, gemm.n
    if k > 1:
        mode = reram.block_circulant
        if mode == "compressed":
            if k > rows:
                raise MappingError("a circulant block is taller than a crossbar", field=f"{layer.name}.block_size",
                                   value=k, allowed=f"<= reram.crossbar_rows = {rows}")
            p = gemm.n // k
            u = _duplication(reram.duplication if duplication is None else duplication, k, p, per_crossbar,
                             layer.name)
            rows_per_partition = (rows // k) * k  # whole blocks per crossbar (horizontal weight slicing)
            outputs = p * u
    row_partitions = ceil_div(gemm.k, rows_per_partition)
    if reram.slice_placement == "adjacent_columns":
        col_partitions = ceil_div(outputs, per_crossbar)
    else:
        col_partitions = slices * polarity * ceil_div(outputs, per_crossbar)
        per_crossbar = min(per_crossbar, outputs)
    mapping = CrossbarMapping(layer=layer, reram=reram, mode=mode, block_size=k, duplication=u,
                              rows_per_partition=rows_per_partition, row_partitions=row_partitions,
                              outputs=outputs, outputs_per_crossbar=min(per_crossbar, outputs),
                              col_partitions=col_partitions, replication=replication, pixel_wise=pixel_wise)
    capacity = reram.crossbar_capacity(mapping.crossbars)
    if check_capacity and mapping.crossbars > capacity:
        raise MappingError(
            f"layer needs {mapping.crossbars} crossbars ({mapping.row_partitions} row x {mapping.col_partitions} "
            f"column partitions x {mapping.groups} groups x {replication} replicas) but the board has "
            f"{capacity}", field=f"{layer.name}", value=mapping.crossbars,
            allowed=f"<= {capacity} (chips x tiles x imas_per_tile x crossbars_per_ima), or reram.chips = \"auto\"")
    return mapping


def _duplication(setting: int | str, k: int, p: int, per_crossbar: int, name: str) -> int:
    if setting == "auto":
        room = max(1, per_crossbar // max(p, 1))
        return max(d for d in range(1, k + 1) if k % d == 0 and d <= room)
    if k % int(setting):
        raise MappingError("duplication u must divide the block size", field="reram.duplication", value=setting,
                           allowed=f"a divisor of {name}.block_size = {k}")
    return int(setting)


def map_crossbar_trace(layers: Sequence[Layer], hw: Hardware) -> tuple[CrossbarMapping, ...]:
    """Map every layer at once (ISAAC keeps all weights resident), replicating early layers when enabled.

    Replication balances the inter-layer pipeline: the layer with the most reads per replica gets one more
    replica while the board has room (greedy on the largest stage time). With chips = "auto" the board is
    the fewest whole chips that hold the unreplicated trace.
    """
    if hw.reram is not None and hw.reram.circulant_budget != "none":
        return _map_trace_in_budget(layers, hw)
    mappings = [map_crossbar(layer, hw) for layer in layers]
    used = sum(m.crossbars for m in mappings)
    capacity = _trace_capacity(used, hw)
    if not hw.reram.replicate_layers or not mappings:
        return tuple(mappings)
    replicas = [1] * len(mappings)
    work = [m.vectors * m.reads_per_vector for m in mappings]
    heap = [(-w, i) for i, w in enumerate(work)]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        cost = mappings[i].crossbars_per_replica
        if used + cost > capacity or replicas[i] >= mappings[i].vectors:
            break  # the slowest stage cannot grow: more replicas elsewhere would not shorten the pipeline
        replicas[i] += 1
        used += cost
        heapq.heappush(heap, (-ceil_div(work[i], replicas[i]), i))
    return tuple(replace(m, replication=r) for m, r in zip(mappings, replicas))


def _trace_capacity(used: int, hw: Hardware) -> int:
    """The board's crossbars for a trace using `used` of them; MappingError when they do not fit."""
    capacity = hw.reram.crossbar_capacity(used)
    if used > capacity:
        raise MappingError(f"the trace needs {used} crossbars but the board has {capacity}",
                           field="reram.chips", value=hw.reram.chips,
                           allowed=f">= {ceil_div(used, hw.reram.crossbars_per_chip)} chips, or \"auto\"")
    return capacity


def _expanded_trace_crossbars(layers: Sequence[Layer], hw: Hardware) -> int:
    """Crossbars of the expanded baseline of the trace (with its replicas), or unreplicated when it overflows
    a fixed board (the budget is then the board)."""
    expanded = expanded_hardware(hw)
    try:
        return sum(m.crossbars for m in map_crossbar_trace(layers, expanded))
    except MappingError:
        return sum(_place(layer, expanded, check_capacity=False).crossbars for layer in layers)


def _map_trace_in_budget(layers: Sequence[Layer], hw: Hardware) -> tuple[CrossbarMapping, ...]:
    """ReBoc at equal area: the slowest stage first gets more block copies (u -> next divisor of k, intra-
    and then across crossbars), then replicas as ISAAC does, while the trace stays within the budget."""
    mappings = [_place(layer, hw) for layer in layers]
    used = sum(m.crossbars for m in mappings)
    _trace_capacity(used, hw)  # the unduplicated trace must fit the board
    limit = _budget_limit(hw, expanded_crossbars=lambda: _expanded_trace_crossbars(layers, hw))
    heap = [(-m.vectors * m.reads_per_vector, i) for i, m in enumerate(mappings)]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        current = mappings[i]
        if current.mode == "compressed" and current.duplication < current.block_size:
            grown = _place(layers[i], hw, current.replication,
                           _divisors_above(current.block_size, current.duplication + 1)[0], check_capacity=False)
        elif hw.reram.replicate_layers and current.replication < current.vectors:
            grown = replace(current, replication=current.replication + 1)
        else:
            break  # the slowest stage cannot grow
        if used + grown.crossbars - current.crossbars > limit:
            break
        used += grown.crossbars - current.crossbars
        mappings[i] = grown
        heapq.heappush(heap, (-ceil_div(grown.vectors * grown.reads_per_vector, grown.replication), i))
    return tuple(mappings)


def mapping_for(layer: Layer, hw: Hardware, mapping: CrossbarMapping | None = None) -> CrossbarMapping:
    """`mapping` when it places `layer` (else MappingError), or the default placement when none is given."""
    if mapping is None:
        return map_crossbar(layer, hw)
    if mapping.layer != layer:
        raise MappingError("the mapping belongs to another layer", field="mapping.layer", value=mapping.layer.name,
                           allowed=layer.name)
    return mapping
