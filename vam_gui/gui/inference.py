"""Model loading and background prediction for the window (torch stays off the UI thread)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar

from vam_gui.gui.workers import Workers


def _load_model_job(checkpoint, device, threads, *, progress, cancel, emit):
    import os
    import sys

    # The window's thread setting (1 by default: a forward pass leaves the UI a core), given to
    # torch through its environment before its first import. torch.set_num_threads() is not
    # called here: from a worker thread, while another thread may be inside an intra-op
    # parallel region, it deadlocked or crashed the window (seen in the GUI tests).
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_NUM_THREADS", str(int(threads)))
        os.environ.setdefault("MKL_NUM_THREADS", str(int(threads)))
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
    prediction_held = Signal(str, object)  # image id, Prediction: a read-only study's, not stored
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
        self._queued: tuple[object, list[str]] | None = None  # (study, image ids) asked for too early
        # (checkpoint, device, threads) to load when a prediction first needs it: torch (0.6 GB)
        # stays out of the window until then
        self.pending: tuple[str, str, int] | None = None
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

    @property
    def loading(self) -> bool:
        return self._model_job is not None

    def cannot_predict(self, schema) -> str | None:
        """Why the loaded model cannot predict a study of ``schema`` (None: it can, or no model)."""
        if self.predictor is None:
            return None
        net = self.predictor.network_schema
        if schema.is_subset_of(net):
            return None
        return (f"The model predicts {net.name} (K = {net.k}); this study uses {schema.name} (K = {schema.k}), "
                "which it cannot predict. Load a model trained for this schema (Model > Load checkpoint).")

    def defer(self, checkpoint: str, device: str, threads: int = 1) -> None:
        """Remember the model to load once a prediction first needs it (``ensure_loading``)."""
        self.pending = (checkpoint, device, threads)
        self.checkpoint = checkpoint
        self.model_label.setText(f"model: {Path(checkpoint).name} (loads when first needed)")
        self.model_label.setToolTip(checkpoint)

    def ensure_loading(self) -> bool:
        """Start loading the deferred model unless a model is there or loading; False when
        there is none to load."""
        if self.predictor is not None or self.loading:
            return True
        if self.pending is None:
            return False
        self.load(*self.pending)
        return True

    def request(self, study, image_ids: list[str]) -> str:
        """Predict ``image_ids`` now, or as soon as the model has loaded (a deferred model
        starts loading now) / the running job has finished: "started", "queued", "no model"
        or "nothing"."""
        if not image_ids:
            return "nothing"
        if not self.ensure_loading():
            return "no model"
        if self.predictor is None or self.busy:
            self._queued = (study, list(image_ids))
            what = "the model has loaded" if self.predictor is None else "the running prediction has finished"
            self.progress.parentWidget().showMessage(f"Prediction of {len(image_ids)} image(s) starts once {what}",
                                                     8000)
            return "queued"
        return "started" if self.predict(study, image_ids) else "nothing"

    def drop_queued(self, study=None) -> None:
        """Forget a queued request (of ``study``, or any)."""
        if self._queued is not None and (study is None or self._queued[0] is study):
            self._queued = None

    def _run_queued(self) -> None:
        if self._queued is not None and self.predictor is not None and not self.busy:
            study, image_ids = self._queued
            self._queued = None
            self.predict(study, image_ids)

    def load(self, checkpoint: str, device: str, threads: int = 1) -> None:
        self.pending = None
        self.model_label.setText(f"model: loading {Path(checkpoint).name}…")
        job = self.workers.submit(_load_model_job, checkpoint, device, threads,
                                  on={"finished": self._loaded, "failed": self._load_failed})
        self._model_job = job.id  # the slots run on this thread, after this line

    def _loaded(self, job_id: int, result) -> None:
        if job_id != self._model_job:
            return  # a newer load superseded this one
        self._model_job = None
        self.predictor, self.cuda_available, self.checkpoint = result
        self._show_model()
        self.model_ready.emit(self.predictor.model_id, str(self.predictor.device), self.cuda_available)
        self._run_queued()

    def _show_model(self) -> None:
        if self.predictor is None:
            self.model_label.setText("model: none")
            return
        self.device_label.setText(f"device: {self.predictor.device}")
        self.model_label.setText(f"model: {self.predictor.model_id}")
        self.model_label.setToolTip(self.checkpoint or "")

    def _load_failed(self, job_id: int, message: str) -> None:
        if job_id == self._model_job:
            # The model that was working (if any) stays: a bad file costs nothing but the message.
            self._model_job = None
            self._show_model()
            self.model_failed.emit(message)
            if self.predictor is None:
                self._queued = None
            else:
                self._run_queued()

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
            "item": self._predicted if not getattr(study, "read_only", False) else self._held,
            "failed": lambda _id, msg: self.failed.emit(msg),
            "finished": lambda _id, result: self.finished.emit(result),
            "done": self._done})
        self._predict_job = job.id  # the slots run on this thread, after this line
        return True

    def _predicted(self, _job_id: int, item) -> None:
        self.image_predicted.emit(item[0])

    def _held(self, _job_id: int, item) -> None:
        self.prediction_held.emit(item[0], item[1])

    def _done(self, _job_id: int) -> None:
        self._predict_job = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self._run_queued()

    def cancel(self) -> None:
        job = self.workers.jobs.get(self._predict_job) if self._predict_job else None
        if job is not None:
            job.cancel()
