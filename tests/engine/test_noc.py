"""The NoC component: bandwidth and latency timing, multicast counted once, spatial reduction, FIFO channels."""
from __future__ import annotations

import pytest
import simpy

from sim.engine.noc import Noc
from sim.errors import ConfigError


@pytest.fixture
def env() -> simpy.Environment:
    return simpy.Environment()


@pytest.fixture
def log() -> list:
    return []


def _request(env, noc, log, name, words, kind, fanout=1, at=0):
    def process():
        if at:
            yield env.timeout(at)
        yield noc.transfer(words, kind, fanout)
        log.append((name, env.now))
    env.process(process())


def test_transfer_takes_ceil_words_over_bandwidth_plus_latency(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=4, latency_cycles=3)
    _request(env, noc, log, "a", 10, "unicast")
    env.run()
    assert log == [("a", 3 + 3)]  # ceil(10 / 4) = 3 cycles on the channel, then 3 cycles latency


def test_distribution_channel_is_fifo_and_pipelines_latency(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=2, latency_cycles=5)
    _request(env, noc, log, "first", 4, "unicast")
    _request(env, noc, log, "second", 2, "multicast", fanout=8)
    env.run()
    # second starts when first leaves the channel (cycle 2), not when first's data arrived (cycle 7)
    assert log == [("first", 7), ("second", 8)]


def test_distribution_and_collection_channels_do_not_contend(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=1, latency_cycles=0)
    _request(env, noc, log, "in", 6, "unicast")
    _request(env, noc, log, "out", 6, "reduce", fanout=3)
    env.run()
    assert sorted(log) == [("in", 6), ("out", 6)]


def test_multicast_counts_words_once_and_deliveries_per_pe(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=8, latency_cycles=1)
    _request(env, noc, log, "m", 16, "multicast", fanout=4)
    env.run()
    assert noc.stats.words["multicast"] == 16 and noc.stats.total_words == 16
    assert noc.stats.deliveries == 64
    assert log == [("m", 2 + 1)]


def test_reduction_carries_reduced_words_and_counts_additions(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=8, latency_cycles=0)
    _request(env, noc, log, "r", 10, "reduce", fanout=5)
    _request(env, noc, log, "g", 3, "gather")
    env.run()
    assert noc.stats.words == {"unicast": 0, "multicast": 0, "gather": 3, "reduce": 10}
    assert noc.stats.reduction_adds == 40
    assert noc.stats.deliveries == 0


def test_unlimited_bandwidth_costs_only_latency(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=float("inf"), latency_cycles=2)
    _request(env, noc, log, "a", 10**9, "unicast")
    _request(env, noc, log, "b", 5, "unicast")
    env.run()
    assert log == [("a", 2), ("b", 2)]


def test_empty_transfer_fires_now_and_counts_nothing(env, log):
    noc = Noc(env, bandwidth_words_per_cycle=1, latency_cycles=9)
    _request(env, noc, log, "z", 0, "unicast", at=4)
    env.run()
    assert log == [("z", 4)] and noc.stats.transfers == 0


def test_unknown_kind_is_a_config_error_listing_the_kinds(env):
    noc = Noc(env, bandwidth_words_per_cycle=1, latency_cycles=0)
    with pytest.raises(ConfigError, match="unicast, multicast, gather, reduce"):
        noc.transfer(4, "broadcast")


def test_bad_fanout_and_bandwidth_are_config_errors(env):
    with pytest.raises(ConfigError, match="noc_bandwidth_words_per_cycle"):
        Noc(env, bandwidth_words_per_cycle=0, latency_cycles=0)
    with pytest.raises(ConfigError, match="fanout"):
        Noc(env, bandwidth_words_per_cycle=1, latency_cycles=0).transfer(4, "multicast", fanout=0)
