"""The correction report of a study: how far the reviewers moved the network's points.

Everything is counted from the *final* state (annotation vs prediction), never by replaying
drags: a point dragged five times counts once, and a move that was undone (or dragged back onto
the prediction) does not count at all. The edit log only contributes who edited, how often,
and — for plain coordinate arrays — each point's final source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vam_gui.core.annotation import Annotation
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing

# Below this distance (px) an annotated point is "where the network put it": float round trips
# through the store must not count as corrections.
MOVE_TOLERANCE_PX = 1e-3
CORRECTED_SOURCES = ("moved", "placed")  # the sources that mark a reviewer's correction

CSV_HEADER = ("section", "id", "name", "n_compared", "n_moved", "mean_px", "max_px",
              "n_mm", "mean_mm", "max_mm", "review_seconds", "edits", "undos", "users")


@dataclass
class KeypointStats:
    index: int
    name: str
    n_compared: int  # images where both the prediction and the final annotation have the point
    n_moved: int
    mean_px: float | None  # over the compared images (unmoved points count as 0)
    max_px: float | None
    n_mm: int  # compared images with a usable spacing
    mean_mm: float | None
    max_mm: float | None


@dataclass
class ImageStats:
    image_id: str
    spacing: tuple[float, float] | None
    n_compared: int
    n_moved: int
    moved_points: list[int]
    mean_px: float | None
    max_px: float | None
    mean_mm: float | None
    max_mm: float | None
    review_seconds: float | None  # None when the image was never shown
    edits: int  # edit-log entries for the image (each drag, undo, redo, status change)
    undos: int
    users: list[str]


@dataclass
class CorrectionReport:
    schema: str
    reviewer: str | None  # who the report is for / made by
    reviewers: list[str]  # every user seen in the edit log
    points_moved: int
    points_compared: int
    total_review_seconds: float
    keypoints: list[KeypointStats] = field(default_factory=list)
    images: list[ImageStats] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = _clean(asdict(self))
        return out

    def to_csv_rows(self) -> list[list[Any]]:
        """A header, a study summary row, then one row per keypoint and per image (the first
        column says which); empty cells for values that do not apply or are unknown."""
        rows: list[list[Any]] = [list(CSV_HEADER)]
        rows.append(["study", self.schema, self.reviewer or "", self.points_compared, self.points_moved,
                     "", "", "", "", "", self.total_review_seconds,
                     sum(i.edits for i in self.images), sum(i.undos for i in self.images),
                     ";".join(self.reviewers)])
        for k in self.keypoints:
            rows.append(["keypoint", k.index, k.name, k.n_compared, k.n_moved, k.mean_px, k.max_px,
                         k.n_mm, k.mean_mm, k.max_mm, "", "", "", ""])
        for i in self.images:
            rows.append(["image", i.image_id, "", i.n_compared, i.n_moved, i.mean_px, i.max_px,
                         i.n_compared if i.spacing else 0, i.mean_mm, i.max_mm, i.review_seconds,
                         i.edits, i.undos, ";".join(i.users)])
        return [["" if v is None else v for v in _clean(row)] for row in rows]


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _attr(entry: Any, name: str) -> Any:
    # Entries are EditLogEntry objects; plain dicts (e.g. read back from JSON) work too.
    return entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)


def _final_sources(entries: Iterable[Any], k: int) -> dict[str, list[str | None]]:
    """Each point's source after the last logged edit that touched it (the log is in order)."""
    out: dict[str, list[str | None]] = {}
    for e in entries:
        point, after = _attr(e, "point"), _attr(e, "after")
        if point is None or not isinstance(after, Mapping) or "source" not in after:
            continue
        out.setdefault(str(_attr(e, "image_id")), [None] * k)[int(point)] = str(after["source"])
    return out


def _stats(values: list[float]) -> tuple[float | None, float | None]:
    return (float(np.mean(values)), float(np.max(values))) if values else (None, None)


