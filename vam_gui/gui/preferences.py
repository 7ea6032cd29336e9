"""Edit > Preferences: the settings a reviewer changes (name, confidence threshold, overlay,
device, image size limit), each widget bounded by its field's declared range
(``core.fields``), applied to the open window and saved atomically on OK."""

from __future__ import annotations

from dataclasses import fields

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLineEdit,
    QMainWindow,
    QSpinBox,
)

from vam_gui.core.fields import field_check
from vam_gui.core.settings import COLORMAPS, DEVICES, Settings, save_settings
from vam_gui.gui.messages import warn


def _bounds(name: str) -> tuple[float, float]:
    check = next(field_check(f) for f in fields(Settings) if f.name == name)
    assert check is not None and check.lo is not None and check.hi is not None
    return check.lo, check.hi


class PreferencesDialog(QDialog):
    def __init__(self, window: QMainWindow, settings: Settings) -> None:
        super().__init__(window)
        self.setWindowTitle("Preferences")
        self.window_ = window
        self.settings = settings
        self.reviewer = QLineEdit(settings.reviewer, self)
        self.reviewer.setPlaceholderText("your login name")
        self.threshold = self._fraction("confidence_threshold", settings.confidence_threshold)
        self.opacity = self._fraction("heatmap_opacity", settings.heatmap_opacity)
        self.colormap = QComboBox(self)
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setCurrentText(settings.heatmap_colormap)
        self.device = QComboBox(self)
        self.device.addItems(list(DEVICES))
        self.device.setCurrentText(settings.device)
        self.max_pixels = QSpinBox(self)  # in millions: a QSpinBox holds 32-bit ints
        lo, hi = _bounds("max_image_pixels")
        self.max_pixels.setRange(max(1, int(lo // 1_000_000)), min(2**31 - 1, int(hi // 1_000_000)))
        self.max_pixels.setSuffix(" million pixels")
        self.max_pixels.setValue(max(1, round(settings.max_image_pixels / 1_000_000)))
        form = QFormLayout(self)
        form.addRow("Reviewer name", self.reviewer)
        form.addRow("Flag predictions below confidence", self.threshold)
        form.addRow("Heatmap opacity", self.opacity)
        form.addRow("Heatmap colours", self.colormap)
        form.addRow("Device", self.device)
        form.addRow("Largest image", self.max_pixels)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _fraction(self, name: str, value: float) -> QDoubleSpinBox:
        box = QDoubleSpinBox(self)
        box.setRange(*_bounds(name))
        box.setSingleStep(0.05)
        box.setDecimals(2)
        box.setValue(value)
        return box

    def accept(self) -> None:
        """Apply to the window, then save; a save that fails is said (the window keeps them)."""
        s, w = self.settings, self.window_
        s.reviewer = self.reviewer.text().strip()
        s.confidence_threshold = self.threshold.value()
        s.heatmap_opacity = self.opacity.value()
        s.heatmap_colormap = self.colormap.currentText()
        s.max_image_pixels = self.max_pixels.value() * 1_000_000
        if s.reviewer:
            w.session.reviewer = s.reviewer
        if w.canvas is not None:
            w.canvas.layer.set_threshold(s.confidence_threshold)
            w.view_panel.opacity.setValue(round(s.heatmap_opacity * 100))
            w.view_panel.colormap.setCurrentText(s.heatmap_colormap)
            w.current.refresh(heatmaps=False, keep_prediction=True)
        if self.device.currentText() != s.device:
            w.model_controls.set_device(self.device.currentText())
            w.model_controls.device_actions[s.device].setChecked(True)
        try:
            save_settings(s)
        except OSError as exc:
            warn(w, "Cannot save the settings", str(exc))
        super().accept()
