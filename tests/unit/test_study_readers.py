"""Readers in the store (format 7): one annotation per (image, reader) beside the consensus, the
blind reading kept when it is accepted, routing of the ordinary edit calls while a reader is
set, the edit log, migration from format 6 and damaged rows."""

from __future__ import annotations

import json
import sqlite3

import cv2
import numpy as np
import pytest

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.io import Study
from vam_gui.io.study import ImageEdit
from vam_gui.io.study_db import READERS_FROM, SCHEMA_VERSION
from vam_gui.io.study_errors import DamagedRowError, StudyWriteError
from vam_gui.io.study_readers import ReaderStudy
from vam_testing import downgrade_study


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        img = np.random.default_rng(i).integers(0, 255, size=(200, 150), dtype=np.uint8)
        cv2.imwrite(str(folder / f"img{i}.png"), img)
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([folder])
    yield s
    s.close()


def point(x, y, source="placed"):
    return PointState(float(x), float(y), True, source)


def test_a_reader_edits_their_own_reading_and_the_consensus_stays(study):
    a = study.image_ids()[0]
    study.apply_edit(a, user="admin", kind="move", points={0: point(5, 6)})
    alice = ReaderStudy(study, "alice")
    assert alice.annotation(a).is_empty() and alice.status(a).status == "unreviewed"
    alice.apply_edit(a, user="ignored", kind="move", points={0: point(10, 20), 1: point(11, 21)})
    assert alice.annotation(a).xy[0].tolist() == [10, 20]
    assert alice.status(a) == ReviewState("in_progress", None, "alice")
    assert alice.image_ids() == study.image_ids(), "the rest is the study's"
    assert study.annotation(a).xy[0].tolist() == [5, 6], "the consensus is not the reader's"
    assert study.status(a).status == "unreviewed", "the reader's status is theirs"
    assert study.readers() == ["alice"]
    reading = study.reading(a, "alice")
    assert reading.phase == "blind" and reading.status == "in_progress" and reading.annotation.visible[:2].all()
    last = study.edit_log(a)[-1]
    assert (last.user, last.reading, last.point) == ("alice", "blind", 1), "the reader is who changed it"


def test_accepting_the_blind_reading_keeps_it_and_later_edits_go_to_the_revision(study):
    a = study.image_ids()[0]
    bob = ReaderStudy(study, "bob")
    bob.apply_edit(a, user="bob", kind="move", points={0: point(10, 20)})
    assert study.reading_phase(a, "bob") == "blind"
    bob.apply_edit(a, user="bob", kind="accept", review=ReviewState("accepted", None, "bob"))
    assert study.reading_phase(a, "bob") == "revised"
    assert study.reading(a, "bob", "revised").annotation.equals(study.reading(a, "bob", "blind").annotation)
    bob.apply_edit(a, user="bob", kind="move", points={0: point(30, 40, "moved")})
    assert bob.annotation(a).xy[0].tolist() == [30, 40]
    assert study.status(a).status == "unreviewed", "the consensus status is the consensus's"
    assert study.reading(a, "bob", "blind").annotation.xy[0].tolist() == [10, 20], "the blind reading is kept"
    assert study.readings("blind")[a]["bob"].annotation.xy[0].tolist() == [10, 20]
    assert study.readings("latest")[a]["bob"].annotation.xy[0].tolist() == [30, 40]
    assert study.readings("revised")[a]["bob"].status == "accepted"
    assert [e.reading for e in study.edit_log(a)] == ["blind", "blind", "revised"]


def test_readings_of_many_readers_read_in_one_call(study):
    ids = study.image_ids()
    for reader, dx in (("alice", 0.0), ("bob", 1.5)):
        study.apply_edits([study_edit(i, dx) for i in ids[:2]], user="importer", kind="import", reader=reader)
    got = study.readings("blind")
    assert sorted(got) == sorted(ids[:2]) and set(got[ids[0]]) == {"alice", "bob"}
    assert got[ids[1]]["bob"].annotation.xy[3, 0] == pytest.approx(3 + 1.5)
    assert set(study.readings("blind", image_ids=[ids[0]])) == {ids[0]}
    with pytest.raises(ValueError, match="phase"):
        study.readings("final")


