"""Per-image figures in the store (flags, worst confidence, widest spread): written with every
prediction and every edit that changes them, equal to a fresh recomputation from the rows
(heatmaps decompressed), and filled when a format-4 study is migrated."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest
from test_measure import ap_column

from vam_gui.core.annotation import PointState
from vam_gui.core.commands import CommandStack, MovePoint
from vam_gui.core.gaussian import gaussian_windows
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.io import Study, study_db
from vam_gui.io.export import ExportOptions, export_study
from vam_gui.io.importers import import_labels
from vam_gui.io.review import count_flags, heatmap_peaks, image_review
from vam_testing import downgrade_study

H, W, S = 400, 300, 128


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(4):
        img = np.random.default_rng(i).integers(0, 65535, size=(H, W), dtype=np.uint16)
        cv2.imwrite(str(folder / f"img{i}.png"), img)
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([folder])
    yield s
    s.close()


def predict(study, image_id, *, shift=(0.0, 0.0), heatmaps=True, seed=0):
    """A lumbar column; its maps peak ``shift`` away from the points (a disagreeing map)."""
    rng = np.random.default_rng(seed)
    xy = ap_column(study.schema.vertebrae, x0=150.0, y0=80.0)
    box = Letterbox.fit(H, W, S)
    maps = gaussian_windows(box.to_model(xy + np.asarray(shift)), box.shape) if heatmaps else None
    k = study.schema.k
    study.save_prediction(image_id, Prediction(
        xy=xy, confidence=rng.uniform(0.2, 0.95, k).astype(np.float32),
        spread=rng.uniform(1.0, 6.0, k).astype(np.float32), letterbox=box, heatmaps=maps, model_id="m:test"))
    return xy


def move(study, image_id, index, xy):
    study.apply_edit(image_id, user="r", kind="move",
                     points={index: PointState(float(xy[0]), float(xy[1]), True, "moved")})


def recount(study, image_id) -> int:
    return len(image_review(study, image_id, with_measurements=False)[1])


def assert_figures_fresh(study):
    """Every image's stored figures equal what the rows give when recomputed from scratch."""
    for info in study.list_images():
        assert info.flags == recount(study, info.image_id), info.file_name
        pred = study.prediction(info.image_id)
        if pred is None:
            assert info.worst_confidence is None and info.max_spread is None
        else:
            assert info.worst_confidence == pytest.approx(float(pred.confidence.min()))
            assert info.max_spread == pytest.approx(float(pred.spread.max()))
            peaks = heatmap_peaks(study, info.image_id)
            stored = study.peaks(info.image_id)
            assert (peaks is None and stored is None) or np.array_equal(stored, peaks, equal_nan=True)


def test_a_new_image_has_no_flags_and_no_figures(study):
    info = study.list_images()[0]
    assert info.flags == 0 and info.worst_confidence is None and info.max_spread is None
    assert_figures_fresh(study)


def test_figures_follow_predictions_edits_and_undo(study):
    a, b, c, _ = study.image_ids()
    xy = predict(study, a)
    predict(study, b, shift=(0.0, 30.0), seed=1)  # its maps disagree with its points: flagged
    predict(study, c, heatmaps=False, seed=2)
    assert study.image_info(b).flags > 0 and study.image_info(a).flags == 0
    assert_figures_fresh(study)

    stack = CommandStack(study, user="r")
    stack.push(MovePoint(a, 5, xy[5] + [40.0, 0.0]))
    flagged = study.image_info(a).flags
    assert flagged > 0
    assert_figures_fresh(study)
    stack.undo()
    assert study.image_info(a).flags == 0
    assert_figures_fresh(study)
    stack.redo()
    assert study.image_info(a).flags == flagged
    move(study, c, 0, (float("nan"), float("nan")))
    study.set_facing(a, "left")
    assert_figures_fresh(study)
    predict(study, b, seed=3)  # a new prediction on an unedited image: its points follow, no flags
    assert study.image_info(b).flags == 0
    assert_figures_fresh(study)


