"""Model > Train on accepted images…: export the accepted images as a dataset (in a worker),
run ``vam-gui train`` as a child process (QProcess: the window stays responsive and a crash
of the run never takes the window), plot the run's metrics.csv as it grows, cancel with
SIGTERM (the run saves what it has), and at the end load the new model and re-predict the
unreviewed images.

The run folder follows the export folder's rule: ``<study folder>/<study name>-runs/<time>``
when the study is writable and outside the app's data folder, else
``<documents>/vam-gui/<study name>/runs/<time>``. The study's name, the number of images and
the reviewers' counts go to ``provenance.json``, which the run records in its checkpoints.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections import Counter, deque
from datetime import datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QProcess, QProcessEnvironment, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from vam_gui.gui.messages import inform, warn

SIZES = ("256", "384", "512", "384x160", "512x256")
POLL_MS = 500


def run_folder(study, now: datetime | None = None) -> Path:
    """A new, not yet existing run folder for ``study`` (the export folder's rule)."""
    from vam_gui.io.export import default_export_folder

    path = Path(study) if isinstance(study, (str, os.PathLike)) else study.path
    name = path.stem or "study"
    base = default_export_folder(study)
    base = base.with_name(f"{name}-runs") if base.name == f"{name}-export" else base / "runs"
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    folder, n = base / stamp, 1
    while folder.exists():
        n += 1
        folder = base / f"{stamp}-{n}"
    return folder


def _export_job(study, folder, options, *, progress, cancel, emit):
    """The dataset export plus the provenance of what it holds (worker thread)."""
    from vam_gui.io.export import export_study
    from vam_gui.io.export.common import select_images

    infos = select_images(study, options)
    report = export_study(study, "dataset", folder, options, progress=progress, cancel=cancel)
    reviewers = Counter(info.reviewer or "(unknown)" for info in infos)
    provenance = {"study": study.path.stem, "study_uid": study.study_uid, "images": report.images,
                  "reviewers": dict(reviewers), "exported": datetime.now().astimezone().isoformat(timespec="seconds")}
    return report, provenance


def read_metrics(path: Path) -> list[dict[str, float]]:
    """The rows of a run's metrics.csv so far, as floats (a half-written last line is left out)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    rows = []
    for row in csv.DictReader(text.splitlines(keepends=True) if text.endswith("\n") else text.splitlines()[:-1]):
        try:
            rows.append({k: float(v) for k, v in row.items() if k})
        except (TypeError, ValueError):
            continue
    return rows


class MetricsPlot(pg.GraphicsLayoutWidget):
    """Training loss and validation error (model px) against the step."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.loss_plot = self.addPlot(row=0, col=0, title="training loss")
        self.error_plot = self.addPlot(row=1, col=0, title="validation error (model px)")
        for plot in (self.loss_plot, self.error_plot):
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("bottom", "step")
        self.error_plot.setXLink(self.loss_plot)
        self.loss = self.loss_plot.plot(pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=5)
        self.error = self.error_plot.plot(pen=pg.mkPen("#d62728", width=2), symbol="o", symbolSize=5)
        self.points = 0

    def show_rows(self, rows: list[dict[str, float]]) -> None:
        loss = [(r["step"], r["train_loss"]) for r in rows if r.get("train_loss", math.nan) > 0]
        err = [(r["step"], r["val_mre_model_px"]) for r in rows if math.isfinite(r.get("val_mre_model_px", math.nan))]
        self.loss.setData([x for x, _ in loss], [y for _, y in loss])
        self.error.setData([x for x, _ in err], [y for _, y in err])
        self.points = len(loss)


class TrainDialog(QDialog):
    """The settings, the run and its plot. One per window: closing it leaves a run going."""

    def __init__(self, window, session, controls) -> None:
        super().__init__(window)
        self.setObjectName("train_dialog")
        self.setWindowTitle("Train on accepted images")
        self.window_, self.session, self.controls = window, session, controls
        self.process: QProcess | None = None
        self.run_dir: Path | None = None
        self.store_size = 1024  # S of the exported images (crops for the second pass need resolution)
        self.extra_args: list[str] = []  # more `vam-gui train` options (tests: --max-steps, --batch-size)
        self.cancelling = False
        self.export_job = None
        self.stderr_tail: deque[str] = deque(maxlen=30)
        self.timer = QTimer(self)
        self.timer.setInterval(POLL_MS)
        self.timer.timeout.connect(self.poll)
        self._build()
        self.refresh_form()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        self.form = QWidget(self)
        form = QFormLayout(self.form)
        row = QWidget(self.form)
        row_lay = QHBoxLayout(row)
        row_lay.setContentsMargins(0, 0, 0, 0)
        self.budget = QDoubleSpinBox(row, decimals=0, minimum=1, maximum=100000, value=10)
        self.budget_kind = QComboBox(row)
        self.budget_kind.addItem("minutes", "minutes")
        self.budget_kind.addItem("epochs", "epochs")
        row_lay.addWidget(self.budget)
        row_lay.addWidget(self.budget_kind, 1)
        form.addRow("Train for", row)
        self.init = QCheckBox("Start from the current model", self.form)
        form.addRow("", self.init)
        self.size = QComboBox(self.form)
        self.size.setEditable(True)
        self.size.lineEdit().setPlaceholderText("the model's size")
        self.size.setToolTip("Model input S or HxW (multiples of 32); empty: the model's or the dataset's")
        form.addRow("Input size", self.size)
        self.val_share = QDoubleSpinBox(self.form, decimals=2, minimum=0.0, maximum=0.5, singleStep=0.05, value=0.1)
        form.addRow("Validation share", self.val_share)
        self.device = QComboBox(self.form)
        for name in ("auto", "cuda", "cpu"):
            self.device.addItem(name, name)
        form.addRow("Device", self.device)
        lay.addWidget(self.form)
        self.plot = MetricsPlot(self)
        self.plot.setMinimumSize(520, 320)
        lay.addWidget(self.plot, 1)
        self.status = QLabel("Exports the accepted images as a dataset next to the study, then trains.", self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start", self)
        self.cancel_button = QPushButton("Cancel run", self)
        self.load_button = QPushButton("Load the new model and re-predict the unreviewed images", self)
        self.close_button = QPushButton("Close", self)
        for button in (self.start_button, self.cancel_button, self.load_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        lay.addLayout(buttons)
        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.load_button.clicked.connect(self.load_and_predict)
        self.close_button.clicked.connect(self.hide)
        self.cancel_button.setEnabled(False)
        self.load_button.setEnabled(False)

    def refresh_form(self) -> None:
        """The current model's choices: start from it (on when one is loaded), its size first."""
        checkpoint = self.controls.inference.checkpoint
        self.init.setEnabled(bool(checkpoint))
        self.init.setChecked(bool(checkpoint))
        self.init.setToolTip(checkpoint or "No model is loaded: the run starts from scratch")
        self.size.clear()
        self.size.addItem("")  # the model's (or the dataset's) size
        self.size.addItems(SIZES)
        self.size.setCurrentIndex(0 if checkpoint else SIZES.index("256") + 1)
        device = self.controls.settings.device
        self.device.setCurrentIndex(max(0, self.device.findData(device)))

    def running(self) -> bool:
        return self.process is not None and self.process.state() != QProcess.ProcessState.NotRunning

    def _busy(self, busy: bool) -> None:
        self.form.setEnabled(not busy)
        self.start_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    # ------------------------------------------------------------------ export, then train
    def start(self) -> None:
        from vam_gui.io.export import ExportOptions

        study = self.session.study
        if study is None:
            inform(self, "Train", "Open a study first.")
            return
        self.run_dir = run_folder(study)
        self.run_dir.mkdir(parents=True)
        self.plot.show_rows([])
        self.load_button.setEnabled(False)
        self.cancelling = False
        self._busy(True)
        self.status.setText(f"Exporting the accepted images to {self.run_dir / 'dataset'}…")
        options = ExportOptions(size=self.store_size)
        self.export_job = self.window_.workers.submit(_export_job, study, str(self.run_dir / "dataset"), options, on={
            "progress": self._export_progress, "finished": self._exported, "failed": self._export_failed})

    def _export_progress(self, _job: int, done: int, total: int) -> None:
        self.status.setText(f"Exporting the accepted images… {done}/{total}")

    def _export_failed(self, _job: int, message: str) -> None:
        self._busy(False)
        if self.cancelling:
            self.status.setText("Cancelled before training started.")
            return
        self.status.setText("The dataset could not be written.")
        warn(self, "Cannot train", message)

    def _exported(self, _job: int, result) -> None:
        report, provenance = result
        if self.cancelling:
            self._busy(False)
            self.status.setText("Cancelled before training started.")
            return
        if not report.images:
            self._export_failed(_job, "None of the accepted images has a labelled point.")
            return
        (self.run_dir / "provenance.json").write_text(json.dumps(provenance, indent=1), encoding="utf-8")
        self._launch(self.train_args())
        self.status.setText(f"Training on {report.images} image(s) in {self.run_dir}…")

    def train_args(self) -> list[str]:
        """The `vam-gui train` command line for this dialog's settings."""
        run = self.run_dir
        args = ["-m", "vam_gui", "train", str(run / "dataset"), "--out", str(run), "--quiet",
                "--device", self.device.currentData(), "--val-fraction", f"{self.val_share.value():g}",
                "--provenance", str(run / "provenance.json"),
                "--threads", str(max(1, (os.cpu_count() or 2) - 1))]  # a core for the window
        flag = "--max-minutes" if self.budget_kind.currentData() == "minutes" else "--epochs"
        args += [flag, f"{self.budget.value():g}"]
        if self.init.isChecked() and self.controls.inference.checkpoint:
            args += ["--init", self.controls.inference.checkpoint]
        if size := self.size.currentText().strip():
            args += ["--size", size]
        return args + self.extra_args

    def _launch(self, args: list[str]) -> None:
        self.stderr_tail.clear()
        proc = QProcess(self)
        proc.setWorkingDirectory(str(self.run_dir))
        env = QProcessEnvironment.systemEnvironment()
        # this very vam_gui, installed or not (a source checkout run with python -m vam_gui)
        here = str(Path(__file__).resolve().parents[2])
        env.insert("PYTHONPATH", os.pathsep.join(p for p in (here, env.value("PYTHONPATH")) if p))
        proc.setProcessEnvironment(env)
        proc.readyReadStandardError.connect(self._read_stderr)
        proc.readyReadStandardOutput.connect(lambda: proc.readAllStandardOutput())
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._process_error)
        self.process = proc
        proc.start(sys.executable, args)
        self.timer.start()

    def _read_stderr(self) -> None:
        text = bytes(self.process.readAllStandardError()).decode("utf-8", "replace")
        self.stderr_tail.extend(line for line in text.splitlines() if line.strip())

    def poll(self) -> None:
        if self.run_dir is not None:
            rows = read_metrics(self.run_dir / "metrics.csv")
            if rows and len(rows) != self.plot.points:
                self.plot.show_rows(rows)
                last = rows[-1]
                err = last.get("val_mre_model_px", math.nan)
                err_text = f", validation error {err:.2f} px" if math.isfinite(err) else ""
                self.status.setText(f"Epoch {int(last['epoch']) + 1}, step {int(last['step'])}: "
                                    f"loss {last['train_loss']:.4g}{err_text}")

    # ------------------------------------------------------------------ cancel and the end
    def cancel(self) -> None:
        """SIGTERM: the run stops after its current step and saves (exit status 130)."""
        self.cancelling = True
        self.cancel_button.setEnabled(False)
        if getattr(self, "export_job", None) is not None:
            self.export_job.cancel()  # still exporting: the run never starts
        if self.running():
            self.status.setText("Stopping: the run saves what it has…")
            self.process.terminate()

    def stop_for_close(self, wait_ms: int = 60000) -> None:
        """The window is closing: SIGTERM and wait for the run to save (killed if it does not)."""
        self.cancel()
        if self.running() and not self.process.waitForFinished(wait_ms):
            self.process.kill()
            self.process.waitForFinished(5000)

    def checkpoint(self) -> Path | None:
        """The run's best checkpoint, else its last one."""
        for name in ("best.safetensors", "last.safetensors"):
            if self.run_dir is not None and (self.run_dir / name).is_file():
                return self.run_dir / name
        return None

    def _finished(self, code: int, exit_status: QProcess.ExitStatus) -> None:
        self.timer.stop()
        self._read_stderr()
        self.poll()
        self._busy(False)
        crashed = exit_status == QProcess.ExitStatus.CrashExit
        saved = self.checkpoint()
        self.load_button.setEnabled(saved is not None)
        if not crashed and code in (0, 130):
            done = "Cancelled; the run saved what it had" if code == 130 else "Finished"
            self.status.setText(f"{done}: {saved or 'no checkpoint'} (run folder {self.run_dir}).")
            return
        if self.cancelling and crashed:  # SIGTERM before training began (still importing): nothing to save
            self.status.setText(f"Cancelled before the first step; {saved or 'no checkpoint'} (run folder "
                                f"{self.run_dir}).")
            return
        self._said_ended(f"was killed (exit status {code})" if crashed else f"failed (exit status {code})", saved)

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.timer.stop()
            self._busy(False)
            self._said_ended(f"could not start ({self.process.errorString()})", None)

    def _said_ended(self, what: str, saved: Path | None) -> None:
        last = next((line for line in reversed(self.stderr_tail) if not line.startswith("{")), "")
        keep = f"Its last checkpoint is kept: {saved}." if saved else "It saved no checkpoint."
        why = f"\n\nIts last words: {last}" if last else ""
        self.status.setText(f"The training run {what}.")
        warn(self, "Training stopped", f"The training run {what}. The window is unaffected. {keep}{why}",
             name="training_stopped")

    def load_and_predict(self) -> None:
        """Load the run's checkpoint; once it has loaded, predict the unreviewed images."""
        saved = self.checkpoint()
        if saved is None:
            return
        inference = self.controls.inference

        def ready(*_args) -> None:
            disconnect()
            self.controls.predict_unreviewed()
            self.status.setText(f"Loaded {saved.name}; predicting the unreviewed images.")

        def disconnect(*_args) -> None:
            inference.model_ready.disconnect(ready)
            inference.model_failed.disconnect(disconnect)

        inference.model_ready.connect(ready)
        inference.model_failed.connect(disconnect)
        self.status.setText(f"Loading {saved}…")
        self.controls.load(saved)
