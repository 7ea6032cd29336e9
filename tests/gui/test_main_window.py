"""The review window, driven as a reviewer would: offscreen, with real mouse events."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication


def wait_for_model(qtbot, win, checkpoint):
    win.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: win.predictor is not None, timeout=60000)


def predict_and_wait(qtbot, win, image_ids):
    win.predict(image_ids)
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def send_mouse(widget, kind, pos: QPointF, buttons):
    button = Qt.MouseButton.LeftButton
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button if kind != QEvent.Type.MouseMove
                        else Qt.MouseButton.NoButton, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def drag(win, index, dx_px, dy_px, steps=6):
    """Press on keypoint ``index``, move by (dx, dy) screen pixels, release."""
    canvas = win.canvas
    item = canvas.layer.items[index]
    start = canvas.mapFromScene(item.mapToScene(QPointF(0, 0)))
    start = QPointF(start)
    viewport = canvas.viewport()
    left = Qt.MouseButton.LeftButton
    send_mouse(viewport, QEvent.Type.MouseButtonPress, start, left)
    for s in range(1, steps + 1):
        send_mouse(viewport, QEvent.Type.MouseMove, start + QPointF(dx_px * s / steps, dy_px * s / steps), left)
    end = start + QPointF(dx_px, dy_px)
    send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def test_predict_drag_undo_redo_nudge_status_switch(qtbot, window, checkpoint):
    win = window
    study = win.session.study
    first = win.session.current_id
    assert first == study.image_ids()[0]
    assert win.canvas.radiograph is not None and win.canvas.radiograph.pixels.shape == (160, 120)

    # inference in the worker
    wait_for_model(qtbot, win, checkpoint)
    assert "tiny" in win.inference.model_label.text()
    predict_and_wait(qtbot, win, [first])
    pred = study.prediction(first)
    assert pred is not None and study.heatmaps(first) is not None
    assert win.canvas.heat_item.image is not None  # overlay painted for the shown image
    assert all(item.isVisible() for item in win.canvas.layer.items)
    assert win.worklist.model.rows[0].worst_confidence is not None

    # drag point 5: one command, one committed change, the point follows the mouse
    before = study.annotation(first).point(5)
    groups_before = {e.group for e in study.edit_log()}
    drag(win, 5, 40, 25)
    after = study.annotation(first).point(5)
    new_groups = {e.group for e in study.edit_log()} - groups_before
    assert len(new_groups) == 1, "a drag must be exactly one committed edit"
    assert after.source == "moved" and after.visible
    scale = win.canvas.view.viewPixelSize()  # image px per screen px
    assert after.x - before.x == pytest.approx(40 * scale[0], abs=2 * scale[0] + 0.05)
    assert after.y - before.y == pytest.approx(25 * scale[1], abs=2 * scale[1] + 0.05)
    assert study.status(first).status == "in_progress" and study.status(first).reviewer == "tester"
    assert win.undo_action.text() == "Undo move L2-UR"

    # undo / redo through the actions
    win.undo_action.trigger()
    assert study.annotation(first).point(5) == before
    assert win.canvas.layer.position(5) == pytest.approx((before.x, before.y))
    win.redo_action.trigger()
    assert study.annotation(first).point(5) == after

    # nudge the selected point with the arrow keys (Shift: 10 px)
    win.canvas.layer.select(5)
    win.canvas.setFocus()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    nudged = study.annotation(first).point(5)
    assert (nudged.x, nudged.y) == pytest.approx((after.x + 1, after.y + 10))

    # toggle the overlay with H
    assert win.canvas.heatmap_visible()
    qtbot.keyClick(win, Qt.Key.Key_H)
    assert not win.canvas.heatmap_visible()
    qtbot.keyClick(win, Qt.Key.Key_H)
    assert win.canvas.heatmap_visible()

    # mark accepted with A: the window moves on to the next unreviewed image
    qtbot.keyClick(win, Qt.Key.Key_A)
    assert study.status(first).status == "accepted"
    assert win.session.current_id == study.image_ids()[1]
    # a result for an image no longer shown is stored but does not repaint
    second = win.session.current_id
    shown_points = [win.canvas.layer.position(i) for i in range(20)]
    predict_and_wait(qtbot, win, [first])
    assert win.session.current_id == second
    assert [win.canvas.layer.position(i) for i in range(20)] == shown_points

    # switching images and coming back shows the stored state
    win.session.step(-1)
    assert win.session.current_id == first
    assert win.canvas.layer.position(5) == pytest.approx((nudged.x, nudged.y))
    assert study.review_seconds(first) >= 0
    assert len(study._query("SELECT id FROM views WHERE left_at IS NOT NULL")) >= 1  # noqa: SLF001


def test_flag_missing_shift_and_accept_prediction(qtbot, window, checkpoint, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    win = window
    study = win.session.study
    image = win.session.current_id
    wait_for_model(qtbot, win, checkpoint)
    predict_and_wait(qtbot, win, [image])
    win.canvas.layer.select(2)
    win.editor.toggle_missing()
    assert not study.annotation(image).visible[2]
    assert win.canvas.layer.items[2].isVisible()  # drawn as a grey cross, not hidden
    win.editor.shift_levels(+1)
    assert not np.isfinite(study.annotation(image).xy[0]).any()
    win.editor.accept_prediction()
    ann = study.annotation(image)
    assert np.allclose(ann.xy, study.prediction(image).xy) and ann.visible.all()
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("motion blur", True))
    win.editor.flag_image()
    assert study.status(image).status == "flagged" and study.status(image).comment == "motion blur"
    assert win.worklist.model.rows[0].status == "flagged"


def test_worklist_filter_and_sort(qtbot, window, checkpoint):
    win = window
    wait_for_model(qtbot, win, checkpoint)
    predict_and_wait(qtbot, win, win.session.study.image_ids())
    panel = win.worklist
    assert len(panel.visible_ids()) == 3
    win.editor.accept_and_next()
    panel.filter_box.setCurrentIndex(panel.filter_box.findData("accepted"))
    assert panel.visible_ids() == [win.session.study.image_ids()[0]]
    panel.filter_box.setCurrentIndex(0)
    panel.sort_box.setCurrentIndex(2)  # most uncertain first
    worst = [win.session.study.image_info(i).worst_confidence for i in panel.visible_ids()]
    assert worst == sorted(worst)


def test_cancel_prediction_leaves_no_worker(qtbot, window, checkpoint):
    win = window
    wait_for_model(qtbot, win, checkpoint)
    win.predict(win.session.study.image_ids())
    win.cancel_prediction()
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)
    assert not win.workers.busy()


def test_unreadable_study_is_a_message_not_a_crash(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    bad = tmp_path / "bad.vamstudy"
    bad.write_text("not a study")
    assert not window.open_study(bad)
    boxes = [b for b in window.findChildren(QMessageBox) if b.isVisible()]
    assert len(boxes) == 1 and boxes[0].windowTitle() == "Cannot open study" and "bad.vamstudy" in boxes[0].text()
    boxes[0].close()
    assert window.session.study is not None  # the open study stays open


def test_heatmap_overlay_lands_on_original_pixels(qtbot, window, checkpoint):
    """Model pixel (i, j) of the heatmap is drawn over the original pixels it came from."""
    win = window
    wait_for_model(qtbot, win, checkpoint)
    predict_and_wait(qtbot, win, [win.session.current_id])
    box = win.session.study.prediction(win.session.current_id).letterbox
    for mx, my in [(0.0, 0.0), (10.0, 20.0), (40.0, 33.0), (63.0, 63.0)]:
        # centre of model pixel (my, mx) in the overlay item -> canvas coordinates
        p = win.canvas.heat_item.mapToParent(QPointF(mx + 0.5, my + 0.5))
        ox, oy = box.to_original([mx, my])
        assert p.x() == pytest.approx(ox + 0.5, abs=1e-6)  # canvas draws (x, y) at (x + .5, y + .5)
        assert p.y() == pytest.approx(oy + 0.5, abs=1e-6)
    # points too: keypoint k sits at its stored position + 0.5
    ann = win.session.study.annotation(win.session.current_id)
    pos = win.canvas.layer.items[7].pos()
    assert (pos.x(), pos.y()) == pytest.approx((ann.xy[7, 0] + 0.5, ann.xy[7, 1] + 0.5))


def test_screenshot_command_renders_a_phantom(tmp_path):
    from vam_gui.cli import main

    out = tmp_path / "shot.png"
    assert main(["screenshot", str(out), "--size", "1200x800"]) == 0
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1200, 800)


def test_cursor_readout_and_layout_restored(qtbot, study_path, tmp_path):
    from PySide6.QtCore import QSettings

    from vam_gui.core.settings import Settings
    from vam_gui.gui.main_window import MainWindow

    first = MainWindow(Settings(reviewer="t"))
    qtbot.addWidget(first)
    first.show()
    first.open_study(study_path)
    first.canvas.cursor_moved.emit((10.0, 20.5, 123.0))
    assert first.cursor_label.text() == "x 10.0  y 20.5 px   value 123"
    first.resize(700, 500)  # the offscreen "screen" is small: stay inside it
    first.docks["View"].hide()
    size = (first.width(), first.height())
    first.close()
    assert QSettings("vam-gui", "vam-gui").value("state") is not None
    second = MainWindow(Settings(reviewer="t"))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == size
    assert second.docks["View"].isHidden() and not second.docks["Worklist"].isHidden()
    second.close()


def test_the_window_follows_session_events(qtbot, window, monkeypatch):
    """An edit of an image not on screen updates its worklist row but repaints nothing;
    navigation and edits driven through the session show up in the window."""
    from vam_gui.core.commands import MovePoint

    win = window
    session = win.session
    shown = session.current_id
    other = next(i for i in session.study.image_ids() if i != shown)
    repaints = []
    monkeypatch.setattr(win.current, "refresh", lambda **kw: repaints.append(("whole", kw)))
    monkeypatch.setattr(win.current, "_repaint_points", lambda indices: repaints.append(("points", indices)))
    assert session.push(MovePoint(other, 2, (30.0, 40.0)))
    assert repaints == []
    assert win.worklist.model.rows[win.worklist.model.row_of(other)].status == "in_progress"
    assert win.undo_action.text() == "Undo move L1-LL"
    assert session.push(MovePoint(shown, 2, (30.0, 40.0)))
    assert repaints == [("points", (2,))]  # the shown image: once, the point it names only
    monkeypatch.undo()
    seen = []
    win.image_shown.connect(seen.append)
    session.undo()
    session.undo()  # the other image's edit: it comes back on screen
    assert seen == [other] and session.current_id == other
    assert win.worklist.model.rows[win.worklist.model.row_of(other)].status == "unreviewed"
    assert not win.undo_action.isEnabled()
