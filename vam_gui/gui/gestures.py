"""The few-gesture corrections in the window (issue 13): their actions (Edit > Fit template,
Edit > Place points in order, Model > Predict here, Model > Predict in region), the click
modes, the modifier drags and the guided re-prediction. Every gesture is one command pushed
through the editor (undo, redo, the edit log).

Keys and mouse:
- Ctrl+T fit template, Ctrl+Shift+O place points in order, Ctrl+Shift+P predict here,
  Ctrl+Shift+G predict in region; in a mode Esc stops, and in place-in-order S skips a point
  (marks it missing) and Backspace steps back.
- Left-drag inside a vertebra: Shift moves it, Ctrl turns it; with Alt added (Shift+Alt,
  Ctrl+Alt, anywhere on the image): the whole column (``rigid_drag``).
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from vam_gui.gui.predict_here import GuidedPrediction
from vam_gui.session import Event, ReviewSession, Topic


class Gestures(QObject):
    def __init__(self, window, session: ReviewSession) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.canvas = None
        self.input = None  # CanvasInput, with the canvas
        self.mode = None
        self.guided = GuidedPrediction(window, session, self.push)
        session.subscribe(self._on_event, (Topic.IMAGE_CHANGED, Topic.STUDY_CLOSED, Topic.STUDY_OPENED))

    # ------------------------------------------------------------------ wiring
    def add_edit_actions(self, menu, action) -> None:
        menu.addSeparator()
        self.template_action = action(
            menu, "Fit &template", self.fit_template, "Ctrl+T",
            tip="Two clicks (top of the first vertebra, bottom of the last) place every point")
        self.place_action = action(menu, "Place points in &order", self.place_in_order, "Ctrl+Shift+O",
                                   tip="Each click places the next keypoint; S skips it, Backspace steps back")

    def add_model_actions(self, menu, action) -> None:
        menu.addSeparator()
        self.predict_here_action = action(
            menu, "Predict &here", lambda: self.predict_here(), "Ctrl+Shift+P",
            tip="Re-predict around the points you placed or moved, keeping yours")
        self.region_action = action(menu, "Predict in re&gion", self.predict_in_region, "Ctrl+Shift+G",
                                    tip="Drag a rectangle; the model re-predicts inside it")

    def attach(self, canvas) -> None:
        """The canvas exists (the window's body): its input goes through here first."""
        from vam_gui.gui.canvas_input import CanvasInput
        from vam_gui.gui.rigid_drag import RigidDrag

        self.canvas = canvas
        self.drag = RigidDrag(canvas, self.push, lambda: self.session.current_id)
        self.input = CanvasInput(canvas, self.drag)

    def push(self, command) -> bool:
        return self.window.editor.push(command)

    def say(self, message: str, ms: int = 6000) -> None:
        self.window.statusBar().showMessage(message, ms)

    def _on_event(self, _event: Event) -> None:
        # Another image, or another study: a mode or a drag of the one before ends.
        if self.mode is not None:
            self.leave_mode(None)
        if self.canvas is not None and self.drag.active:
            self.drag.cancel()

    # ------------------------------------------------------------------ modes
    def _can_edit(self) -> bool:
        self.window.ensure_body()
        study = self.session.study
        if study is None or self.session.current_id is None:
            self.say("Open a study and show an image first")
            return False
        if study.read_only or not self.canvas.layer.editable:
            self.say("This study is read-only: edits are not saved here")
            return False
        return True

    def enter_mode(self, mode) -> None:
        if self.mode is not None:
            self.leave_mode(None)
        self.mode = mode
        self.input.set_mode(mode)
        self.prompt_changed()

    def leave_mode(self, message: str | None) -> None:
        mode, self.mode = self.mode, None
        if mode is not None:
            mode.leave()
        if self.input is not None:
            self.input.set_mode(None)
        self.window.statusBar().clearMessage()
        if message:
            self.say(message)

    def prompt_changed(self) -> None:
        if self.mode is not None:
            self.window.statusBar().showMessage(self.mode.status(), 0)
            self.input.update_cursor_text()

    def fit_template(self) -> None:
        from vam_gui.gui.gesture_modes import TemplateMode

        if self._can_edit():
            self.enter_mode(TemplateMode(self))

    def place_in_order(self) -> None:
        from vam_gui.gui.gesture_modes import PlaceInOrderMode

        if self._can_edit():
            self.enter_mode(PlaceInOrderMode(self))

    # ------------------------------------------------------------------ predict here
    def predict_here(self, region=None) -> None:
        self.guided.request(region)

    def predict_in_region(self) -> None:
        from vam_gui.gui.gesture_modes import RegionMode
        from vam_gui.gui.reading import refuse_if_hidden

        if not refuse_if_hidden(self.window, self.session, "Predict in region") and self._can_edit():
            self.enter_mode(RegionMode(self))
