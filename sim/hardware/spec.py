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
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator
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

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True)


def constraint_error(field: str, message: str, value: object, allowed: str) -> PydanticCustomError:
    """A cross-field validation error that still names the offending field (the loaders read `ctx`)."""
    return PydanticCustomError(
        "sim_constraint", "{message}", {"field": field, "message": message, "value": value, "allowed": allowed}
    )


class PeArraySpec(Spec):
    rows: PositiveInt
    cols: PositiveInt
    dataflow: Dataflow = "ws"
    clock_mhz: float = Field(1000.0, gt=0)
    accumulator_bits: int = Field(32, ge=8, le=64)
    cycle_convention: CycleConvention = "native"

    @property
    def pes(self) -> int:
        return self.rows * self.cols


class SramSpec(Spec):
    """One operand's on-chip buffer. `size_kb` is KiB of storage in total (both halves when double-buffered)."""

    size_kb: float = Field(gt=0)
    word_bytes: PositiveInt = 1
    banks: PositiveInt = 1
    ports: PositiveInt = 1  # read/write ports per bank
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

    channels: PositiveInt = 1
    banks: PositiveInt = 16
    row_bytes: PositiveInt = 2048
    t_rcd_cycles: int = Field(ge=0)
    t_rp_cycles: int = Field(ge=0)
    t_cas_cycles: int = Field(ge=0)
    source: str = ""


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
    tck_ns: float = Field(gt=0)
    channels: PositiveInt = 1  # independent channels (HBM2: pseudo channels), each with its own controller
    ranks: PositiveInt = 1
    bankgroups: PositiveInt = 1
    banks_per_group: PositiveInt
    row_bytes: PositiveInt  # row buffer of one rank (a page across the rank's devices)
    transaction_bytes: PositiveInt = 64  # one burst on the channel
    cl_tck: PositiveInt
    cwl_tck: PositiveInt
    bl_tck: PositiveInt  # data-bus cycles of one transaction
    rcd_tck: PositiveInt
    rp_tck: PositiveInt
    ras_tck: PositiveInt
    rc_tck: PositiveInt
    rtp_tck: PositiveInt
    wr_tck: PositiveInt
    ccd_s_tck: PositiveInt
    ccd_l_tck: PositiveInt
    rrd_s_tck: PositiveInt
    rrd_l_tck: PositiveInt
    faw_tck: PositiveInt
    wtr_s_tck: PositiveInt
    wtr_l_tck: PositiveInt
    rfc_tck: PositiveInt
    refi_tck: PositiveInt
    queue_depth: PositiveInt = 32  # read queue and write queue, each, per channel
    write_high_watermark: float = Field(0.8, gt=0, le=1)  # fraction of the write queue that starts a write drain
    write_low_watermark: float = Field(0.2, ge=0, lt=1)  # ... and below which it ends (reads waiting)
    mapping: tuple[str, ...] = DDR_ADDRESS_FIELDS  # address fields, high to low bits
    act_pj: float = Field(0, ge=0)  # energy of one ACT and its PRE (one rank)
    pre_pj: float = Field(0, ge=0)
    rd_pj: float = Field(0, ge=0)  # one transaction's read burst
    wr_pj: float = Field(0, ge=0)
    ref_pj: float = Field(0, ge=0)  # one all-bank refresh of a rank
    background_mw: float = Field(0, ge=0)  # standby power of one rank
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> DdrDeviceSpec:
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
    bandwidth_bytes_per_cycle: float = Field(gt=0)
    latency_cycles: int = Field(0, ge=0)
    burst_bytes: PositiveInt = 64
    preset: str | None = None  # name of a preset in sim/hardware/dram_presets.toml
    timing: DramTimingSpec | None = None
    device: DdrDeviceSpec | None = None  # model "ddr": the preset's device (inline keys override it)
    ifmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0)
    filter_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0)
    ofmap_bandwidth_bytes_per_cycle: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _bank_row_needs_timing(self) -> DramSpec:
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

    pj: float = Field(ge=0)
    source: str
    note: str = ""


class AreaEntry(Spec):
    mm2: float = Field(ge=0)
    count: PositiveInt = 1
    source: str
    note: str = ""


