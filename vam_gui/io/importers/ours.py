"""Our own JSON labels ("vam-gui-labels"): points, sources, visibility and review status come
back exactly as exported. Images are found by pseudonym (the same study), by content key
(the same image files in another study) or by file name (exports made with keep_names).

Every value is checked (strict.py): a point is x and y numbers, or x and y null for a point
never placed (then not visible); each keypoint of the file's schema is named once. An image
that names only some keypoints is refused unless ``partial`` (then only those are written).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.annotation import SOURCES, STATUSES, ReviewState
from vam_gui.core.schema import Schema, SchemaError
from vam_gui.io.export.labels import JSON_FORMAT, JSON_VERSION
from vam_gui.io.importers.common import IMPORTED, LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map, located, sub_schema
from vam_gui.io.importers.strict import choice, flag, items, load_json, number, shown, text, whole

if TYPE_CHECKING:
    from vam_gui.io.study import Study

FACINGS = (None, "left", "right")


def _point(kp: Any, where: str) -> tuple[str, float, float, bool, str]:
    """(name, x, y, visible, source) of one keypoint entry; x = y = NaN when never placed."""
    items(kp, where, "the entry", dict)
    name = text(kp.get("name"), where, "name")
    if name is None:
        raise LabelImportError(f"{where}: the keypoint has no name")
    where = f"{where} ({name!r})"
    raw = kp.get("x"), kp.get("y")
    visible = flag(kp.get("visible"), where, "visible")
    if raw == (None, None):
        if visible:
            raise LabelImportError(f"{where}: visible, but x and y are null")
        x = y = float("nan")
    else:
        x, y = number(raw[0], where, "x"), number(raw[1], where, "y")
    source = choice(kp.get("source", IMPORTED), where, "source", SOURCES)
    return name, x, y, visible, source or ""


def _keypoints(raw: Any, schema: Schema, where: str,
               partial: bool) -> tuple[Schema, np.ndarray, np.ndarray, list[str]]:
    """The image's points in ``schema`` (or, when ``partial``, in the part of it they name)."""
    xy = np.full((schema.k, 2), np.nan)
    visible = np.zeros(schema.k, dtype=bool)
    sources = [""] * schema.k
    named: set[int] = set()
    index = {name: i for i, name in enumerate(schema.keypoints)}
    for n, kp in enumerate(items(raw, where, "keypoints")):
        name, x, y, vis, src = _point(kp, f"{where}: keypoints[{n}]")
        i = index.get(name, -1)
        if i < 0:
            raise LabelImportError(f"{where}: keypoint {shown(name)} is not in the file's schema {schema.name}")
        if i in named:
            raise LabelImportError(f"{where}: keypoint {name!r} is given twice")
        named.add(i)
        xy[i], visible[i], sources[i] = (x, y), vis, src
    if len(named) == schema.k:
        return schema, xy, visible, sources
    if not partial:
        raise LabelImportError(f"{where}: names {len(named)} of the {schema.k} keypoints of {schema.name}: "
                               "a partial import must be asked for")
    keep = sorted(named)
    return (sub_schema(schema, [schema.keypoints[i] for i in keep]), xy[keep], visible[keep],
            [sources[i] for i in keep])


def _review(entry: dict[str, Any], where: str) -> ReviewState | None:
    status = choice(entry.get("status"), where, "status", (None, *STATUSES))
    comment = text(entry.get("comment"), where, "comment")
    reviewer = text(entry.get("reviewer"), where, "reviewer")
    return None if status is None else ReviewState(status, comment, reviewer)


def _image_record(entry: Any, n: int, schema: Schema, salt: str | None, origin: str,
                  partial: bool) -> LabelRecord:
    where = f"{origin}: images[{n}]"
    items(entry, where, "the entry", dict)
    pseudonym = text(entry.get("id"), where, "id")
    file = text(entry.get("file"), where, "file")
    key = text(entry.get("content_key"), where, "content_key")
    where = f"{origin}: images[{n}] ({file or pseudonym or 'no name'})"
    part, xy, visible, sources = _keypoints(entry.get("keypoints"), schema, where, partial)
    facing = choice(entry.get("facing"), where, "facing", FACINGS)
    return LabelRecord(f"{origin}: {file or pseudonym or '?'}", [file] if file else [], schema=part, xy=xy,
                       visible=visible, sources=sources, review=_review(entry, where), facing=facing,
                       pseudonym=pseudonym, content_key=(salt, key) if salt and key else None)


def _schema(doc: dict[str, Any], study: Study, origin: str) -> Schema:
    version = whole(doc.get("version"), origin, "version")
    if version > JSON_VERSION:
        raise LabelImportError(f"{origin}: label format version {version} is newer than this vam-gui")
    raw: Any = doc.get("schema")  # checked by Schema.from_dict, whatever it is
    try:
        schema = Schema.from_dict(raw, source=f"{origin} (schema)")
    except SchemaError as exc:
        raise LabelImportError(f"{origin}: no valid keypoint schema ({exc})") from None
    try:
        index_map(schema, study.schema)  # refuses AP <-> lateral before anything is written
    except LabelImportError as exc:
        raise located(exc, origin) from None
    return schema


def _read_file(path: Path, study: Study, partial: bool) -> Iterator[LabelRecord]:
    origin = path.name
    doc, why = load_json(path)
    if why is not None:
        yield LabelRecord(origin, [], error=why)
        return
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        yield LabelRecord(origin, [], error=f"not a {JSON_FORMAT} file")
        return
    schema = _schema(doc, study, origin)
    salt = text(doc.get("content_key_salt"), origin, "content_key_salt")
    for n, entry in enumerate(items(doc.get("images"), origin, "images")):
        yield _image_record(entry, n, schema, salt, origin, partial)


def read_ours(paths: Iterable[str | os.PathLike[str]], study: Study, *, partial: bool = False) -> Iterator[LabelRecord]:
    """Records from our JSON label files (folders: every ``*.json`` in them)."""
    for path in expand(paths, (".json",)):
        yield from _read_file(path, study, partial)
