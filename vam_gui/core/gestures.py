"""The few-gesture commands: fit a template, move or turn a vertebra or the column, write a
guided re-prediction. Each is one command (one undo step, one logged edit group), written
like those of :mod:`vam_gui.core.commands`, which re-exports them.

Sources written: FitTemplate "placed"; MoveVertebra and MoveColumn "moved"; PredictHere
(ReplacePoints) "predicted" for every point it replaces, the kept points untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vam_gui.core.annotation import PointState
from vam_gui.core.commands import Command, _Edit
from vam_gui.core.store import StudyStore
from vam_gui.core.template import default_shape, fit_shape, move_points


def _xy(value: Iterable[float], what: str) -> tuple[float, float]:
    x, y = (float(v) for v in value)
    if not (np.isfinite(x) and np.isfinite(y)):
        raise ValueError(f"{what} must be finite, got ({x}, {y})")
    return x, y


class FitTemplate(Command):
    """Place every point of the schema from a mean shape, scaled and turned so that the middle
    of the first vertebra's upper endplate lands on ``top_xy`` and the middle of the last
    vertebra's lower endplate on ``bottom_xy`` (original px). ``shape`` ([K, 2], any frame):
    the study's mean shape (``vam_gui.io.template.study_mean_shape``); None: the schema's
    default shape. Lateral schemas put the anterior side where the image's facing says (when
    it is known). Every point becomes visible, source "placed"."""

    kind = "fit template"

    def __init__(self, image_id: str, top_xy: Iterable[float], bottom_xy: Iterable[float],
                 shape: np.ndarray | None = None) -> None:
        super().__init__(image_id)
        self.top_xy = _xy(top_xy, "the template's top point")
        self.bottom_xy = _xy(bottom_xy, "the template's bottom point")
        if self.top_xy == self.bottom_xy:
            raise ValueError("the template's two points coincide: click the top and the bottom of the column")
        self.shape = None if shape is None else np.array(shape, dtype=np.float64)  # a copy: commands hold values

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        schema = study.schema
        shape = default_shape(schema) if self.shape is None else self.shape
        if shape.shape != (schema.k, 2) or not np.isfinite(shape).all():
            raise ValueError(f"a template shape for {schema.name!r} must be {schema.k} finite points, "
                             f"got shape {shape.shape}")
        facing = study.image_info(self.image_id).facing if schema.view == "LAT" else None
        xy = fit_shape(shape, schema, self.top_xy, self.bottom_xy, facing=facing)
        points = {i: PointState(float(x), float(y), True, "placed") for i, (x, y) in enumerate(xy)}
        return points, self._started(study, user)


class _RigidMove(Command):
    """Turn some points about their centroid by ``angle_deg`` (counter-clockwise as displayed),
    then shift them by (dx, dy); points with no position stay so; visibility is kept; the
    moved points' source becomes "moved"."""

    def __init__(self, image_id: str, dx: float, dy: float, angle_deg: float = 0.0) -> None:
        super().__init__(image_id)
        self.dx, self.dy = _xy((dx, dy), "a move")
        self.angle_deg = float(angle_deg)
        if not np.isfinite(self.angle_deg):
            raise ValueError(f"a turn must be finite, got {angle_deg}")

    def _indices(self, study: StudyStore) -> list[int]:
        raise NotImplementedError

    def _what(self) -> str:
        raise NotImplementedError

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        ann = study.annotation(self.image_id)
        idx = [i for i in self._indices(study) if np.isfinite(ann.xy[i]).all()]
        if not idx:
            raise ValueError(f"{self._what()} has no placed points to move")
        new = move_points(ann.xy[idx], self.dx, self.dy, self.angle_deg)
        points = {i: PointState(float(x), float(y), bool(ann.visible[i]), "moved") for i, (x, y) in zip(idx, new)}
        return points, self._started(study, user)

    def _motion(self) -> str:
        parts = []
        if self.dx or self.dy:
            parts.append("move")
        if self.angle_deg:
            parts.append(f"turn {self.angle_deg:g}°")
        return " and ".join(parts) or "move"


class MoveVertebra(_RigidMove):
    """Move the four corners of vertebra ``level`` (the schema's vertebra index, 0 = the
    first) by (dx, dy) px and turn them by ``angle_deg`` about their centre."""

    kind = "move vertebra"

    def __init__(self, image_id: str, level: int, dx: float, dy: float, angle_deg: float = 0.0) -> None:
        super().__init__(image_id, dx, dy, angle_deg)
        self.level = int(level)
        self._name = f"vertebra {self.level}"

    def _indices(self, study: StudyStore) -> list[int]:
        schema = study.schema
        if not 0 <= self.level < len(schema.vertebrae):
            raise ValueError(f"no vertebra {self.level} in schema {schema.name!r} "
                             f"(0..{len(schema.vertebrae) - 1})")
        self._name = schema.vertebrae[self.level]
        return [i for i, v in enumerate(schema.vertebra) if v == self.level]

    def _what(self) -> str:
        return self._name

    @property
    def label(self) -> str:
        return f"{self._motion()} {self._name}"


