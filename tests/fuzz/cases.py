"""Hypothesis strategies for fuzz cases, one per input format: valid shipped files mutated (a number
replaced by a hostile one, a line dropped or repeated, bytes inserted, a hostile snippet spliced in) and
hostile files written from scratch (deep nesting, huge keys and numbers, includes of devices and FIFOs).

Every case is a `harness.Case`: the files to write, the `sim` command to run, and the file under test.
"""
from __future__ import annotations

import functools
import io
import re
import tempfile
from pathlib import Path

from hypothesis import strategies as st

from .harness import Case

REPO = Path(__file__).resolve().parents[2]
FORMATS = ("hw_toml", "energy_table", "scalesim_cfg", "maestro_hw", "maestro_net", "trace_csv",
           "topology_csv", "onnx", "mapping", "sweep", "system", "mapping_toml", "dram_req", "onnx_infer",
           "sweep_accuracy")


def _read(relative: str) -> bytes:
    return (REPO / relative).read_bytes()


def _head(relative: str, rows: int) -> bytes:
    """The first data rows of a shipped CSV (comments and header kept): small enough to run in milliseconds."""
    kept, data = [], 0
    for line in _read(relative).splitlines(keepends=True):
        is_data = line.strip() and not line.startswith(b"#")
        if is_data:
            data += 1
            if data > rows + 1:
                break
        kept.append(line)
    return b"".join(kept)


ENERGY = {f"energy/{p.name}": p.read_bytes() for p in sorted((REPO / "hw_configs/energy").glob("*.toml"))}
HW_TOMLS = {p.name: p.read_bytes() for p in sorted((REPO / "hw_configs").glob("*.toml"))}
CFGS = {p.name: p.read_bytes() for p in sorted((REPO / "hw_configs/scalesim").glob("*.cfg"))}
MAESTRO_HW = _read("hw_configs/maestro/accelerator_1.m")
MAESTRO_NETS = {name: _read(f"tests/data/maestro/mappings/{name}") for name in ("example.m", "GEMM_Example.m")}
MAPPINGS = {p.name: p.read_bytes() for p in sorted((REPO / "mappings").glob("*.m"))}
TRACES = {name: _head(f"traces/{name}", 2) for name in ("resnet18.csv", "bert_base_seq128.csv",
                                                           "block_circulant_fc.csv", "mobilenet_v2.csv")}
TRACES["tiny_fc.csv"] = _read("sweeps/tiny_fc.csv")
TOPOLOGIES = {name: _head(f"traces/scalesim/{name}", 2) for name in ("resnet18.csv", "bert_base_seq128_gemm.csv",
                                                                      "test.csv")}
SWEEPS = {p.name: p.read_bytes() for p in sorted((REPO / "sweeps").glob("*.toml"))}
ONE_LAYER = b"name,type,m,n,k\nfc1,gemm,4,16,16\n"
SYSTOLIC_HW = HW_TOMLS["scalesim_32x32_ws.toml"]

HOSTILE_NUMBERS = (
    "0", "-1", "1", "-0.0", "1e-300", "1e300", "1e400", "-1e400", "inf", "-inf", "nan", "+nan", "Infinity", "NaN",
    str(2**31), str(2**62), str(2**63 - 1), str(2**63), str(2**64), "1e20", "3e9", "9" * 400, "9" * 5000,
    "1" + "0" * 30, "١٢", "０１", "0x10", "1_000", "1.5", "0.000001", "65", "32", "33", "64", "1e-5", "-5", "",
)
HOSTILE_WORDS = (
    "", "a" * 5000, "../../x", "/dev/zero", "a\x00b", "é", '"', "'", "{", "[", "}", "]", "=", ",", "#", "\ufeff",
    "true", "[1, 2]", "{a = 1}", "\\", "%(x)s", "\t", "Sz(R)", "P", ";",
)


def _toml_nesting(depth: int, inline: bool) -> bytes:
    if inline:
        return ("deep = " + "{a = " * depth + "1" + "}" * depth + "\n").encode()
    return ("deep = " + "[" * depth + "1" + "]" * depth + "\n").encode()