def correction_report(schema: Schema, edit_log_entries: Iterable[Any],
                      predictions: Mapping[str, np.ndarray],
                      annotations: Mapping[str, np.ndarray | Annotation],
                      spacings: Mapping[str, tuple[float, float] | None] | None = None,
                      review_seconds: Mapping[str, float] | None = None,
                      reviewer: str | None = None) -> CorrectionReport:
    """Compare each image's final annotation with its prediction.

    ``annotations`` values are [K, 2] arrays (original px, NaN = unset) or :class:`Annotation`
    objects (then their visibility and sources are used). A point counts as *moved* when its
    final position differs from the prediction by more than MOVE_TOLERANCE_PX (or the prediction
    has no such point) and its final source is "moved" or "placed"; for plain arrays the source
    comes from the last edit-log entry touching the point, and a point the log never touched
    counts by position alone. Displacements are in px, and in mm over images with a spacing.
    """
    entries = list(edit_log_entries)
    spacings = spacings or {}
    review_seconds = review_seconds or {}
    k = schema.k
    logged_sources = _final_sources(entries, k)
    image_ids = list(annotations) + [i for i in predictions if i not in annotations]
    per_kp_px: list[list[float]] = [[] for _ in range(k)]
    per_kp_mm: list[list[float]] = [[] for _ in range(k)]
    per_kp_moved = [0] * k
    notes = ["displacement = final annotation - prediction, counted from the final state: undone "
             "moves do not count; means include unmoved points (0)"]
    images: list[ImageStats] = []

    for image_id in image_ids:
        pred = predictions.get(image_id)
        sp = valid_spacing(spacings.get(image_id))
        ann_xy, visible, sources = _final_points(annotations.get(image_id), k,
                                                 logged_sources.get(image_id, [None] * k))
        pred_xy = None if pred is None else np.asarray(pred, dtype=np.float64).reshape(k, 2)
        moved, measured = _displacements(ann_xy, visible, sources, pred_xy, sp, k) if ann_xy is not None else ([], [])
        for i in moved:
            per_kp_moved[i] += 1
        for i, dist, mm in measured:
            per_kp_px[i].append(dist)
            if mm is not None:
                per_kp_mm[i].append(mm)
        images.append(_image_stats(image_id, sp, moved, measured, entries, review_seconds.get(image_id)))

    keypoints = []
    for i in range(k):
        mean_px, max_px = _stats(per_kp_px[i])
        mean_mm, max_mm = _stats(per_kp_mm[i])
        keypoints.append(KeypointStats(i, schema.keypoints[i], len(per_kp_px[i]), per_kp_moved[i],
                                       mean_px, max_px, len(per_kp_mm[i]), mean_mm, max_mm))
    if not any(img.spacing for img in images):
        notes.append("no image has a pixel spacing: no mm figures")
    return CorrectionReport(
        schema=schema.name, reviewer=reviewer,
        reviewers=sorted({str(_attr(e, "user")) for e in entries if _attr(e, "user")}),
        points_moved=sum(img.n_moved for img in images),
        points_compared=sum(img.n_compared for img in images),
        total_review_seconds=float(sum(img.review_seconds or 0.0 for img in images)),
        keypoints=keypoints, images=images, notes=notes)


def _final_points(ann: np.ndarray | Annotation | None, k: int, logged: list[str | None]
                  ) -> tuple[np.ndarray | None, np.ndarray, list[str | None]]:
    """(xy [K, 2] or None, visible [K], source per point) of an image's final annotation: an
    Annotation's own visibility and sources, or for a plain array all visible with the sources
    the edit log last gave (``logged``)."""
    if isinstance(ann, Annotation):
        return ann.xy, np.asarray(ann.visible, bool), [str(s) for s in ann.source]
    ann_xy = None if ann is None else np.asarray(ann, dtype=np.float64).reshape(k, 2)
    return ann_xy, np.ones(k, bool), logged


def _displacements(ann_xy: np.ndarray, visible: np.ndarray, sources: list[str | None],
                   pred_xy: np.ndarray | None, sp: tuple[float, float] | None, k: int
                   ) -> tuple[list[int], list[tuple[int, float, float | None]]]:
    """(moved point indices, (index, px, mm or None) of every point with both a final position
    and a prediction), in keypoint order."""
    moved: list[int] = []
    measured: list[tuple[int, float, float | None]] = []
    for i in range(k):
        if not (visible[i] and np.isfinite(ann_xy[i]).all()):
            continue
        has_pred = pred_xy is not None and np.isfinite(pred_xy[i]).all()
        d = ann_xy[i] - pred_xy[i] if pred_xy is not None and has_pred else None
        dist = float(np.hypot(*d)) if d is not None else None
        differs = dist is None or dist > MOVE_TOLERANCE_PX
        if differs and (sources[i] is None or sources[i] in CORRECTED_SOURCES):
            moved.append(i)
        if d is None or dist is None:
            continue  # placed where the network had nothing: no displacement to measure
        mm = float(math.hypot(d[0] * sp[1], d[1] * sp[0])) if sp is not None else None
        measured.append((i, dist, mm))
    return moved, measured


def _image_stats(image_id: str, sp: tuple[float, float] | None, moved: list[int],
                 measured: list[tuple[int, float, float | None]], entries: list[Any],
                 seconds: float | None) -> ImageStats:
    """One image's row: its displacements, review time and edit-log activity."""
    px_vals = [dist for _, dist, _ in measured]
    mm_vals = [mm for _, _, mm in measured if mm is not None]
    img_entries = [e for e in entries if str(_attr(e, "image_id")) == image_id]
    mean_px, max_px = _stats(px_vals)
    mean_mm, max_mm = _stats(mm_vals) if sp is not None else (None, None)
    return ImageStats(
        image_id=image_id, spacing=sp, n_compared=len(px_vals), n_moved=len(moved),
        moved_points=moved, mean_px=mean_px, max_px=max_px, mean_mm=mean_mm, max_mm=max_mm,
        review_seconds=None if seconds is None else float(seconds), edits=len(img_entries),
        undos=sum(1 for e in img_entries if str(_attr(e, "kind") or "").startswith("undo")),
        users=sorted({str(_attr(e, "user")) for e in img_entries if _attr(e, "user")}))
