"""Checked dataclass fields: the one place where a value read from a file (the settings, a
checkpoint's model config) is held against the kind and range its field declares.

A field declares its check with ``checked(default, ...)`` (a ``dataclasses.field`` carrying a
``Check`` in its metadata). ``field_problems(obj)`` lists what is wrong with an instance, one
line per field; ``coerce(cls, data)`` takes a mapping read from JSON and keeps the values that
pass (the lenient load of the settings, where a bad value must not lock the reviewer out).
Booleans are never numbers here, numbers are finite, and a whole number is an ``int``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

KINDS = ("bool", "int", "float", "str", "list[int]", "list[str]")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class Check(NamedTuple):
    """A field's kind and range. A named tuple, not a dataclass: this module loads with the
    window's settings, and a frozen dataclass compiles its methods at import (1.5 ms of start)."""

    kind: str  # one of KINDS (``checked`` refuses another; ``problem`` too)
    lo: float | None = None  # inclusive bounds of a number, or of each item of a list[int]
    hi: float | None = None
    choices: tuple[str, ...] = ()  # allowed strings (empty: any)
    optional: bool = False  # None is allowed

    def _range(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f" from {_fmt(self.lo)} to {_fmt(self.hi)}"
        if self.lo is not None:
            return f" of at least {_fmt(self.lo)}"
        return f" of at most {_fmt(self.hi)}" if self.hi is not None else ""

    def _in_range(self, v: float) -> bool:
        return (self.lo is None or v >= self.lo) and (self.hi is None or v <= self.hi)

    def problem(self, name: str, value: Any) -> str | None:
        """One line saying what is wrong with ``value`` for field ``name``; None when it fits."""
        if value is None and self.optional:
            return None
        if self.kind == "bool":
            ok, want = isinstance(value, bool), "true or false"
        elif self.kind == "int":
            ok, want = _is_int(value) and self._in_range(value), f"a whole number{self._range()}"
        elif self.kind == "float":
            ok, want = _is_number(value) and self._in_range(value), f"a finite number{self._range()}"
        elif self.kind == "str":
            ok = isinstance(value, str) and (not self.choices or value in self.choices)
            want = f"one of {', '.join(self.choices)}" if self.choices else "a string"
        elif self.kind == "list[int]":
            ok = isinstance(value, list) and all(_is_int(v) and self._in_range(v) for v in value)
            want = f"a list of whole numbers{self._range()}"
        elif self.kind == "list[str]":
            ok, want = isinstance(value, list) and all(isinstance(v, str) for v in value), "a list of strings"
        else:
            raise ValueError(f"unknown field kind {self.kind!r}")
        return None if ok else f"{name} must be {want}, got {_show(value)}"


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else f"{v:,}" if abs(v) >= 10_000 else str(v)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def checked(default: Any = dataclasses.MISSING, *, kind: str,
            default_factory: Callable[[], Any] | Any = dataclasses.MISSING,
            lo: float | None = None, hi: float | None = None, choices: tuple[str, ...] = (),
            optional: bool = False) -> Any:
    """A dataclass field with a ``Check`` (use like ``dataclasses.field``)."""
    if kind not in KINDS:
        raise ValueError(f"unknown field kind {kind!r}")
    meta = {"check": Check(kind, lo, hi, tuple(choices), optional)}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def field_check(f: dataclasses.Field[Any]) -> Check | None:
    check = f.metadata.get("check")
    return check if isinstance(check, Check) else None


def field_problems(obj: Any) -> list[str]:
    """What is wrong with the checked fields of a dataclass instance, one line each."""
    out = []
    for f in dataclasses.fields(obj):
        check = field_check(f)
        if check is not None and (why := check.problem(f.name, getattr(obj, f.name))) is not None:
            out.append(why)
    return out


def coerce(cls: type, data: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(values that pass their field's check, one line per value that does not) from a mapping
    read from a file; unknown keys are left out and named. A whole number given for a
    ``float`` field is taken as a float."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    known = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in data.items():
        f = known.get(name)
        if f is None:
            problems.append(f"{name}: not a setting of this version")
            continue
        check = field_check(f)
        if check is None:
            values[name] = value
            continue
        why = check.problem(name, value)
        if why is None:
            values[name] = float(value) if check.kind == "float" and value is not None else value
        else:
            problems.append(why)
    return values, problems
