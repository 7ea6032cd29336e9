"""Our own JSON labels ("vam-gui-labels"): points, sources, visibility and review status come
back exactly as exported. Images are found by pseudonym (the same study), by content key
(the same image files in another study) or by file name (exports made with keep_names).

The file is read by vam_gui.io.labels_file, which checks every value (strict.py): a point is
x and y numbers, or x and y null for a point never placed (then not visible); each keypoint
of the file's schema is named once. An image that names only some keypoints is refused
unless ``partial`` (then only those are written).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vam_gui.core.annotation import ReviewState
from vam_gui.core.schema import Schema
from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map, located, sub_schema
from vam_gui.io.labels_file import LabelEntry, NotLabelsFileError, read_labels_file

if TYPE_CHECKING:
    from vam_gui.io.study import Study

def _record(entry: LabelEntry, schema: Schema, salt: str | None, origin: str) -> LabelRecord:
    """The importer's record of one entry; when the entry names only some keypoints (a
    partial import), in the part of ``schema`` it names."""
    named = entry.named if entry.named is not None else np.ones(schema.k, dtype=bool)
    part, xy, visible, sources = schema, entry.xy, entry.visible, entry.sources
    if not named.all():
        keep = np.flatnonzero(named).tolist()
        part = sub_schema(schema, [schema.keypoints[i] for i in keep])
        xy, visible, sources = xy[keep], visible[keep], [sources[i] for i in keep]
    review = None if entry.status is None else ReviewState(entry.status, entry.comment, entry.reviewer)
    key = entry.content_key
    return LabelRecord(f"{origin}: {entry.file or entry.id or '?'}", [entry.file] if entry.file else [],
                       schema=part, xy=xy, visible=visible, sources=sources, review=review, facing=entry.facing,
                       pseudonym=entry.id, content_key=(salt, key) if salt and key else None)


def _read_file(path: Path, study: Study, partial: bool) -> Iterator[LabelRecord]:
    origin = path.name
    try:
        labels = read_labels_file(path, partial=partial)
    except NotLabelsFileError as exc:
        yield LabelRecord(origin, [], error=exc.reason)
        return
    try:
        index_map(labels.schema, study.schema)  # refuses AP <-> lateral before anything is written
    except LabelImportError as exc:
        raise located(exc, origin) from None
    for entry in labels.entries:
        yield _record(entry, labels.schema, labels.content_key_salt, origin)


def read_ours(paths: Iterable[str | os.PathLike[str]], study: Study, *, partial: bool = False) -> Iterator[LabelRecord]:
    """Records from our JSON label files (folders: every ``*.json`` in them)."""
    for path in expand(paths, (".json",)):
        yield from _read_file(path, study, partial)
