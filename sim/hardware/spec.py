"""The hardware spec: immutable, validated at construction, unknown keys forbidden.

One `Hardware` record describes any accelerator this simulator models; a section is present only for
the hardware it describes (`pe_array` for digital PE arrays, `reram` for crossbar chips, `directive_array`
for MAESTRO-style PE clusters). The TOML schema is exactly these models: a key in a config file is a field
here (see hw_configs/*.toml and docs/hardware.md). Units are in the field names.

pydantic does the validation so every message names the field path, the value and what is allowed;
`sim.hardware.load` turns its errors into ConfigError with the file attached.
"""
# No `from __future__ import annotations`: pydantic then takes the ~180 field types as objects instead of compiling
# and evaluating each as a string when the models are defined (~1.5 % of a `sim check`); a method's return type
# naming its own class is quoted.
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

Dataflow = Literal["os", "ws", "is"]
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
# "native": our per-cycle reference's timing; "scalesim": SCALE-Sim 3.0.0's compute-cycle formulas.
CycleConvention = Literal["native", "scalesim"]
# "native": our buffers and DRAM; "scalesim": SCALE-Sim 3.0.0's CALC-mode read / write buffers for its report
# columns (DRAM counts, start / stop cycles, bandwidths, Total Cycles incl. prefetch; sim/engine/scalesim_memory.py),
# applied where the DRAM bandwidth is unlimited (CALC); a finite bandwidth (a sweep point) keeps the native columns.
MemoryConvention = Literal["native", "scalesim"]
# A buffer's double buffering: always two halves, never, or "auto": the hardware can run it either way and each
# mapping decides (Mapping.double_buffered; sim.mapping.buffering, ZigZag's per-mapping rule).
DoubleBuffering = bool | Literal["auto"]


# An action or area key: `component.action` in lower snake case (`ifmap_sram.read`, `mac`, `adc.convert`).
ACTION_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class Spec(BaseModel):
    """Base of every spec section: frozen, unknown keys are errors.

    Python construction is lax (`rows=32.0` is fine); the file loaders validate strictly, so a TOML string
    where a number belongs is an error rather than a silent conversion.
    """

    # NaN and inf mean nothing in a spec; the one field where inf means "unlimited" opts back in.
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True, allow_inf_nan=False,
                              defer_build=True)


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
DDR_MAX_TCK = 10_000_000  # any DDR timing, in tCK (tREFI of slow clocks included)


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
    memory_convention: MemoryConvention = "native"
    # transposed convs: the zero-inserted convolution (as SCALE-Sim runs them), or its stride phases with the
    # inserted zeros skipped (sim.mapping.deconv)
    deconv: Literal["zero_insertion", "zero_skipping"] = "zero_insertion"
    # ws / is: the stationary operand's PE registers are double-buffered, so the next fold's preload (the R cycles
    # of a fold) overlaps the current fold (issue 12; a TPU-like array); false: folds do not overlap; "auto": when the
    # mapping runs the stationary operand's register double-buffered (sim.mapping.buffering).
    double_buffered_stationary: DoubleBuffering = False

    @model_validator(mode="after")
    def _scalesim_memory_needs_scalesim_cycles(self) -> "PeArraySpec":
        if self.memory_convention == "scalesim" and self.cycle_convention != "scalesim":
            raise constraint_error("memory_convention", "the scalesim memory convention times SCALE-Sim's buffers "
                                   "against SCALE-Sim's compute cycles", self.memory_convention,
                                   "\"native\", or cycle_convention = \"scalesim\" as well")
        return self

    @property
    def pes(self) -> int:
        return self.rows * self.cols


