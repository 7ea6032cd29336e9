"""The worklist panel on 2,000 images: every entry of its sort box and status filter shows the
rows a plain Python sort gives, the current image stays selected while rows move, and a status
change takes a row out of a filtered list."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from vam_gui.core.annotation import STATUSES
from vam_gui.gui.worklist import WorklistPanel
from vam_testing import worklist_infos, worklist_reference


@dataclass
class Row:
    image_id: str
    status: str
    worst_confidence: float | None
    max_spread: float | None
    rel_path: str = ""
    dicom: dict | None = None
    reviewer: str | None = None
    comment: str | None = None


@pytest.fixture
def panel(qtbot):
    widget = WorklistPanel()
    qtbot.addWidget(widget)
    rows = [Row(i.image_id, i.status, i.worst_confidence, i.max_spread, rel_path=f"{i.image_id}.png")
            for i in worklist_infos(2000)]
    widget.set_images(rows)
    return widget, rows


def test_every_sort_box_entry_and_filter_shows_the_reference_order(panel):
    widget, rows = panel
    flags = {r.image_id: n % 4 for n, r in enumerate(rows) if n % 3 == 0}
    widget.model.set_flags_many(flags)
    keys = ("added", "status", "confidence", "spread", "flags")
    for box, key in enumerate(keys):
        widget.sort_box.setCurrentIndex(box)
        for f in range(widget.filter_box.count()):
            widget.filter_box.setCurrentIndex(f)
            status = widget.filter_box.currentData()
            assert widget.visible_ids() == worklist_reference(rows, flags, None, key, status), (key, status)
            assert widget.model.rowCount() == len(widget.visible_ids())
    widget.filter_box.setCurrentIndex(0)


def test_the_current_image_stays_selected_and_a_status_change_moves_rows(panel):
    widget, rows = panel
    widget.sort_box.setCurrentIndex(2)  # least confident first
    target = rows[1234]
    widget.select(target.image_id)
    widget.model.update_image(replace(target, worst_confidence=-1.0))  # now the least confident
    assert widget.visible_ids()[0] == target.image_id
    current = widget.table.currentIndex()
    assert current.row() == 0 and widget.model.image_at(current.row()) == target.image_id
    widget.filter_box.setCurrentIndex(1 + STATUSES.index("unreviewed"))
    first = widget.visible_ids()[0]
    shown = next(r for r in rows if r.image_id == first)
    widget.model.update_image(replace(shown, status="accepted"))
    assert first not in widget.visible_ids(), "accepted: no longer in the unreviewed list"
