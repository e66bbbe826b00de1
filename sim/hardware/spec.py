"""The hardware spec: immutable, validated at construction, unknown keys forbidden.

One `Hardware` record describes any accelerator this simulator models; a section is present only for
the hardware it describes (`pe_array` for digital PE arrays, `reram` for crossbar chips, `directive_array`
for MAESTRO-style PE clusters). The TOML schema is exactly these models: a key in a config file is a field
here (see hw_configs/*.toml and docs/hardware.md). Units are in the field names.

pydantic does the validation so every message names the field path, the value and what is allowed;
`sim.hardware.load` turns its errors into ConfigError with the file attached.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Dataflow = Literal["os", "ws", "is"]
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
# "native": our per-cycle reference's timing; "scalesim": SCALE-Sim 3.0.0's compute-cycle formulas.
CycleConvention = Literal["native", "scalesim"]


# An action or area key: `component.action` in lower snake case (`ifmap_sram.read`, `mac`, `adc.convert`).
ACTION_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class Spec(BaseModel):
    """Base of every spec section: frozen, unknown keys are errors.

    Python construction is lax (`rows=32.0` is fine); the file loaders validate strictly, so a TOML string
    where a number belongs is an error rather than a silent conversion.
    """

    # NaN and inf mean nothing in a spec; the one field where inf means "unlimited" opts back in.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True, allow_inf_nan=False)


def constraint_error(field: str, message: str, value: object, allowed: str) -> PydanticCustomError:
    """A cross-field validation error that still names the offending field (the loaders read `ctx`)."""
    return PydanticCustomError(
        "sim_constraint", "{message}", {"field": field, "message": message, "value": value, "allowed": allowed}
    )


# Upper bounds are physical plausibility with a wide margin (docs/hardware.md lists them per field): they keep
# every derived count (cycles, bytes, energies) far inside int64 and every array the models allocate small.
MAX_ARRAY_DIM = 65_536  # PE rows / cols, crossbar rows / cols
MAX_CLOCK_MHZ = 100_000.0
MIN_BANDWIDTH, MAX_BANDWIDTH = 1e-3, 1e12  # bytes (or words) per cycle; the floor keeps cycle counts finite
MAX_LATENCY_CYCLES = 1_000_000
MAX_SRAM_KB = 1_048_576.0  # 1 GiB per buffer
MAX_PJ, MAX_MM2 = 1e9, 1e6
MAX_TEXT = 4096  # characters of a name, source or note


def bounded_bandwidth(value: float | None) -> float | None:
    """inf (unlimited, SCALE-Sim CALC mode) or a number in [MIN_BANDWIDTH, MAX_BANDWIDTH]; NaN is refused."""
    if value is not None and not math.isinf(value) and not MIN_BANDWIDTH <= value <= MAX_BANDWIDTH:
        raise constraint_error("", "out of range", value, f"{MIN_BANDWIDTH:g} .. {MAX_BANDWIDTH:g}, or inf (unlimited)")
    return value


class PeArraySpec(Spec):
    rows: int = Field(ge=1, le=MAX_ARRAY_DIM)
    cols: int = Field(ge=1, le=MAX_ARRAY_DIM)
    dataflow: Dataflow = "ws"
    clock_mhz: float = Field(1000.0, gt=0, le=MAX_CLOCK_MHZ)
    accumulator_bits: int = Field(32, ge=8, le=64)
    cycle_convention: CycleConvention = "native"

    @property
    def pes(self) -> int:
        return self.rows * self.cols


class SramSpec(Spec):
    """One operand's on-chip buffer. `size_kb` is KiB of storage in total (both halves when double-buffered)."""

    size_kb: float = Field(gt=0, le=MAX_SRAM_KB)
    word_bytes: int = Field(1, ge=1, le=64)
    banks: int = Field(1, ge=1, le=4096)
    ports: int = Field(1, ge=1, le=64)  # read/write ports per bank
    double_buffered: bool = True

    @model_validator(mode="after")
    def _whole_words(self) -> SramSpec:
        size = self.size_kb * 1024
        if size != math.floor(size):
            raise constraint_error("size_kb", "size_kb * 1024 must be a whole number of bytes", self.size_kb,
                                   "a multiple of 1/1024")
        # Physical layout: every bank (and each half of a double buffer) holds whole words.
        unit = self.word_bytes * self.banks * (2 if self.double_buffered else 1)
        if int(size) % unit:
            what = f"word_bytes ({self.word_bytes}) x banks ({self.banks})"
            if self.double_buffered:
                what += " x 2 halves (double_buffered)"
            raise constraint_error("size_kb", f"size in bytes ({int(size)}) must be a multiple of {what}",
                                   self.size_kb, f"a multiple of {unit} bytes = {unit / 1024:g} KiB")
        return self

    @property
    def size_bytes(self) -> int:
        return int(self.size_kb * 1024)

    @property
    def size_words(self) -> int:
        return self.size_bytes // self.word_bytes


