"""What an image switch draws, and that the shortcuts taken to draw it quickly change nothing:
images blitted from fast formats, the overlay's opacity in its lookup table, markers restyled
only when their state changes, labels and outlines following the points."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage


@pytest.fixture
def predicted(window):
    """Every image of the fixture study predicted, L1-UL (index 0) unsure on the first image only."""
    from vam_gui.core.gaussian import gaussian_windows
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction

    study = window.session.study
    xy = np.array([(x, 12 + 28 * v + dy) for v in range(5) for dy in (0, 19) for x in (35, 84)], float)
    box = Letterbox.fit(160, 120, 64)
    maps = gaussian_windows(box.to_model(xy), 64).astype(np.float16)
    for n, image_id in enumerate(study.image_ids()):
        conf = np.full(20, 0.9, np.float32)
        conf[0] = 0.1 if n == 0 else 0.9
        study.save_prediction(image_id, Prediction(
            xy=xy, confidence=conf, spread=np.full(20, 2.0, np.float32), letterbox=box, heatmaps=maps,
            keypoints=study.schema.keypoints, model_id="stand-in"))
    assert window.open_study(study.path)
    return window.session.study.image_ids()


def _look(layer):
    """What each marker shows: symbol path, pen colour and width, brush, label text and colour."""
    return [(item._path, item.pen.color().name(), item.pen.widthF(), item.brush.style(),
             item.label().text(), item.label()._pen.color().name(), item.label().isVisible())
            for item in layer.items]


def test_images_render_once_into_fast_formats_and_opacity_is_in_the_lut(qtbot, window, predicted):
    canvas = window.canvas
    canvas.viewport().repaint()
    assert canvas.image_item.qimage.format() == QImage.Format.Format_RGB32
    assert canvas.heat_item.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied
    assert canvas.heat_item.opacity() == 1.0  # the item is never blended at partial opacity
    window.view_panel.opacity.setValue(30)
    assert canvas.heatmap_opacity() == pytest.approx(0.3)
    assert canvas.heat_item.lut[:, 3].max() == round(255 * 0.3)
    window.view_panel.colormap.setCurrentText("viridis")
    assert canvas.heat_item.lut[:, 3].max() == round(255 * 0.3), "a new colormap keeps the opacity"


def test_switching_back_and_forth_draws_each_image_as_a_fresh_window_would(qtbot, window, predicted):
    layer = window.canvas.layer
    first, second = predicted[0], predicted[1]
    window.session.show_image(first)
    fresh = _look(layer)
    assert layer.items[0].label().text().endswith(" ?"), "an unsure prediction says so"
    window.session.show_image(second)
    assert not layer.items[0].label().text().endswith(" ?")
    assert _look(layer) != fresh
    window.session.show_image(second)  # the same image again: nothing to restyle
    window.session.show_image(first)
    assert _look(layer) == fresh


def test_restyling_an_unchanged_marker_does_no_work(window, predicted):
    layer = window.canvas.layer
    item = layer.items[3]
    key = item.style_key
    label_rect = item.label().boundingRect()
    layer._style(3)  # noqa: SLF001 - the marker-styling method
    assert item.style_key == key and item.label().boundingRect() == label_rect
    layer.select(3)
    assert item.style_key != key and item.pen.widthF() == 3


def test_outline_and_label_follow_a_preview_and_come_back(window, predicted):
    layer = window.canvas.layer
    outline = layer._outlines[0]  # noqa: SLF001 - L1's outline
    before = list(outline.segments()[0])
    x, y = layer.position(0)
    layer.preview([0], [(x + 7.0, y)])
    assert layer.position(0) == pytest.approx((x + 7.0, y))
    assert x + 7.5 in outline.segments()[0]
    assert layer.items[0].label().parentItem() is layer.items[0], "the label moves with its marker"
    layer.end_preview([0])
    assert layer.position(0) == pytest.approx((x, y))
    assert outline.segments()[0] == before


def test_the_window_slider_follows_a_switch_after_a_window_drag(window, predicted):
    panel, canvas = window.view_panel, window.canvas
    window.session.show_image(predicted[1])
    lo, hi = canvas.window
    canvas.set_window(lo + 100, hi - 100)  # as a right-drag does
    assert panel.window_slider.value() == pytest.approx((lo + 100, hi - 100), abs=1)
    window.session.show_image(predicted[2])
    assert panel.window_slider.value() == pytest.approx(canvas.window, abs=1)


def test_the_overlay_renders_as_pyqtgraph_renders_it(window, predicted):
    """The heatmap's own render path gives pyqtgraph's pixels (Indexed8 through the same table)."""
    import pyqtgraph as pg

    heat = window.canvas.heat_item
    heat.render()
    plain = pg.ImageItem()
    plain.setLookupTable(heat.lut)
    plain.setImage(heat.image, autoLevels=False, levels=(0, 255))
    plain.render()
    theirs = plain.qimage.convertToFormat(QImage.Format.Format_ARGB32_Premultiplied)
    assert heat.qimage == theirs
    assert heat.qimage.format() == QImage.Format.Format_ARGB32_Premultiplied


def test_a_markers_bounds_follow_the_zoom_and_its_symbol(qtbot, window, predicted):
    """A marker keeps its size on screen: its bounds in image pixels shrink as the view zooms
    in, and are its symbol's (measured once per shape, not per call)."""
    canvas, layer = window.canvas, window.canvas.layer
    window.session.show_image(predicted[1])
    canvas.viewport().repaint()
    item = layer.items[3]
    before = item.boundingRect()
    assert item.boundingRect() is item.boundingRect()  # measured once
    assert before == item.shape().boundingRect()
    canvas.view.scaleBy((0.25, 0.25))  # four times closer
    canvas.viewport().repaint()
    after = item.boundingRect()
    assert after.width() == pytest.approx(before.width() / 4, rel=0.05)
    assert after == item.shape().boundingRect()
    item.setSymbol("s")  # a new shape (its bounds happen to be the ring's)
    shape = item.shape()
    assert item.boundingRect() == shape.boundingRect() and item._bounds_of is shape


