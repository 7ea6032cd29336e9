"""The banner over a study this window cannot write: who holds it (another window or process:
user, host, pid, since when) or why (a read-only file, folder or mount), that edits are not
saved, and — when another writer holds it — a button to take it over. While it shows, markers
cannot be dragged and every edit is refused by the session in the status bar."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox, QPushButton, QToolBar

from vam_gui.gui.messages import headless, warn
from vam_gui.session import ReviewSession, Topic


class ReadOnlyBanner(QToolBar):
    def __init__(self, window: QMainWindow, session: ReviewSession) -> None:
        super().__init__("Read-only", window)
        self.setObjectName("read-only-banner")
        self.setMovable(False)
        self.setFloatable(False)
        self.setStyleSheet("QToolBar { background: #fff3c4; border-bottom: 1px solid #d9b84a; }"
                           "QLabel { color: #5a4500; padding: 4px 8px; }")
        self.window_ = window
        self.session = session
        self.label = QLabel("", self)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.addWidget(self.label)
        self.take_over_button = QPushButton("Take over…", self)
        self.take_over_button.setToolTip("Open this study for writing here; the other window's next edit will "
                                         "be refused and it will say so")
        self.take_over_button.clicked.connect(self.take_over)
        self._take_over_action = self.addWidget(self.take_over_button)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self)
        window.insertToolBarBreak(self)
        self.setVisible(False)
        session.subscribe(lambda _event: self.refresh(), (Topic.STUDY_OPENED, Topic.STUDY_CLOSED))
        self.refresh()  # built while a study opens: that event went out before we subscribed

    def refresh(self) -> None:
        study = self.session.study
        read_only = study is not None and study.read_only
        layer = getattr(getattr(self.window_, "canvas", None), "layer", None)
        if layer is not None:
            layer.set_editable(not read_only)
        if not read_only:
            self.setVisible(False)
            return
        holder = study.lock_holder
        why = f"being edited by {holder}" if holder is not None else (study.read_only_reason or "read-only")
        self.label.setText(f"<b>Read-only</b> — {study.path.name} is {why}. You can view and export; "
                           "edits and predictions are not saved here.")
        self._take_over_action.setVisible(holder is not None)
        self.setVisible(True)

    def take_over(self) -> None:
        from vam_gui.io import StudyError

        study = self.session.study
        if study is None or study.lock_holder is None:
            return
        if not headless():
            answer = QMessageBox.question(
                self.window_, "Take over the study",
                f"{study.path.name} is being edited by {study.lock_holder}.\n\nTake it over? That window's "
                "next edit will be refused (nothing it saved is lost).",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
        path, image_id = study.path, self.session.current_id
        try:
            self.session.open(path, take_over=True)
        except StudyError as exc:
            warn(self.window_, "Cannot take over the study", str(exc))
            return
        if image_id is not None and image_id in self.session.study.image_ids():
            self.session.show_image(image_id)
