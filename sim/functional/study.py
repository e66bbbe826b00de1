"""Accuracy of a labelled dataset on one hardware point, Monte-Carlo over the device-noise seeds."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.functional.infer import infer
from sim.hardware.spec import Hardware


@dataclass(frozen=True)
class AccuracyStats:
    accuracy: float  # mean top-1 over the seeds
    accuracy_std: float  # spread over the seeds (0 for one seed or noiseless hardware)
    float_accuracy: float
    seeds: int


def accuracy_over_seeds(model: str | Path, data: Any, labels: Any, hw: Hardware, *, seeds: int, first_seed: int = 0,
                        quantization: Any = None) -> AccuracyStats:
    """Top-1 accuracy of `model` on `hw` for seeds first_seed .. first_seed + seeds - 1 (timing not run)."""
    runs = [infer(model, data, hw, labels=labels, quantization=quantization, seed=first_seed + s, timing=False)
            for s in range(seeds)]
    values = np.array([run.accuracy for run in runs])
    return AccuracyStats(accuracy=float(values.mean()), accuracy_std=float(values.std()) if np.ptp(values) else 0.0,
                         float_accuracy=float(runs[0].float_accuracy), seeds=seeds)