def test_the_next_images_checks_run_while_the_window_idles(qtbot, window, predicted, monkeypatch):
    """40 ms after a switch the next image's points are checked ahead; switching to it then
    runs no check, and shows the flags a fresh check gives. An image just left is not checked
    again either; once its points change, they are."""
    import vam_gui.io.review as review_io
    from vam_gui.core.annotation import PointState
    from vam_gui.gui.current_image import READ_AHEAD_DELAY_MS
    from vam_gui.io.review import annotation_flags, peaks_of

    calls = []
    real = review_io.annotation_flags
    monkeypatch.setattr(review_io, "annotation_flags", lambda *a, **k: calls.append(1) or real(*a, **k))
    study = window.session.study
    first, second, third = predicted[:3]
    study.apply_edit(second, user="t", kind="move", points={5: PointState(84.0, 140.0, True, "placed")})  # flagged
    window.session.show_image(third)
    qtbot.wait(READ_AHEAD_DELAY_MS * 4)  # its look-ahead done
    calls.clear()
    window.session.show_image(first)
    assert calls == [], "checked when the study opened on it: not again"
    qtbot.waitUntil(lambda: len(calls) == 1, timeout=5000)  # the next image (edited since), checked ahead
    window.session.show_image(second)
    assert len(calls) == 1, "checked ahead: not again at the switch"
    info, pred = study.image_info(second), study.prediction(second)
    fresh = annotation_flags(study.schema, study.annotation(second), spacing=info.spacing, facing=info.facing,
                             peaks=peaks_of(study.heatmaps(second), pred, study.schema.k), prediction_xy=pred.xy)
    assert fresh and window.review.flags == fresh
    assert window.canvas.layer.flagged == {i for f in fresh for i in f.points}
    study.apply_edit(second, user="t", kind="move", points={5: PointState(84.0, 41.0, True, "placed")})
    window.current.refresh()
    assert len(calls) == 2 and window.review.flags != fresh


