"""The canvas: a radiograph with window/level, the heatmap overlay and the keypoint layer.

Mouse: left-drag pans (or drags a point), the wheel zooms about the cursor, right-drag sets
window/level (horizontal: width, vertical: level). Keys: arrows nudge the selected point
(Shift: 10 px), Escape cancels a drag.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QImage, QTransform
from PySide6.QtWidgets import QGraphicsScene

from vam_gui.core.letterbox import Letterbox
from vam_gui.core.radiograph import Radiograph, Window
from vam_gui.core.schema import Schema
from vam_gui.gui.keypoints import KeypointLayer
from vam_gui.gui.overlays import PredictionGhosts
from vam_gui.gui.paint_items import FastImageItem, with_opacity


# Window presets: name -> function of the radiograph giving (lower, upper).
def _percentiles(low: float, high: float):
    def preset(rad: Radiograph) -> tuple[float, float]:
        w = Window.from_pixels(rad.pixels, low_pct=low, high_pct=high)
        return w.lower, w.upper
    return preset


WINDOW_PRESETS = {
    "File window": lambda rad: (rad.window.lower, rad.window.upper),
    "Auto (0.5–99.5 %)": _percentiles(0.5, 99.5),
    "High contrast (5–95 %)": _percentiles(5.0, 95.0),
    "Full range": lambda rad: (float(np.min(rad.pixels)), float(np.max(rad.pixels))),
}


def overlay_lut(name: str) -> np.ndarray:
    """A 256-entry RGBA table whose alpha rises with the value, so empty heatmap is clear."""
    cmap = pg.colormap.get(name) if name in pg.colormap.listMaps() else pg.colormap.get("inferno")
    lut = cmap.getLookupTable(0.0, 1.0, 256, alpha=True).astype(np.ubyte)
    lut[:, 3] = np.clip(np.linspace(0, 1, 256) * 3.0, 0, 1) * 255  # fully opaque from 1/3 up
    return lut


PICK_TOLERANCE_PX = 12  # a left-drag starting this close (screen px) to a point moves the point


class RadiographView(pg.ViewBox):
    """ViewBox whose right-button drag sets window/level instead of zooming, and whose
    left-drag that starts just beside a point (within PICK_TOLERANCE_PX on screen, where the
    marker itself was missed) moves that point instead of panning."""

    window_dragged = Signal(float, float)  # screen px dx, dy since the last event

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pick = None  # callable(scene_pos) -> a KeypointItem near it, or None
        self._grabbed = None  # the item a missed-by-a-little drag was handed to

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - Qt naming
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d = ev.pos() - ev.lastPos()
            self.window_dragged.emit(float(d.x()), float(d.y()))
            return
        if ev.button() == Qt.MouseButton.LeftButton:
            if ev.isStart() and self.pick is not None:
                self._grabbed = self.pick(ev.buttonDownScenePos())
            if self._grabbed is not None:
                item = self._grabbed
                if ev.isFinish():
                    self._grabbed = None
                ev.currentItem = item  # pyqtgraph maps the event's positions into this item
                item.mouseDragEvent(ev)
                return
        super().mouseDragEvent(ev, axis)


class Canvas(pg.GraphicsLayoutWidget):
    cursor_moved = Signal(object)  # (x, y, value) in original pixels, or None outside
    window_changed = Signal(float, float)  # lower, upper
    nudge_requested = Signal(float, float)  # dx, dy in original pixels

    def __init__(self, schema: Schema, parent=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # A few dozen items, most of them moved at every image switch: a linear search costs
        # nothing, the BSP tree's re-indexing of each moved marker and label does.
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        if self.backgroundBrush().isOpaque():
            # The view paints every pixel it exposes (its opaque background, cached): Qt need not
            # fill the viewport with the window colour first at every paint (the same pixels)
            self.viewport().setAutoFillBackground(False)
            self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.view = RadiographView(lockAspect=True, invertY=True, enableMenu=False)
        self.view.setDefaultPadding(0.02)
        self.ci.addItem(self.view)
        self.image_item = FastImageItem()
        self.view.addItem(self.image_item)
        self.heat_item = FastImageItem()
        self.heat_item.setZValue(10)
        self._heat_opacity = 0.55  # in the overlay's lookup table, not the item's opacity (fast blit)
        self.view.addItem(self.heat_item)
        self.facing_label = pg.TextItem("", color="#dddddd", anchor=(0, 0))
        self.facing_label.setZValue(30)
        self.view.addItem(self.facing_label)
        self.hint = pg.TextItem("Open a study (Ctrl+O), or start one from radiographs (Ctrl+N)",
                                color="#9e9e9e", anchor=(0.5, 0.5))
        self.view.addItem(self.hint)
        self.radiograph: Radiograph | None = None
        self._fitted: tuple | None = None  # (image size, target and view rects) of the last fit
        self.window = (0.0, 1.0)
        self._colormap = "inferno"
        self._set_heat_lut()
        self._heatmaps: np.ndarray | None = None
        self._heat_channel: int | None = None
        self.layer = KeypointLayer(self.view, schema)
        self.ghosts = PredictionGhosts(self.view)  # the prediction beside a reader's points
        self.view.pick = self._pick
        self.view.window_dragged.connect(self._on_window_drag)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    def _pick(self, scene_pos):
        """The movable, shown point nearest ``scene_pos`` within PICK_TOLERANCE_PX on screen."""
        best, best_d = None, float(PICK_TOLERANCE_PX)
        for item in self.layer.items:
            if not (item.isVisible() and item.movable):
                continue
            d = item.mapToScene(QPointF(0, 0)) - scene_pos
            dist = (d.x() ** 2 + d.y() ** 2) ** 0.5
            if dist <= best_d:
                best, best_d = item, dist
        return best

    def set_schema(self, schema: Schema) -> None:
        for item in self.layer.items + self.layer._outlines:  # noqa: SLF001 - owned here
            self.view.removeItem(item)
        self.layer = KeypointLayer(self.view, schema)

    # ------------------------------------------------------------------ image
    def set_radiograph(self, rad: Radiograph | None, *, fit: bool = True, rendered: QImage | None = None) -> None:
        """Show ``rad`` at its own window; ``rendered``: its picture at that window, made ahead
        (gui/read_ahead.py), drawn unless the window has changed by the time it is painted."""
        self.radiograph = rad
        self.layer.cancel_drags()
        self.hint.setVisible(rad is None)
        if rad is None:
            self.image_item.clear()
            self.set_heatmaps(None)
            self.layer.clear()
            self.ghosts.clear()
            return
        self.window = (rad.window.lower, rad.window.upper)
        self.image_item.setImage(rad.pixels, autoLevels=False, levels=self.window)
        if rendered is not None:
            self.image_item.set_rendered(self.window, rendered)
        if fit:
            self.fit()

    def fit(self) -> None:
        """The whole image in view. Stepping through images of one size, the view is left as it
        is while it is still the one fitted to the image before (no range change, so no marker
        shape or label is laid out again for a new zoom)."""
        if self.radiograph is None:
            return
        h, w = self.radiograph.pixels.shape
        view, fitted = self.view, self._fitted
        if fitted is not None and fitted == ((w, h), view.targetRect(), view.viewRect()):
            return
        view.setRange(QRectF(0, 0, w, h), padding=0.02)
        self._fitted = ((w, h), view.targetRect(), view.viewRect())

    def center_on(self, x: float, y: float) -> None:
        r = self.view.viewRect()
        self.view.setRange(QRectF(x + 0.5 - r.width() / 2, y + 0.5 - r.height() / 2, r.width(), r.height()),
                           padding=0)

    def set_window(self, lower: float, upper: float) -> None:
        if upper <= lower:
            upper = lower + 1e-6
        self.window = (float(lower), float(upper))
        self.image_item.setLevels(self.window)
        self.window_changed.emit(*self.window)

    def apply_preset(self, name: str) -> None:
        if self.radiograph is not None:
            self.set_window(*WINDOW_PRESETS[name](self.radiograph))

    def _on_window_drag(self, dx: float, dy: float) -> None:
        lo, hi = self.window
        centre, width = (lo + hi) / 2, hi - lo
        # Proportional steps: a 500 px drag changes the width about e-fold.
        width *= float(np.exp(dx / 500.0))
        centre -= dy * width / 500.0
        self.set_window(centre - width / 2, centre + width / 2)

    # ------------------------------------------------------------------ heatmaps
    def set_heatmaps(self, maps: np.ndarray | None, letterbox: Letterbox | None = None) -> None:
        """uint8 [K, H, W] heatmaps (255 = 1.0) in model pixels, placed on the image through
        the letterbox (crop + fit) of the pass that made them: model pixel (i, j) lands where
        its original-pixel footprint is."""
        self._heatmaps = maps
        if maps is None or letterbox is None:
            self.heat_item.clear()
            return
        # Model pixel j spans canvas [(j - pad) / s + crop, (j + 1 - pad) / s + crop) (crop 0
        # for a whole-film pass): set the transform directly (ImageItem.setRect depends on the
        # size of the image shown before).
        s = letterbox.scale
        tr = QTransform()
        tr.translate(letterbox.crop_x - letterbox.pad_x / s, letterbox.crop_y - letterbox.pad_y / s)
        tr.scale(1 / s, 1 / s)
        self.heat_item.setTransform(tr)
        self._show_heat()

    def set_heatmap_channel(self, channel: int | None) -> None:
        """None: the maximum over all keypoints; an index: that keypoint's map."""
        self._heat_channel = channel
        self._show_heat()

    def _show_heat(self) -> None:
        maps = self._heatmaps
        if maps is None:
            return
        c = self._heat_channel
        shown = maps.max(axis=0) if c is None or not 0 <= c < len(maps) else maps[c]
        self.heat_item.setImage(shown, autoLevels=False, levels=(0, 255))

    def set_heatmap_visible(self, visible: bool) -> None:
        self.heat_item.setVisible(visible)

    def heatmap_visible(self) -> bool:
        return self.heat_item.isVisible()

    def set_heatmap_opacity(self, opacity: float) -> None:
        self._heat_opacity = float(np.clip(opacity, 0, 1))
        self._set_heat_lut()

    def heatmap_opacity(self) -> float:
        return self._heat_opacity

    def set_colormap(self, name: str) -> None:
        self._colormap = name
        self._set_heat_lut()

    def _set_heat_lut(self) -> None:
        self.heat_item.setLookupTable(with_opacity(overlay_lut(self._colormap), self._heat_opacity))

    # ------------------------------------------------------------------ lateral views
    def set_facing(self, facing: str | None) -> None:
        """Show which side is anterior on a lateral view ("left"/"right"), none on AP."""
        if facing is None or self.radiograph is None:
            self.facing_label.setText("")
            return
        w = self.radiograph.pixels.shape[1]
        self.facing_label.setText("◀ anterior" if facing == "left" else "anterior ▶")
        self.facing_label.setAnchor((0, 0) if facing == "left" else (1, 0))
        self.facing_label.setPos(0 if facing == "left" else w, 0)

    # ------------------------------------------------------------------ input
    def _on_mouse_moved(self, pos) -> None:
        rad = self.radiograph
        if rad is None:
            return
        p = self.image_item.mapFromScene(pos)
        j, i = int(np.floor(p.x())), int(np.floor(p.y()))
        h, w = rad.pixels.shape
        if 0 <= i < h and 0 <= j < w:
            self.cursor_moved.emit((p.x() - 0.5, p.y() - 0.5, float(rad.pixels[i, j])))
        else:
            self.cursor_moved.emit(None)

    def keyPressEvent(self, ev) -> None:  # noqa: N802 - Qt naming
        steps = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1),
                 Qt.Key.Key_Down: (0, 1)}
        key = Qt.Key(ev.key())
        if key in steps:
            factor = 10.0 if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
            dx, dy = steps[key]
            self.nudge_requested.emit(dx * factor, dy * factor)
            ev.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.layer.cancel_drags()
            ev.accept()
            return
        super().keyPressEvent(ev)
