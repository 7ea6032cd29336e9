"""What the few-gesture commands read from a study: the mean shape of its accepted
annotations (for ``FitTemplate``) and which points are the reviewer's own (for ``PredictHere``)."""

from __future__ import annotations

import numpy as np

from vam_gui.core.template import canonical_shape, default_shape
from vam_gui.io.study import Study

# Gestures that place or move the whole column at once: the points they leave are guides for
# a re-prediction, not corrections of single points, so "Predict here" replaces them.
COLUMN_GESTURES = ("fit template", "move column")


def study_mean_shape(study: Study) -> np.ndarray | None:
    """[K, 2] the mean of the study's accepted annotations, each aligned (rotation, scale,
    translation; lateral films mirrored to one facing) so that its middle of the first upper
    endplate and of the last lower endplate coincide (``core.template.canonical_shape``), then
    averaged point by point over the visible points; a keypoint no accepted annotation shows
    comes from the schema's default shape. None when no accepted annotation has both endplates."""
    schema = study.schema
    shapes = []
    for image_id in study.image_ids():
        if study.status(image_id).status != "accepted":
            continue
        ann = study.annotation(image_id)
        xy = np.where(ann.visible[:, None], ann.xy, np.nan)
        canonical = canonical_shape(xy, schema)
        if canonical is not None:
            shapes.append(canonical)
    if not shapes:
        return None
    stack: np.ndarray = np.stack(shapes)
    seen = np.isfinite(stack).all(axis=2)  # [N, K]
    total = np.where(seen[..., None], stack, 0.0).sum(axis=0)
    count = seen.sum(axis=0)
    fallback = canonical_shape(default_shape(schema), schema)
    assert fallback is not None  # the default shape has both endplates by construction
    mean: np.ndarray = np.where(count[:, None] > 0, total / np.maximum(count, 1)[:, None], fallback)
    return mean


def reviewer_points(study: Study, image_id: str, reader: str | None = None) -> np.ndarray:
    """[K] bool: the points the reviewer placed or moved one vertebra or one point at a time
    (source "placed" or "moved"), which "Predict here" keeps exactly. Points whose state was
    last written by a whole-column gesture (``COLUMN_GESTURES``: a fitted template, a moved
    column) are guides, not corrections, and are not among them. Read from the edit log:
    each point's writes are replayed as a stack (a do or redo pushes, an undo pops), so an
    undone template or column move gives back whatever was there before it. ``reader``: the
    points of that reader's reading (their logged edits, blind and revised), else the consensus's."""
    schema = study.schema
    stacks: list[list[bool]] = [[] for _ in range(schema.k)]
    for entry in study.edit_log(image_id):
        if entry.point is None or not 0 <= entry.point < schema.k:
            continue
        if (entry.reading is not None) != (reader is not None) or (reader is not None and entry.user != reader):
            continue  # another layer's edit: the consensus's, or another reader's
        if entry.kind.startswith("undo "):
            if stacks[entry.point]:
                stacks[entry.point].pop()
            continue
        kind = entry.kind.removeprefix("redo ")
        stacks[entry.point].append(kind in COLUMN_GESTURES)
    ann = study.annotation(image_id, reader=reader)
    own = np.isin(np.asarray(ann.source, dtype=object), ("placed", "moved")) & np.isfinite(ann.xy).all(axis=1)
    by_column = np.array([bool(s) and s[-1] for s in stacks], dtype=bool)
    keep: np.ndarray = own & ~by_column
    return keep
