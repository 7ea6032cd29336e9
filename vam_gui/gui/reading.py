"""Reader studies in the window: blind-first reading and the way into adjudication.

In a blind-first study (``study.blind_first``) the reviewer reads as a reader: the session's
stack edits their own reading (``ReviewSession.reader``) and, until they accept an image
(Review > Mark accepted, A), nothing of the model is shown for it: no prediction, no heatmap
(View > Heatmap overlay and the view panel's overlay controls are disabled and say why), no
confidence, and no consensus or other reader's points; the worklist hides its confidence,
spread and flag columns and its uncertainty sorts for the whole study. Model actions that would
show the model refuse in one status-bar line (``refuse_if_hidden``). A banner says whose
reading it is. Accepting keeps the blind reading (its edits leave the undo stack: the session)
and shows the prediction (hollow rings) and heatmap beside the reader's points; later edits go
to the revised reading.

Review > Blind-first reading turns the mode on or off for the study (off asks first when the
study has readers). Review > Adjudicate readers… is ``gui/adjudication.py``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QMainWindow, QToolBar

from vam_gui.gui.messages import confirm, warn
from vam_gui.session import Event, ReviewSession, Topic

HIDDEN_TIP = "Hidden while you read blind: mark this image accepted (A) to see the model"


def refuse_if_hidden(window: QMainWindow, session: ReviewSession, what: str) -> bool:
    """True (and one status-bar line) when ``what`` would show the model of the shown image
    before its reader has accepted it."""
    if not session.model_hidden():
        return False
    window.statusBar().showMessage(f"Reading blind: {what} would show the model. Mark this image "
                                   "accepted (A) first; your blind reading is kept.", 8000)
    return True


def refuse_if_blind(window: QMainWindow, session: ReviewSession, what: str) -> bool:
    """True (and one status-bar line) when ``what`` would show the model of other images: in
    blind-first reading, whatever the shown image."""
    if not session.blind:
        return False
    window.statusBar().showMessage(f"Reading blind: {what} is off while the study is blind-first "
                                   "(Review > Blind-first reading).", 8000)
    return True


class ReadingBanner(QToolBar):
    """One line over the canvas naming the reader and whether the model is hidden."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__("Reading", window)
        self.setObjectName("reading-banner")
        self.setMovable(False)
        self.setFloatable(False)
        self.setStyleSheet("QToolBar { background: #dcecff; border-bottom: 1px solid #7aa7d9; }"
                           "QLabel { color: #0b3366; padding: 4px 8px; }")
        self.label = QLabel("", self)
        self.addWidget(self.label)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self)
        window.insertToolBarBreak(self)
        self.setVisible(False)

    def say(self, html: str | None) -> None:
        self.label.setText(html or "")
        self.setVisible(bool(html))