def test_readings_of_a_few_images_are_read_by_key_and_agree_with_the_whole_table(study, monkeypatch):
    """The window asks for the shown image's readings at every switch: those few are looked up by
    key (one reader study of 10,000 images read every row); more than _FEW, one pass."""
    import vam_gui.io.study_readers as readers

    ids = study.image_ids()
    for reader, dx in (("alice", 0.0), ("bob", 1.5)):
        study.apply_edits([study_edit(i, dx) for i in ids], user="importer", kind="import", reader=reader)
    bob = ReaderStudy(study, "bob")
    bob.apply_edit(ids[1], user="bob", kind="accept", review=ReviewState("accepted", None, "bob"))
    bob.apply_edit(ids[1], user="bob", kind="move", points={2: point(9, 9, "moved")})
    statements = []
    study._connection().set_trace_callback(statements.append)
    for phase in ("blind", "revised", "latest"):
        every = study.readings(phase)
        for wanted in ([ids[1]], ids[:2], ids, []):
            few = study.readings(phase, wanted)
            monkeypatch.setattr(readers, "_FEW", 1)
            many = study.readings(phase, wanted)
            monkeypatch.undo()
            expected = {i: every[i] for i in wanted if i in every}
            assert _flat(few) == _flat(many) == _flat(expected), (phase, wanted)
    study._connection().set_trace_callback(None)
    assert any("WHERE i.image_id IN (" in s for s in statements), "looked up by key"
    assert study.readings("latest", [ids[1]])[ids[1]]["bob"].phase == "revised"


def _flat(readings):
    return {(image, reader, r.phase, r.status, r.at, tuple(np.nan_to_num(r.annotation.xy, nan=-1).ravel()),
             tuple(r.annotation.visible), tuple(r.annotation.source))
            for image, by in readings.items() for reader, r in by.items()}


def study_edit(image_id, dx):
    return ImageEdit(image_id, {i: point(i + dx, 2 * i, "imported") for i in range(20)},
                     ReviewState("accepted", None, None))


def test_blind_first_is_a_study_setting(study, tmp_path):
    assert not study.blind_first
    study.set_blind_first(True)
    assert study.blind_first
    path = study.path
    study.close()
    with Study.open(path, read_only=True) as again:
        assert again.blind_first
        with pytest.raises(StudyWriteError, match="read-only"):
            again.set_blind_first(False)


def test_a_damaged_reading_names_its_row_and_others_read(study):
    a, b = study.image_ids()[:2]
    study.apply_edits([ImageEdit(i, {0: point(1, 2)}) for i in (a, b)], user="alice", kind="move", reader="alice")
    path = study.path
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("UPDATE readings SET points = '[[1, 2, 1]]' WHERE image = (SELECT id FROM images WHERE image_id = ?)",
                (a,))
    raw.close()
    with pytest.raises(DamagedRowError, match="readings.*alice"):
        study.reading(a, "alice")
    assert study.reading(b, "alice").annotation.xy[0].tolist() == [1, 2]


def test_a_format_6_study_has_no_readers_until_migrated_and_keeps_its_annotations(study):
    a = study.image_ids()[0]
    study.apply_edit(a, user="admin", kind="move", points={0: point(5, 6)},
                     review=ReviewState("accepted", None, "admin"))
    path = study.path
    study.close()
    downgrade_study(path, 6)
    with Study.open(path, read_only=True) as old:
        assert old.format_version == 6 < READERS_FROM
        assert old.readers() == [] and old.readings() == {} and old.reading(a, "x") is None
        assert old.edit_log(a)[-1].reading is None
    with Study.open(path) as new:
        assert new.format_version == SCHEMA_VERSION
        assert new.annotation(a).xy[0].tolist() == [5, 6] and new.status(a).status == "accepted"
        assert new.readers() == []
        assert new.annotation(a, reader="alice").is_empty(), "the migrated annotation is the consensus"