def test_the_overlay_is_blended_only_where_it_shows_with_the_same_pixels(qtbot, window, predicted):
    """The heatmap's paint is clipped to the box of its visible values (one clear pixel
    around): the canvas shows exactly what the whole overlay drawn unclipped shows, zoomed or
    not; an overlay with nothing to show draws nothing."""
    from vam_gui.gui.paint_items import _shown_box

    canvas, heat = window.canvas, window.canvas.heat_item
    window.session.show_image(predicted[1])
    canvas.viewport().repaint()
    assert heat._drawn is not None and heat._drawn.width() < heat.image.shape[1]

    def grab_both():
        clipped = canvas.grab().toImage()
        kept, heat._drawn = heat._drawn, None  # as pyqtgraph draws it: the whole image
        canvas.viewport().repaint()
        whole = canvas.grab().toImage()
        heat._drawn = kept
        return clipped, whole

    for zoom in (1.0, 0.3):
        canvas.view.scaleBy((zoom, zoom))
        canvas.viewport().repaint()
        clipped, whole = grab_both()
        assert clipped == whole
    shows = np.zeros(256, bool)
    shows[1:] = True
    image = np.zeros((6, 8), np.uint8)
    image[2, 3] = image[3, 5] = 9
    assert _shown_box(image, shows) == (1, 5, 2, 7)
    image[0, 0] = image[5, 7] = 1
    assert _shown_box(image, shows) == (0, 6, 0, 8)
    assert _shown_box(np.zeros((4, 4), np.uint8), shows) == (0, 0, 0, 0)
    heat.setImage(np.zeros((64, 64), np.uint8), autoLevels=False, levels=(0, 255))
    heat.render()
    assert heat._drawn is not None and heat._drawn.isEmpty()


def test_a_switch_shows_the_rows_read_ahead_only_while_the_store_is_unchanged(qtbot, window, predicted,
                                                                               monkeypatch):
    """The check-ahead's reads of the next image (its row, points, prediction, heatmaps) are
    shown by the switch to it without reading them again, unless the study was written since:
    by this window, by a worker, or by another connection; then the switch reads it as stored."""
    import sqlite3

    from vam_gui.core.annotation import PointState

    study, session, table = window.session.study, window.session, window.keypoints
    first, second = predicted[:2]

    def look_ahead_from_first():
        session.show_image(first)
        qtbot.waitUntil(lambda: window.current._ahead is not None and window.current._ahead.image_id == second,
                        timeout=5000)

    def shown_xy(i):
        return float(table.item(i, 1).text()), float(table.item(i, 2).text())

    look_ahead_from_first()
    reads = []
    for name in ("image_info", "annotation", "prediction", "heatmaps"):
        real = getattr(study, name)
        monkeypatch.setattr(study, name, lambda *a, _real=real, _name=name, **k: reads.append(_name) or _real(*a, **k))
    session.show_image(second)
    assert reads == [], "read ahead: not read again"
    stored = study.annotation(second)
    assert shown_xy(5) == tuple(round(v, 1) for v in stored.xy[5])
    assert window.canvas.layer.position(5) == pytest.approx(tuple(stored.xy[5]), abs=1e-6)

    look_ahead_from_first()
    study.apply_edit(second, user="worker", kind="move", points={5: PointState(50.0, 60.0, True, "placed")})
    reads.clear()
    session.show_image(second)
    assert "annotation" in reads and shown_xy(5) == (50.0, 60.0), "written since: read as stored"
    assert window.canvas.layer.position(5) == pytest.approx((50.0, 60.0))

    look_ahead_from_first()
    other = sqlite3.connect(study.path, isolation_level=None)
    try:  # another process's commit
        other.execute("UPDATE points SET x = 70.0, y = 80.0 WHERE idx = 7 AND image = "
                      "(SELECT id FROM images WHERE image_id = ?)", (second,))
    finally:
        other.close()
    session.show_image(second)
    assert shown_xy(7) == (70.0, 80.0) and window.canvas.layer.position(7) == pytest.approx((70.0, 80.0))


