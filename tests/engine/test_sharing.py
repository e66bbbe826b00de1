"""The shared channel (sim.engine.sharing): requests in flight split the channel in equal shares; laws against a
brute-force step-by-step reference and against serving the requests one after another."""
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.engine.sharing import SharedChannel

# (gap since the previous arrival, work, latency) in tCK.
requests = st.lists(st.tuples(st.integers(0, 60), st.integers(0, 80), st.integers(0, 20)), min_size=1, max_size=12)


def shared_completions(reqs):
    """Every request's completion (all arrivals known, then served to the end)."""
    channel = SharedChannel()
    arrive = 0
    for key, (gap, work, latency) in enumerate(reqs):
        arrive += gap
        channel.add(key, arrive, work, latency)
    channel.advance(float("inf"))
    return [channel.done[key] for key in range(len(reqs))]


def stepped_completions(reqs, step=1 / 64):
    """A brute-force reference: time in small steps, each step split equally among the unfinished requests."""
    arrivals, t = [], 0
    for gap, _work, _latency in reqs:
        t += gap
        arrivals.append(t)
    left = [float(work) for _gap, work, _latency in reqs]
    finish = [None] * len(reqs)
    now = 0.0
    for key, (_gap, work, latency) in enumerate(reqs):
        if work == 0:
            finish[key] = arrivals[key] + latency
    while any(f is None for f in finish):
        active = [k for k in range(len(reqs)) if finish[k] is None and arrivals[k] <= now]
        for k in active:
            left[k] -= step / len(active)
            if left[k] <= 1e-9:
                finish[k] = now + step + reqs[k][2]
        now += step
    return finish


def serial_end(reqs):
    """When the last work ends serving the requests one after another in arrival order."""
    arrive = end = 0
    for gap, work, _latency in reqs:
        arrive += gap
        end = max(end, arrive) + work
    return end


def test_a_lone_request_takes_its_work_and_latency():
    channel = SharedChannel()
    channel.add(0, 10, 40, 7)
    assert channel.finish(0) == 57


def test_two_equal_requests_arriving_together_end_together_at_twice_the_work():
    channel = SharedChannel()
    channel.add(0, 0, 30, 0)
    channel.add(1, 0, 30, 0)
    assert channel.finish(0) == channel.finish(1) == 60


@settings(deadline=None, max_examples=60)
@given(requests)
def test_completions_match_a_step_by_step_reference(reqs):
    for got, want in zip(shared_completions(reqs), stepped_completions(reqs)):
        assert abs(got - want) <= 1 / 64 * len(reqs) + 1e-6


@settings(deadline=None, max_examples=200)
@given(requests)
def test_work_is_conserved_and_no_request_beats_its_own_work(reqs):
    done = shared_completions(reqs)
    arrive, ends = 0, []
    for (gap, work, latency), finish in zip(reqs, done):
        arrive += gap
        assert finish >= arrive + work + latency - 1e-9
        ends.append(finish - latency)
    assert abs(max(ends) - serial_end(reqs)) < 1e-6 or max(work for _, work, _ in reqs) == 0


@settings(deadline=None, max_examples=200)
@given(requests, st.integers(0, 60), st.integers(1, 80))
def test_a_later_request_never_makes_an_earlier_one_finish_sooner(reqs, gap, work):
    before = shared_completions(reqs)
    after = shared_completions([*reqs, (gap, work, 0)])
    assert all(b <= a + 1e-9 for b, a in zip(before, after))


@settings(deadline=None, max_examples=200)
@given(requests)
def test_doubling_every_request_s_work_never_finishes_one_sooner(reqs):
    base = shared_completions(reqs)
    slower = shared_completions([(gap, 2 * work, latency) for gap, work, latency in reqs])
    assert all(b <= s + 1e-9 for b, s in zip(base, slower))
