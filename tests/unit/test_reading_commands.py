"""Adjudication and reader mode without Qt: ``SetPoints`` (one undo step writing given points),
``taken_points`` / ``mean_points``, ``CommandStack.forget``, and the session's reader mode
(a blind-first study edited as the reviewer's reading, the model hidden until it is accepted,
the accepted blind reading's edits gone from the stack)."""

from __future__ import annotations

import numpy as np
import pytest
from test_study import fake_prediction, write_images

from vam_gui.core.annotation import PointState
from vam_gui.core.commands import CommandStack, FitTemplate, MovePoint, SetPoints, SetStatus
from vam_gui.core.gestures import mean_points, taken_points
from vam_gui.io import Study
from vam_gui.io.study_readers import ReaderStudy
from vam_gui.session import ReviewSession, Topic


@pytest.fixture
def study(tmp_path):
    write_images(tmp_path / "images", n=3)
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([tmp_path / "images"])
    s.save_prediction(s.image_ids()[0], fake_prediction())
    yield s
    s.close()


def test_set_points_writes_exactly_what_it_is_given_in_one_undo_step(study):
    a = study.image_ids()[1]
    stack = CommandStack(study, user="judge")
    stack.push(MovePoint(a, 3, (7, 8)))
    before = study.annotation(a)
    points = {0: PointState(10.0, 20.0, True, "moved"), 3: PointState(30.0, 40.0, False, "moved")}
    stack.push(SetPoints(a, points, "take alice's points"))
    ann = study.annotation(a)
    assert ann.xy[0].tolist() == [10, 20] and ann.xy[3].tolist() == [30, 40]
    assert not ann.visible[3] and list(ann.source[[0, 3]]) == ["moved", "moved"]
    assert stack.undo_label == "take alice's points"
    stack.undo()
    assert study.annotation(a).equals(before), "one undo restores every point it wrote"
    stack.redo()
    assert study.annotation(a).xy[3].tolist() == [30, 40]


def test_set_points_refuses_nothing_and_points_outside_the_schema(study):
    a = study.image_ids()[1]
    with pytest.raises(ValueError):
        SetPoints(a, {}, "nothing")
    stack = CommandStack(study)
    with pytest.raises(ValueError, match="no point 99"):
        stack.push(SetPoints(a, {99: PointState(1.0, 2.0, True, "moved")}, "bad"))
    assert not stack.can_undo


def test_taken_points_and_the_mean_of_readers():
    xy_a = np.array([[0.0, 0.0], [10.0, 10.0], [np.nan, np.nan], [4.0, 4.0]])
    xy_b = np.array([[2.0, 4.0], [20.0, 30.0], [np.nan, np.nan], [np.nan, np.nan]])
    vis_a = np.array([True, False, False, True])
    vis_b = np.array([True, True, False, False])
    taken = taken_points(xy_a, vis_a)
    assert taken[0] == PointState(0.0, 0.0, True, "moved")
    assert taken[1] == PointState(10.0, 10.0, False, "moved"), "a point marked missing stays missing"
    assert not np.isfinite(taken[2].x) and taken[2].source == "", "an unset point stays unset"
    assert list(taken_points(xy_a, vis_a, [3])) == [3]
    mean = mean_points([xy_a, xy_b], [vis_a, vis_b])
    assert mean[0] == PointState(1.0, 2.0, True, "moved")
    assert mean[1] == PointState(20.0, 30.0, True, "moved"), "over the readers who saw it"
    assert not np.isfinite(mean[2].x)
    assert mean[3] == PointState(4.0, 4.0, True, "moved"), "one reader placed it: theirs"


def test_forget_drops_one_images_commands_only(study):
    a, b = study.image_ids()[1:3]
    stack = CommandStack(study)
    stack.push(MovePoint(a, 0, (1, 1)))
    stack.push(MovePoint(b, 0, (2, 2)))
    stack.push(MovePoint(a, 1, (3, 3)))
    stack.undo()
    assert stack.forget(a) == 2
    assert stack.undo_label.startswith("move") and stack.peek_undo().image_id == b and not stack.can_redo
    assert not stack.is_clean()


def test_a_blind_first_study_opens_in_reader_mode_and_hides_the_model_until_accepted(study):
    a = study.image_ids()[0]  # the one with a prediction
    study.set_blind_first(True)
    path = study.path
    study.close()
    session = ReviewSession(reviewer="alice")
    seen = []
    session.subscribe(seen.append)
    try:
        session.open(path)
        assert session.reader == "alice" and session.blind
        assert isinstance(session.edited, ReaderStudy)
        session.show_image(a)
        assert session.model_hidden()
        assert session.push(FitTemplate(a, (40, 10), (45, 100))), "a template fits the reading blind"
        assert set(session.edited.annotation(a).source) == {"placed"}
        assert session.push(MovePoint(a, 0, (12, 13)))
        assert session.study.annotation(a).xy[0].tolist() != [12, 13], "the consensus is untouched"
        assert session.stack.can_undo
        seen.clear()
        assert session.push(SetStatus(a, "accepted"))
        assert not session.model_hidden()
        assert not session.stack.can_undo, "no undo reopens an accepted blind reading"
        assert [e.topic for e in seen][-2:] == [Topic.STACK_CHANGED, Topic.MODEL_REVEALED]
        assert session.study.reading(a, "alice", "blind").annotation.xy[0].tolist() == [12, 13]
        assert session.push(MovePoint(a, 0, (20, 21)))
        assert session.study.reading(a, "alice", "revised").annotation.xy[0].tolist() == [20, 21]
        assert session.study.reading(a, "alice", "blind").annotation.xy[0].tolist() == [12, 13]
        assert session.next_unreviewed() != a, "the reader's own acceptance counts, not the consensus"
        session.set_reader(None)
        assert session.reader is None and not session.blind and session.edited is session.study
    finally:
        session.close()