class BuffersSpec(Spec):
    ifmap: SramSpec
    filter: SramSpec
    ofmap: SramSpec


class DramTimingSpec(Spec):
    """Bank / row-buffer timings in DRAM-controller cycles of the accelerator clock (a preset's numbers)."""

    channels: int = Field(1, ge=1, le=1024)
    banks: int = Field(16, ge=1, le=1024)
    row_bytes: int = Field(2048, ge=1, le=1_048_576)
    t_rcd_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    t_rp_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    t_cas_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    source: str = Field("", max_length=MAX_TEXT)


class DramSpec(Spec):
    """Off-chip memory. `bandwidth_bytes_per_cycle` is the shared channel; `inf` means unlimited (SCALE-Sim
    CALC mode). The optional per-operand bandwidths give each operand its own port capped at that rate
    (SCALE-Sim USER mode); the shared channel still caps their sum."""

    model: Literal["bandwidth", "bank_row"] = "bandwidth"
    bandwidth_bytes_per_cycle: float = Field(gt=0, allow_inf_nan=True)
    latency_cycles: int = Field(0, ge=0, le=MAX_LATENCY_CYCLES)
    burst_bytes: int = Field(64, ge=1, le=65_536)
    preset: str | None = Field(None, max_length=MAX_TEXT)  # name of a bank/row preset in sim/hardware/dram_presets.toml
    timing: DramTimingSpec | None = None
    ifmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)
    filter_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)
    ofmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)

    _bandwidths_bounded = field_validator("bandwidth_bytes_per_cycle", "ifmap_bandwidth_bytes_per_cycle",
                                          "filter_bandwidth_bytes_per_cycle",
                                          "ofmap_bandwidth_bytes_per_cycle")(bounded_bandwidth)

    @model_validator(mode="after")
    def _bank_row_needs_timing(self) -> DramSpec:
        if self.model == "bank_row" and self.timing is None and self.preset is None:
            raise constraint_error("timing", "model 'bank_row' needs a 'preset' or a [dram.timing] table", None,
                                   "preset = \"DDR4-2400\" or [dram.timing]")
        if self.timing is not None and self.timing.row_bytes % self.burst_bytes:
            raise constraint_error("timing.row_bytes", f"a row must hold whole bursts of {self.burst_bytes} bytes",
                                   self.timing.row_bytes, f"a multiple of burst_bytes ({self.burst_bytes})")
        return self

    def operand_bandwidth(self, operand: str) -> float:
        """Bytes per cycle available to one operand's port ("ifmap", "filter" or "ofmap")."""
        own = getattr(self, f"{operand}_bandwidth_bytes_per_cycle")
        return self.bandwidth_bytes_per_cycle if own is None else min(own, self.bandwidth_bytes_per_cycle)


class EnergyEntry(Spec):
    """Energy of one action, with where the number comes from."""

    pj: float = Field(ge=0, le=MAX_PJ)
    source: str = Field(max_length=MAX_TEXT)
    note: str = Field("", max_length=MAX_TEXT)


class AreaEntry(Spec):
    mm2: float = Field(ge=0, le=MAX_MM2)
    count: int = Field(1, ge=1, le=1_000_000_000)
    source: str = Field(max_length=MAX_TEXT)
    note: str = Field("", max_length=MAX_TEXT)


