"""File > Export… and File > Import… on the real window: the dialogs, the worker, the refresh."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtWidgets import QDialogButtonBox

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.io.export import JSON_FILE, ExportOptions, export_study


def file_menu_action(win, text):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&File")
    return next(a for a in menu.actions() if a.text() == text)


def wait_idle(qtbot, win):
    qtbot.waitUntil(lambda: not win.workers.busy() and not win.workers.jobs, timeout=30000)


def test_file_export_writes_json_through_the_worker(qtbot, window, tmp_path):
    from vam_gui.gui.export_dialog import ExportDialog

    win = window
    first = win.session.study.image_ids()[0]
    win.session.study.apply_edit(first, user="tester", kind="move", points={0: PointState(10.5, 20.25, True, "placed")},
                         review=ReviewState("accepted", None, "tester"))
    file_menu_action(win, "&Export…").trigger()
    dialog = win.findChild(ExportDialog)
    assert dialog is not None and dialog.isVisible()
    dialog.format.setCurrentIndex(dialog.format.findData("json"))
    assert not dialog.size.isEnabled()  # S and sigma only matter for a dataset
    out = tmp_path / "exported"
    dialog.folder.setText(str(out))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: (out / JSON_FILE).is_file(), timeout=30000)
    wait_idle(qtbot, win)
    qtbot.waitUntil(lambda: "1 image(s) exported" in win.statusBar().currentMessage(), timeout=5000)
    doc = json.loads((out / JSON_FILE).read_text())
    assert doc["format"] == "vam-gui-labels" and len(doc["images"]) == 1  # accepted only, by default
    kp = doc["images"][0]["keypoints"][0]
    assert (kp["x"], kp["y"], kp["source"]) == (10.5, 20.25, "placed")
    assert "spine0" not in (out / JSON_FILE).read_text()  # de-identified: no original file names
    assert not win.workers.busy()


def test_file_import_refreshes_worklist_points_and_undo(qtbot, window, tmp_path):
    from vam_gui.core.commands import MovePoint
    from vam_gui.gui.export_dialog import ImportDialog

    win = window
    study = win.session.study
    shown = win.session.current_id
    xy = np.stack([np.linspace(20, 100, 20), np.linspace(10, 150, 20)], axis=1)
    study.apply_edit(shown, user="x", kind="move",
                     points={i: PointState(x, y, True, "moved") for i, (x, y) in enumerate(xy)},
                     review=ReviewState("accepted", "fine", "x"))
    export_study(study, "json", tmp_path / "labels", ExportOptions())
    # the reviewer goes on editing; then brings the exported labels back
    win.session.stack.push(MovePoint(shown, 3, (5.0, 5.0)))
    assert win.session.stack.can_undo and study.status(shown).status == "accepted"
    study.apply_edit(shown, user="x", kind="status", review=ReviewState("flagged", "oops", "x"))

    file_menu_action(win, "&Import labels…").trigger()
    dialog = win.findChild(ImportDialog)
    dialog.format.setCurrentIndex(dialog.format.findData("json"))
    dialog.paths.setText(str(tmp_path / "labels" / JSON_FILE))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: study.annotation(shown).point(3).x == pytest.approx(xy[3, 0]), timeout=30000)
    wait_idle(qtbot, win)
    qtbot.waitUntil(lambda: "1 image(s) imported" in win.statusBar().currentMessage(), timeout=5000)
    row = win.worklist.model.rows[win.worklist.model.row_of(shown)]
    assert row.status == "accepted" and row.comment == "fine"  # the worklist shows the imported status
    assert win.canvas.layer.position(3) == pytest.approx(tuple(xy[3]))  # the canvas repainted
    assert not win.session.stack.can_undo and not win.undo_action.isEnabled()
    assert study.edit_log()[-1].kind == "import"


def test_export_dialog_offers_images_key_file_and_dicom_sr(qtbot, window, tmp_path):
    from pathlib import Path

    from vam_gui.gui.export_dialog import ask_export
    from vam_gui.io.export import default_export_folder

    dialog = ask_export(window, window.session)
    assert dialog.folder.text() == str(default_export_folder(window.session.study))
    assert not dialog.sr_note.isVisible()
    dialog.format.setCurrentIndex(dialog.format.findData("dicom-sr"))
    assert dialog.sr_note.isVisible() and "identifiers" in dialog.sr_note.text()
    dialog.format.setCurrentIndex(dialog.format.findData("coco"))
    assert dialog.write_images.isEnabled() and dialog.write_images.isChecked()
    dialog.key_file.setText(str(tmp_path / "key.csv"))
    options = dialog.options()
    assert options.write_images and options.key_file == Path(tmp_path / "key.csv")
    dialog.keep_names.setChecked(True)  # original names: no copies, no key
    assert not dialog.write_images.isEnabled() and dialog.options().key_file is None
    dialog.close()
