"""What makes the search fast must not change what it finds: the heuristic's F = 1 and F > 1 searches scored in
lockstep see exactly what each sees alone, a layer's footprint counter reused across batches counts as a fresh one,
and rare collections leave the collector as they found it."""
import gc

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim.analytical import systolic
from sim.heap import YOUNG_THRESHOLD, rare_collections
from sim.mapper.runs import LayerRuns
from sim.mapper.search import _as_candidates, _in_lockstep, _named, _phase_searches, _score
from sim.mapping import footprint
from tests.unit.mapper.test_mapper import SETTINGS, fill_hw, fill_points, layers, wide_convs


def _phases(layer, hw, space, objective, budget, seed):
    named = _as_candidates(list(_named(layer, hw).values()))
    return _phase_searches(layer, hw, space, objective, budget, seed, float("inf"), named)


def _flat(parts):
    return [(tuple(map(tuple, (p[0].dataflow, p[0].chunks, *p[0].whole, p[0].outside, p[0].fill, p[0].run))),
             tuple(p[1].tolist()), {key: tuple(np.asarray(value).tolist()) for key, value in p[2].items()})
            for p in parts]


@SETTINGS
@given(layers(), fill_points, st.sampled_from(["latency", "energy", "edp"]), st.integers(2, 24), st.integers(0, 99))
def test_searches_in_lockstep_see_what_each_sees_alone(layer, point, objective, budget, seed):
    hw = fill_hw(*point)
    space = LayerRuns(hw, 0, {}, hw.model_dump_json()).space(layer)
    if not space.families:
        return

    def score(batch):
        return _score(layer, hw, batch, objective)

    together = _in_lockstep(_phases(layer, hw, space, objective, budget, seed), score)
    alone = [part for search in _phases(layer, hw, space, objective, budget, seed)
             for part in _in_lockstep([search], score)]
    assert _flat(together) == _flat(alone)


@SETTINGS
@given(wide_convs(), fill_points, st.integers(0, 2**31))
def test_a_counter_reused_across_batches_counts_as_a_fresh_one(layer, point, seed):
    """Scoring a sample after other batches of the same layer (the counter keeps their tilings and pair tables)
    gives the numbers a fresh counter gives."""
    hw = fill_hw(*point)
    space = LayerRuns(hw, 0, {}, hw.model_dump_json()).space(layer)
    if not space.families:
        return
    batch = space.all()
    rng = np.random.default_rng(seed)
    for _ in range(3):  # earlier batches: overlapping samples of the space
        batch.take(rng.choice(len(batch), size=min(len(batch), 16), replace=False)).estimate(layer, hw)
    sample = batch.take(rng.choice(len(batch), size=min(len(batch), 32), replace=False))
    reused = sample.estimate(layer, hw)
    footprint._layer_counter.cache_clear()
    fresh = sample.estimate(layer, hw)
    assert set(reused) == set(fresh)
    for key in fresh:
        assert np.array_equal(reused[key], fresh[key]), key
    one = sample.record(layer, hw, 0)  # a single record counts through the same counter
    assert systolic.estimate_systolic(layer, hw, one).cycles == fresh["cycles"][0] or not fresh["valid"][0]


def test_rare_collections_restore_the_collector_and_still_collect_new_garbage():
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    with rare_collections():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == max(thresholds[0], YOUNG_THRESHOLD)
        assert gc.isenabled()
        cycle = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # garbage made inside is collected as before
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == thresholds


def test_rare_collections_leave_a_callers_freeze_alone():
    gc.freeze()
    thresholds = gc.get_threshold()
    try:
        before = gc.get_freeze_count()
        with rare_collections():
            assert gc.get_freeze_count() == before
            assert gc.get_threshold() == thresholds
        assert gc.get_freeze_count() == before
    finally:
        gc.unfreeze()
