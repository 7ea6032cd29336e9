"""Click modes of the canvas (``canvas_input.CanvasInput`` routes the clicks and keys here):

- **Fit template**: two clicks, the middle of the first vertebra's upper endplate and of the
  last one's lower endplate (``core.template.anchor_names``), push one ``FitTemplate`` with the
  study's mean shape (``io.template.study_mean_shape``; None: the schema's default).
- **Place points in order**: each click places the next keypoint of the schema (one
  ``MovePoint``: source "placed" on a point with no position); S skips it and marks it missing
  (``SetVisible`` False); Backspace steps back (undoes the last placement); the mode ends
  after the last keypoint.
- **Predict in region**: drag a rectangle; "Predict here" runs in it.

Esc leaves any of them. The prompt is in the status bar and beside the cursor.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QGraphicsRectItem

PROMPT_PEN = pg.mkPen("#ffe066", width=2, cosmetic=True)


def click_prompt(anchor: str) -> str:
    """"L1 upper endplate" -> "Click the middle of L1's upper endplate"."""
    level, _, rest = anchor.partition(" ")
    return f"Click the middle of {level}'s {rest}"


class ClickMode:
    """Base: what the canvas asks for while the mode is on. ``gestures`` is the owner
    (``gui.gestures.Gestures``): the session, the push, the status bar, leaving."""

    name = "mode"

    def __init__(self, gestures) -> None:
        self.gestures = gestures
        self.image_id = gestures.session.current_id

    @property
    def view(self):
        return self.gestures.canvas.view

    def status(self) -> str:
        return f"{self.cursor_text()} — Esc: stop"

    def cursor_text(self) -> str:
        return ""

    def hover(self, xy: tuple[float, float]) -> None:
        pass

    def click(self, xy: tuple[float, float]) -> None:
        pass

    def dragging(self, start: tuple[float, float], xy: tuple[float, float]) -> None:
        pass

    def dragged(self, start: tuple[float, float], xy: tuple[float, float]) -> None:
        self.click(xy)  # a click that slipped a little

    def key(self, key: Qt.Key) -> bool:
        if key == Qt.Key.Key_Escape:
            self.gestures.leave_mode(f"Stopped: {self.name}")
            return True
        return False

    def leave(self) -> None:
        """Remove what the mode drew."""


class TemplateMode(ClickMode):
    name = "fit template"

    def __init__(self, gestures) -> None:
        from vam_gui.core.template import anchor_names

        super().__init__(gestures)
        self.anchors = anchor_names(gestures.session.study.schema)
        self.top: tuple[float, float] | None = None
        self.mark = pg.ScatterPlotItem(size=14, symbol="+", pen=PROMPT_PEN, brush=None)
        self.line = pg.PlotDataItem(pen=pg.mkPen("#ffe066", width=1.5, style=Qt.PenStyle.DashLine, cosmetic=True))
        for item in (self.mark, self.line):
            item.setZValue(35)
            self.view.addItem(item, ignoreBounds=True)

    def cursor_text(self) -> str:
        return click_prompt(self.anchors[0 if self.top is None else 1])

    def click(self, xy: tuple[float, float]) -> None:
        if self.top is None:
            self.top = xy
            self.mark.setData([xy[0] + 0.5], [xy[1] + 0.5])
            self.gestures.prompt_changed()
            return
        from vam_gui.core.commands import FitTemplate
        from vam_gui.io.template import study_mean_shape

        try:
            command = FitTemplate(self.image_id, self.top, xy, shape=study_mean_shape(self.gestures.session.study))
        except ValueError as exc:  # the two clicks coincide
            self.gestures.say(str(exc))
            return
        if self.gestures.push(command):
            self.gestures.leave_mode("Template fitted: Ctrl+Z takes it back")

    def hover(self, xy: tuple[float, float]) -> None:
        """The line from the first click to the cursor (image px)."""
        if self.top is not None:
            self.line.setData([self.top[0] + 0.5, xy[0] + 0.5], [self.top[1] + 0.5, xy[1] + 0.5])

    def leave(self) -> None:
        for item in (self.mark, self.line):
            self.view.removeItem(item)


class PlaceInOrderMode(ClickMode):
    name = "place points in order"

    def __init__(self, gestures) -> None:
        super().__init__(gestures)
        self.schema = gestures.session.study.schema
        self.index = 0
        self.pushed: list[tuple[int, object]] = []  # (keypoint index, the command) of this mode

    def cursor_text(self) -> str:
        return f"{self.schema.keypoints[self.index]}  ({self.index + 1}/{self.schema.k})"

    def status(self) -> str:
        return (f"Click {self.schema.keypoints[self.index]} ({self.index + 1} of {self.schema.k}) — "
                "S: skip (missing), Backspace: back, Esc: stop")

    def click(self, xy: tuple[float, float]) -> None:
        from vam_gui.core.commands import MovePoint

        self._do(MovePoint(self.image_id, self.index, xy))

    def _do(self, command) -> None:
        if not self.gestures.push(command):
            return
        self.pushed.append((self.index, command))
        if self.index + 1 >= self.schema.k:
            self.gestures.leave_mode(f"All {self.schema.k} points placed")
            return
        self.index += 1
        self.gestures.prompt_changed()

    def key(self, key: Qt.Key) -> bool:
        from vam_gui.core.commands import SetVisible

        if key == Qt.Key.Key_S:
            self._do(SetVisible(self.image_id, self.index, False))
            return True
        if key == Qt.Key.Key_Backspace:
            self.back()
            return True
        return super().key(key)

    def back(self) -> None:
        """One keypoint back, undoing its placement (when it is still the last edit)."""
        if not self.pushed:
            return
        index, command = self.pushed.pop()
        stack = self.gestures.session.stack
        if stack is not None and stack.can_undo and stack.peek_undo() is command:
            self.gestures.session.undo()
        self.index = index
        self.gestures.prompt_changed()


class RegionMode(ClickMode):
    name = "predict in region"

    def __init__(self, gestures) -> None:
        super().__init__(gestures)
        self.rect = QGraphicsRectItem()
        self.rect.setPen(pg.mkPen("#ffe066", width=2, style=Qt.PenStyle.DashLine, cosmetic=True))
        self.rect.setZValue(35)
        self.rect.setVisible(False)
        self.view.addItem(self.rect, ignoreBounds=True)

    def cursor_text(self) -> str:
        return "Drag a rectangle around the vertebrae to predict"

    def click(self, xy) -> None:
        self.gestures.say("Drag a rectangle: press, move, release")

    def dragging(self, start, xy) -> None:
        x0, y0 = min(start[0], xy[0]) + 0.5, min(start[1], xy[1]) + 0.5
        self.rect.setRect(QRectF(x0, y0, abs(xy[0] - start[0]), abs(xy[1] - start[1])))
        self.rect.setVisible(True)

    def dragged(self, start, xy) -> None:
        region = (min(start[0], xy[0]), min(start[1], xy[1]), max(start[0], xy[0]), max(start[1], xy[1]))
        self.dragging(start, xy)
        if not np.isfinite(region).all():
            return
        self.gestures.leave_mode(None)
        self.gestures.predict_here(region)

    def leave(self) -> None:
        self.view.removeItem(self.rect)
