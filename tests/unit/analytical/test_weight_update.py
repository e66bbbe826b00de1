"""ReRAM training writes: cells written, energy = writes x per-cell energy, endurance, and the spec's errors."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.analytical.weight_update import crossbar_write, training_writes
from sim.api import load_hardware
from sim.errors import ConfigError
from sim.hardware.reram_write import ReramWriteSpec, load_reram_write
from sim.mapping.crossbar import map_crossbar
from sim.workload.layer import Layer
from sim.workload.trace import Trace
from sim.workload.training import training_ops

ISAAC = load_hardware("hw_configs/isaac.toml")


def test_shipped_spec_loads_with_its_sources():
    spec = load_reram_write()
    assert spec.energy_pj_per_cell > 0 and spec.endurance_cycles >= 1e6 and spec.pulses_per_write >= 1


@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 5), st.floats(0.1, 20), st.floats(1e6, 1e12))
def test_write_energy_is_cells_times_pulses_times_cell_energy(k, n, pulses, pj, endurance):
    spec = ReramWriteSpec(energy_pj_per_cell=pj, latency_ns_per_row=10.0, pulses_per_write=pulses,
                          endurance_cycles=endurance)
    layer = Layer.gemm_layer("fc", m=4, k=k, n=n)
    result = crossbar_write(layer, ISAAC, spec, "fc.weight_update")
    cells = map_crossbar(layer, ISAAC).weight_cells
    # 16-bit weights in 2-bit cells: 8 cells per weight, every weight written once
    assert cells == k * n * 8
    assert result.actions.get("reram.write_cell") == cells * pulses
    assert result.energy.total_pj == pytest.approx(cells * pulses * pj)
    assert dict(result.extra)["endurance_per_step"] == pytest.approx(pulses / endurance)
    # rows of one crossbar are written one after another; crossbars in parallel
    rows = min(k, ISAAC.reram.crossbar_rows)
    assert dict(result.extra)["write_latency_ns"] == pytest.approx(rows * 10.0 * pulses)
    assert result.macs == 0


def test_a_training_step_writes_weights_their_transpose_and_the_gradient_operand():
    layer = Layer(name="c", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3)
    writes = training_writes(training_ops(Trace("t", (layer,))), ISAAC, load_reram_write())
    assert [w.name for w in writes] == ["c.weight_update", "c.weight_update_transposed", "c.gradient_program"]
    assert dict(writes[0].extra)["cells_written"] == layer.filter_elements * 8


@pytest.mark.parametrize("text, field", [
    ("energy_pj_per_cell = 1.0\nlatency_ns_per_row = 1.0\npulses_per_write = 1\n", "endurance_cycles"),
    ("energy_pj_per_cell = -1.0\nlatency_ns_per_row = 1.0\npulses_per_write = 1\nendurance_cycles = 1e6\n",
     "energy_pj_per_cell"),
    ("energy_pj_per_cell = 1.0\nlatency_ns_per_row = 1.0\npulses_per_write = 1.5\nendurance_cycles = 1e6\n",
     "pulses_per_write"),
    ("energy_pj = 1.0\n", "energy_pj"),
])
def test_bad_write_spec_names_the_field(tmp_path, text, field):
    path = tmp_path / "w.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=field) as err:
        load_reram_write(path)
    assert "w.toml" in str(err.value)