class SramSpec(Spec):
    """One operand's on-chip buffer. `size_kb` is KiB of storage in total (both halves when double-buffered)."""

    size_kb: float = Field(gt=0, le=MAX_SRAM_KB)
    word_bytes: int = Field(1, ge=1, le=64)
    banks: int = Field(1, ge=1, le=4096)
    ports: int = Field(1, ge=1, le=64)  # read/write ports per bank
    double_buffered: DoubleBuffering = True
    # ofmap only: a whole-held ofmap writes each block of finished outputs to DRAM as it completes, while compute
    # goes on (issue 12, schedule realism); false: the whole ofmap is written after the layer's last step.
    drain_finished: bool = False
    # ofmap only: a layer's output stays on chip for the next layer of the trace when it fits and that layer reads it
    # (issue 12, across layers; the rule: sim.mapping.residency). None: on under the native cycle convention, off
    # under "scalesim" (SCALE-Sim writes every layer's outputs to DRAM).
    keep_for_next_layer: bool | None = None

    @model_validator(mode="after")
    def _whole_words(self) -> "SramSpec":
        size = self.size_kb * 1024
        if size != math.floor(size):
            raise constraint_error("size_kb", "size_kb * 1024 must be a whole number of bytes", self.size_kb,
                                   "a multiple of 1/1024")
        # Physical layout: every bank (and each half of a double buffer) holds whole words.
        halves = self.double_buffered is not False  # "auto" may run as two halves
        unit = self.word_bytes * self.banks * (2 if halves else 1)
        if int(size) % unit:
            what = f"word_bytes ({self.word_bytes}) x banks ({self.banks})"
            if halves:
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

    @model_validator(mode="after")
    def _drain_only_outputs(self) -> "BuffersSpec":
        for name in ("ifmap", "filter"):
            if getattr(self, name).drain_finished:
                raise constraint_error(f"{name}.drain_finished", "only the ofmap buffer drains outputs", True,
                                       "false (set buffers.ofmap.drain_finished)")
            if getattr(self, name).keep_for_next_layer is not None:
                raise constraint_error(f"{name}.keep_for_next_layer", "only the ofmap buffer keeps a layer's output",
                                       getattr(self, name).keep_for_next_layer,
                                       "unset (set buffers.ofmap.keep_for_next_layer)")
        return self


class DramTimingSpec(Spec):
    """Bank / row-buffer timings in DRAM-controller cycles of the accelerator clock (a preset's numbers)."""

    channels: int = Field(1, ge=1, le=1024)
    banks: int = Field(16, ge=1, le=1024)
    row_bytes: int = Field(2048, ge=1, le=1_048_576)
    t_rcd_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    t_rp_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    t_cas_cycles: int = Field(ge=0, le=MAX_LATENCY_CYCLES)
    source: str = Field("", max_length=MAX_TEXT)


# Address fields of a command-level DRAM, and the default order (high to low bits): RoBaRaCoCh, with the bank group
# below the bank so that consecutive rows fall in different bank groups (Ramulator 2's RoBaRaCoCh).
DDR_ADDRESS_FIELDS: tuple[str, ...] = ("row", "bank", "bankgroup", "rank", "column", "channel")
DDR_TIMINGS: tuple[str, ...] = ("cl", "cwl", "bl", "rcd", "rp", "ras", "rc", "rtp", "wr", "ccd_s", "ccd_l", "rrd_s",
                                "rrd_l", "faw", "wtr_s", "wtr_l", "rfc", "refi")


def _power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


