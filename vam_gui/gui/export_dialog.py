"""File > Export… and File > Import…: small dialogs that run the io exporters and importers
in the window's workers, with progress in the status bar.

The dialogs open window-modal but without blocking (``open()``), so the event loop, and the
tests driving it, keep running; the work itself is a plain io function (conventions.md §5).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from vam_gui.gui.messages import inform, warn

EXPORT_FORMATS = (
    ("json", "Labels: vam-gui JSON"),
    ("coco", "Labels: COCO keypoints"),
    ("csv", "Labels: CSV (px and mm)"),
    ("dataset", "Training dataset (PNG + Gaussian targets)"),
    ("dicom-sr", "DICOM SR measurement reports (for the archive)"),
)
SR_NOTE = ("DICOM SR reports keep the patient's identifiers (they go back to the archive, beside the "
           "images they describe) unless de-identified below.")
IMPORT_FORMATS = (
    ("json", "vam-gui JSON labels", "JSON (*.json)"),
    ("coco", "COCO keypoints", "JSON (*.json)"),
    ("scoliosis-mat", "Scoliosis challenge: .mat files (p2)", "MATLAB (*.mat)"),
    ("scoliosis-csv", "Scoliosis challenge: landmarks.csv + filenames.csv", "CSV (*.csv)"),
    ("endplates", "Endplate CSV (x1,y1,x2,y2[,label] per row)", "CSV (*.csv)"),
)


def _message(parent: QWidget, icon: QMessageBox.Icon, title: str, text: str) -> QMessageBox | None:
    return (warn if icon is QMessageBox.Icon.Warning else inform)(parent, title, text)


def _folder_row(parent: QWidget, edit: QLineEdit, pick) -> QWidget:
    row = QWidget(parent)
    lay = QHBoxLayout(row)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.addWidget(edit, 1)
    button = QPushButton("Browse…", row)
    button.clicked.connect(pick)
    lay.addWidget(button)
    return row


class ExportDialog(QDialog):
    """Format, destination folder and options of an export."""

    def __init__(self, parent: QWidget | None = None, folder: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        form = QFormLayout(self)
        self.format = QComboBox(self)
        for key, text in EXPORT_FORMATS:
            self.format.addItem(text, key)
        form.addRow("Format", self.format)
        self.folder = QLineEdit(folder, self)
        form.addRow("Folder", _folder_row(self, self.folder, self._pick_folder))
        self.all_images = QCheckBox("All images (not only accepted ones)", self)
        self.include_flagged = QCheckBox("Include flagged images", self)
        self.keep_names = QCheckBox("Keep original file names (not de-identified)", self)
        self.write_images = QCheckBox("Write de-identified copies of the images under their new names", self)
        self.write_images.setChecked(True)
        self.deidentify_sr = QCheckBox("De-identified reports (referencing de-identified copies)", self)
        self.readers = QCheckBox("Every reader's annotations too (reader study; the consensus otherwise)", self)
        for box in (self.all_images, self.include_flagged, self.keep_names, self.write_images, self.deidentify_sr,
                    self.readers):
            form.addRow("", box)
        self.key_file = QLineEdit(self)
        self.key_file.setPlaceholderText("none (optional: pseudonym -> original path, outside the export folder)")
        form.addRow("Key file", _folder_row(self, self.key_file, self._pick_key_file))
        self.sr_note = QLabel(SR_NOTE, self)
        self.sr_note.setWordWrap(True)
        form.addRow("", self.sr_note)
        self.sigma = QDoubleSpinBox(self)
        self.sigma.setRange(0.5, 20.0)
        self.sigma.setSingleStep(0.5)
        self.sigma.setValue(2.0)
        self.size = QSpinBox(self)
        self.size.setRange(32, 4096)
        self.size.setSingleStep(32)
        self.size.setValue(512)
        form.addRow("Target σ (model px)", self.sigma)
        form.addRow("Model input S (px)", self.size)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        parent=self)
        self.buttons.accepted.connect(self._check_and_accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.format.currentIndexChanged.connect(self._format_changed)
        self.keep_names.toggled.connect(self._format_changed)
        self._format_changed()

    def _format_changed(self) -> None:
        key = self.format_key()
        dataset, sr = key == "dataset", key == "dicom-sr"
        self.sigma.setEnabled(dataset)
        self.size.setEnabled(dataset)
        self.sr_note.setVisible(sr)
        self.deidentify_sr.setVisible(sr)
        self.readers.setVisible(key == "json")
        labels = key in ("json", "coco", "csv")
        self.write_images.setEnabled(labels and not self.keep_names.isChecked())
        self.key_file.setEnabled(not self.keep_names.isChecked())

    def _pick_key_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Key file (keep it apart from the export)", "",
                                              "CSV (*.csv)")
        if path:
            self.key_file.setText(path)

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export into folder", self.folder.text())
        if folder:
            self.folder.setText(folder)

    def _check_and_accept(self) -> None:
        if not self.folder.text().strip():
            _message(self, QMessageBox.Icon.Warning, "Export", "Choose a folder to export into.")
            return
        if self.size.value() % 32:
            _message(self, QMessageBox.Icon.Warning, "Export", "S must be a multiple of 32.")
            return
        self.accept()

    def format_key(self) -> str:
        return str(self.format.currentData())

    def options(self):
        from vam_gui.io.export import ExportOptions

        key_file = self.key_file.text().strip()
        return ExportOptions(all_images=self.all_images.isChecked(), include_flagged=self.include_flagged.isChecked(),
                             keep_names=self.keep_names.isChecked(), sigma=float(self.sigma.value()),
                             size=int(self.size.value()), write_images=self.write_images.isChecked(),
                             key_file=Path(key_file) if key_file and not self.keep_names.isChecked() else None,
                             deidentify_sr=self.deidentify_sr.isChecked(),
                             readers=self.readers.isChecked() and self.format_key() == "json")


class ImportDialog(QDialog):
    """Format and label files of an import."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        form = QFormLayout(self)
        self.format = QComboBox(self)
        for key, text, _ in IMPORT_FORMATS:
            self.format.addItem(text, key)
        form.addRow("Format", self.format)
        self.paths = QLineEdit(self)
        self.paths.setPlaceholderText("files or a folder; several separated by ';'")
        row = _folder_row(self, self.paths, self._pick_files)
        folder_button = QPushButton("Folder…", row)
        folder_button.clicked.connect(self._pick_folder)
        row.layout().addWidget(folder_button)
        form.addRow("Labels", row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel,
                                        parent=self)
        self.buttons.accepted.connect(self._check_and_accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)

    def format_key(self) -> str:
        return str(self.format.currentData())

    def path_list(self) -> list[str]:
        return [p.strip() for p in self.paths.text().split(";") if p.strip()]

    def _pick_files(self) -> None:
        pattern = next(f for k, _, f in IMPORT_FORMATS if k == self.format_key())
        files, _ = QFileDialog.getOpenFileNames(self, "Label files", "", f"{pattern};;All files (*)")
        if files:
            self.paths.setText(";".join(files))

    def _pick_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of label files")
        if folder:
            self.paths.setText(folder)

    def _check_and_accept(self) -> None:
        if not self.path_list():
            _message(self, QMessageBox.Icon.Warning, "Import labels", "Choose the label files to import.")
            return
        self.accept()


