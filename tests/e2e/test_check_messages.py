"""`sim check` says word for word what it said before its start-up was shortened: the same lines on stdout and
stderr and the same exit code, for valid and invalid files of every kind (native TOML, ReRAM and directive TOML,
DDR, SCALE-Sim .cfg, MAESTRO hardware / network / dataflow .m, system configs, energy tables, sweep specs, traces),
and for the command lines that go through typer (options, usage errors, --help).

The expectations in tests/data/check_messages.json were written by the code before the change (the commit this
test came with says which); regenerate them only on purpose: `python tests/e2e/test_check_messages.py --write`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = ROOT / "tests" / "data" / "check_messages.json"

# Copied into the scratch folder, so that every path in a message is relative and the same on every machine.
SHIPPED = ("hw_configs", "systems", "mappings", "sweeps", "traces/alexnet.csv", "traces/resnet18.csv",
           "traces/scalesim/test.csv", "traces/scalesim/bert_base_seq128_gemm.csv",
           "tests/data/maestro/mappings/example.m", "tests/data/maestro/mappings/GEMM_Example.m",
           "examples/digits_cnn.onnx", "examples/digits_test.npz")

TPU = "hw_configs/tpu_v1_256x256_ws.toml"
ISAAC = "hw_configs/isaac.toml"
DIRECTIVE = "hw_configs/maestro_accelerator_1.toml"
DDR = "hw_configs/scalesim_32x32_ws_ddr4_cmd.toml"
CFG = "hw_configs/scalesim/scale.cfg"
MAESTRO_HW = "hw_configs/maestro/accelerator_1.m"
SYSTEM = "systems/tpu4_ring.toml"
SWEEP = "sweeps/systolic_array_shape.toml"
ENERGY = "hw_configs/energy/horowitz_45nm.toml"
NETWORK = "tests/data/maestro/mappings/example.m"
DATAFLOW = "mappings/kcp_ws.m"
TRACE = "traces/alexnet.csv"
TOPOLOGY = "traces/scalesim/test.csv"

# name -> (shipped file it is made from, [(old, new), ...]); every replacement must apply. Written beside a copy of
# the shipped file under bad/, so the includes (energy tables, a sweep's hardware and traces) resolve as they do.
BAD: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "tpu_unknown_key.toml": (TPU, [("rows = 256", "rows = 256\nrowz = 3")]),
    "tpu_wrong_type.toml": (TPU, [("rows = 256", 'rows = "many"')]),
    "tpu_zero_rows.toml": (TPU, [("rows = 256", "rows = 0")]),
    "tpu_huge_cols.toml": (TPU, [("cols = 256", "cols = 100000")]),
    "tpu_float_rows.toml": (TPU, [("rows = 256", "rows = 256.0")]),
    "tpu_dataflow.toml": (TPU, [('dataflow = "ws"', 'dataflow = "rs"')]),
    "tpu_missing_rows.toml": (TPU, [("rows = 256", "")]),
    "tpu_inf_clock.toml": (TPU, [("clock_mhz = 700.0", "clock_mhz = inf")]),
    "tpu_nan_bandwidth.toml": (TPU, [("bandwidth_bytes_per_cycle = 48.57142857142857",
                                      "bandwidth_bytes_per_cycle = nan")]),
    "tpu_tiny_bandwidth.toml": (TPU, [("bandwidth_bytes_per_cycle = 48.57142857142857",
                                       "bandwidth_bytes_per_cycle = 1e-300")]),
    "tpu_syntax.toml": (TPU, [("rows = 256", "rows = = 256")]),
    "tpu_no_dram.toml": (TPU, [("[dram]", "[dram_]")]),
    "tpu_memory_convention.toml": (TPU, [('cycle_convention = "native"',
                                          'cycle_convention = "native"\nmemory_convention = "scalesim"')]),
    "tpu_half_word.toml": (TPU, [("size_kb = 12288 ", "size_kb = 12288.0001 ")]),
    "tpu_odd_bytes.toml": (TPU, [("size_kb = 4096 ", "size_kb = 4096.001953125 ")]),
    "tpu_energy_key.toml": (TPU, [("[energy.ifmap_sram.read]", '[energy."Ifmap SRAM".read]')]),
    "tpu_energy_missing_source.toml": (TPU, [('source = "Horowitz ISSCC 2014 (45 nm): 1 MB SRAM 64-bit read 100 pJ, '
                                              'per 32-bit word"\n', "")]),
    "tpu_energy_negative.toml": (TPU, [("pj = 50.0", "pj = -1.0")]),
    "tpu_include_missing.toml": (TPU, [("energy/horowitz_45nm.toml", "energy/nothing.toml")]),
    "tpu_include_escape.toml": (TPU, [("energy/horowitz_45nm.toml", "../../outside.toml")]),
    "tpu_include_absolute.toml": (TPU, [("energy/horowitz_45nm.toml", "/dev/zero")]),
    "tpu_deep.toml": (TPU, [("rows = 256", "rows = " + "[" * 40 + "]" * 40)]),
    "tpu_long_number.toml": (TPU, [("rows = 256", "rows = " + "9" * 400)]),
    "tpu_drain_ifmap.toml": (TPU, [("double_buffered = true  # software", "drain_finished = true\n"
                                    "double_buffered = true  # software")]),
    "tpu_name_empty.toml": (TPU, [('name = "tpu_v1_256x256_ws"', 'name = ""')]),
    "isaac_adc_bits.toml": (ISAAC, [("bits = 8 ", "bits = 30 ")]),
    "isaac_dac_bits.toml": (ISAAC, [("dac_bits = 1 ", "dac_bits = 32 ")]),
    "isaac_adc_unknown.toml": (ISAAC, [("cols_per_adc = 128", "cols_per_adc = 128\ncolumns_per_adc = 128")]),
    "isaac_signed.toml": (ISAAC, [('signed_weights = "offset"', 'signed_weights = "twos"')]),
    "isaac_prune.toml": (ISAAC, [("chips = \"auto\"", "chips = \"auto\"\nprune_nonzero = 4")]),
    "isaac_chips.toml": (ISAAC, [('chips = "auto"', 'chips = "many"')]),
    "isaac_mesh.toml": (ISAAC, [("chips = \"auto\"", "chips = \"auto\"\n\n[reram.tile_noc]\nmesh_cols = 5")]),
    "directive_pes.toml": (DIRECTIVE, [("num_pes = 256", "num_pes = 0")]),
    "directive_convention.toml": (DIRECTIVE, [('cycle_convention = "maestro"', 'cycle_convention = "scalesim"')]),
    "ddr_preset.toml": (DDR, [('preset = "DDR4-2400"', 'preset = "DDR9-1"')]),
    "ddr_model.toml": (DDR, [('model = "ddr"', 'model = "hbm"')]),
    "cfg_height.cfg": (CFG, [("ArrayHeight:    32", "ArrayHeight:    abc")]),
    "cfg_dataflow.cfg": (CFG, [("Dataflow : os", "Dataflow : xs")]),
    "cfg_unknown.cfg": (CFG, [("MemoryBanks:   1", "MemoryBanks:   1\nMemoryBankz: 2")]),
    "cfg_ramulator.cfg": (CFG, [("UseRamulatorTrace: False", "UseRamulatorTrace: True")]),
    "cfg_no_run_presets.cfg": (CFG, [("[run_presets]", "[run_presetz]")]),
    "cfg_digits.cfg": (CFG, [("ArrayWidth:     32", "ArrayWidth:     " + "3" * 300)]),
    "cfg_arabic.cfg": (CFG, [("ArrayWidth:     32", "ArrayWidth:     \u0663\u0662")]),
    "cfg_zero_sram.cfg": (CFG, [("IfmapSramSzkB:    64", "IfmapSramSzkB:    0")]),
    "maestro_pes.m": (MAESTRO_HW, [("num_pes: 256", "num_pes: -1")]),
    "maestro_text.m": (MAESTRO_HW, [("l1_size_cstr: 100", "l1_size_cstr: lots")]),
    "maestro_unknown.m": (MAESTRO_HW, [("noc_bw_cstr: 1000", "noc_bw_cstr: 1000\nnoc_bw_cstrr: 3")]),
    "system_missing_hw.toml": (SYSTEM, [('hw = "tpu_v1_256x256_ws.toml"', 'hw = "nothing.toml"')]),
    "system_escape.toml": (SYSTEM, [('hw = "tpu_v1_256x256_ws.toml"', 'hw = "../../outside.toml"')]),
    "system_topology.toml": (SYSTEM, [('topology = "ring"', 'topology = "torus"')]),
    "system_count.toml": (SYSTEM, [("count = 4", "count = 0")]),
    "system_unknown.toml": (SYSTEM, [("latency_ns = 1000.0", "latency_ns = 1000.0\nlatency_us = 1.0")]),
    "system_partition.toml": (SYSTEM, [('kind = "data_parallel"', 'kind = "diagonal"')]),
    "sweep_parameter.toml": (SWEEP, [('"pe_array.rows"', '"pe_array.rowz"')]),
    "sweep_range.toml": (SWEEP, [("start = 8, stop = 128", "start = 8, stop = inf")]),
    "sweep_objective.toml": (SWEEP, [('"latency", "energy", "area"', '"latency", "joy"')]),
    "energy_negative.toml": (ENERGY, [("pj = ", "pj = -", )]),
    "energy_unknown.toml": (ENERGY, [("[energy.", "[energie.")]),
    "network_dims.m": (NETWORK, [("K: 64", "K: -64")]),
    "network_syntax.m": (NETWORK, [("Dimensions {", "Dimensions")]),
    "dataflow_dim.m": (DATAFLOW, [("SpatialMap(1,1) K;", "SpatialMap(1,1) Q;")]),
    "trace_columns.csv": (TRACE, [("conv1,conv,224,224,11,11,3,64,4,2,,,", "conv1,conv,224,224,11,11,3,64")]),
    "trace_type.csv": (TRACE, [("conv1,conv,", "conv1,pool,")]),
    "trace_stride.csv": (TRACE, [("conv1,conv,224,224,11,11,3,64,4,", "conv1,conv,224,224,11,11,3,64,0,")]),
    "trace_filter.csv": (TRACE, [("conv1,conv,224,224,11,11,", "conv1,conv,5,5,11,11,")]),
    "trace_number.csv": (TRACE, [("conv1,conv,224,", "conv1,conv,2x4,")]),
    "topology_stride.csv": (TOPOLOGY, [("Conv2, 9, 9, 3, 3, 8, 8, 2,", "Conv2, 9, 9, 3, 3, 8, 8, 0,")]),
    "topology_filter.csv": (TOPOLOGY, [("Conv4, 4, 4, 1, 1,", "Conv4, 4, 4, 5, 1,")]),
}
# Files made from scratch: empty, not text, a folder, an unknown suffix (under raw/, apart from the valid folders).
RAW: dict[str, bytes] = {
    "raw/empty.toml": b"",
    "raw/binary.toml": b"\xff\xfe\x00rows = 1\n",
    "raw/empty.cfg": b"",
    "raw/nul.m": b"num_pes: 1\x00\n",
    "raw/empty.csv": b"",
    "raw/header_only.csv": b"name,type,m,n,k\n",
    "raw/binary.csv": b"\x89PNG\r\n\x1a\n\x00\x00",
    "raw/notes.txt": b"a note\n",
    "raw/layers.json": b"{}\n",
    "folder/sub/a.toml": b"name = 1\n",
    "folder/sub/README.md": b"# documentation\n",
    "folder/b.csv": b"name,type,m,n,k\nfc,gemm,4,4,4\n",
}
MISSING = ("hw_configs/not_there.toml", "not_there.cfg", "not_there.m", "not_there.csv")

VALID = ("hw_configs", "systems", "mappings", "sweeps", TRACE, "traces/resnet18.csv", TOPOLOGY,
         "traces/scalesim/bert_base_seq128_gemm.csv", NETWORK, "tests/data/maestro/mappings/GEMM_Example.m")
# Checked alone, each in a fresh process (the first file of its kind that a process validates): one bad file of
# every kind; the others are checked together.
ALONE = ("tpu_unknown_key.toml", "tpu_syntax.toml", "isaac_adc_bits.toml", "directive_pes.toml", "ddr_preset.toml",
         "cfg_height.cfg", "maestro_pes.m", "system_missing_hw.toml", "sweep_parameter.toml", "energy_negative.toml",
         "network_dims.m", "dataflow_dim.m", "trace_type.csv", "topology_stride.csv")


def _bad(name: str) -> str:
    return f"bad/{Path(BAD[name][0]).parent}/{name}"


# One `sim check` command line per entry: valid files; each kind of bad file alone, and all together; the lines
# typer parses itself (options, usage errors, help).
COMMANDS: dict[str, list[str]] = {
    "valid": ["check", *VALID],
    **{f"bad:{name}": ["check", _bad(name)] for name in ALONE},
    "bad": ["check", *(_bad(name) for name in sorted(BAD))],
    "raw": ["check", *sorted(name for name in RAW if name.startswith("raw/"))],
    **{f"raw:{name}": ["check", name] for name in ("raw/empty.toml", "raw/empty.csv", "raw/layers.json")},
    "folder": ["check", "folder"],
    **{f"missing:{name}": ["check", name] for name in MISSING},
    "mixed": ["check", TPU, _bad("tpu_syntax.toml"), TRACE, _bad("trace_type.csv"), "not_there.toml", CFG],
    "no files": ["check"],
    "help": ["check", "--help"],
    "batch zero": ["check", "--batch", "0", TRACE],
    "batch text": ["check", "--batch", "two", TRACE],
    "batch": ["check", "--batch", "2", TRACE],
    "include root": ["check", "--include-root", ".", _bad("tpu_include_escape.toml")],
    "unknown option": ["check", "-x", TPU],
    "double dash": ["check", "--", TPU],
    "dash": ["check", "-"],
}


def build(folder: Path) -> None:
    """The scratch folder: shipped files, twice (the second under bad/, with the bad variants), the raw files."""
    for name in SHIPPED:
        for target in (folder / name, folder / "bad" / name):
            target.parent.mkdir(parents=True, exist_ok=True)
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, symlinks=False)
            else:
                shutil.copyfile(ROOT / name, target)
    for name, (source, replacements) in BAD.items():
        text = (ROOT / source).read_text()
        for old, new in replacements:
            assert old in text, f"{name}: {old!r} is not in {source} any more"
            text = text.replace(old, new)
        (folder / "bad" / Path(source).parent / name).write_text(text)
    for name, data in RAW.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def run_all(folder: Path) -> dict[str, dict]:
    env = dict(os.environ, COLUMNS="100", PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    found = {}
    for key, argv in COMMANDS.items():
        done = subprocess.run([sys.executable, "-m", "sim", *argv], cwd=folder, env=env, capture_output=True,
                              text=True, timeout=300)
        found[key] = {"argv": argv, "exit": done.returncode, "stdout": done.stdout.splitlines(),
                      "stderr": done.stderr.splitlines()}
    return found


def test_check_says_what_it_said_before(tmp_path):
    build(tmp_path)
    found = run_all(tmp_path)
    expected = json.loads(EXPECTED.read_text())
    assert sorted(found) == sorted(expected)
    differ = [key for key in expected if found[key] != expected[key]]
    assert not differ, {key: (expected[key], found[key]) for key in differ[:3]}


def test_every_bad_file_is_refused_in_one_line():
    expected = json.loads(EXPECTED.read_text())
    for key, row in expected.items():
        if key.startswith(("bad", "missing:")):
            errors = [line for line in row["stderr"] if line.startswith("error ")]
            assert row["exit"] == 2 and len(errors) == len(row["argv"]) - 1 and not row["stdout"], row
            assert "Traceback" not in "\n".join(row["stderr"]), row


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/e2e/test_check_messages.py --write   (rewrites " f"{EXPECTED.name})")
    with tempfile.TemporaryDirectory() as scratch:
        build(Path(scratch))
        EXPECTED.write_text(json.dumps(run_all(Path(scratch)), indent=1, ensure_ascii=False) + "\n")
    print(f"written {EXPECTED.relative_to(ROOT)}")
