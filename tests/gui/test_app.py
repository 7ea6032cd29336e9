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


def test_opening_the_same_images_again_reuses_their_study(qtbot, tmp_path):
    from vam_gui.gui.app import build_window

    paths = []
    for i in range(2):
        p = tmp_path / f"x{i}.png"
        cv2.imwrite(str(p), np.full((50, 40), 100 * (i + 1), np.uint8))
        paths.append(p)
    first = build_window(paths)
    qtbot.addWidget(first)
    wait_body(qtbot, first)
    path = first.session.study.path
    first.close()
    second = build_window(list(reversed(paths)))  # the same files, in another order
    qtbot.addWidget(second)
    wait_body(qtbot, second)
    assert second.session.study.path == path
    assert len(second.session.study.image_ids()) == 2
    assert len(list(path.parent.glob("*.vamstudy"))) == 1
    second.close()


def test_files_that_cannot_be_opened_are_listed_in_the_window(qtbot, tmp_path):
    from PySide6.QtWidgets import QMessageBox

    from vam_gui.gui.app import build_window

    good = tmp_path / "good.png"
    cv2.imwrite(str(good), np.full((50, 40), 120, np.uint8))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    window = build_window([good, broken, tmp_path / "gone.dcm"])
    qtbot.addWidget(window)
    wait_body(qtbot, window)
    assert len(window.session.study.image_ids()) == 1
    box = window.findChild(QMessageBox, "open-problems")
    assert box is not None and box.isVisible()
    lines = box.text().splitlines()
    assert len(lines) == 2
    assert any(line.startswith("broken.png: ") for line in lines)
    assert any(line.endswith("gone.dcm: no such file or folder") for line in lines)
    box.close()
    window.close()


def _headless(*args, home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "VAM_GUI_EXIT_AFTER_SHOW": "1",
           "HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    return subprocess.run([sys.executable, "-m", "vam_gui", "open", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=120)


def test_open_on_nothing_openable_exits_1_headless_with_one_line_and_leaves_no_study(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    run = _headless(broken, tmp_path / "gone.png", home=tmp_path / "home")
    assert run.returncode == 1, run.stderr[-2000:]
    said = [line for line in run.stderr.splitlines() if line.startswith("vam-gui: Nothing could be opened")]
    assert len(said) == 1 and "broken.png" in said[0] and "gone.png: no such file" in said[0], run.stderr
    assert "Traceback" not in run.stderr
    assert not list((tmp_path / "home").rglob("*.vamstudy*")), "no empty study left behind"


def test_open_a_damaged_study_headless_exits_1(tmp_path):
    bad = tmp_path / "bad.vamstudy"
    bad.write_bytes(b"not a database at all")
    run = _headless(bad, home=tmp_path / "home")
    assert run.returncode == 1 and "Cannot open study" in run.stderr and "Traceback" not in run.stderr


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
    never written in the package) with its stored predictions shown and the demo model named;
    the model loads when a prediction first needs it (Ctrl+R), not at start."""
    from vam_gui.core.resources import resources_dir
    from vam_gui.core.settings import data_dir
    from vam_gui.gui.app import build_window

    window = build_window([])
    qtbot.addWidget(window)
    wait_body(qtbot, window)
    qtbot.waitUntil(lambda: window.inference.pending is not None, timeout=30000)
    assert window.predictor is None and not window.inference.loading, "nothing loads before it is needed"
    assert "demo" in window.inference.model_label.text() and "first needed" in window.inference.model_label.text()
    window.model_controls.predict_current()  # Ctrl+R: loads the model, then predicts
    qtbot.waitUntil(lambda: window.predictor is not None, timeout=60000)
    qtbot.waitUntil(lambda: not window.inference.busy, timeout=60000)
    assert window.session.study.path.parent == data_dir() / "sample"
    assert not str(window.session.study.path).startswith(str(resources_dir()))
    assert window.session.study.prediction(window.session.current_id) is not None
    assert all(item.isVisible() for item in window.canvas.layer.items)
    assert window.canvas.heat_item.image is not None
    assert "demo" in window.inference.model_label.text()
    window.workers.wait()
    window.close()


def test_a_new_study_the_loaded_model_cannot_predict_is_said_when_made(qtbot, window, checkpoint, tmp_path,
                                                                       monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

    window.load_model(str(checkpoint), "cpu")
    qtbot.waitUntil(lambda: window.predictor is not None, timeout=60000)
    folder = tmp_path / "lat"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((60, 50), 90, np.uint8))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("lumbar-lat-22", True))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "lat"), ""))
    window.new_study_from_folder()
    boxes = [b for b in window.findChildren(QMessageBox)
             if b.isVisible() and b.windowTitle() == "The loaded model cannot predict this study"]
    assert len(boxes) == 1 and "lumbar-lat-22" in boxes[0].text()
