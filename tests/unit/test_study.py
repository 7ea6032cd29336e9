"""The SQLite study store."""

import sqlite3

import cv2
import numpy as np
import pytest

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.io import Study, StudyError
from vam_gui.io.study_db import SCHEMA_VERSION


def write_images(folder, n=3, size=(120, 90)):
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        img = np.random.default_rng(i).integers(0, 65535, size=size, dtype=np.uint16)
        p = folder / f"img{i}.png"
        cv2.imwrite(str(p), img)
        paths.append(p)
    return paths


@pytest.fixture
def study(tmp_path):
    write_images(tmp_path / "images")
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([tmp_path / "images"])
    yield s
    s.close()


def fake_prediction(k=20, shift=0.0):
    xy = np.stack([np.linspace(10, 80, k), np.linspace(5, 110, k)], axis=1) + shift
    return Prediction(xy=xy, confidence=np.linspace(0.2, 0.9, k).astype(np.float32),
                      spread=np.full(k, 3.0, np.float32), letterbox=Letterbox.fit(120, 90, 64),
                      model_id="m:abc")


def test_create_add_list(tmp_path, study):
    assert len(study.image_ids()) == 3
    info = study.list_images()[0]
    assert info.rel_path == "images/img0.png" and (info.width, info.height) == (90, 120)
    assert info.status == "unreviewed" and info.spacing is None and info.worst_confidence is None
    assert study.counts_by_status()["unreviewed"] == 3
    ann = study.annotation(info.image_id)
    assert ann.k == 20 and ann.is_empty() and not ann.visible.any()
    conn = sqlite3.connect(study.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_add_skips_non_images_and_duplicates(tmp_path, study):
    extra = tmp_path / "more"
    extra.mkdir()
    (extra / "notes.txt").write_text("hello")
    (extra / "deep").mkdir()
    write_images(extra / "deep", n=1)  # same pixels as img0: a duplicate by content
    report = study.add_images([extra])
    assert report.added == []
    assert [p for p, _ in report.skipped] == [str(extra / "notes.txt")]
    assert "not a readable image" in report.skipped[0][1]
    assert report.duplicates == [str(extra / "deep" / "img0.png")]


def test_prediction_seeds_untouched_annotations(study):
    image = study.image_ids()[0]
    study.save_prediction(image, fake_prediction())
    stored = study.prediction(image)
    assert np.allclose(stored.xy, fake_prediction().xy) and stored.model_id == "m:abc"
    assert study.list_images()[0].worst_confidence == pytest.approx(0.2)
    assert study.list_images()[0].max_spread == pytest.approx(3.0)
    ann = study.annotation(image)
    assert np.allclose(ann.xy, fake_prediction().xy) and set(ann.source) == {"predicted"}
    # once a human has edited, a new prediction no longer overwrites the annotation
    study.apply_edit(image, user="r", kind="move", points={0: PointState(1.0, 2.0, True, "moved")})
    study.save_prediction(image, fake_prediction(shift=5))
    ann = study.annotation(image)
    assert tuple(ann.xy[0]) == (1.0, 2.0) and np.allclose(ann.xy[1], fake_prediction().xy[1])
    assert np.allclose(study.prediction(image).xy, fake_prediction(shift=5).xy)


def test_apply_edit_is_logged(study):
    image = study.image_ids()[1]
    grp = study.apply_edit(image, user="alice", kind="move", label="move point 4",
                           points={4: PointState(3.5, 4.5, True, "placed")},
                           review=ReviewState("in_progress", None, "alice"))
    log = study.edit_log(image)
    assert [e.group for e in log] == [grp, grp]
    point_entry, status_entry = log
    assert point_entry.user == "alice" and point_entry.point == 4
    assert point_entry.before == {"x": None, "y": None, "visible": False, "source": ""}
    assert point_entry.after == {"x": 3.5, "y": 4.5, "visible": True, "source": "placed"}
    assert status_entry.point is None and status_entry.after["status"] == "in_progress"
    assert study.status(image) == ReviewState("in_progress", None, "alice")


def test_failed_edit_changes_nothing(study):
    image = study.image_ids()[0]
    with pytest.raises(IndexError):
        study.apply_edit(image, user="u", kind="move", points={0: PointState(1, 1, True, "moved"),
                                                                99: PointState(1, 1, True, "moved")})
    assert study.annotation(image).is_empty() and study.edit_log() == []


def test_missing_and_relocated_images(tmp_path, study):
    image = study.image_ids()[2]
    moved = tmp_path / "elsewhere" / "renamed.png"
    moved.parent.mkdir()
    (tmp_path / "images" / "img2.png").rename(moved)
    assert study.missing_images() == [image]
    # a different file is refused, the right one accepted
    with pytest.raises(StudyError, match="not the same image"):
        study.relocate(image, tmp_path / "images" / "img0.png")
    assert study.relocate_folder(tmp_path / "elsewhere") == [image]
    assert study.missing_images() == []
    assert study.image_path(image) == moved.resolve()


def test_reopen_keeps_everything(tmp_path, study):
    image = study.image_ids()[0]
    study.apply_edit(image, user="u", kind="move", points={7: PointState(9.0, 8.0, True, "moved")})
    path = study.path
    study.close()
    with Study.open(path) as again:
        assert again.schema.name == "lumbar-ap-20"
        assert again.annotation(image).point(7) == PointState(9.0, 8.0, True, "moved")


def test_create_refuses_existing_file(tmp_path):
    (tmp_path / "x.vamstudy").write_text("")
    with pytest.raises(StudyError, match="already exists"):
        Study.create(tmp_path / "x.vamstudy")


@pytest.mark.parametrize("content", [b"", b"hello world, not a database at all",
                                     b"SQLite format 3\x00" + b"\x00" * 200])
def test_not_a_study_is_a_clear_error_and_untouched(tmp_path, content):
    path = tmp_path / "bad.vamstudy"
    path.write_bytes(content)
    with pytest.raises(StudyError) as err:
        Study.open(path)
    assert "bad.vamstudy" in str(err.value)
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused_untouched(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t(x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StudyError, match="another application"):
        Study.open(path)
    assert path.read_bytes() == before


def read_everything(study):
    """Every read a viewer or an export makes."""
    study.list_images()
    study.counts_by_status()
    for image in study.image_ids():
        study.annotation(image), study.status(image), study.prediction(image), study.heatmaps(image)
    study.edit_log()


def test_damaged_study_fails_clearly_and_stays_untouched(tmp_path, study):
    """Opening reads only the header and the schema (no scan of the whole file), so a damaged
    page is reported on open or on the first read that meets it; read-only, the file is left
    as it was."""
    path = study.path
    assert study.check_integrity() == []
    study.close()
    data = bytearray(path.read_bytes())
    # wipe the middle of the file: page contents, not the header
    for i in range(len(data) // 3, 2 * len(data) // 3):
        data[i] = 0xA5
    path.write_bytes(bytes(data))
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    with pytest.raises(StudyError, match="damaged study file"):
        with Study.open(path, read_only=True) as s:
            read_everything(s)
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("s.vamstudy")) == ["s.vamstudy"]
    with pytest.raises(StudyError, match="damaged study file|cannot open"):
        with Study.open(path) as s:
            read_everything(s)
    with Study.open(path, read_only=True) as s:
        assert s.check_integrity() != []


def test_newer_format_is_refused(tmp_path, study):
    path = study.path
    study.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StudyError, match="newer vam-gui"):
        Study.open(path)


def test_review_time_is_logged(study):
    image = study.image_ids()[0]
    view = study.begin_view(image, "alice")
    study.end_view(view)
    assert 0 <= study.review_seconds(image) < 5
    study.end_view(view)  # a second end does not move the first


def test_other_schema(tmp_path):
    s = Study.create(tmp_path / "lat.vamstudy", schema="lumbar-lat-22")
    write_images(tmp_path / "i", n=1)
    s.add_images([tmp_path / "i"])
    assert s.annotation(s.image_ids()[0]).k == 22
    s.close()


def test_heatmaps_are_kept_for_display(study):
    image = study.image_ids()[0]
    pred = fake_prediction()
    maps = np.zeros((20, 64, 64), np.float16)
    maps[3, 10, 20] = 1.0
    maps[4, 5, 5] = 0.5
    maps[5, 0, 0] = -0.2  # network output can dip below zero
    pred.heatmaps = maps
    study.save_prediction(image, pred)
    got = study.heatmaps(image)
    assert got.shape == (20, 64, 64) and got.dtype == np.uint8
    assert got[3, 10, 20] == 255 and got[4, 5, 5] == 128 and got[5, 0, 0] == 0
    pred.heatmaps = None
    study.save_prediction(image, pred)
    assert study.heatmaps(image) is None  # never a stale map beside a new prediction


def test_version_1_files_are_migrated(tmp_path):
    """A study written by format 1 opens, gains the v2 column, and keeps its data."""
    from vam_gui.io import study_db

    path = tmp_path / "old.vamstudy"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {study_db.APPLICATION_ID}")
    conn.executescript("BEGIN;" + study_db.MIGRATIONS[0] + "; PRAGMA user_version = 1; COMMIT;")
    from vam_gui.core.schema import load_schema

    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (load_schema().to_json(),))
    conn.execute("INSERT INTO images(image_id, rel_path, content_hash, width, height, added_at)"
                 " VALUES ('a', 'a.png', 'h', 10, 10, 'now')")
    conn.close()
    with Study.open(path) as s:
        assert s.image_ids() == ["a"] and s.image_info("a").max_spread is None
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == study_db.SCHEMA_VERSION
    assert "max_spread" in [r[1] for r in sqlite3.connect(path).execute("PRAGMA table_info(predictions)")]


