"""Canvas items tuned for the paint that follows every image switch.

Qt's raster engine blits a scaled image through its fast path only from RGB32 or premultiplied
ARGB32 onto the window's RGB32 backing store, and only at full opacity; pyqtgraph renders a
grey image as Grayscale8 and a LUT'd one as Indexed8, which take the generic transformed-texture
path (a 256 px radiograph and a 64 px heatmap over a 720 px view: 2 and 3.5 ms a paint, against
0.5 and 0.4 ms once converted).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from pyqtgraph import functions_qimage
from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QStaticText,
    QTextDocument,
    QTransform,
    qRgba,
)
from PySide6.QtWidgets import QGraphicsItem

_FAST = (QImage.Format.Format_RGB32, QImage.Format.Format_ARGB32_Premultiplied)


class FastImageItem(pg.ImageItem):
    """An ``ImageItem`` whose rendered QImage is converted once per render (new data, levels or
    lookup table) into the format the raster engine blits fastest, instead of on every paint.

    A uint8 map shown through a 256-entry RGBA table at levels (0, 255) (the heatmap overlay)
    skips pyqtgraph's render: there each value indexes the table unchanged, and pyqtgraph
    rebuilds the same Indexed8 colour table in Python on every render; it is built once per
    table here. Its paint is clipped to the box of what shows (values the table does not make
    clear, with one clear pixel around them): the keypoints' maps cover a quarter of the
    letterbox, and blending the clear rest was a tenth of a switch's instructions. The image is
    drawn whole under the clip, so every pixel shown is sampled as before."""

    _table_of: np.ndarray | None = None
    _table: list[int] = []
    _drawn: QRectF | None = None  # the clip of the paint in item pixels; None: none
    _rendered: tuple[np.ndarray, tuple[float, float], QImage] | None = None  # ``set_rendered``

    def set_rendered(self, levels: tuple[float, float], qimage: QImage) -> None:
        """``qimage``: ``render_grey`` of the image just set at ``levels`` (made ahead, in the
        read-ahead's thread): the next render takes it if image and levels are still those."""
        self._rendered = (self.image, levels, qimage)

    def render(self) -> None:
        if self._take_rendered():
            return
        if not self._render_indexed():
            self._drawn = None
            super().render()
        image = self.qimage
        if image is not None and image.format() not in _FAST:
            self.qimage = image.convertToFormat(
                _FAST[1] if image.hasAlphaChannel() else _FAST[0])

    def _take_rendered(self) -> bool:
        rendered, self._rendered = self._rendered, None  # once: a level change renders anew
        if rendered is None:
            return False
        image, levels, qimage = rendered
        if not (image is self.image and self.lut is None and self.levels is not None and not self.autoDownsample
                and self.axisOrder == "row-major" and np.array_equal(np.asarray(self.levels, dtype=float), levels)):
            return False
        self.qimage, self._drawn = qimage, None
        self._processingBuffer = self._displayBuffer = None
        self._renderRequired = self._unrenderable = False
        return True

    def _render_indexed(self) -> bool:
        image, lut, levels = self.image, self.lut, self.levels
        if not (isinstance(image, np.ndarray) and image.ndim == 2 and image.dtype == np.uint8 and image.size
                and isinstance(lut, np.ndarray) and lut.shape == (256, 4) and lut.dtype == np.uint8
                and levels is not None and np.array_equal(np.asarray(levels, dtype=float), (0.0, 255.0))
                and self.axisOrder == "row-major" and not self.autoDownsample):
            return False
        if self._table_of is not lut:
            self._table_of, self._table = lut, [qRgba(*rgba) for rgba in lut.tolist()]
        data = np.ascontiguousarray(image)
        indexed = QImage(data.data, data.shape[1], data.shape[0], data.strides[0], QImage.Format.Format_Indexed8)
        indexed.setColorTable(self._table)
        self.qimage = indexed.convertToFormat(_FAST[1])  # a copy: ``data`` may go
        top, bottom, left, right = _shown_box(image, lut[:, 3] > 0)
        whole = (top, left, bottom, right) == (0, 0, *image.shape)
        self._drawn = None if whole else QRectF(left, top, right - left, bottom - top)
        self._processingBuffer = self._displayBuffer = None
        self._renderRequired = self._unrenderable = False
        return True

    def paint(self, painter: QPainter, *args) -> None:
        if self.image is None:
            return
        if self._renderRequired:
            self.render()
            if self._unrenderable:
                return
        if self._drawn is None:  # the whole image: as pyqtgraph draws it
            super().paint(painter, *args)
            return
        if self._drawn.isEmpty():
            return  # nothing shows
        painter.save()
        if self.paintMode is not None:
            painter.setCompositionMode(self.paintMode)
        # the whole image, as pyqtgraph draws it (the same pixels sampled), blended only where it shows
        painter.setClipRect(self._drawn, Qt.ClipOperation.IntersectClip)
        h, w = self.image.shape[:2]
        painter.drawImage(QRectF(0, 0, w, h), self.qimage)
        painter.restore()


def render_grey(pixels: np.ndarray, levels: tuple[float, float]) -> QImage | None:
    """The QImage ``FastImageItem`` draws for the grey ``pixels`` at ``levels`` (no lookup table,
    no downsampling): pyqtgraph's own conversion (``ImageItem.render``'s), then the fast format.
    QImage is reentrant: the read-ahead makes it in its thread, and a full-length film's 20 ms
    are not spent at the switch. None where pyqtgraph renders otherwise (NaNs)."""
    if pixels.ndim != 2 or not pixels.size or (pixels.dtype.kind == "f" and np.isnan(pixels.min())):
        return None
    qimage = functions_qimage.try_make_qimage(pixels, levels=levels, lut=None)
    if qimage is None:
        return None
    if qimage.format() in _FAST:
        return qimage.copy()  # its own pixels, not a view of an array
    return qimage.convertToFormat(_FAST[1] if qimage.hasAlphaChannel() else _FAST[0])


def _shown_box(image: np.ndarray, shows: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the values ``shows`` (by value) marks, widened by one
    clear pixel each way where there is one; an image that shows nothing gives an empty box."""
    shown = shows[image]
    rows, cols = np.flatnonzero(shown.any(axis=1)), np.flatnonzero(shown.any(axis=0))
    if not len(rows):
        return 0, 0, 0, 0
    h, w = image.shape
    return (max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, h),
            max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, w))


def with_opacity(lut: np.ndarray, opacity: float) -> np.ndarray:
    """An RGBA lookup table whose alpha is scaled by ``opacity``: the same picture as the item
    drawn at that opacity, without the raster engine's slow constant-alpha blend on every paint."""
    out = lut.copy()
    out[:, 3] = np.round(lut[:, 3].astype(float) * float(np.clip(opacity, 0.0, 1.0))).astype(np.ubyte)
    return out


class MarkerLabel(QGraphicsItem):
    """A marker's name beside it, unscaled. Its coordinates are screen pixels from the marker's
    centre (``ItemIgnoresTransformations``), so a zoom or pan costs it nothing; pyqtgraph's
    ``TargetLabel`` re-derives its transform in Python before every paint and on every move.

    Placed and drawn as the ``QGraphicsTextItem`` inside ``TargetLabel`` placed and drew it:
    its text box (the plain-text document's size, margin included) has its ``anchor`` point
    (fractions of its size) ``offset`` pixels from the centre, and the text line starts at the
    document margin, in the document's font. The line is drawn as a ``QStaticText`` (the same
    pixels as the document layout, half the time)."""

    _layout: QTextDocument | None = None  # one QTextDocument measures every label's box
    _sizes: dict[str, QSizeF] = {}

    def __init__(self, parent: QGraphicsItem, *, offset: tuple[float, float], anchor: tuple[float, float]) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self._offset, self._anchor = offset, anchor
        self._text: str | None = None
        self._static = QStaticText()
        self._statics: dict[str, QStaticText] = {}
        self._pen = QPen()
        self._font = QFont()
        self._origin = QPointF()
        self._rect = QRectF()

    def text(self) -> str:
        return self._text or ""

    @classmethod
    def _box(cls, text: str) -> tuple[QSizeF, QTextDocument]:
        """The text box of ``text`` (cached) and the document that measured it."""
        if cls._layout is None:
            cls._layout = QTextDocument()
        if text not in cls._sizes:
            cls._layout.setPlainText(text)
            cls._sizes[text] = cls._layout.size()
        return cls._sizes[text], cls._layout

    def set_text(self, text: str, colour: QColor) -> None:
        """Show ``text`` in ``colour``; nothing is laid out or repainted when neither changed."""
        if text == self._text and self._pen.color() == colour:
            return
        if text != self._text:
            self.prepareGeometryChange()
            self._text = text
            size, doc = self._box(text)
            self._font = doc.defaultFont()
            if text not in self._statics:  # a name toggles between a few texts (" ?", " ⚑"): laid out once each
                static = self._statics[text] = QStaticText(text)
                static.prepare(QTransform(), self._font)
            self._static = self._statics[text]
            (dx, dy), (ax, ay) = self._offset, self._anchor
            self._rect = QRectF(dx - ax * size.width(), dy - ay * size.height(), size.width(), size.height())
            margin = doc.documentMargin()
            self._origin = self._rect.topLeft() + QPointF(margin, margin)
        self._pen = QPen(colour)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        return self._rect

    def paint(self, painter: QPainter, *_args) -> None:
        painter.setFont(self._font)
        painter.setPen(self._pen)
        painter.drawStaticText(self._origin, self._static)


class OutlineItem(pg.GraphicsObject):
    """Line segments in one cosmetic pen, drawn as ``PlotDataItem(connect="pairs")`` drew them
    (one path of move-to/line-to pairs, antialiased as pyqtgraph's configuration says), without
    the data bookkeeping that item does on every ``setData`` (a vertebra's outline is set on
    every image switch and every drag step)."""

    def __init__(self, pen: QPen) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, False)
        self._pen = pen
        self._antialias = bool(pg.getConfigOption("antialias"))
        self._path = QPainterPath()
        self._xs: list[float] = []
        self._ys: list[float] = []
        self._bounds: QRectF | None = None
        self._pixel: tuple[float, float] | None = None  # one screen pixel in view units, per zoom

    def set_segments(self, xs: list[float], ys: list[float]) -> None:
        """Segments (xs[0], ys[0])-(xs[1], ys[1]), (xs[2], ys[2])-(xs[3], ys[3]), ..."""
        self.prepareGeometryChange()
        self._xs, self._ys = xs, ys
        path = QPainterPath()
        for n in range(0, len(xs) - 1, 2):
            path.moveTo(xs[n], ys[n])
            path.lineTo(xs[n + 1], ys[n + 1])
        self._path = path
        self._bounds = None
        self.update()

    def segments(self) -> tuple[list[float], list[float]]:
        return self._xs, self._ys

    def dataBounds(self, ax: int, frac: float = 1.0, orthoRange=None) -> tuple[float | None, float | None]:  # noqa: N802, N803
        values = self._xs if ax == 0 else self._ys
        return (min(values), max(values)) if values else (None, None)

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph naming
        # the pen's width is in screen pixels: the padding in view units changes with the zoom
        self.prepareGeometryChange()
        self._bounds = self._pixel = None

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        if self._bounds is None:
            if not self._xs:
                self._bounds = QRectF()
            else:
                if self._pixel is None:
                    size = self.pixelSize()  # (0, 0) before the item is in a view: not kept
                    self._pixel = (size[0], size[1]) if size[0] and size[1] else None
                px, py = self._pixel or (0.0, 0.0)
                pad = self._pen.widthF() + 2.0
                self._bounds = QRectF(QPointF(min(self._xs), min(self._ys)), QPointF(max(self._xs), max(self._ys))
                                      ).adjusted(-pad * px, -pad * py, pad * px, pad * py)
        return self._bounds

    def paint(self, painter: QPainter, *_args) -> None:
        if self._xs:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, self._antialias)
            painter.setPen(self._pen)
            painter.drawPath(self._path)
