"""The reviewer's input turned into commands: a released drag, arrow-key nudges, missing,
accept prediction, shift levels, accept and flag. Each builds one command and pushes it on
the session; the session's events repaint (conventions 3 and 13)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMainWindow

from vam_gui.core.settings import Settings, save_settings
from vam_gui.gui.messages import ask_text
from vam_gui.session import ReviewSession


class Editor(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, settings: Settings) -> None:
        super().__init__(window)
        self.window = window  # the parent of its dialogs, and its status bar
        self.session = session
        self.settings = settings

    def _say(self, message: str, ms: int = 4000) -> None:
        self.window.statusBar().showMessage(message, ms)

    def push(self, command) -> bool:
        """Edits are signed: before the first one, ask for the reviewer's name (once, kept in
        the settings; the login name is the default)."""
        if self.session.stack is None:
            return False
        if not self.settings.reviewer:
            from vam_gui.core.commands import default_user

            name, ok = ask_text(self.window, "Reviewer", "Your name, written on every edit:", default_user())
            self.settings.reviewer = (name.strip() if ok else "") or default_user()
            self.session.reviewer = self.settings.reviewer
            try:
                save_settings(self.settings)
            except OSError as exc:
                self._say(f"could not save settings: {exc}", 6000)
        return self.session.push(command)

    def _edit_current(self, make: Callable[[str], object]) -> bool:
        """Push ``make(current image id)`` if an image is shown."""
        image_id = self.session.current_id
        return image_id is not None and self.push(make(image_id))

    def _selected(self) -> int | None:
        """The selected point of the shown image, if any."""
        canvas = getattr(self.window, "canvas", None)
        if canvas is None or self.session.current_id is None:
            return None
        return canvas.layer.selected

    # ------------------------------------------------------------------ points
    def point_moved(self, index: int, x: float, y: float) -> None:
        """A drag was released: one command (conventions 4)."""
        from vam_gui.core.commands import MovePoint

        self._edit_current(lambda image_id: MovePoint(image_id, index, (x, y)))

    def nudge(self, dx: float, dy: float) -> None:
        from vam_gui.core.commands import MovePoint

        i = self._selected()
        pos = self.window.canvas.layer.position(i) if i is not None else None
        if pos is not None:
            self._edit_current(lambda image_id: MovePoint(image_id, i, (pos[0] + dx, pos[1] + dy)))

    def toggle_missing(self) -> None:
        from vam_gui.core.commands import SetVisible

        i = self._selected()
        if i is None:
            self._say("Select a point first")
            return
        visible = bool(self.session.edited.annotation(self.session.current_id).visible[i])
        self._edit_current(lambda image_id: SetVisible(image_id, i, not visible))

    def accept_prediction(self) -> None:
        from vam_gui.core.commands import AcceptPrediction
        from vam_gui.gui.reading import refuse_if_hidden

        if not refuse_if_hidden(self.window, self.session, "accepting the prediction"):
            self._edit_current(AcceptPrediction)

    def shift_levels(self, delta: int) -> None:
        from vam_gui.core.commands import ShiftLevels

        self._edit_current(lambda image_id: ShiftLevels(image_id, delta))

    # ------------------------------------------------------------------ review status
    def next_unreviewed(self) -> None:
        if self.session.study is not None and self.session.next_unreviewed() is None:
            self._say("No unreviewed image left", 5000)

    def accept_and_next(self) -> None:
        """Accepting a blind reading stays on the image: the model is shown there now (reader
        mode, gui/reading.py); any other acceptance goes on to the next unreviewed image."""
        from vam_gui.core.commands import SetStatus

        revealing = self.session.model_hidden()
        if self._edit_current(lambda image_id: SetStatus(image_id, "accepted")) and not revealing:
            self.next_unreviewed()

    def flag_image(self) -> None:
        from vam_gui.core.commands import SetStatus

        if self.session.current_id is None:
            return
        comment, ok = ask_text(self.window, "Flag image", "Why is this image flagged?")
        if ok:
            self._edit_current(lambda image_id: SetStatus(image_id, "flagged", comment or None))