def test_figures_follow_an_import(study, tmp_path):
    a, b, *_ = study.image_ids()
    xy = predict(study, a)
    predict(study, b, seed=1)
    move(study, a, 5, xy[5] + [40.0, 0.0])
    export_study(study, "json", tmp_path / "out", ExportOptions(all_images=True, keep_names=True))
    move(study, a, 5, xy[5])  # back where the map agrees
    assert study.image_info(a).flags == 0
    import_labels(study, "json", tmp_path / "out", user="i")
    assert study.image_info(a).flags > 0
    assert_figures_fresh(study)


def test_count_flags_reads_the_stored_counts(study, monkeypatch):
    a, b, *_ = study.image_ids()
    xy = predict(study, a)
    move(study, a, 5, xy[5] + [40.0, 0.0])
    expected = {i: recount(study, i) for i in study.image_ids()}
    monkeypatch.setattr(Study, "heatmaps", lambda *_: pytest.fail("count_flags decompressed heatmaps"))
    monkeypatch.setattr(Study, "annotation", lambda *_: pytest.fail("count_flags read an annotation"))
    batches = []
    assert count_flags(study, study.image_ids(), emit=batches.append, batch=3) == expected
    assert [len(x) for x in batches] == [3, 1] and expected[a] > 0


def test_ordered_image_ids_sort_in_sql_like_python(study):
    ids = study.image_ids()
    for n, image_id in enumerate(ids[:3]):
        predict(study, image_id, seed=n)
    infos = study.list_images()
    by_worst = sorted((i for i in infos if i.worst_confidence is not None), key=lambda i: i.worst_confidence)
    assert study.ordered_image_ids("worst_confidence") == [i.image_id for i in by_worst] + [ids[3]]
    by_spread = sorted((i for i in infos if i.max_spread is not None), key=lambda i: -i.max_spread)
    assert study.ordered_image_ids("max_spread", descending=True) == [i.image_id for i in by_spread] + [ids[3]]
    with pytest.raises(ValueError, match="cannot sort by"):
        study.ordered_image_ids("name; DROP TABLE images")


def _downgrade_to_format_4(path):
    """The file as format 4 wrote it: no figures, no peaks."""
    downgrade_study(path, 4)


def test_a_format_4_study_is_migrated_with_its_figures(study):
    a, b, c, d = study.image_ids()
    xy = predict(study, a)
    predict(study, b, shift=(0.0, 30.0), seed=1)
    predict(study, c, heatmaps=False, seed=2)
    move(study, a, 5, xy[5] + [40.0, 0.0])
    move(study, d, 0, (120.0, 90.0))
    study.set_facing(c, "right")
    path = study.path
    study.close()
    _downgrade_to_format_4(path)

    with Study.open(path, read_only=True) as old:  # read as it is, recounted
        assert old.format_version == 4 and old.stored_flags() is None
        assert {i.flags for i in old.list_images()} == {None}
        before = count_flags(old, old.image_ids())
        worst = {i.image_id: i.worst_confidence for i in old.list_images()}
        assert old.ordered_image_ids("worst_confidence") == sorted(
            worst, key=lambda i: (worst[i] is None, worst[i] or 0.0))
    assert before[a] > 0 and before[b] > 0 and before[d] == 0
    with Study.open(path) as new:
        assert new.format_version == study_db.SCHEMA_VERSION
        assert {i.image_id: i.flags for i in new.list_images()} == before
        assert {i.image_id: i.worst_confidence for i in new.list_images()} == worst
        assert_figures_fresh(new)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == study_db.SCHEMA_VERSION


def test_a_damaged_point_leaves_the_count_unknown_not_the_edit_failed(study):
    a, b, *_ = study.image_ids()
    predict(study, a)
    with study._transaction() as conn:
        conn.execute("UPDATE points SET x = 'oops' WHERE image = ? AND idx = 3", (study._row(a),))
    move(study, a, 0, (100.0, 100.0))  # the edit is written; the count is not known
    assert study.image_info(a).flags is None
    assert study.annotation(b).is_empty()
