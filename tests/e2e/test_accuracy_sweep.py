"""Accuracy studies through `sim sweep`: a [sweep.accuracy] table makes every engine-validated point run the model
on the labelled data over several noise seeds; the rows hold the mean and spread, and the plot is drawn."""
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("matplotlib")
from sim.errors import ConfigError  # noqa: E402
from sim.report.plots import accuracy_points, plot_sweep  # noqa: E402
from sim.sweep import load_sweep_spec, sweep  # noqa: E402

ROOT = Path(__file__).parents[2]


def spec_file(tmp_path, accuracy_extra=""):
    data = np.load(ROOT / "examples" / "digits_test.npz")
    np.savez(tmp_path / "few.npz", image=data["image"][:40], labels=data["labels"][:40])
    path = tmp_path / "study.toml"
    path.write_text(f"""
[sweep]
name = "study"
hardware = "{(ROOT / 'hw_configs' / 'isaac.toml').as_posix()}"
batch = 1

[sweep.parameters]
adc_bits = [4, 8]
read_noise_sigma = [0.0, 1.0]

[sweep.accuracy]
model = "{(ROOT / 'examples' / 'digits_cnn.onnx').as_posix()}"
data = "few.npz"
labels = "few.npz"
seeds = 2
{accuracy_extra}
[sweep.validate]
engine = "all"
""")
    return path


def test_accuracy_study_records_mean_and_spread_per_point(tmp_path):
    spec = load_sweep_spec(spec_file(tmp_path))
    assert spec.accuracy.seeds == 2 and spec.traces == (ROOT / "examples" / "digits_cnn.onnx",)
    result = sweep(spec, tmp_path / "out", workers=0)  # in this process: no fork after numba threads
    points = {(p["reram.adc.bits"], p["reram.non_ideal.read_noise_sigma"]): (acc, spread, ref)
              for p, acc, spread, ref, _ in accuracy_points(result.database)}
    assert len(points) == 4
    assert points[(8, 0.0)][0] == points[(8, 0.0)][2]  # lossless and noiseless: the float accuracy
    assert points[(4, 0.0)][0] < points[(8, 0.0)][0]
    assert points[(8, 0.0)][1] == 0.0 and points[(8, 1.0)][1] > 0.0  # spread only where there is noise
    written = plot_sweep(result.database, tmp_path / "plots")
    assert tmp_path / "plots" / "accuracy.png" in written


def test_accuracy_table_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="sweep.accuracy.seed"):
        load_sweep_spec(spec_file(tmp_path, "seed = 3"))
    path = spec_file(tmp_path)
    path.write_text(path.read_text().replace('data = "few.npz"', 'data = "missing.npz"'))
    with pytest.raises(ConfigError, match="sweep.accuracy.data: file not found"):
        load_sweep_spec(path)
