"""Typed errors for user mistakes: each carries the file, the field (or line), the value and what is allowed.

The library raises these; only the CLI turns them into a message and exit code 2.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

_UNSET: Any = object()
# Text read from a file is quoted, never echoed whole: values and fields up to 120 characters, lines of a
# message up to 500.
MAX_VALUE_CHARS, MAX_MESSAGE_CHARS = 120, 500


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


class SimError(Exception):
    """Base of every user-facing error.

    `str(err)` is one line a user can act on:
    ``hw_configs/x.toml: pe_array.rows: must be >= 1 (got 0)``.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        field: str | None = None,
        line: int | None = None,
        value: Any = _UNSET,
        allowed: str | None = None,
    ) -> None:
        self.message = message
        self.file = str(file) if file is not None else None
        self.field = field
        self.line = line
        self.value = value
        self.allowed = allowed
        super().__init__(str(self))

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(_clip(self.field, MAX_VALUE_CHARS))  # a key read from a hostile file
        return ": ".join(parts)

    def __str__(self) -> str:
        text = "\n".join(_clip(line, MAX_MESSAGE_CHARS) for line in self.message.split("\n"))
        if self.value is not _UNSET:
            text += f" (got {_clip(repr(self.value), MAX_VALUE_CHARS)})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        where = self.where()
        return f"{where}: {text}" if where else text

    def with_context(self, *, file: str | Path | None = None, line: int | None = None,
                     field_prefix: str | None = None) -> "SimError":
        """The same error, located more precisely (a loader adds the file, a parser adds the line)."""
        new = type(self).__new__(type(self))
        field_name = self.field
        if field_prefix:
            field_name = f"{field_prefix}.{field_name}" if field_name else field_prefix
        SimError.__init__(
            new,
            self.message,
            file=file if file is not None else self.file,
            field=field_name,
            line=line if line is not None else self.line,
            value=self.value,
            allowed=self.allowed,
        )
        return new


class ConfigError(SimError):
    """A hardware config (TOML, SCALE-Sim .cfg, MAESTRO hardware .m) or sweep spec is invalid."""


class TraceError(SimError):
    """A layer trace (SCALE-Sim topology CSV, trace CSV, MAESTRO .m) is invalid."""


class MappingError(SimError):
    """A layer cannot be mapped onto the hardware; the message says why."""


class OutputError(SimError):
    """An output cannot be written: the output path is a file, a folder is not writable, the disk is full."""
