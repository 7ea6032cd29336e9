"""File > Check study file: the whole-file check runs in a worker, on request, and says what it found."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def _check(qtbot, window, name: str) -> QMessageBox:
    next(a for a in window.actions() if a.text() == "&Check study file…").trigger()
    qtbot.waitUntil(lambda: window.findChild(QMessageBox, name) is not None, timeout=20000)
    window.workers.wait()
    return window.findChild(QMessageBox, name)


def test_a_sound_study_is_said_sound(qtbot, window):
    box = _check(qtbot, window, "integrity-ok")
    assert window.session.study.path.name in box.text() and "no damage" in box.text()
    box.close()


def test_problems_found_are_listed(qtbot, window, monkeypatch):
    study = window.session.study
    monkeypatch.setattr(study, "check_integrity", lambda full=False: ["*** in database main ***", "Page 7: bad"])
    box = _check(qtbot, window, "integrity-damaged")
    assert "2 problem(s)" in box.text() and "Page 7: bad" in box.text()
    box.close()


def test_without_a_study_nothing_runs(qtbot, window):
    window.session.close()
    next(a for a in window.actions() if a.text() == "&Check study file…").trigger()
    assert not window.workers.busy() and "No study is open" in window.statusBar().currentMessage()
