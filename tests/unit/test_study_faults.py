"""The study store when things go wrong: failed writes, damaged rows, a second writer,
read-only files and folders, older formats on read-only media."""

import errno
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
from test_study import fake_prediction, write_images

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.resources import resources_dir
from vam_gui.io import study_connect, study_db
from vam_gui.io.study import DamagedRowError, Study, StudyError, StudyWriteError
from vam_gui.io.study_errors import write_error

MOVED = PointState(1.0, 2.0, True, "moved")
as_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                             reason="root writes whatever the permission bits say")


def side_files(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name.startswith(path.name + "-"))


def writer_rows(path):
    # immutable when no writer is active: a plain read-only connection would leave -wal/-shm
    conn = sqlite3.connect(f"file:{path}?mode=ro" + ("" if side_files(path) else "&immutable=1"), uri=True)
    try:
        return conn.execute("SELECT host, pid FROM writer").fetchall()
    finally:
        conn.close()


def one_line(exc, path):
    text = str(exc)
    assert "\n" not in text and text.startswith(f"{path.name}: ")
    return text


@pytest.fixture
def closed_study(tmp_path):
    """The path of a study of three images, closed (no writer, no -wal/-shm)."""
    write_images(tmp_path / "images")
    with Study.create(tmp_path / "s.vamstudy") as s:
        s.add_images([tmp_path / "images"])
    assert side_files(s.path) == []
    return s.path


@pytest.fixture
def full_study(tmp_path):
    """An open study whose three images each have a prediction with heatmaps, an edit and a view."""
    write_images(tmp_path / "images")
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([tmp_path / "images"])
    for image in s.image_ids():
        pred = fake_prediction()
        pred.heatmaps = np.full((20, 16, 16), 0.5, np.float32)
        s.save_prediction(image, pred)
        s.apply_edit(image, user="u", kind="move", points={0: MOVED})
        s.end_view(s.begin_view(image, "u"))
    yield s
    s.close()


