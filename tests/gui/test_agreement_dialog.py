"""Review > Agreement report…: the dialog on a study two readers (and, on one image, a third one
vertebra off) have read, against ``study_agreement``'s own figures."""

from __future__ import annotations

import numpy as np
import pytest

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.measure import measure
from vam_gui.io.agreement import keypoint_rows, limits_text, study_agreement, study_measurement_pairs
from vam_gui.io.study import ImageEdit

H = "L3.height.middle"


def _column(schema, i: int) -> np.ndarray:
    """The synthetic radiograph's five bright blocks as corners (UL UR LL LR), a little taller
    and further right from image to image."""
    xy = np.zeros((schema.k, 2))
    for k, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        xy[k] = (35.0 + 2 * i + 50.0 * (c in (1, 3)), (12.0 + 28 * v + 20.0 * (c in (2, 3))) * (1 + 0.04 * i))
    return xy


def _one_level_up(schema, xy: np.ndarray) -> np.ndarray:
    """Each vertebra's labels on the next one down (the last one a step further)."""
    out, n = xy.copy(), len(schema.vertebrae)
    for v in range(n - 1):
        out[4 * v:4 * v + 4] = xy[4 * (v + 1):4 * v + 8]
    out[4 * (n - 1):] = xy[4 * (n - 1):] + (xy[4 * (n - 1):].mean(0) - xy[4 * (n - 2):4 * (n - 1)].mean(0))
    return out


def _read(study, reader: str, points: dict[str, np.ndarray]) -> None:
    edits = [ImageEdit(image_id, points={k: PointState(float(x), float(y), True, "imported")
                                         for k, (x, y) in enumerate(xy)},
                       review=ReviewState("accepted", reviewer=reader)) for image_id, xy in points.items()]
    study.apply_edits(edits, user=reader, kind="import", reader=reader)


@pytest.fixture
def read_window(window):
    study = window.session.study
    ids = study.image_ids()
    rng = np.random.default_rng(5)
    truth = {image_id: _column(study.schema, i) for i, image_id in enumerate(ids)}
    for reader in ("alice", "bob"):
        _read(study, reader, {i: xy + rng.normal(0, 1.0, xy.shape) for i, xy in truth.items()})
    _read(study, "carol", {ids[1]: _one_level_up(study.schema, truth[ids[1]])})
    return window


def _open(qtbot, window):
    from vam_gui.gui.agreement_dialog import AgreementDialog, open_agreement

    dialog = open_agreement(window)
    assert isinstance(dialog, AgreementDialog) and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert dialog.report is not None and dialog.values is not None
    return dialog


def _cells(table, row):
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_the_tables_are_the_reports_figures(qtbot, read_window, tmp_path):
    from PySide6.QtGui import QGuiApplication

    study = read_window.session.study
    dialog = _open(qtbot, read_window)
    expected = study_agreement(study, "blind")
    assert dialog.report.to_dict() == expected.to_dict()
    assert expected.readers == ["alice", "bob", "carol"] and expected.images == 3 and expected.unit == "px"
    header = dialog.header.text()
    assert "alice, bob, carol" in header and "images compared: 3" in header and "unit: px" in header
    assert "no pixel spacing" in header and "level disagreements: 1" in header
    headers, rows = keypoint_rows(expected)
    kt = dialog.keypoint_table
    assert [kt.horizontalHeaderItem(c).text() for c in range(kt.columnCount())] == headers == [
        "Keypoint", "n", "readers\nmean px", "readers\np95 px"]
    assert [_cells(kt, r) for r in range(kt.rowCount())] == rows and kt.rowCount() == study.schema.k + 1
    kp = expected.keypoints[0]
    assert _cells(kt, 1) == [kp.name, str(kp.readers.n), f"{kp.readers.mean:.2f}", f"{kp.readers.p95:.2f}"]
    # the measurements: one row each, ICC and bias [limits] per reader pair
    mt = dialog.measure_table
    assert mt.rowCount() == len(expected.measurements) > 10
    pairs = [mt.horizontalHeaderItem(c).text() for c in range(4, mt.columnCount())]
    assert pairs == [f"{p}\nbias [95% limits]" for p in ("alice vs bob", "alice vs carol", "bob vs carol")]
    for r, m in enumerate(expected.measurements):
        cells = _cells(mt, r)
        assert cells[:4] == [m.name, m.unit, str(m.n), f"{m.icc:.3f}" if np.isfinite(m.icc) else "n/a"]
        assert cells[4] == limits_text(m.pairs["alice vs bob"], m.unit)
    # the level disagreement: carol one vertebra off on the second image; a double-click shows it
    assert dialog.tabs.tabText(1) == "Level disagreements (1)" and dialog.levels.count() == 1
    off = expected.level_disagreements[0]
    assert off.image_id == study.image_ids()[1] and "carol" in off.readers
    assert read_window.session.current_id != off.image_id
    dialog.levels.itemDoubleClicked.emit(dialog.levels.item(0))
    assert read_window.session.current_id == off.image_id
    dialog.copy_text()
    assert QGuiApplication.clipboard().text() == expected.format_table()
    written = dialog.save_csv(str(tmp_path / "tables"))
    assert [p.name for p in written] == ["keypoints.csv", "measurements.csv", "level_disagreements.csv"]
    assert (tmp_path / "tables" / "keypoints.csv").read_text().startswith("keypoint,compared,n,mean_px")