class AdcSpec(Spec):
    """The column ADC of a crossbar: resolution, range policy, rounding, sharing, energy law (docs/reram.md §3).

    `bits = "lossless"` resolves the full-scale column sum of one read exactly (one bit fewer with
    `column_flip`). Range policies: `full_scale` spans the worst-case column sum of a full crossbar with a
    power-of-two step; `granular` keeps a step of one cell LSB and clips above 2**bits - 1; `calibrated`
    spans [calibrated_min, calibrated_max] x full scale with 2**bits levels.
    """

    bits: PositiveInt | Literal["lossless"] = 8
    cols_per_adc: PositiveInt = 128
    sample_rate_gsps: float = Field(1.28, gt=0)
    range_policy: Literal["full_scale", "granular", "calibrated"] = "full_scale"
    rounding: Literal["half_even", "half_up", "floor"] = "half_even"
    calibrated_min: float = Field(0.0, ge=0, le=1)  # fraction of the full-scale column sum
    calibrated_max: float = Field(1.0, gt=0, le=1)
    column_flip: bool = False  # ISAAC's flipped encoding: one ADC bit fewer
    # How adc.convert energy scales from the table entry (measured at energy_reference_bits) to `bits`.
    energy_law: Literal["table", "linear", "exponential"] = "table"
    energy_reference_bits: PositiveInt = 8
    # How the ADC's area (area."ima.adc") scales from energy_reference_bits to the configured bits (TinyADC).
    area_law: Literal["table", "linear", "exponential"] = "table"

    @model_validator(mode="after")
    def _calibrated_range(self) -> AdcSpec:
        if self.calibrated_min >= self.calibrated_max:
            raise ValueError("calibrated_min must be below calibrated_max")
        return self


class NonIdealitySpec(Spec):
    """Device non-idealities; all off by default. Seeded by the run's seed."""

    levels: PositiveInt | None = None  # conductance levels per cell (None: 2**cell_bits, ideal)
    on_off_ratio: float | None = Field(None, gt=1)  # G_on / G_off; None: ideal (G_off = 0)
    programming_sigma: float = Field(0.0, ge=0)  # relative std-dev of programmed conductance
    stuck_at_on: float = Field(0.0, ge=0, le=1)  # fraction of cells
    stuck_at_off: float = Field(0.0, ge=0, le=1)
    read_noise_sigma: float = Field(0.0, ge=0)  # relative to one level, per read

    @property
    def ideal(self) -> bool:
        return (self.levels is None and self.on_off_ratio is None and self.programming_sigma == 0
                and self.stuck_at_on == 0 and self.stuck_at_off == 0 and self.read_noise_sigma == 0)


