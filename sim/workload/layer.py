"""The Layer record: one DNN layer's shape and precisions, and every quantity derived from it.

All derived quantities (output size, the lowered GEMM, MACs, operand sizes) are computed here and only here.

Conventions
- Sizes are per image: `ifmap_h x ifmap_w x in_channels` in, `ofmap_h x ofmap_w x out_channels` out.
- `pad_*` are zero rows/columns added on each side (SCALE-Sim's topologies are already padded: pad 0).
- GEMM / fully connected layers are stored as a 1x1 convolution over an `m x 1` ifmap with `k` channels
  and `n` filters, so one lowering serves all kinds (`Layer.gemm_layer` builds them).
- Transposed convolution (`kind="tconv"`) is lowered, as accelerators run it, to a stride-1 convolution
  over the zero-inserted input (`stride - 1` zeros between pixels, `dilation*(filter-1) - pad` border).
- Depthwise = `groups == in_channels`; the lowered GEMM is then `groups` independent GEMMs.
- Block-circulant (`block_size > 1`): the filter matrix consists of k x k circulant blocks (CirCNN).
- N:M structured weight sparsity (`sparsity_n < sparsity_m`): at most N non-zero weights in every M consecutive
  window (K) elements of each filter column; the array holds the filter compressed to N of every M, so the
  lowered GEMM's K is ceil(K/M)*N (SCALE-Sim 3's compression) and `dense_gemm` keeps the uncompressed one.
- Unstructured weight sparsity (`weight_density < 1`): ceil(density x K x N) non-zero weights per group, anywhere;
  the array still runs the dense GEMM (no cycles saved), the MACs with a zero weight are gated (docs/hardware.md).
- Activation sparsity (`ifmap_density < 1`): the expected fraction of non-zero input activations; MACs on zeros are
  gated only on hardware with `skip_zero_activations` (sim.mapping.sparsity.effective_macs).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Literal

from sim.errors import TraceError

LayerKind = Literal["conv", "tconv", "gemm"]
LAYER_KINDS: tuple[str, ...] = ("conv", "tconv", "gemm")
# Bounds on a layer (docs/traces.md): a dimension, a lowered input axis, an operand's elements, MACs.
# Far above any published network, far below what would overflow int64 cycle or byte counts downstream.
MAX_DIMENSION = 1 << 24
MAX_ELEMENTS = 1 << 40
MAX_MACS = 1 << 50
# Filter, stride, dilation and padding: the footprint model's per-axis bitsets cost stride x axis bits.
MAX_WINDOW = 1 << 12
WINDOW_FIELDS = ("filter_h", "filter_w", "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_bottom",
                 "pad_left", "pad_right", "output_padding_h", "output_padding_w")
DENSITY_FIELDS = ("weight_density", "ifmap_density")  # fractions in (0, 1], 1.0 = dense
MAX_SPARSITY_M = 64  # longest N:M block we accept (SCALE-Sim's BlockSize is 8 in its shipped configs)


@dataclass(frozen=True)
class GemmShape:
    """The GEMM a layer lowers to: `groups` independent products of (m x k) by (k x n).

    m = ofmap pixels (x batch), k = window (filter_h * filter_w * channels per group), n = filters per group.
    """

    m: int
    k: int
    n: int
    groups: int = 1

    @property
    def macs(self) -> int:
        return self.groups * self.m * self.k * self.n


@dataclass(frozen=True)
class Layer:
    name: str
    kind: LayerKind = "conv"
    ifmap_h: int = 1
    ifmap_w: int = 1
    in_channels: int = 1
    out_channels: int = 1
    filter_h: int = 1
    filter_w: int = 1
    stride_h: int = 1
    stride_w: int = 1
    pad_top: int = 0
    pad_bottom: int = 0
    pad_left: int = 0
    pad_right: int = 0
    dilation_h: int = 1
    dilation_w: int = 1
    groups: int = 1
    batch: int = 1
    output_padding_h: int = 0  # tconv only: extra rows on the bottom of the output (PyTorch's output_padding)
    output_padding_w: int = 0
    block_size: int = 1  # >1: block-circulant filter matrix with k x k circulant blocks
    ifmap_bits: int = 8
    filter_bits: int = 8
    ofmap_bits: int = 32  # output precision (and, by default, the partial sums')
    psum_bits: int = 0  # partial sums (accumulator) leaving the array; 0: ofmap_bits, as before precision per operand
    sparsity_n: int = 1  # N:M structured weight sparsity: N non-zeros kept in every M window elements; 1:1 dense
    sparsity_m: int = 1
    weight_density: float = 1.0  # unstructured weight sparsity: fraction of non-zero weights; 1.0 dense
    ifmap_density: float = 1.0  # activation sparsity: expected fraction of non-zero input activations; 1.0 dense
    # SCALE-Sim 3's OptimizedMapping (sim.mapping.optmap): a seeded random N per filter column in blocks of
    # `optmap_block`; 0: off. Set from the hardware's [sparsity] optimized_mapping, not from a trace.
    optmap_block: int = 0
    optmap_seed: int = 0

    def __post_init__(self) -> None:
        self._validate()

    # ---------------------------------------------------------------- construction helpers
    @classmethod
    def gemm_layer(cls, name: str, m: int, n: int, k: int, **kwargs: int) -> "Layer":
        """A GEMM (M x K) @ (K x N), as a 1x1 convolution: M ofmap pixels, K channels, N filters."""
        return cls(name=name, kind="gemm", ifmap_h=m, ifmap_w=1, in_channels=k, out_channels=n, **kwargs)

    # ---------------------------------------------------------------- validation
    def _check_density(self, name: str, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self._fail(name, "must be a number", value, "a fraction in (0, 1]; 1.0 = dense")
        if not 0 < value <= 1:  # NaN fails this too
            self._fail(name, "density out of range", value, "a fraction in (0, 1]; 1.0 = dense")

    def _fail(self, field_name: str, message: str, value: object, allowed: str | None = None) -> None:
        raise TraceError(message, field=f"{self.name}.{field_name}", value=value, allowed=allowed)

    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise TraceError("layer name must be a non-empty string", field="name", value=self.name)
        if self.kind not in LAYER_KINDS:
            self._fail("kind", "unknown layer type", self.kind, ", ".join(LAYER_KINDS))
        positive = ("ifmap_h", "ifmap_w", "in_channels", "out_channels", "filter_h", "filter_w", "stride_h",
                    "stride_w", "dilation_h", "dilation_w", "groups", "batch", "block_size", "ifmap_bits",
                    "filter_bits", "ofmap_bits", "sparsity_n", "sparsity_m")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("name", "kind"):
                continue
            if f.name in DENSITY_FIELDS:
                self._check_density(f.name, value)
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                self._fail(f.name, "must be an integer", value)
            if f.name in positive and value < 1:
                self._fail(f.name, "must be >= 1", value)
            if f.name not in positive and value < 0:
                self._fail(f.name, "must be >= 0", value)
            if value > MAX_DIMENSION:
                self._fail(f.name, "too large", value, f"<= {MAX_DIMENSION} (2**24)")
            if f.name in WINDOW_FIELDS and value > MAX_WINDOW:
                self._fail(f.name, "too large", value, f"<= {MAX_WINDOW} (2**12)")
        for bits in ("ifmap_bits", "filter_bits"):
            if getattr(self, bits) > 32:
                self._fail(bits, "operand precision too wide", getattr(self, bits), "1..32")
        if self.ofmap_bits > 64:
            self._fail("ofmap_bits", "accumulator precision too wide", self.ofmap_bits, "1..64")
        if self.psum_bits > 64:
            self._fail("psum_bits", "partial-sum precision too wide", self.psum_bits, "0 (= ofmap_bits) or 1..64")
        if self.optmap_block and (self.optmap_block < 2 or self.is_sparse_n_of_m or self.block_size > 1
                                  or self.weight_density < 1):
            self._fail("optmap_block", "the optimized mapping needs a block of 2 or more and a dense N:M / "
                       "block-circulant / weight-density layer", self.optmap_block, "2.. on a 1:1 dense layer")
        if self.sparsity_m > MAX_SPARSITY_M:
            self._fail("sparsity_m", "sparsity block too long", self.sparsity_m, f"1..{MAX_SPARSITY_M}")
        if self.sparsity_n > self.sparsity_m:
            self._fail("sparsity_n", "N of N:M sparsity exceeds M", f"{self.sparsity_n}:{self.sparsity_m}",
                       f"1..{self.sparsity_m} (N <= M)")
        if self.is_sparse and self.block_size > 1:
            self._fail("sparsity_n", "N:M sparsity and block-circulant filters cannot be combined",
                       f"{self.sparsity_n}:{self.sparsity_m}", "1:1 with block_size > 1")
        if self.weight_density < 1 and (self.is_sparse or self.block_size > 1):
            self._fail("weight_density", "unstructured weight sparsity cannot be combined with N:M sparsity or "
                       "block-circulant filters", self.weight_density, "1.0 when sparsity_n < sparsity_m or block_size > 1")
        if self.in_channels % self.groups:
            self._fail("groups", "groups must divide in_channels", self.groups, f"a divisor of {self.in_channels}")
        if self.out_channels % self.groups:
            self._fail("groups", "groups must divide out_channels", self.groups, f"a divisor of {self.out_channels}")
        if self.kind == "gemm":
            if (self.filter_h, self.filter_w, self.ifmap_w) != (1, 1, 1):
                self._fail("kind", "a gemm layer is stored as a 1x1 filter over an m x 1 ifmap", self.kind)
            for name in ("stride_h", "stride_w", "dilation_h", "dilation_w"):
                if getattr(self, name) != 1:
                    self._fail(name, "a gemm layer has no stride or dilation", getattr(self, name), "1")
            for name in ("pad_top", "pad_bottom", "pad_left", "pad_right"):
                if getattr(self, name):
                    self._fail(name, "a gemm layer has no padding", getattr(self, name), "0")
        if self.kind != "tconv" and (self.output_padding_h or self.output_padding_w):
            self._fail("output_padding_h", "output padding only applies to transposed convolutions",
                       (self.output_padding_h, self.output_padding_w))
        if self.kind == "tconv":
            for axis, pad_a, pad_b, out_pad, stride, dilation in (
                ("h", self.pad_top, self.pad_bottom, self.output_padding_h, self.stride_h, self.dilation_h),
                ("w", self.pad_left, self.pad_right, self.output_padding_w, self.stride_w, self.dilation_w),
            ):
                if out_pad >= max(stride, dilation):
                    self._fail(f"output_padding_{axis}", "output padding must be smaller than stride or dilation",
                               out_pad, f"0..{max(stride, dilation) - 1}")
                span = dilation * ((self.filter_h if axis == "h" else self.filter_w) - 1)
                if max(pad_a, pad_b) > span:
                    self._fail(f"pad_{axis}", "transposed-conv padding larger than the filter span",
                               (pad_a, pad_b), f"0..{span}")
        eff_h = self.dilation_h * (self.filter_h - 1) + 1
        eff_w = self.dilation_w * (self.filter_w - 1) + 1
        in_h, in_w = self._lowered_input_hw()
        if eff_h > in_h:
            self._fail("filter_h", "filter (dilated) taller than the padded ifmap", self.filter_h,
                       f"<= {in_h} for this ifmap and padding")
        if eff_w > in_w:
            self._fail("filter_w", "filter (dilated) wider than the padded ifmap", self.filter_w,
                       f"<= {in_w} for this ifmap and padding")
        self._check_size()
        if self.block_size > 1:
            k = self.block_size
            if (self.in_channels // self.groups) * self.filter_h * self.filter_w % k or (self.out_channels // self.groups) % k:
                self._fail("block_size", "block size must divide the filter matrix (window and filters)", k,
                           "a common divisor of filter_h*filter_w*in_channels/groups and out_channels/groups")

    def _check_size(self) -> None:
        """Bounds on what the layer derives, so no count overflows int64 and no model allocates absurd memory."""
        in_h, in_w = self._lowered_input_hw()
        if max(in_h, in_w) > MAX_DIMENSION:
            self._fail("ifmap_h" if in_h > MAX_DIMENSION else "ifmap_w", "padded (or zero-inserted) ifmap too large",
                       (in_h, in_w), f"<= {MAX_DIMENSION} (2**24) per axis")
        for axis, taps, outputs in (("h", self.filter_h, self.ofmap_hw[0]), ("w", self.filter_w, self.ofmap_hw[1])):
            if taps * outputs > MAX_DIMENSION:  # the footprint model indexes every (tap, output) pair of an axis
                self._fail(f"filter_{axis}", f"filter_{axis} x ofmap_{axis} too large", taps * outputs,
                           f"<= {MAX_DIMENSION} (2**24)")
        for name, count in (("ifmap_elements", self.ifmap_elements), ("filter_elements", self.filter_elements),
                            ("ofmap_elements", self.ofmap_elements)):
            if count > MAX_ELEMENTS:
                self._fail(name.split("_")[0], f"layer too large: {name} = {count}", count,
                           f"<= {MAX_ELEMENTS} (2**40) elements per operand")
        if self.macs > MAX_MACS:
            self._fail("macs", "layer too large", self.macs, f"<= {MAX_MACS} (2**50) MACs per layer")

    # ---------------------------------------------------------------- derived quantities
    def _lowered_input_hw(self) -> tuple[int, int]:
        """Height and width of the (padded, for tconv zero-inserted) input the lowered conv slides over."""
        if self.kind == "tconv":
            h = (self.ifmap_h - 1) * self.stride_h + 1
            w = (self.ifmap_w - 1) * self.stride_w + 1
            border_h = self.dilation_h * (self.filter_h - 1)
            border_w = self.dilation_w * (self.filter_w - 1)
            return (h + 2 * border_h - self.pad_top - self.pad_bottom + self.output_padding_h,
                    w + 2 * border_w - self.pad_left - self.pad_right + self.output_padding_w)
        return (self.ifmap_h + self.pad_top + self.pad_bottom, self.ifmap_w + self.pad_left + self.pad_right)

    @cached_property
    def lowered_stride(self) -> tuple[int, int]:
        return (1, 1) if self.kind == "tconv" else (self.stride_h, self.stride_w)

    @cached_property
    def padded_ifmap(self) -> tuple[int, int]:
        """(h, w) of the input the lowered convolution slides over."""
        return self._lowered_input_hw()

    @cached_property
    def ofmap_hw(self) -> tuple[int, int]:
        in_h, in_w = self.padded_ifmap
        stride_h, stride_w = self.lowered_stride
        eff_h = self.dilation_h * (self.filter_h - 1) + 1
        eff_w = self.dilation_w * (self.filter_w - 1) + 1
        return ((in_h - eff_h) // stride_h + 1, (in_w - eff_w) // stride_w + 1)

    @property
    def partial_sum_bits(self) -> int:
        """Bits of a partial sum (the accumulator's value) when it leaves the array."""
        return self.psum_bits or self.ofmap_bits

    @property
    def precision(self) -> dict[str, int]:
        """Bits per element of each operand and of partial sums: ifmap, filter (weights), psum, ofmap (outputs)."""
        return {"ifmap": self.ifmap_bits, "filter": self.filter_bits, "psum": self.partial_sum_bits,
                "ofmap": self.ofmap_bits}

    @property
    def operand_bits(self) -> dict[str, int]:
        """Bits per element of each operand, keyed ifmap / filter / ofmap."""
        return {"ifmap": self.ifmap_bits, "filter": self.filter_bits, "ofmap": self.ofmap_bits}

    @property
    def ofmap_h(self) -> int:
        return self.ofmap_hw[0]

    @property
    def ofmap_w(self) -> int:
        return self.ofmap_hw[1]

    @property
    def is_sparse(self) -> bool:
        """True for N:M weight sparsity with N < M (1:1, or any n:n, is dense) or SCALE-Sim's optimized mapping."""
        return self.is_sparse_n_of_m or self.optmap_block > 0

    @property
    def is_sparse_n_of_m(self) -> bool:
        return self.sparsity_n < self.sparsity_m

    @cached_property
    def optimized_mapping(self):
        """SCALE-Sim's optimized mapping of one group's filter (sim.mapping.optmap), or None when off."""
        if not self.optmap_block:
            return None
        from sim.mapping.optmap import optimized_mapping

        dense = self.dense_gemm
        return optimized_mapping(dense.k, dense.n, self.optmap_block, self.optmap_seed)

    @cached_property
    def dense_gemm(self) -> GemmShape:
        """The lowered GEMM (im2col) before sparse compression: per group, M = batch*E*F, K = R*S*C/g, N = filters/g."""
        e, f = self.ofmap_hw
        return GemmShape(
            m=self.batch * e * f,
            k=self.filter_h * self.filter_w * (self.in_channels // self.groups),
            n=self.out_channels // self.groups,
            groups=self.groups,
        )

    @cached_property
    def gemm(self) -> GemmShape:
        """The GEMM the array runs: `dense_gemm`, with K compressed to ceil(K/M)*N under N:M sparsity."""
        dense = self.dense_gemm
        if not self.is_sparse:
            return dense
        if self.optimized_mapping is not None:  # ceil(ceil(K/M)/2) x M rows whatever N is drawn
            return GemmShape(m=dense.m, k=self.optimized_mapping.filter_rows, n=dense.n, groups=dense.groups)
        return GemmShape(m=dense.m, k=-(-dense.k // self.sparsity_m) * self.sparsity_n, n=dense.n, groups=dense.groups)

    @cached_property
    def nonzero_weights_per_group(self) -> int:
        """Non-zero weights of one group's K x N filter matrix under unstructured sparsity (all of them when dense)."""
        dense = self.dense_gemm.k * self.dense_gemm.n
        return dense if self.weight_density >= 1 else max(1, math.ceil(round(self.weight_density * dense, 9)))  # round: 0.3*10 is 3.0000000000000004

    @property
    def dense_macs(self) -> int:
        """MACs of the dense layer (SCALE-Sim's utilisation counts these for sparse layers too)."""
        return self.dense_gemm.macs

    @property
    def macs(self) -> int:
        """MACs the lowered GEMM performs (for tconv this includes the products with inserted zeros)."""
        return self.gemm.macs

    @cached_property
    def effective_macs(self) -> int:
        """MACs whose ifmap operand is a real input, not an inserted zero: differs from `macs` for tconv only.

        (Products with border padding of an ordinary conv are counted in both, as accelerators execute them.)
        """
        if self.kind == "tconv":
            return self.batch * self.ifmap_h * self.ifmap_w * self.in_channels * self.filter_h * self.filter_w \
                * (self.out_channels // self.groups)
        return self.macs

    @cached_property
    def ifmap_elements(self) -> int:
        """Unique input activations (unpadded), over the batch."""
        return self.batch * self.ifmap_h * self.ifmap_w * self.in_channels

    @cached_property
    def filter_elements(self) -> int:
        """Unique weights stored (block-circulant: one vector per k x k block, so 1/k of the dense count)."""
        if self.optimized_mapping is not None:  # each column's kept weights
            return self.groups * self.optimized_mapping.stored
        if self.is_sparse:  # the non-zeros of the compressed filter (metadata is counted apart, sim.mapping.sparsity)
            return self.groups * self.gemm.k * self.gemm.n
        dense = self.filter_h * self.filter_w * (self.in_channels // self.groups) * self.out_channels
        return dense // self.block_size

    @cached_property
    def ofmap_elements(self) -> int:
        e, f = self.ofmap_hw
        return self.batch * e * f * self.out_channels

    @property
    def ifmap_bytes(self) -> int:
        return -(-self.ifmap_elements * self.ifmap_bits // 8)

    @property
    def filter_bytes(self) -> int:
        return -(-self.filter_elements * self.filter_bits // 8)

    @property
    def ofmap_bytes(self) -> int:
        return -(-self.ofmap_elements * self.ofmap_bits // 8)

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels

    def describe(self) -> str:
        if self.kind == "gemm":
            g = self.gemm
            return f"gemm M={g.m} K={g.k} N={g.n}" + self._density_text()
        e, f = self.ofmap_hw
        text = (f"{self.kind} {self.ifmap_h}x{self.ifmap_w}x{self.in_channels} * "
                f"{self.filter_h}x{self.filter_w}x{self.out_channels} /{self.stride_h} -> {e}x{f}")
        if self.groups > 1:
            text += f" g={self.groups}"
        if self.block_size > 1:
            text += f" bc={self.block_size}"
        return text + self._density_text()

    def _density_text(self) -> str:
        return "".join(f" {label}={value:g}" for label, value in (("weights", self.weight_density),
                                                                  ("ifmap", self.ifmap_density)) if value < 1)