TOML_SNIPPETS = (
    lambda: _toml_nesting(200, False), lambda: _toml_nesting(5000, False), lambda: _toml_nesting(200, True),
    lambda: _toml_nesting(3000, True),
    lambda: ("[" + ".".join(["a"] * 100_000) + "]\nx = 1\n").encode(),
    lambda: (".".join(["k"] * 100_000) + " = 1\n").encode(),
    lambda: ("x = " + "9" * 10_000 + "\n").encode(),
    lambda: ("x = \"" + "s" * 200_000 + "\"\n").encode(),
    lambda: b"energy_tables = [\"/dev/zero\"]\n",
    lambda: b"energy_tables = [\"fifo.toml\"]\n",
    lambda: b"energy_tables = [\"adir\"]\n",
    lambda: b"energy_tables = [\"../../../../../../etc/passwd\"]\n",
    lambda: b"energy_tables = [\"/etc/hostname\"]\n",
    lambda: b"energy_tables = [\"energy/a\\u0000b.toml\"]\n",
    lambda: b"energy_tables = [\"link.toml\"]\n",
    lambda: b"energy_tables = [\"secret.txt\"]\n",
    lambda: b"energy_tables = [\"" + b"x" * 5000 + b"\"]\n",
    lambda: b"energy_tables = [" + b"\"energy/horowitz_45nm.toml\"," * 2000 + b"]\n",
    lambda: b"\x00\x01\xff\xfe",
)
SPECIALS = (("fifo.toml", "fifo"), ("adir", "dir"), ("link.toml", "symlink:/dev/zero"))
SECRET = ("secret.txt", b"password = \"hunter2-SECRET\"\napi_key = 1234\n")


@st.composite
def mutated(draw, data: bytes, snippets=()) -> bytes:
    """`data` with one to three mutations."""
    for _ in range(draw(st.integers(1, 3))):
        lines = data.splitlines(keepends=True) or [b""]
        op = draw(st.sampled_from(("number", "number", "number", "word", "drop", "repeat", "bytes", "truncate",
                                   "snippet")))
        if op == "number":
            spans = [m.span() for m in re.finditer(rb"-?\d+(\.\d+)?([eE][-+]?\d+)?", data)]
            if spans:
                start, end = draw(st.sampled_from(spans))
                data = data[:start] + draw(st.sampled_from(HOSTILE_NUMBERS)).encode() + data[end:]
        elif op == "word":
            spans = [m.span() for m in re.finditer(rb"[A-Za-z_][A-Za-z_0-9.]*", data)]
            if spans:
                start, end = draw(st.sampled_from(spans))
                data = data[:start] + draw(st.sampled_from(HOSTILE_WORDS)).encode() + data[end:]
        elif op == "drop":
            index = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[:index] + lines[index + 1:])
        elif op == "repeat":
            index = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[:index + 1] + [lines[index]] * draw(st.sampled_from((1, 2, 1000))) + lines[index:])
        elif op == "bytes":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        elif op == "truncate":
            data = data[:draw(st.integers(0, len(data)))]
        elif op == "snippet" and snippets:
            snippet = draw(st.sampled_from(snippets))()
            index = draw(st.sampled_from((0, len(lines))))
            data = b"".join(lines[:index]) + snippet + b"".join(lines[index:])
    return data


def _run(hw: str, trace: str, *, analytical: bool, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return ("run", "--hw", hw, "--trace", trace, "--out", "out", "-q", *(("--analytical",) if analytical else ()),
            *extra)


@st.composite
def hw_toml_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(HW_TOMLS)))
    data = HW_TOMLS[name]
    if b"energy_tables" in data and draw(st.integers(0, 3)) == 0:  # a hostile include in place of the real one
        include = draw(st.sampled_from([s for s in TOML_SNIPPETS if b"energy_tables" in s()]))()
        data = re.sub(rb"(?m)^energy_tables = .*\n", lambda _: include, data, count=1)
    else:
        data = draw(mutated(data, TOML_SNIPPETS))
    analytical = draw(st.booleans())
    functional = not analytical and b"[reram" in data and draw(st.booleans())
    argv = _run("hw.toml", "one.csv", analytical=analytical, extra=("--functional",) if functional else ())
    if draw(st.integers(0, 4)) == 0:
        argv = ("check", "hw.toml")
    files = (("hw.toml", data), ("one.csv", ONE_LAYER), SECRET, *ENERGY.items())
    return Case("hw_toml", argv, files, "hw.toml", specials=SPECIALS)


