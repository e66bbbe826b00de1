"""Shared assertions of the mapper's tests: the batched closed form against the one-record model."""
from __future__ import annotations

import numpy as np
import pytest

from sim.analytical.systolic import estimate_systolic


def assert_batch_equals_records(layer, hw, batch, picks: np.ndarray) -> None:
    """Candidates `picks` of `batch` (sim.mapper.space.Candidates), scored together, are valid and equal
    estimate_systolic on each one's record: cycles exactly, energy to 1e-12."""
    values = batch.take(picks).estimate(layer, hw)
    for j, i in enumerate(picks.tolist()):
        result = estimate_systolic(layer, hw, batch.record(layer, hw, i))
        assert values["valid"][j]
        assert int(values["cycles"][j]) == result.cycles
        assert values["energy_pj"][j] == pytest.approx(result.energy.total_pj, rel=1e-12)
