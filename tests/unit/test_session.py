"""The review session without Qt: open, navigate, edit, undo/redo, and the exact events."""

import subprocess
import sys

import pytest
from test_study import fake_prediction, write_images

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.commands import AcceptPrediction, MovePoint, SetStatus, SetVisible, ShiftLevels
from vam_gui.io import Study, StudyError
from vam_gui.session import Event, ReviewSession, Topic

ALL_K = tuple(range(20))


@pytest.fixture
def study_path(tmp_path):
    write_images(tmp_path / "images", n=3)
    path = tmp_path / "s.vamstudy"
    with Study.create(path) as study:
        study.add_images([tmp_path / "images"])
        study.save_prediction(study.image_ids()[0], fake_prediction())
    return path


@pytest.fixture
def session():
    s = ReviewSession(reviewer="alice")
    yield s
    s.close()


@pytest.fixture
def events(session):
    seen: list[Event] = []
    session.subscribe(seen.append)
    return seen


def opened(session, events, path):
    session.open(path)
    ids = session.study.image_ids()
    events.clear()
    return ids


def test_importing_the_session_loads_no_qt_and_no_torch():
    code = "import sys, vam_gui.session; print(sorted({m.split('.')[0] for m in sys.modules}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert not {"PySide6", "shiboken6", "pyqtgraph", "superqt", "qtawesome", "torch"} & set(eval(out))


def test_open_shows_the_first_unreviewed_image_and_close(session, events, study_path):
    with Study.open(study_path) as s:
        ids = s.image_ids()
        s.apply_edit(ids[0], user="x", kind="status", review=ReviewState("accepted", None, "x"))
    session.open(study_path)
    assert events == [Event(Topic.STUDY_OPENED), Event(Topic.IMAGE_CHANGED, ids[1])]
    assert session.current_id == ids[1] and session.stack is not None and session.stack.user == "alice"
    study = session.study
    events.clear()
    session.close()
    assert events == [Event(Topic.STUDY_CLOSED)]
    assert session.study is None and session.current_id is None and session.stack is None
    with pytest.raises(StudyError, match="closed"):
        study.image_ids()
    assert study_views(study_path) == [(ids[1], True)]  # one view, ended on close


def study_views(path):
    with Study.open(path) as s:
        rows = s._query("SELECT images.image_id, left_at FROM views JOIN images ON images.id = views.image"  # noqa: SLF001
                        " ORDER BY views.id")
    return [(uid, left is not None) for uid, left in rows]


def test_a_study_that_cannot_open_leaves_the_open_one(session, events, study_path, tmp_path):
    ids = opened(session, events, study_path)
    bad = tmp_path / "bad.vamstudy"
    bad.write_text("not a study")
    with pytest.raises(StudyError):
        session.open(bad)
    assert events == [] and session.current_id == ids[0] and session.study.image_ids() == ids


def test_opening_another_study_closes_the_first(session, events, study_path, tmp_path):
    opened(session, events, study_path)
    write_images(tmp_path / "more", n=1)
    other = tmp_path / "other.vamstudy"
    with Study.create(other) as s:
        s.add_images([tmp_path / "more"])
        only = s.image_ids()[0]
    session.open(other)
    assert events == [Event(Topic.STUDY_CLOSED), Event(Topic.STUDY_OPENED), Event(Topic.IMAGE_CHANGED, only)]


def test_navigation_wraps_and_logs_views(session, events, study_path):
    ids = opened(session, events, study_path)
    assert session.step(+1) == ids[1]
    assert session.step(+1) == ids[2]
    assert session.step(+1) == ids[0]  # wraps round
    assert session.step(-1) == ids[2]
    session.show_image(ids[1])
    assert events == [Event(Topic.IMAGE_CHANGED, i) for i in (ids[1], ids[2], ids[0], ids[2], ids[1])]
    session.close()
    views = study_views(study_path)
    assert [v[0] for v in views] == [ids[0], ids[1], ids[2], ids[0], ids[2], ids[1]]
    assert all(ended for _, ended in views)


def test_navigation_follows_the_given_order(study_path):
    order: list[str] = []
    session = ReviewSession(reviewer="alice", order=lambda: order)
    session.open(study_path)
    ids = session.study.image_ids()
    order[:] = [ids[2], ids[0]]  # e.g. the worklist filtered and sorted
    assert session.step(+1) == ids[2]
    assert session.step(+1) == ids[0]
    order.clear()
    assert session.step(+1) is None  # nothing shown: nothing to step to
    assert session.next_unreviewed() == ids[1]  # falls back on the whole study
    session.close()


def test_next_unreviewed(session, events, study_path):
    ids = opened(session, events, study_path)
    assert session.push(SetStatus(ids[1], "accepted"))
    events.clear()
    assert session.next_unreviewed() == ids[2]  # skips the accepted one
    assert session.next_unreviewed() == ids[0]  # wraps round
    session.push(SetStatus(ids[2], "flagged"))
    events.clear()
    assert session.next_unreviewed() is None  # only the current one is left
    assert events == [] and session.current_id == ids[0]