def _export_job(study, fmt, folder, options, *, progress, cancel, emit):
    from vam_gui.io.export import export_study

    return export_study(study, fmt, folder, options, progress=progress, cancel=cancel)


def _import_job(study, fmt, paths, user, *, progress, cancel, emit):
    from vam_gui.io.importers import import_labels

    return import_labels(study, fmt, paths, user=user, progress=progress, cancel=cancel)


def _skipped_text(skipped: list[tuple[str, str]], limit: int = 20) -> str:
    lines = [f"{name}: {why}" for name, why in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"… and {len(skipped) - limit} more")
    return "\n".join(lines)


class Transfer(QObject):
    """Runs one export or import in the window's workers. A QObject parented to the window,
    so the job's signals arrive on the UI thread."""

    running: set[Transfer] = set()  # keeps each alive until its job has answered

    def __init__(self, window, session, verb: str) -> None:
        super().__init__(window)
        self.window = window  # its workers and status bar
        self.session = session
        self.verb = verb  # "Exporting" / "Importing"
        self.job = None
        self.study = None
        self.report = None

    def start(self, fn, study, *args) -> None:
        self.study = study
        Transfer.running.add(self)
        self.window.statusBar().showMessage(f"{self.verb}…")
        self.job = self.window.workers.submit(fn, study, *args, on={
            "progress": self._progress, "finished": self._finished, "failed": self._failed})

    def _progress(self, _job: int, done: int, total: int) -> None:
        self.window.statusBar().showMessage(f"{self.verb}… {done}/{total}" if total else f"{self.verb}… {done}")

    def _failed(self, _job: int, message: str) -> None:
        if "cancelled" in message:
            self.window.statusBar().showMessage(message, 6000)
        else:
            _message(self.window, QMessageBox.Icon.Warning, f"{self.verb[:-3]} failed", message)
        self._done()

    def _done(self) -> None:
        Transfer.running.discard(self)
        self.deleteLater()

    def _finished(self, _job: int, report) -> None:
        self.report = report
        win = self.window
        if self.verb == "Importing":
            if self.session.study is self.study:  # still the open study
                self.session.labels_imported(report.imported)  # its events repaint what changed
            done = f"{len(report.imported)} image(s) imported"
        else:
            done = f"{report.images} image(s) exported to {report.out_dir}"
            if report.unlabelled:
                done += f" ({len(report.unlabelled)} without labels left out)"
            if getattr(report, "key_file", None):
                done += f"; key file: {report.key_file}"
            notes = list(getattr(report, "notes", []) or []) + [
                f"{name}: {why}" for name, why in (getattr(report, "left_out", []) or [])]
            if notes:
                _message(win, QMessageBox.Icon.Information, "Export notes", "\n".join(notes[:20]))
        win.statusBar().showMessage(done, 8000)
        if report.skipped:
            _message(win, QMessageBox.Icon.Information, f"{done}; some were skipped",
                     _skipped_text(report.skipped))
        self._done()


def ask_export(window, session) -> ExportDialog | None:
    """File > Export…: the dialog; OK starts the export of the session's study in a worker."""
    study = session.study
    if study is None:
        _message(window, QMessageBox.Icon.Information, "Export", "Open a study first.")
        return None
    from vam_gui.io.export import default_export_folder

    dialog = ExportDialog(window, folder=str(default_export_folder(study)))
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def go() -> None:
        Transfer(window, session, "Exporting").start(_export_job, study, dialog.format_key(),
                                                     dialog.folder.text().strip(), dialog.options())

    dialog.accepted.connect(go)
    dialog.open()
    return dialog


def ask_import(window, session) -> ImportDialog | None:
    """File > Import…: the dialog; OK starts the import into the session's study in a worker."""
    study = session.study
    if study is None:
        _message(window, QMessageBox.Icon.Information, "Import labels", "Open a study first.")
        return None
    dialog = ImportDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def go() -> None:
        Transfer(window, session, "Importing").start(_import_job, study, dialog.format_key(),
                                                     [str(Path(p)) for p in dialog.path_list()], session.reviewer)

    dialog.accepted.connect(go)
    dialog.open()
    return dialog
