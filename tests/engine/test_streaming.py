"""The systolic engine streams: each layer is planned when the previous one starts and reduced to its LayerResult
when it ends, and the DRAM transfer log keeps only what a later layer can still see, so memory is flat in the
number of layers."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.engine import simulate as engine
from sim.hardware.load import load_hardware
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[2]
DDR4 = ROOT / "hw_configs" / "scalesim_32x32_ws_ddr4.toml"


def gemms(count: int) -> Trace:
    return Trace(name=f"gemm{count}", layers=tuple(Layer.gemm_layer(f"g{i}", m=40 + i % 7, n=48, k=36 + i % 5)
                                                  for i in range(count)))


def test_transfer_log_holds_one_batch_of_layers_not_the_run(monkeypatch):
    monkeypatch.setattr(engine, "REDUCE_BATCH", 4)
    hw = load_hardware(DDR4)
    lengths = []
    finish = engine._Run.finish

    def watched(self, index, timeline):
        lengths.append(len(self.transfers))
        return finish(self, index, timeline)

    monkeypatch.setattr(engine._Run, "finish", watched)
    run = engine.simulate_trace(gemms(60), hw)
    assert len(run.layers) == 60 and all(layer.dram_reads.filter > 0 for layer in run.layers)
    first_batch = max(lengths[:5])
    assert max(lengths) <= 2 * first_batch  # flat: no growth with the number of layers run so far


def test_layers_are_planned_one_ahead(monkeypatch):
    """When layer i ends, no layer beyond i + 1 has been planned yet."""
    hw = load_hardware(DDR4)
    planned, ahead = [], []
    plan = engine._Run._plan
    finish = engine._Run.finish
    monkeypatch.setattr(engine._Run, "_plan", lambda self, index: planned.append(index) or plan(self, index))
    monkeypatch.setattr(engine._Run, "finish",
                        lambda self, index, timeline: ahead.append(max(planned) - index) or finish(self, index,
                                                                                                 timeline))
    engine.simulate_trace(gemms(12), hw, overlap_weight_prefetch=True)
    assert planned == list(range(12)) and max(ahead) <= 1


def test_progress_callback_counts_layers_in_order():
    seen = []
    engine.simulate_trace(gemms(7), load_hardware(DDR4), progress=seen.append)
    assert seen == list(range(1, 8))


def test_identical_layers_share_a_bounded_plan_cache(monkeypatch):
    monkeypatch.setattr(engine, "PLAN_CACHE_SIZE", 2)
    hw = load_hardware(DDR4)
    # Shapes cycle over 3 > 2 cache entries: plans are rebuilt, and the numbers do not depend on the cache.
    trace = Trace(name="cycle", layers=tuple(Layer.gemm_layer(f"g{i}", m=40 + i % 3, n=48, k=36) for i in range(9)))
    small = engine.simulate_trace(trace, hw)
    monkeypatch.setattr(engine, "PLAN_CACHE_SIZE", 64)
    large = engine.simulate_trace(trace, hw)
    strip = [{k: v for k, v in layer.to_dict().items() if k != "sim_wall_s"} for layer in small.layers]
    assert strip == [{k: v for k, v in layer.to_dict().items() if k != "sim_wall_s"} for layer in large.layers]


MEMORY_CHILD = textwrap.dedent("""
    import resource, sys
    import sim
    from sim.workload.layer import Layer
    from sim.workload.trace import Trace

    count, cap_mb, hw_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    layers = tuple(Layer.gemm_layer(f"g{i}", m=256 + i % 512, n=64 + (i // 512) % 128, k=64 + i % 97)
                   for i in range(count))
    hw = sim.load_hardware(hw_path)
    sim.simulate(layers[:2], hw)  # imports and compiles everything before the cap is measured from
    status = open("/proc/self/status").read()
    virtual_kb = int(next(line for line in status.splitlines() if line.startswith("VmSize")).split()[1])
    # Address space now plus the cap: the run may allocate at most cap_mb more.
    limit = (virtual_kb * 1024) + cap_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    run = sim.simulate(Trace(name="big", layers=layers), hw)
    assert len(run.layers) == count
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc")
def test_twenty_thousand_layers_run_under_a_memory_cap():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", MEMORY_CHILD, "20000", "300", str(DDR4)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 300  # peak RSS, MB (compact records: ~280 at 20,000 layers)