def test_move_undo_redo_emit_exactly_what_changed(session, events, study_path):
    ids = opened(session, events, study_path)
    image = ids[0]
    assert session.push(MovePoint(image, 3, (20.0, 30.0)))
    # the first edit of an unreviewed image also marks it in progress
    assert events == [Event(Topic.POINTS_CHANGED, image, (3,)), Event(Topic.STATUS_CHANGED, image),
                      Event(Topic.STACK_CHANGED)]
    events.clear()
    assert session.push(MovePoint(image, 3, (21.0, 31.0)))
    assert events == [Event(Topic.POINTS_CHANGED, image, (3,)), Event(Topic.STACK_CHANGED)]
    events.clear()
    assert session.undo() is not None
    assert events == [Event(Topic.POINTS_CHANGED, image, (3,)), Event(Topic.STACK_CHANGED)]
    assert session.study.annotation(image).point(3).x == 20.0
    events.clear()
    session.redo()
    assert events == [Event(Topic.POINTS_CHANGED, image, (3,)), Event(Topic.STACK_CHANGED)]
    assert session.study.annotation(image).point(3).x == 21.0
    assert session.stack.undo_label == "move L1-LR"
    events.clear()
    session.redo()  # nothing to redo: nothing happens
    assert events == []


def test_undo_of_another_image_brings_it_back(session, events, study_path):
    ids = opened(session, events, study_path)
    session.push(MovePoint(ids[0], 5, (10.0, 10.0)))
    session.step(+1)
    events.clear()
    session.undo()
    assert events == [Event(Topic.POINTS_CHANGED, ids[0], (5,)), Event(Topic.STATUS_CHANGED, ids[0]),
                      Event(Topic.STACK_CHANGED), Event(Topic.IMAGE_CHANGED, ids[0])]
    assert session.current_id == ids[0]


def test_every_command_names_its_points_and_status(session, events, study_path):
    ids = opened(session, events, study_path)
    image = ids[0]
    session.push(AcceptPrediction(image))
    assert events == [Event(Topic.POINTS_CHANGED, image, ALL_K), Event(Topic.STATUS_CHANGED, image),
                      Event(Topic.STACK_CHANGED)]
    for command, expected in ((SetVisible(image, 2, False), [Event(Topic.POINTS_CHANGED, image, (2,))]),
                              (ShiftLevels(image, +1), [Event(Topic.POINTS_CHANGED, image, ALL_K)]),
                              (SetStatus(image, "flagged", "blur"), [Event(Topic.STATUS_CHANGED, image)])):
        events.clear()
        assert session.push(command)
        assert events == expected + [Event(Topic.STACK_CHANGED)], command.label
    assert session.study.status(image) == ReviewState("flagged", "blur", "alice")


def test_a_refused_edit_changes_nothing(session, events, study_path):
    ids = opened(session, events, study_path)
    assert not session.push(AcceptPrediction(ids[1]))  # no prediction to accept
    assert events == [Event(Topic.EDIT_REFUSED, ids[1], message=f"image {ids[1]} has no prediction to accept")]
    assert not session.stack.can_undo and session.study.status(ids[1]).status == "unreviewed"


def test_prediction_stored_and_labels_imported(session, events, study_path):
    ids = opened(session, events, study_path)
    session.study.save_prediction(ids[1], fake_prediction())
    session.prediction_stored(ids[1])
    assert events == [Event(Topic.PREDICTION_STORED, ids[1])]
    session.push(MovePoint(ids[0], 0, (1.0, 1.0)))
    session.study.apply_edit(ids[2], user="x", kind="import", points={0: PointState(5.0, 5.0, True, "imported")})
    events.clear()
    session.labels_imported([ids[2]])
    assert events == [Event(Topic.STACK_CHANGED), Event(Topic.POINTS_CHANGED, ids[2], ALL_K),
                      Event(Topic.STATUS_CHANGED, ids[2])]
    assert not session.stack.can_undo


def test_reviewer_signs_edits_and_views(session, events, study_path):
    ids = opened(session, events, study_path)
    session.reviewer = "bob"
    assert events == [Event(Topic.REVIEWER_CHANGED)] and session.stack.user == "bob"
    session.push(MovePoint(ids[0], 1, (2.0, 2.0)))
    assert session.study.status(ids[0]).reviewer == "bob"
    assert ReviewSession().reviewer  # the login name by default


def test_subscribe_per_topic_and_unsubscribe(session, study_path):
    points: list[Event] = []
    everything: list[Event] = []
    stop = session.subscribe(points.append, [Topic.POINTS_CHANGED])
    session.subscribe(everything.append)
    session.open(study_path)
    image = session.current_id
    session.push(MovePoint(image, 4, (3.0, 3.0)))
    assert points == [Event(Topic.POINTS_CHANGED, image, (4,))]
    stop()
    session.push(MovePoint(image, 4, (4.0, 4.0)))
    assert len(points) == 1 and everything[-2:] == [Event(Topic.POINTS_CHANGED, image, (4,)),
                                                    Event(Topic.STACK_CHANGED)]


