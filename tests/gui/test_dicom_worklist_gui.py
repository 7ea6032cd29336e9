"""The DICOM worklist: patient, study date, series and view of two patients' studies, grouped by
study or series, and nothing identifying on screen while the study hides identifiers."""

from __future__ import annotations

import pytest
from dicom_studies import IMAGES, PATIENTS, dicom_folder
from PySide6.QtCore import Qt

from vam_gui.gui.worklist import FIRST_DICOM, GROUP_COLUMN

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

# What may not be seen while hidden: names (also as file names), ids, dates, descriptions, UIDs.
IDENTIFIERS = ("DOE", "JANE", "ROE", "RICHARD", "2024", "20240131", "2023", "1.2.826", *PATIENTS.values())


@pytest.fixture
def dicom_window(qtbot, tmp_path):
    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import configure_pyqtgraph
    from vam_gui.gui.main_window import MainWindow
    from vam_gui.io import Study

    folder = tmp_path / "DOE_JANE and ROE_RICHARD"
    dicom_folder(folder)
    for f in folder.iterdir():  # file names with the patients' names, as PACS exports write them
        f.rename(f.with_name(f.name.replace("jane", "DOE_JANE").replace("rich", "ROE_RICHARD")))
    path = tmp_path / "review.vamstudy"
    with Study.create(path) as study:
        assert len(study.add_images([folder]).added) == len(IMAGES)
    configure_pyqtgraph()
    win = MainWindow(Settings(reviewer="tester"))
    qtbot.addWidget(win)
    win.resize(1400, 800)
    win.show()
    assert win.open_study(path)
    yield win
    win.workers.cancel_all()
    assert win.workers.wait(30000)
    win.close()


def shown(panel) -> list[list[str]]:
    """Every visible cell's text and tooltip, in the order shown."""
    proxy, table = panel.model, panel.table
    rows = []
    for r in range(proxy.rowCount()):
        cells = []
        for c in range(proxy.columnCount()):
            if table.isColumnHidden(c):
                continue
            index = proxy.index(r, c)
            cells.append(f"{proxy.data(index) or ''} {proxy.data(index, Qt.ItemDataRole.ToolTipRole) or ''}")
        rows.append(cells)
    return rows


def test_hidden_by_default_nothing_identifying_is_shown(dicom_window):
    panel = dicom_window.worklist
    assert dicom_window.session.study.hide_identifiers and panel.model.hide_identifiers
    for by in ("none", "study", "series"):
        panel.set_group_by(by)
        text = " ".join(" ".join(r) for r in shown(panel))
        for value in IDENTIFIERS:
            assert value not in text, (by, value)
    assert "patient-" in text and "study-" in text and "img-" in text
    patients = {panel.model.data(panel.model.index(r, FIRST_DICOM)) for r in range(4)}
    assert len(patients) == 2  # two patients, told apart by their pseudonyms


def test_shown_identifiers_and_grouping(dicom_window):
    panel = dicom_window.worklist
    menu = panel.header_menu()
    hide = next(a for a in menu.actions() if a.text().startswith("Hide patient"))
    hide.trigger()  # shown: the study keeps the choice
    assert not panel.model.hide_identifiers and not dicom_window.session.study.hide_identifiers
    assert not any(panel.table.isColumnHidden(c) for c in range(FIRST_DICOM, GROUP_COLUMN))
    assert panel.table.isColumnHidden(GROUP_COLUMN)
    rows = {r[0].split()[0]: r for r in shown(panel)}
    jane = rows["DOE_JANE_ap.dcm"]
    assert jane[FIRST_DICOM].startswith("DOE JANE") and jane[FIRST_DICOM + 1].startswith("2024-01-31")
    assert jane[FIRST_DICOM + 2].startswith("#1 LUMBAR SPINE") and jane[FIRST_DICOM + 3].startswith("AP L")

    panel.model.rows.reverse()  # added in another order: grouping still brings each group together
    panel.set_images(panel.model.rows, study_uid=panel.model.study_uid, hide_identifiers=False)
    panel.set_group_by("study")  # the group column first; rows by patient, then study date
    assert not panel.table.isColumnHidden(GROUP_COLUMN)
    assert panel.table.horizontalHeader().visualIndex(GROUP_COLUMN) == 0
    groups = [panel.model.data(panel.model.index(r, GROUP_COLUMN)) for r in range(4)]
    assert groups == ["DOE JANE / 2024-01-31 SPINE DOE"] * 2 + ["ROE RICHARD / 2023-06-15 SPINE ROE"] * 2
    panel.set_group_by("series")
    series = [panel.model.data(panel.model.index(r, GROUP_COLUMN)) for r in range(4)]
    assert series == ["DOE JANE / 2024-01-31 SPINE DOE / #1 LUMBAR SPINE",
                      "DOE JANE / 2024-01-31 SPINE DOE / #2 LUMBAR LATERAL"] + \
        ["ROE RICHARD / 2023-06-15 SPINE ROE / #1 LUMBAR SPINE"] * 2
    names = [panel.model.data(panel.model.index(r, 0)) for r in range(4)]
    assert names[2:] == ["ROE_RICHARD_ap2.dcm", "ROE_RICHARD_ap.dcm"]  # in a group: the model order (reversed)
    panel.sort_box.setCurrentIndex(1)  # by status inside each group: still grouped
    assert [panel.model.data(panel.model.index(r, GROUP_COLUMN)) for r in range(4)] == series
    assert len(dicom_window.worklist.visible_ids()) == 4  # next / previous walk the grouped order
    panel.set_group_by("none")
    assert panel.table.isColumnHidden(GROUP_COLUMN)

    columns = next(a for a in panel.header_menu().actions() if a.text().startswith("DICOM columns"))
    columns.trigger()  # hidden from the header's menu
    assert all(panel.table.isColumnHidden(c) for c in range(FIRST_DICOM, GROUP_COLUMN))


def test_a_study_without_dicom_shows_no_dicom_columns(window):
    panel = window.worklist
    assert all(panel.table.isColumnHidden(c) for c in range(FIRST_DICOM, GROUP_COLUMN + 1))
    assert panel.model.data(panel.model.index(0, 0)) == "spine0.png"  # raster names as before
