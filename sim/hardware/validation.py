"""Raw config dict -> `Hardware`, with every schema problem turned into one user-facing ConfigError.

Both file loaders (TOML and SCALE-Sim .cfg) build a plain dict and call `validate_hardware`; pydantic's errors
become (field path, message, value, allowed) problems, located by a loader-supplied function (TOML: the line of
the key; .cfg: the section.key it came from), all reported in one message and raised once.
"""
from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from sim.errors import _UNSET, ConfigError
from sim.hardware.spec import Hardware

# Maps our dotted field path to (the field name to show the user, the line it is on or None).
Locator = Callable[[str], tuple[str, int | None]]

_TYPE_WORDS = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "a string", "model_type": "a table",
    "model_attributes_type": "a table", "dict_type": "a table", "list_type": "an array",
    "tuple_type": "an array", "finite_number": "a finite number",
}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}


@dataclass(frozen=True)
class Problem:
    """One schema violation: the dotted field path, what is wrong, the offending value, what is allowed."""

    field: str
    message: str
    value: Any = _UNSET
    allowed: str | None = None


def _node_type(annotation: Any) -> Any:
    """The model class or dict type a field's annotation leads into (None for a leaf)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            node = _node_type(arg)
            if node is not None:
                return node
        return None
    if origin in (dict, tuple):  # a table of entries, or an array of tables ([[memory]])
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _walk(loc: tuple, root: Any) -> tuple[list[str], Any]:
    """The user-visible path of a pydantic `loc` under `root` (union-member tags dropped) and its end node."""
    node: Any = root
    path: list[str] = []
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            field = node.model_fields.get(str(part))
            path.append(str(part))
            if field is None:  # an unknown key: nothing below it is in the schema
                return path, None
            node = _node_type(field.annotation)
        elif typing.get_origin(node) is dict:
            path.append(str(part))
            node = _node_type(typing.get_args(node)[1])
        elif typing.get_origin(node) is tuple:
            path.append(str(part))
            node = _node_type(typing.get_args(node)[0])
        # else: a union-member tag such as 'int' or "literal['lossless']"; not part of the user's path
    return path, node


def _allowed_keys(parent_loc: tuple, root: Any) -> str:
    _, node = _walk(parent_loc, root)
    if isinstance(node, type) and issubclass(node, BaseModel):
        return ", ".join(node.model_fields)
    return ""


def _range_of(loc: tuple, root: Any) -> str | None:
    """A field's whole allowed range (`>= 1 and <= 65536`) from its schema bounds, for the error message."""
    node: Any = root
    info = None
    for part in loc:
        if isinstance(node, type) and issubclass(node, BaseModel):
            info = node.model_fields.get(str(part))
            if info is None:
                return None
            node = _node_type(info.annotation)
        elif typing.get_origin(node) is dict:
            info, node = None, _node_type(typing.get_args(node)[1])
    if info is None:
        return None
    bounds = []
    for item in info.metadata:
        for attribute, sign in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
            limit = getattr(item, attribute, None)
            if limit is not None:
                bounds.append(f"{sign} {limit:g}" if isinstance(limit, float) else f"{sign} {limit}")
    return " and ".join(bounds) or None


def problems_of(error: ValidationError, root: Any = Hardware) -> list[Problem]:
    """pydantic's errors as Problems, one per field (a union's per-member errors merged into one).

    `root` is the type that was validated (Hardware, or a sub-table's type for included files).
    """
    merged: dict[str, Problem] = {}
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind, ctx, given = item["type"], item.get("ctx") or {}, item.get("input", _UNSET)
        path, _ = _walk(loc, root)
        value: Any = given
        allowed: str | None = None
        if kind == "sim_constraint":
            path = path + [part for part in str(ctx["field"]).split(".") if part]
            message, allowed = str(ctx["message"]), str(ctx["allowed"])
            value = _UNSET if ctx.get("value") is None else ctx["value"]
        elif kind == "missing":
            message, value = "missing required key", _UNSET
        elif kind == "extra_forbidden":
            message, value = "unknown key", _UNSET
            allowed = _allowed_keys(loc[:-1], root) or None
        elif kind == "literal_error":
            message, allowed = "not one of the allowed values", str(ctx.get("expected", ""))
        elif kind in _BOUNDS:
            key, sign = _BOUNDS[kind]
            message, allowed = "out of range", _range_of(loc, root) or f"{sign} {ctx.get(key)}"
        elif kind == "string_too_short":
            message, allowed = "must not be empty", "a non-empty string"
        elif kind in _TYPE_WORDS:
            message, allowed = "wrong type", _TYPE_WORDS[kind]
        else:
            text = str(item["msg"])
            message = text[:1].lower() + text[1:]
        field = ".".join(path)
        if isinstance(value, dict):  # a whole table as "the value" is noise; the path says where
            value = _UNSET
        earlier = merged.get(field)
        if earlier is not None and earlier.allowed and allowed:
            merged[field] = Problem(field, "not an allowed value", earlier.value, f"{earlier.allowed} or {allowed}")
        elif earlier is None:
            merged[field] = Problem(field, message, value, allowed)
    return list(merged.values())


def config_error(problems: list[Problem], file: str | Path, locate: Locator) -> ConfigError:
    """One ConfigError for all problems: the first one's file/line/field/value/allowed, then one line per other."""
    located = []
    for problem in problems:
        shown, line = locate(problem.field)
        located.append(ConfigError(problem.message, file=file, field=shown, line=line, value=problem.value,
                                   allowed=problem.allowed))
    first = located[0]
    if len(located) == 1:
        return first
    text = ConfigError(first.message, value=first.value, allowed=first.allowed)
    rest = "\n".join(str(err) for err in located[1:])
    return ConfigError(f"{text}\n{rest}", file=file, field=first.field, line=first.line)


def _json_ready(raw: dict) -> str:
    # TOML dates and times have no place in a hardware config; as strings they fail the schema with a message.
    return json.dumps(raw, default=str, allow_nan=True)


def validate_hardware(raw: dict, file: str | Path, locate: Locator) -> Hardware:
    """`raw` (plain dicts, lists, numbers, strings) as a strictly validated Hardware, or one ConfigError."""
    try:
        # JSON mode + strict: no str -> number or int -> bool coercion, but arrays and tables still map to
        # tuples and nested models.
        return Hardware.model_validate_json(_json_ready(raw), strict=True)
    except ValidationError as error:
        raise config_error(problems_of(error), file, locate) from None


def validate_table(root: Any, raw: Any, prefix: tuple[str, ...], file: str | Path, locate: Locator) -> Any:
    """A sub-table of type `root` (an included energy table) validated on its own, errors in its own file."""
    try:
        return TypeAdapter(root).validate_json(_json_ready(raw), strict=True)
    except ValidationError as error:
        problems = []
        for problem in problems_of(error, root):
            problems.append(Problem(".".join(prefix + (problem.field,)) if problem.field else ".".join(prefix),
                                    problem.message, problem.value, problem.allowed))
        raise config_error(problems, file, locate) from None