def test_without_a_study_nothing_happens(session, events):
    assert session.step(+1) is None and session.next_unreviewed() is None
    assert session.undo() is None and session.redo() is None
    assert not session.push(MovePoint("x", 0, (1.0, 1.0)))
    session.show_image("x")
    session.prediction_stored("x")
    session.close()
    assert events == []


def same(a, b) -> bool:
    import numpy as np

    return (np.array_equal(a.xy, b.xy, equal_nan=True) and np.array_equal(a.visible, b.visible)
            and list(a.source) == list(b.source))


def _writes_fail(study, on: bool = True) -> None:
    """The store's connection refuses every write from now on (as a read-only file or a full
    disk would): a real SQLite error out of the store, not a stand-in."""
    study._conn.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")  # noqa: SLF001


def test_a_write_that_fails_is_said_and_changes_nothing(session, events, study_path):
    ids = opened(session, events, study_path)
    before = session.study.annotation(ids[0])
    _writes_fail(session.study)
    assert not session.push(MovePoint(ids[0], 0, (3.0, 4.0)))
    assert [e.topic for e in events] == [Topic.WRITE_FAILED]
    assert events[0].image_id == ids[0] and events[0].message.startswith("Not saved: ")
    assert "\n" not in events[0].message
    assert not session.stack.can_undo
    _writes_fail(session.study, False)
    assert same(session.study.annotation(ids[0]), before)


def test_a_failed_undo_or_redo_keeps_its_command(session, events, study_path):
    ids = opened(session, events, study_path)
    session.push(MovePoint(ids[0], 0, (3.0, 4.0)))
    moved = session.study.annotation(ids[0])
    events.clear()
    _writes_fail(session.study)
    assert session.undo() is None
    assert [e.topic for e in events] == [Topic.WRITE_FAILED]
    assert session.stack.can_undo and not session.stack.can_redo  # still there to undo later
    assert same(session.study.annotation(ids[0]), moved)
    _writes_fail(session.study, False)
    assert session.undo() is not None and session.stack.can_redo
    events.clear()
    _writes_fail(session.study)
    assert session.redo() is None
    assert [e.topic for e in events] == [Topic.WRITE_FAILED]
    assert session.stack.can_redo and not session.stack.can_undo
    _writes_fail(session.study, False)
    assert session.redo() is not None
    assert same(session.study.annotation(ids[0]), moved)


def _views_with_times(study):
    return study._query("SELECT images.image_id, user, shown_at, left_at FROM views JOIN images"  # noqa: SLF001
                        " ON images.id = views.image ORDER BY views.id")


def test_views_are_written_when_asked_each_ending_where_the_next_begins(session, events, study_path):
    """Showing an image writes nothing (no commit on the way to the paint): ``log_views`` writes
    the views shown since, in one transaction, each to the reviewer it was shown to, each ending
    where the next begins; the last stays open until the next write or the close."""
    from vam_gui.io.study_errors import StudyWriteError

    ids = opened(session, events, study_path)
    study = session.study
    session.step(+1)
    session.reviewer = "bob"
    session.step(+1)
    assert _views_with_times(study) == [], "nothing written yet"
    session.log_views()
    views = _views_with_times(study)
    assert [(v[0], v[1]) for v in views] == [(ids[0], "alice"), (ids[1], "alice"), (ids[2], "bob")]
    assert [v[3] for v in views[:-1]] == [v[2] for v in views[1:]] and views[-1][3] is None
    assert views[0][2] <= views[1][2] <= views[2][2]
    session.log_views()  # nothing new: nothing written
    assert _views_with_times(study) == views

    session.show_image(ids[0])
    _writes_fail(study)
    with pytest.raises(StudyWriteError):
        session.log_views()
    assert len(_views_with_times(study)) == 3, "rolled back"
    _writes_fail(study, False)
    session.show_image(ids[1])
    session.log_views()  # the failed one's views, kept, written with the new one's
    views = _views_with_times(study)
    assert [v[0] for v in views] == [ids[0], ids[1], ids[2], ids[0], ids[1]]
    assert views[2][3] == views[3][2] and views[3][3] == views[4][2] and views[4][3] is None

    session.show_image(ids[2])
    _writes_fail(study)
    session.close()  # the last views are lost, said nowhere: the study closes all the same
    assert session.study is None
    assert [v[0] for v in study_views(study_path)] == [ids[0], ids[1], ids[2], ids[0], ids[1]]


def test_a_read_only_study_logs_no_views(session, events, study_path):
    with Study.open(study_path, read_only=True) as ro:
        image = ro.image_ids()[0]
        assert ro.log_views([(image, "alice", "2026-01-01T00:00:00.000+00:00")]) == 0
    session.open(study_path)
    session.close()
    assert len(study_views(study_path)) == 1 and study_views(study_path)[0][1], "logged and ended at the close"
