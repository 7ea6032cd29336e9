"""Imports are all-or-nothing at the store level: ``Study.apply_edits`` writes several images in
one transaction (each its own logged edit group, as ``apply_edit`` would log it), and a store
write that fails partway (here a SQLite trigger that aborts once two images are written, or a
full disk) leaves the study exactly as it was: points, status, facing and the edit log."""

from __future__ import annotations

import shutil
import sqlite3

import numpy as np
import pytest
from test_export import SIZES, annotate, write_images

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.io.export import JSON_FILE, ExportOptions, export_study
from vam_gui.io.importers import import_labels
from vam_gui.io.study import UNCHANGED, ImageEdit, Study, StudyWriteError

EVERYTHING = ExportOptions(all_images=True, include_flagged=True)
# Aborts the write of a point once two images of the transaction have logged "import" edits:
# the third image of a write fails after the first two were written (in the same transaction).
FAIL_THIRD = """CREATE TRIGGER fail_third BEFORE UPDATE ON points
WHEN (SELECT COUNT(DISTINCT image) FROM edits WHERE kind = 'import') >= 2
BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END"""


@pytest.fixture
def blank(tmp_path):
    """The path of a closed study of three images, nothing labelled."""
    write_images(tmp_path / "images", sizes=SIZES[:3])
    with Study.create(tmp_path / "blank.vamstudy") as s:
        s.add_images([tmp_path / "images"])
    return s.path


def edits_for(study: Study) -> list[ImageEdit]:
    """One edit per image: points (a NaN one too), a review for two, a facing for two."""
    edits = []
    for n, image_id in enumerate(study.image_ids()):
        points = {i: PointState(10.0 + n + i, 20.0 + i, True, "imported") for i in range(0, 6)}
        points[7] = PointState(np.nan, np.nan, False, "imported")
        review = ReviewState("accepted", f"image {n}", "importer") if n != 1 else None
        facing = ("left", UNCHANGED, "right")[n]
        edits.append(ImageEdit(image_id, points, review, facing))
    return edits


def log_content(study: Study) -> list[tuple]:
    return [(e.group, e.user, e.image_id, e.kind, e.label, e.point, e.before, e.after) for e in study.edit_log()]


def state(study: Study):
    """Everything a write could change, comparable with ==."""
    images = {}
    for info in study.list_images():
        ann = study.annotation(info.image_id)
        images[info.image_id] = (np.where(np.isnan(ann.xy), -1e9, ann.xy).tolist(), ann.visible.tolist(),
                                 list(ann.source), study.status(info.image_id), info.facing)
    log = [(e.id, e.group, e.at, e.user, e.image_id, e.kind, e.label, e.point, e.before, e.after)
           for e in study.edit_log()]
    return images, log