class MoveColumn(_RigidMove):
    """Move every placed point of the image by (dx, dy) px and turn them all by ``angle_deg``
    about their centroid."""

    kind = "move column"

    def _indices(self, study: StudyStore) -> list[int]:
        return list(range(study.schema.k))

    def _what(self) -> str:
        return "the column"

    @property
    def label(self) -> str:
        return f"{self._motion()} the column"


class ReplacePoints(Command):
    """Write ``xy`` ([K, 2], original px) for every keypoint whose ``keep`` is False (and whose
    new position is finite): visible, source "predicted". Kept points are not written, so
    they stay exactly as they were."""

    kind = "replace points"

    def __init__(self, image_id: str, xy: np.ndarray, keep: np.ndarray | Iterable[bool]) -> None:
        super().__init__(image_id)
        self.xy = np.array(xy, dtype=np.float64)
        self.keep = np.array(keep, dtype=bool)
        if self.xy.ndim != 2 or self.xy.shape[1] != 2 or self.keep.shape != (self.xy.shape[0],):
            raise ValueError(f"expected xy [K, 2] and keep [K], got {self.xy.shape} and {self.keep.shape}")

    @property
    def label(self) -> str:
        return f"{self.kind} ({int((~self.keep & np.isfinite(self.xy).all(axis=1)).sum())} points)"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        if self.xy.shape[0] != study.schema.k:
            raise ValueError(f"{self.kind}: {self.xy.shape[0]} points for a schema of {study.schema.k}")
        write = ~self.keep & np.isfinite(self.xy).all(axis=1)
        points = {int(i): PointState(float(self.xy[i, 0]), float(self.xy[i, 1]), True, "predicted")
                  for i in np.flatnonzero(write)}
        return points, self._started(study, user)


class PredictHere(ReplacePoints):
    """"Predict here": a guided re-prediction's points (``vam_gui.model.guided.predict_here``)
    replace every point not in ``keep`` (the reviewer's own, which stay exactly)."""

    kind = "predict here"


class SetPoints(Command):
    """Write the given points as they are (adjudication: a reader's points, or their mean, taken
    into the consensus), one undo step whatever their number; ``label`` says what was taken."""

    kind = "set points"

    def __init__(self, image_id: str, points: dict[int, PointState], label: str) -> None:
        super().__init__(image_id)
        if not points:
            raise ValueError("no points to set")
        # Copies: commands hold values.
        self.points = {int(i): PointState(float(p.x), float(p.y), bool(p.visible), str(p.source))
                       for i, p in points.items()}
        self._label = label

    @property
    def label(self) -> str:
        return self._label

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        k = study.schema.k
        bad = [i for i in self.points if not 0 <= i < k]
        if bad:
            raise ValueError(f"{self._label}: no point {bad[0]} in a schema of {k}")
        return dict(self.points), self._started(study, user)


_UNSET = PointState(float("nan"), float("nan"), False, "")


def taken_points(xy: np.ndarray, visible: np.ndarray, indices: Iterable[int] | None = None,
                 source: str = "moved") -> dict[int, PointState]:
    """One annotation's points (``indices``: only those) as the consensus takes them: source
    ``source`` where the point has a position, unset where it has none."""
    xy, visible = np.asarray(xy, dtype=np.float64), np.asarray(visible, dtype=bool)
    out: dict[int, PointState] = {}
    for i in range(len(xy)) if indices is None else indices:
        x, y = xy[i]
        out[int(i)] = (PointState(float(x), float(y), bool(visible[i]), source)
                       if np.isfinite(x) and np.isfinite(y) else _UNSET)
    return out


def mean_points(xys: list[np.ndarray], visibles: list[np.ndarray], source: str = "moved") -> dict[int, PointState]:
    """The mean of several readers' points, per keypoint: over the readers who saw it (visible),
    else over those who placed it and marked it missing (kept missing); unset where none placed it."""
    if not xys:
        raise ValueError("no readings to average")
    xy = np.stack([np.asarray(a, dtype=np.float64) for a in xys])  # [R, K, 2]
    vis = np.stack([np.asarray(v, dtype=bool) for v in visibles])  # [R, K]
    placed = np.asarray(np.isfinite(xy).all(axis=2))  # [R, K]
    out: dict[int, PointState] = {}
    for i in range(xy.shape[1]):
        seen = placed[:, i] & vis[:, i]
        use = seen if seen.any() else placed[:, i]
        if not use.any():
            out[i] = _UNSET
            continue
        x, y = xy[use, i].mean(axis=0)
        out[i] = PointState(float(x), float(y), bool(seen.any()), source)
    return out
