"""The review window: builds the canvas, docks and actions and wires them to the review
session (``vam_gui.session``), which owns the study, the command stack and navigation. The
window redraws what the session's events name: study-wide here, the shown image in
``current_image``; input becomes commands in ``editing``.

The window appears in two steps: the shell (menus, toolbar, status bar, empty docks) needs
only Qt and shows at once; the body (canvas, tables, view controls: pyqtgraph, numpy,
superqt) is built right after the first paint, or earlier when something needs it.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow

from vam_gui import __version__
from vam_gui.core.settings import Settings, save_settings
from vam_gui.gui.editing import Editor
from vam_gui.gui.gestures import Gestures
from vam_gui.gui.messages import warn
from vam_gui.gui.model_controls import ModelControls
from vam_gui.gui.shell import restore_layout_of, save_layout_of, shape_shell, size_docks
from vam_gui.gui.workers import Workers
from vam_gui.session import Event, ReviewSession, Topic


def _missing_images(study, *, progress, cancel, emit) -> list[str]:
    return study.missing_images(cancel)


class MainWindow(QMainWindow):
    image_shown = Signal(str)  # image id, after the canvas shows it
    body_ready = Signal()

    def __init__(self, settings: Settings | None = None, *, restore_layout: bool = True) -> None:
        super().__init__()
        self.settings = settings or Settings()
        self.session = ReviewSession(reviewer=self.settings.reviewer, order=self._navigation_order)
        self.editor = Editor(self, self.session, self.settings)
        self.current = None  # CurrentImage, with the body
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
        self.model_controls = ModelControls(self, self.session, self.settings)
        self.inference = self.model_controls.inference
        self.gestures = Gestures(self, self.session)
        self._icons: list[tuple[QAction, str]] = []
        self.session.subscribe(self._on_event, (Topic.STUDY_OPENED, Topic.STUDY_CLOSED, Topic.STATUS_CHANGED,
                                                Topic.PREDICTION_STORED, Topic.STACK_CHANGED))
        self._build_actions()  # after: the reading controls' handlers run after the window's
        self._layout_restored = restore_layout_of(self) if restore_layout else False
        shape_shell(self, self.docks, [self.toolbar], layout_restored=self._layout_restored)  # as the body will be

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
        from vam_gui.gui.reading import ReadingControls

        # first, as when the shell made it (3 ms of the first paint): handlers and menu order kept
        self.reading = ReadingControls(self, self.session, self.review_menu, self._action)
        from vam_gui.core.schema import load_schema
        from vam_gui.gui.app import configure_pyqtgraph

        configure_pyqtgraph()
        from vam_gui.gui.canvas import Canvas
        from vam_gui.gui.current_image import CurrentImage
        from vam_gui.gui.docks import KeypointTable, WorklistPanel
        from vam_gui.gui.icons import icon
        from vam_gui.gui.panels import ViewPanel
        from vam_gui.gui.read_only_banner import ReadOnlyBanner

        schema = load_schema()
        self.canvas = Canvas(schema)
        self.setCentralWidget(self.canvas)
        self.worklist = WorklistPanel()
        self.keypoints = KeypointTable(schema)
        self.view_panel = ViewPanel(self.canvas)
        from vam_gui.gui.review import ReviewTools

        self.review = ReviewTools(self, self.session)
        self.current = CurrentImage(self, self.session, self.settings)
        self.banner = ReadOnlyBanner(self, self.session)
        self.docks["Measurements"].setWidget(self.review.panel)
        self.docks["Worklist"].setWidget(self.worklist)
        self.docks["Keypoints"].setWidget(self.keypoints)
        self.docks["View"].setWidget(self.view_panel)
        for act, name in self._icons:
            act.setIcon(icon(name))
        self.worklist.image_chosen.connect(self.session.show_image)
        self.worklist.hide_identifiers_changed.connect(self._hide_identifiers)
        self.keypoints.keypoint_chosen.connect(self.current.select_keypoint)
        self.canvas.cursor_moved.connect(lambda where: self.cursor_label.setText(self.current.cursor_text(where)))
        self.canvas.nudge_requested.connect(self.editor.nudge)
        self.gestures.attach(self.canvas)
        self._connect_layer()
        self.view_panel.labels_toggled.connect(lambda on: self.canvas.layer.set_labels_visible(on))
        self.view_panel.overlay.toggled.connect(self.heat_action.setChecked)
        self.view_panel.labels.toggled.connect(self.labels_action.setChecked)
        self.heat_action.toggled.connect(self.view_panel.overlay.setChecked)
        self.labels_action.toggled.connect(self.view_panel.labels.setChecked)
        self.canvas.setMinimumSize(400, 400)
        if not self._layout_restored:  # again once the layout has settled: it overrides earlier sizes
            QTimer.singleShot(0, lambda: size_docks(self, self.docks))
        self._apply_settings()
        self.body_ready.emit()

    def _connect_layer(self) -> None:
        layer = self.canvas.layer
        layer.point_moved.connect(self.editor.point_moved)
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
        self._action(f, "&Check study file…", self.check_study_file,
                     tip="Check every page of the study file for damage (reads all of it, in the background)")
        f.addSeparator()
        self._action(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        e = m.addMenu("&Edit")
        ed, session = self.editor, self.session
        self.undo_action = self._action(e, "Undo", session.undo, QKeySequence.StandardKey.Undo, "undo")
        self.redo_action = self._action(e, "Redo", session.redo, "Ctrl+Shift+Z", "redo")
        e.addSeparator()
        self._action(e, "Accept &prediction", ed.accept_prediction, "Ctrl+Return", "accept-prediction",
                     tip="Replace this image's labels by the model's prediction")
        self._action(e, "Toggle point &missing", ed.toggle_missing, "M",
                     tip="Mark the selected point missing (not visible) or visible again")
        self._action(e, "Shift labels &down one vertebra", lambda: ed.shift_levels(+1), "Ctrl+Down")
        self._action(e, "Shift labels &up one vertebra", lambda: ed.shift_levels(-1), "Ctrl+Up")
        self.gestures.add_edit_actions(e, self._action)
        e.addSeparator()
        self._action(e, "Pr&eferences…", self.show_preferences, QKeySequence.StandardKey.Preferences)

        r = m.addMenu("&Review")
        self._action(r, "Mark &accepted and go on", ed.accept_and_next, "A", "accepted")
        self._action(r, "&Flag…", ed.flag_image, "F", "flag")
        self._action(r, "&Next image", lambda: session.step(+1), "PgDown", "next")
        self._action(r, "&Previous image", lambda: session.step(-1), "PgUp", "previous")
        self._action(r, "Next &unreviewed image", ed.next_unreviewed, "U")
        self._action(r, "Next &low-confidence point", lambda: self.current and self.current.next_low_confidence(), "L")
        self._action(r, "Next fla&gged point", lambda: self.canvas and self.review.next_flagged_point(), "G",
                     tip="Jump to the next point an anatomical check flagged")
        self._action(r, "Next most &uncertain image", lambda: self.canvas and self.review.next_most_uncertain(),
                     "Shift+U", tip="The unaccepted image with the lowest confidence")
        r.addSeparator()
        self._action(r, "Correction &report…", lambda: self.canvas and self.review.show_report())
        self.review_menu = r  # the reading controls end it, made with the body (gui/reading.py)

        v = m.addMenu("&View")
        self.heat_action = self._action(v, "&Heatmap overlay", None, "H", "heatmap", checkable=True)
        self.labels_action = self._action(v, "Point &labels", None, "T", checkable=True)
        self.heat_action.setChecked(self.settings.show_heatmap)
        self.labels_action.setChecked(self.settings.show_labels)
        self._action(v, "&Fit to window", lambda: self.canvas and self.canvas.fit(), "0", "fit")
        self._action(v, "&Reset window/level", lambda: self.canvas and self.canvas.apply_preset("File window"), "R")
        panels = v.addMenu("&Panels")  # a closed dock comes back from here
        for dock in self.docks.values():
            panels.addAction(dock.toggleViewAction())

        model_menu = m.addMenu("&Model")
        self.predict_action = self.model_controls.build_menu(model_menu, self._action)
        self.gestures.add_model_actions(model_menu, self._action)

        self._action(m.addMenu("&Help"), "&Keyboard shortcuts", self.show_shortcuts, "F1")

        tb = self.toolbar = self.addToolBar("Main")
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

    # ------------------------------------------------------------------ studies
    def open_study(self, path: str | Path) -> bool:
        from vam_gui.io import StudyError

        try:
            self.session.open(path)
        except StudyError as exc:
            warn(self, "Cannot open study", str(exc))
            return False
        return True

    def ask_open_study(self) -> None:
        from PySide6.QtWidgets import QFileDialog  # its type is made when first needed, not at start

        path, _ = QFileDialog.getOpenFileName(self, "Open study", "", "vam-gui studies (*.vamstudy)")
        if path:
            self.open_study(path)

    def ask_export(self) -> None:
        from vam_gui.gui.export_dialog import ask_export

        ask_export(self, self.session)

    def ask_import(self) -> None:
        from vam_gui.gui.export_dialog import ask_import

        ask_import(self, self.session)

    def new_study_from_files(self) -> None:
        from vam_gui.gui.study_dialogs import new_study_from_files

        new_study_from_files(self, self.session)

    def new_study_from_folder(self) -> None:
        from vam_gui.gui.study_dialogs import new_study_from_folder

        new_study_from_folder(self, self.session)

    def check_study_file(self) -> None:
        from vam_gui.gui.study_dialogs import check_study_file

        check_study_file(self, self.session)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_studies:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_study(p))
        if not self.settings.recent_studies:
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ session events
    def _on_event(self, event: Event) -> None:
        # The study-wide part; the shown image repaints itself (gui/current_image.py).
        {Topic.STUDY_OPENED: self._study_opened, Topic.STUDY_CLOSED: self._study_closed,
         Topic.STATUS_CHANGED: self._row_changed, Topic.PREDICTION_STORED: self._row_changed,
         Topic.STACK_CHANGED: self._update_undo_actions}[event.topic](event)

    def _study_opened(self, _event: Event) -> None:
        from vam_gui.io import StudyError

        self.ensure_body()  # whoever opened it
        study = self.session.study
        if study.schema.keypoints != self.canvas.layer.schema.keypoints:
            self.canvas.set_schema(study.schema)
            self._connect_layer()
            self.canvas.layer.set_labels_visible(self.view_panel.labels.isChecked())
            self.keypoints.set_schema(study.schema)
        try:
            self.worklist.set_images(study.list_images(), study_uid=study.study_uid,
                                     hide_identifiers=study.hide_identifiers)
        except StudyError as exc:  # a damaged images row: said; the images that open still do
            self.worklist.model.set_images([])
            warn(self, "Damaged study row", str(exc))
        self.review.study_opened()
        self.settings.add_recent(study.path)
        self.setWindowTitle(f"{study.path.name} — vam-gui {__version__}")
        self.workers.submit(_missing_images, study, on={"finished": self._missing_found})  # a stat per image
        self._update_undo_actions()

    def _missing_found(self, _job: int, missing: list[str]) -> None:
        if missing:
            self.statusBar().showMessage(f"{len(missing)} image file(s) of this study are missing", 10000)

    def _hide_identifiers(self, hide: bool) -> None:
        """Kept in the study (a read-only one keeps it for this window only)."""
        study = self.session.study
        if study is not None and not study.read_only:
            study.set_hide_identifiers(hide)

    def _study_closed(self, _event: Event) -> None:
        # Before the store closes: no worker may go on using it.
        self.inference.drop_queued()  # a request for that study must not run on the next one
        self.workers.cancel_all()
        self.workers.wait()
        if self.canvas is not None:
            self.canvas.set_radiograph(None)
        self._update_undo_actions()

    def _row_changed(self, event: Event) -> None:
        # Status, reviewer, confidence: the worklist row of that image only.
        self.worklist.model.update_image(self.session.study.image_info(event.image_id))

    def _update_undo_actions(self, _event: Event | None = None) -> None:
        stack = self.session.stack
        self.undo_action.setEnabled(bool(stack and stack.can_undo))
        self.redo_action.setEnabled(bool(stack and stack.can_redo))
        self.undo_action.setText(f"Undo {stack.undo_label}" if stack and stack.can_undo else "Undo")
        self.redo_action.setText(f"Redo {stack.redo_label}" if stack and stack.can_redo else "Redo")

    def _point_selected(self, index: int) -> None:
        self.keypoints.select(index)
        self.view_panel.keypoint_selected(index)

    def _navigation_order(self) -> list[str]:
        """Next and previous walk the worklist's rows as shown (filtered, sorted)."""
        return self.worklist.visible_ids() if self.canvas is not None else []

    def show_preferences(self) -> None:
        from vam_gui.gui.preferences import PreferencesDialog

        PreferencesDialog(self, self.settings).open()

    def show_shortcuts(self) -> None:
        from vam_gui.gui.help_dialog import ShortcutsDialog

        ShortcutsDialog(self).open()

    # ------------------------------------------------------------------ inference (gui/model_controls.py)
    @property
    def predictor(self):
        return self.inference.predictor

    def load_model(self, checkpoint: str, device: str | None = None) -> None:
        self.model_controls.load(checkpoint, device)

    def predict(self, image_ids: list[str]) -> None:
        self.model_controls.predict(image_ids)

    def cancel_prediction(self) -> None:
        self.inference.cancel()

    # ------------------------------------------------------------------ closing
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt naming
        if not self.model_controls.may_close():
            event.ignore()
            return
        self.workers.cancel_all()
        self.workers.wait()
        if self.canvas is not None:
            self.session.close()
            s = self.settings
            s.heatmap_opacity = self.view_panel.opacity.value() / 100
            s.show_heatmap = self.view_panel.overlay.isChecked()
            s.show_labels = self.view_panel.labels.isChecked()
            s.heatmap_colormap = self.view_panel.colormap.currentText()
            try:
                save_settings(s)
            except OSError as exc:
                self.statusBar().showMessage(f"could not save settings: {exc}")
        save_layout_of(self)
        super().closeEvent(event)
