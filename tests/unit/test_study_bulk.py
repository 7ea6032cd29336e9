"""Bulk reads for exports: ``annotations()`` and ``predictions()`` give in one query what
``annotation``/``prediction`` give image by image, and fail on the same damaged rows."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vam_gui.core.annotation import PointState
from vam_gui.io import DamagedRowError, Study
from vam_gui.io.bench import fake_prediction


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(5):
        cv2.imwrite(str(folder / f"{i}.png"), np.random.default_rng(i).integers(0, 255, (64, 48), dtype=np.uint8))
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([folder])
    rng = np.random.default_rng(0)
    ids = s.image_ids()
    for image_id in ids[:3]:
        s.save_prediction(image_id, fake_prediction(s.schema, 64, 48, rng, size=32))
    s.apply_edit(ids[3], user="r", kind="place", points={2: PointState(5.0, 6.0, True, "placed")})
    yield s
    s.close()


def test_bulk_reads_equal_image_by_image_reads(study):
    ids = study.image_ids()
    anns = study.annotations()
    assert list(anns) == ids
    for image_id in ids:
        assert anns[image_id].equals(study.annotation(image_id))
    preds = study.predictions()
    assert list(preds) == ids[:3]
    for image_id, pred in preds.items():
        one = study.prediction(image_id)
        assert np.array_equal(pred.xy, one.xy) and np.array_equal(pred.confidence, one.confidence)
        assert np.array_equal(pred.spread, one.spread) and pred.letterbox == one.letterbox
        assert pred.model_id == one.model_id and pred.created_at == one.created_at
    assert list(study.annotations(ids[3:])) == ids[3:] and list(study.predictions(ids[1:2])) == ids[1:2]
    with pytest.raises(KeyError, match="no image"):
        study.annotations(["nope"])


def test_bulk_reads_fail_on_the_damaged_rows_single_reads_fail_on(study):
    a, b = study.image_ids()[:2]
    with study._transaction() as conn:
        conn.execute("UPDATE points SET visible = 7 WHERE image = ? AND idx = 1", (study._row(a),))
        conn.execute("UPDATE predictions SET letterbox = 'nope' WHERE image = ?", (study._row(b),))
    for single, bulk in ((lambda: study.annotation(a), study.annotations),
                         (lambda: study.prediction(b), study.predictions)):
        with pytest.raises(DamagedRowError) as one:
            single()
        with pytest.raises(DamagedRowError) as many:
            bulk()
        assert str(one.value) == str(many.value)
    with study._transaction() as conn:
        conn.execute("DELETE FROM points WHERE image = ? AND idx = 4", (study._row(b),))
    with pytest.raises(DamagedRowError, match="expected 0..19"):
        study.annotations([b])


@pytest.mark.parametrize("column, value", [("x", "twelve"), ("y", float("inf")), ("x", b"\x00"), ("visible", 2),
                                           ("visible", 0.5)])
def test_every_damage_the_column_checks_see_is_named_as_image_by_image(study, column, value):
    """annotations() checks whole columns at once; any row they reject is found and named
    by the point-by-point path, with the message a single read gives."""
    image = study.image_ids()[4]
    with study._transaction() as conn:
        conn.execute(f"UPDATE points SET {column} = ? WHERE image = ? AND idx = 7", (value, study._row(image)))
    with pytest.raises(DamagedRowError) as one:
        study.annotation(image)
    with pytest.raises(DamagedRowError) as many:
        study.annotations()
    assert str(one.value) == str(many.value)
