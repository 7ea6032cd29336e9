"""The Model menu and what it drives: loading a checkpoint (a failed load keeps the model that
was working), the device, and prediction requests — made while the model still loads or while
another run goes on, a request is queued and runs when it can; a study whose schema the model
cannot predict is said, not attempted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QMainWindow, QMenu

from vam_gui.core.settings import Settings
from vam_gui.gui.inference import Inference
from vam_gui.gui.messages import confirm, inform, warn
from vam_gui.session import ReviewSession


class ModelControls(QObject):
    def __init__(self, window: QMainWindow, session: ReviewSession, settings: Settings) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.settings = settings
        self.inference = Inference(window.workers, window.statusBar())
        self.inference.model_ready.connect(self._model_ready)
        self.inference.model_failed.connect(lambda msg: warn(window, "Cannot load the model", msg))
        self.inference.image_predicted.connect(session.prediction_stored)
        self.inference.prediction_held.connect(session.prediction_held)
        self.inference.finished.connect(self._prediction_finished)
        self.inference.failed.connect(lambda msg: warn(window, "Prediction failed", msg))
        self.device_actions: dict[str, QAction] = {}
        self.train_dialog = None  # gui/train_dialog.py's, made on first use

    def build_menu(self, menu: QMenu, action) -> QAction:
        """Fill the Model menu (``action`` makes a window action); returns Predict this image."""
        action(menu, "&Load checkpoint…", self.ask_checkpoint, "Ctrl+L", "model")
        predict = action(menu, "&Predict this image", self.predict_current, "Ctrl+R", "predict")
        action(menu, "Predict all &unreviewed", self.predict_unreviewed, "Ctrl+Shift+R")
        action(menu, "&Train on accepted images…", self.ask_train)
        device_menu = menu.addMenu("&Device")
        group = QActionGroup(self.window)
        for name, text in (("auto", "Auto"), ("cuda", "CUDA"), ("cpu", "CPU")):
            act = QAction(text, self.window, checkable=True)
            act.triggered.connect(lambda _=False, n=name: self.set_device(n))
            group.addAction(act)
            device_menu.addAction(act)
            self.device_actions[name] = act
        self.device_actions["cuda"].setEnabled(False)  # until torch has said CUDA is there
        self.device_actions.get(self.settings.device, self.device_actions["auto"]).setChecked(True)
        return predict

    # ------------------------------------------------------------------ the model
    def load(self, checkpoint: str | Path, device: str | None = None) -> None:
        self.inference.load(str(checkpoint), device or self.settings.device, self.settings.threads)

    def defer(self, checkpoint: str | Path) -> None:
        """The model the window starts with: loaded when a prediction first needs it."""
        self.inference.defer(str(checkpoint), self.settings.device, self.settings.threads)

    def _model_ready(self, _model_id: str, _device: str, cuda: bool) -> None:
        self.device_actions["cuda"].setEnabled(cuda)
        from vam_gui.gui.app import bundled_sample

        demo = bundled_sample()[1]
        loaded = self.inference.checkpoint or ""
        # Remembered only once it has loaded: a file that fails is not tried again next start.
        self.settings.checkpoint = "" if demo is not None and Path(loaded) == demo else loaded
        study = self.session.study
        if study is not None and (why := self.inference.cannot_predict(study.schema)) is not None:
            self.window.statusBar().showMessage(why, 15000)

    def ask_checkpoint(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # its type is made when first needed, not at start

        path, _ = QFileDialog.getOpenFileName(self.window, "Load model checkpoint", "",
                                              "Checkpoints (*.safetensors *.pt *.pth)")
        if path:
            self.load(path)

    def set_device(self, device: str) -> None:
        self.settings.device = device
        if self.inference.pending is not None:
            self.defer(self.inference.pending[0])
        elif self.inference.checkpoint:
            self.load(self.inference.checkpoint, device)

    def ask_train(self) -> None:
        """Model > Train on accepted images…: the window's one train dialog (a run keeps going
        while it is closed)."""
        from vam_gui.gui.train_dialog import TrainDialog

        if self.session.study is None:
            inform(self.window, "Train", "Open a study first.")
            return
        dialog = self.train_dialog
        if dialog is None:
            dialog = self.train_dialog = TrainDialog(self.window, self.session, self)
        elif not dialog.running() and not dialog.cancel_button.isEnabled():
            dialog.refresh_form()
        dialog.show()
        dialog.raise_()

    def may_close(self) -> bool:
        """Before the window closes: a training run in progress is stopped (it saves) only if
        the reviewer says so."""
        dialog = self.train_dialog
        if dialog is None or not (dialog.running() or dialog.cancel_button.isEnabled()):
            return True
        if not confirm(self.window, "Training in progress",
                       f"A training run is going on in {dialog.run_dir}. Closing the window stops it; it "
                       "saves what it has first, and you can continue it with vam-gui train --resume.",
                       "Stop the run and close", "Keep the window open"):
            return False
        dialog.stop_for_close()
        return True

    # ------------------------------------------------------------------ prediction
    def predict_current(self) -> None:
        from vam_gui.gui.reading import refuse_if_hidden

        if self.session.current_id is not None and not refuse_if_hidden(self.window, self.session, "Predict"):
            self.predict([self.session.current_id])

    def predict_unreviewed(self) -> None:
        from vam_gui.gui.reading import refuse_if_blind

        study = self.session.study
        if study is not None and not refuse_if_blind(self.window, self.session, "Predict all unreviewed"):
            self.predict([i.image_id for i in study.list_images() if i.status == "unreviewed"])

    def predict(self, image_ids: list[str]) -> None:
        study = self.session.study
        if study is None:
            return
        if (why := self.inference.cannot_predict(study.schema)) is not None:
            warn(self.window, "This model cannot predict this study", why)
        elif self.inference.request(study, image_ids) == "no model":
            inform(self.window, "No model", "Load a model checkpoint first (Model > Load checkpoint).")

    def _prediction_finished(self, result: dict) -> None:
        if result["errors"]:
            warn(self.window, "Some images could not be predicted",
                 "\n".join(msg for _, msg in result["errors"][:20]))
        held = " (shown only, not saved: the study is read-only)" if result.get("held") else ""
        self.window.statusBar().showMessage(f"{len(result['done'])} image(s) predicted{held}", 8000)
