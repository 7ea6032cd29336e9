"""Marks on the canvas that are not the edited layer and cannot be dragged: the model's
prediction beside a reader's own points (reader mode, once the image is accepted), and every
reader's reading while adjudicating, each reader in a colour and symbol of their own, named in
a legend. Both draw only what the store holds (the window passes what it read)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from vam_gui.core.schema import Schema
from vam_gui.gui.keypoints import vertebra_colour

# A colour and a symbol per reader (the symbol tells them apart in grey too); none of them is a
# filled square, which is the edited layer's placed or moved point.
READER_STYLES = (("#ffffff", "t"), ("#00e5ff", "x"), ("#ffd400", "star"), ("#ff4d6d", "t1"),
                 ("#7cfc00", "+"), ("#ff8cff", "h"))


def _positions(xy: np.ndarray, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canvas positions (pixel centres: +0.5, design.md §2) of the finite points kept."""
    ok = np.isfinite(xy).all(axis=1) & keep
    return xy[ok, 0] + 0.5, xy[ok, 1] + 0.5


class PredictionGhosts:
    """The stored prediction as hollow rings in each vertebra's colour (a hollow diamond where
    its confidence is under the threshold), under the editable markers."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.item = pg.ScatterPlotItem(size=15, pxMode=True)  # rings round the reader's markers (11 px)
        self.item.setZValue(18)
        self.item.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.NoButton)
        view.addItem(self.item)
        self.xy: np.ndarray | None = None  # what is drawn (original px), for tests and tools

    def show(self, prediction, schema: Schema, threshold: float) -> None:
        if prediction is None:
            self.clear()
            return
        xy = np.asarray(prediction.xy, dtype=float)
        conf = np.asarray(prediction.confidence, dtype=float)
        ok = np.isfinite(xy).all(axis=1)
        spots = [{"pos": (x + 0.5, y + 0.5), "symbol": "d" if conf[i] < threshold else "o",
                  "pen": pg.mkPen(vertebra_colour(schema.vertebra[i]), width=2), "brush": pg.mkBrush(None)}
                 for i, (x, y) in enumerate(xy) if ok[i]]
        self.item.setData(spots)
        self.item.setVisible(True)
        self.xy = xy[ok].copy()

    def clear(self) -> None:
        # hidden as well as emptied: an empty scatter item still costs a Python paint per repaint
        if self.xy is not None or self.item.isVisible():
            self.item.clear()
            self.item.setVisible(False)
        self.xy = None


class ReaderMarks:
    """Each reader's points in their own style, with a legend naming the readers (top left of
    the view, not scaled with the image)."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.items: dict[str, pg.ScatterPlotItem] = {}
        self.legend = pg.LegendItem(offset=(10, 10), labelTextColor="#eeeeee", brush=pg.mkBrush(0, 0, 0, 170))
        self.legend.setParentItem(view)
        self.legend.setZValue(40)
        self.legend.setVisible(False)
        # The legend's sample of the editable layer (a filled square: a placed or moved point); not drawn.
        self._consensus = pg.ScatterPlotItem(symbol="s", size=10, pen=pg.mkPen("w"), brush=pg.mkBrush("#9e9e9e"))

    def show(self, readings: dict[str, tuple[np.ndarray, np.ndarray, str]]) -> None:
        """``readings``: reader -> (xy [K, 2], visible [K], what the legend adds, e.g. the phase)."""
        self.clear()
        for n, (reader, (xy, visible, note)) in enumerate(sorted(readings.items())):
            colour, symbol = READER_STYLES[n % len(READER_STYLES)]
            xs, ys = _positions(np.asarray(xy, dtype=float), np.asarray(visible, dtype=bool))
            item = pg.ScatterPlotItem(xs, ys, size=12, symbol=symbol, pen=pg.mkPen(colour, width=1.5),
                                      brush=pg.mkBrush(colour) if symbol in ("t", "t1", "star", "h") else None)
            item.setZValue(19)
            item.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.NoButton)
            self.view.addItem(item)
            self.items[reader] = item
            self.legend.addItem(item, f"{reader}{f' ({note})' if note else ''}")
        if readings:
            self.legend.addItem(self._consensus, "consensus (editable)")
        self.legend.setVisible(bool(readings))

    def clear(self) -> None:
        for item in self.items.values():
            self.view.removeItem(item)
        self.items.clear()
        self.legend.clear()
        self.legend.setVisible(False)
