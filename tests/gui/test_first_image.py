"""The shell's preview of the study's first image (gui/first_image.py): the image the study
opens on, greyed as the canvas greys it, painted before numpy or pyqtgraph are imported."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from vam_gui.core import radiograph as core_radiograph
from vam_gui.core.annotation import ReviewState
from vam_gui.gui import first_image
from vam_gui.io import Study
from vam_gui.io.dicom_write import dx_dataset
from vam_gui.io.radiograph import load_radiograph


def canvas_grey(path) -> np.ndarray:
    """What the canvas paints: the stored pixels through its window, as pyqtgraph maps levels."""
    rad = load_radiograph(path)
    lo, hi = rad.window.lower, rad.window.upper
    return np.clip((rad.pixels.astype(np.float64) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def preview_grey(path) -> np.ndarray:
    image = first_image.preview_image(path)
    assert image is not None
    rows = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return rows[:, :image.width()].copy()  # the QImage's pixels go with it


def test_the_sample_is_the_canvas_subsample_for_images_it_covers():
    assert first_image.WINDOW_SAMPLE_PIXELS <= core_radiograph._WINDOW_SAMPLE_PIXELS
    assert (first_image.LOW_PCT, first_image.HIGH_PCT) == (0.5, 99.5)


@pytest.mark.parametrize("dtype,shape,odd", [(np.uint8, (256, 256), False), (np.uint8, (301, 203), True),
                                             (np.uint16, (300, 211), False), (np.uint16, (97, 450), True)])
def test_preview_greys_exactly_as_the_canvas_up_to_the_sample_size(tmp_path, dtype, shape, odd):
    rng = np.random.default_rng(shape[0])
    top = 255 if dtype == np.uint8 else 60000
    pixels = rng.integers(0, top, shape, dtype=dtype)
    if odd:  # a narrow histogram and saturated tails: the percentiles fall between levels
        pixels = np.clip(rng.normal(top / 3, top / 50, shape), 0, top).astype(dtype)
        pixels[:3] = top
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), pixels)
    assert np.array_equal(preview_grey(path), canvas_grey(path))


def test_a_large_16_bit_image_is_greyed_from_a_sparser_grid(tmp_path):
    rng = np.random.default_rng(7)
    ramp = np.linspace(1000, 50000, 900)[None, :] + rng.normal(0, 300, (700, 900))
    path = tmp_path / "big.png"
    cv2.imwrite(str(path), ramp.astype(np.uint16))
    diff = np.abs(preview_grey(path).astype(int) - canvas_grey(path).astype(int))
    assert diff.max() <= 2 and diff.mean() < 0.5


def test_a_constant_image_gets_a_window_of_width_one():
    assert first_image.robust_window(memoryview(bytes([7]) * 100)) == (6.5, 7.5)


@pytest.mark.parametrize("kind", ["rgb", "dicom", "missing", "text", "tiny"])
def test_files_the_canvas_reads_otherwise_get_no_preview(tmp_path, kind):
    path = tmp_path / ("a.dcm" if kind == "dicom" else "a.png")
    if kind == "rgb":
        cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8))
    elif kind == "dicom":
        dx_dataset(np.zeros((40, 30), np.uint16), spacing=(0.1, 0.1), bits_stored=12).save_as(
            path, enforce_file_format=True)
    elif kind == "text":
        path.write_text("not an image")
    elif kind == "tiny":
        cv2.imwrite(str(path), np.zeros((1, 30), np.uint8))
    assert first_image.preview_image(path) is None


def _study(tmp_path, statuses: list[str]):
    paths = []
    for i in range(len(statuses)):
        paths.append(tmp_path / f"img{i}.png")
        cv2.imwrite(str(paths[-1]), np.full((40, 30), 20 * (i + 1), np.uint8))
    study_path = tmp_path / "s.vamstudy"
    with Study.create(study_path) as study:
        study.add_images(paths)
        for image_id, status in zip(study.image_ids(), statuses, strict=True):
            if status != "unreviewed":
                study.apply_edit(image_id, user="x", kind="status", review=ReviewState(status, None, "x"))
    return study_path


@pytest.mark.parametrize("statuses", [["unreviewed"] * 3, ["accepted", "flagged", "unreviewed", "unreviewed"],
                                      ["accepted", "accepted"], ["in_progress", "unreviewed"]])
def test_the_preview_is_of_the_image_the_session_opens_on(tmp_path, statuses):
    from vam_gui.session import ReviewSession

    study_path = _study(tmp_path, statuses)
    session = ReviewSession(reviewer="r")
    session.open(study_path)
    try:
        assert first_image.first_image_file(study_path) == session.study.image_path(session.current_id)
    finally:
        session.close()


def test_a_blind_first_study_gets_no_preview(tmp_path):
    study_path = _study(tmp_path, ["unreviewed"])
    with Study.open(study_path) as study:
        study.set_blind_first(True)
    assert first_image.first_image_file(study_path) is None
    assert first_image.first_image_file(tmp_path / "nothing.vamstudy") is None


def test_the_shell_shows_the_preview_and_the_canvas_then_the_same_image(qtbot, tmp_path):
    from vam_gui.gui.app import build_window

    study_path = _study(tmp_path, ["accepted", "unreviewed"])
    window = build_window([study_path])
    qtbot.addWidget(window)
    preview = window.centralWidget()
    assert isinstance(preview, first_image.FirstImage)
    assert preview.source == tmp_path / "img1.png"
    window.show()
    qtbot.waitUntil(lambda: window.canvas is not None and window.session.current_id is not None, timeout=20000)
    assert window.centralWidget() is window.canvas
    assert window.session.study.image_path(window.session.current_id) == preview.source
    window.close()


_SHELL_PROBE = """
import os, sys
from pathlib import Path
from PySide6.QtCore import QEvent, QObject
from vam_gui.gui.app import application, build_window
app = application()
window = build_window([Path(sys.argv[1])])
preview, loaded = window.centralWidget(), []
class Watch(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not loaded:
            loaded.append(sorted(m for m in ("numpy", "pyqtgraph", "superqt", "torch", "cv2") if m in sys.modules))
        return False
watch = Watch()
preview.installEventFilter(watch)
def body_built():
    print(preview.objectName(), preview.painted_at is not None, loaded, flush=True)
    os._exit(0)
window.body_ready.connect(body_built)
window.show()
app.exec()
"""


def test_the_preview_is_painted_before_numpy_or_pyqtgraph_load(tmp_path):
    study_path = _study(tmp_path, ["unreviewed"])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data")}
    out = subprocess.run([sys.executable, "-c", _SHELL_PROBE, str(study_path)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.stdout.split() == ["first-image", "True", "[[]]"], out.stderr[-2000:]


def test_reading_a_closed_study_for_its_preview_leaves_no_file_beside_it(tmp_path):
    study_path = _study(tmp_path, ["unreviewed"])
    before = sorted(p.name for p in tmp_path.iterdir())
    assert first_image.first_image_file(study_path) == tmp_path / "img0.png"
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_film_larger_than_a_screen_is_previewed_from_every_nth_pixel(tmp_path):
    """Wider or taller than PREVIEW_SIDE: every n-th pixel (nearest), greyed exactly as the canvas."""
    pixels = np.random.default_rng(9).integers(0, 60000, (100, first_image.PREVIEW_SIDE + 100), dtype=np.uint16)
    path = tmp_path / "wide.png"
    cv2.imwrite(str(path), pixels)
    assert np.array_equal(preview_grey(path), canvas_grey(path)[::2, ::2])


@pytest.mark.parametrize("spread", ["wide", "narrow", "few levels", "one high byte"])
def test_the_16_bit_window_is_numpys_percentiles_without_sorting(spread):
    """16-bit ranks come from a count of the high bytes, then of the low bytes of one bin:
    the percentiles are numpy's, to the last bit, however the values spread over the bins."""
    rng = np.random.default_rng(len(spread))
    n = 40_000
    values = {"wide": rng.integers(0, 65536, n), "narrow": np.clip(rng.normal(30000, 40, n), 0, 65535),
              "few levels": rng.integers(0, 3, n) * 257, "one high byte": rng.integers(0x1200, 0x1300, n)}[spread]
    pixels = values.astype(np.uint16)
    lo, hi = first_image.robust_window(memoryview(pixels.tobytes()).cast("H"))
    assert (lo, hi) == tuple(float(v) for v in np.percentile(pixels.astype(np.float64), [0.5, 99.5]))
