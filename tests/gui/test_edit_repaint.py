"""A released drag repaints what it changed: one marker, one table row, the measurements
recomputed in memory, and no more than two queries (conventions 4 and 13)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def drag(win, index: int, dx_px: float, dy_px: float, steps: int = 6) -> None:
    """Press on keypoint ``index``, move by (dx, dy) screen pixels, release (real mouse events)."""
    canvas = win.canvas
    drag_from(win, QPointF(canvas.mapFromScene(canvas.layer.items[index].mapToScene(QPointF(0, 0)))),
              dx_px, dy_px, steps)


def drag_from(win, start: QPointF, dx_px: float, dy_px: float, steps: int = 6) -> None:
    """Press at ``start`` (viewport px), move by (dx, dy) in ``steps``, release."""
    viewport = win.canvas.viewport()
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton

    def send(kind, pos, button, buttons):
        QApplication.sendEvent(viewport, QMouseEvent(kind, pos, viewport.mapToGlobal(pos), button, buttons,
                                                     Qt.KeyboardModifier.NoModifier))

    send(QEvent.Type.MouseButtonPress, start, left, left)
    for s in range(1, steps + 1):
        send(QEvent.Type.MouseMove, start + QPointF(dx_px * s / steps, dy_px * s / steps), none, left)
    send(QEvent.Type.MouseButtonRelease, start + QPointF(dx_px, dy_px), left, none)


def _predict(study, image_id: str) -> None:
    """A stand-in prediction with heatmaps for every one of the schema's K points."""
    from vam_gui.core.gaussian import gaussian_windows
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction

    k = study.schema.k
    xy = np.array([(x, 14.0 + v * 28 + dy) for v in range(k // 4) for dy in (0, 18) for x in (37.0, 82.0)])
    box = Letterbox.fit(160, 120, 64)
    maps = gaussian_windows(box.to_model(xy), 64).astype(np.float16)
    study.save_prediction(image_id, Prediction(
        xy=xy, confidence=np.full(k, 0.8, np.float32), spread=np.full(k, 2.0, np.float32), letterbox=box,
        heatmaps=maps, keypoints=study.schema.keypoints, model_id="test"))


class _Selects:
    """SELECTs the study's connection runs after the last write of an edit (the window's
    repaint), and all of them."""

    def __init__(self, study, monkeypatch) -> None:
        self.after_write: list[str] = []
        self.all: list[str] = []
        self._written = False
        apply_edit = study.apply_edit

        def counted_apply_edit(*args, **kwargs):
            self._written = False
            group = apply_edit(*args, **kwargs)
            self._written = True
            return group

        monkeypatch.setattr(study, "apply_edit", counted_apply_edit)
        study._conn.set_trace_callback(self._trace)  # noqa: SLF001 - the store's one connection

    def _trace(self, sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT"):
            self.all.append(sql)
            if self._written:
                self.after_write.append(sql)


def test_a_released_drag_repaints_one_marker_one_row_and_two_queries_at_most(qtbot, window, monkeypatch):
    win = window
    qtbot.wait(100)  # the view settles its range before we aim at a point
    study, image_id = win.session.study, win.session.current_id
    assert study.schema.k == 20
    _predict(study, image_id)
    win.session.prediction_stored(image_id)
    layer = win.canvas.layer
    assert all(item.isVisible() for item in layer.items)
    layer.select(5)  # as a click before the drag would: selecting restyles, the drag must not

    styled: list[int] = []
    style = layer._style  # noqa: SLF001 - the marker-styling method, counted
    monkeypatch.setattr(layer, "_style", lambda i: (styled.append(i), style(i)))
    rows: list[tuple[int, int]] = []
    table = win.keypoints
    table.itemChanged.connect(lambda item: rows.append((item.row(), item.column())))
    measured: list[int] = []
    show_result = win.review.panel.show_result
    monkeypatch.setattr(win.review.panel, "show_result", lambda *a: (measured.append(1), show_result(*a)))
    selects = _Selects(study, monkeypatch)

    before = study.annotation(image_id).point(5)
    drag(win, 5, 30, 20)  # past the scene's 25 px before a quick press becomes a drag
    study._conn.set_trace_callback(None)  # noqa: SLF001

    after = study.annotation(image_id).point(5)
    assert after.source == "moved" and (after.x, after.y) != (before.x, before.y)
    assert layer.flagged <= {5}  # on this small image the move takes it far from its heatmap's peak
    assert styled == [5], "only the dragged marker is restyled, once"
    assert {row for row, _ in rows} == {5}, "only the dragged point's table row changes"
    assert table.item(5, 1).text() == f"{after.x:.1f}"
    assert measured == [1], "measurements recomputed once"
    assert len(selects.after_write) <= 2, selects.after_write
    assert layer.position(5) == pytest.approx((after.x, after.y))
    # The Measurements tab lies behind Keypoints: computed, drawn once brought to the front.
    panel = win.review.panel
    assert panel._pending is not None  # noqa: SLF001
    win.docks["Measurements"].raise_()
    qtbot.waitUntil(lambda: panel._pending is None)  # noqa: SLF001
    assert panel.model.rows
    print(f"\nSELECTs after the write: {len(selects.after_write)}; for the whole drag: {len(selects.all)}")


def test_a_shifted_prediction_and_an_image_switch_read_the_store_again(window):
    """What the window keeps of the shown image is dropped when a prediction arrives or
    another image is shown."""
    win = window
    study, image_id = win.session.study, win.session.current_id
    _predict(study, image_id)
    win.session.prediction_stored(image_id)
    shown = win.current.shown
    assert shown is not None and shown.prediction is not None and shown.peaks is not None
    other = next(i for i in study.image_ids() if i != image_id)
    win.session.show_image(other)
    assert win.current.shown.image_id == other and win.current.shown.prediction is None
    assert not any(item.isVisible() for item in win.canvas.layer.items)


def test_a_drag_the_store_cannot_write_is_put_back_and_said(qtbot, window):
    """Nothing shown that is not stored: with every write failing (as on a full disk or a
    read-only file), a released drag goes back to the stored position and a dialog says why."""
    from PySide6.QtWidgets import QMessageBox

    win = window
    qtbot.wait(100)
    study, image_id = win.session.study, win.session.current_id
    _predict(study, image_id)
    win.session.prediction_stored(image_id)
    layer = win.canvas.layer
    before = study.annotation(image_id).point(5)
    study._conn.execute("PRAGMA query_only = ON")  # noqa: SLF001 - a real SQLite write error
    try:
        drag(win, 5, 30, 20)
    finally:
        study._conn.execute("PRAGMA query_only = OFF")  # noqa: SLF001
    after = study.annotation(image_id).point(5)
    assert (after.x, after.y, after.source) == (before.x, before.y, before.source)
    assert layer.position(5) == pytest.approx((before.x, before.y)), "the marker is back where the store has it"
    assert not win.session.stack.can_undo
    box = win.findChild(QMessageBox, "write-failed")
    assert box is not None and box.isVisible()
    assert box.text().startswith("Not saved: ")
    assert win.statusBar().currentMessage().startswith("Not saved: ")
    box.close()