def test_the_bland_altman_plot_of_the_selected_measurement(qtbot, read_window):
    study = read_window.session.study
    dialog = _open(qtbot, read_window)
    m = next(m for m in dialog.report.measurements if m.name == H)
    row = [x.name for x in dialog.report.measurements].index(H)
    dialog.measure_table.selectRow(row)
    assert dialog.selected_measurement() is m
    plot = dialog.plot
    assert list(plot.scatters) == ["alice vs bob", "alice vs carol", "bob vs carol"]
    assert len(plot.scatters["alice vs carol"].points()) == 1 and "alice vs carol" not in plot.lines  # n < 2
    ba = m.pairs["alice vs bob"]
    scatter = plot.scatters["alice vs bob"]
    x, y = scatter.getData()
    assert len(scatter.points()) == ba.n == 3  # one point per image
    a, b = study_measurement_pairs(study, "blind", H)["alice vs bob"]
    assert np.allclose(x, (a + b) / 2) and np.allclose(y, a - b)
    assert float(np.mean(y)) == pytest.approx(ba.bias)
    alice = [measure(study.schema, study.reading(i, "alice", "blind").annotation.xy).rows() for i in study.image_ids()]
    assert sorted(a) == pytest.approx(sorted(next(v for n, v, _, _ in r if n == H) for r in alice))
    assert [line.value() for line in plot.lines["alice vs bob"]] == pytest.approx([ba.bias, ba.lower, ba.upper])
    assert "px" in plot.plotItem.getAxis("bottom").labelText and "a − b" in plot.plotItem.getAxis("left").labelText
    assert plot.plotItem.titleLabel.text == H
    # the model: none in this study, so the box adds nothing; a click on a point shows its image
    dialog.with_model.setChecked(True)
    assert len(dialog.plot.scatters) == 3
    first = dialog.plot.scatters["alice vs bob"].points()[0]
    dialog.plot._clicked(None, [first])
    assert read_window.session.current_id == first.data()
    # another phase recomputes: the imports were accepted, so the revised readings are the same
    dialog.phase.setCurrentIndex(dialog.phase.findData("revised"))
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert dialog.report.phase_label == "revised" and dialog.report.images == 3


def test_cannot_run_says_why_in_one_line_and_close_drops_the_job(qtbot, window):
    from vam_gui.gui.agreement_dialog import NO_READERS, NO_STUDY, AgreementDialog, open_agreement

    review = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Review")
    action = next(a for a in review.actions() if a.text() == "Agr&eement report…")
    action.trigger()
    assert window.statusBar().currentMessage() == NO_READERS and "\n" not in NO_READERS
    assert window.findChild(AgreementDialog) is None
    study = window.session.study
    _read(study, "alice", {study.image_ids()[0]: _column(study.schema, 0)})
    _read(study, "bob", {study.image_ids()[0]: _column(study.schema, 0) + 1.0})
    action.trigger()
    dialog = window.findChild(AgreementDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.reject()  # closed at once: whatever the worker returns is dropped
    assert not dialog.running() and not dialog.isVisible()
    assert window.workers.wait(30000)
    qtbot.wait(50)
    assert dialog.report is None
    action.trigger()  # opened again: the same dialog computes anew
    assert window.findChild(AgreementDialog) is dialog and dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert dialog.report.images == 1

    class NoStudy:  # a window with no study open: only its session and status bar are asked
        session = type("Session", (), {"study": None})()

        def statusBar(self):
            return window.statusBar()

    assert open_agreement(NoStudy()) is None
    assert window.statusBar().currentMessage() == NO_STUDY


def test_a_reader_still_reading_blind_is_not_shown_the_report(qtbot, read_window):
    from vam_gui.gui.agreement_dialog import AgreementDialog

    win = read_window
    win.session.reviewer = "dave"
    win.session.set_blind_first(True)
    assert win.session.blind
    win.reading.show_agreement()
    assert "still to read blind first" in win.statusBar().currentMessage()
    assert win.findChild(AgreementDialog) is None
