"""Small things found on first use (issue: correcting in a few gestures, "rough edges")."""

from __future__ import annotations


def test_confidence_is_clamped_and_formatted():
    from vam_gui.gui.docks import format_confidence

    assert format_confidence(1.0123) == "1.00"
    assert format_confidence(-0.02) == "0.00"
    assert format_confidence(0.456) == "0.46"


def test_window_preset_says_custom_after_a_drag_and_comes_back(qtbot, window):
    win = window
    panel, canvas = win.view_panel, win.canvas
    canvas.apply_preset("File window")
    assert panel.presets.currentText() == "File window"
    canvas._on_window_drag(25.0, -10.0)  # noqa: SLF001 - what a right-drag calls
    assert panel.presets.currentIndex() == -1 and panel.presets.placeholderText() == "Custom"
    canvas.apply_preset("File window")  # R
    assert panel.presets.currentText() == "File window"


def test_switching_images_clears_the_cursor_readout(qtbot, window):
    win = window
    win.cursor_label.setText("x 1.0  y 2.0 px   value 3")
    win.session.step(+1)
    assert win.cursor_label.text() == ""


def test_choosing_a_table_row_gives_the_keys_back_to_the_canvas(qtbot, window):
    win = window
    win.activateWindow()
    win.keypoints.setFocus()
    win.current.select_keypoint(2)
    qtbot.waitUntil(lambda: win.canvas.hasFocus(), timeout=2000)
    assert win.canvas.layer.selected == 2


def test_an_image_without_labels_does_not_claim_its_labels_are_fine(qtbot, window):
    win = window
    panel = win.review.panel
    win.docks["Measurements"].raise_()
    qtbot.waitUntil(lambda: panel.flags.count() > 0, timeout=2000)
    assert panel.flags.item(0).text() == "No labels on this image yet"


def test_view_panels_brings_a_closed_dock_back(qtbot, window):
    win = window
    view_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&View")
    panels = next(a.menu() for a in view_menu.actions() if a.menu() is not None and a.text() == "&Panels")
    worklist = next(a for a in panels.actions() if a.text() == "Worklist")
    win.docks["Worklist"].close()
    assert not win.docks["Worklist"].isVisible() and not worklist.isChecked()
    worklist.trigger()
    assert win.docks["Worklist"].isVisible()


def test_keyboard_shortcuts_sheet_is_read_from_the_actions(qtbot, window):
    from vam_gui.gui.help_dialog import MOUSE, ShortcutsDialog, shortcut_rows

    win = window
    rows = shortcut_rows(win)
    keys = {(menu, action): key for menu, key, action in rows}
    assert keys[("Edit", "Undo")] == "Ctrl+Z"
    assert keys[("Model", "Predict this image")] == "Ctrl+R"
    assert keys[("Review", "Mark accepted and go on")] == "A"
    dialog = ShortcutsDialog(win)
    assert dialog.table.rowCount() == len(rows) + len(MOUSE)
    dialog.close()


def test_preferences_apply_to_the_window_and_are_saved(qtbot, window):
    import json

    from vam_gui.core.settings import settings_path
    from vam_gui.gui.preferences import PreferencesDialog

    win = window
    dialog = PreferencesDialog(win, win.settings)
    assert dialog.threshold.maximum() == 1.0 and dialog.threshold.minimum() == 0.0  # the field's own range
    dialog.reviewer.setText("  dr. ana  ")
    dialog.threshold.setValue(0.6)
    dialog.opacity.setValue(0.3)
    dialog.colormap.setCurrentText("viridis")
    dialog.max_pixels.setValue(300)
    dialog.accept()
    assert win.session.reviewer == "dr. ana" and win.canvas.layer.threshold == 0.6
    assert win.view_panel.opacity.value() == 30 and win.view_panel.colormap.currentText() == "viridis"
    saved = json.loads(settings_path().read_text())
    assert saved["reviewer"] == "dr. ana" and saved["confidence_threshold"] == 0.6
    assert saved["max_image_pixels"] == 300_000_000 and saved["heatmap_colormap"] == "viridis"


def test_a_drag_that_just_misses_a_point_moves_it_and_one_far_away_pans(qtbot, window):
    import numpy as np
    import pytest
    from PySide6.QtCore import QPointF
    from test_edit_repaint import _predict
    from test_edit_repaint import drag_from as _drag_from

    win = window
    qtbot.wait(100)
    study, image_id = win.session.study, win.session.current_id
    _predict(study, image_id)
    win.session.prediction_stored(image_id)
    canvas = win.canvas
    at = QPointF(canvas.mapFromScene(canvas.layer.items[6].mapToScene(QPointF(0, 0))))
    before = study.annotation(image_id).point(6)
    _drag_from(win, at + QPointF(8, 0), 30, 20)  # 8 px beside the marker (its symbol is 11 px wide)
    after = study.annotation(image_id).point(6)
    assert after.source == "moved" and (after.x, after.y) != (before.x, before.y)
    assert canvas.layer.position(6) == pytest.approx((after.x, after.y))
    # far from every point: the image pans, no point moves
    xy_before = study.annotation(image_id).xy.copy()
    range_before = canvas.view.viewRange()
    _drag_from(win, QPointF(canvas.viewport().width() - 30, canvas.viewport().height() - 30), -40, -40)
    assert np.array_equal(study.annotation(image_id).xy, xy_before, equal_nan=True)
    assert canvas.view.viewRange() != range_before


def test_only_points_still_where_the_prediction_put_them_show_its_confidence():
    import numpy as np

    from vam_gui.core.annotation import Annotation
    from vam_gui.gui.current_image import point_confidence
    from vam_gui.gui.docks import format_confidence

    class Pred:
        xy = np.array([[10.0, 10.0], [20.0, 20.0], [30.0, 30.0]])
        confidence = np.array([0.9, 0.2, 0.8])

    ann = Annotation(np.array([[10.0, 10.0], [25.0, 20.0], [30.0, 30.0]]), np.array([True, True, True]),
                     np.array(["predicted", "predicted", "placed"], dtype=object))
    conf = point_confidence(ann, Pred())
    assert conf[0] == 0.9 and np.isnan(conf[1]) and np.isnan(conf[2])
    assert format_confidence(conf[1]) == "–"
