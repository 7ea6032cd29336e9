"""Reading untrusted label files: a size cap, JSON nesting, and the type of every value.

A label file may come from anywhere, so nothing in it is taken on trust: a bool is not a
number (JSON ``true`` is not 1.0), a list or an object is not a name, NaN, inf and 1e400 are
not coordinates, a 10 GB file or ``[`` nested 100,000 deep is refused before it costs
memory or a RecursionError. Each failure is one LabelImportError whose message names the
file and the record (``where``) and says what is wrong.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

from vam_gui.io.importers.convert import LabelImportError

MAX_FILE_BYTES = 512 * 2**20  # far above any real label file; a larger one is refused unread
_DIGITS = 300  # longer JSON integers are parsed as floats (inf past 1e308), never as huge ints
_DECIMAL = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")  # no "nan", "inf", "1_0"
_SHOWN = 40


def shown(value: Any) -> str:
    """A file's value for a message: short, one line, never the repr of a deep container."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = repr(value)
        return text if len(text) <= _SHOWN else f"a {len(text)}-digit number"
    if isinstance(value, str):
        return repr(value) if len(value) <= _SHOWN else repr(value[:_SHOWN]) + "..."
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def read_bytes(path: Path) -> bytes:
    """The file's bytes, refused unread when it is larger than MAX_FILE_BYTES."""
    limit = MAX_FILE_BYTES
    too_big = LabelImportError(f"{path.name}: larger than the {limit // 2**20} MB a label file may have")
    try:
        if path.stat().st_size > limit:
            raise too_big
        with open(path, "rb") as f:
            data = f.read(limit + 1)  # a file that grows while read is still capped
    except OSError as exc:
        raise LabelImportError(f"{path.name}: cannot read the file ({exc.strerror or type(exc).__name__})") from None
    if len(data) > limit:
        raise too_big
    return data


def _int(text: str) -> int | float:
    return int(text) if len(text) <= _DIGITS else float(text)


def load_json(path: Path) -> tuple[Any, str | None]:
    """(document, None), or (None, why) for a file that is not JSON at all (a stray file in a
    folder: the caller reports it). Too large or too deeply nested: LabelImportError."""
    data = read_bytes(path)
    try:
        return json.loads(data.decode("utf-8-sig"), parse_int=_int), None
    except RecursionError:
        raise LabelImportError(f"{path.name}: JSON nested too deeply to be a label file") from None
    except (UnicodeDecodeError, ValueError) as exc:
        return None, f"not a readable JSON file ({type(exc).__name__})"


def load_csv(path: Path) -> tuple[list[tuple[int, list[str]]], str | None]:
    """([(line number, cells)] of the non-blank rows, None), or ([], why) for a file that is
    not a text CSV at all. Too large: LabelImportError."""
    data = read_bytes(path)
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
        rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        return [], f"cannot read the CSV ({type(exc).__name__})"
    return rows, None


def number(value: Any, where: str, field: str) -> float:
    """A JSON number that is finite (never a bool, a string or null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LabelImportError(f"{where}: {field} must be a number, not {shown(value)}")
    x = float(value)
    if not math.isfinite(x):
        raise LabelImportError(f"{where}: {field} is {shown(value)}, not a finite number")
    return x


def cell(text: str, where: str, field: str) -> float:
    """A CSV cell holding a finite decimal number."""
    stripped = text.strip()
    if not _DECIMAL.fullmatch(stripped):
        raise LabelImportError(f"{where}: {field} is {shown(stripped)}, not a number")
    x = float(stripped)
    if not math.isfinite(x):
        raise LabelImportError(f"{where}: {field} is {shown(stripped)}, not a finite number")
    return x


def is_header(cells: list[str]) -> bool:
    """A CSV row none of whose cells reads as a number, NaN and inf included (so that a first
    row of bad numbers is refused as such, never dropped as a header)."""
    for c in cells:
        try:
            float(c)
        except ValueError:
            continue
        return False
    return True


def text(value: Any, where: str, field: str) -> str | None:
    """A string or null (never a number, a list or an object)."""
    if value is not None and not isinstance(value, str):
        raise LabelImportError(f"{where}: {field} must be a string, not {shown(value)}")
    return value


def choice(value: Any, where: str, field: str, options: Collection[str | None]) -> str | None:
    """One of ``options`` (null only when None is one of them)."""
    if not (value is None or isinstance(value, str)) or value not in options:
        allowed = ", ".join("null" if o is None else repr(o) for o in options)
        raise LabelImportError(f"{where}: {field} is {shown(value)}, not one of {allowed}")
    return value


def whole(value: Any, where: str, field: str) -> int:
    """A JSON integer (never a bool or a float)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise LabelImportError(f"{where}: {field} must be a whole number, not {shown(value)}")
    return value


def ident(value: Any, where: str, field: str) -> int | str:
    """An id: an integer or a string (never a bool, a float, a list or an object)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise LabelImportError(f"{where}: {field} must be an integer or a string, not {shown(value)}")
    return value


def flag(value: Any, where: str, field: str) -> bool:
    """A JSON true / false (never 0 / 1 or a string)."""
    if not isinstance(value, bool):
        raise LabelImportError(f"{where}: {field} must be true or false, not {shown(value)}")
    return value


def items(value: Any, where: str, field: str, kind: type = list) -> Any:
    """A JSON list (or object, with ``kind=dict``)."""
    if not isinstance(value, kind):
        raise LabelImportError(f"{where}: {field} must be {'a list' if kind is list else 'an object'}, "
                               f"not {shown(value)}")
    return value
