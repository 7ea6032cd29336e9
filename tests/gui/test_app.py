"""Start-up paths: `vam-gui open` on images or a study, first start, headless refusal."""

import os
import subprocess
import sys

import cv2
import numpy as np


def wait_body(qtbot, window):
    window.show()
    qtbot.waitUntil(lambda: window.canvas is not None and window.session.study is not None, timeout=20000)


def test_open_images_makes_a_scratch_study(qtbot, tmp_path):
    from vam_gui.gui.app import build_window

    paths = []
    for i in range(2):
        p = tmp_path / f"x{i}.png"
        cv2.imwrite(str(p), np.full((50, 40), 100 * (i + 1), np.uint8))
        paths.append(p)
    window = build_window(paths)
    qtbot.addWidget(window)
    wait_body(qtbot, window)
    assert len(window.session.study.image_ids()) == 2
    assert window.session.study.path.parent.name == "studies"  # in the user data folder, not beside the images
    assert not list(tmp_path.glob("*.vamstudy"))
    window.close()


def test_open_a_study(qtbot, study_path):
    from vam_gui.gui.app import build_window

    window = build_window([study_path])
    qtbot.addWidget(window)
    wait_body(qtbot, window)
    assert window.session.study.path == study_path
    assert window.session.current_id == window.session.study.image_ids()[0]
    window.close()


def test_no_display_is_a_clear_error():
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, "-m", "vam_gui", "open"], capture_output=True, text=True, env=env,
                         timeout=60)
    if sys.platform == "linux":
        assert run.returncode == 2 and "no display" in run.stderr


def test_offscreen_start_smoke():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VAM_GUI_EXIT_AFTER_SHOW": "1"}
    run = subprocess.run([sys.executable, "-m", "vam_gui"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]


def test_new_study_from_folder_dialog(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    folder = tmp_path / "lat"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((60, 50), 90, np.uint8))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("lumbar-lat-22", True))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "lat"), ""))
    window.new_study_from_folder()
    assert window.session.study.path.name == "lat.vamstudy" and window.session.study.schema.name == "lumbar-lat-22"
    assert window.canvas.layer.schema.k == 22 and window.keypoints.rowCount() == 22


def test_first_start_opens_the_sample_with_the_demo_model(qtbot):
    """`vam-gui` with no arguments: the bundled sample study (copied to the user data folder,
    never written in the package) with the demo model loaded and predictions shown."""
    from vam_gui.core.resources import resources_dir
    from vam_gui.core.settings import data_dir
    from vam_gui.gui.app import build_window

    window = build_window([])
    qtbot.addWidget(window)
    wait_body(qtbot, window)
    qtbot.waitUntil(lambda: window.predictor is not None, timeout=60000)
    assert window.session.study.path.parent == data_dir() / "sample"
    assert not str(window.session.study.path).startswith(str(resources_dir()))
    assert window.session.study.prediction(window.session.current_id) is not None
    assert all(item.isVisible() for item in window.canvas.layer.items)
    assert window.canvas.heat_item.image is not None
    assert "demo" in window.inference.model_label.text()
    window.workers.wait()
    window.close()
