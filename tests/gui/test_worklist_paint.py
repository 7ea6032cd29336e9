"""What the worklist's paint path answers: cell colours and texts only for the roles it fills,
and a scroll bar that repaints alone without changing the pixels under it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
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


def test_cells_answer_text_colour_tooltip_and_font_only(panel):
    from PySide6.QtGui import QFont

    widget, rows = panel
    model = widget.model
    for row in range(20):
        info = rows[int(model.order[row])]
        for col in range(model.columnCount()):
            index = model.index(row, col)
            for role in (R.TextAlignmentRole, R.CheckStateRole, R.DecorationRole, R.BackgroundRole):
                assert model.data(index, role) is None
                assert model.data(index, int(role.value)) is None
            font = model.data(index, R.FontRole)
            if 1 <= col <= 4:  # status, confidence, spread, flags: laid out unshaped, nothing else set
                assert font.styleStrategy() & QFont.StyleStrategy.PreferNoShaping
                table_font = QFont("Courier", 31, QFont.Weight.Bold)
                resolved = font.resolve(table_font)  # as the delegate resolves it: the rest from the table
                assert (resolved.family(), resolved.pointSize(), resolved.weight()) == \
                    (table_font.family(), 31, QFont.Weight.Bold)
                assert resolved.styleStrategy() & QFont.StyleStrategy.PreferNoShaping
            else:
                assert font is None
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


def _rows_in_view(table) -> range:
    height = table.viewport().height()
    return range(table.rowAt(0), table.rowAt(height - 1) + 1)


def _wholly_in_view(table, row: int) -> bool:
    top = table.rowViewportPosition(row)
    return 0 <= top and top + table.rowHeight(row) <= table.viewport().height()


def test_stepping_through_the_list_scrolls_a_page_at_a_time(panel, qtbot):
    widget, rows = panel
    widget.resize(300, 400)
    widget.show()
    qtbot.waitExposed(widget)
    table, bar = widget.table, widget.table.verticalScrollBar()
    page = len(_rows_in_view(table))
    scrolls, value = 0, bar.value()
    for row in range(120):
        widget.select(widget.model.image_at(row))
        assert table.currentIndex().row() == row
        assert _wholly_in_view(table, row), f"row {row} in view"
        if bar.value() != value:
            scrolls, value = scrolls + 1, bar.value()
            assert table.rowAt(0) == row - 1, "a row below comes second from the top"
    assert scrolls <= 120 // (page - 3) + 1, f"{scrolls} scrolls for 120 rows, {page} rows a page"
    widget.select(widget.model.image_at(30))  # above the view: second from the bottom
    assert _wholly_in_view(table, 30) and _wholly_in_view(table, 31) and not _wholly_in_view(table, 32)
    widget.select(widget.model.image_at(250))  # a jump far below
    assert table.rowAt(0) == 249 and _wholly_in_view(table, 250)
    widget.select(widget.model.image_at(0))
    assert table.rowAt(0) == 0


def test_the_header_is_not_repainted_when_the_selection_moves_and_still_sorts(panel, qtbot):
    from PySide6.QtCore import QEvent, QObject

    widget, rows = panel
    widget.show()
    qtbot.waitExposed(widget)
    header = widget.table.horizontalHeader()
    paints = []

    class Count(QObject):
        def eventFilter(self, _obj, event):  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                paints.append(1)
            return False

    counter = Count()
    header.viewport().installEventFilter(counter)
    qtbot.wait(20)
    paints.clear()
    for row in range(1, 6):
        widget.select(widget.model.image_at(row))
        qtbot.wait(5)
    assert not paints
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(header.sectionViewportPosition(2) + 5, 5))
    assert header.sortIndicatorSection() == 2
    confidences = [rows[i].worst_confidence for i in widget.model.order.tolist()]
    known = [c for c in confidences if c is not None]
    assert known == sorted(known)


def test_only_the_keypoint_table_skips_text_shaping(panel, qtbot):
    """The keypoint table (schema names, numbers, a few English words), repainted by the dozen
    cells at every switch, lays its text out without HarfBuzz shaping; the worklist, whose file
    and patient names may be in any script, keeps it (but for its own status words and numbers):
    a name in joined Arabic letters is laid out at its shaped width there, not at the wider width
    of its letters unjoined."""
    from PySide6.QtGui import QFont, QFontMetrics
    from PySide6.QtWidgets import QApplication

    from vam_gui.core.schema import load_schema
    from vam_gui.gui.docks import KeypointTable

    worklist, _rows = panel
    table = KeypointTable(load_schema())
    qtbot.addWidget(table)
    unshaped = QFont.StyleStrategy.PreferNoShaping
    assert table.font().styleStrategy() & unshaped
    assert not worklist.table.font().styleStrategy() & unshaped and not QApplication.font().styleStrategy() & unshaped
    name = "صورة العمود الفقري"
    shaped = QFontMetrics(worklist.table.font()).horizontalAdvance(name)
    assert shaped == QFontMetrics(QApplication.font()).horizontalAdvance(name)
    if QFontMetrics(table.font()).horizontalAdvance(name) == shaped:
        pytest.skip("no font here lays Arabic out differently unshaped")
