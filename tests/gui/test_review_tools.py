"""Spine-aware review in the window: measurements dock, check flags, report."""

import csv
import io

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget


@pytest.fixture
def clean_column(window):
    """A stand-in prediction on the fixture's five bright boxes (y0 = 12 + 28 v, x 35..84)."""
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction

    study = window.session.study
    xy = np.array([(x, 12 + 28 * v + dy) for v in range(5) for dy in (0, 19) for x in (35, 84)], float)
    for image_id in study.image_ids():
        study.save_prediction(image_id, Prediction(
            xy=xy, confidence=np.full(20, 0.9, np.float32), spread=np.full(20, 2.0, np.float32),
            letterbox=Letterbox.fit(160, 120, 64), model_id="stand-in"))
    window.open_study(study.path)
    return xy


def table_value(panel, name):
    for row_name, value, _note in panel.model.rows:
        if row_name == name:
            return value
    raise KeyError(name)


def test_moving_a_corner_updates_measurements_and_flags(qtbot, window, clean_column):
    from vam_gui.core.commands import MovePoint

    win = window
    panel = win.review.panel
    win.docks["Measurements"].raise_()  # the panel draws only while it is visible
    qtbot.waitUntil(panel.isVisible)
    # the worker counts every image's flags for the worklist
    qtbot.waitUntil(lambda: len(win.worklist.model.flag_counts) == 3)
    assert set(win.worklist.model.flag_counts.values()) == {0}
    assert win.review.flags == []
    assert table_value(panel, "L3 height, left") == "19.0 px"
    # drag L3-UL (index 8) to the right of L3-UR: left/right swapped
    win.editor.push(MovePoint(win.session.current_id, 8, (95.0, 40.0)))  # what a released drag does
    kinds = {f.kind for f in win.review.flags}
    assert "corner_order" in kinds
    assert 8 in win.canvas.layer.flagged
    assert "⚑" in win.canvas.layer.items[8].label().text()
    assert table_value(panel, "L3 height, left") != "19.0 px"
    assert win.worklist.model.flag_counts[win.session.current_id] == len(win.review.flags)
    assert panel.flags.count() == len(win.review.flags)
    # G jumps to the flagged point; undo clears the flag again
    qtbot.keyClick(win, Qt.Key.Key_G)
    assert win.canvas.layer.selected in {i for f in win.review.flags for i in f.points}
    win.session.undo()
    assert win.review.flags == [] and not win.canvas.layer.flagged


def test_next_most_uncertain_and_correction_report(qtbot, window, clean_column, tmp_path):
    from vam_gui.core.commands import MovePoint, SetStatus
    from vam_gui.gui.review import ReportDialog
    from vam_gui.io.review import study_report

    win = window
    study = win.session.study
    ids = study.image_ids()
    # make the third image the least confident one
    pred = study.prediction(ids[2])
    from vam_gui.core.prediction import Prediction

    study.save_prediction(ids[2], Prediction(xy=pred.xy, confidence=np.full(20, 0.1, np.float32),
                                             spread=pred.spread, letterbox=pred.letterbox, model_id="x"))
    win.review.next_most_uncertain()
    assert win.session.current_id == ids[2]
    win.editor.push(MovePoint(ids[2], 0, (clean_column[0, 0] + 3.0, clean_column[0, 1] + 4.0)))
    assert study_report(study, reviewer="tester").points_compared == 0  # nothing finished yet: nothing to say
    win.editor.push(SetStatus(ids[2], "accepted"))
    report = study_report(study, reviewer="tester")
    kp0 = report.keypoints[0]
    assert report.points_moved == 1 and kp0.n_moved == 1 and kp0.max_px == pytest.approx(5.0)
    dialog = ReportDialog(report, win)
    qtbot.addWidget(dialog)
    path = dialog.save_csv(str(tmp_path / "report.csv"))
    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][0] and any(r[0] == "keypoint" and r[2] == "L1-UL" for r in rows)
    if not any(img.spacing for img in report.images):
        assert dialog.findChild(QTableWidget).item(0, 4).text() == "n/a"
    assert not any(i in path.read_text() for i in ids)  # pseudonyms, never the image ids