def test_each_image_is_shown_whole_zoomed_or_not_before_the_switch(qtbot, window):
    """A switch fits the new image in view; stepping through images of one size leaves a view
    still fitted as it is (no range change), and one zoomed or panned since is fitted again."""
    canvas, session = window.canvas, window.session
    ids = session.study.image_ids()
    session.show_image(ids[0])
    fitted = canvas.view.viewRect()
    h, w = canvas.radiograph.pixels.shape
    assert fitted.contains(QRectF(0, 0, w, h))
    changes = []
    canvas.view.sigRangeChanged.connect(lambda *_: changes.append(1))
    session.show_image(ids[1])
    assert changes == [] and canvas.view.viewRect() == fitted, "same size, still fitted: left as it is"
    canvas.view.scaleBy((0.3, 0.3))
    canvas.view.translateBy((5, 7))
    assert canvas.view.viewRect() != fitted
    session.show_image(ids[2])
    assert canvas.view.viewRect() == fitted, "zoomed and panned since: fitted again"


def test_the_canvas_is_painted_whole_without_a_fill_beforehand(qtbot, window, predicted):
    """The canvas's viewport is opaque (no window-colour fill before each paint): what it shows
    is what it shows with the fill, zoomed out past the image's edges too."""
    from PySide6.QtCore import Qt

    canvas = window.canvas
    viewport = canvas.viewport()
    assert viewport.testAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent) and not viewport.autoFillBackground()
    window.session.show_image(predicted[1])
    for zoom in (1.0, 3.0):
        canvas.view.scaleBy((zoom, zoom))
        viewport.repaint()
        opaque = canvas.grab().toImage()
        viewport.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, False)
        viewport.setAutoFillBackground(True)
        viewport.repaint()
        filled = canvas.grab().toImage()
        viewport.setAutoFillBackground(False)
        viewport.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        assert opaque == filled


def test_outlines_drawn_at_a_switch_go_through_the_markers(qtbot, window, predicted):
    """At a switch the outlines are drawn from the annotation's values (not read back from the
    twenty markers): through the markers' centres all the same, none through a point that is
    missing or marked missing."""
    from vam_gui.core.annotation import PointState

    study, layer = window.session.study, window.canvas.layer
    study.apply_edit(predicted[2], user="t", kind="move", points={1: PointState(80.0, 15.0, False, "placed")})
    window.session.show_image(predicted[2])

    def through_markers(v):
        xs, ys = [], []
        for a, b in layer._edges_by_vertebra[v]:
            pa, pb = layer.position(a), layer.position(b)
            if pa is None or pb is None or not (layer._shown(a) and layer._shown(b)):
                continue
            xs += [pa[0] + 0.5, pb[0] + 0.5]
            ys += [pa[1] + 0.5, pb[1] + 0.5]
        return xs, ys

    assert not layer._shown(1)
    for v, outline in enumerate(layer._outlines):
        xs, ys = outline.segments()
        want = through_markers(v)
        assert xs == pytest.approx(want[0]) and ys == pytest.approx(want[1])
    assert len(layer._outlines[0].segments()[0]) < 2 * len(layer._edges_by_vertebra[0])


def test_a_switch_repaints_every_keypoint_cell_it_changed(qtbot, window, predicted):
    """The keypoint table is filled with its model quiet at a switch and repaints the columns it
    changed: every cell whose text changed is inside what the next paint draws."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QRegion
    from PySide6.QtWidgets import QApplication

    from vam_gui.core.annotation import PointState

    study, session, table = window.session.study, window.session, window.keypoints
    study.apply_edit(predicted[2], user="t", kind="move",
                     points={3: PointState(60.0, 70.0, True, "placed"), 8: PointState(61.0, 71.0, False, "placed")})
    session.show_image(predicted[1])
    table.viewport().repaint()
    before = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    painted = QRegion()

    class Spy(QObject):
        def eventFilter(self, obj, event):
            nonlocal painted
            if event.type() == QEvent.Type.Paint:
                painted = painted.united(event.region())
            return False

    spy = Spy()
    table.viewport().installEventFilter(spy)
    session.show_image(predicted[2])
    QApplication.processEvents()
    table.viewport().removeEventFilter(spy)
    after = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
    cells = [(r, c) for r in range(table.rowCount()) for c in range(table.columnCount())]
    changed = [(r, c) for r, c in cells if before[r][c] != after[r][c]]
    assert {(3, 1), (3, 2), (8, 6)} <= set(changed)
    assert after[3][1:3] == ["60.0", "70.0"] and after[8][6] == "placed (missing)"
    for r, c in changed:
        assert painted.contains(table.visualItemRect(table.item(r, c))), (r, c)
