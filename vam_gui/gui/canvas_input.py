"""The canvas's input for the few-gesture tools, ahead of pyqtgraph's own routing: an event
filter on the canvas (keys) and its viewport (mouse). A click mode (fit a template, place points
in order, predict in a region) or a modifier drag (move or turn a vertebra or the column) gets
the first look at each event and keeps those it uses; everything else goes on to pyqtgraph
(the wheel zooms, a right-drag sets window/level, a middle-drag pans, in a mode too).

Positions are mapped with the viewport's own transform, in floating point, so a click lands
on the image pixel it was aimed at however far the view is zoomed out.
"""

from __future__ import annotations

from typing import Protocol

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt

CLICK_SLOP_PX = 6  # a press and release this close (screen px) are a click, not a drag


class Mode(Protocol):
    def cursor_text(self) -> str: ...
    def hover(self, xy: tuple[float, float]) -> None: ...
    def click(self, xy: tuple[float, float]) -> None: ...
    def dragging(self, start: tuple[float, float], xy: tuple[float, float]) -> None: ...
    def dragged(self, start: tuple[float, float], xy: tuple[float, float]) -> None: ...
    def key(self, key: Qt.Key) -> bool: ...


class Drag(Protocol):
    active: bool

    def start(self, modifiers, xy: tuple[float, float]) -> bool: ...
    def move(self, xy: tuple[float, float]) -> None: ...
    def finish(self, xy: tuple[float, float], moved_px: float) -> None: ...
    def cancel(self) -> None: ...


class CanvasInput(QObject):
    def __init__(self, canvas, drag: Drag) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.drag = drag
        self.mode: Mode | None = None
        self._press: QPointF | None = None  # where a mode's left press went down (screen px)
        self._right_down = False  # the right button that cancelled a drag: its release is ours too
        self.cursor_text = pg.TextItem("", color="#ffe066", fill=pg.mkBrush(0, 0, 0, 170), anchor=(-0.08, 1.15))
        self.cursor_text.setZValue(40)
        self.cursor_text.setVisible(False)
        canvas.view.addItem(self.cursor_text, ignoreBounds=True)
        self._viewport = canvas.viewport()  # compared by identity: the filter sees the canvas's teardown too
        self._viewport.installEventFilter(self)
        canvas.installEventFilter(self)

    # ------------------------------------------------------------------ coordinates
    def to_view(self, pos: QPointF) -> QPointF:
        scene = self.canvas.viewportTransform().inverted()[0].map(QPointF(pos))
        return self.canvas.view.mapSceneToView(scene)

    def to_image(self, pos: QPointF) -> tuple[float, float]:
        """Original-image px of a viewport position (items sit at x + 0.5: keypoints.py)."""
        v = self.to_view(pos)
        return v.x() - 0.5, v.y() - 0.5

    # ------------------------------------------------------------------ modes
    def set_mode(self, mode: Mode | None) -> None:
        self.mode = mode
        self._press = None
        if mode is None:
            self.cursor_text.setVisible(False)
            return
        self.canvas.setFocus()  # Esc, Backspace and S reach the mode
        where = self.canvas.viewport().mapFromGlobal(self.canvas.cursor().pos())
        inside = self.canvas.viewport().rect().contains(where)
        self.update_cursor_text(QPointF(where) if inside else None)

    def update_cursor_text(self, pos: QPointF | None = None) -> None:
        """The mode's prompt beside the cursor (``pos``: viewport px; None: where it was)."""
        if self.mode is None:
            return
        self.cursor_text.setText(self.mode.cursor_text())
        if pos is not None:
            # Right of the cursor, or left of it in the right part of the canvas (never cut off).
            right_side = pos.x() > 0.6 * self._viewport.width()
            self.cursor_text.setAnchor((1.08, 1.15) if right_side else (-0.08, 1.15))
            self.cursor_text.setPos(self.to_view(pos))
            self.cursor_text.setVisible(True)

    # ------------------------------------------------------------------ events
    def eventFilter(self, obj, ev) -> bool:  # noqa: N802 - Qt naming
        t = ev.type()
        if obj is self._viewport:
            if t in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease,
                     QEvent.Type.MouseButtonDblClick):
                return self._mouse(t, ev)
            if t == QEvent.Type.Leave:
                self.cursor_text.setVisible(False)
        elif obj is self.canvas and t == QEvent.Type.KeyPress:
            return self._key(Qt.Key(ev.key()))
        return False

    def _mouse(self, t, ev) -> bool:
        pos = ev.position()
        if t == QEvent.Type.MouseMove and self.mode is not None:
            self.update_cursor_text(pos)
            self.mode.hover(self.to_image(pos))
        if self.drag.active or self._right_down:
            return self._during_drag(t, ev)
        left = ev.button() == Qt.MouseButton.LeftButton
        if self.mode is None:
            if t == QEvent.Type.MouseButtonPress and left and self.drag.start(ev.modifiers(), self.to_image(pos)):
                self._press = QPointF(pos)
                return True
            return False
        return self._in_mode(t, ev, pos, left)

    def _during_drag(self, t, ev) -> bool:
        pos = ev.position()
        if ev.button() == Qt.MouseButton.RightButton:
            # Right button during the drag: everything goes back; its release is eaten too.
            if t == QEvent.Type.MouseButtonPress and self.drag.active:
                self.drag.cancel()
                self._right_down = True
            elif t == QEvent.Type.MouseButtonRelease:
                self._right_down = False
            return True
        if not self.drag.active:
            return True  # the left button of a cancelled drag, still down
        if t == QEvent.Type.MouseMove:
            self.drag.move(self.to_image(pos))
        elif t == QEvent.Type.MouseButtonRelease and ev.button() == Qt.MouseButton.LeftButton:
            d = pos - self._press if self._press is not None else QPointF()
            self._press = None
            self.drag.finish(self.to_image(pos), (d.x() ** 2 + d.y() ** 2) ** 0.5)
        return True

    def _in_mode(self, t, ev, pos: QPointF, left: bool) -> bool:
        mode = self.mode
        if t == QEvent.Type.MouseButtonDblClick:
            return left
        if t == QEvent.Type.MouseButtonPress:
            if left:
                self._press = QPointF(pos)
            return left
        if self._press is None:
            return False  # hover, or the right / middle button: pyqtgraph's
        start = self.to_image(self._press)
        if t == QEvent.Type.MouseMove:
            mode.dragging(start, self.to_image(pos))
            return True
        if t == QEvent.Type.MouseButtonRelease and left:
            d = pos - self._press
            self._press = None
            if (d.x() ** 2 + d.y() ** 2) ** 0.5 <= CLICK_SLOP_PX:
                mode.click(self.to_image(pos))
            else:
                mode.dragged(start, self.to_image(pos))
            return True
        return False

    def _key(self, key: Qt.Key) -> bool:
        if self.drag.active:
            if key == Qt.Key.Key_Escape:
                self.drag.cancel()
                self._press = None
                return True
            return False
        return self.mode is not None and self.mode.key(key)
