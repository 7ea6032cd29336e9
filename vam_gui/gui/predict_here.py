""""Predict here" in the window: ``model.guided.predict_here`` run by a worker on the shown
image (around the reviewer's guide points, or in a dragged region), its points pushed as one
``PredictHere`` command that keeps the reviewer's own points (``io.template.reviewer_points``).

Without a model it says "No model" as Predict this image does; while the model loads, the
request waits for it. Fewer than two guides (predict_here's ValueError) is said in the status
bar. A result that arrives after the points or the image changed is dropped (and said):
it was computed from guides that are no longer there.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from vam_gui.gui.messages import inform, warn


def _predict_here_job(predictor, radiograph, annotation, schema, region, *, progress, cancel, emit):
    """(points, None), or (None, why) when the guides cannot place a crop."""
    from vam_gui.model.guided import predict_here

    try:
        return predict_here(predictor, radiograph, annotation, schema, region=region), None
    except ValueError as exc:
        return None, str(exc)


class GuidedPrediction(QObject):
    finished = Signal(str)  # what the status bar was told when a request ended (tests, docs)

    def __init__(self, window, session, push) -> None:
        super().__init__(window)
        self.window = window
        self.session = session
        self.push = push  # the editor's push: asks the reviewer's name once
        self._job: int | None = None
        self._asked = None  # (image id, the annotation the guides came from, region)
        self._waiting: tuple[str, object] | None = None  # (image id, region) until the model has loaded
        window.inference.model_ready.connect(self._model_ready)

    @property
    def busy(self) -> bool:
        return self._job is not None

    def _say(self, message: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(message, ms)
        self.finished.emit(message)

    def request(self, region=None) -> None:
        """Predict here on the shown image (``region``: (x0, y0, x1, y1) original px)."""
        study, image_id = self.session.study, self.session.current_id
        inference = self.window.inference
        if study is None or image_id is None:
            return
        from vam_gui.gui.reading import refuse_if_hidden

        if refuse_if_hidden(self.window, self.session, "Predict here"):
            return
        if study.read_only:
            self._say("Predict here writes points: this study is read-only")
            return
        if (why := inference.cannot_predict(study.schema)) is not None:
            warn(self.window, "This model cannot predict this study", why)
            return
        if inference.predictor is None:
            if inference.ensure_loading():  # loading, or a deferred model starts loading now
                self._waiting = (image_id, region)
                self.window.statusBar().showMessage("Predict here starts once the model has loaded", 8000)
            else:
                inform(self.window, "No model", "Load a model checkpoint first (Model > Load checkpoint).")
            return
        if self.busy or inference.busy:
            self._say("A prediction is running: Predict here once it has finished")
            return
        self._start(image_id, region)

    def _model_ready(self, *_args) -> None:
        waiting, self._waiting = self._waiting, None
        if waiting is not None and waiting[0] == self.session.current_id:
            self.request(waiting[1])

    def _start(self, image_id: str, region) -> None:
        study, canvas = self.session.study, self.window.canvas
        if canvas is None or canvas.radiograph is None:
            self._say("The image cannot be shown: nothing to predict on")
            return
        annotation = self.session.edited.annotation(image_id)
        self._asked = (image_id, annotation, region)
        self.window.statusBar().showMessage("Predicting here…", 0)
        job = self.window.workers.submit(
            _predict_here_job, self.window.inference.predictor, canvas.radiograph, annotation, study.schema, region,
            on={"finished": self._finished, "failed": self._failed, "done": self._done})
        self._job = job.id  # the slots run on this thread, after this line

    def _finished(self, job_id: int, result) -> None:
        import numpy as np

        from vam_gui.core.commands import PredictHere
        from vam_gui.io.template import reviewer_points

        if job_id != self._job or self._asked is None:
            return
        xy, why = result
        image_id, annotation, _region = self._asked
        study = self.session.study
        if why is not None:
            self._say(f"Predict here: {why}")
            return
        current = image_id == self.session.current_id
        if study is None or not current or not self.session.edited.annotation(image_id).equals(annotation):
            self._say("Predict here dropped: the points changed while it ran — ask again")
            return
        keep = reviewer_points(study, image_id, self.session.reader)
        found = np.isfinite(xy).all(axis=1) & ~keep
        if not found.any():
            self._say("Predict here found no corner to replace")
            return
        if self.push(PredictHere(image_id, xy, keep)):
            self._say(f"Predict here: {int(found.sum())} point(s) replaced, {int(keep.sum())} of yours kept")

    def _failed(self, job_id: int, message: str) -> None:
        if job_id == self._job:
            self.window.statusBar().clearMessage()
            warn(self.window, "Predict here failed", message)
            self.finished.emit(message)

    def _done(self, job_id: int) -> None:
        if job_id == self._job:
            self._job = None
            self._asked = None
