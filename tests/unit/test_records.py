"""The compact forms inside the one result schema (KeyedValues for `extra`, PricedProvenance for energy provenance)
read, compare, hash, pickle and write exactly as the plain tuples of pairs they stand for."""
from __future__ import annotations

import pickle
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import sim
from sim.records import EnergyBreakdown, KeyedValues, LayerResult, PricedProvenance, RunResult
from sim.report.writer import write_report
from sim.workload.layer import Layer
from sim.workload.trace import Trace

ROOT = Path(__file__).resolve().parents[2]
names = st.text(alphabet="abcdefghij._", min_size=1, max_size=8)
numbers = st.one_of(st.integers(-10**12, 10**12), st.floats(allow_nan=False))


@given(st.dictionaries(names, numbers, max_size=12))
@settings(max_examples=60, deadline=None)
def test_keyed_values_is_its_tuple_of_pairs(values):
    keys = tuple(sorted(values))
    plain = tuple((key, values[key]) for key in keys)
    compact = KeyedValues(keys, tuple(values[key] for key in keys))
    assert compact == plain and plain == compact and hash(compact) == hash(plain) and repr(compact) == repr(plain)
    assert tuple(compact) == plain and len(compact) == len(plain) and dict(compact) == dict(plain)
    assert bool(compact) == bool(plain) and compact[:2] == plain[:2]
    assert pickle.loads(pickle.dumps(compact)) == plain


@given(st.dictionaries(names, st.one_of(st.integers(0, 10**12), st.floats(0, 1e12)), max_size=12),
       st.sets(names, max_size=4))
@settings(max_examples=60, deadline=None)
def test_priced_provenance_renders_the_texts_it_stands_for(counts, unpriced):
    items = tuple(sorted(counts.items()))
    priced = {key: None if key in unpriced else ("c", 1.5, "1.5 pj x ", f" (source of {key})") for key in counts}
    lazy = PricedProvenance(items, priced, "not priced")
    plain = tuple((key, "not priced" if priced[key] is None else f"1.5 pj x {count} (source of {key})")
                  for key, count in items)
    assert lazy == plain and hash(lazy) == hash(plain) and repr(lazy) == repr(plain) and dict(lazy) == dict(plain)
    assert pickle.loads(pickle.dumps(lazy)) == plain


def _plain(run: RunResult) -> RunResult:
    """The same run with every compact form replaced by the tuple it stands for (the records before compaction)."""
    def layer(result: LayerResult) -> LayerResult:
        energy = EnergyBreakdown(result.energy.by_component, tuple(result.energy.provenance))
        return replace(result, extra=tuple(result.extra), energy=energy)

    return replace(run, layers=tuple(layer(result) for result in run.layers))


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_engine_reports_are_byte_identical_to_the_plain_records(tmp_path):
    hw = sim.load_hardware(ROOT / "hw_configs/scalesim_32x32_ws_ddr4.toml")
    trace = Trace(name="three", layers=tuple(Layer.gemm_layer(f"g{i}", m=64 + 7 * i, n=48, k=40 + i)
                                             for i in range(3)))
    run = sim.simulate(trace, hw)
    assert isinstance(run.layers[0].extra, KeyedValues)
    assert isinstance(run.layers[0].energy.provenance, PricedProvenance)
    assert run.layers[0].extra is not run.layers[1].extra and run.layers[0].extra._keys is run.layers[1].extra._keys
    plain = _plain(run)
    assert plain == run and pickle.loads(pickle.dumps(run)) == plain
    write_report(run, tmp_path / "compact")
    write_report(plain, tmp_path / "plain")
    assert _files(tmp_path / "compact") == _files(tmp_path / "plain")
    assert plain.to_dict() == run.to_dict()
