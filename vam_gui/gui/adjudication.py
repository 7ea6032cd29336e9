"""Review > Adjudicate readers… (Ctrl+J): the consensus of an image decided from its readers.

While adjudicating, the canvas shows every reader who has accepted their blind reading of the
shown image, as that reader's latest reading (revised), each in its own colour and symbol, not
editable, named in a legend; the consensus is the editable layer (the session's stack on the
plain study, whatever blind-first says). Take <reader>'s points (the whole image), Take
<reader>'s selected point, and Take the mean of the readers are each one undoable ``SetPoints``
command writing the consensus with source "moved"; then the adjudicator drags points as usual
and accepts (A: the consensus status). Triggering the action again, or Leave adjudication, goes
back to the mode before (blind-first reading or the consensus). The mode stays on from image to
image; an image with fewer than two accepted readings shows what it has.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QToolBar, QToolButton

from vam_gui.session import Event, ReviewSession, Topic


class Adjudication(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, menu: QMenu, action) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.active = False
        self.action = action(menu, "A&djudicate readers…", self.toggle, "Ctrl+J", checkable=True,
                             tip="Show every reader's accepted reading and decide the consensus from them")
        self.take_menu = menu.addMenu("Ta&ke from readers")
        self.take_menu.setEnabled(False)
        self.readings: dict = {}  # reader -> Reading (latest, accepted) of the shown image, while adjudicating
        self.marks = None  # gui/overlays.ReaderMarks, on first use
        self.bar: QToolBar | None = None
        # Not on edits of the consensus (no query per drag): readers' acceptances come as MODEL_REVEALED.
        session.subscribe(self._on_event, (Topic.STUDY_OPENED, Topic.STUDY_CLOSED, Topic.IMAGE_CHANGED,
                                           Topic.MODEL_REVEALED))
        self._update_action()

    def _say(self, message: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(message, ms)

    def accepted_readings(self, image_id: str | None) -> dict:
        """reader -> latest reading, of the readers who accepted their blind reading of the image."""
        study = self.session.study
        if study is None or image_id is None:
            return {}
        latest = study.readings("latest", [image_id]).get(image_id, {})
        return {r: reading for r, reading in latest.items() if reading.phase == "revised"}

    def _update_action(self) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(self.active)
        self.action.blockSignals(False)
        enough = len(self.accepted_readings(self.session.current_id)) >= 2
        self.action.setEnabled(self.active or enough)

    def _on_event(self, event: Event) -> None:
        if event.topic is Topic.STUDY_CLOSED:
            self.leave()
        elif event.topic is Topic.IMAGE_CHANGED and self.active:
            if self._own_blind_reading(event.image_id):
                self.leave()  # back to reading blind: this image's model stays hidden
                self._say("Adjudication left: you have not accepted your own blind reading of this image")
            else:
                self._show()
        self._update_action()

    def _own_blind_reading(self, image_id: str | None) -> bool:
        """Whether the reviewer reads this image blind and has not accepted it (blind-first)."""
        session, study = self.session, self.session.study
        return (study is not None and image_id is not None and study.blind_first
                and session.reviewer in study.readers() and study.reading_phase(image_id, session.reviewer) == "blind")

    # ------------------------------------------------------------------ mode
    def toggle(self, _checked: bool = False) -> None:
        if self.active:
            self.leave()
        else:
            self.enter()

    def enter(self) -> None:
        session, image_id = self.session, self.session.current_id
        if session.study is None or image_id is None:
            self._update_action()
            return
        if self._own_blind_reading(image_id):
            self._say("Adjudication shows the readers and the model: mark your own blind reading of this image "
                      "accepted (A) first")
            self._update_action()
            return
        if len(self.accepted_readings(image_id)) < 2:
            self._say("Adjudication needs two readers who accepted their reading of this image")
            self._update_action()
            return
        self.window.ensure_body()
        self.active = True
        if session.reader is not None:
            session.set_reader(None)  # the consensus is the editable layer
        self._show()
        self._update_action()
        self._say("Adjudicating: the readers' points are fixed marks; drag or take points into the consensus, "
                  "then accept it (A)")

    def leave(self) -> None:
        if not self.active:
            return
        self.active = False
        self.readings = {}
        if self.marks is not None:
            self.marks.clear()
        if self.bar is not None:
            self.bar.setVisible(False)
        self.take_menu.clear()
        self.take_menu.setEnabled(False)
        study = self.session.study
        if study is not None and self.session.reader != (back := self.session.default_reader(study)):
            self.session.set_reader(back)
        self._update_action()

    def _show(self) -> None:
        """The shown image's readers: marks, legend, the take actions, the bar."""
        from vam_gui.gui.overlays import ReaderMarks

        canvas = self.window.canvas
        if self.marks is None or self.marks.view is not canvas.view:
            self.marks = ReaderMarks(canvas.view)
        self.readings = self.accepted_readings(self.session.current_id)
        self.marks.show({r: (rd.annotation.xy, rd.annotation.visible, rd.phase) for r, rd in self.readings.items()})
        self.take_menu.clear()
        for reader in sorted(self.readings):
            self.take_menu.addAction(f"Take {reader}'s points", lambda r=reader: self.take(r))
            self.take_menu.addAction(f"Take {reader}'s selected point", lambda r=reader: self.take(r, selected=True))
        self.take_menu.addSeparator()
        self.take_menu.addAction("Take the &mean of the readers", self.take_mean)
        self.take_menu.setEnabled(bool(self.readings))
        self._bar().setVisible(True)
        n = len(self.readings)
        self.bar_label.setText(f"<b>Adjudicating</b>: {n} reader(s) accepted this image "
                               f"({', '.join(sorted(self.readings)) or 'none'}); their points are fixed marks, the "
                               "consensus is what you edit and accept (A).")

    def _bar(self) -> QToolBar:
        if self.bar is None:
            bar = self.bar = QToolBar("Adjudication", self.window)
            bar.setObjectName("adjudication-bar")
            bar.setMovable(False)
            bar.setStyleSheet("QToolBar { background: #efe4ff; border-bottom: 1px solid #9b7fd1; }"
                              "QLabel { color: #3b1f6e; padding: 4px 8px; }")
            self.bar_label = QLabel("", bar)
            bar.addWidget(self.bar_label)
            take = QToolButton(bar)
            take.setText("Take from readers")
            take.setMenu(self.take_menu)
            take.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            bar.addWidget(take)
            bar.addAction("Take the mean", self.take_mean)
            bar.addAction("Leave adjudication", self.leave)
            self.window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
            self.window.insertToolBarBreak(bar)
        return self.bar

    # ------------------------------------------------------------------ commands
    def take(self, reader: str, *, selected: bool = False) -> bool:
        """The consensus takes ``reader``'s points (``selected``: only the selected point)."""
        from vam_gui.core.commands import SetPoints
        from vam_gui.core.gestures import taken_points

        image_id, reading = self.session.current_id, self.readings.get(reader)
        if not self.active or image_id is None or reading is None:
            self._say(f"{reader} has no accepted reading of this image")
            return False
        indices, label = None, f"take {reader}'s points"
        if selected:
            index = self.window.canvas.layer.selected
            if index is None:
                self._say("Select a point first")
                return False
            indices, label = [index], f"take {reader}'s {self.session.study.schema.keypoints[index]}"
        points = taken_points(reading.annotation.xy, reading.annotation.visible, indices)
        return self.window.editor.push(SetPoints(image_id, points, label))

    def take_mean(self) -> bool:
        from vam_gui.core.commands import SetPoints
        from vam_gui.core.gestures import mean_points

        image_id = self.session.current_id
        if not self.active or image_id is None or not self.readings:
            self._say("No readers' readings to average on this image")
            return False
        anns = [rd.annotation for rd in self.readings.values()]
        points = mean_points([a.xy for a in anns], [a.visible for a in anns])
        return self.window.editor.push(SetPoints(image_id, points, f"take the mean of {len(anns)} readers"))