class ReramSpec(Spec):
    """A ReRAM crossbar chip (ISAAC/PUMA-style): crossbar, encoding, ADC, hierarchy, block-circulant mapping."""

    crossbar_rows: PositiveInt = 128
    crossbar_cols: PositiveInt = 128
    cell_bits: PositiveInt = 2
    weight_bits: PositiveInt = 16
    input_bits: PositiveInt = 16
    dac_bits: PositiveInt = 1
    signed_inputs: bool = True  # two's complement: the sign bit is one extra read of weight -2**(input_bits-1)
    signed_weights: Literal["offset", "differential", "unit_column"] = "offset"
    slice_placement: Literal["adjacent_columns", "separate_crossbars"] = "adjacent_columns"
    adc: AdcSpec = AdcSpec()
    read_latency_ns: float = Field(100.0, gt=0)
    pipeline_stages: PositiveInt = 3
    crossbars_per_ima: PositiveInt = 8
    adcs_per_ima: PositiveInt = 8
    imas_per_tile: PositiveInt = 12
    tiles: PositiveInt = 168
    # chips on the board; "auto": as many as the mapped trace needs (all weights stay resident)
    chips: PositiveInt | Literal["auto"] = 1
    tiles_per_router: PositiveInt = 4
    edram_kb_per_tile: float = Field(64, gt=0)
    edram_port_bits: PositiveInt = 256
    bus_bits: PositiveInt = 384
    noc_flit_bits: PositiveInt = 32
    offchip_gbytes_per_s: float = Field(6.4, gt=0)
    clock_mhz: float = Field(1200.0, gt=0)  # digital clock (ISAAC: 1.2 GHz) for the engine's cycle
    block_circulant: Literal["expanded", "compressed"] = "expanded"
    duplication: PositiveInt | Literal["auto"] = 1  # ReBoc intra-crossbar weight duplication u
    input_slice_reuse: bool = False
    input_tile_sharing: bool = False
    # ReBoc at equal area: crossbars the compressed mapping may fill with block copies (intra- and across
    # crossbars). "none": the duplication setting alone; "expanded": the expanded mapping's crossbars; an
    # integer: that many chips (docs/reram.md §4).
    circulant_budget: PositiveInt | Literal["none", "expanded"] = "none"
    # ReBoc's intra-layer pipeline: rotation rounds overlap through the S&H/ADC stages (false: each round drains)
    intra_layer_pipeline: bool = True
    # RED: a transposed conv as the zero-inserted convolution, or pixel-wise (each input pixel x the whole
    # kernel, overlap-added; inserted zeros never read)
    deconv: Literal["zero_insertion", "pixel_wise"] = "zero_insertion"
    # TinyADC: at most this many non-zero weights per crossbar column segment (None: no pruning constraint)
    prune_nonzero: PositiveInt | None = None
    replicate_layers: bool = True  # ISAAC: replicate early layers to balance the inter-layer pipeline
    non_ideal: NonIdealitySpec = NonIdealitySpec()

    @model_validator(mode="after")
    def _pruning_needs_zero_cells(self) -> ReramSpec:
        if self.prune_nonzero is not None and self.signed_weights != "differential":
            raise ValueError("prune_nonzero (TinyADC) needs pruned weights to store zero cells: "
                             "signed_weights = \"differential\" (an offset stores 2**(weight_bits-1) for a zero)")
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
    size_bytes: int | None = Field(None, gt=0)
    instances: PositiveInt = 1
    word_bytes: PositiveInt = 1
    banks: PositiveInt = 1
    ports: PositiveInt = 1
    bandwidth_bytes_per_cycle: float = Field(math.inf, gt=0)
    latency_cycles: int = Field(0, ge=0)
    double_buffered: bool = False
    partition_bytes: dict[Operand, int] | None = None
    source: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> MemoryLevelSpec:
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

    num_pes: PositiveInt
    l1_size_bytes: int = Field(gt=0)
    l2_size_bytes: int = Field(gt=0)
    noc_bandwidth_words_per_cycle: float = Field(gt=0)
    offchip_bandwidth_words_per_cycle: float = Field(gt=0)
    noc_latency_cycles: int = Field(1, ge=0)  # per hop (MAESTRO's hop latency)
    word_bytes: PositiveInt = 1
    noc_hops: PositiveInt = 1  # average hops a NoC transfer takes (MAESTRO's default: 1)
    vector_width: PositiveInt = 1  # MACs per PE per cycle (MAESTRO's SIMD lanes)
    double_buffered: bool = True  # L1/L2 double buffering, as MAESTRO assumes


SPARSE_REPRESENTATIONS: tuple[str, ...] = ("csr", "csc", "ellpack_block")


class SparsitySpec(Spec):
    """Sparse weight support (SCALE-Sim 3's [sparsity]): how an N:M-sparse filter's metadata is stored.

    The N:M ratio itself is per layer (Layer.sparsity_n / sparsity_m); this section prices its metadata."""

    representation: Literal["csr", "csc", "ellpack_block"] = "ellpack_block"
    block_size: PositiveInt = 8  # SCALE-Sim's BlockSize (the M of its row-wise optimized mapping)
    seed: int = 40  # SCALE-Sim's RandomNumberGeneratorSeed (its optimized mapping's random N per column)


class Hardware(Spec):
    name: str = Field(min_length=1)
    description: str = ""
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
        if not isinstance(data, dict) or "memory" not in data:
            return data
        from sim.hardware.hierarchy import buffers_from_levels, plain_levels

        # Validation goes on in Python mode from here: arrays as the tuples the schema declares.
        data = {**data, "memory": plain_levels(data["memory"])}
        if data["memory"] and data.get("pe_array") is not None and data.get("buffers") is None:
            data["buffers"] = buffers_from_levels(data["memory"])
        return data

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
