"""The review window: wires the canvas, docks, actions, the command stack and the workers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox,
                               QProgressBar, QPushButton)

from vam_gui import __version__
from vam_gui.core.commands import (AcceptPrediction, CommandStack, MovePoint, SetStatus, SetVisible,
                                   ShiftLevels, default_user)
from vam_gui.core.schema import load_schema
from vam_gui.core.settings import Settings, save_settings
from vam_gui.gui.canvas import Canvas
from vam_gui.gui.docks import KeypointTable, WorklistPanel
from vam_gui.gui.icons import icon
from vam_gui.gui.panels import ViewPanel
from vam_gui.gui.workers import Workers


def infer_facing(schema, xy: np.ndarray) -> str | None:
    """Lateral views: which side the anterior corners are on, from the points themselves."""
    if schema.view != "LAT":
        return None
    corner = np.asarray(schema.corner)
    anterior = xy[(corner == 0) | (corner == 2), 0]
    posterior = xy[(corner == 1) | (corner == 3), 0]
    a, p = np.nanmean(anterior) if np.isfinite(anterior).any() else np.nan, \
        np.nanmean(posterior) if np.isfinite(posterior).any() else np.nan
    if not (np.isfinite(a) and np.isfinite(p)):
        return None
    return "left" if a < p else "right"


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # image id, after the canvas shows it

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.study = None
        self.stack: CommandStack | None = None
        self.current_id: str | None = None
        self._view_id: int | None = None
        self.predictor = None
        self.checkpoint: str | None = None
        self.cuda_available: bool | None = None
        self._predict_job: int | None = None
        self._model_job: int | None = None
        self.workers = Workers(parent=self)
        self.setWindowTitle(f"vam-gui {__version__}")
        self.resize(1400, 900)

        self.canvas = Canvas(load_schema())
        self.setCentralWidget(self.canvas)
        self.worklist = WorklistPanel()
        self.keypoints = KeypointTable(load_schema())
        self.view_panel = ViewPanel(self.canvas)
        for title, widget, area in (("Worklist", self.worklist, Qt.DockWidgetArea.LeftDockWidgetArea),
                                    ("Keypoints", self.keypoints, Qt.DockWidgetArea.RightDockWidgetArea),
                                    ("View", self.view_panel, Qt.DockWidgetArea.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
        self._build_status_bar()
        self._build_actions()
        self._connect()
        self._apply_settings()
        self._restore_layout()

    # ------------------------------------------------------------------ construction
    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.cursor_label = QLabel("")
        self.device_label = QLabel("device: –")
        self.model_label = QLabel("model: none")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_prediction)
        for w in (self.cursor_label, self.progress, self.cancel_button, self.device_label, self.model_label):
            bar.addPermanentWidget(w)

    def _action(self, menu, text: str, slot, shortcut=None, icon_name: str | None = None,
                checkable: bool = False, tip: str | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon_name:
            act.setIcon(icon(icon_name))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.setCheckable(checkable)
        (act.toggled if checkable else act.triggered).connect(slot)
        menu.addAction(act)
        self.addAction(act)  # shortcuts work whichever widget has the focus
        return act

    def _build_actions(self) -> None:
        m = self.menuBar()
        f = m.addMenu("&File")
        self._action(f, "New study from &files…", self.new_study_from_files, "Ctrl+N", "new")
        self._action(f, "New study from f&older…", self.new_study_from_folder, "Ctrl+Shift+N")
        self._action(f, "&Open study…", self.ask_open_study, QKeySequence.StandardKey.Open, "open")
        self.recent_menu = f.addMenu("Recent studies")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = m.addMenu("&Edit")
        self.undo_action = self._action(e, "Undo", self.undo, QKeySequence.StandardKey.Undo, "undo")
        self.redo_action = self._action(e, "Redo", self.redo, "Ctrl+Shift+Z", "redo")
        e.addSeparator()
        self._action(e, "Accept &prediction", self.accept_prediction, "Ctrl+Return", "accept-prediction",
                     tip="Replace this image's labels by the model's prediction")
        self._action(e, "Toggle point &missing", self.toggle_missing, "M",
                     tip="Mark the selected point missing (not visible) or visible again")
        self._action(e, "Shift labels &down one vertebra", lambda: self.shift_levels(+1), "Ctrl+Down")
        self._action(e, "Shift labels &up one vertebra", lambda: self.shift_levels(-1), "Ctrl+Up")

        r = m.addMenu("&Review")
        self._action(r, "Mark &accepted and go on", self.accept_and_next, "A", "accepted")
        self._action(r, "&Flag…", self.flag_image, "F", "flag")
        self._action(r, "&Next image", lambda: self.step_image(+1), "PgDown", "next")
        self._action(r, "&Previous image", lambda: self.step_image(-1), "PgUp", "previous")
        self._action(r, "Next &unreviewed image", self.next_unreviewed, "U")
        self._action(r, "Next &low-confidence point", self.next_low_confidence, "L")

        v = m.addMenu("&View")
        self.heat_action = self._action(v, "&Heatmap overlay", self.view_panel.overlay.setChecked, "H",
                                        "heatmap", checkable=True)
        self.heat_action.setChecked(True)
        self.view_panel.overlay.toggled.connect(self.heat_action.setChecked)
        self.labels_action = self._action(v, "Point &labels", self.view_panel.labels.setChecked, "T",
                                          checkable=True)
        self.labels_action.setChecked(True)
        self.view_panel.labels.toggled.connect(self.labels_action.setChecked)
        self._action(v, "&Fit to window", self.canvas.fit, "0", "fit")
        self._action(v, "&Reset window/level", lambda: self.canvas.apply_preset("File window"), "R")

        mm = m.addMenu("&Model")
        self._action(mm, "&Load checkpoint…", self.ask_checkpoint, "Ctrl+L", "model")
        self.predict_action = self._action(mm, "&Predict this image", self.predict_current, "Ctrl+R",
                                           "predict")
        self.predict_all_action = self._action(mm, "Predict all &unreviewed", self.predict_unreviewed,
                                               "Ctrl+Shift+R")
        device_menu = mm.addMenu("&Device")
        group = QActionGroup(self)
        self.device_actions = {}
        for name in ("auto", "cuda", "cpu"):
            act = QAction({"auto": "Auto", "cuda": "CUDA", "cpu": "CPU"}[name], self, checkable=True)
            act.triggered.connect(lambda _=False, n=name: self.set_device(n))
            group.addAction(act)
            device_menu.addAction(act)
            self.device_actions[name] = act
        self.device_actions["cuda"].setEnabled(False)  # until torch has said CUDA is there

        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        for act in (self.undo_action, self.redo_action, self.predict_action, self.heat_action):
            tb.addAction(act)
        self._update_undo_actions()

    def _connect(self) -> None:
        self.worklist.image_chosen.connect(self.show_image)
        self.keypoints.keypoint_chosen.connect(self._keypoint_chosen)
        self.canvas.cursor_moved.connect(self._cursor_moved)
        self.canvas.nudge_requested.connect(self.nudge)
        self.canvas.layer.point_moved.connect(self._point_moved)
        self.canvas.layer.point_selected.connect(self._point_selected)
        self.view_panel.labels_toggled.connect(lambda on: self.canvas.layer.set_labels_visible(on))

    def _apply_settings(self) -> None:
        s = self.settings
        self.canvas.layer.set_threshold(s.confidence_threshold)
        self.view_panel.opacity.setValue(int(round(s.heatmap_opacity * 100)))
        self.view_panel.overlay.setChecked(s.show_heatmap)
        self.view_panel.labels.setChecked(s.show_labels)
        if s.heatmap_colormap in [self.view_panel.colormap.itemText(i)
                                  for i in range(self.view_panel.colormap.count())]:
            self.view_panel.colormap.setCurrentText(s.heatmap_colormap)
        self.device_actions.get(s.device, self.device_actions["auto"]).setChecked(True)

    def _restore_layout(self) -> None:
        qs = QSettings("vam-gui", "vam-gui")
        if qs.value("geometry") is not None:
            self.restoreGeometry(qs.value("geometry"))
        if qs.value("state") is not None:
            self.restoreState(qs.value("state"))

    # ------------------------------------------------------------------ studies
    def open_study(self, path: str | Path) -> bool:
        from vam_gui.io import Study, StudyError

        try:
            study = Study.open(path)
        except StudyError as exc:
            QMessageBox.warning(self, "Cannot open study", str(exc))
            return False
        self.close_study()
        self.study = study
        self.stack = CommandStack(study, user=self.settings.reviewer or default_user())
        self.stack.listeners.append(self._on_command)
        if study.schema.keypoints != self.canvas.layer.schema.keypoints:
            self.canvas.set_schema(study.schema)
            self.canvas.layer.point_moved.connect(self._point_moved)
            self.canvas.layer.point_selected.connect(self._point_selected)
            self.canvas.layer.set_threshold(self.settings.confidence_threshold)
            self.canvas.layer.set_labels_visible(self.view_panel.labels.isChecked())
            self.keypoints.set_schema(study.schema)
        self.worklist.model.set_images(study.list_images())
        self.settings.add_recent(study.path)
        self.setWindowTitle(f"{study.path.name} — vam-gui {__version__}")
        missing = study.missing_images()
        if missing:
            self.statusBar().showMessage(f"{len(missing)} image file(s) of this study are missing", 10000)
        ids = study.image_ids()
        if ids:
            first = next((i for i in ids if study.image_info(i).status == "unreviewed"), ids[0])
            self.show_image(first)
        self._update_undo_actions()
        return True

    def close_study(self) -> None:
        if self.study is None:
            return
        self._end_view()
        self.workers.cancel_all()
        self.workers.wait()
        self.study.close()
        self.study, self.stack, self.current_id = None, None, None
        self.canvas.set_radiograph(None)

    def ask_open_study(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open study", "", "vam-gui studies (*.vamstudy)")
        if path:
            self.open_study(path)

    def _new_study(self, sources: list[str]) -> None:
        from vam_gui.io import Study, StudyError

        target, _ = QFileDialog.getSaveFileName(self, "New study file", "study.vamstudy",
                                                "vam-gui studies (*.vamstudy)")
        if not target:
            return
        if not target.endswith(".vamstudy"):
            target += ".vamstudy"
        try:
            with Study.create(target, schema=self.canvas.layer.schema.name) as study:
                report = study.add_images(sources)
        except StudyError as exc:
            QMessageBox.warning(self, "Cannot create study", str(exc))
            return
        if report.skipped:
            QMessageBox.information(self, "Some files were skipped", "\n".join(
                f"{Path(p).name}: {why}" for p, why in report.skipped[:20]))
        self.open_study(target)

    def new_study_from_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Radiographs", "",
                                                "Images (*.dcm *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)")
        if files:
            self._new_study(files)

    def new_study_from_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of radiographs")
        if folder:
            self._new_study([folder])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_studies:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_study(p))
        if not self.settings.recent_studies:
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ showing an image
    def show_image(self, image_id: str) -> None:
        from vam_gui.io import RadiographError

        if self.study is None:
            return
        self._end_view()
        self.current_id = image_id
        try:
            rad = self.study.load_radiograph(image_id)
        except RadiographError as exc:
            self.canvas.set_radiograph(None)
            self.statusBar().showMessage(f"Cannot show {exc}", 10000)
            rad = None
        if rad is not None:
            self.canvas.set_radiograph(rad)
            self.view_panel.image_changed()
            for warning in rad.warnings:
                self.statusBar().showMessage(warning, 8000)
        self.refresh_points(heatmaps=True)
        self.worklist.select(image_id)
        self._view_id = self.study.begin_view(image_id, self.stack.user)
        self.image_shown.emit(image_id)

    def refresh_points(self, *, heatmaps: bool = False) -> None:
        """Repaint points (and optionally heatmaps) of the current image from the store."""
        study, image_id = self.study, self.current_id
        if study is None or image_id is None:
            return
        ann = study.annotation(image_id)
        pred = study.prediction(image_id)
        conf = pred.confidence if pred is not None else None
        self.canvas.layer.set_data(ann if not ann.is_empty() else None, conf)
        info = study.image_info(image_id)
        self.keypoints.show_annotation(ann, conf, info.spacing, self.settings.confidence_threshold)
        self.canvas.set_facing(info.facing or infer_facing(study.schema, ann.xy))
        if heatmaps:
            maps = study.heatmaps(image_id) if pred is not None else None
            self.canvas.set_heatmaps(maps, pred.letterbox if pred is not None else None)

    def _end_view(self) -> None:
        if self._view_id is not None and self.study is not None:
            self.study.end_view(self._view_id)
        self._view_id = None

    def step_image(self, step: int) -> None:
        ids = self.worklist.visible_ids()
        if not ids:
            return
        i = ids.index(self.current_id) if self.current_id in ids else -1
        self.show_image(ids[(i + step) % len(ids)])

    def next_unreviewed(self) -> bool:
        ids = self.worklist.visible_ids() or (self.study.image_ids() if self.study else [])
        if not ids:
            return False
        start = ids.index(self.current_id) + 1 if self.current_id in ids else 0
        for image_id in ids[start:] + ids[:start]:
            if image_id != self.current_id and self.study.image_info(image_id).status == "unreviewed":
                self.show_image(image_id)
                return True
        self.statusBar().showMessage("No unreviewed image left", 5000)
        return False

    # ------------------------------------------------------------------ editing
    def _push(self, command) -> bool:
        if self.stack is None:
            return False
        try:
            self.stack.push(command)
        except (ValueError, IndexError) as exc:
            self.statusBar().showMessage(str(exc), 6000)
            self.refresh_points()
            return False
        return True

    def _point_moved(self, index: int, x: float, y: float) -> None:
        if self.current_id is not None:
            self._push(MovePoint(self.current_id, index, (x, y)))

    def nudge(self, dx: float, dy: float) -> None:
        i = self.canvas.layer.selected
        if i is None or self.current_id is None:
            return
        pos = self.canvas.layer.position(i)
        if pos is not None:
            self._push(MovePoint(self.current_id, i, (pos[0] + dx, pos[1] + dy)))

    def toggle_missing(self) -> None:
        i = self.canvas.layer.selected
        if i is None or self.current_id is None:
            self.statusBar().showMessage("Select a point first", 4000)
            return
        visible = bool(self.study.annotation(self.current_id).visible[i])
        self._push(SetVisible(self.current_id, i, not visible))

    def accept_prediction(self) -> None:
        if self.current_id is not None:
            self._push(AcceptPrediction(self.current_id))

    def shift_levels(self, delta: int) -> None:
        if self.current_id is not None:
            self._push(ShiftLevels(self.current_id, delta))

    def accept_and_next(self) -> None:
        if self.current_id is not None and self._push(SetStatus(self.current_id, "accepted")):
            self.next_unreviewed()

    def flag_image(self) -> None:
        if self.current_id is None:
            return
        comment, ok = QInputDialog.getText(self, "Flag image", "Why is this image flagged?")
        if ok:
            self._push(SetStatus(self.current_id, "flagged", comment or None))

    def undo(self) -> None:
        if self.stack is not None and self.stack.can_undo:
            self._follow(self.stack.undo())

    def redo(self) -> None:
        if self.stack is not None and self.stack.can_redo:
            self._follow(self.stack.redo())

    def _follow(self, command) -> None:
        # Undoing an edit of another image brings that image back on screen.
        if command is not None and command.image_id != self.current_id:
            self.show_image(command.image_id)

    def _on_command(self, command, _what: str) -> None:
        if command.image_id == self.current_id:
            self.refresh_points()
        self.worklist.model.update_image(self.study.image_info(command.image_id))
        self._update_undo_actions()

    def _update_undo_actions(self) -> None:
        stack = self.stack
        self.undo_action.setEnabled(bool(stack and stack.can_undo))
        self.redo_action.setEnabled(bool(stack and stack.can_redo))
        self.undo_action.setText(f"Undo {stack.undo_label}" if stack and stack.can_undo else "Undo")
        self.redo_action.setText(f"Redo {stack.redo_label}" if stack and stack.can_redo else "Redo")

    def next_low_confidence(self) -> None:
        layer = self.canvas.layer
        k = layer.schema.k
        start = (layer.selected + 1) if layer.selected is not None else 0
        for j in range(k):
            i = (start + j) % k
            if layer.is_low_confidence(i):
                self._keypoint_chosen(i)
                return
        self.statusBar().showMessage("No low-confidence point on this image", 4000)

    def _keypoint_chosen(self, index: int) -> None:
        self.canvas.layer.select(index)
        pos = self.canvas.layer.position(index)
        if pos is not None:
            self.canvas.center_on(*pos)

    def _point_selected(self, index: int) -> None:
        self.keypoints.select(index)
        self.view_panel.keypoint_selected(index)

    def _cursor_moved(self, where) -> None:
        if where is None:
            self.cursor_label.setText("")
            return
        x, y, value = where
        text = f"x {x:.1f}  y {y:.1f} px"
        info = self.study.image_info(self.current_id) if self.study and self.current_id else None
        if info is not None and info.spacing is not None:
            text += f"  ({x * info.spacing[1]:.1f}, {y * info.spacing[0]:.1f} mm)"
        self.cursor_label.setText(f"{text}   value {value:g}")

    # ------------------------------------------------------------------ inference
    def load_model(self, checkpoint: str, device: str | None = None) -> None:
        from vam_gui.model.study_predict import load_predictor

        device = device or self.settings.device
        self.model_label.setText(f"model: loading {Path(checkpoint).name}…")
        job = self.workers.submit(_load_model_job, checkpoint, device, loader=load_predictor)
        self._model_job = job.id
        job.signals.finished.connect(self._model_loaded)
        job.signals.failed.connect(self._model_failed)

    def _model_loaded(self, job_id: int, result) -> None:
        if job_id != self._model_job:
            return  # a newer load superseded this one
        self.predictor, self.cuda_available, self.checkpoint = result
        self.device_actions["cuda"].setEnabled(bool(self.cuda_available))
        self.device_label.setText(f"device: {self.predictor.device}")
        self.model_label.setText(f"model: {self.predictor.model_id}")
        self.model_label.setToolTip(self.checkpoint)

    def _model_failed(self, job_id: int, message: str) -> None:
        if job_id == self._model_job:
            self.model_label.setText("model: none")
            QMessageBox.warning(self, "Cannot load the model", message)

    def ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model checkpoint", "",
                                              "Checkpoints (*.safetensors *.pt *.pth)")
        if path:
            self.settings.checkpoint = path
            self.load_model(path)

    def set_device(self, device: str) -> None:
        self.settings.device = device
        if self.checkpoint:
            self.load_model(self.checkpoint, device)

    def predict_current(self) -> None:
        if self.current_id is not None:
            self.predict([self.current_id])

    def predict_unreviewed(self) -> None:
        if self.study is not None:
            self.predict([i.image_id for i in self.study.list_images() if i.status == "unreviewed"])

    def predict(self, image_ids: list[str]) -> None:
        from vam_gui.model.study_predict import predict_study_images

        if self.predictor is None:
            QMessageBox.information(self, "No model", "Load a model checkpoint first (Model > Load checkpoint).")
            return
        if self._predict_job is not None or not image_ids or self.study is None:
            return
        job = self.workers.submit(predict_study_images, self.study, self.predictor, image_ids)
        self._predict_job = job.id
        self.progress.setRange(0, len(image_ids))
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.cancel_button.setVisible(True)
        job.signals.progress.connect(lambda _id, done, total: self.progress.setValue(done))
        job.signals.item.connect(self._prediction_arrived)
        job.signals.failed.connect(lambda _id, msg: QMessageBox.warning(self, "Prediction failed", msg))
        job.signals.finished.connect(self._prediction_finished)
        job.signals.done.connect(self._prediction_done)

    def _prediction_arrived(self, _job_id: int, item) -> None:
        image_id, _prediction = item
        if self.study is None:
            return
        self.worklist.model.update_image(self.study.image_info(image_id))
        # Stored either way; repaint only if the reviewer is still looking at this image.
        if image_id == self.current_id:
            self.refresh_points(heatmaps=True)

    def _prediction_finished(self, _job_id: int, result: dict) -> None:
        if result["errors"]:
            QMessageBox.warning(self, "Some images could not be predicted",
                                "\n".join(msg for _, msg in result["errors"][:20]))
        self.statusBar().showMessage(f"{len(result['done'])} image(s) predicted", 5000)

    def _prediction_done(self, _job_id: int) -> None:
        self._predict_job = None
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)

    def cancel_prediction(self) -> None:
        job = self.workers.jobs.get(self._predict_job) if self._predict_job else None
        if job is not None:
            job.cancel()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.workers.cancel_all()
        self.workers.wait()
        self.close_study()
        s = self.settings
        s.heatmap_opacity = self.view_panel.opacity.value() / 100
        s.show_heatmap = self.view_panel.overlay.isChecked()
        s.show_labels = self.view_panel.labels.isChecked()
        s.heatmap_colormap = self.view_panel.colormap.currentText()
        try:
            save_settings(s)
        except OSError as exc:
            print(f"vam-gui: could not save settings: {exc}")
        qs = QSettings("vam-gui", "vam-gui")
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("state", self.saveState())
        super().closeEvent(event)


def _load_model_job(checkpoint, device, *, loader, progress, cancel, emit):
    import torch

    predictor = loader(checkpoint, device)
    return predictor, torch.cuda.is_available(), str(checkpoint)


__all__ = ["MainWindow", "QTimer"]