@st.composite
def energy_table_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(ENERGY)))
    data = draw(mutated(ENERGY[name], TOML_SNIPPETS))
    files = dict(ENERGY)
    files[name] = data
    files["hw.toml"] = HW_TOMLS["eyeriss_12x14.toml" if "eyeriss" in name else "scalesim_32x32_ws.toml"]
    if name not in files["hw.toml"].decode():
        files["hw.toml"] = files["hw.toml"].replace(b"energy/horowitz_45nm.toml", name.encode())
    files["one.csv"] = ONE_LAYER
    argv = ("check", name) if draw(st.booleans()) else _run("hw.toml", "one.csv", analytical=True)
    return Case("energy_table", argv, tuple(files.items()), name, also_named=("hw.toml",))


@st.composite
def scalesim_cfg_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(CFGS)))
    snippets = (lambda: b"[general]\nrun_name = " + b"x" * 100_000 + b"\n", lambda: b"ArrayHeight: " + b"7" * 5000,
                lambda: b"[" * 1000, lambda: b"\x00")
    data = draw(mutated(CFGS[name], snippets))
    argv = _run("hw.cfg", "one.csv", analytical=draw(st.booleans()))
    return Case("scalesim_cfg", argv, (("hw.cfg", data), ("one.csv", ONE_LAYER)), "hw.cfg")


@st.composite
def maestro_hw_case(draw) -> Case:
    data = draw(mutated(MAESTRO_HW, (lambda: b"num_pes: " + b"9" * 5000 + b"\n",)))
    argv = _run("hw.m", "net.m", analytical=True)
    return Case("maestro_hw", argv, (("hw.m", data), ("net.m", MAESTRO_NETS["GEMM_Example.m"])), "hw.m")


MAESTRO_SNIPPETS = (
    lambda: b"Network n {\n" + b"Layer L {\n" * 5000 + b"}\n" * 5000 + b"}\n",
    lambda: b"Dimensions { K: " + b"9" * 5000 + b" }\n",
    lambda: b"Stride { X: 0, Y: 0 }\n",
    lambda: b"Dimensions { K: 4294967296, C: 4294967296, R: 3, S: 3, Y: 100000000, X: 100000000 }\n",
)


@st.composite
def maestro_net_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(MAESTRO_NETS)))
    data = draw(mutated(MAESTRO_NETS[name], MAESTRO_SNIPPETS))
    argv = _run("hw.m", "net.m", analytical=True)
    if draw(st.integers(0, 3)) == 0:
        argv = ("check", "net.m")
    return Case("maestro_net", argv, (("hw.m", MAESTRO_HW), ("net.m", data)), "net.m")


@st.composite
def mapping_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(MAPPINGS)))
    data = draw(mutated(MAPPINGS[name], (lambda: b"Dataflow {\n" + b"Cluster(2, P);\n" * 5000 + b"}\n",
                                         lambda: b"SpatialMap(" + b"9" * 5000 + b",1) K;\n")))
    trace = b"name,type,ifmap_h,ifmap_w,filter_h,filter_w,channels,num_filter,stride\nc1,conv,8,8,3,3,16,16,1\n"
    argv = _run("hw.m", "t.csv", analytical=True, extra=("--mapping", "map.m"))
    return Case("mapping", argv, (("hw.m", MAESTRO_HW), ("t.csv", trace), ("map.m", data)), "map.m")


CSV_SNIPPETS = (
    lambda: b"big,gemm," + b"9" * 5000 + b",1,1\n",
    lambda: b"huge,gemm,4611686018427387904,4611686018427387904,4611686018427387904\n",
    lambda: b"huge,conv,1000000000,1000000000,3,3,1000000,1000000,1\n",
    lambda: b"a," * 100_000 + b"\n",
    lambda: b"x" * 2_000_000 + b"\n",
)