class ReadingControls(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, menu, action) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self._banner: ReadingBanner | None = None  # made when first needed: on its own line, below the toolbar
        menu.addSeparator()
        self.blind_action = action(menu, "&Blind-first reading", self.toggle_blind_first, checkable=True,
                                   tip="Read as yourself: the model and other readers stay hidden on each "
                                       "image until you accept it")
        from vam_gui.gui.adjudication import Adjudication

        self.adjudication = Adjudication(window, session, menu, action)
        action(menu, "Agr&eement report…", self.show_agreement,
               tip="Agreement between the study's readers and with the model: distances, reader σ, ICC and "
                   "Bland-Altman per measurement, level disagreements")
        self._heat_tip: str | None = None
        session.subscribe(self._on_event, (Topic.STUDY_OPENED, Topic.STUDY_CLOSED, Topic.IMAGE_CHANGED,
                                           Topic.READER_CHANGED, Topic.MODEL_REVEALED))
        # after the window's own handlers (subscribed before): the worklist shows a reader's progress
        session.subscribe(self._reader_rows, (Topic.STUDY_OPENED, Topic.READER_CHANGED, Topic.STATUS_CHANGED))
        self.update()

    def _on_event(self, event: Event) -> None:
        if event.topic is Topic.IMAGE_CHANGED and not self.session.blind:
            return  # only a blind-first reading shows anything per image (model hidden, banner)
        self.update()
        if event.topic is Topic.MODEL_REVEALED and event.image_id == self.session.current_id:
            self.window.statusBar().showMessage(
                "Blind reading accepted and kept (its edits can no longer be undone); the model is shown. "
                "Edits now go to your revised reading; A again goes on.", 12000)

    def show_agreement(self) -> None:
        """Review > Agreement report… (gui/agreement_dialog.py); a reader still reading blind is not
        shown the other readers and the model through it."""
        session, study = self.session, self.session.study
        if study is not None and session.blind:
            read = study.readings("blind")
            unread = sum(1 for i in study.image_ids()
                         if (r := read.get(i, {}).get(session.reader or "")) is None or r.status != "accepted")
            if unread:
                self.window.statusBar().showMessage(
                    f"The agreement report shows the other readers and the model: {unread} image(s) still to "
                    "read blind first", 8000)
                return
        from vam_gui.gui.agreement_dialog import open_agreement

        open_agreement(self.window)

    def _reader_rows(self, event: Event) -> None:
        """A reader's worklist shows their own status per image (unreviewed until they read it),
        not the consensus's; back to the consensus when the reader mode ends."""
        from dataclasses import replace

        session, study, w = self.session, self.session.study, self.window
        if study is None or getattr(w, "canvas", None) is None:
            return
        reader = session.reader
        if event.topic is Topic.STATUS_CHANGED and event.image_id is not None:
            if reader is not None:
                reading = study.reading(event.image_id, reader)
                info = study.image_info(event.image_id)
                w.worklist.model.update_image(replace(info, reviewer=reader if reading else None,
                                                      status=reading.status if reading else "unreviewed"))
            return
        if reader is None and event.topic is Topic.STUDY_OPENED:
            return  # the window showed the consensus
        infos = study.list_images()
        if reader is not None:
            read = {i: r[reader] for i, r in study.readings("latest").items() if reader in r}
            infos = [replace(i, status=read[i.image_id].status if i.image_id in read else "unreviewed",
                             reviewer=reader if i.image_id in read else None) for i in infos]
        w.worklist.set_images(infos, study_uid=study.study_uid, hide_identifiers=study.hide_identifiers)
        if session.current_id is not None:
            w.worklist.select(session.current_id)

    @property
    def banner(self) -> ReadingBanner:
        if self._banner is None:
            self._banner = ReadingBanner(self.window)
        return self._banner

    # ------------------------------------------------------------------ state
    def update(self) -> None:
        """Banner, Blind-first action, heatmap controls and worklist columns as the session is."""
        session, study = self.session, self.session.study
        self.blind_action.blockSignals(True)
        self.blind_action.setChecked(bool(study is not None and study.blind_first))
        self.blind_action.blockSignals(False)
        self.blind_action.setEnabled(bool(study is not None and study.has_readers and not study.read_only))
        hidden = session.model_hidden()
        self._set_heatmap_controls(not hidden)
        w = self.window
        if getattr(w, "canvas", None) is not None:
            w.worklist.set_model_columns(not session.blind)
        if session.blind and session.current_id is not None:
            self.banner.say(f"<b>Reading blind as {session.reader}</b>: the model is hidden until you accept "
                            "this image (A)." if hidden else
                            f"<b>Reading as {session.reader}</b>: blind reading accepted and kept; the "
                            "model's prediction (hollow rings) is shown, your edits go to your revised reading.")
        elif self._banner is not None:
            self._banner.say(None)

    def _set_heatmap_controls(self, enabled: bool) -> None:
        w = self.window
        act = getattr(w, "heat_action", None)
        if act is None:  # the View menu is built after the Review menu
            return
        if self._heat_tip is None:
            self._heat_tip = act.toolTip()
        act.setEnabled(enabled)
        act.setToolTip(self._heat_tip if enabled else HIDDEN_TIP)
        panel = getattr(w, "view_panel", None)
        if panel is not None:
            for widget in (panel.overlay, panel.channel, panel.colormap, panel.opacity):
                widget.setEnabled(enabled)
                widget.setToolTip("" if enabled else HIDDEN_TIP)

    # ------------------------------------------------------------------ Review > Blind-first reading
    def toggle_blind_first(self, on: bool) -> None:
        from vam_gui.io import StudyError

        study = self.session.study
        if study is None:
            self.update()
            return
        if not on and study.readers() and not confirm(
                self.window, "Turn blind-first off",
                f"This study has readers ({', '.join(study.readers())}). With blind-first off this window edits "
                "the consensus and shows the model on every image; the readers' readings are kept.",
                "Turn it off", "Keep it on"):
            self.update()
            return
        self.adjudication.leave()
        try:
            self.session.set_blind_first(on)
        except StudyError as exc:
            warn(self.window, "Cannot change blind-first", str(exc))
        self.update()
        self.window.statusBar().showMessage(
            f"Blind-first on: you read as {self.session.reviewer}; the model is hidden on each image until you "
            "accept it" if on else "Blind-first off: this window edits the consensus", 8000)