class DdrDeviceSpec(Spec):
    """A command-level DRAM (`model = "ddr"`): organisation, timings in DRAM clock cycles (tCK), controller queues,
    address mapping and per-command energy. A preset of sim/hardware/dram_presets.toml fills it
    (sim.hardware.presets)."""

    standard: str = "DDR4"
    tck_ns: float = Field(gt=0, le=1000)
    channels: int = Field(1, ge=1, le=64)  # independent channels (HBM2: pseudo channels), each with its own controller
    ranks: int = Field(1, ge=1, le=16)
    bankgroups: int = Field(1, ge=1, le=16)
    banks_per_group: int = Field(ge=1, le=64)
    row_bytes: int = Field(ge=1, le=1 << 20)  # row buffer of one rank (a page across the rank's devices)
    transaction_bytes: int = Field(64, ge=1, le=4096)  # one burst on the channel
    cl_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    cwl_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    bl_tck: int = Field(ge=1, le=DDR_MAX_TCK)  # data-bus cycles of one transaction
    rcd_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rp_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    ras_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rc_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rtp_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    wr_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    ccd_s_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    ccd_l_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rrd_s_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rrd_l_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    faw_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    wtr_s_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    wtr_l_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    rfc_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    refi_tck: int = Field(ge=1, le=DDR_MAX_TCK)
    queue_depth: int = Field(32, ge=1, le=1024)  # read queue and write queue, each, per channel
    write_high_watermark: float = Field(0.8, gt=0, le=1)  # fraction of the write queue that starts a write drain
    write_low_watermark: float = Field(0.2, ge=0, lt=1)  # ... and below which it ends (reads waiting)
    mapping: tuple[str, ...] = DDR_ADDRESS_FIELDS  # address fields, high to low bits
    act_pj: float = Field(0, ge=0, le=MAX_PJ)  # energy of one ACT and its PRE (one rank)
    pre_pj: float = Field(0, ge=0, le=MAX_PJ)
    rd_pj: float = Field(0, ge=0, le=MAX_PJ)  # one transaction's read burst
    wr_pj: float = Field(0, ge=0, le=MAX_PJ)
    ref_pj: float = Field(0, ge=0, le=MAX_PJ)  # one all-bank refresh of a rank
    background_mw: float = Field(0, ge=0, le=1e6)  # standby power of one rank
    source: str = Field("", max_length=MAX_TEXT)

    @model_validator(mode="after")
    def _consistent(self) -> "DdrDeviceSpec":
        if self.rc_tck < self.ras_tck + self.rp_tck:
            raise constraint_error("rc_tck", f"tRC must cover tRAS + tRP ({self.ras_tck} + {self.rp_tck})",
                                   self.rc_tck, f">= {self.ras_tck + self.rp_tck}")
        for name in ("rrd_s_tck", "rrd_l_tck"):
            if getattr(self, name) > self.faw_tck:
                raise constraint_error(name, "tRRD longer than tFAW (the four-activation window)",
                                       getattr(self, name), f"<= faw_tck ({self.faw_tck})")
        for short, long in (("ccd_s_tck", "ccd_l_tck"), ("rrd_s_tck", "rrd_l_tck"), ("wtr_s_tck", "wtr_l_tck")):
            if getattr(self, short) > getattr(self, long):
                raise constraint_error(short, f"the other-bank-group timing exceeds the same-group one ({long})",
                                       getattr(self, short), f"<= {long} ({getattr(self, long)})")
        if self.refi_tck <= self.rfc_tck:
            raise constraint_error("refi_tck", "the refresh interval must be longer than a refresh (tRFC)",
                                   self.refi_tck, f"> rfc_tck ({self.rfc_tck})")
        if self.write_low_watermark >= self.write_high_watermark:
            raise constraint_error("write_low_watermark", "the low watermark must lie below the high one",
                                   self.write_low_watermark, f"< write_high_watermark ({self.write_high_watermark})")
        if sorted(self.mapping) != sorted(DDR_ADDRESS_FIELDS):
            raise constraint_error("mapping", "the address mapping must name each address field exactly once",
                                   list(self.mapping), ", ".join(DDR_ADDRESS_FIELDS) + " (high to low bits)")
        if self.row_bytes % self.transaction_bytes:
            raise constraint_error("row_bytes", "a row must hold whole transactions", self.row_bytes,
                                   f"a multiple of transaction_bytes ({self.transaction_bytes})")
        for name, value in (("channels", self.channels), ("ranks", self.ranks), ("bankgroups", self.bankgroups),
                            ("banks_per_group", self.banks_per_group), ("transaction_bytes", self.transaction_bytes),
                            ("row_bytes", self.row_bytes)):
            if not _power_of_two(value):
                raise constraint_error(name, "address bits cover only powers of two", value, "a power of two")
        return self

    @property
    def banks(self) -> int:
        """Banks of all channels and ranks."""
        return self.channels * self.ranks * self.bankgroups * self.banks_per_group

    @property
    def columns(self) -> int:
        """Transactions per row."""
        return self.row_bytes // self.transaction_bytes


