"""The sweep driver's selection: choosing from this run's in-memory batches equals choosing from the database."""
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api
from sim.sweep import store
from sim.sweep.evaluate import ScreenedRows, SweepContext, invalid_values, screen_chunk
from sim.sweep.run import _screened_in_memory, _select
from sim.sweep.spec import Constraints, Parameter, SweepSpec
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[3]
HW = api.load_hardware(ROOT / "hw_configs" / "scalesim_32x32_ws.toml")


def context_of(name, parameters, constraints):
    trace = Trace(name, (Layer.gemm_layer("g", m=20, n=12, k=18),))
    context = SweepContext(spec_file="spec.toml", trace=trace, trace_id=f"{name}@0", base=HW, base_id="h@0",
                           parameters=tuple(parameters), constraints=constraints, versions="sim=test")
    return replace(context, invalid_values=invalid_values(context))


@settings(max_examples=8, deadline=None)
@given(rows=st.lists(st.integers(0, 40), min_size=1, max_size=5, unique=True),
       bandwidths=st.lists(st.sampled_from([0.0, 1.0, 4.0, 64.0]), min_size=1, max_size=3, unique=True),
       max_area=st.sampled_from([None, 0.001, 0.01]), engine=st.sampled_from(["front", "all"]),
       top=st.integers(0, 3), chunk=st.integers(1, 7))
def test_selection_from_memory_equals_selection_from_the_database(tmp_path_factory, rows, bandwidths, max_area,
                                                                  engine, top, chunk):
    parameters = [Parameter("rows", ("pe_array.rows",), tuple(rows)),
                  Parameter("df", ("pe_array.dataflow",), ("os", "ws", "is")),
                  Parameter("bw", ("dram.bandwidth_bytes_per_cycle",), tuple(bandwidths))]
    contexts = [context_of(name, parameters, Constraints(max_area_mm2=max_area)) for name in ("b", "a")]
    connection = store.connect(tmp_path_factory.mktemp("run") / "r.sqlite")
    batches = []
    for context in contexts:
        total = int(np.prod(context.shape))
        for start in range(0, total, chunk):
            batch = screen_chunk(context, np.arange(start, min(total, start + chunk)))
            assert isinstance(batch, ScreenedRows)
            assert store.write_rows(connection, "points", batch) == len(batch)
            batches.append(batch)
    spec = SweepSpec(name="t", source_file="spec.toml", traces=(), hardware=Path("hw.toml"),
                     parameters=tuple(parameters), objectives=("latency", "energy", "area"), engine=engine,
                     top_k=top)
    from_database = _select(connection, spec, True)
    from_memory = _select(connection, spec, True, _screened_in_memory(batches))
    connection.close()
    assert list(from_memory.items()) == list(from_database.items())


def test_versions_are_stored_once_and_read_back_as_text(tmp_path):
    context = context_of("t", [Parameter("rows", ("pe_array.rows",), (4, 8))], Constraints())
    connection = store.connect(tmp_path / "r.sqlite")
    store.write_rows(connection, "points", screen_chunk(context, np.arange(2)))
    stored = {v for (v,) in connection.execute("SELECT versions FROM points")}
    assert len(stored) == 1 and store.version_texts(connection)[stored.pop()] == "sim=test"
    connection.close()
    assert set(store.read_frame(tmp_path / "r.sqlite")["versions"]) == {"sim=test"}
