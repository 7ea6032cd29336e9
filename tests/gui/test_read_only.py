"""A study another process is writing opens read-only in the window: a banner names the
writer, markers cannot be dragged, edits are refused and nothing is written; taking over
opens it for writing here."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_edit_repaint import drag

HOLD = ("import sys; from vam_gui.io import Study; s = Study.open(sys.argv[1]); "
        "print('holding', s.read_only, flush=True); sys.stdin.read()")


def _place_points(study_path):
    """Give the first image points to drag (written before the other writer starts)."""
    import numpy as np

    from vam_gui.core.annotation import PointState
    from vam_gui.io import Study

    with Study.open(study_path) as study:
        image_id = study.image_ids()[0]
        study.apply_edit(image_id, user="setup", kind="place", points={
            i: PointState(40.0 + 3 * (i % 4), 20.0 + 9 * (i // 4), True, "placed") for i in range(study.schema.k)})
        return image_id, np.array(study.annotation(image_id).xy)


def test_a_study_held_by_another_writer_opens_read_only_with_a_banner(qtbot, study_path, monkeypatch):
    import numpy as np
    from PySide6.QtWidgets import QMessageBox

    from vam_gui.core.commands import MovePoint
    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import configure_pyqtgraph
    from vam_gui.gui.main_window import MainWindow

    image_id, before = _place_points(study_path)
    configure_pyqtgraph()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(study_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding False"
        win = MainWindow(Settings(reviewer="tester"))
        qtbot.addWidget(win)
        win.resize(1200, 800)
        win.show()
        assert win.open_study(study_path)
        study = win.session.study
        assert study.read_only and study.lock_holder.pid == proc.pid
        assert win.banner.isVisible() and f"pid {proc.pid}" in win.banner.label.text()
        assert win.banner.take_over_button.isVisible()
        assert win.session.current_id == image_id
        qtbot.wait(100)
        assert not win.canvas.layer.editable
        drag(win, 3, 30, 20)
        assert win.canvas.layer.position(3) == pytest.approx(tuple(before[3]))
        assert np.array_equal(study.annotation(image_id).xy, before)
        assert not win.session.push(MovePoint(image_id, 3, (5.0, 5.0)))  # keys and menus go this way
        assert win.statusBar().currentMessage().startswith("Not saved: this study is being edited by")
        assert np.array_equal(study.annotation(image_id).xy, before)
        assert not win.session.stack.can_undo

        monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
        win.banner.take_over()
        study = win.session.study
        assert not study.read_only and not win.banner.isVisible() and win.canvas.layer.editable
        assert win.session.current_id == image_id
        drag(win, 3, 30, 20)
        assert not np.array_equal(study.annotation(image_id).xy[3], before[3])
        win.close()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def test_a_prediction_on_a_read_only_study_is_shown_as_not_saved(qtbot, study_path, checkpoint):
    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import configure_pyqtgraph
    from vam_gui.gui.main_window import MainWindow

    configure_pyqtgraph()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(study_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "holding False"
        win = MainWindow(Settings(reviewer="tester"))
        qtbot.addWidget(win)
        win.resize(1200, 800)
        win.show()
        assert win.open_study(study_path) and win.session.study.read_only
        image_id = win.session.current_id
        win.load_model(str(checkpoint), "cpu")
        win.predict([image_id])  # queued until the model is there
        qtbot.waitUntil(lambda: win.session.held_prediction(image_id) is not None, timeout=60000)
        qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)
        assert win.session.study.prediction(image_id) is None, "nothing written"
        assert any(item.isVisible() for item in win.canvas.layer.items), "but shown"
        assert win.current.shown.prediction is win.session.held_prediction(image_id)
        assert "not saved" in win.statusBar().currentMessage()
        win.close()
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
