"""Per-endplate CSV: one file per image (matched by file stem), rows ``x1,y1,x2,y2[,label]``
listed top to bottom, two rows per vertebra (upper endplate, then lower), each row the
left point then the right point as displayed.

Without labels the rows must cover every endplate of the study's schema in order. A label
naming a vertebra ("L3", "L3 upper", "L3-inf") places its row there instead; rows of
vertebrae the schema lacks (T12 in a lumbar study) are ignored, a label that names no
vertebra is refused, and a file that covers only part of the schema needs ``partial``
(only those endplates are written). Every coordinate is a finite number. Lateral schemas:
the anterior corner is on the side the patient faces (the image's facing; left when unknown,
the usual way lateral views are displayed).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, known_schemas, sub_schema
from vam_gui.io.importers.strict import cell, is_header, load_csv, shown

if TYPE_CHECKING:
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, Study

_UPPER = ("upper", "sup", "superior", "top", "cranial")
_LOWER = ("lower", "inf", "inferior", "bottom", "caudal")
_Row = tuple[str, np.ndarray, str]  # (file and row, x1 y1 x2 y2, label)
_Placed = tuple[int, str, np.ndarray]  # (vertebra index, "upper" | "lower", x1 y1 x2 y2)


def _endplates(schema: Schema) -> list[tuple[int, str]]:
    """(vertebra index, "upper" | "lower") of the schema, top to bottom."""
    have = set(zip(schema.vertebra, schema.corner))
    out = []
    for v in range(len(schema.vertebrae)):
        if (v, 0) in have or (v, 1) in have:
            out.append((v, "upper"))
        if (v, 2) in have or (v, 3) in have:
            out.append((v, "lower"))
    return out


def _parse_rows(path: Path) -> tuple[list[_Row], str | None]:
    """The rows, or ([], why) for a file that is not a text CSV with rows at all."""
    origin = path.name
    raw, why = load_csv(path)
    if why is not None:
        return [], why
    rows: list[_Row] = []
    for n, (line, cells) in enumerate(raw):
        if n == 0 and is_header(cells[:4]):
            continue
        where = f"{origin}: row {line}"
        while cells and not cells[-1].strip():
            cells = cells[:-1]
        if len(cells) not in (4, 5):
            raise LabelImportError(f"{where}: {len(cells)} cells, expected x1, y1, x2, y2[, label]")
        values = np.array([cell(c, where, f) for c, f in zip(cells, ("x1", "y1", "x2", "y2"))])
        rows.append((where, values, cells[4].strip() if len(cells) == 5 else ""))
    if not rows:
        return [], "no endplate rows"
    return rows, None


def _which(tokens: list[str], seen: int, where: str, label: str) -> str:
    """"upper" or "lower": said by the label, else the vertebra's first row is its upper one."""
    if not tokens:
        if seen > 1:
            raise LabelImportError(f"{where}: a third row for {label!r} (two endplates per vertebra)")
        return ("upper", "lower")[seen]
    if len(tokens) == 1 and tokens[0] in _UPPER:
        return "upper"
    if len(tokens) == 1 and tokens[0] in _LOWER:
        return "lower"
    raise LabelImportError(f"{where}: cannot tell which endplate {shown(label)} is (upper or lower)")


def _unlabelled(rows: list[_Row], schema: Schema, origin: str) -> list[_Placed]:
    plates = _endplates(schema)
    if len(rows) != len(plates):
        raise LabelImportError(f"{origin}: {len(rows)} endplate rows without labels; {schema.name} has "
                               f"{len(plates)} endplates (add a label column naming the vertebra)")
    return [(v, which, values) for (v, which), (_, values, _) in zip(plates, rows)]


def _place(rows: list[_Row], schema: Schema, origin: str, partial: bool) -> list[_Placed]:
    """[(vertebra index, which endplate, x1 y1 x2 y2)] of the rows."""
    if not any(label for _, _, label in rows):
        return _unlabelled(rows, schema, origin)
    plates = set(_endplates(schema))
    names = {name.lower(): v for v, name in enumerate(schema.vertebrae)}
    elsewhere = {name.lower() for s in known_schemas(schema) if s.view == schema.view for name in s.vertebrae}
    seen: dict[int, int] = {}
    placed: dict[tuple[int, str], np.ndarray] = {}
    for where, values, label in rows:
        tokens = [t for t in re.split(r"[\s\-_:/,]+", label.lower()) if t]
        if not tokens:
            raise LabelImportError(f"{where}: no label, while other rows have one")
        v = names.get(tokens[0])
        if v is None:
            if tokens[0] in elsewhere:
                continue  # a vertebra this schema does not hold (T12 for a lumbar study)
            raise LabelImportError(f"{where}: {shown(label)} names no vertebra")
        which = _which(tokens[1:], seen.get(v, 0), where, label)
        seen[v] = seen.get(v, 0) + 1
        if (v, which) in placed:
            raise LabelImportError(f"{where}: the {which} endplate of {schema.vertebrae[v]} is given twice")
        if (v, which) in plates:  # else an endplate the schema lacks (S1's lower one)
            placed[(v, which)] = values
    if not placed:
        raise LabelImportError(f"{origin}: no row names a vertebra of {schema.name}")
    if len(placed) < len(plates) and not partial:
        raise LabelImportError(f"{origin}: the rows cover {len(placed)} of the {len(plates)} endplates of "
                               f"{schema.name}: a partial import must be asked for")
    return [(v, which, values) for (v, which), values in placed.items()]


def _record(path: Path, study: Study, partial: bool) -> LabelRecord:
    schema = study.schema
    keys = [path.stem]
    rows, error = _parse_rows(path)
    if error is not None:
        return LabelRecord(path.name, keys, error=error)
    placed = _place(rows, schema, path.name, partial)
    slot = schema.index_by_corner()
    covered: list[int] = []
    for v, which, _ in placed:
        first = 0 if which == "upper" else 2
        covered += [slot[(v, c)] for c in (first, first + 1) if (v, c) in slot]
    covered = sorted(set(covered))
    part = sub_schema(schema, [schema.keypoints[i] for i in covered])
    where = {i: n for n, i in enumerate(covered)}

    def resolve(info: ImageInfo) -> tuple[np.ndarray, np.ndarray]:
        # AP: left point = UL / LL. Lateral: left point = anterior when facing left.
        left_first = schema.view == "AP" or (info.facing or "left") == "left"
        xy = np.full((part.k, 2), np.nan)
        for v, which, values in placed:
            first = 0 if which == "upper" else 2
            pts = (values[:2], values[2:]) if left_first else (values[2:], values[:2])
            for c, p in zip((first, first + 1), pts):
                if (v, c) in slot:
                    xy[where[slot[(v, c)]]] = p
        return xy, np.isfinite(xy).all(axis=1)

    return LabelRecord(path.name, keys, schema=part, resolve=resolve)


def read_endplates(paths: Iterable[str | os.PathLike[str]], study: Study, *,
                   partial: bool = False) -> Iterator[LabelRecord]:
    """Records from per-image endplate CSV files (folders: every ``*.csv`` in them)."""
    for path in expand(paths, (".csv",)):
        yield _record(path, study, partial)
