"""What the worklist's paint path answers: cell colours and texts only for the roles it fills,
and a scroll bar that repaints alone without changing the pixels under it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from test_worklist_order_gui import Row

from vam_gui.gui.worklist import STATUS_COLOURS, WorklistPanel
from vam_testing import worklist_infos

R = Qt.ItemDataRole


@dataclass
class NamedRow(Row):
    file_name: str = ""


@pytest.fixture
def panel(qtbot):
    widget = WorklistPanel()
    qtbot.addWidget(widget)
    rows = [NamedRow(i.image_id, i.status, i.worst_confidence, i.max_spread, rel_path=f"{i.image_id}.png",
                     file_name=f"{i.image_id}.png") for i in worklist_infos(300)]
    widget.set_images(rows)
    widget.model.set_flags(rows[0].image_id, 2)
    return widget, rows


def test_cells_answer_text_colour_and_tooltip_only(panel):
    widget, rows = panel
    model = widget.model
    for row in range(20):
        info = rows[int(model.order[row])]
        for col in range(model.columnCount()):
            index = model.index(row, col)
            for role in (R.FontRole, R.TextAlignmentRole, R.CheckStateRole, R.DecorationRole, R.BackgroundRole):
                assert model.data(index, role) is None
                assert model.data(index, int(role.value)) is None
            assert model.data(index, R.DisplayRole) == model.data(index, int(R.DisplayRole.value))
            brush = model.data(index, R.ForegroundRole)
            if col == 1:
                assert brush.color() == QColor(STATUS_COLOURS[info.status])
            elif col == 4 and model.flag_counts.get(info.image_id):
                assert brush.color() == QColor("#ff3b30")
            else:
                assert brush is None
        assert model.data(model.index(row, 0), R.ToolTipRole).startswith(info.image_id)
    assert model.data(model.index(0, 1), R.DisplayRole) == rows[0].status.replace("_", " ")


def _pixels(widget) -> np.ndarray:
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine()).copy()


def test_scroll_bar_container_fills_what_lies_beneath_it(panel, qtbot):
    widget, rows = panel
    widget.resize(300, 400)
    widget.show()
    qtbot.waitExposed(widget)
    bar = widget.table.verticalScrollBar()
    container = bar.parentWidget()
    assert container.autoFillBackground()
    for value in (0, 7, bar.maximum()):
        bar.setValue(value)
        filled = _pixels(widget)
        container.setAutoFillBackground(False)
        plain = _pixels(widget)
        container.setAutoFillBackground(True)
        assert np.array_equal(filled, plain)