@st.composite
def trace_csv_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(TRACES)))
    data = draw(mutated(TRACES[name], CSV_SNIPPETS))
    hw = "isaac.toml" if "circulant" in name or draw(st.integers(0, 4)) == 0 else "scalesim_32x32_ws.toml"
    argv = _run("hw.toml", "t.csv", analytical=True)
    if draw(st.integers(0, 3)) == 0:
        argv = ("check", "t.csv")
    files = (("hw.toml", HW_TOMLS[hw]), ("t.csv", data), *ENERGY.items())
    return Case("trace_csv", argv, files, "t.csv")


@st.composite
def topology_csv_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(TOPOLOGIES)))
    snippets = (lambda: b"big, 99999999999, 99999999999, 3, 3, 99999999, 99999999, 1,\n",
                lambda: b"g, " + b"9" * 4000 + b", 1, 1,\n", lambda: b"n, 3, 3, 5, 5, 1, 1, 1,\n")
    data = draw(mutated(TOPOLOGIES[name], snippets))
    argv = _run("hw.toml", "t.csv", analytical=True)
    if draw(st.integers(0, 3)) == 0:
        argv = ("check", "t.csv")
    files = (("hw.toml", SYSTOLIC_HW), ("t.csv", data), *ENERGY.items())
    return Case("topology_csv", argv, files, "t.csv")


