"""Model > Train on accepted images… on the real window with a tiny model: the export, the run
as a child process, the live plot, cancel (SIGTERM: the run saves), loading the new model and
re-predicting the unreviewed images, and a killed run said in one message with the window
carrying on."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from vam_gui.core.annotation import PointState, ReviewState


def model_menu_action(win, text):
    menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Model")
    return next(a for a in menu.actions() if a.text() == text)


def _accept_two(study) -> list[str]:
    """Label and accept the first two images (reviewers tester and other); the third stays unreviewed."""
    ids = study.image_ids()
    k = len(study.schema.keypoints)
    for image_id, reviewer in zip(ids[:2], ("tester", "other")):
        points = {}
        for i in range(k):
            v, corner = divmod(i, 4)
            y = 12 + (v % 5) * 28 + (20 if corner >= 2 else 0)
            x = 35 + (50 if corner % 2 else 0)
            points[i] = PointState(float(x), float(y), True, "placed")
        study.apply_edit(image_id, user=reviewer, kind="move", points=points,
                         review=ReviewState("accepted", None, reviewer))
    return ids


@pytest.fixture
def trainer(qtbot, window, checkpoint):
    """The window with the tiny model loaded, two accepted images, and the train dialog open."""
    from vam_gui.gui.train_dialog import TrainDialog

    win = window
    ids = _accept_two(win.session.study)
    win.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: win.predictor is not None, timeout=60000)
    model_menu_action(win, "&Train on accepted images…").trigger()
    dialog = win.findChild(TrainDialog)
    assert dialog is not None and dialog.isVisible()
    assert dialog.init.isChecked(), "starts from the loaded model by default"
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.store_size = 128
    # one image to train on, one to validate with (the last --val-fraction is the one taken)
    dialog.extra_args = ["--batch-size", "1", "--threads", "2", *_one_in_validation(win.session.study, ids)]
    yield win, dialog, ids
    if dialog.running():
        dialog.process.kill()
        dialog.process.waitForFinished(10000)


def _one_in_validation(study, ids) -> list[str]:
    """--val-fraction that puts exactly one of the two accepted images in the validation split
    (the split is a hash of the exported item id, a pseudonym of the study's own uid)."""
    from vam_gui.io.export.pseudonyms import Namer
    from vam_gui.model.dataset import split_of

    namer = Namer(study.study_uid)
    infos = {i.image_id: i for i in study.list_images()}
    shares = []
    for image_id in ids[:2]:
        item = namer.item_id(image_id, infos[image_id].rel_path)
        lo, hi = 0.0, 1.0
        for _ in range(30):  # bisect the share at which this item turns "val"
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if split_of({"id": item}, mid) == "val" else (mid, hi)
        shares.append(hi)
    return ["--val-fraction", f"{sum(shares) / 2:.9f}"]


def _boxes(widget, name):
    return [b for b in widget.findChildren(QMessageBox) if b.isVisible() and b.objectName() == name]


def test_a_run_plots_its_points_and_its_model_loads_and_repredicts(qtbot, trainer):
    from vam_gui.model.checkpoint import read_config

    win, dialog, ids = trainer
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("epochs"))
    dialog.budget.setValue(2)
    dialog.start_button.click()
    qtbot.waitUntil(dialog.running, timeout=30000)
    run = dialog.run_dir
    assert run.parent == Path(win.session.study.path).parent / "review-runs", "the run sits next to the study"
    assert (run / "dataset" / "manifest.json").is_file()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=60000)
    assert not _boxes(dialog, "training_stopped"), list(dialog.stderr_tail)
    assert dialog.plot.points == 2, "one point per epoch"
    assert len(dialog.plot.error.getData()[0]) == 2
    assert dialog.status.text().startswith("Finished")
    best = dialog.checkpoint()
    assert best == run / "best.safetensors"
    provenance = read_config(best).training["provenance"]
    assert provenance["study"] == "review" and provenance["images"] == 2
    assert provenance["reviewers"] == {"tester": 1, "other": 1}
    assert win.session.study.prediction(ids[2]) is None
    assert dialog.load_button.isEnabled()
    dialog.load_button.click()
    qtbot.waitUntil(lambda: win.inference.checkpoint == str(best) and win.predictor is not None, timeout=60000)
    qtbot.waitUntil(lambda: win.session.study.prediction(ids[2]) is not None, timeout=60000)
    assert win.session.study.prediction(ids[2]).model_id == win.predictor.model_id
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def test_cancel_stops_the_run_and_it_saves(qtbot, trainer):
    win, dialog, _ids = trainer
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("minutes"))
    dialog.budget.setValue(10)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.plot.points >= 1, timeout=60000)
    assert dialog.running() and dialog.cancel_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.running(), timeout=30000)
    assert dialog.process.exitCode() == 130
    assert dialog.status.text().startswith("Cancelled")
    assert (dialog.run_dir / "last.safetensors").is_file()
    assert dialog.load_button.isEnabled() and dialog.start_button.isEnabled()
    assert not _boxes(dialog, "training_stopped")


def test_cancel_before_the_first_step_is_no_failure(qtbot, trainer):
    _win, dialog, _ids = trainer
    dialog.start_button.click()
    qtbot.waitUntil(dialog.running, timeout=30000)
    dialog.cancel_button.click()  # the child is still importing torch: SIGTERM ends it unsaved
    qtbot.waitUntil(lambda: not dialog.running(), timeout=30000)
    assert dialog.status.text().startswith("Cancelled")
    assert not _boxes(dialog, "training_stopped")
    assert dialog.start_button.isEnabled()


def test_a_killed_run_is_said_once_and_the_window_carries_on(qtbot, trainer):
    from vam_gui.model.checkpoint import read_config

    win, dialog, ids = trainer
    dialog.budget.setValue(10)
    dialog.start_button.click()
    # an epoch ended and its checkpoint is on disk (the metrics line can come a moment before it)
    qtbot.waitUntil(lambda: dialog.plot.points >= 1 and dialog.checkpoint() is not None, timeout=60000)
    dialog.process.kill()
    qtbot.waitUntil(lambda: bool(_boxes(dialog, "training_stopped")), timeout=30000)
    boxes = _boxes(dialog, "training_stopped")
    assert len(boxes) == 1
    assert "was killed" in boxes[0].text() and "The window is unaffected" in boxes[0].text()
    boxes[0].close()
    assert read_config(dialog.checkpoint()).training["provenance"]["images"] == 2, "saved before the kill"
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    win.predict([ids[2]])  # the window still works: it predicts with the model it had
    qtbot.waitUntil(lambda: win.session.study.prediction(ids[2]) is not None, timeout=60000)
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def test_closing_the_window_during_a_run_asks_and_stops_it_saved(qtbot, trainer, monkeypatch):
    from vam_gui.gui import model_controls

    win, dialog, _ids = trainer
    dialog.budget_kind.setCurrentIndex(dialog.budget_kind.findData("minutes"))
    dialog.budget.setValue(10)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.plot.points >= 1, timeout=60000)
    asked = []
    monkeypatch.setattr(model_controls, "confirm", lambda *a, **k: asked.append(a[2]) or False)
    assert not win.close(), "keep the window open: nothing closes, the run goes on"
    assert win.isVisible() and dialog.running() and "A training run is going on" in asked[0]
    monkeypatch.setattr(model_controls, "confirm", lambda *a, **k: True)
    assert win.close()
    assert not dialog.running() and dialog.process.exitCode() == 130, "stopped with SIGTERM: it saved"
    assert (dialog.run_dir / "last.safetensors").is_file()
