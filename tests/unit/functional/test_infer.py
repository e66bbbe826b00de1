"""End-to-end inference of the shipped digits CNN: on exact hardware (digital array, lossless ADC) the final
outputs equal the integer reference of the quantized graph bit for bit, and their distance to onnxruntime's
float run is the quantization's alone; accuracy falls with the ADC bits; bad datasets are ConfigErrors."""
from pathlib import Path

import numpy as np
import pytest

import sim
from sim.errors import ConfigError
from sim.functional.infer import infer
from sim.functional.quantize import QuantConfig

pytest.importorskip("onnx")
ROOT = Path(__file__).parents[3]
MODEL = ROOT / "examples" / "digits_cnn.onnx"
DATA = ROOT / "examples" / "digits_test.npz"
SYSTOLIC = sim.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")
ISAAC = sim.load_hardware(ROOT / "hw_configs" / "isaac.toml")


def with_adc(hw, **adc):
    return hw.model_copy(update={"reram": hw.reram.model_copy(update={"adc": hw.reram.adc.model_copy(update=adc)})})


def subset(count=60):
    data = np.load(DATA)
    return {"image": data["image"][:count]}, data["labels"][:count]


@pytest.mark.parametrize("hw", [SYSTOLIC, ISAAC, with_adc(ISAAC, bits="lossless", column_flip=False)],
                         ids=["systolic", "isaac", "isaac-lossless"])
def test_exact_hardware_equals_the_integer_reference_bit_for_bit(hw):
    data, labels = subset()
    result = infer(MODEL, data, hw, labels=labels, timing=False, exact_reference=True)
    for name, values in result.outputs.items():
        np.testing.assert_array_equal(values, result.exact_outputs[name])
    # against onnxruntime's float run the difference is the quantization's: the integer reference's own
    assert result.reference_source == "onnxruntime"
    quantization_error = max(float(np.abs(result.exact_outputs[k] - result.reference[k]).max()) for k in result.outputs)
    assert result.output_max_abs_error == quantization_error
    assert result.float_executor_error < 1e-4


def test_accuracy_is_kept_on_exact_hardware_and_lost_with_few_adc_bits():
    data, labels = subset(120)
    exact = sim.infer(MODEL, data, SYSTOLIC, labels=labels, timing=False)
    assert exact.accuracy == exact.float_accuracy > 0.9
    coarse = sim.infer(MODEL, data, with_adc(ISAAC, bits=4), labels=labels, timing=False)
    assert coarse.accuracy < exact.accuracy - 0.3
    assert all(layer.relative_rms_error > 0.1 for layer in coarse.layers)


def test_timing_and_energy_of_the_same_run_are_reported():
    data, labels = subset(8)
    result = sim.infer(MODEL, data, ISAAC, labels=labels)
    assert [layer.name for layer in result.run.layers] == ["conv", "fc"]
    assert result.run.layers[0].macs == 8 * 64 * 9 * 8  # the dataset's batch
    assert result.run.totals()["energy_pj"]["total"] > 0


def test_noise_seeds_change_the_outputs_deterministically():
    data, labels = subset(20)
    noisy = ISAAC.model_copy(update={"reram": ISAAC.reram.model_copy(update={
        "non_ideal": ISAAC.reram.non_ideal.model_copy(update={"read_noise_sigma": 2.0})})})
    first, again, other = (sim.infer(MODEL, data, noisy, labels=labels, timing=False, seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(first.outputs["logits"], again.outputs["logits"])
    assert not np.array_equal(first.outputs["logits"], other.outputs["logits"])


def test_quantization_settings_reach_the_hardware():
    data, _ = subset(20)
    wide = sim.infer(MODEL, data, SYSTOLIC, timing=False)
    narrow = sim.infer(MODEL, data, SYSTOLIC, timing=False, quantization=QuantConfig(weight_bits=3, input_bits=3))
    assert narrow.output_max_abs_error > 3 * wide.output_max_abs_error


def test_dataset_not_matching_the_model_input_is_a_config_error(tmp_path):
    np.savez(tmp_path / "bad.npz", image=np.zeros((4, 1, 7, 7), dtype=np.float32))
    with pytest.raises(ConfigError, match=r"bad.npz: image: dataset does not match the model input.*\('N', 1, 8, 8\)"):
        sim.infer(MODEL, tmp_path / "bad.npz", SYSTOLIC, timing=False)
    np.savez(tmp_path / "other.npz", pixels=np.zeros((4, 1, 8, 8)), more=np.zeros(3))
    with pytest.raises(ConfigError, match="dataset lacks model inputs"):
        sim.infer(MODEL, tmp_path / "other.npz", SYSTOLIC, timing=False)
    with pytest.raises(ConfigError, match=r"labels must be one integer class per sample.*\(4,\)"):
        sim.infer(MODEL, np.zeros((4, 1, 8, 8)), SYSTOLIC, labels=np.zeros(5, dtype=int), timing=False)
