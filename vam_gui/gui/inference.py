"""Model loading and background prediction for the window (torch stays off the UI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from vam_gui.gui.workers import Workers


def _load_model_job(checkpoint, device, *, progress, cancel, emit):
    import torch

    from vam_gui.model.study_predict import load_predictor

    predictor = load_predictor(checkpoint, device)
    return predictor, torch.cuda.is_available(), str(checkpoint)


class Inference(QObject):
    """Loads a checkpoint in a worker, runs prediction jobs one at a time with progress and
    cancel, and reports each finished image; the window decides what to repaint."""

    model_ready = Signal(str, str, bool)  # model id, device, CUDA available
    model_failed = Signal(str)
    image_predicted = Signal(str)  # image id (already stored in the study)
    finished = Signal(dict)  # {"done": [...], "errors": [...], "cancelled": bool}
    failed = Signal(str)

    def __init__(self, workers: Workers, status_bar: QStatusBar) -> None:
        super().__init__(status_bar)
        self.workers = workers
        self.predictor = None
        self.checkpoint: str | None = None
        self.cuda_available = False
        self._model_job: int | None = None
        self._predict_job: int | None = None
        self.device_label = QLabel("device: –")
        self.model_label = QLabel("model: none")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel)
        for w in (self.progress, self.cancel_button, self.device_label, self.model_label):
            status_bar.addPermanentWidget(w)

    @property
    def busy(self) -> bool:
        return self._predict_job is not None

    def load(self, checkpoint: str, device: str) -> None:
        self.model_label.setText(f"model: loading {Path(checkpoint).name}…")
        job = self.workers.submit(_load_model_job, checkpoint, device,
                                  on={"finished": self._loaded, "failed": self._load_failed})
        self._model_job = job.id  # the slots run on this thread, after this line

    def _loaded(self, job_id: int, result) -> None:
        if job_id != self._model_job:
            return  # a newer load superseded this one
        self.predictor, self.cuda_available, self.checkpoint = result
        self.device_label.setText(f"device: {self.predictor.device}")
        self.model_label.setText(f"model: {self.predictor.model_id}")
        self.model_label.setToolTip(self.checkpoint)
        self.model_ready.emit(self.predictor.model_id, str(self.predictor.device), self.cuda_available)

    def _load_failed(self, job_id: int, message: str) -> None:
        if job_id == self._model_job:
            self.model_label.setText("model: none")
            self.model_failed.emit(message)

    def predict(self, study, image_ids: list[str]) -> bool:
        from vam_gui.model.study_predict import predict_study_images

        if self.predictor is None or self.busy or not image_ids:
            return False
        self.progress.setRange(0, len(image_ids))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        job = self.workers.submit(predict_study_images, study, self.predictor, image_ids, on={
            "progress": lambda _id, done, _total: self.progress.setValue(done),
            "item": lambda _id, item: self.image_predicted.emit(item[0]),
            "failed": lambda _id, msg: self.failed.emit(msg),
            "finished": lambda _id, result: self.finished.emit(result),
            "done": self._done})
        self._predict_job = job.id  # the slots run on this thread, after this line
        return True

    def _done(self, _job_id: int) -> None:
        self._predict_job = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def cancel(self) -> None:
        job = self.workers.jobs.get(self._predict_job) if self._predict_job else None
        if job is not None:
            job.cancel()
