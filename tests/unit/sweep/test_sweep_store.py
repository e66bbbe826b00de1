"""The SQLite store: keyed rows never duplicate; frames expand the parameters; a batch's image stores the same
rows as binding them."""
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api
from sim.sweep import store
from sim.sweep.evaluate import SweepContext, invalid_values, screen_chunk
from sim.sweep.spec import Constraints, Parameter
from sim.workload.layer import Layer
from sim.workload.trace import Trace

HW = api.load_hardware(Path(__file__).resolve().parents[3] / "hw_configs" / "scalesim_32x32_ws.toml")


def row(key, **values):
    base = {"key": key, "trace": "t", "params": json.dumps({"pe_array.rows": values.pop("rows", 4)}),
            "status": "ok", "reason": "", "model": "analytical", "cycles": 10.0}
    base.update(values)
    return base


def test_rows_with_a_known_key_are_ignored(tmp_path):
    connection = store.connect(tmp_path / "r.sqlite")
    assert store.write_rows(connection, "points", [row("a"), row("b", rows=8)]) == 2
    assert store.write_rows(connection, "points", [row("a", cycles=99.0), row("c")]) == 1
    assert store.finished_keys(connection) == {"a", "b", "c"}
    assert connection.execute("SELECT cycles FROM points WHERE key = 'a'").fetchone() == (10.0,)
    assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()
    frame = store.read_frame(tmp_path / "r.sqlite")
    assert sorted(frame["param.pe_array.rows"]) == [4, 4, 8]


def test_meta_round_trips_and_export_writes_csv_and_parquet(tmp_path):
    connection = store.connect(tmp_path / "r.sqlite")
    store.set_meta(connection, {"objectives": ["latency", "energy"]})
    store.write_rows(connection, "points", [row("a")])
    assert store.read_meta(connection) == {"objectives": ["latency", "energy"]}
    connection.close()
    written = store.export(tmp_path / "r.sqlite", tmp_path)
    assert {p.name for p in written} == {"points.csv", "points.parquet", "validations.csv", "validations.parquet"}
    assert all(p.stat().st_size > 0 for p in written)


@settings(max_examples=10, deadline=None)
@given(rows=st.lists(st.integers(0, 24), min_size=1, max_size=4, unique=True),
       kb=st.lists(st.sampled_from([0.03125, 0.5, 64.0]), min_size=1, max_size=3, unique=True),
       max_area=st.sampled_from([None, 0.002]))
def test_a_batch_copied_from_its_image_stores_the_same_rows_as_bound_rows(tmp_path_factory, rows, kb, max_area):
    parameters = (Parameter("rows", ("pe_array.rows",), tuple(rows)),
                  Parameter("df", ("pe_array.dataflow",), ("os", "is")),
                  Parameter("kb", ("buffers.filter.size_kb",), tuple(kb)))
    trace = Trace("t", (Layer.gemm_layer("g", m=20, n=12, k=18),))
    context = SweepContext(spec_file="spec.toml", trace=trace, trace_id="t@0", base=HW, base_id="h@0",
                           parameters=parameters, constraints=Constraints(max_area_mm2=max_area), versions="sim=x")
    context = replace(context, invalid_values=invalid_values(context))
    indices = np.arange(int(np.prod(context.shape)))
    folder = tmp_path_factory.mktemp("store")
    tables = []
    with_image = screen_chunk(context, indices, True)
    assert with_image.image is not None and screen_chunk(context, indices).image is None
    for batch in (replace(with_image, image=None), with_image):
        connection = store.connect(folder / f"{batch.image is None}.sqlite")
        assert store.write_rows(connection, "points", batch) == indices.size
        assert store.write_rows(connection, "points", batch) == 0  # known keys are ignored on both paths
        tables.append(connection.execute("SELECT * FROM points ORDER BY key").fetchall())
        tables.append(connection.execute("SELECT * FROM versions").fetchall())
        connection.close()
    assert tables[0] == tables[2] and tables[1] == tables[3]
