"""A damaged row of one image is said in the window, that image shows nothing it cannot vouch
for, and the other images are reviewed as usual (no traceback in a slot)."""

from __future__ import annotations

import sqlite3


def test_an_image_with_a_damaged_point_row_is_said_and_the_others_still_work(qtbot, study_path):
    from PySide6.QtWidgets import QMessageBox

    from vam_gui.core.annotation import PointState
    from vam_gui.core.commands import MovePoint
    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import configure_pyqtgraph
    from vam_gui.gui.main_window import MainWindow
    from vam_gui.io import Study

    with Study.open(study_path) as study:
        ids = study.image_ids()
        for image_id in ids:
            study.apply_edit(image_id, user="setup", kind="place", points={
                i: PointState(10.0 + i, 20.0 + i, True, "placed") for i in range(study.schema.k)})
        rid = study._row(ids[1])  # noqa: SLF001 - the row to damage
    raw = sqlite3.connect(study_path)
    raw.execute("UPDATE points SET x = 'left' WHERE image = ? AND idx = 3", (rid,))
    raw.commit()
    raw.close()

    configure_pyqtgraph()
    win = MainWindow(Settings(reviewer="tester"))
    qtbot.addWidget(win)
    win.show()
    assert win.open_study(study_path)
    win.session.show_image(ids[1])
    boxes = [b for b in win.findChildren(QMessageBox) if b.isVisible() and b.objectName() == "damaged-row"]
    assert len(boxes) == 1 and "points" in boxes[0].text()
    assert not any(item.isVisible() for item in win.canvas.layer.items)
    assert win.current.shown is None
    boxes[0].close()
    win.session.show_image(ids[2])  # the next image is fine
    assert win.current.shown is not None and win.current.shown.image_id == ids[2]
    assert win.session.push(MovePoint(ids[2], 0, (30.0, 40.0)))
    assert win.session.study.annotation(ids[2]).point(0).x == 30.0
    win.close()