class DramSpec(Spec):
    """Off-chip memory. `bandwidth_bytes_per_cycle` is the shared channel; `inf` means unlimited (SCALE-Sim
    CALC mode). The optional per-operand bandwidths give each operand its own port capped at that rate
    (SCALE-Sim USER mode); the shared channel still caps their sum."""

    model: Literal["bandwidth", "bank_row", "ddr"] = "bandwidth"
    bandwidth_bytes_per_cycle: float = Field(gt=0, allow_inf_nan=True)
    latency_cycles: int = Field(0, ge=0, le=MAX_LATENCY_CYCLES)
    burst_bytes: int = Field(64, ge=1, le=65_536)
    preset: str | None = Field(None, max_length=MAX_TEXT)  # name of a bank/row preset in sim/hardware/dram_presets.toml
    timing: DramTimingSpec | None = None
    device: DdrDeviceSpec | None = None  # model "ddr": the preset's device (inline keys override it)
    ifmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)
    filter_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)
    ofmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0, allow_inf_nan=True)

    _bandwidths_bounded = field_validator("bandwidth_bytes_per_cycle", "ifmap_bandwidth_bytes_per_cycle",
                                          "filter_bandwidth_bytes_per_cycle",
                                          "ofmap_bandwidth_bytes_per_cycle")(bounded_bandwidth)

    @model_validator(mode="after")
    def _bank_row_needs_timing(self) -> "DramSpec":
        if self.model == "bank_row" and self.timing is None and self.preset is None:
            raise constraint_error("timing", "model 'bank_row' needs a 'preset' or a [dram.timing] table", None,
                                   "preset = \"DDR4-2400\" or [dram.timing]")
        if self.model == "ddr" and self.device is None and self.preset is None:
            raise constraint_error("device", "model 'ddr' needs a 'preset' or a [dram.device] table", None,
                                   "preset = \"DDR4-2400\" or [dram.device]")
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
    # How the ADC's area (area."ima.adc") scales from energy_reference_bits to the configured bits (TinyADC).
    area_law: Literal["table", "linear", "exponential"] = "table"

    @model_validator(mode="after")
    def _calibrated_range(self) -> "AdcSpec":
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