class AdcSpec(Spec):
    """The column ADC of a crossbar: resolution, range policy, rounding, sharing, energy law (docs/reram.md §3).

    `bits = "lossless"` resolves the full-scale column sum of one read exactly (one bit fewer with
    `column_flip`). Range policies: `full_scale` spans the worst-case column sum of a full crossbar with a
    power-of-two step; `granular` keeps a step of one cell LSB and clips above 2**bits - 1; `calibrated`
    spans [calibrated_min, calibrated_max] x full scale with 2**bits levels.
    """

    bits: Annotated[int, Field(ge=1, le=24)] | Literal["lossless"] = 8
    cols_per_adc: int = Field(128, ge=1, le=MAX_ARRAY_DIM)
    sample_rate_gsps: float = Field(1.28, gt=0, le=1000)
    range_policy: Literal["full_scale", "granular", "calibrated"] = "full_scale"
    rounding: Literal["half_even", "half_up", "floor"] = "half_even"
    calibrated_min: float = Field(0.0, ge=0, le=1)  # fraction of the full-scale column sum
    calibrated_max: float = Field(1.0, gt=0, le=1)
    column_flip: bool = False  # ISAAC's flipped encoding: one ADC bit fewer
    # How adc.convert energy scales from the table entry (measured at energy_reference_bits) to `bits`.
    energy_law: Literal["table", "linear", "exponential"] = "table"
    energy_reference_bits: int = Field(8, ge=1, le=24)

    @model_validator(mode="after")
    def _calibrated_range(self) -> AdcSpec:
        if self.calibrated_min >= self.calibrated_max:
            raise ValueError("calibrated_min must be below calibrated_max")
        return self


class NonIdealitySpec(Spec):
    """Device non-idealities; all off by default. Seeded by the run's seed."""

    levels: int | None = Field(None, ge=1, le=65_536)  # conductance levels per cell (None: 2**cell_bits, ideal)
    on_off_ratio: float | None = Field(None, gt=1, le=1e12)  # G_on / G_off; None: ideal (G_off = 0)
    programming_sigma: float = Field(0.0, ge=0, le=10)  # relative std-dev of programmed conductance
    stuck_at_on: float = Field(0.0, ge=0, le=1)  # fraction of cells
    stuck_at_off: float = Field(0.0, ge=0, le=1)
    read_noise_sigma: float = Field(0.0, ge=0, le=1000)  # relative to one level, per read

    @property
    def ideal(self) -> bool:
        return (self.levels is None and self.on_off_ratio is None and self.programming_sigma == 0
                and self.stuck_at_on == 0 and self.stuck_at_off == 0 and self.read_noise_sigma == 0)


