"""The shipped ISAAC config reproduces ISAAC's published power, area and throughput; the model's numbers."""
from pathlib import Path

import pytest

from sim.analytical.crossbar import estimate_crossbar
from sim.energy.adc_law import adc_energy_pj, reram_energy_table
from sim.energy.area import chip_budget
from sim.errors import ConfigError
from sim.hardware.load import load_hardware
from sim.workload.layer import Layer

CONFIGS = Path(__file__).resolve().parents[3] / "hw_configs"


@pytest.fixture(scope="module")
def isaac():
    return load_hardware(CONFIGS / "isaac.toml")


def test_isaac_power_and_area_reproduce_the_paper(isaac):
    budget = chip_budget(isaac)
    assert budget.imas_mw == pytest.approx(289, abs=0.5)  # 12 IMAs
    assert budget.imas_mm2 == pytest.approx(0.157, abs=0.0005)
    assert budget.tile_mw == pytest.approx(330, abs=0.5)
    assert budget.tile_mm2 == pytest.approx(0.372, abs=0.0005)
    assert budget.chip_mw / 1000 == pytest.approx(65.8, abs=0.05)
    assert budget.chip_mm2 == pytest.approx(85.4, abs=0.05)


def test_isaac_peak_throughput_is_41_tops(isaac):
    budget = chip_budget(isaac)
    assert budget.peak_tops == pytest.approx(41.3, abs=0.05)
    assert budget.tops_per_w == pytest.approx(0.627, abs=0.002)
    assert budget.tops_per_mm2 == pytest.approx(0.483, abs=0.002)


def test_every_isaac_energy_and_area_entry_has_a_source(isaac):
    assert all(entry.source for entry in isaac.energy.values())
    assert all(entry.source for entry in isaac.area.values())
    text = (CONFIGS / "isaac.toml").read_text()
    numbers = [line for line in text.splitlines() if "=" in line and not line.lstrip().startswith("#")
               and line.split("=")[1].strip()[:1].isdigit()]
    assert numbers and all("# source:" in line for line in numbers)


def test_isaac_conv_layer_is_adc_dominated_and_fully_used(isaac):
    layer = Layer(name="conv", ifmap_h=30, ifmap_w=30, in_channels=128, out_channels=128, filter_h=3, filter_w=3,
                  ifmap_bits=16, filter_bits=16)
    result = estimate_crossbar(layer, isaac)
    extra = dict(result.extra)
    assert result.model == "analytical" and result.crossbar.output_error is None
    assert result.crossbar.adc_bits_configured == 8 and result.crossbar.adc_bits_required == 8
    assert extra["stage_cycles"] == 120  # 100 ns at 1.2 GHz
    assert result.compute_cycles == (784 * 16 + 2) * 120
    assert result.utilization == pytest.approx(784 * 16 / (784 * 16 + 2))
    assert 0.6 < extra["adc_energy_share"] < 0.7


def test_adc_energy_laws(isaac):
    assert adc_energy_pj(1.5, 10, 8, "linear") == pytest.approx(1.875)
    assert adc_energy_pj(1.5, 10, 8, "exponential") == pytest.approx(6.0)
    assert reram_energy_table(isaac, 6)["adc.convert"].pj == isaac.energy["adc.convert"].pj  # "table" law
    scaled = isaac.model_copy(update={"reram": isaac.reram.model_copy(
        update={"adc": isaac.reram.adc.model_copy(update={"energy_law": "exponential"})})})
    assert reram_energy_table(scaled, 6)["adc.convert"].pj == pytest.approx(1.5625 / 4)
    with pytest.raises(ConfigError, match="unknown ADC energy law"):
        adc_energy_pj(1.0, 8, 8, "cubic")


def test_reboc_config_loads_with_the_compressed_mapping():
    reboc = load_hardware(CONFIGS / "reboc.toml")
    layer = Layer.gemm_layer("fc", m=1, n=1024, k=1024, block_size=16)
    compressed = estimate_crossbar(layer, reboc)
    assert dict(compressed.extra)["circulant_compressed"] == 1.0
    assert compressed.crossbar.crossbars == 32
