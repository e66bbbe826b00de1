"""Issue 18's crossbar options switched off reproduce the numbers from before they existed, field by field.

tests/data/crossbar_golden.json was written by the analytical model and the engine at the commit before the
options (circulant_budget, intra_layer_pipeline, prune_nonzero, adc.area_law, deconv) were added; records may gain
new fields, but every field that existed keeps its value exactly.
"""
import json
from pathlib import Path

import pytest

from sim.analytical.crossbar import estimate_crossbar_trace
from sim.api import load_hardware, load_trace
from sim.engine.crossbar import simulate_crossbar_trace
from sim.records import flatten

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = json.loads((ROOT / "tests" / "data" / "crossbar_golden.json").read_text())
RUNS = {"analytical": estimate_crossbar_trace, "engine": simulate_crossbar_trace}


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_new_options_off_give_todays_numbers(case):
    config, trace_file, model = case.split("|")
    hw = load_hardware(ROOT / "hw_configs" / config)
    reram = hw.reram
    assert (reram.circulant_budget, reram.intra_layer_pipeline, reram.prune_nonzero, reram.adc.area_law,
            reram.deconv) == ("none", True, None, "table", "zero_insertion")  # the shipped ISAAC/ReBoc configs leave every new option off
    run = RUNS[model](load_trace(ROOT / "traces" / trace_file), hw)
    expected = GOLDEN[case]
    assert {k: v for k, v in dict(run.metadata).items() if k in expected["metadata"]} == expected["metadata"]
    assert len(run.layers) == len(expected["layers"])
    for layer, old in zip(run.layers, expected["layers"]):
        now = flatten(layer.to_dict())
        assert {k: now.get(k) for k in old} == old, layer.name
