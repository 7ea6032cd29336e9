"""Our own JSON labels ("vam-gui-labels"): points, sources, visibility and review status come
back exactly as exported. Images are found by pseudonym (the same study), by content key
(the same image files in another study) or by file name (exports made with keep_names)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.annotation import SOURCES, STATUSES, ReviewState
from vam_gui.core.schema import Schema, SchemaError
from vam_gui.io.export.labels import JSON_FORMAT, JSON_VERSION
from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map

if TYPE_CHECKING:
    from vam_gui.io.study import Study


def _num(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _image_record(entry: dict[str, Any], schema: Schema, salt: str | None, origin: str) -> LabelRecord:
    name = str(entry.get("file") or entry.get("id") or "?")
    where = f"{origin}: {name}"
    keys = [str(entry["file"])] if entry.get("file") else []
    xy = np.full((schema.k, 2), np.nan)
    visible = np.zeros(schema.k, dtype=bool)
    sources = [""] * schema.k
    try:
        for kp in entry["keypoints"]:
            i = schema.index(kp["name"])
            xy[i] = (_num(kp.get("x")), _num(kp.get("y")))
            visible[i] = bool(kp.get("visible"))
            src = kp.get("source", "imported")
            sources[i] = src if src in SOURCES else "imported"
    except (KeyError, TypeError, ValueError, SchemaError) as exc:
        return LabelRecord(where, keys, error=f"bad keypoint entry ({exc})")
    review = None
    if entry.get("status") in STATUSES:
        review = ReviewState(entry["status"], entry.get("comment"), entry.get("reviewer"))
    key = entry.get("content_key")
    return LabelRecord(where, keys, schema=schema, xy=xy, visible=visible, sources=sources, review=review,
                       facing=entry.get("facing"), pseudonym=entry.get("id"),
                       content_key=(salt, str(key)) if salt and key else None)


def read_ours(paths: Iterable[str | os.PathLike[str]], study: Study) -> Iterator[LabelRecord]:
    """Records from our JSON label files (folders: every ``*.json`` in them)."""
    for path in expand(paths, (".json",)):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            yield LabelRecord(path.name, [], error=f"not a readable JSON file ({type(exc).__name__})")
            continue
        if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
            yield LabelRecord(path.name, [], error=f"not a {JSON_FORMAT} file")
            continue
        if int(doc.get("version", 0)) > JSON_VERSION:
            raise LabelImportError(f"{path.name}: label format version {doc['version']} is newer than this vam-gui")
        try:
            schema = Schema.from_dict(doc["schema"], source=f"{path.name} (schema)")
        except (KeyError, SchemaError) as exc:
            raise LabelImportError(f"{path.name}: no valid keypoint schema ({exc})") from None
        index_map(schema, study.schema)  # refuses AP <-> lateral before anything is written
        salt = doc.get("content_key_salt")
        for entry in doc.get("images") or []:
            if isinstance(entry, dict):
                yield _image_record(entry, schema, salt, path.name)