def _onnx_model(draw) -> bytes:
    import onnx
    from onnx import TensorProto, helper

    big = (2**31 - 1, 2**40, 0, -1, 10**6)
    def dim(default: int) -> int:
        return draw(st.sampled_from((default,) * 6 + big))

    n, c, h, k = dim(1), dim(3), dim(8), dim(4)
    kh = dim(3)
    stride = dim(1)
    pad = dim(1)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, h, h])
    w = helper.make_tensor_value_info("w", TensorProto.FLOAT, [k, c, kh, kh])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], strides=[stride, stride], pads=[pad] * 4, name="conv")
    graph = helper.make_graph([conv], "g", [x, w], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return model.SerializeToString()


@st.composite
def onnx_case(draw) -> Case:
    data = _onnx_model(draw)
    if draw(st.booleans()):
        data = draw(mutated(data))
    argv = _run("hw.toml", "m.onnx", analytical=True)
    files = (("hw.toml", SYSTOLIC_HW), ("m.onnx", data), *ENERGY.items())
    return Case("onnx", argv, files, "m.onnx")


SWEEP_SNIPPETS = (
    lambda: b'[sweep.parameters]\n"pe_array.rows" = { start = 1, stop = inf, step = 1 }\n',
    lambda: b'[sweep.parameters]\n"pe_array.rows" = { start = nan, stop = 8, step = 1 }\n',
    lambda: b'[sweep.parameters]\n"dram.bandwidth_bytes_per_cycle" = [nan, inf]\n',
    lambda: (b'[sweep.parameters]\n' + b"".join(f'"p{i}" = {{ start = 1, stop = 10000, step = 1 }}\n'.encode()
                                                for i in range(4))),
    lambda: b'[sweep.parameters]\n"pe_array.rows" = { start = 1, stop = 1e15, step = 1 }\n',
    lambda: b'[sweep.parameters]\n"pe_array.rows" = { start = 1, stop = 1e300, factor = 1.0000001 }\n',
    lambda: b'[sweep.parameters]\n"pe_array.rows" = { start = 1, stop = 8, num = 1000000000000 }\n',
)


@st.composite
def sweep_case(draw) -> Case:
    name = draw(st.sampled_from(sorted(SWEEPS)))
    data = draw(mutated(SWEEPS[name], SWEEP_SNIPPETS + TOML_SNIPPETS[:8]))
    files = {"sweeps/spec.toml": data, "sweeps/tiny_fc.csv": _read("sweeps/tiny_fc.csv"),
             "traces/resnet18.csv": _read("traces/resnet18.csv"),
             **{f"hw_configs/{k}": v for k, v in HW_TOMLS.items()},
             **{f"hw_configs/{k}": v for k, v in ENERGY.items()}}
    return Case("sweep", ("check", "sweeps/spec.toml"), tuple(files.items()), "sweeps/spec.toml")


SYSTEMS = {p.name: p.read_bytes() for p in sorted((REPO / "systems").glob("*.toml"))}
SYSTEM_SNIPPETS = (
    lambda: b'[[accelerator]]\nname = "x"\nhw = "/dev/zero"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "../../../../etc/passwd"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "fifo.toml"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "link.toml"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "adir"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "secret.txt"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "a\\u0000b.toml"\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "scalesim_32x32_ws.toml"\ncount = 1000000000\n',
    lambda: b'[[accelerator]]\nname = "x"\nhw = "scalesim_32x32_ws.toml"\n' * 3000,
    lambda: b'[links]\ntopology = "mesh"\nmesh_cols = 0\nbandwidth_gbytes_per_s = nan\n',
    lambda: b'[partition]\nkind = "pipeline"\nmicro_batches = 1000000000\n',
)


@st.composite
def system_case(draw) -> Case:
    """A shipped system config (its accelerators named by shipped config names) mutated; `sim check` or a one-layer
    `sim system` (analytical, inference)."""
    name = draw(st.sampled_from(sorted(SYSTEMS)))
    data = draw(mutated(SYSTEMS[name], SYSTEM_SNIPPETS + TOML_SNIPPETS[:8]))
    argv = ("check", "system.toml") if draw(st.booleans()) else (
        "system", "system.toml", "--trace", "one.csv", "--analytical", "--inference", "-q", "--out", "out")
    files = (("system.toml", data), ("one.csv", ONE_LAYER), SECRET)
    return Case("system", argv, files, "system.toml", specials=SPECIALS)


@functools.cache
def _mapping_toml() -> bytes:
    """The mapping file `sim.write_mappings` writes for the small SCALE-Sim test topology (docs/mapping.md)."""
    import sim

    hw = sim.load_hardware(REPO / "hw_configs/scalesim_32x32_ws.toml")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "map.toml"
        sim.write_mappings(path, sim.load_trace(REPO / "traces/scalesim/test.csv"), hw)
        return path.read_bytes()


MAPPING_TOML_SNIPPETS = (
    lambda: b'[[mapping]]\nlayer = "Conv1"\ndims = { G = 1, M = 4611686018427387904, K = 27, N = 8 }\n',
    lambda: b'[[mapping]]\nlayer = "Conv1"\n' + b'[[mapping.level]]\nlevel = "dram"\n' * 3000,
    lambda: b'[[mapping.level]]\nloops = [' + b'{ dim = "K", size = 1 },' * 5000 + b']\n',
    lambda: b'[[mapping.level]]\nloops = [{ dim = "K", size = 1, spatial = "rows", units = 1000000000 }]\n',
)


@st.composite
def mapping_toml_case(draw) -> Case:
    """A mapping file (`sim.write_mappings`' TOML) mutated, given to `sim run --mapping` (analytical or engine)."""
    data = draw(mutated(_mapping_toml(), MAPPING_TOML_SNIPPETS + TOML_SNIPPETS[:8]))
    argv = _run("hw.toml", "t.csv", analytical=draw(st.integers(0, 3)) > 0, extra=("--mapping", "map.toml"))
    files = (("hw.toml", SYSTOLIC_HW), ("t.csv", _read("traces/scalesim/test.csv")), ("map.toml", data),
             *ENERGY.items())
    return Case("mapping_toml", argv, files, "map.toml", also_named=("t.csv",))


DRAM_REQ = ("# issue_ns kind address size_bytes\n" + "".join(
    f"{i * 10} {'W' if i % 3 == 0 else 'R'} {hex(0x1000 + i * 64 * 37)} 64\n" for i in range(24))).encode()
DRAM_REQ_SNIPPETS = (
    lambda: b"0 R 0x0 " + b"9" * 5000 + b"\n",
    lambda: b"0 R 0xffffffffffffffffffffffff 64\n",
    lambda: b"1e300 R 0x0 64\n",
    lambda: b"0 R 0x0 1099511627776\n",
    lambda: b"0 R 0x0 64\n" * 200_000,
    lambda: b"nan W 0x10 64\n",
    lambda: b"-5 R 0x0 64\n",
)


@st.composite
def dram_req_case(draw) -> Case:
    """A DRAM request trace (.req) mutated, replayed by `sim dram` on a bank/row or command-level DRAM."""
    data = draw(mutated(DRAM_REQ, DRAM_REQ_SNIPPETS))
    hw = draw(st.sampled_from(("scalesim_32x32_ws_ddr4.toml", "scalesim_32x32_ws_ddr4_cmd.toml")))
    files = (("hw.toml", HW_TOMLS[hw]), ("t.req", data), *ENERGY.items())
    return Case("dram_req", ("dram", "t.req", "--hw", "hw.toml"), files, "t.req")


@functools.cache
def _digits_data() -> bytes:
    """Four samples of the shipped digits test set (inputs and labels), as an .npz."""
    import numpy as np

    with np.load(REPO / "examples/digits_test.npz") as data:
        buffer = io.BytesIO()
        np.savez(buffer, image=data["image"][:4], labels=data["labels"][:4])
        return buffer.getvalue()


@st.composite
def onnx_infer_case(draw) -> Case:
    """The shipped digits CNN (with its weights) byte-mutated, or its inputs mutated, through `sim infer`."""
    model, data = _read("examples/digits_cnn.onnx"), _digits_data()
    target = draw(st.sampled_from(("m.onnx", "m.onnx", "d.npz")))
    if target == "m.onnx":
        model = draw(mutated(model))
    else:
        data = draw(mutated(data))
    hw = draw(st.sampled_from(("scalesim_32x32_ws.toml", "scalesim_32x32_ws.toml", "isaac.toml")))
    argv = ("infer", "--hw", "hw.toml", "--model", "m.onnx", "--data", "d.npz", "--labels", "d.npz",
            "--no-timing", "-q", "--out", "out")
    files = (("hw.toml", HW_TOMLS[hw]), ("m.onnx", model), ("d.npz", data), *ENERGY.items())
    return Case("onnx_infer", argv, files, target, also_named=("m.onnx", "d.npz"))


SWEEP_ACCURACY_SNIPPETS = (
    lambda: b'[sweep.accuracy]\nmodel = "/dev/zero"\n',
    lambda: b'[sweep.accuracy]\nmodel = "../examples/fifo.onnx"\n',
    lambda: b'[sweep.accuracy]\ndata = "../../../../etc/passwd"\n',
    lambda: b'[sweep.accuracy]\nseeds = 1000000000000\n',
    lambda: b'[sweep.accuracy]\nseeds = nan\n',
    lambda: b'[sweep.accuracy]\nsamples = -1\n',
)


@st.composite
def sweep_accuracy_case(draw) -> Case:
    """The shipped accuracy sweep spec ([sweep.accuracy]: model, data, labels, seeds) mutated; `sim check`."""
    data = draw(mutated(_read("sweeps/digits_accuracy.toml"), SWEEP_ACCURACY_SNIPPETS + SWEEP_SNIPPETS[:3]))
    files = {"sweeps/spec.toml": data, "hw_configs/isaac.toml": HW_TOMLS["isaac.toml"],
             **{f"hw_configs/{k}": v for k, v in ENERGY.items()},
             "examples/digits_cnn.onnx": _read("examples/digits_cnn.onnx"), "examples/digits_test.npz": _digits_data()}
    specials = (("examples/fifo.onnx", "fifo"),)
    return Case("sweep_accuracy", ("check", "sweeps/spec.toml"), tuple(files.items()), "sweeps/spec.toml",
                specials=specials)


STRATEGIES = {
    "hw_toml": hw_toml_case(), "energy_table": energy_table_case(), "scalesim_cfg": scalesim_cfg_case(),
    "maestro_hw": maestro_hw_case(), "maestro_net": maestro_net_case(), "trace_csv": trace_csv_case(),
    "topology_csv": topology_csv_case(), "onnx": onnx_case(), "mapping": mapping_case(), "sweep": sweep_case(),
    "system": system_case(), "mapping_toml": mapping_toml_case(), "dram_req": dram_req_case(),
    "onnx_infer": onnx_infer_case(), "sweep_accuracy": sweep_accuracy_case(),
}
