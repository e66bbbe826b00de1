"""MAESTRO's `.m` input language: Network / Layer / Type / Stride / Dimensions / Dataflow.

Grammar accepted (MAESTRO's, as its shipped files use it):

    Constant NAME value;                      (top level, before the network)
    Network NAME { Layer NAME { ... } ... }
    Type: CONV | DSCONV | TRCONV | FC | GEMM
    Stride { X: n, Y: n }                     (default 1)
    Dimensions { K: n, C: n, R: n, S: n, Y: n, X: n, N: n }   (colon optional; GEMM: K, M, N)
    Dataflow { SpatialMap(size, offset) D; TemporalMap(size, offset) D; Cluster(size, P); }

Sizes and offsets are an integer, a constant name or `Sz(D)` (the size of dimension D). Y and X are
*input* sizes, as in MAESTRO: the output is (Y - R) / stride + 1. A dataflow-only file (a mapping given
apart from the layers) holds one `Dataflow { ... }` block or the bare directives.

Every syntax error is a TraceError carrying the file, the line, what was found and what is allowed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from sim.errors import SimError, TraceError
from sim.inputs import MAX_INTEGER_DIGITS, MAX_TRACE_BYTES, read_text
from sim.workload.layer import Layer
from sim.workload.trace import Trace

LAYER_TYPES: tuple[str, ...] = ("CONV", "DSCONV", "TRCONV", "FC", "GEMM")
CONV_DIMS: tuple[str, ...] = ("K", "C", "R", "S", "Y", "X", "N")
GEMM_DIMS: tuple[str, ...] = ("M", "N", "K")
DIRECTIVE_KINDS: tuple[str, ...] = ("SpatialMap", "TemporalMap", "Cluster")
CLUSTER_TYPES: tuple[str, ...] = ("P", "L")


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class SizeExpr:
    """A directive's size or offset: a literal (`dim` empty) or `Sz(dim)` (the size of that dimension)."""

    value: int = 0
    dim: str = ""

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        if not self.dim:
            return self.value
        if self.dim not in sizes:
            raise TraceError("Sz() of a dimension the layer does not have", field="Sz", value=self.dim,
                             allowed=", ".join(sorted(sizes)))
        return sizes[self.dim]

    def text(self) -> str:
        return f"Sz({self.dim})" if self.dim else str(self.value)


@dataclass(frozen=True)
class MapDirective:
    """`SpatialMap(size, offset) dim` or `TemporalMap(size, offset) dim`."""

    kind: Literal["spatial", "temporal"]
    size: SizeExpr
    offset: SizeExpr
    dim: str
    line: int = 0

    def text(self) -> str:
        name = "SpatialMap" if self.kind == "spatial" else "TemporalMap"
        return f"{name}({self.size.text()},{self.offset.text()}) {self.dim};"


@dataclass(frozen=True)
class ClusterDirective:
    """`Cluster(size, type)`: the directives below it run inside clusters of `size` sub-units."""

    size: SizeExpr
    type: str = "P"
    line: int = 0

    def text(self) -> str:
        return f"Cluster({self.size.text()},{self.type});"


Directive = MapDirective | ClusterDirective


@dataclass(frozen=True)
class Dataflow:
    """The ordered directives of one layer (outermost first)."""

    directives: tuple[Directive, ...]
    source_file: str = ""

    def text(self, indent: str = "\t\t\t") -> str:
        return "\n".join(indent + d.text() for d in self.directives)


@dataclass(frozen=True)
class MaestroLayer:
    name: str
    type: str
    dimensions: tuple[tuple[str, int], ...]
    stride_x: int = 1
    stride_y: int = 1
    dataflow: Dataflow | None = None
    line: int = 0

    @property
    def sizes(self) -> dict[str, int]:
        return dict(self.dimensions)


@dataclass(frozen=True)
class MaestroNetwork:
    name: str
    layers: tuple[MaestroLayer, ...]
    constants: tuple[tuple[str, int], ...] = ()
    source_file: str = ""


