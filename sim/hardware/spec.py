"""The hardware spec: immutable, validated at construction, unknown keys forbidden.

One `Hardware` record describes any accelerator this simulator models; a section is present only for
the hardware it describes (`pe_array` for digital PE arrays, `reram` for crossbar chips, `directive_array`
for MAESTRO-style PE clusters). The TOML schema is exactly these models: a key in a config file is a field
here (see hw_configs/*.toml and docs/hardware.md). Units are in the field names.

pydantic does the validation so every message names the field path, the value and what is allowed;
`sim.hardware.load` turns its errors into ConfigError with the file attached.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

Dataflow = Literal["os", "ws", "is"]
DATAFLOWS: tuple[str, ...] = ("os", "ws", "is")
# "native": our per-cycle reference's timing; "scalesim": SCALE-Sim 3.0.0's compute-cycle formulas.
CycleConvention = Literal["native", "scalesim"]


class Spec(BaseModel):
    """Base of every spec section: frozen, unknown keys are errors, strict numeric types."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, validate_default=True)


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


class DramSpec(Spec):
    model: Literal["bandwidth", "bank_row"] = "bandwidth"
    bandwidth_bytes_per_cycle: float = Field(gt=0)
    latency_cycles: int = Field(0, ge=0)
    burst_bytes: PositiveInt = 64
    preset: str | None = None  # name of a bank/row preset in sim/hardware/dram_presets.toml
    timing: DramTimingSpec | None = None

    @model_validator(mode="after")
    def _bank_row_needs_timing(self) -> "DramSpec":
        if self.model == "bank_row" and self.timing is None and self.preset is None:
            raise ValueError("model 'bank_row' needs a 'preset' or a [dram.timing] table")
        return self


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
    bits: int | Literal["lossless"] = 8
    cols_per_adc: PositiveInt = 128
    sample_rate_gsps: float = Field(1.28, gt=0)
    range_policy: Literal["full_scale", "granular", "calibrated"] = "full_scale"
    rounding: Literal["half_even", "half_up", "floor"] = "half_even"
    column_flip: bool = False  # ISAAC's flipped encoding: one ADC bit fewer
    energy_law: Literal["table", "linear", "exponential"] = "table"


class NonIdealitySpec(Spec):
    """Device non-idealities; all off by default. Seeded by the run's seed."""

    levels: int | None = None  # conductance levels per cell (None: 2**cell_bits, ideal)
    on_off_ratio: float | None = None  # None: ideal (G_off = 0)
    programming_sigma: float = Field(0.0, ge=0)  # relative std-dev of programmed conductance
    stuck_at_on: float = Field(0.0, ge=0, le=1)  # fraction of cells
    stuck_at_off: float = Field(0.0, ge=0, le=1)
    read_noise_sigma: float = Field(0.0, ge=0)  # relative to one level, per read


class ReramSpec(Spec):
    crossbar_rows: PositiveInt = 128
    crossbar_cols: PositiveInt = 128
    cell_bits: PositiveInt = 2
    weight_bits: PositiveInt = 16
    input_bits: PositiveInt = 16
    dac_bits: PositiveInt = 1
    signed_weights: Literal["offset", "differential", "unit_column"] = "offset"
    slice_placement: Literal["adjacent_columns", "separate_crossbars"] = "adjacent_columns"
    adc: AdcSpec = AdcSpec()
    read_latency_ns: float = Field(100.0, gt=0)
    pipeline_stages: PositiveInt = 3
    crossbars_per_ima: PositiveInt = 8
    adcs_per_ima: PositiveInt = 8
    imas_per_tile: PositiveInt = 12
    tiles: PositiveInt = 168
    edram_kb_per_tile: float = Field(64, gt=0)
    edram_port_bits: PositiveInt = 256
    bus_bits: PositiveInt = 384
    noc_flit_bits: PositiveInt = 32
    clock_mhz: float = Field(1200.0, gt=0)  # digital clock (ISAAC: 1.2 GHz) for the engine's cycle
    block_circulant: Literal["expanded", "compressed"] = "expanded"
    duplication: PositiveInt = 1  # ReBoc intra-crossbar weight duplication u
    input_slice_reuse: bool = False
    input_tile_sharing: bool = False
    non_ideal: NonIdealitySpec = NonIdealitySpec()


class DirectiveArraySpec(Spec):
    """A MAESTRO-style PE array: the numbers of MAESTRO's hardware .m file."""

    num_pes: PositiveInt
    l1_size_bytes: int = Field(gt=0)
    l2_size_bytes: int = Field(gt=0)
    noc_bandwidth_words_per_cycle: float = Field(gt=0)
    offchip_bandwidth_words_per_cycle: float = Field(gt=0)
    noc_latency_cycles: int = Field(1, ge=0)
    word_bytes: PositiveInt = 1


class Hardware(Spec):
    name: str
    description: str = ""
    source_file: str = ""  # where it was loaded from (set by the loader)
    pe_array: PeArraySpec | None = None
    buffers: BuffersSpec | None = None
    dram: DramSpec | None = None
    reram: ReramSpec | None = None
    directive_array: DirectiveArraySpec | None = None
    energy: dict[str, EnergyEntry] = {}
    area: dict[str, AreaEntry] = {}

    @model_validator(mode="after")
    def _one_kind(self) -> "Hardware":
        kinds = [k for k in ("pe_array", "reram", "directive_array") if getattr(self, k) is not None]
        if not kinds:
            raise ValueError("a hardware config needs one of [pe_array], [reram] or [directive_array]")
        if self.pe_array is not None and self.buffers is None:
            raise ValueError("[pe_array] needs [buffers.ifmap], [buffers.filter] and [buffers.ofmap]")
        if self.pe_array is not None and self.dram is None:
            raise ValueError("[pe_array] needs a [dram] section")
        return self

    @property
    def kind(self) -> str:
        if self.reram is not None:
            return "reram"
        if self.pe_array is not None:
            return "systolic"
        return "directive"
