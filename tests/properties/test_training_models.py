"""Every training operation runs on every model: engine and analytical agree on MACs, and the functional values
of each op are exact on the systolic fold model and on ideal ReRAM crossbars."""
from pathlib import Path

import pytest

import sim
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[2]
TRACE = Trace("small", (
    Layer(name="c1", ifmap_h=8, ifmap_w=8, in_channels=4, out_channels=8, filter_h=3, filter_w=3, stride_h=2,
          stride_w=2, pad_top=1, pad_bottom=1, pad_left=1, pad_right=1, batch=2),
    Layer(name="dw", ifmap_h=4, ifmap_w=4, in_channels=8, out_channels=8, filter_h=3, filter_w=3, groups=8,
          dilation_h=2, dilation_w=2, pad_top=2, pad_bottom=2, pad_left=2, pad_right=2, batch=2),
    Layer.gemm_layer("fc", m=1, k=128, n=10, batch=2),
))


@pytest.mark.parametrize("config", ["scalesim_32x32_os.toml", "scalesim_32x32_ws.toml", "isaac.toml"])
def test_training_ops_are_exact_functionally_and_models_agree_on_macs(config):
    hw = sim.load_hardware(ROOT / "hw_configs" / config)
    engine = sim.train(TRACE, hw, functional=True)
    analytical = sim.train(TRACE, hw, analytical=True)
    ops = [layer for layer in engine.layers if layer.macs]
    assert len(ops) == 3 * len(TRACE.layers)
    for layer in ops:
        assert layer.functional is not None and layer.functional.max_abs_error == 0, layer.name
    assert [layer.macs for layer in engine.layers] == [layer.macs for layer in analytical.layers]