class ReramSpec(Spec):
    """A ReRAM crossbar chip (ISAAC/PUMA-style): crossbar, encoding, ADC, hierarchy, block-circulant mapping."""

    crossbar_rows: int = Field(128, ge=1, le=MAX_ARRAY_DIM)
    crossbar_cols: int = Field(128, ge=1, le=MAX_ARRAY_DIM)
    cell_bits: int = Field(2, ge=1, le=8)
    weight_bits: int = Field(16, ge=1, le=32)
    input_bits: int = Field(16, ge=1, le=32)
    dac_bits: int = Field(1, ge=1, le=8)
    signed_inputs: bool = True  # two's complement: the sign bit is one extra read of weight -2**(input_bits-1)
    signed_weights: Literal["offset", "differential", "unit_column"] = "offset"
    slice_placement: Literal["adjacent_columns", "separate_crossbars"] = "adjacent_columns"
    adc: AdcSpec = AdcSpec()
    read_latency_ns: float = Field(100.0, gt=0, le=1e9)
    pipeline_stages: int = Field(3, ge=1, le=1024)
    crossbars_per_ima: int = Field(8, ge=1, le=4096)
    adcs_per_ima: int = Field(8, ge=1, le=4096)
    imas_per_tile: int = Field(12, ge=1, le=4096)
    tiles: int = Field(168, ge=1, le=1_000_000)
    # chips on the board; "auto": as many as the mapped trace needs (all weights stay resident)
    chips: Annotated[int, Field(ge=1, le=1_000_000)] | Literal["auto"] = 1
    tiles_per_router: int = Field(4, ge=1, le=4096)
    edram_kb_per_tile: float = Field(64, gt=0, le=MAX_SRAM_KB)
    edram_port_bits: int = Field(256, ge=1, le=65_536)
    bus_bits: int = Field(384, ge=1, le=65_536)
    noc_flit_bits: int = Field(32, ge=1, le=65_536)
    offchip_gbytes_per_s: float = Field(6.4, gt=0, le=1e6)
    clock_mhz: float = Field(1200.0, gt=0, le=MAX_CLOCK_MHZ)  # digital clock (ISAAC: 1.2 GHz) for the engine's cycle
    block_circulant: Literal["expanded", "compressed"] = "expanded"
    duplication: Annotated[int, Field(ge=1, le=MAX_ARRAY_DIM)] | Literal["auto"] = 1  # ReBoc intra-crossbar weight duplication u
    input_slice_reuse: bool = False
    input_tile_sharing: bool = False
    replicate_layers: bool = True  # ISAAC: replicate early layers to balance the inter-layer pipeline
    non_ideal: NonIdealitySpec = NonIdealitySpec()

    @property
    def crossbars_per_chip(self) -> int:
        return self.tiles * self.imas_per_tile * self.crossbars_per_ima

    @property
    def crossbars_total(self) -> int:
        """Crossbars on the board (one chip's worth when chips = "auto")."""
        return self.crossbars_per_chip * (1 if self.chips == "auto" else self.chips)

    def crossbar_capacity(self, needed: int) -> int:
        """Crossbars on the board: chips x per chip, or (chips = "auto") enough whole chips for `needed`."""
        chips = -(-max(needed, 1) // self.crossbars_per_chip) if self.chips == "auto" else self.chips
        return chips * self.crossbars_per_chip


class DirectiveArraySpec(Spec):
    """A MAESTRO-style PE array: the numbers of MAESTRO's hardware .m file."""

    num_pes: int = Field(ge=1, le=1 << 24)
    l1_size_bytes: int = Field(gt=0, le=1 << 30)
    l2_size_bytes: int = Field(gt=0, le=1 << 40)
    noc_bandwidth_words_per_cycle: float = Field(gt=0, allow_inf_nan=True)  # inf: unlimited
    offchip_bandwidth_words_per_cycle: float = Field(gt=0, allow_inf_nan=True)
    noc_latency_cycles: int = Field(1, ge=0, le=MAX_LATENCY_CYCLES)  # per hop (MAESTRO's hop latency)
    word_bytes: int = Field(1, ge=1, le=64)
    noc_hops: int = Field(1, ge=1, le=MAX_LATENCY_CYCLES)  # average hops a NoC transfer takes (MAESTRO's default: 1)
    vector_width: int = Field(1, ge=1, le=65_536)  # MACs per PE per cycle (MAESTRO's SIMD lanes)
    double_buffered: bool = True  # L1/L2 double buffering, as MAESTRO assumes

    _bandwidths_bounded = field_validator("noc_bandwidth_words_per_cycle",
                                          "offchip_bandwidth_words_per_cycle")(bounded_bandwidth)


class Hardware(Spec):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=MAX_TEXT)
    source_file: str = ""  # where it was loaded from (set by the loader)
    pe_array: PeArraySpec | None = None
    buffers: BuffersSpec | None = None
    dram: DramSpec | None = None
    reram: ReramSpec | None = None
    directive_array: DirectiveArraySpec | None = None
    energy: dict[str, EnergyEntry] = {}
    area: dict[str, AreaEntry] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> Hardware:
        kinds = [k for k in ("pe_array", "reram", "directive_array") if getattr(self, k) is not None]
        if not kinds:
            raise constraint_error("pe_array", "a hardware config needs one of [pe_array], [reram] or "
                                   "[directive_array]", None, "[pe_array], [reram], [directive_array]")
        if self.pe_array is not None and self.buffers is None:
            raise constraint_error("buffers", "[pe_array] needs [buffers.ifmap], [buffers.filter] and "
                                   "[buffers.ofmap]", None, "a [buffers] section")
        if self.pe_array is not None and self.dram is None:
            raise constraint_error("dram", "[pe_array] needs a [dram] section", None, "a [dram] section")
        for table in ("energy", "area"):
            for key in getattr(self, table):
                if not ACTION_KEY.match(key):
                    raise constraint_error(f"{table}.{key}", "key must be `component.action` in lower snake case",
                                           key, "e.g. mac, ifmap_sram.read, dram.read_byte")
        return self

    @property
    def kind(self) -> str:
        if self.reram is not None:
            return "reram"
        if self.pe_array is not None:
            return "systolic"
        return "directive"