# ---------------------------------------------------------------- tokenizer
_TOKEN = re.compile(r"\s+|//[^\n]*|/\*.*?\*/|(?P<tok>[A-Za-z0-9_.\-]+|[{}():;,])", re.S)


@dataclass(frozen=True)
class _Tok:
    text: str
    line: int


def _tokenize(text: str, file: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos, line = 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise TraceError("unexpected character", file=file, line=line, value=text[pos],
                             allowed="names, numbers, { } ( ) : ; , and // or /* */ comments")
        if match.group("tok"):
            tokens.append(_Tok(match.group("tok"), line))
        line += match.group(0).count("\n")
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.tokens = _tokenize(text, file)
        self.pos = 0
        self.constants: dict[str, int] = {}

    # -- primitives
    def _line(self) -> int:
        if self.pos < len(self.tokens):
            return self.tokens[self.pos].line
        return self.tokens[-1].line if self.tokens else 1

    def fail(self, message: str, value: object, allowed: str) -> TraceError:
        return TraceError(message, file=self.file, line=self._line(), value=value, allowed=allowed)

    def peek(self) -> str | None:
        return self.tokens[self.pos].text if self.pos < len(self.tokens) else None

    def next(self, allowed: str) -> _Tok:
        if self.pos >= len(self.tokens):
            raise self.fail("unexpected end of file", "end of file", allowed)
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.next(repr(text))
        if tok.text != text:
            self.pos -= 1
            raise self.fail(f"expected {text!r}", tok.text, repr(text))
        return tok

    def accept(self, text: str) -> bool:
        if self.peek() == text:
            self.pos += 1
            return True
        return False

    def name(self, what: str) -> str:
        tok = self.next(what)
        if tok.text in "{}():;,":
            self.pos -= 1
            raise self.fail(f"expected {what}", tok.text, what)
        return tok.text

    def integer(self, what: str) -> int:
        tok = self.next(what)
        if tok.text in self.constants:
            return self.constants[tok.text]
        if not (tok.text.isascii() and tok.text.isdigit()):
            self.pos -= 1
            raise self.fail(f"expected {what}", tok.text, "a non-negative integer or a Constant name")
        if len(tok.text) > MAX_INTEGER_DIGITS:
            self.pos -= 1
            raise self.fail(f"{what}: integer too long", f"{len(tok.text)} digits",
                            f"at most {MAX_INTEGER_DIGITS} digits")
        return int(tok.text)

    def size_expr(self, dims: tuple[str, ...]) -> SizeExpr:
        if self.peek() == "Sz":
            self.pos += 1
            self.expect("(")
            line = self._line()
            dim = self.name("a dimension name")
            if dim not in dims:
                raise TraceError("Sz() of an unknown dimension", file=self.file, line=line, value=dim,
                                 allowed=", ".join(dims))
            self.expect(")")
            return SizeExpr(dim=dim)
        value = self.integer("a size: an integer, a Constant name or Sz(D)")
        if value < 1:
            self.pos -= 1
            raise self.fail("a directive size or offset must be >= 1", value, ">= 1")
        return SizeExpr(value=value)

    # -- grammar
    def file_(self) -> MaestroNetwork:
        while self.peek() == "Constant":
            self.pos += 1
            name = self.name("a constant name")
            self.constants[name] = self.integer("the constant's value")
            self.expect(";")
        start = self._line()
        keyword = self.next("'Network'")
        if keyword.text != "Network":
            self.pos -= 1
            raise self.fail("expected 'Network'", keyword.text, "'Constant NAME value;' or 'Network NAME { ... }'")
        net_name = self.name("a network name")
        self.expect("{")
        layers: list[MaestroLayer] = []
        while not self.accept("}"):
            layers.append(self.layer())  # MAESTRO's own files repeat names (Resnet50 residuals): allowed
        if self.peek() is not None:
            raise self.fail("text after the end of the network", self.peek(), "one Network block per file")
        if not layers:
            raise TraceError("a network needs at least one layer", file=self.file, line=start, value=net_name)
        return MaestroNetwork(net_name, tuple(layers), tuple(self.constants.items()), self.file)

    def layer(self) -> MaestroLayer:
        keyword = self.next("'Layer'")
        if keyword.text != "Layer":
            self.pos -= 1
            raise self.fail("expected 'Layer' or '}'", keyword.text, "'Layer NAME { ... }'")
        line = keyword.line
        name = self.name("a layer name")
        self.expect("{")
        layer_type: str | None = None
        stride = {"X": 1, "Y": 1}
        dims: dict[str, int] | None = None
        dataflow_tokens: int | None = None
        while not self.accept("}"):
            key = self.next("Type, Stride, Dimensions or Dataflow")
            if key.text == "Type":
                self.expect(":")
                tok = self.next("a layer type")
                if tok.text not in LAYER_TYPES:
                    raise TraceError("unknown layer type", file=self.file, line=tok.line, value=tok.text,
                                     allowed=", ".join(LAYER_TYPES))
                layer_type = tok.text
                self.accept(";")
            elif key.text == "Stride":
                self.expect("{")
                while not self.accept("}"):
                    axis = self.next("X or Y")
                    if axis.text not in ("X", "Y"):
                        raise TraceError("unknown stride axis", file=self.file, line=axis.line, value=axis.text,
                                         allowed="X, Y")
                    self.accept(":")
                    stride[axis.text] = self.integer("a stride")
                    if stride[axis.text] < 1:
                        raise TraceError("stride must be >= 1", file=self.file, line=axis.line,
                                         value=stride[axis.text], allowed=">= 1")
                    self.accept(",")
            elif key.text == "Dimensions":
                dims = self.dimensions()
            elif key.text == "Dataflow":
                dataflow_tokens = self.pos  # parsed once the dimensions (for Sz) are known
                self.skip_block()
            else:
                self.pos -= 1
                raise self.fail("unknown layer field", key.text, "Type, Stride, Dimensions, Dataflow")
        if layer_type is None:
            raise TraceError("layer has no Type", file=self.file, line=line, field=name, allowed=", ".join(LAYER_TYPES))
        if dims is None:
            raise TraceError("layer has no Dimensions", file=self.file, line=line, field=name)
        dims = _complete_dims(layer_type, dims, self.file, line, name)
        dataflow = None
        if dataflow_tokens is not None:
            end = self.pos
            self.pos = dataflow_tokens
            dataflow = self.dataflow_block(tuple(dims))
            self.pos = end
        return MaestroLayer(name, layer_type, tuple(dims.items()), stride["X"], stride["Y"], dataflow, line)

    def skip_block(self) -> None:
        self.expect("{")
        depth = 1
        while depth:
            tok = self.next("'}'")
            depth += (tok.text == "{") - (tok.text == "}")

    def dimensions(self) -> dict[str, int]:
        self.expect("{")
        dims: dict[str, int] = {}
        while not self.accept("}"):
            tok = self.next("a dimension name")
            if tok.text not in CONV_DIMS + GEMM_DIMS:
                raise TraceError("unknown dimension", file=self.file, line=tok.line, value=tok.text,
                                 allowed=", ".join(CONV_DIMS) + " (GEMM: M, N, K)")
            if tok.text in dims:
                raise TraceError("dimension given twice", file=self.file, line=tok.line, value=tok.text)
            self.accept(":")
            value = self.integer("a dimension size")
            if value < 1:
                raise TraceError("dimension size must be >= 1", file=self.file, line=tok.line, value=value,
                                 allowed=">= 1")
            dims[tok.text] = value
            self.accept(",")
        return dims

    def dataflow_block(self, dims: tuple[str, ...]) -> Dataflow:
        self.expect("{")
        directives: list[Directive] = []
        while not self.accept("}"):
            directives.append(self.directive(dims))
        if not directives:
            raise self.fail("empty Dataflow block", "{}", "SpatialMap / TemporalMap / Cluster directives")
        return Dataflow(tuple(directives), self.file)

    def directive(self, dims: tuple[str, ...]) -> Directive:
        tok = self.next("a directive")
        if tok.text not in DIRECTIVE_KINDS:
            self.pos -= 1
            raise self.fail("unknown directive", tok.text, "SpatialMap(size, offset) D; TemporalMap(size, offset) D; "
                                                         "Cluster(size, P);")
        self.expect("(")
        size = self.size_expr(dims)
        self.expect(",")
        if tok.text == "Cluster":
            kind_tok = self.next("P or L")
            if kind_tok.text not in CLUSTER_TYPES:
                raise TraceError("unknown cluster type", file=self.file, line=kind_tok.line, value=kind_tok.text,
                                 allowed=", ".join(CLUSTER_TYPES))
            self.expect(")")
            self.expect(";")
            return ClusterDirective(size, kind_tok.text, tok.line)
        offset = self.size_expr(dims)
        self.expect(")")
        dim_tok = self.next("a dimension name")
        if dim_tok.text not in dims:
            raise TraceError("directive on a dimension the layer does not have", file=self.file, line=dim_tok.line,
                             value=dim_tok.text, allowed=", ".join(dims))
        self.expect(";")
        kind: Literal["spatial", "temporal"] = "spatial" if tok.text == "SpatialMap" else "temporal"
        return MapDirective(kind, size, offset, dim_tok.text, tok.line)


def _complete_dims(layer_type: str, dims: dict[str, int], file: str, line: int, name: str) -> dict[str, int]:
    """Fill MAESTRO's defaults (absent dimensions are 1) and check the layer's own constraints."""
    if layer_type == "GEMM":
        extra = sorted(set(dims) - set(GEMM_DIMS))
        if extra:
            raise TraceError("a GEMM layer has dimensions M, N, K only", file=file, line=line, field=name,
                             value=extra[0], allowed="M, N, K")
        return {d: dims.get(d, 1) for d in GEMM_DIMS}
    if "M" in dims:
        raise TraceError("dimension M is for GEMM layers", file=file, line=line, field=name, value="M",
                         allowed=", ".join(CONV_DIMS))
    full = {d: dims.get(d, 1) for d in CONV_DIMS}
    for window, extent in (("R", "Y"), ("S", "X")):
        if full[window] > full[extent]:
            raise TraceError(f"filter {window} larger than input {extent}", file=file, line=line, field=name,
                             value=full[window], allowed=f"<= {extent} = {full[extent]}")
    return full


# ---------------------------------------------------------------- public API
def parse_maestro(text: str, file: str | Path = "<string>") -> MaestroNetwork:
    """Parse a MAESTRO network (.m) file's text."""
    return _Parser(text, str(file)).file_()


def parse_dataflow(text: str, dims: tuple[str, ...] = CONV_DIMS + ("M",), file: str | Path = "<string>") -> Dataflow:
    """Parse a dataflow given on its own: one `Dataflow { ... }` block, or the bare directives."""
    parser = _Parser(text, str(file))
    if not parser.tokens:
        raise TraceError("empty mapping file", file=str(file), line=1, allowed="a Dataflow { ... } block")
    if parser.peek() == "Dataflow":
        parser.pos += 1
        dataflow = parser.dataflow_block(dims)
    else:
        directives: list[Directive] = []
        while parser.peek() is not None:
            directives.append(parser.directive(dims))
        dataflow = Dataflow(tuple(directives), str(file))
    if parser.peek() is not None:
        raise parser.fail("text after the dataflow", parser.peek(), "one Dataflow block per mapping file")
    return dataflow


def _read(path: str | Path) -> str:
    return read_text(path, TraceError, limit=MAX_TRACE_BYTES, what="MAESTRO file")


def load_maestro_network(path: str | Path) -> MaestroNetwork:
    return parse_maestro(_read(path), path)


def load_mapping_file(path: str | Path) -> Dataflow:
    """A dataflow given apart from the layers (mappings/*.m), to apply to every layer of a trace."""
    return parse_dataflow(_read(path), file=path)


def to_layer(layer: MaestroLayer, file: str = "") -> Layer:
    """The Layer record of a MAESTRO layer (Y/X already include padding, so pad 0)."""
    d = layer.sizes
    try:
        if layer.type == "GEMM":
            return Layer.gemm_layer(layer.name, m=d["M"], n=d["N"], k=d["K"])
        if layer.type == "FC":
            # FC: one output pixel per image; the window R x S x C covers the whole input.
            return Layer.gemm_layer(layer.name, m=d["N"], n=d["K"], k=d["C"] * d["R"] * d["S"])
        common = dict(name=layer.name, kind="conv", ifmap_h=d["Y"], ifmap_w=d["X"], in_channels=d["C"],
                      filter_h=d["R"], filter_w=d["S"], stride_h=layer.stride_y, stride_w=layer.stride_x,
                      batch=d["N"])
        if layer.type == "DSCONV":
            # Depthwise: one filter per channel (MAESTRO writes K: 1), groups = C.
            return Layer(out_channels=d["C"] * d["K"], groups=d["C"], **common)
        # CONV, and TRCONV whose Y/X MAESTRO already gives as the sizes the convolution slides over.
        return Layer(out_channels=d["K"], **common)
    except SimError as err:
        raise err.with_context(file=file or None, line=layer.line) from None


def network_to_trace(network: MaestroNetwork, dataflow: Dataflow | None = None) -> Trace:
    """Trace of a parsed network; `dataflow`, when given, replaces every layer's own Dataflow."""
    layers = tuple(to_layer(layer, network.source_file) for layer in network.layers)
    flows = tuple(dataflow if dataflow is not None else layer.dataflow for layer in network.layers)
    return Trace(network.name, layers, network.source_file, flows)


def load_maestro_trace(path: str | Path, mapping: str | Path | None = None) -> Trace:
    """A MAESTRO .m network as a Trace; Trace.dataflows holds each layer's Dataflow (or None)."""
    network = load_maestro_network(path)
    return network_to_trace(network, load_mapping_file(mapping) if mapping is not None else None)


def write_maestro(network: MaestroNetwork) -> str:
    """The .m text of a network; parse_maestro(write_maestro(n)) gives n back (constants inlined)."""
    lines = [f"Network {network.name} {{"]
    for layer in network.layers:
        lines.append(f"\tLayer {layer.name} {{")
        lines.append(f"\t\tType: {layer.type}")
        if layer.type != "GEMM":
            lines.append(f"\t\tStride {{ X: {layer.stride_x}, Y: {layer.stride_y} }}")
        dims = ", ".join(f"{k}: {v}" for k, v in layer.dimensions)
        lines.append(f"\t\tDimensions {{ {dims} }}")
        if layer.dataflow is not None:
            lines.append("\t\tDataflow {")
            lines.append(layer.dataflow.text())
            lines.append("\t\t}")
        lines.append("\t}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def canonical(network: MaestroNetwork) -> MaestroNetwork:
    """The network without source positions and constants (what a round trip must preserve)."""
    def strip(flow: Dataflow | None) -> Dataflow | None:
        if flow is None:
            return None
        return Dataflow(tuple(_strip_line(d) for d in flow.directives))
    layers = tuple(MaestroLayer(l.name, l.type, l.dimensions, l.stride_x, l.stride_y, strip(l.dataflow))
                   for l in network.layers)
    return MaestroNetwork(network.name, layers)


def _strip_line(directive: Directive) -> Directive:
    if isinstance(directive, ClusterDirective):
        return ClusterDirective(directive.size, directive.type)
    return MapDirective(directive.kind, directive.size, directive.offset, directive.dim)
