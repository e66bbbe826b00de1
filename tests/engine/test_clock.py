"""The engine's clock: calls keep SimPy's event order, markers run their waiters at once and in order, and buffer
slots pass FIFO from a release to the oldest waiting request without an event."""
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment, Marker
from sim.engine.dram import make_dram
from sim.hardware.spec import DramSpec

# A worker's actions: wait (a process timeout), or start a timed callback that logs when it runs.
action = st.one_of(st.tuples(st.just("wait"), st.integers(0, 3)), st.tuples(st.just("timed"), st.integers(0, 3)))
workers = st.lists(st.lists(action, max_size=6), min_size=1, max_size=4)


def _timed_log(plan, calls: bool):
    env = CountingEnvironment() if calls else simpy.Environment()
    log = []

    def worker(who, actions):
        for step, (kind, delay) in enumerate(actions):
            if kind == "wait":
                yield env.timeout(delay)
                log.append((who, step, "woke", env.now))
            else:
                def ran(_event, who=who, step=step):
                    log.append((who, step, "timed", env.now))
                    if calls:  # a call may schedule more: a chained call, as a timeout's callback may
                        env.call_at(0, lambda _call: log.append((who, step, "chained", env.now)))
                    else:
                        env.timeout(0).callbacks.append(lambda _event: log.append((who, step, "chained", env.now)))

                if calls:
                    env.call_at(delay, ran)
                else:
                    env.timeout(delay).callbacks.append(ran)

    for who, actions in enumerate(plan):
        env.process(worker(who, actions))
    env.run()
    return log


@settings(max_examples=150, deadline=None)
@given(workers)
def test_calls_run_where_timeouts_would(plan):
    assert _timed_log(plan, calls=True) == _timed_log(plan, calls=False)


def test_markers_run_waiters_at_once_in_registration_order():
    marker, log = Marker(), []
    marker.then(lambda: log.append("first"))
    marker.then(lambda: log.append("second"))
    assert log == [] and not marker.is_set
    marker.set()
    assert log == ["first", "second"] and marker.is_set
    marker.then(lambda: log.append("late"))  # already set: runs now
    assert log == ["first", "second", "late"]


# Random request / release sequences against a reference: a slot goes to the oldest waiting request the moment one
# is free, never more than `slots` are held, and every grant happens at a request or at a release.
slot_actions = st.lists(st.tuples(st.sampled_from(["request", "release", "wait"]), st.integers(1, 3)), max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3), slot_actions)
def test_slots_pass_fifo_at_once(slots, actions):
    env = CountingEnvironment()
    buffer = Buffer(env, "ifmap", slots, 8, make_dram(env, DramSpec(bandwidth_bytes_per_cycle=1)))
    granted, held, waiting, free = [], [], [], slots
    expected = []
    requests = 0

    def run():
        nonlocal requests, free
        for kind, value in actions:
            if kind == "wait":
                yield env.timeout(value)
            elif kind == "request":
                token = requests
                requests += 1

                def grant(token=token):
                    granted.append((token, env.now))
                    buffer._occupy(token, 1)
                    held.append(token)

                if free and not waiting:
                    free -= 1
                    expected.append((token, env.now))
                else:
                    waiting.append(token)
                buffer.request(grant)
            elif held:
                token = held.pop(0)
                if waiting:
                    expected.append((waiting.pop(0), env.now))
                else:
                    free += 1
                buffer.release(token)
            assert len(held) <= slots

    env.process(run())
    env.run()
    assert granted == expected
    assert env.events_processed == 2 + sum(kind == "wait" for kind, _ in actions)