def test_import_as_a_reader_writes_their_accepted_reading_not_the_consensus(study, tmp_path):
    from vam_gui.io.export import ExportOptions, export_study
    from vam_gui.io.importers import LabelImportError, import_labels

    ids = study.image_ids()
    study.apply_edits([study_edit(i, 0.0) for i in ids], user="admin", kind="move")
    export_study(study, "json", tmp_path / "labels", ExportOptions(all_images=True, keep_names=True))
    before = {i: study.annotation(i) for i in ids}
    report = import_labels(study, "json", tmp_path / "labels", reader="carol")
    assert sorted(report.imported) == sorted(ids)
    assert all(study.annotation(i).equals(before[i]) for i in ids), "the consensus is unchanged"
    got = study.readings("blind")
    assert all(got[i]["carol"].status == "accepted" and got[i]["carol"].annotation.equals(before[i]) for i in ids)
    assert all(study.reading_phase(i, "carol") == "revised" for i in ids)
    with pytest.raises(LabelImportError, match="empty"):
        import_labels(study, "json", tmp_path / "labels", reader=" ")


def test_a_json_export_carries_the_readers_only_when_asked(study, tmp_path):
    from vam_gui.io.export import ExportOptions, export_study

    ids = study.image_ids()
    study.apply_edits([study_edit(i, 0.0) for i in ids], user="admin", kind="move")
    study.apply_edits([study_edit(ids[0], 2.0)], user="x", kind="import", reader="alice")
    plain = tmp_path / "plain"
    export_study(study, "json", plain, ExportOptions(all_images=True, keep_names=True))
    doc = json.loads((plain / "vam-labels.json").read_text())
    assert all("readers" not in image for image in doc["images"]) and "readers" not in doc["selection"]
    both = tmp_path / "readers"
    export_study(study, "json", both, ExportOptions(all_images=True, keep_names=True, readers=True))
    doc2 = json.loads((both / "vam-labels.json").read_text())
    first = next(im for im in doc2["images"] if im["readers"])
    assert set(first["readers"]["alice"]) == {"blind", "revised"}
    assert first["readers"]["alice"]["blind"]["keypoints"][3]["x"] == pytest.approx(3 + 2.0)
    assert first["keypoints"][3]["x"] == pytest.approx(3.0), "the image's own keypoints stay the consensus"
    assert sum(1 for im in doc2["images"] if im["readers"]) == 1
    for a, b in zip(doc["images"], doc2["images"]):
        b.pop("readers")
        assert a == b


def test_a_migrated_study_exports_what_its_unmigrated_copy_exports(study, tmp_path):
    """Exports of a format 6 study read as it is (read-only: no migration) and of its migrated copy
    are the same files."""
    import shutil

    from vam_gui.io.export import ExportOptions, export_study

    ids = study.image_ids()
    study.apply_edits([study_edit(i, 0.5 * n) for n, i in enumerate(ids)], user="admin", kind="move")
    path = study.path
    study.close()
    downgrade_study(path, 6)
    copy = tmp_path / "copy.vamstudy"
    shutil.copy(path, copy)
    with Study.open(copy) as migrated:
        assert migrated.format_version == SCHEMA_VERSION
    outputs = {}
    for name, file in (("old", path), ("new", copy)):
        with Study.open(file, read_only=True) as s:
            assert s.format_version == (6 if name == "old" else SCHEMA_VERSION)
            for fmt in ("json", "coco", "csv"):
                out = tmp_path / f"{name}-{fmt}"
                export_study(s, fmt, out, ExportOptions(all_images=True))
                outputs[name, fmt] = {p.relative_to(out).as_posix(): _without_time(p)
                                      for p in sorted(out.rglob("*")) if p.is_file()}
    for fmt in ("json", "coco", "csv"):
        assert outputs["old", fmt] == outputs["new", fmt], fmt
        assert outputs["old", fmt], fmt


def _without_time(path):
    """A file's bytes, the export's own creation time blanked (two exports a second apart)."""
    import re

    data = path.read_bytes()
    return re.sub(rb'"(created|date_created)": "[^"]*"', rb'"\1": ""', data)


def test_predict_here_keeps_a_readers_own_points_not_the_consensus_edits(study):
    from vam_gui.io.template import reviewer_points

    a = study.image_ids()[0]
    study.apply_edit(a, user="admin", kind="move", points={0: point(5, 6, "moved"), 1: point(7, 8, "placed")})
    study.apply_edit(a, user="alice", kind="move", points={2: point(1, 2, "placed")}, reader="alice")
    assert reviewer_points(study, a).nonzero()[0].tolist() == [0, 1], "the consensus's own points"
    assert reviewer_points(study, a, "alice").nonzero()[0].tolist() == [2], "alice's own points"
    assert not reviewer_points(study, a, "bob").any()
