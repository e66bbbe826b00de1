"""The engine's event savings keep SimPy's order: random processes that take and free buffer slots and fire and
wait for markers log the same (who, what, when) sequence with `Buffer` slots and `Signal`s on the engine's
environment as with `simpy.Resource` and plain events on a plain `simpy.Environment`, with fewer events."""
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.buffer import Buffer
from sim.engine.clock import CountingEnvironment
from sim.engine.dram import make_dram
from sim.hardware.spec import DramSpec

SIGNALS = 3
action = st.one_of(st.tuples(st.just("timeout"), st.integers(0, 2)), st.tuples(st.just("request"), st.just(0)),
                   st.tuples(st.just("release"), st.just(0)), st.tuples(st.just("fire"), st.integers(0, SIGNALS - 1)),
                   st.tuples(st.just("wait"), st.integers(0, SIGNALS - 1)))
scenario = st.tuples(st.integers(1, 2), st.lists(st.lists(action, max_size=8), min_size=1, max_size=3))


def _run(slots, workers, engine: bool):
    env = CountingEnvironment() if engine else simpy.Environment()
    log = []
    if engine:
        buffer = Buffer(env, "ifmap", slots, 8, make_dram(env, DramSpec(bandwidth_bytes_per_cycle=1)))
        signals = [None] * SIGNALS
    else:
        resource = simpy.Resource(env, capacity=slots)
        signals = [env.event() for _ in range(SIGNALS)]
    fired = [False] * SIGNALS

    def signal(index):
        if engine and signals[index] is None:
            signals[index] = buffer.ready(("signal", index))
        return signals[index]

    def worker(who, actions):
        held = []
        for step, (kind, value) in enumerate(actions):
            if kind == "timeout":
                yield env.timeout(value)
            elif kind == "request":
                granted = env.event()
                token = (who, step)

                def grant(_event, token=token, granted=granted):
                    log.append((token, "granted", env.now))
                    granted.succeed()

                if engine:
                    def take(event, token=token, grant=grant):
                        buffer._occupy(token, 1)
                        grant(event)

                    buffer._request(take)
                    held.append(token)
                else:
                    request = resource.request()
                    request.callbacks.append(grant)
                    held.append(request)
                yield granted
            elif kind == "release" and held:
                first = held.pop(0)
                buffer.release(first) if engine else resource.release(first)
            elif kind == "fire" and not fired[value]:
                fired[value] = True
                signal(value).fire() if engine else signal(value).succeed()
            elif kind == "wait":
                marker = signal(value)
                if engine and not marker.done():
                    yield marker.wait()
                elif not engine and not marker.processed:
                    yield marker
            log.append((who, step, env.now))

    for who, actions in enumerate(workers):
        env.process(worker(who, actions))
    env.run()
    return log, (env.events_processed if engine else None)


@settings(max_examples=150, deadline=None)
@given(scenario)
def test_slots_and_signals_keep_simpys_order(case):
    slots, workers = case
    reference, _ = _run(slots, workers, engine=False)
    log, _ = _run(slots, workers, engine=True)
    assert log == reference


def test_markers_nobody_waits_for_cost_no_event():
    # One worker fires three markers and releases a slot nobody is queued for; then waits on a fired marker.
    workers = [[("request", 0), ("fire", 0), ("fire", 1), ("release", 0), ("timeout", 1), ("wait", 0)]]
    log, events = _run(1, workers, engine=True)
    reference, _ = _run(1, workers, engine=False)
    assert log == reference
    # Process start, the grant, the worker's wake-up after it, the timeout, the process end.
    assert events == 5
