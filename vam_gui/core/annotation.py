"""Annotations and review status: the reviewed keypoints of one image (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SOURCES = ("", "predicted", "moved", "placed", "imported")  # "" = never set
STATUSES = ("unreviewed", "in_progress", "accepted", "flagged")


@dataclass
class PointState:
    """One keypoint's complete editable state: what an edit changes and an undo restores."""

    x: float
    y: float
    visible: bool
    source: str

    def to_json(self) -> dict[str, Any]:
        # NaN (a point never placed) is not JSON: it is written as null.
        return {
            "x": None if not np.isfinite(self.x) else float(self.x),
            "y": None if not np.isfinite(self.y) else float(self.y),
            "visible": bool(self.visible),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> PointState:
        return cls(x=float("nan") if d["x"] is None else float(d["x"]),
                   y=float("nan") if d["y"] is None else float(d["y"]),
                   visible=bool(d["visible"]), source=str(d["source"]))

    def same_as(self, other: PointState) -> bool:
        def eq(a: float, b: float) -> bool:
            return (np.isnan(a) and np.isnan(b)) or a == b

        return eq(self.x, other.x) and eq(self.y, other.y) and self.visible == other.visible \
            and self.source == other.source


@dataclass
class Annotation:
    """K keypoints in original pixels. A point never placed has NaN coordinates."""

    xy: np.ndarray  # [K, 2] float64
    visible: np.ndarray  # [K] bool
    source: np.ndarray  # [K] str (object array), one of SOURCES

    @classmethod
    def empty(cls, k: int) -> Annotation:
        return cls(xy=np.full((k, 2), np.nan), visible=np.zeros(k, dtype=bool),
                   source=np.array([""] * k, dtype=object))

    @property
    def k(self) -> int:
        return int(self.xy.shape[0])

    def point(self, index: int) -> PointState:
        return PointState(float(self.xy[index, 0]), float(self.xy[index, 1]),
                          bool(self.visible[index]), str(self.source[index]))

    def copy(self) -> Annotation:
        return Annotation(self.xy.copy(), self.visible.copy(), self.source.copy())

    def equals(self, other: Annotation) -> bool:
        return (self.k == other.k
                and np.array_equal(self.xy, other.xy, equal_nan=True)
                and np.array_equal(self.visible, other.visible)
                and list(self.source) == list(other.source))

    def is_empty(self) -> bool:
        return not np.isfinite(self.xy).any()


@dataclass(frozen=True)
class ReviewState:
    status: str = "unreviewed"
    comment: str | None = None
    reviewer: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown review status {self.status!r}; one of {', '.join(STATUSES)}")
