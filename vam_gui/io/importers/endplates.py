"""Per-endplate CSV: one file per image (matched by file stem), rows ``x1,y1,x2,y2[,label]``
listed top to bottom, two rows per vertebra (upper endplate, then lower), each row the
left point then the right point as displayed.

Without labels the rows must cover every endplate of the study's schema in order. A label
naming a vertebra ("L3", "L3 upper", "L3-inf") places its row there instead, so a file may
cover part of the schema; rows of vertebrae the schema lacks are ignored. Lateral schemas:
the anterior corner is on the side the patient faces (the image's facing; left when unknown,
the usual way lateral views are displayed).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import sub_schema

if TYPE_CHECKING:
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, Study

_UPPER = ("upper", "sup", "superior", "top", "cranial")
_LOWER = ("lower", "inf", "inferior", "bottom", "caudal")


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


def _parse_rows(path: Path) -> tuple[list[tuple[np.ndarray, str]], str | None]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            raw = [row for row in csv.reader(f) if row and any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        return [], f"cannot read the CSV ({type(exc).__name__})"
    rows = []
    for n, row in enumerate(raw, 1):
        try:
            values = np.array([float(c) for c in row[:4]], dtype=np.float64)
        except ValueError:
            if n == 1:
                continue  # a header
            return [], f"row {n}: x1, y1, x2, y2 must be numbers"
        if values.size != 4:
            return [], f"row {n}: expected x1, y1, x2, y2[, label]"
        rows.append((values, row[4].strip() if len(row) > 4 else ""))
    if not rows:
        return [], "no endplate rows"
    return rows, None


def _place(rows: list[tuple[np.ndarray, str]], schema: Schema) -> tuple[list[tuple[int, str, np.ndarray]], str | None]:
    """[(vertebra index, which endplate, x1 y1 x2 y2)] or an error."""
    plates = _endplates(schema)
    if not any(label for _, label in rows):
        if len(rows) != len(plates):
            return [], (f"{len(rows)} endplate rows without labels; {schema.name} has {len(plates)} "
                        "endplates (add a label column naming the vertebra)")
        return [(v, which, values) for (v, which), (values, _) in zip(plates, rows)], None
    names = {name.lower(): v for v, name in enumerate(schema.vertebrae)}
    seen: dict[int, int] = {}
    placed = []
    for values, label in rows:
        tokens = [t for t in re.split(r"[\s\-_:/,]+", label.lower()) if t]
        if not tokens:
            return [], "some rows are labelled and some are not"
        v = names.get(tokens[0])
        if v is None:
            continue  # a vertebra this schema does not hold
        if any(t in _UPPER for t in tokens[1:]):
            which = "upper"
        elif any(t in _LOWER for t in tokens[1:]):
            which = "lower"
        else:
            which = ("upper", "lower")[min(seen.get(v, 0), 1)]
        seen[v] = seen.get(v, 0) + 1
        if (v, which) in plates:
            placed.append((v, which, values))
    if not placed:
        return [], f"no row names a vertebra of {schema.name}"
    return placed, None


def _record(path: Path, study: Study) -> LabelRecord:
    schema = study.schema
    keys = [path.stem]
    rows, error = _parse_rows(path)
    if error is None:
        placed, error = _place(rows, schema)
    if error is not None:
        return LabelRecord(path.name, keys, error=error)
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


def read_endplates(paths: Iterable[str | os.PathLike[str]], study: Study) -> Iterator[LabelRecord]:
    """Records from per-image endplate CSV files (folders: every ``*.csv`` in them)."""
    for path in expand(paths, (".csv",)):
        yield _record(path, study)