def table_rows(path, *, times=True) -> dict[str, list[dict]]:
    """The raw rows of the tables an edit writes, read from the closed study file (without
    the columns that hold a time unless ``times``)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return {t: [{k: r[k] for k in r.keys() if times or k not in ("at", "status_at")}
                    for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2")]
                for t in ("points", "images", "edits")}
    finally:
        conn.close()


def add_trigger(path) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(FAIL_THIRD)
        conn.commit()
    finally:
        conn.close()


# --------------------------------------------------------------------------- apply_edits


def test_apply_edits_logs_as_apply_edit_per_image(blank, tmp_path):
    twin = shutil.copy(blank, tmp_path / "twin.vamstudy")  # same images, same ids
    with Study.open(blank) as one, Study.open(twin) as each:
        edits = edits_for(one)
        assert len(edits) == 3
        groups = one.apply_edits(edits, user="carol", kind="import", label="import json labels")
        for edit in edits:
            each.apply_edit(edit.image_id, user="carol", kind="import", label="import json labels",
                            points=edit.points, review=edit.review)
            if edit.facing is not UNCHANGED:
                each.set_facing(edit.image_id, edit.facing)
        assert groups == [1, 2, 3]
        assert len({e.group for e in one.edit_log()}) == 3
        assert log_content(one) == log_content(each)
        assert [e.image_id for e in one.edit_log() if e.point == 0] == [e.image_id for e in edits]
        s1, s2 = state(one), state(each)
        assert s1[0] == s2[0]  # points, status, facing
        facings = {i.image_id: i.facing for i in one.list_images()}
        assert [facings[e.image_id] for e in edits] == ["left", None, "right"]
    # and the rows in the file, times aside
    rows_one = table_rows(blank, times=False)
    assert rows_one == table_rows(twin, times=False)
    assert len(rows_one["edits"]) == 3 * 7 + 2  # 7 points each, a review for two


def test_apply_edit_still_works_alone(blank):
    with Study.open(blank) as s:
        image_id = s.image_ids()[0]
        grp = s.apply_edit(image_id, user="u", kind="move", points={0: PointState(1.0, 2.0, True, "moved")})
        assert grp == 1 and s.annotation(image_id).xy[0].tolist() == [1.0, 2.0]
        assert s.apply_edits([], user="u", kind="import") == []


@pytest.mark.parametrize("bad", ["index", "facing", "image"])
def test_bad_arguments_anywhere_refuse_all_before_writing(blank, bad):
    with Study.open(blank) as s:
        edits = edits_for(s)
        before = state(s)
        last = edits[2]
        edits[2] = {"index": ImageEdit(last.image_id, {s.schema.k: PointState(1.0, 1.0, True, "imported")}),
                    "facing": ImageEdit(last.image_id, facing="up"),
                    "image": ImageEdit("no-such-image", last.points)}[bad]
        with pytest.raises({"index": IndexError, "facing": ValueError, "image": KeyError}[bad]):
            s.apply_edits(edits, user="u", kind="import")
        assert state(s) == before


def test_a_failed_write_partway_writes_nothing(blank):
    with Study.open(blank) as s:
        annotate_one(s)
    add_trigger(blank)
    rows_before = table_rows(blank)
    with Study.open(blank) as s:
        before = state(s)
        edits = edits_for(s)
        with pytest.raises(StudyWriteError) as caught:
            s.apply_edits(edits, user="carol", kind="import")
        text = str(caught.value)
        assert "\n" not in text and "simulated write failure" in text and "nothing was changed" in text
        assert state(s) == before
        # the study stays writable, and the first two images alone go through (the trigger
        # fires only from the third image of a transaction on)
        assert s.apply_edits(edits[:2], user="carol", kind="import") == [2, 3]
    rows_after = table_rows(blank)
    assert rows_after != rows_before


def test_a_full_disk_partway_writes_nothing(blank, monkeypatch):
    from vam_gui.io.study_edits import StudyEdits

    real = StudyEdits._write_edit
    calls = []

    def third_fails(self, conn, rid, edit, **kw):
        calls.append(edit.image_id)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, conn, rid, edit, **kw)

    with Study.open(blank) as s:
        annotate_one(s)
        before = state(s)
        monkeypatch.setattr(StudyEdits, "_write_edit", third_fails)
        with pytest.raises(StudyWriteError, match="the disk is full"):
            s.apply_edits(edits_for(s), user="carol", kind="import")
        assert len(calls) == 3 and state(s) == before
    with Study.open(blank) as s:
        assert state(s) == before


def annotate_one(study: Study) -> None:
    """Something already in the study for a failed write to leave alone."""
    image_id = study.image_ids()[1]
    study.apply_edit(image_id, user="alice", kind="move", points={2: PointState(5.0, 6.0, True, "placed")},
                     review=ReviewState("in_progress", None, "alice"))
    study.set_facing(image_id, "left")


# --------------------------------------------------------------------------- importers


@pytest.fixture
def labels(tmp_path):
    """Our JSON of four labelled images, and a study of the same images without labels."""
    write_images(tmp_path / "four")
    with Study.create(tmp_path / "source.vamstudy") as src:
        src.add_images([tmp_path / "four"])
        annotate(src)
        for image_id in src.image_ids():
            src.set_facing(image_id, "right")
        export_study(src, "json", tmp_path / "out", EVERYTHING)
    with Study.create(tmp_path / "target.vamstudy") as target:
        target.add_images([tmp_path / "four"])
        annotate_one(target)
    return tmp_path / "out" / JSON_FILE, target.path


def test_import_whose_write_fails_partway_imports_nothing(labels):
    json_file, target = labels
    add_trigger(target)
    rows_before = table_rows(target)
    calls = []
    with Study.open(target) as s:
        before = state(s)
        with pytest.raises(StudyWriteError) as caught:
            import_labels(s, "json", [json_file], user="carol", progress=lambda d, t: calls.append((d, t)))
        text = str(caught.value)
        assert "\n" not in text and text.startswith(f"{target.name}: ") and "simulated write failure" in text
        assert state(s) == before
        assert calls == [(0, 4)]  # nothing reported as written
    assert table_rows(target) == rows_before


def test_import_writes_all_images_in_one_go(labels):
    json_file, target = labels
    calls = []
    with Study.open(target) as s:
        groups_before = {e.group for e in s.edit_log()}
        report = import_labels(s, "json", [json_file], user="carol", progress=lambda d, t: calls.append((d, t)))
        assert len(report.imported) == 4 and report.skipped == []
        assert calls == [(0, 4), (4, 4)]
        imports = [e for e in s.edit_log() if e.kind == "import"]
        by_group = {}
        for e in imports:
            by_group.setdefault(e.group, set()).add(e.image_id)
        assert len(by_group) == 4 and all(len(ids) == 1 for ids in by_group.values())
        assert not groups_before & set(by_group)
        assert len({e.at for e in imports}) == 1  # one transaction, one time
        assert {i.facing for i in s.list_images()} == {"right"}


def test_import_cancelled_before_the_write_writes_nothing(labels):
    json_file, target = labels
    with Study.open(target) as s:
        before = state(s)
        with pytest.raises(InterruptedError):
            import_labels(s, "json", [json_file], user="carol", cancel=lambda: True)
        assert state(s) == before
