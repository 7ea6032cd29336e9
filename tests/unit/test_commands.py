"""Commands and the undo/redo stack, persisted through the store."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from test_study import fake_prediction, write_images

from vam_gui.core.commands import AcceptPrediction, CommandStack, MovePoint, SetStatus, SetVisible, ShiftLevels
from vam_gui.io import Study


@pytest.fixture
def study(tmp_path):
    write_images(tmp_path / "images", n=3)
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([tmp_path / "images"])
    for image in s.image_ids()[:2]:
        s.save_prediction(image, fake_prediction())
    yield s
    s.close()


def snapshot(study):
    return {i: (study.annotation(i), study.status(i)) for i in study.image_ids()}


def same(a, b):
    return all(a[i][0].equals(b[i][0]) and a[i][1] == b[i][1] for i in a)


def test_move_undo_redo(study):
    image = study.image_ids()[0]
    stack = CommandStack(study, user="alice")
    before = study.annotation(image).point(5)
    stack.push(MovePoint(image, 5, (40.25, 60.5)))
    p = study.annotation(image).point(5)
    assert (p.x, p.y, p.visible, p.source) == (40.25, 60.5, True, "moved")
    assert study.status(image).status == "in_progress" and study.status(image).reviewer == "alice"
    assert stack.undo_label == "move L2-UR"
    stack.undo()
    assert study.annotation(image).point(5) == before and study.status(image).status == "unreviewed"
    assert stack.redo_label == "move L2-UR"
    stack.redo()
    assert study.annotation(image).point(5).x == 40.25
    kinds = [e.kind for e in study.edit_log(image)]
    assert kinds == ["move", "move", "undo move", "undo move", "redo move", "redo move"]
    assert {e.user for e in study.edit_log(image)} == {"alice"}


def test_user_defaults_to_login_name(study):
    import getpass

    assert CommandStack(study).user == getpass.getuser()


def test_placing_a_point_that_had_no_position(study):
    image = study.image_ids()[2]  # no prediction: nothing placed yet
    stack = CommandStack(study, user="u")
    stack.push(MovePoint(image, 0, (1, 2)))
    assert study.annotation(image).point(0).source == "placed"
    with pytest.raises(ValueError, match="no position yet"):
        stack.push(SetVisible(image, 1, True))
    with pytest.raises(ValueError, match="no prediction"):
        stack.push(AcceptPrediction(image))
    assert stack.undo_label == "move L1-UL"  # failed commands never enter the stack


def test_set_visible_and_status(study):
    image = study.image_ids()[0]
    stack = CommandStack(study, user="u")
    stack.push(SetVisible(image, 3, False))
    assert not study.annotation(image).visible[3]
    stack.push(SetStatus(image, "flagged", "L4 obscured by bowel gas"))
    assert study.status(image).status == "flagged"
    assert study.status(image).comment == "L4 obscured by bowel gas"
    with pytest.raises(ValueError):
        SetStatus(image, "done")
    stack.undo()
    assert study.status(image).status == "in_progress"
    stack.undo()
    assert study.annotation(image).visible[3] and study.status(image).status == "unreviewed"


def test_accept_prediction(study):
    image = study.image_ids()[0]
    stack = CommandStack(study, user="u")
    stack.push(MovePoint(image, 0, (0, 0)))
    stack.push(AcceptPrediction(image))
    ann = study.annotation(image)
    assert np.allclose(ann.xy, fake_prediction().xy) and set(ann.source) == {"predicted"}


def test_shift_levels(study):
    image = study.image_ids()[0]
    stack = CommandStack(study, user="u")
    before = study.annotation(image)
    stack.push(ShiftLevels(image, +1))
    after = study.annotation(image)
    # L1 corners (0..3) are now labelled L2 (4..7); L1 is unset; L5's labels fell off
    assert np.allclose(after.xy[4:8], before.xy[0:4])
    assert np.allclose(after.xy[16:20], before.xy[12:16])
    assert np.isnan(after.xy[0:4]).all() and not after.visible[0:4].any()
    stack.undo()
    assert study.annotation(image).equals(before)


def test_shift_on_lateral_schema_keeps_corner_types(tmp_path):
    write_images(tmp_path / "i", n=1)
    s = Study.create(tmp_path / "lat.vamstudy", schema="lumbar-lat-22")
    s.add_images([tmp_path / "i"])
    image = s.image_ids()[0]
    s.save_prediction(image, fake_prediction(k=22))
    before = s.annotation(image)
    CommandStack(s, user="u").push(ShiftLevels(image, +1))
    after = s.annotation(image)
    # L5-SA, L5-SP (16, 17) become S1-SA, S1-SP (20, 21); L5-IA/IP have no S1 counterpart
    assert np.allclose(after.xy[20:22], before.xy[16:18])
    s.close()


def test_clean_flag(study):
    image = study.image_ids()[0]
    stack = CommandStack(study, user="u")
    assert stack.is_clean()
    stack.push(MovePoint(image, 1, (5, 5)))
    assert not stack.is_clean()
    stack.set_clean()
    stack.undo()
    assert not stack.is_clean()
    stack.redo()
    assert stack.is_clean()
    stack.undo()
    stack.push(MovePoint(image, 2, (6, 6)))  # the clean state is gone with the redo branch
    assert not stack.is_clean()


def test_thousand_random_commands_undo_and_redo_exactly(study):
    rng = np.random.default_rng(42)
    images = study.image_ids()
    stack = CommandStack(study, user="fuzz")
    first = snapshot(study)
    pushed = 0
    while pushed < 1000:
        image = images[rng.integers(len(images))]
        kind = rng.integers(5)
        if kind == 0:
            cmd = MovePoint(image, rng.integers(20), rng.uniform(-5, 130, 2))
        elif kind == 1:
            cmd = SetVisible(image, rng.integers(20), bool(rng.integers(2)))
        elif kind == 2:
            cmd = AcceptPrediction(image)
        elif kind == 3:
            cmd = SetStatus(image, ["unreviewed", "in_progress", "accepted", "flagged"][rng.integers(4)],
                            rng.choice([None, "check L3"]))
        else:
            cmd = ShiftLevels(image, int(rng.choice([-1, 1])))
        try:
            stack.push(cmd)
        except ValueError:
            continue  # e.g. accepting a prediction that does not exist
        pushed += 1
    last = snapshot(study)
    log_size = len(study.edit_log())
    while stack.can_undo:
        stack.undo()
    assert same(snapshot(study), first)
    assert len(study.edit_log()) > log_size  # undo is logged, the log only grows
    while stack.can_redo:
        stack.redo()
    assert same(snapshot(study), last)


CHILD = textwrap.dedent("""
    import sys
    from vam_gui.core.commands import CommandStack, MovePoint
    from vam_gui.io import Study
    study = Study.open(sys.argv[1])
    image = study.image_ids()[0]
    stack = CommandStack(study, user="crash")
    i = 0
    while True:
        stack.push(MovePoint(image, i % 20, (float(i), float(i) / 2)))
        print(i, flush=True)
        i += 1
""")


def test_sigkill_loses_no_committed_edit(tmp_path, study):
    path = study.path
    image = study.image_ids()[0]
    study.close()
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    confirmed = -1
    deadline = time.time() + 60
    while confirmed < 300 and time.time() < deadline:
        confirmed = int(proc.stdout.readline())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Study.open(path) as again:
        import sqlite3

        assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        moves = [e for e in again.edit_log(image) if e.kind == "move"]
        # every edit the child saw committed (it printed i after push returned) is there
        assert len(moves) >= confirmed + 1
        ann = again.annotation(image)
        for i in range(confirmed - 19, confirmed + 1):
            # the point of edit i holds edit i or a later edit of the same point
            assert ann.point(i % 20).x >= i
