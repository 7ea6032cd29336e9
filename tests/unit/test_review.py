"""Review from the store: the peak-distance check compares points with the stored heatmaps."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_measure import ap_column

from vam_gui.core.annotation import PointState
from vam_gui.core.checks import PEAK_DISTANCE
from vam_gui.core.gaussian import gaussian_windows
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.io import Study
from vam_gui.io.review import count_flags, heatmap_peaks, image_review

H, W, S = 400, 300, 128


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(2):
        img = np.random.default_rng(i).integers(0, 65535, size=(H, W), dtype=np.uint16)
        cv2.imwrite(str(folder / f"img{i}.png"), img)
    s = Study.create(tmp_path / "s.vamstudy")
    s.add_images([folder])
    yield s
    s.close()


def predict(study, image_id, *, with_heatmaps=True):
    """A clean lumbar column as the prediction; its heatmaps peak at the predicted points."""
    xy = ap_column(study.schema.vertebrae, x0=150.0, y0=80.0)
    box = Letterbox.fit(H, W, S)
    maps = gaussian_windows(box.to_model(xy), box.shape) if with_heatmaps else None
    k = study.schema.k
    study.save_prediction(image_id, Prediction(xy=xy, confidence=np.full(k, 0.9, np.float32),
                                               spread=np.full(k, 2.0, np.float32), letterbox=box,
                                               heatmaps=maps, model_id="m:test"))
    return xy


def move(study, image_id, index, xy):
    study.apply_edit(image_id, user="r", kind="move",
                     points={index: PointState(float(xy[0]), float(xy[1]), True, "moved")})


def peak_flags(study, image_id):
    return [f for f in image_review(study, image_id, with_measurements=False)[1] if f.kind == PEAK_DISTANCE]


def test_heatmap_peaks_are_the_maps_maxima_in_original_pixels(study):
    image = study.image_ids()[0]
    xy = predict(study, image)
    peaks = heatmap_peaks(study, image)
    scale = Letterbox.fit(H, W, S).scale
    # argmax is whole model pixels: within half a model pixel per axis of the true point
    assert peaks.shape == xy.shape and np.abs(peaks - xy).max() <= 0.5 / scale + 1e-6


def test_unmoved_prediction_is_not_flagged(study):
    image = study.image_ids()[0]
    predict(study, image)
    assert peak_flags(study, image) == []


def test_point_moved_far_from_its_heatmap_peak_is_flagged(study):
    image = study.image_ids()[0]
    xy = predict(study, image)
    move(study, image, 5, xy[5] + [25.0, 0.0])  # a vertebra is 30 px high: 25 px is far
    flags = peak_flags(study, image)
    assert [f.points for f in flags] == [(5,)]
    move(study, image, 5, xy[5] + [1.5, -1.0])  # a small correction stays within the peak
    assert peak_flags(study, image) == []


def test_image_without_heatmaps_gets_no_peak_distance_flags(study):
    image = study.image_ids()[1]
    xy = predict(study, image, with_heatmaps=False)
    assert heatmap_peaks(study, image) is None
    move(study, image, 5, xy[5] + [25.0, 0.0])
    assert peak_flags(study, image) == []


def test_count_flags_sees_the_moved_point(study):
    first, second = study.image_ids()
    xy = predict(study, first)
    predict(study, second)
    move(study, first, 5, xy[5] + [25.0, 0.0])
    counts = count_flags(study, [first, second])
    assert counts[first] >= 1 and counts[second] == 0


def test_the_check_reads_the_heatmaps_not_the_decoded_points(study):
    """A stored point its own map disagrees with (say the second pass moved it) is flagged even
    unmoved: the peaks come from the maps, not from the prediction's points."""
    image = study.image_ids()[0]
    xy = ap_column(study.schema.vertebrae, x0=150.0, y0=80.0)
    box = Letterbox.fit(H, W, S)
    where = xy.copy()
    where[7] += [0.0, 25.0]
    k = study.schema.k
    study.save_prediction(image, Prediction(xy=xy, confidence=np.full(k, 0.9, np.float32),
                                            spread=np.full(k, 2.0, np.float32), letterbox=box,
                                            heatmaps=gaussian_windows(box.to_model(where), box.shape)))
    assert [f.points for f in peak_flags(study, image)] == [(7,)]
