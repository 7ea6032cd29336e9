"""Keypoints on the canvas: one draggable marker per keypoint, vertebra outlines, labels.

The items live in image-item coordinates, where pixel (i, j) covers [j, j+1) x [i, i+1), so a
point at original (x, y) is drawn at (x + 0.5, y + 0.5) (design.md §2). A drag moves only
the marker (and its vertebra's outline); one ``point_moved`` signal is emitted on release.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
from pyqtgraph import Point
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject

from vam_gui.core.annotation import Annotation
from vam_gui.core.schema import Schema
from vam_gui.gui.paint_items import MarkerLabel, OutlineItem

# One colour per vertebra (repeats after ten levels); chosen to read on a grey radiograph.
PALETTE = ["#4cc9f0", "#f72585", "#b5e48c", "#ffb703", "#c77dff",
           "#06d6a0", "#fb8500", "#8ecae6", "#ff006e", "#e9ff70"]
MISSING = QColor(150, 150, 150)
FLAGGED = QColor("#ff9500")
WHITE = QColor(255, 255, 255)
_NO_BRUSH = pg.mkBrush(None)
_PENS: dict[tuple[int, float], QPen] = {}
_BRUSHES: dict[int, QBrush] = {}


def _pen(colour: QColor, width: float) -> QPen:
    """One shared pen per colour and width (conventions 11: reuse pens and brushes)."""
    key = (colour.rgba(), width)
    if key not in _PENS:
        _PENS[key] = pg.mkPen(colour, width=width)
    return _PENS[key]


def _brush(colour: QColor) -> QBrush:
    if colour.rgba() not in _BRUSHES:
        _BRUSHES[colour.rgba()] = pg.mkBrush(colour)
    return _BRUSHES[colour.rgba()]


def vertebra_colour(index: int) -> QColor:
    return QColor(PALETTE[index % len(PALETTE)])


def label_placement(corner: int) -> dict:
    """Where a corner's name goes: outward (left corners to the left, right corners to the
    right, clear of the marker and its heatmap blob) and inward vertically (an upper corner's
    name just below it, a lower corner's just above), so the names of the lower corners of one
    vertebra and the upper corners of the next never meet in the disc between them."""
    left, upper = corner in (0, 2), corner in (0, 1)
    return {"offset": (-9 if left else 9, 2 if upper else -2), "anchor": (1 if left else 0, 0 if upper else 1)}


class KeypointItem(pg.TargetItem):
    """A marker that reports press, drag and release to its layer; right button or Escape
    during a drag puts it back. Its name is a :class:`MarkerLabel` child.

    Moving it is a plain ``QGraphicsItem.setPos``: no ``sigPositionChanged`` and no geometry
    notifications (``ItemSendsGeometryChanges`` and ``ItemSendsScenePositionChanges`` are
    off), which pyqtgraph otherwise turns into several Python calls per marker per move; its
    bounding rect is its symbol's shape, which no position change alters."""

    def __init__(self, layer: KeypointLayer, index: int, *, name_offset: tuple[float, float],
                 name_anchor: tuple[float, float], **kwargs) -> None:
        self._bounds_of: QPainterPath | None = None  # the shape whose bounds are _bounds
        self._bounds = QRectF()
        super().__init__(**kwargs)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, False)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsScenePositionChanges, False)
        self.layer = layer
        self.index = index
        self._origin: QPointF | None = None
        self.name_label = MarkerLabel(self, offset=name_offset, anchor=name_anchor)
        self.style_key: tuple | None = None  # the state the marker was last styled for

    def label(self) -> MarkerLabel:  # the marker's name (TargetItem's own label is not used)
        return self.name_label

    def boundingRect(self):  # noqa: N802 - Qt naming
        """The symbol shape's bounds, measured once per shape (the scene asks several times for
        each marker moved at a switch; TargetItem measured the path again each time). pyqtgraph
        drops the shape when the zoom or the symbol changes: then it is measured anew."""
        shape = self._shape
        if shape is None or shape is not self._bounds_of:
            shape = self.shape()
            self._bounds_of, self._bounds = shape, shape.boundingRect()
        return self._bounds

    def setPos(self, *args) -> None:  # noqa: N802 - Qt naming
        pos = Point(*args)
        if self._pos != pos:
            self._pos = pos
            QGraphicsObject.setPos(self, pos)

    def mouseDragEvent(self, ev) -> None:  # noqa: N802 - Qt naming
        if not self.movable or ev.button() != Qt.MouseButton.LeftButton:
            return
        ev.accept()
        if ev.isStart():
            self._origin = QPointF(self.pos())
            self.symbolOffset = self.pos() - self.mapToView(ev.buttonDownPos())
            self.moving = True
            self.layer.select(self.index)
        if not self.moving:
            return
        self.setPos(self.symbolOffset + self.mapToView(ev.pos()))
        self.layer._dragging(self)
        if ev.isFinish():
            self.moving = False
            self.layer._released(self)

    def mouseClickEvent(self, ev) -> None:  # noqa: N802
        if self.moving and ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            self.cancel_drag()
        elif ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.layer.select(self.index)

    def cancel_drag(self) -> None:
        if self.moving and self._origin is not None:
            self.moving = False
            self.setPos(self._origin)
            self.layer._dragging(self)


