"""The view panel: heatmap overlay controls and window/level."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QPushButton, QSlider, QWidget
from superqt import QLabeledDoubleRangeSlider

from vam_gui.core.settings import COLORMAPS
from vam_gui.gui.canvas import WINDOW_PRESETS, Canvas


class ViewPanel(QWidget):
    """Overlay: on/off, all keypoints or the selected one, colormap, opacity. Window: a range
    slider over the image's values, presets, reset to the file's window."""

    labels_toggled = Signal(bool)

    def __init__(self, canvas: Canvas, parent=None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.overlay = QCheckBox("Heatmap overlay (H)")
        self.overlay.setChecked(True)
        self.overlay.toggled.connect(canvas.set_heatmap_visible)
        self.channel = QComboBox()
        self.channel.addItems(["All keypoints (max)", "Selected keypoint"])
        self.channel.currentIndexChanged.connect(self._channel_changed)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.currentTextChanged.connect(canvas.set_colormap)
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(55)
        self.opacity.valueChanged.connect(lambda v: canvas.set_heatmap_opacity(v / 100))
        self.labels = QCheckBox("Point labels")
        self.labels.setChecked(True)
        self.labels.toggled.connect(self.labels_toggled)

        self.window_slider = QLabeledDoubleRangeSlider(Qt.Orientation.Horizontal)
        self.window_slider.setDecimals(0)
        self.window_slider.valueChanged.connect(self._slider_moved)
        self.presets = QComboBox()
        self.presets.addItems(list(WINDOW_PRESETS))
        self.presets.setPlaceholderText("Custom")  # shown when the window matches no preset
        self.presets.activated.connect(lambda _: canvas.apply_preset(self.presets.currentText()))
        reset = QPushButton("Reset")
        reset.setToolTip("Back to the file's own window (R)")
        reset.clicked.connect(lambda: canvas.apply_preset("File window"))
        row = QHBoxLayout()
        row.addWidget(self.presets, 1)
        row.addWidget(reset)

        form = QFormLayout(self)
        form.addRow(self.overlay)
        form.addRow("Show", self.channel)
        form.addRow("Colormap", self.colormap)
        form.addRow("Opacity", self.opacity)
        form.addRow(self.labels)
        form.addRow("Window", self.window_slider)
        form.addRow("Preset", row)
        canvas.window_changed.connect(self._window_changed)
        self.selected_keypoint: int | None = None
        self._slider_shown: tuple | None = None  # ((minimum, maximum), (lower, upper)) last set

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt naming
        return QSize(390, 260)

    def image_changed(self) -> None:
        rad = self.canvas.radiograph
        if rad is None:
            return
        lo, hi = rad.value_range()
        lo, hi = min(lo, rad.window.lower), max(hi, rad.window.upper)
        shown = ((lo, hi if hi > lo else lo + 1), tuple(self.canvas.window))
        if shown == self._slider_shown:
            return  # the next image has the same range and window: the labelled slider stays as it is
        self.window_slider.blockSignals(True)
        self.window_slider.setRange(*shown[0])
        self.window_slider.setValue(shown[1])
        self.window_slider.blockSignals(False)
        self._slider_shown = shown

    def _slider_moved(self, value) -> None:
        lo, hi = value
        if (lo, hi) != self.canvas.window:
            self.canvas.set_window(lo, hi)

    def _window_changed(self, lo: float, hi: float) -> None:
        self.window_slider.blockSignals(True)
        self.window_slider.setValue((lo, hi))
        self.window_slider.blockSignals(False)
        self._slider_shown = None  # what the slider shows is no longer what image_changed set
        self.presets.setCurrentIndex(self._matching_preset(lo, hi))

    def _matching_preset(self, lo: float, hi: float) -> int:
        """The index of the preset whose window this is, else -1 ("Custom": after a right-drag)."""
        rad = self.canvas.radiograph
        if rad is None:
            return -1
        tol = 1e-6 * max(1.0, abs(hi - lo))
        for i, name in enumerate(WINDOW_PRESETS):
            p_lo, p_hi = WINDOW_PRESETS[name](rad)
            if abs(p_lo - lo) <= tol and abs(p_hi - hi) <= tol:
                return i
        return -1

    def keypoint_selected(self, index: int | None) -> None:
        self.selected_keypoint = index
        self._channel_changed(self.channel.currentIndex())

    def _channel_changed(self, which: int) -> None:
        self.canvas.set_heatmap_channel(self.selected_keypoint if which == 1 else None)