class TileNocSpec(Spec):
    """CANNON's tile network: tiles and chips on one mesh of routers (docs/reram.md §4.4). Off by default."""

    enabled: bool = False
    # where the layers' tiles sit on the mesh: in order (ISAAC's fill), scattered (a seeded baseline), or
    # the placement with the least communication energy among the candidates (ours, after CANNON)
    placement: Literal["sequential", "random", "communication_aware"] = "sequential"
    mesh_cols: Annotated[int, Field(ge=1, le=MAX_ARRAY_DIM)] | Literal["auto"] = "auto"  # routers per mesh row on one chip; must divide the routers
    hop_latency_cycles: int = Field(3, ge=0, le=MAX_LATENCY_CYCLES)  # router pipeline + link, per on-chip hop
    link_bytes_per_cycle: float = Field(4.0, gt=0, le=MAX_BANDWIDTH)  # one on-chip link, each direction
    chip_hop_latency_cycles: int = Field(60, ge=0, le=MAX_LATENCY_CYCLES)  # one hop over a chip-to-chip link
    chip_link_bytes_per_cycle: float = Field(5.333333333333333, gt=0, le=MAX_BANDWIDTH)
    partial_sum_bits: int = Field(16, ge=1, le=64)  # a row partition's partial sums sent to the tile that adds them
    seed: int = Field(0, ge=0, le=2**63 - 1)  # the random placement's draw


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
    adc: AdcSpec = Field(default_factory=AdcSpec)
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
    # ReBoc at equal area: crossbars the compressed mapping may fill with block copies (intra- and across
    # crossbars). "none": the duplication setting alone; "expanded": the expanded mapping's crossbars; an
    # integer: that many chips (docs/reram.md §4).
    circulant_budget: Annotated[int, Field(ge=1, le=1_000_000)] | Literal["none", "expanded"] = "none"
    # ReBoc's intra-layer pipeline: rotation rounds overlap through the S&H/ADC stages (false: each round drains)
    intra_layer_pipeline: bool = True
    # RED: a transposed conv as the zero-inserted convolution, or pixel-wise (each input pixel x the whole
    # kernel, overlap-added; inserted zeros never read)
    deconv: Literal["zero_insertion", "pixel_wise"] = "zero_insertion"
    # TinyADC: at most this many non-zero weights per crossbar column segment (None: no pruning constraint)
    prune_nonzero: int | None = Field(None, ge=1, le=MAX_ARRAY_DIM)
    replicate_layers: bool = True  # ISAAC: replicate early layers to balance the inter-layer pipeline
    non_ideal: NonIdealitySpec = Field(default_factory=NonIdealitySpec)
    tile_noc: TileNocSpec = Field(default_factory=TileNocSpec)

    @model_validator(mode="after")
    def _pruning_needs_zero_cells(self) -> "ReramSpec":
        if self.prune_nonzero is not None and self.signed_weights != "differential":
            raise ValueError("prune_nonzero (TinyADC) needs pruned weights to store zero cells: "
                             "signed_weights = \"differential\" (an offset stores 2**(weight_bits-1) for a zero)")
        return self

    @model_validator(mode="after")
    def _mesh_columns_divide_the_routers(self) -> "ReramSpec":
        routers = -(-self.tiles // self.tiles_per_router)
        columns = self.tile_noc.mesh_cols
        if columns != "auto" and routers % columns:
            raise constraint_error("tile_noc.mesh_cols", "the mesh's columns must divide the routers of a chip",
                                   columns, f"a divisor of {routers} (tiles / tiles_per_router), or \"auto\"")
        return self

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


Operand = Literal["ifmap", "filter", "ofmap"]
# Level kinds, from the PEs outward: a hierarchy lists them in this order (several of one kind allowed).
LEVEL_KINDS: tuple[str, ...] = ("register_file", "l1", "global_buffer", "dram")
LevelKind = Literal["register_file", "l1", "global_buffer", "dram"]


class MemoryLevelSpec(Spec):
    """One level of the memory hierarchy (docs/hardware.md, "Memory hierarchy").

    `name` is also the level's energy-table prefix: its accesses are priced by `{name}.read` / `{name}.write`
    (DRAM: `dram.read_byte` / `dram.write_byte`), each entry with its `pj` and `source`. `size_bytes` is
    per instance (both halves when double-buffered); DRAM has none. `instances`: copies of the level (one
    per PE for a register file, per cluster for an L1). A level holding several operands shares its
    capacity dynamically, or splits it by `partition_bytes`.
    """

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    kind: LevelKind
    operands: tuple[Operand, ...] = Field(min_length=1)
    size_bytes: int | None = Field(None, gt=0, le=1 << 40)
    instances: int = Field(1, ge=1, le=1 << 24)
    word_bytes: int = Field(1, ge=1, le=65_536)
    banks: int = Field(1, ge=1, le=65_536)
    ports: int = Field(1, ge=1, le=1024)
    bandwidth_bytes_per_cycle: float = Field(math.inf, gt=0, allow_inf_nan=True)  # inf: unlimited
    latency_cycles: int = Field(0, ge=0, le=MAX_LATENCY_CYCLES)
    double_buffered: DoubleBuffering = False
    partition_bytes: dict[Operand, Annotated[int, Field(ge=0, le=1 << 40)]] | None = None
    source: str = Field("", max_length=MAX_TEXT)

    _bandwidth_bounded = field_validator("bandwidth_bytes_per_cycle")(bounded_bandwidth)

    @model_validator(mode="after")
    def _consistent(self) -> "MemoryLevelSpec":
        if len(set(self.operands)) != len(self.operands):
            raise constraint_error("operands", "an operand listed twice", list(self.operands), "distinct operands")
        if (self.size_bytes is None) != (self.kind == "dram"):
            raise constraint_error("size_bytes", "every on-chip level has a size; DRAM has none", self.size_bytes,
                                   "size_bytes > 0 on chip, absent for kind = \"dram\"")
        if self.partition_bytes is not None:
            extra = sorted(set(self.partition_bytes) - set(self.operands))
            if extra:
                raise constraint_error(f"partition_bytes.{extra[0]}", "a partition for an operand the level does "
                                       "not hold", extra[0], ", ".join(self.operands))
            if self.size_bytes is not None and sum(self.partition_bytes.values()) > self.size_bytes:
                raise constraint_error("partition_bytes", "the partitions exceed the level's size",
                                       sum(self.partition_bytes.values()), f"<= size_bytes ({self.size_bytes})")
        return self


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
    # analytical model: "native" prices the schedule the directive engine runs; "maestro" MAESTRO's own
    # estimate (the L2 tile refilled off chip every top-level step), for comparisons with MAESTRO
    cycle_convention: Literal["native", "maestro"] = "native"

    _bandwidths_bounded = field_validator("noc_bandwidth_words_per_cycle",
                                          "offchip_bandwidth_words_per_cycle")(bounded_bandwidth)


SPARSE_REPRESENTATIONS: tuple[str, ...] = ("csr", "csc", "ellpack_block")


class SparsitySpec(Spec):
    """Sparse weight support (SCALE-Sim 3's [sparsity]): how an N:M-sparse filter's metadata is stored.

    The N:M ratio itself is per layer (Layer.sparsity_n / sparsity_m); this section prices its metadata."""

    representation: Literal["csr", "csc", "ellpack_block"] = "ellpack_block"
    block_size: int = Field(8, ge=1, le=64)  # SCALE-Sim's BlockSize (the M of its row-wise optimized mapping)
    seed: int = Field(40, ge=0, le=2**32 - 1)  # SCALE-Sim's RandomNumberGeneratorSeed (its optimized mapping's random N per column)
    # SCALE-Sim's OptimizedMapping: every layer gets a seeded random N per filter column in blocks of block_size
    # (sim.mapping.optmap); the layers' own N:M is then ignored, as SCALE-Sim does
    optimized_mapping: bool = False
    # Beyond SCALE-Sim: gate the MACs on zero input activations (Eyeriss's zero-skipping: energy, not cycles)
    skip_zero_activations: bool = False


class Hardware(Spec):
    name: str = Field(min_length=1, max_length=128)
    description: str = Field("", max_length=MAX_TEXT)
    source_file: str = ""  # where it was loaded from (set by the loader)
    pe_array: PeArraySpec | None = None
    buffers: BuffersSpec | None = None
    dram: DramSpec | None = None
    reram: ReramSpec | None = None
    directive_array: DirectiveArraySpec | None = None
    sparsity: SparsitySpec | None = None  # sparse weight support; None: sparse layers keep ellpack_block metadata
    # The memory hierarchy from the PEs outward; empty: derived from [buffers] / [dram] / [directive_array]
    # (see `hierarchy`). Given with a [pe_array] and no [buffers], [buffers] is derived from it.
    memory: tuple[MemoryLevelSpec, ...] = ()
    energy: dict[str, EnergyEntry] = {}
    area: dict[str, AreaEntry] = {}

    @model_validator(mode="before")
    @classmethod
    def _buffers_from_memory(cls, data: object) -> object:
        """A [pe_array] config that gives its hierarchy as [[memory]] levels gets today's [buffers] from them."""
        if not isinstance(data, dict):
            return data
        from sim.hardware.hierarchy import arrays_as_tuples, buffers_from_levels

        # With a before-validator, strict validation goes on in Python mode even for JSON input: every array
        # (the DRAM address mapping, [[memory]] and its operands) as the tuple the schema declares.
        data = arrays_as_tuples(data)
        if "memory" not in data:
            return data
        if data["memory"] and data.get("pe_array") is not None and data.get("buffers") is None:
            data["buffers"] = buffers_from_levels(data["memory"])
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> "Hardware":
        kinds = [k for k in ("pe_array", "reram", "directive_array") if getattr(self, k) is not None]
        if not kinds:
            raise constraint_error("pe_array", "a hardware config needs one of [pe_array], [reram] or "
                                   "[directive_array]", None, "[pe_array], [reram], [directive_array]")
        if self.pe_array is not None and self.buffers is None:
            raise constraint_error("buffers", "[pe_array] needs [buffers.ifmap], [buffers.filter] and "
                                   "[buffers.ofmap]", None, "a [buffers] section")
        if self.pe_array is not None and self.dram is None:
            raise constraint_error("dram", "[pe_array] needs a [dram] section", None, "a [dram] section")
        if self.memory:
            from sim.hardware.hierarchy import check_levels

            check_levels(self)
        for table in ("energy", "area"):
            for key in getattr(self, table):
                if not ACTION_KEY.match(key):
                    raise constraint_error(f"{table}.{key}", "key must be `component.action` in lower snake case",
                                           key, "e.g. mac, ifmap_sram.read, dram.read_byte")
        return self

    @property
    def hierarchy(self) -> tuple[MemoryLevelSpec, ...]:
        """The memory levels from the PEs outward: `memory` as given, else today's sections converted (a
        systolic array: one global buffer per operand, named `{operand}_sram`, then DRAM; a directive array:
        a per-PE `l1`, a shared `l2`, DRAM; a crossbar chip: none here)."""
        if self.memory:
            return self.memory
        from sim.hardware.hierarchy import levels_of

        return levels_of(self)

    @property
    def kind(self) -> str:
        if self.reram is not None:
            return "reram"
        if self.pe_array is not None:
            return "systolic"
        return "directive"
