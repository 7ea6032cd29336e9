"""The correction report: known moves give exactly their displacements; undone moves don't count."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from vam_gui.core.annotation import Annotation
from vam_gui.core.report import CSV_HEADER, correction_report
from vam_gui.core.schema import load_schema
from vam_gui.io.study import EditLogEntry

AP = load_schema("lumbar-ap-20")


def pred_xy(offset=0.0):
    return np.stack([np.linspace(100, 140, 20), np.linspace(50, 400, 20)], axis=1) + offset


def state(xy, source, visible=True):
    return {"x": float(xy[0]), "y": float(xy[1]), "visible": visible, "source": source}


def entry(n, user, image, kind, point, before, after):
    return EditLogEntry(id=n, group=n, at=f"2024-01-01T10:00:{n:02d}", user=user, image_id=image,
                        kind=kind, label=kind, point=point, before=before, after=after)


@pytest.fixture
def inputs():
    pa, pb = pred_xy(), pred_xy(3.0)
    # image A (spacing 0.5 mm/row, 0.25 mm/column): point 3 moved by (4, 0), point 7 by (3, 4)
    fa = pa.copy()
    fa[3] += (4.0, 0.0)
    fa[7] += (3.0, 4.0)
    src_a = np.array(["predicted"] * 20, dtype=object)
    src_a[[3, 7]] = "moved"
    ann_a = Annotation(fa, np.ones(20, bool), src_a)
    # image B (no spacing): point 3 moved by (0, -6); point 10 moved then undone; point 12 moved
    # away and dragged back exactly onto the prediction
    fb = pb.copy()
    fb[3] += (0.0, -6.0)
    log = [
        entry(1, "alice", "A", "move", 3, state(pa[3], "predicted"), state(pa[3] + (1, 0), "moved")),
        entry(2, "alice", "A", "move", 3, state(pa[3] + (1, 0), "moved"), state(fa[3], "moved")),
        entry(3, "alice", "A", "move", 7, state(pa[7], "predicted"), state(fa[7], "moved")),
        entry(4, "alice", "A", "status", None, {"status": "in_progress"}, {"status": "accepted"}),
        entry(5, "bob", "B", "move", 3, state(pb[3], "predicted"), state(fb[3], "moved")),
        entry(6, "bob", "B", "move", 10, state(pb[10], "predicted"), state(pb[10] + (9, 9), "moved")),
        entry(7, "bob", "B", "undo move", 10, state(pb[10] + (9, 9), "moved"), state(pb[10], "predicted")),
        entry(8, "bob", "B", "move", 12, state(pb[12], "predicted"), state(pb[12] + (5, 0), "moved")),
        entry(9, "bob", "B", "move", 12, state(pb[12] + (5, 0), "moved"), state(pb[12], "moved")),
    ]
    return dict(schema=AP, edit_log_entries=log, predictions={"A": pa, "B": pb},
                annotations={"A": ann_a, "B": fb}, spacings={"A": (0.5, 0.25), "B": None},
                review_seconds={"A": 42.5, "B": 10.0}, reviewer="alice")


def test_known_moves(inputs):
    r = correction_report(**inputs)
    assert r.points_moved == 3
    assert r.points_compared == 40
    assert r.reviewers == ["alice", "bob"] and r.reviewer == "alice"
    assert r.total_review_seconds == pytest.approx(52.5)

    k3 = r.keypoints[3]
    assert (k3.name, k3.n_compared, k3.n_moved) == ("L1-LR", 2, 2)
    assert k3.mean_px == pytest.approx(5.0) and k3.max_px == pytest.approx(6.0)
    # mm only from image A: 4 px along x at 0.25 mm = 1 mm
    assert k3.n_mm == 1 and k3.mean_mm == pytest.approx(1.0) and k3.max_mm == pytest.approx(1.0)

    k7 = r.keypoints[7]
    assert k7.n_moved == 1
    assert k7.mean_px == pytest.approx(2.5) and k7.max_px == pytest.approx(5.0)
    assert k7.max_mm == pytest.approx(math.hypot(3 * 0.25, 4 * 0.5))  # 2.136 mm

    # the undone move and the move dragged back do not count
    for i in (10, 12):
        assert r.keypoints[i].n_moved == 0 and r.keypoints[i].max_px == pytest.approx(0.0)
    assert all(kp.max_mm in (None, 0.0) or kp.index in (3, 7) for kp in r.keypoints)
    assert r.keypoints[0].mean_mm == pytest.approx(0.0) and r.keypoints[0].n_mm == 1

    a, b = r.images
    assert (a.image_id, a.n_moved, a.moved_points) == ("A", 2, [3, 7])
    assert a.max_px == pytest.approx(5.0) and a.mean_px == pytest.approx(9.0 / 20)
    assert a.max_mm == pytest.approx(math.hypot(0.75, 2.0))
    assert a.review_seconds == 42.5 and a.edits == 4 and a.undos == 0 and a.users == ["alice"]
    assert (b.image_id, b.n_moved, b.moved_points) == ("B", 1, [3])
    assert b.max_px == pytest.approx(6.0) and b.mean_mm is None and b.max_mm is None
    assert b.edits == 5 and b.undos == 1 and b.users == ["bob"]


def test_csv_and_dict(inputs):
    r = correction_report(**inputs)
    rows = r.to_csv_rows()
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1][0] == "study" and rows[1][4] == 3
    kp_rows = [row for row in rows if row[0] == "keypoint"]
    img_rows = [row for row in rows if row[0] == "image"]
    assert len(kp_rows) == 20 and len(img_rows) == 2
    col = {name: i for i, name in enumerate(CSV_HEADER)}
    l1_lr = kp_rows[3]
    assert l1_lr[col["name"]] == "L1-LR" and l1_lr[col["max_px"]] == pytest.approx(6.0)
    assert img_rows[1][col["mean_mm"]] == ""  # no spacing on B: empty, not NaN
    assert all(len(row) == len(CSV_HEADER) for row in rows)
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    assert "nan" not in buf.getvalue().lower()
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["points_moved"] == 3 and d["images"][0]["spacing"] == [0.5, 0.25]


def test_source_decides_for_arrays_without_log():
    pa = pred_xy()
    fa = pa.copy()
    fa[5] += (2.0, 0.0)  # no log entry: counted by position alone
    imported = pa.copy()
    imported[6] += (3.0, 0.0)
    src = np.array(["predicted"] * 20, dtype=object)
    src[6] = "imported"  # an imported label differing from the prediction is not a correction
    ann_b = Annotation(imported, np.ones(20, bool), src)
    r = correction_report(AP, [], {"A": pa, "B": pa}, {"A": fa, "B": ann_b}, {}, {}, None)
    assert r.points_moved == 1 and r.images[0].moved_points == [5]
    assert r.keypoints[6].max_px == pytest.approx(3.0) and r.keypoints[6].n_moved == 0
    assert r.images[0].review_seconds is None
    assert any("no mm" in n for n in r.notes)


def test_placed_point_without_prediction_and_hidden_point():
    pa = pred_xy()
    pa[2] = np.nan  # the network had nothing here
    src = np.array(["predicted"] * 20, dtype=object)
    src[2] = "placed"
    xy = pred_xy()
    vis = np.ones(20, bool)
    xy[4] += (7.0, 0.0)
    src[4] = "moved"
    vis[4] = False  # moved then hidden: a missing point, not a displacement
    r = correction_report(AP, [], {"A": pa}, {"A": Annotation(xy, vis, src)}, {"A": (1.0, 1.0)}, {"A": 3.0},
                          "carol")
    assert r.images[0].moved_points == [2]
    assert r.keypoints[2].n_compared == 0 and r.keypoints[2].mean_px is None
    assert r.keypoints[4].n_compared == 0
    assert r.points_compared == 18


def test_report_from_a_real_study(tmp_path):
    from test_study import fake_prediction, write_images

    from vam_gui.core.commands import CommandStack, MovePoint
    from vam_gui.io import Study

    write_images(tmp_path / "images", n=2)
    s = Study.create(tmp_path / "s.vamstudy")
    try:
        s.add_images([tmp_path / "images"])
        ids = s.image_ids()
        for image in ids:
            s.save_prediction(image, fake_prediction())
        stack = CommandStack(s, user="dana")
        p0 = s.prediction(ids[0]).xy
        stack.push(MovePoint(ids[0], 1, p0[1] + (3.0, 4.0)))
        stack.push(MovePoint(ids[0], 2, p0[2] + (10.0, 0.0)))
        stack.undo()  # point 2 back on the prediction
        stack.push(MovePoint(ids[1], 0, s.prediction(ids[1]).xy[0] + (0.0, 2.0)))
        r = correction_report(s.schema, s.edit_log(), {i: s.prediction(i).xy for i in ids},
                              {i: s.annotation(i) for i in ids}, {i: None for i in ids},
                              {i: s.review_seconds(i) for i in ids}, "dana")
        assert r.points_moved == 2 and r.reviewers == ["dana"]
        assert r.images[0].moved_points == [1] and r.images[1].moved_points == [0]
        assert r.keypoints[1].max_px == pytest.approx(5.0)
        assert r.keypoints[2].n_moved == 0 and r.keypoints[2].max_px == pytest.approx(0.0)
        assert r.images[0].undos == 1
        # plain arrays + the log give the same answer as Annotation objects
        r2 = correction_report(s.schema, s.edit_log(), {i: s.prediction(i).xy for i in ids},
                               {i: s.annotation(i).xy for i in ids}, {}, {}, None)
        assert [i.moved_points for i in r2.images] == [[1], [0]]
    finally:
        s.close()
