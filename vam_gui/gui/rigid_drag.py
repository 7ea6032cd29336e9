"""Move or turn a whole vertebra, or the whole column, with a modifier drag on the canvas.

Left-drag starting inside a vertebra's outline with
- Shift: move its four corners;
- Ctrl: turn them about their centre (the angle the cursor sweeps about it; counter-clockwise
  as displayed is positive, as in ``MoveVertebra``);
the same with Alt added (Shift+Alt, Ctrl+Alt), starting anywhere on the image, for every point
of the column (``MoveColumn``). While the mouse moves only the markers and outlines follow
(``KeypointLayer.preview``: no store write); the release pushes one command; Esc or the right
button during the drag puts everything back. Nothing starts on a layer that is not editable.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import Qt

from vam_gui.core.schema import Schema
from vam_gui.core.template import move_points

_SHIFT, _CTRL, _ALT = (Qt.KeyboardModifier.ShiftModifier, Qt.KeyboardModifier.ControlModifier,
                       Qt.KeyboardModifier.AltModifier)
# modifiers -> (what, how)
GESTURES = {
    _SHIFT: ("vertebra", "move"),
    _CTRL: ("vertebra", "turn"),
    _SHIFT | _ALT: ("column", "move"),
    _CTRL | _ALT: ("column", "turn"),
}
MIN_DRAG_PX = 3  # a modifier click that hardly moved is not an edit


def _inside(polygon: np.ndarray, x: float, y: float) -> bool:
    """Whether (x, y) is inside ``polygon`` [N, 2] (even-odd rule)."""
    inside = False
    n = len(polygon)
    for k in range(n):
        (x0, y0), (x1, y1) = polygon[k], polygon[(k + 1) % n]
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def vertebra_at(xy: np.ndarray, schema: Schema, x: float, y: float) -> int | None:
    """The vertebra whose outline (its placed corners: UL, UR, LR, LL) contains (x, y); where
    outlines overlap, the one whose centre is nearest; None outside them all."""
    where = schema.index_by_corner()
    best, best_d = None, math.inf
    for v in range(len(schema.vertebrae)):
        ring = [xy[where[(v, c)]] for c in (0, 1, 3, 2) if (v, c) in where]
        ring = np.array([p for p in ring if np.isfinite(p).all()])
        if len(ring) < 3 or not _inside(ring, x, y):
            continue
        d = float(np.hypot(*(ring.mean(axis=0) - (x, y))))
        if d < best_d:
            best, best_d = v, d
    return best


def turn_angle(centre: np.ndarray, start: tuple[float, float], now: tuple[float, float]) -> float:
    """Degrees swept about ``centre`` from ``start`` to ``now``, counter-clockwise as displayed
    (image y points down), in (-180, 180]; 0 when either is on the centre."""
    a = (start[0] - centre[0], start[1] - centre[1])
    b = (now[0] - centre[0], now[1] - centre[1])
    if math.hypot(*a) < 1e-9 or math.hypot(*b) < 1e-9:
        return 0.0
    deg = math.degrees(math.atan2(-b[1], b[0]) - math.atan2(-a[1], a[0]))
    return deg - 360.0 if deg > 180.0 else (deg + 360.0 if deg <= -180.0 else deg)


class RigidDrag:
    """One modifier drag at a time on ``canvas``; ``push(command) -> bool`` does the edit,
    ``image_id()`` names the shown image (None: nothing shown)."""

    def __init__(self, canvas, push: Callable[[object], bool], image_id: Callable[[], str | None]) -> None:
        self.canvas = canvas
        self.push = push
        self.image_id = image_id
        self.active = False
        self.level: int | None = None  # None: the column
        self.how = "move"
        self._indices: list[int] = []
        self._origin = np.empty((0, 2))
        self._start = (0.0, 0.0)
        self._now = (0.0, 0.0)

    def _positions(self) -> np.ndarray:
        layer = self.canvas.layer
        return np.array([layer.position(i) or (np.nan, np.nan) for i in range(layer.schema.k)], dtype=np.float64)

    def start(self, modifiers, xy: tuple[float, float]) -> bool:
        mods = modifiers & (_SHIFT | _CTRL | _ALT)
        gesture = GESTURES.get(Qt.KeyboardModifier(mods))
        layer = self.canvas.layer
        if gesture is None or not layer.editable or self.image_id() is None:
            return False
        what, self.how = gesture
        pos = self._positions()
        placed = np.isfinite(pos).all(axis=1)
        if what == "vertebra":
            self.level = vertebra_at(pos, layer.schema, *xy)
            if self.level is None:
                return False  # not on a vertebra: the drag pans as usual
            placed &= np.asarray(layer.schema.vertebra) == self.level
        else:
            self.level = None
        self._indices = [int(i) for i in np.flatnonzero(placed)]
        if not self._indices:
            return False
        self._origin = pos[self._indices]
        self._start = self._now = (float(xy[0]), float(xy[1]))
        self.active = True
        return True

    def motion(self) -> tuple[float, float, float]:
        """(dx, dy, angle_deg) of the drag so far."""
        if self.how == "turn":
            return 0.0, 0.0, turn_angle(self._origin.mean(axis=0), self._start, self._now)
        return self._now[0] - self._start[0], self._now[1] - self._start[1], 0.0

    def move(self, xy: tuple[float, float]) -> None:
        if not self.active:
            return
        self._now = (float(xy[0]), float(xy[1]))
        self.canvas.layer.preview(self._indices, move_points(self._origin, *self.motion()))

    def finish(self, xy: tuple[float, float], moved_px: float) -> None:
        from vam_gui.core.commands import MoveColumn, MoveVertebra

        if not self.active:
            return
        self.move(xy)
        self.active = False
        dx, dy, angle = self.motion()
        image_id = self.image_id()
        if moved_px >= MIN_DRAG_PX and image_id is not None and (dx or dy or angle):
            command = (MoveColumn(image_id, dx, dy, angle) if self.level is None
                       else MoveVertebra(image_id, self.level, dx, dy, angle))
            self.push(command)
        self.canvas.layer.end_preview(self._indices)  # where the store now has them (or had)

    def cancel(self) -> None:
        if self.active:
            self.active = False
            self.canvas.layer.end_preview(self._indices)
