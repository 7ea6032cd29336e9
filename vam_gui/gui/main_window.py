"""The review window: wires the canvas, docks, actions, the command stack and the workers.

The window appears in two steps: the shell (menus, toolbar, status bar, empty docks) needs
only Qt and shows at once; the body (canvas, tables, view controls: pyqtgraph, numpy,
superqt) is built right after the first paint, or earlier when something needs it.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QInputDialog, QLabel, QMainWindow, QMessageBox

from vam_gui import __version__
from vam_gui.core.settings import Settings, save_settings
from vam_gui.gui.inference import Inference
from vam_gui.gui.workers import Workers


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # image id, after the canvas shows it
    body_ready = Signal()

    def __init__(self, settings: Settings | None = None, *, restore_layout: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.study = None
        self.stack = None
        self.current_id: str | None = None
        self._view_id: int | None = None
        self._current_spacing: tuple[float, float] | None = None
        self.canvas = None
        self.first_paint_at: float | None = None
        self.workers = Workers(parent=self)
        self.setWindowTitle(f"vam-gui {__version__}")
        self.resize(1400, 900)
        placeholder = QLabel("Loading…")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setCentralWidget(placeholder)
        self.docks: dict[str, QDockWidget] = {}
        for title, area in (("Worklist", Qt.DockWidgetArea.LeftDockWidgetArea),
                            ("Keypoints", Qt.DockWidgetArea.RightDockWidgetArea),
                            ("Measurements", Qt.DockWidgetArea.RightDockWidgetArea),
                            ("View", Qt.DockWidgetArea.RightDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower()}")
            self.addDockWidget(area, dock)
            self.docks[title] = dock
        self.tabifyDockWidget(self.docks["Keypoints"], self.docks["Measurements"])
        self.docks["Keypoints"].raise_()
        self.cursor_label = QLabel("")
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.inference = Inference(self.workers, self.statusBar())
        self.inference.model_ready.connect(self._model_ready)
        self.inference.model_failed.connect(lambda msg: QMessageBox.warning(self, "Cannot load the model", msg))
        self.inference.image_predicted.connect(self._image_predicted)
        self.inference.finished.connect(self._prediction_finished)
        self.inference.failed.connect(lambda msg: QMessageBox.warning(self, "Prediction failed", msg))
        self._icons: list[tuple[QAction, str]] = []
        self._build_actions()
        self._layout_restored = self._restore_layout() if restore_layout else False

    # ------------------------------------------------------------------ construction
    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        super().paintEvent(event)
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()
            QTimer.singleShot(0, self.ensure_body)

    def ensure_body(self) -> None:
        """Build the canvas and docks if they are not there yet."""
        if self.canvas is not None:
            return
        from vam_gui.core.schema import load_schema
        from vam_gui.gui.app import configure_pyqtgraph

        configure_pyqtgraph()
        from vam_gui.gui.canvas import Canvas
        from vam_gui.gui.docks import KeypointTable, WorklistPanel
        from vam_gui.gui.icons import icon
        from vam_gui.gui.panels import ViewPanel

        schema = load_schema()
        self.canvas = Canvas(schema)
        self.setCentralWidget(self.canvas)
        self.worklist = WorklistPanel()
        self.keypoints = KeypointTable(schema)
        self.view_panel = ViewPanel(self.canvas)
        from vam_gui.gui.review import ReviewTools

        self.review = ReviewTools(self)
        self.docks["Measurements"].setWidget(self.review.panel)
        self.docks["Worklist"].setWidget(self.worklist)
        self.docks["Keypoints"].setWidget(self.keypoints)
        self.docks["View"].setWidget(self.view_panel)
        for act, name in self._icons:
            act.setIcon(icon(name))
        self.worklist.image_chosen.connect(self.show_image)
        self.keypoints.keypoint_chosen.connect(self._keypoint_chosen)
        self.canvas.cursor_moved.connect(self._cursor_moved)
        self.canvas.nudge_requested.connect(self.nudge)
        self._connect_layer()
        self.view_panel.labels_toggled.connect(lambda on: self.canvas.layer.set_labels_visible(on))
        self.view_panel.overlay.toggled.connect(self.heat_action.setChecked)
        self.view_panel.labels.toggled.connect(self.labels_action.setChecked)
        self.heat_action.toggled.connect(self.view_panel.overlay.setChecked)
        self.labels_action.toggled.connect(self.view_panel.labels.setChecked)
        self.canvas.setMinimumSize(400, 400)
        if not self._layout_restored:
            # After the layout has settled: sizes given earlier are overridden by it.
            QTimer.singleShot(0, lambda: self.resizeDocks(
                [self.docks["Worklist"], self.docks["Keypoints"]], [280, 390], Qt.Orientation.Horizontal))
        self._apply_settings()
        self.body_ready.emit()

    def _connect_layer(self) -> None:
        layer = self.canvas.layer
        layer.point_moved.connect(self._point_moved)
        layer.point_selected.connect(self._point_selected)
        layer.set_threshold(self.settings.confidence_threshold)

    def _action(self, menu, text: str, slot, shortcut=None, icon_name: str | None = None,
                checkable: bool = False, tip: str | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if icon_name:
            self._icons.append((act, icon_name))  # icons load with the body
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(slot)
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
        self.export_action = self._action(f, "&Export…", self.ask_export, "Ctrl+E",
                                          tip="Export labels (JSON, COCO, CSV) or a training dataset")
        self.import_action = self._action(f, "&Import labels…", self.ask_import,
                                          tip="Import labels: COCO, scoliosis challenge, endplate CSV, JSON")
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
        self._action(r, "Next fla&gged point", lambda: self.canvas and self.review.next_flagged_point(), "G",
                     tip="Jump to the next point an anatomical check flagged")
        self._action(r, "Next most &uncertain image", lambda: self.canvas and self.review.next_most_uncertain(),
                     "Shift+U", tip="The unaccepted image with the lowest confidence")
        r.addSeparator()
        self._action(r, "Correction &report…", lambda: self.canvas and self.review.show_report())

        v = m.addMenu("&View")
        self.heat_action = self._action(v, "&Heatmap overlay", None, "H", "heatmap", checkable=True)
        self.labels_action = self._action(v, "Point &labels", None, "T", checkable=True)
        self.heat_action.setChecked(self.settings.show_heatmap)
        self.labels_action.setChecked(self.settings.show_labels)
        self._action(v, "&Fit to window", lambda: self.canvas and self.canvas.fit(), "0", "fit")
        self._action(v, "&Reset window/level", lambda: self.canvas and self.canvas.apply_preset("File window"), "R")

        mm = m.addMenu("&Model")
        self._action(mm, "&Load checkpoint…", self.ask_checkpoint, "Ctrl+L", "model")
        self.predict_action = self._action(mm, "&Predict this image", self.predict_current, "Ctrl+R", "predict")
        self._action(mm, "Predict all &unreviewed", self.predict_unreviewed, "Ctrl+Shift+R")
        device_menu = mm.addMenu("&Device")
        group = QActionGroup(self)
        self.device_actions: dict[str, QAction] = {}
        for name, text in (("auto", "Auto"), ("cuda", "CUDA"), ("cpu", "CPU")):
            act = QAction(text, self, checkable=True)
            act.triggered.connect(lambda _=False, n=name: self.set_device(n))
            group.addAction(act)
            device_menu.addAction(act)
            self.device_actions[name] = act
        self.device_actions["cuda"].setEnabled(False)  # until torch has said CUDA is there
        self.device_actions.get(self.settings.device, self.device_actions["auto"]).setChecked(True)

        tb = self.addToolBar("Main")
        tb.setObjectName("toolbar-main")
        for act in (self.undo_action, self.redo_action, self.predict_action, self.heat_action):
            tb.addAction(act)
        self._update_undo_actions()

    def _apply_settings(self) -> None:
        s = self.settings
        self.view_panel.opacity.setValue(int(round(s.heatmap_opacity * 100)))
        self.view_panel.overlay.setChecked(s.show_heatmap)
        self.view_panel.labels.setChecked(s.show_labels)
        if self.view_panel.colormap.findText(s.heatmap_colormap) >= 0:
            self.view_panel.colormap.setCurrentText(s.heatmap_colormap)

    def _restore_layout(self) -> bool:
        qs = QSettings("vam-gui", "vam-gui")
        geometry, state = qs.value("geometry"), qs.value("state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        return state is not None and self.restoreState(state)

    # ------------------------------------------------------------------ studies
    def open_study(self, path: str | Path) -> bool:
        from vam_gui.core.commands import CommandStack, default_user
        from vam_gui.io import Study, StudyError

        self.ensure_body()
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
            self._connect_layer()
            self.canvas.layer.set_labels_visible(self.view_panel.labels.isChecked())
            self.keypoints.set_schema(study.schema)
        self.worklist.model.set_images(study.list_images())
        self.review.study_opened()
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

    def ask_export(self) -> None:
        from vam_gui.gui.export_dialog import ask_export

        ask_export(self)

    def ask_import(self) -> None:
        from vam_gui.gui.export_dialog import ask_import

        ask_import(self)

    def new_study_from_files(self) -> None:
        from vam_gui.gui.study_dialogs import new_study_from_files

        new_study_from_files(self)

    def new_study_from_folder(self) -> None:
        from vam_gui.gui.study_dialogs import new_study_from_folder

        new_study_from_folder(self)

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
        self._current_spacing = info.spacing
        self.keypoints.show_annotation(ann, conf, info.spacing, self.settings.confidence_threshold)
        self.canvas.set_facing(info.facing or self._inferred_facing(ann))
        self.review.refresh()
        if heatmaps:
            maps = study.heatmaps(image_id) if pred is not None else None
            self.canvas.set_heatmaps(maps, pred.letterbox if pred is not None else None)

    def _inferred_facing(self, ann) -> str | None:
        from vam_gui.core.measure import corner_table, infer_facing

        schema = self.study.schema
        return infer_facing(corner_table(schema, ann.xy, ann.visible)) if schema.view == "LAT" else None

    def _end_view(self) -> None:
        if self._view_id is not None and self.study is not None:
            self.study.end_view(self._view_id)
        self._view_id = None

    def step_image(self, step: int) -> None:
        ids = self.worklist.visible_ids() if self.study is not None else []
        if not ids:
            return
        i = ids.index(self.current_id) if self.current_id in ids else -1
        self.show_image(ids[(i + step) % len(ids)])

    def next_unreviewed(self) -> bool:
        if self.study is None:
            return False
        ids = self.worklist.visible_ids() or self.study.image_ids()
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
        self._ask_reviewer_once()
        try:
            self.stack.push(command)
        except (ValueError, IndexError) as exc:
            self.statusBar().showMessage(str(exc), 6000)
            self.refresh_points()
            return False
        return True

    def _ask_reviewer_once(self) -> None:
        """Edits are signed: before the first one, ask for the reviewer's name (once, kept in
        the settings; the login name is the default)."""
        if self.settings.reviewer:
            return
        from vam_gui.core.commands import default_user

        name, ok = QInputDialog.getText(self, "Reviewer", "Your name, written on every edit:",
                                        text=default_user())
        self.settings.reviewer = (name.strip() if ok else "") or default_user()
        self.stack.user = self.settings.reviewer
        try:
            save_settings(self.settings)
        except OSError as exc:
            self.statusBar().showMessage(f"could not save settings: {exc}", 6000)

    def _point_moved(self, index: int, x: float, y: float) -> None:
        from vam_gui.core.commands import MovePoint

        if self.current_id is not None:
            self._push(MovePoint(self.current_id, index, (x, y)))

    def nudge(self, dx: float, dy: float) -> None:
        from vam_gui.core.commands import MovePoint

        i = self.canvas.layer.selected if self.canvas is not None else None
        if i is None or self.current_id is None:
            return
        pos = self.canvas.layer.position(i)
        if pos is not None:
            self._push(MovePoint(self.current_id, i, (pos[0] + dx, pos[1] + dy)))

    def toggle_missing(self) -> None:
        from vam_gui.core.commands import SetVisible

        i = self.canvas.layer.selected if self.canvas is not None else None
        if i is None or self.current_id is None:
            self.statusBar().showMessage("Select a point first", 4000)
            return
        visible = bool(self.study.annotation(self.current_id).visible[i])
        self._push(SetVisible(self.current_id, i, not visible))

    def accept_prediction(self) -> None:
        from vam_gui.core.commands import AcceptPrediction

        if self.current_id is not None:
            self._push(AcceptPrediction(self.current_id))

    def shift_levels(self, delta: int) -> None:
        from vam_gui.core.commands import ShiftLevels

        if self.current_id is not None:
            self._push(ShiftLevels(self.current_id, delta))

    def accept_and_next(self) -> None:
        from vam_gui.core.commands import SetStatus

        if self.current_id is not None and self._push(SetStatus(self.current_id, "accepted")):
            self.next_unreviewed()

    def flag_image(self) -> None:
        from vam_gui.core.commands import SetStatus

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
        if self.canvas is None:
            return
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
        spacing = self._current_spacing  # per mouse move: no database query
        if spacing is not None:
            text += f"  ({x * spacing[1]:.1f}, {y * spacing[0]:.1f} mm)"
        self.cursor_label.setText(f"{text}   value {value:g}")

    # ------------------------------------------------------------------ inference
    @property
    def predictor(self):
        return self.inference.predictor

    def load_model(self, checkpoint: str, device: str | None = None) -> None:
        self.inference.load(str(checkpoint), device or self.settings.device)

    def _model_ready(self, _model_id: str, _device: str, cuda: bool) -> None:
        self.device_actions["cuda"].setEnabled(cuda)

    def ask_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load model checkpoint", "",
                                              "Checkpoints (*.safetensors *.pt *.pth)")
        if path:
            self.settings.checkpoint = path
            self.load_model(path)

    def set_device(self, device: str) -> None:
        self.settings.device = device
        if self.inference.checkpoint:
            self.load_model(self.inference.checkpoint, device)

    def predict_current(self) -> None:
        if self.current_id is not None:
            self.predict([self.current_id])

    def predict_unreviewed(self) -> None:
        if self.study is not None:
            self.predict([i.image_id for i in self.study.list_images() if i.status == "unreviewed"])

    def predict(self, image_ids: list[str]) -> None:
        if self.inference.predictor is None:
            QMessageBox.information(self, "No model", "Load a model checkpoint first (Model > Load checkpoint).")
            return
        if self.study is not None:
            self.inference.predict(self.study, image_ids)

    def cancel_prediction(self) -> None:
        self.inference.cancel()

    def _image_predicted(self, image_id: str) -> None:
        if self.study is None:
            return
        self.worklist.model.update_image(self.study.image_info(image_id))
        # Stored either way; repaint only if the reviewer is still looking at this image.
        if image_id == self.current_id:
            self.refresh_points(heatmaps=True)

    def _prediction_finished(self, result: dict) -> None:
        if result["errors"]:
            QMessageBox.warning(self, "Some images could not be predicted",
                                "\n".join(msg for _, msg in result["errors"][:20]))
        self.statusBar().showMessage(f"{len(result['done'])} image(s) predicted", 5000)

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.workers.cancel_all()
        self.workers.wait()
        if self.canvas is not None:
            self.close_study()
            s = self.settings
            s.heatmap_opacity = self.view_panel.opacity.value() / 100
            s.show_heatmap = self.view_panel.overlay.isChecked()
            s.show_labels = self.view_panel.labels.isChecked()
            s.heatmap_colormap = self.view_panel.colormap.currentText()
            try:
                save_settings(s)
            except OSError as exc:
                self.statusBar().showMessage(f"could not save settings: {exc}")
        qs = QSettings("vam-gui", "vam-gui")
        qs.setValue("geometry", self.saveGeometry())
        qs.setValue("state", self.saveState())
        super().closeEvent(event)