class KeypointLayer(QObject):
    """The schema's K markers plus outlines on one view box."""

    point_moved = Signal(int, float, float)  # index, x, y in original pixels (on release)
    point_selected = Signal(int)

    def __init__(self, view: pg.ViewBox, schema: Schema) -> None:
        super().__init__()
        self.view = view
        self.schema = schema
        self.selected: int | None = None
        self.labels_visible = True
        self.threshold = 0.3
        self.flagged: set[int] = set()  # points an anatomical check complained about
        self._annotation: Annotation | None = None
        self._pending: set[int] | None = None  # markers to restyle when a batch ends
        self._confidence: np.ndarray | None = None
        self._outlines: list[OutlineItem] = []
        self._edges_by_vertebra: list[list[tuple[int, int]]] = [[] for _ in schema.vertebrae]
        for a, b in schema.edges:
            self._edges_by_vertebra[schema.vertebra[a]].append((a, b))
        for v in range(len(schema.vertebrae)):
            item = OutlineItem(pg.mkPen(vertebra_colour(v), width=1.5))
            item.setZValue(15)
            view.addItem(item)
            self._outlines.append(item)
        self.items: list[KeypointItem] = []
        self.editable = True
        for i in range(len(schema.keypoints)):
            place = label_placement(schema.corner[i])
            item = KeypointItem(self, i, pos=(0, 0), size=11, symbol="o",
                                name_offset=place["offset"], name_anchor=place["anchor"])
            item.setZValue(20)
            item.setVisible(False)
            view.addItem(item)
            self.items.append(item)
        self._derive()

    # ------------------------------------------------------------------ state
    def set_data(self, annotation: Annotation | None, confidence: np.ndarray | None = None) -> None:
        """Show an annotation (original pixels); ``confidence`` flags predicted points that
        fall below ``threshold``."""
        self._annotation = annotation.copy() if annotation is not None else None
        self._confidence = None if confidence is None else np.asarray(confidence, dtype=float)
        self._derive()
        for i in range(len(self.items)):
            self._place(i)
        self._redraw_outlines(placed=True)

    def _derive(self) -> None:
        """Per point, as Python values (numpy scalars cost microseconds each, twenty points at
        every switch): position, whether it is finite, shown (not marked missing), predicted,
        and low-confidence."""
        ann, conf, k = self._annotation, self._confidence, len(self.items)
        if ann is None:
            self._xy, self._finite = [(np.nan, np.nan)] * k, [False] * k
            self._shown_flags, self._predicted, self._low = [True] * k, [False] * k, [False] * k
            return
        self._xy = ann.xy.tolist()
        self._finite = np.isfinite(ann.xy).all(axis=1).tolist()
        self._shown_flags = [bool(v) for v in ann.visible.tolist()]
        self._predicted = [s == "predicted" for s in ann.source]
        low = [False] * k if conf is None else (conf < self.threshold).tolist()
        self._low = [p and bool(lo) for p, lo in zip(self._predicted, low)]

    def update_points(self, annotation: Annotation, indices) -> None:
        """Only keypoints ``indices`` of the shown annotation changed (an edit): restyle and
        place those markers and redraw their vertebrae's outlines, nothing else."""
        if self._annotation is None:
            self.set_data(annotation, self._confidence)
            return
        for i in indices:
            self._annotation.xy[i] = annotation.xy[i]
            self._annotation.visible[i] = annotation.visible[i]
            self._annotation.source[i] = annotation.source[i]
        self._derive()
        for i in indices:
            self._place(i)
        for v in sorted({self.schema.vertebra[i] for i in indices}):
            self._redraw_outlines(v)

    def _place(self, i: int) -> None:
        item = self.items[i]
        self._restyle(i)
        if not self._finite[i]:
            item.setVisible(False)
            return
        x, y = self._xy[i]
        item.setPos(x + 0.5, y + 0.5)
        item.setVisible(True)

    def position(self, index: int) -> tuple[float, float] | None:
        item = self.items[index]
        if not item.isVisible():
            return None
        p = item.pos()
        return p.x() - 0.5, p.y() - 0.5

    def is_low_confidence(self, index: int) -> bool:
        return self._low[index]

    def set_threshold(self, threshold: float) -> None:
        self.threshold = float(threshold)
        self._derive()
        for i in range(len(self.items)):
            self._restyle(i)

    def set_flagged(self, indices) -> None:
        changed = self.flagged.symmetric_difference(indices)
        self.flagged = set(indices)
        for i in changed:
            self._restyle(i)

    def set_editable(self, editable: bool) -> None:
        """Whether markers can be dragged (not on a study this window cannot write)."""
        self.editable = editable
        for item in self.items:
            item.movable = editable

    def set_labels_visible(self, visible: bool) -> None:
        self.labels_visible = visible
        for i in range(len(self.items)):
            self._restyle(i)

    def select(self, index: int | None) -> None:
        if index == self.selected:
            return
        previous, self.selected = self.selected, index
        for i in (previous, index):
            if i is not None:
                self._restyle(i)
        if index is not None:
            self.point_selected.emit(index)

    # ------------------------------------------------------------------ drawing
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Restyle each marker at most once for what happens inside (an edit moves a point and
        changes which points the checks flag: one restyle, not two)."""
        if self._pending is not None:
            yield
            return
        self._pending = set()
        try:
            yield
        finally:
            pending, self._pending = self._pending, None
            for i in sorted(pending):
                self._style(i)

    def _restyle(self, i: int) -> None:
        if self._pending is not None:
            self._pending.add(i)
        else:
            self._style(i)

    def _style(self, i: int) -> None:
        item = self.items[i]
        visible, predicted, low = self._shown_flags[i], self._predicted[i], self._low[i]
        key = (visible, predicted, low, i == self.selected, i in self.flagged, self.labels_visible)
        if key == item.style_key:
            return  # drawn like this already: no pens made, no label laid out, no repaint
        item.style_key = key
        colour = vertebra_colour(self.schema.vertebra[i])
        width = 3 if i == self.selected else 1.5
        if not visible:
            # A point marked missing keeps its last position, drawn as a grey cross.
            pen, brush, symbol = _pen(MISSING, width), _NO_BRUSH, "x"
        elif predicted:
            # Predictions: hollow rings in the vertebra's colour; an unsure one is a hollow
            # diamond (its shape says it, the colour still says which vertebra); corrected
            # points: filled squares.
            pen, brush, symbol = _pen(colour, width + (1 if low else 0)), _NO_BRUSH, ("d" if low else "o")
        else:
            pen, brush, symbol = _pen(WHITE, width), _brush(colour), "s"
        item.pen = item.currentPen = pen
        item.hoverPen = _pen(WHITE, width + 1)
        item.brush = item.currentBrush = brush
        item.hoverBrush = _brush(colour)
        item.setSymbol(symbol)
        flagged = i in self.flagged
        name = self.schema.keypoints[i] + (" ?" if low else "") + (" ⚑" if flagged else "")
        item.name_label.set_text(name, FLAGGED if flagged else (MISSING if not visible else colour))
        item.name_label.setVisible(self.labels_visible)
        item.update()

    def _redraw_outlines(self, only_vertebra: int | None = None, *, placed: bool = False) -> None:
        """Outline the vertebrae through their markers as they are drawn (mid-drag too);
        ``placed``: every marker was just placed where the annotation says (read from it)."""
        vertebrae = range(len(self._outlines)) if only_vertebra is None else [only_vertebra]
        at = self._placed_at if placed else self.position
        for v in vertebrae:
            xs, ys = [], []
            for a, b in self._edges_by_vertebra[v]:
                pa, pb = at(a), at(b)
                if pa is None or pb is None or not (self._shown(a) and self._shown(b)):
                    continue  # no outline through a point marked missing
                xs += [pa[0] + 0.5, pb[0] + 0.5]
                ys += [pa[1] + 0.5, pb[1] + 0.5]
            self._outlines[v].set_segments(xs, ys)

    def _placed_at(self, i: int) -> tuple[float, float] | None:
        """``position`` of a marker just placed (``_place``), from the annotation's values."""
        return self._xy[i] if self._finite[i] else None

    def _shown(self, i: int) -> bool:
        return self._shown_flags[i]

    def _dragging(self, item: KeypointItem) -> None:
        # Per mouse move: redraw one vertebra's outline (a few segments), nothing else.
        self._redraw_outlines(self.schema.vertebra[item.index])

    def _released(self, item: KeypointItem) -> None:
        x, y = self.position(item.index)
        self.point_moved.emit(item.index, x, y)

    def preview(self, indices, xy) -> None:
        """Draw markers ``indices`` at ``xy`` (original px) and their vertebrae's outlines, the
        shown annotation untouched (a whole-vertebra drag in progress); ``end_preview`` or the
        edit's repaint puts them where the annotation says."""
        for i, (x, y) in zip(indices, xy):
            self.items[i].setPos(float(x) + 0.5, float(y) + 0.5)
        for v in sorted({self.schema.vertebra[i] for i in indices}):
            self._redraw_outlines(v)

    def end_preview(self, indices) -> None:
        for i in indices:
            self._place(i)
        for v in sorted({self.schema.vertebra[i] for i in indices}):
            self._redraw_outlines(v)

    def cancel_drags(self) -> None:
        for item in self.items:
            item.cancel_drag()

    def clear(self) -> None:
        self.set_data(None)
