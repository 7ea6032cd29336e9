"""The Model menu's rough edges: a request made while the model loads is queued, a failed
load keeps the working model, a prediction job that fails at once is said and leaves
prediction usable, and a study the model cannot predict is said."""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox


def _boxes(win, title):
    return [b for b in win.findChildren(QMessageBox) if b.isVisible() and b.windowTitle() == title]


def test_predict_while_the_model_loads_is_queued_and_runs(qtbot, window, checkpoint):
    win = window
    image_id = win.session.current_id
    win.load_model(str(checkpoint), "cpu")
    assert win.inference.loading and win.predictor is None
    win.predict([image_id])  # Ctrl+R before the model is there
    assert "starts once the model has loaded" in win.statusBar().currentMessage()
    assert not _boxes(win, "No model")
    qtbot.waitUntil(lambda: win.session.study.prediction(image_id) is not None, timeout=60000)
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def test_a_failed_load_keeps_the_working_model(qtbot, window, checkpoint, tmp_path):
    win = window
    win.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: win.predictor is not None, timeout=60000)
    working = win.predictor
    assert win.settings.checkpoint == str(checkpoint)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a checkpoint")
    win.load_model(str(junk), "cpu")
    qtbot.waitUntil(lambda: bool(_boxes(win, "Cannot load the model")), timeout=60000)
    assert win.predictor is working
    assert win.inference.model_label.text() == f"model: {working.model_id}"
    assert win.settings.checkpoint == str(checkpoint), "the file that failed is not remembered"
    for box in _boxes(win, "Cannot load the model"):
        box.close()
    win.predict([win.session.current_id])  # still predicts
    qtbot.waitUntil(lambda: win.session.study.prediction(win.session.current_id) is not None, timeout=60000)
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def test_a_prediction_job_that_fails_at_once_is_said_and_prediction_stays_usable(qtbot, window, checkpoint,
                                                                                 monkeypatch):
    import vam_gui.model.study_predict as study_predict

    win = window
    win.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: win.predictor is not None, timeout=60000)
    real = study_predict.predict_study_images

    def fails_at_once(*args, **kwargs):
        raise RuntimeError("injected: the job failed before its first image")

    monkeypatch.setattr(study_predict, "predict_study_images", fails_at_once)
    win.predict([win.session.current_id])
    qtbot.waitUntil(lambda: bool(_boxes(win, "Prediction failed")), timeout=30000)
    assert _boxes(win, "Prediction failed")[0].text() == "injected: the job failed before its first image"
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=30000)
    assert not win.inference.progress.isVisible()
    monkeypatch.setattr(study_predict, "predict_study_images", real)
    win.predict([win.session.current_id])
    qtbot.waitUntil(lambda: win.session.study.prediction(win.session.current_id) is not None, timeout=60000)
    qtbot.waitUntil(lambda: not win.inference.busy, timeout=60000)


def test_a_study_the_model_cannot_predict_is_said(qtbot, window, checkpoint, tmp_path):
    from vam_gui.io import Study

    win = window
    win.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: win.predictor is not None, timeout=60000)
    lateral = tmp_path / "lat.vamstudy"
    with Study.create(lateral, schema="lumbar-lat-22") as study:
        study.add_images([win.session.study.image_path(win.session.study.image_ids()[0])])
    assert win.open_study(lateral)
    win.predict([win.session.current_id])
    boxes = _boxes(win, "This model cannot predict this study")
    assert len(boxes) == 1 and "lumbar-lat-22" in boxes[0].text()
    assert not win.inference.busy and win.session.study.prediction(win.session.current_id) is None


def test_the_model_load_gives_torch_the_windows_thread_setting_before_its_import():
    """In a fresh interpreter (torch not imported yet) the load job sets OMP_NUM_THREADS from
    the setting, and never calls torch.set_num_threads from its worker thread."""
    import subprocess
    import sys

    code = ("import os, sys; from vam_gui.gui.inference import _load_model_job\n"
            "try:\n    _load_model_job('missing.safetensors', 'cpu', 1, progress=None, cancel=None, emit=None)\n"
            "except Exception:\n    pass\n"
            "import torch; print(os.environ.get('OMP_NUM_THREADS'), torch.get_num_threads())")
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.split() == ["1", "1"], out.stderr[-2000:]


def test_opening_a_study_reads_the_stored_flag_counts_without_a_worker(qtbot, window, study_path, monkeypatch):
    submitted = []
    submit = window.workers.submit
    monkeypatch.setattr(window.workers, "submit", lambda fn, *a, **k: (submitted.append(fn.__name__),
                                                                      submit(fn, *a, **k))[1])
    assert window.open_study(study_path)
    assert "count_flags" not in submitted  # a format-5 study keeps the counts with every write
    counts = window.worklist.model
    assert all(counts.flag_counts.get(i) is not None for i in window.session.study.image_ids())