def test_next_edit_group_uses_an_index(study):
    """The next edit-group number comes from an index, not a scan of the whole edit log, so an
    edit costs the same after a long review as at its start (figures: vam-gui bench)."""
    plan = " ".join(str(r) for r in study._query("EXPLAIN QUERY PLAN SELECT COALESCE(MAX(grp), 0) + 1 FROM edits"))
    assert "edits_by_group" in plan and "SCAN" not in plan


def test_atomic_writes_get_ordinary_permissions(tmp_path):
    import os
    import stat

    from vam_gui.core.atomic import write_bytes_atomic

    mask = os.umask(0o022)
    try:
        path = write_bytes_atomic(tmp_path / "x.json", b"{}")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_view_log_commits_without_waiting_for_the_disk_and_edits_still_do(study):
    """A view (every image switch) is committed with synchronous NORMAL (WAL: the file stays
    sound; the next edit's commit puts it on disk); edits keep FULL."""
    image = study.image_ids()[0]
    conn = study._connection()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    view = study.begin_view(image, "alice")
    study.end_view(view)
    views = [s.split("=")[-1].strip() if s.startswith("PRAGMA") else s.split()[0]
             for s in statements if s.startswith(("PRAGMA synchronous", "INSERT INTO views", "UPDATE views", "COMMIT"))]
    statements.clear()
    study.apply_edit(image, user="alice", kind="status", review=ReviewState("accepted", None, "alice"))
    conn.set_trace_callback(None)
    assert views == ["NORMAL", "INSERT", "COMMIT", "FULL", "NORMAL", "UPDATE", "COMMIT", "FULL"], views
    assert not any(s.startswith("PRAGMA synchronous") for s in statements)  # an edit: FULL, as the study opened
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_the_generation_changes_with_every_write_but_the_view_log(study):
    """``generation`` is the token a kept reading is checked against: the view log (written at
    every image switch) and reads leave it; any write of this Study, even one that fails, and a
    commit by any other connection change it."""
    first, second = study.image_ids()[:2]
    token = study.generation()
    view = study.begin_view(first, "alice")
    study.end_view(view)
    study.annotation(first), study.image_info(second), study.prediction(first)
    assert study.generation() == token, "the view log and reads change nothing shown"

    study.apply_edit(first, user="alice", kind="move", points={3: PointState(10.0, 20.0, True, "placed")})
    assert study.generation() != token
    token = study.generation()
    study.save_prediction(second, fake_prediction())
    assert study.generation() != token
    token = study.generation()
    with pytest.raises(ValueError), study._transaction():
        raise ValueError("a write that changed its mind")  # rolled back: counted all the same
    assert study.generation() != token

    token = study.generation()
    other = sqlite3.connect(study.path, isolation_level=None)
    try:
        other.execute("UPDATE images SET comment = 'from elsewhere' WHERE image_id = ?", (second,))
    finally:
        other.close()
    assert study.generation() != token, "another connection's commit"
    assert study.image_info(second).comment == "from elsewhere"