# ----------------------------------------------------------------- failed writes
@pytest.mark.parametrize(("exc", "why"), [
    (sqlite3.OperationalError("database or disk is full"), "the disk is full"),
    (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
    (sqlite3.OperationalError("attempt to write a readonly database"), "read-only"),
    (OSError(errno.EROFS, "Read-only file system"), "read-only"),
    (sqlite3.OperationalError("database is locked"), "locked by another writer"),
    (sqlite3.OperationalError("disk I/O error"), "I/O error"),
])
def test_write_errors_say_why_in_one_line(tmp_path, exc, why):
    err = write_error(tmp_path / "s.vamstudy", exc)
    assert isinstance(err, StudyWriteError) and isinstance(err, StudyError)
    text = one_line(err, tmp_path / "s.vamstudy")
    assert text.startswith("s.vamstudy: not saved: ") and why in text and text.endswith("nothing was changed")


def test_a_full_database_rolls_the_whole_write_back(full_study):
    image = full_study.image_ids()[0]
    before = (full_study.annotation(image), full_study.prediction(image), full_study.heatmaps(image))
    pages = full_study._query("PRAGMA page_count")[0][0]  # noqa: SLF001
    full_study._conn.execute(f"PRAGMA max_page_count = {pages}")  # noqa: SLF001 - SQLite's own "full"
    pred = fake_prediction(shift=4)
    pred.heatmaps = np.random.default_rng(0).random((20, 128, 128)).astype(np.float32)  # ~330 kB
    with pytest.raises(StudyWriteError, match="the disk is full") as err:
        full_study.save_prediction(image, pred)
    one_line(err.value, full_study.path)
    after = (full_study.annotation(image), full_study.prediction(image), full_study.heatmaps(image))
    assert np.array_equal(after[0].xy, before[0].xy, equal_nan=True)
    assert np.array_equal(after[1].xy, before[1].xy) and np.array_equal(after[2], before[2])
    full_study.apply_edit(image, user="u", kind="move", points={1: MOVED})  # small writes still fit


def test_a_second_connection_holding_a_write_lock_is_named(closed_study, monkeypatch):
    monkeypatch.setattr(study_connect, "BUSY_TIMEOUT_MS", 50)
    with Study.open(closed_study) as s:
        image = s.image_ids()[0]
        other = sqlite3.connect(closed_study, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StudyWriteError, match="locked by another writer") as err:
            s.apply_edit(image, user="u", kind="move", points={0: MOVED}, review=ReviewState("flagged"))
        one_line(err.value, closed_study)
        other.execute("ROLLBACK")
        other.close()
        assert s.annotation(image).is_empty() and s.status(image).status == "unreviewed" and s.edit_log() == []
        s.apply_edit(image, user="u", kind="move", points={0: MOVED})
        assert s.annotation(image).point(0) == MOVED


def test_sqlite_refusing_to_write_is_a_read_only_error(full_study):
    image = full_study.image_ids()[1]
    log = len(full_study.edit_log())
    full_study._conn.execute("PRAGMA query_only = ON")  # noqa: SLF001 - SQLITE_READONLY, whoever runs the test
    with pytest.raises(StudyWriteError, match="read-only"):
        full_study.apply_edit(image, user="u", kind="move", points={2: MOVED})
    assert len(full_study.edit_log()) == log and full_study.annotation(image).point(2).source == "predicted"


_FSIZE = """
import json, resource, signal, sys
import numpy as np
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.io.study import Study, StudyWriteError
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing us
with Study.open(sys.argv[1]) as s:
    image, k = s.image_ids()[0], s.schema.k
    rng = np.random.default_rng(0)
    pred = Prediction(xy=rng.uniform(5, 80, (k, 2)), confidence=np.full(k, 0.5, np.float32),
                      spread=np.ones(k, np.float32), letterbox=Letterbox.fit(120, 90, 64), model_id="m",
                      heatmaps=rng.random((k, 128, 128)).astype(np.float32))
    wal = s.path.with_name(s.path.name + "-wal")
    limit = max(p.stat().st_size for p in (s.path, wal) if p.exists()) + 65536
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    try:
        s.save_prediction(image, pred)
        print(json.dumps({"error": None}))
    except StudyWriteError as exc:
        resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        print(json.dumps({"error": str(exc), "prediction": s.prediction(image) is None,
                          "heatmaps": s.heatmaps(image) is None, "empty": bool(s.annotation(image).is_empty())}))
"""


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_write_past_the_file_size_limit_changes_nothing(closed_study):
    out = subprocess.run([sys.executable, "-B", "-c", _FSIZE, str(closed_study)], capture_output=True, text=True,
                         timeout=120, check=True).stdout  # -B: no bytecode cache written under the limit
    result = json.loads(out.strip().splitlines()[-1])
    assert result["error"] is not None, "the write fitted under the limit: the test tested nothing"
    one_line(result["error"], closed_study)
    assert "file size limit" in result["error"] or "disk is full" in result["error"]
    assert result["prediction"] and result["heatmaps"] and result["empty"]
    with Study.open(closed_study) as s:
        assert s.check_integrity() == [] and s.prediction(s.image_ids()[0]) is None


# ----------------------------------------------------------------- damaged rows
def _prediction(s, i):
    return s.prediction(i)


DAMAGE = [  # (raw SQL on image 0's rows, the read that meets it, table, words of the message)
    ("UPDATE predictions SET letterbox = '{{not json' WHERE image = {rid}", _prediction, "predictions",
     "letterbox is not JSON"),
    ("UPDATE predictions SET xy = x'00' WHERE image = {rid}", _prediction, "predictions", "xy holds 1 bytes"),
    ("UPDATE points SET x = 'left' WHERE image = {rid} AND idx = 3", lambda s, i: s.annotation(i), "points",
     "x 'left' is not a number"),
    ("DELETE FROM points WHERE image = {rid} AND idx = 5", lambda s, i: s.annotation(i), "points",
     "expected 0..19"),
    ("UPDATE heatmaps SET data = x'DEADBEEF' WHERE image = {rid}", lambda s, i: s.heatmaps(i), "heatmaps",
     "not zlib-compressed"),
    ("UPDATE images SET status = 'lost' WHERE id = {rid}", lambda s, i: s.image_info(i), "images",
     "unknown status 'lost'"),
    ("UPDATE images SET status = 'lost' WHERE id = {rid}", lambda s, i: s.status(i), "images",
     "unknown status 'lost'"),
    ("UPDATE images SET width = 'wide' WHERE id = {rid}", lambda s, i: s.image_info(i), "images",
     "is not two positive whole numbers"),
    ("UPDATE edits SET after = '{{' WHERE image = {rid}", lambda s, i: s.edit_log(i), "edits",
     "after is not JSON"),
    ("UPDATE views SET left_at = 'yesterday' WHERE image = {rid}", lambda s, i: s.review_seconds(i), "views",
     "is not a time"),
]


@pytest.mark.parametrize(("sql", "read", "table", "words"), DAMAGE)
def test_a_damaged_row_is_named_and_other_images_still_read(full_study, sql, read, table, words):
    damaged, *others = full_study.image_ids()
    raw = sqlite3.connect(full_study.path, isolation_level=None)
    rid = raw.execute("SELECT id FROM images WHERE image_id = ?", (damaged,)).fetchone()[0]
    raw.execute("PRAGMA ignore_check_constraints = ON")  # how a bug or a foreign tool might write it
    raw.execute(sql.format(rid=rid))
    with pytest.raises(DamagedRowError) as err:
        read(full_study, damaged)
    text = one_line(err.value, full_study.path)
    assert err.value.table == table and f"damaged row in table {table}" in text and words in text
    if table in ("edits", "views"):
        assert err.value.row in {r[0] for r in raw.execute(f"SELECT id FROM {table} WHERE image = ?", (rid,))}
    elif table == "points":
        assert str(err.value.row).startswith(f"image {rid}")
    else:
        assert err.value.row == rid
    raw.close()
    for image in others:
        read(full_study, image)
        full_study.annotation(image), full_study.prediction(image), full_study.image_info(image)


def test_an_edit_over_a_damaged_point_changes_nothing(full_study):
    image = full_study.image_ids()[0]
    raw = sqlite3.connect(full_study.path, isolation_level=None)
    raw.execute("UPDATE points SET y = x'00' WHERE idx = 3")
    raw.close()
    log = len(full_study.edit_log())
    with pytest.raises(DamagedRowError, match=r"table points \(image \d+, point 3\): y b'\\x00' is not"):
        full_study.apply_edit(image, user="u", kind="move", points={2: MOVED, 3: MOVED})
    assert len(full_study.edit_log()) == log and full_study.status(image).status == "unreviewed"
    with pytest.raises(DamagedRowError):
        full_study.annotation(image)
    raw = sqlite3.connect(full_study.path)
    assert raw.execute("SELECT source FROM points WHERE idx = 2").fetchall() == [("predicted",)] * 3
    raw.close()


def test_an_unknown_status_is_named_when_counting(full_study):
    raw = sqlite3.connect(full_study.path, isolation_level=None)
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute("UPDATE images SET status = 'gone' WHERE id = 2")
    raw.close()
    with pytest.raises(DamagedRowError, match=r"table images \(row 2\): unknown status 'gone'"):
        full_study.counts_by_status()


# ----------------------------------------------------------------- one writer per study
_HOLDER = """
import sys
from vam_gui.core.annotation import PointState
from vam_gui.io.study import Study, StudyWriteError
s = Study.open(sys.argv[1])
print("ready", s.read_only, flush=True)
for n, _ in enumerate(sys.stdin):
    try:
        s.apply_edit(s.image_ids()[0], user="first", kind="move", points={0: PointState(n, 1.0, True, "moved")})
        print("saved", flush=True)
    except StudyWriteError as exc:
        print("refused", exc, flush=True)
"""

_OPENER = """
import json, sys
from vam_gui.io.study import Study
with Study.open(sys.argv[1]) as s:
    h = s.lock_holder
    print(json.dumps({"read_only": s.read_only, "reason": s.read_only_reason,
                      "holder": None if h is None else [h.host, h.user, h.pid, h.since]}))
"""


def _start_holder(path):
    first = subprocess.Popen([sys.executable, "-c", _HOLDER, str(path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert first.stdout.readline().split() == ["ready", "False"]
    return first


def _ask(first):
    first.stdin.write("edit\n")
    first.stdin.flush()
    return first.stdout.readline().strip()


def _stop(first):
    if first.poll() is None:
        os.kill(first.pid, signal.SIGKILL)  # kill -9: no chance to give the lock back
    first.wait(timeout=30)


def test_a_second_process_reads_only_until_the_first_is_killed(closed_study):
    first = _start_holder(closed_study)
    try:
        second = json.loads(subprocess.run([sys.executable, "-c", _OPENER, str(closed_study)], capture_output=True,
                                           text=True, timeout=120, check=True).stdout)
        assert second["read_only"] is True
        host, _user, pid, since = second["holder"]
        assert (host, pid) == (socket.gethostname(), first.pid) and since
        assert f"pid {first.pid}" in second["reason"] and "being edited by" in second["reason"]
        assert _ask(first) == "saved"
        with Study.open(closed_study) as here:  # this process too; it sees the first one's edits
            image = here.image_ids()[0]
            assert here.read_only and here.lock_holder.pid == first.pid
            assert here.annotation(image).point(0) == PointState(0.0, 1.0, True, "moved")
            with pytest.raises(StudyWriteError, match=f"read-only, being edited by .*pid {first.pid}") as err:
                here.apply_edit(image, user="u", kind="move", points={1: MOVED})
            one_line(err.value, closed_study)
            assert here.begin_view(image, "u") == 0  # showing an image is not an edit
    finally:
        _stop(first)
    with Study.open(closed_study) as after:  # the lock of a process that is gone is taken silently
        assert not after.read_only and after.lock_holder is None
        after.apply_edit(after.image_ids()[0], user="u", kind="move", points={1: MOVED})
        assert writer_rows(closed_study) == [(socket.gethostname(), os.getpid())]
    assert writer_rows(closed_study) == []


def test_take_over_refuses_the_old_writer(closed_study):
    first = _start_holder(closed_study)
    try:
        with Study.open(closed_study, take_over=True) as s:
            assert not s.read_only and s.lock_holder is None
            answer = _ask(first)
            assert answer.startswith("refused s.vamstudy: not saved: taken over by ")
            assert f"pid {os.getpid()}" in answer
            s.apply_edit(s.image_ids()[0], user="u", kind="move", points={0: MOVED})
        assert _ask(first).startswith("refused s.vamstudy: not saved: read-only, taken over by")
    finally:
        _stop(first)
    with Study.open(closed_study, read_only=True) as s:
        assert s.annotation(s.image_ids()[0]).point(0) == MOVED


def test_one_process_shares_its_lock_and_the_last_close_gives_it_back(closed_study):
    a = Study.open(closed_study)
    b = Study.open(closed_study)
    assert not a.read_only and not b.read_only
    a.close()
    assert writer_rows(closed_study) == [(socket.gethostname(), os.getpid())]
    b.apply_edit(b.image_ids()[0], user="u", kind="move", points={0: MOVED})
    b.close()
    assert writer_rows(closed_study) == []


def _plant_lock(path, host, pid):
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("INSERT INTO writer VALUES (1, ?, 'someone', ?, '2024-01-01T00:00:00+00:00', 'x')", (host, pid))
    raw.close()


def test_a_lock_from_another_host_holds_until_taken_over(closed_study):
    _plant_lock(closed_study, "elsewhere", 1)
    with Study.open(closed_study) as s:
        assert s.read_only and (s.lock_holder.host, s.lock_holder.user) == ("elsewhere", "someone")
        assert "someone on elsewhere (pid 1)" in s.read_only_reason
    with Study.open(closed_study, take_over=True) as s:
        assert not s.read_only
    assert writer_rows(closed_study) == []


@pytest.mark.parametrize("pid", ["dead", "not a number"])
def test_a_stale_or_damaged_lock_is_taken_silently(closed_study, pid):
    if pid == "dead":
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        pid = gone.pid
    _plant_lock(closed_study, socket.gethostname(), pid)
    with Study.open(closed_study) as s:
        assert not s.read_only and s.lock_holder is None


# ----------------------------------------------------------------- read-only studies
def test_read_only_on_request_takes_no_lock_and_refuses_every_write(closed_study, tmp_path):
    before = closed_study.read_bytes()
    with Study.open(closed_study, read_only=True) as s:
        image = s.image_ids()[0]
        assert s.read_only and s.read_only_reason == "opened read-only on request" and s.lock_holder is None
        assert side_files(closed_study) == [] and writer_rows(closed_study) == []
        writes = [lambda: s.apply_edit(image, user="u", kind="move", points={0: MOVED}),
                  lambda: s.save_prediction(image, fake_prediction()),
                  lambda: s.set_facing(image, "left"),
                  lambda: s.relocate(image, s.image_path(image)),
                  lambda: s.add_images([write_images(tmp_path / "more", n=4)[3]])]
        for write in writes:
            with pytest.raises(StudyWriteError, match="not saved: read-only, opened read-only on request") as err:
                write()
            one_line(err.value, closed_study)
        assert s.begin_view(image, "u") == 0
        s.end_view(0)
        assert s.annotation(image).is_empty() and len(s.image_ids()) == 3
    assert closed_study.read_bytes() == before and side_files(closed_study) == []


def _copy_sample(tmp_path):
    sample = resources_dir() / "sample"
    if not (sample / "sample.vamstudy").is_file():
        pytest.skip("no bundled sample study")
    shutil.copytree(sample, tmp_path / "sample")
    return tmp_path / "sample" / "sample.vamstudy"


def test_the_sample_study_opens_read_only_as_it_is(tmp_path):
    path = _copy_sample(tmp_path)
    before = path.read_bytes()
    with Study.open(path, read_only=True) as s:
        assert s.read_only and s.list_images() and s.missing_images() == []
        for image in s.image_ids():
            s.annotation(image), s.prediction(image), s.heatmaps(image)
        assert side_files(path) == []
    assert path.read_bytes() == before and side_files(path) == []


def test_an_unwritable_place_opens_read_only_without_migrating(tmp_path, monkeypatch):
    """What a read-only mount does, whoever runs the test: the older-format sample opens as it is."""
    path = _copy_sample(tmp_path)
    before = path.read_bytes()
    version = int.from_bytes(before[60:64], "big")
    monkeypatch.setattr(study_connect, "why_read_only", lambda _path: "its folder is read-only (a CD)")
    with Study.open(path) as s:
        assert s.read_only and s.read_only_reason == "its folder is read-only (a CD)"
        assert s.format_version == version and s.list_images()
        with pytest.raises(StudyWriteError, match=r"read-only, its folder is read-only \(a CD\)"):
            s.set_facing(s.image_ids()[0], "left")
    assert path.read_bytes() == before and side_files(path) == []


def test_a_format_1_study_reads_read_only_without_migrating(tmp_path):
    from vam_gui.core.schema import load_schema

    path = tmp_path / "old.vamstudy"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {study_db.APPLICATION_ID}")
    conn.executescript("BEGIN;" + study_db.MIGRATIONS[0] + "; PRAGMA user_version = 1; COMMIT;")
    conn.execute("INSERT INTO meta VALUES ('schema', ?)", (load_schema().to_json(),))
    conn.execute("INSERT INTO images(image_id, rel_path, content_hash, width, height, added_at)"
                 " VALUES ('a', 'a.png', 'h', 10, 10, 'now')")
    conn.execute("INSERT INTO predictions VALUES (1, 'm', 'now', x'', x'', x'', '{}', 0.25)")
    conn.close()
    before = path.read_bytes()
    with Study.open(path, read_only=True) as s:
        info = s.image_info("a")
        assert s.format_version == 1 and info.worst_confidence == 0.25 and info.max_spread is None
        assert [i.image_id for i in s.list_images()] == ["a"] and s.lock_holder is None
    assert path.read_bytes() == before and side_files(path) == []


def test_a_reader_sees_a_writer_that_opens_after_it(closed_study):
    with Study.open(closed_study, read_only=True) as reader:  # no writer: opened immutable
        image = reader.image_ids()[0]
        assert reader.annotation(image).is_empty()
        with Study.open(closed_study) as writer:
            writer.apply_edit(image, user="u", kind="move", points={0: MOVED})
            assert reader.annotation(image).point(0) == MOVED
    alone = shutil.copy(closed_study, closed_study.with_name("alone.vamstudy"))  # the study file alone
    with Study.open(alone, read_only=True) as copy:
        assert copy.annotation(image).point(0) == MOVED
    Study.open(closed_study).close()  # the last connection removes the -wal and -shm
    with Study.open(closed_study, read_only=True) as reader:
        assert side_files(closed_study) == []
        with Study.open(closed_study) as writer:  # opens, writes and closes between two reads
            writer.apply_edit(image, user="u", kind="move", points={1: MOVED})
        assert side_files(closed_study) == [] and reader.annotation(image).point(1) == MOVED


@pytest.mark.parametrize("what", ["a newer format", "another application"])
def test_a_refused_file_gets_no_side_files(closed_study, what):
    raw = sqlite3.connect(closed_study, isolation_level=None)
    raw.execute("PRAGMA user_version = 99" if what == "a newer format" else "PRAGMA application_id = 7")
    raw.close()
    before = closed_study.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StudyError, match="newer vam-gui|another application"):
            Study.open(closed_study, read_only=read_only)
    assert closed_study.read_bytes() == before and side_files(closed_study) == []


@as_root
def test_a_read_only_file_opens_read_only(closed_study):
    before = closed_study.read_bytes()
    closed_study.chmod(0o444)
    try:
        with Study.open(closed_study) as s:
            assert s.read_only and s.read_only_reason == "the study file is read-only" and s.list_images()
            with pytest.raises(StudyWriteError, match="read-only"):
                s.set_facing(s.image_ids()[0], "left")
        assert side_files(closed_study) == []
    finally:
        closed_study.chmod(0o644)
    assert closed_study.read_bytes() == before


@as_root
def test_a_study_in_a_read_only_folder_opens_read_only(closed_study):
    folder = closed_study.parent
    folder.chmod(0o555)
    try:
        with Study.open(closed_study) as s:
            assert s.read_only and "folder is read-only" in s.read_only_reason and s.list_images()
        assert side_files(closed_study) == []
    finally:
        folder.chmod(0o755)
