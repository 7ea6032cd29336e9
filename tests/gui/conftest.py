"""GUI fixtures: a study of small synthetic radiographs, a tiny checkpoint, the real window."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


def synthetic_radiograph(seed: int, h: int = 160, w: int = 120) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = rng.normal(8000, 500, size=(h, w))
    for v in range(5):  # five bright "vertebrae"
        y0 = 12 + v * 28
        img[y0:y0 + 20, 35:85] += 20000
    return np.clip(img, 0, 65535).astype(np.uint16)


@pytest.fixture(autouse=True)
def _isolated_qsettings(tmp_path):
    """Window geometry and dock layout go to a per-test folder, so no test inherits another's
    layout (nor the user's)."""
    from PySide6.QtCore import QSettings

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    yield


@pytest.fixture
def study_path(tmp_path):
    from vam_gui.io import Study

    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"spine{i}.png"), synthetic_radiograph(i))
    path = tmp_path / "review.vamstudy"
    with Study.create(path) as study:
        study.add_images([folder])
    return path


@pytest.fixture
def checkpoint(tmp_path):
    import torch

    from vam_gui.model import build_model, save_checkpoint
    from vam_testing import tiny_config

    torch.manual_seed(0)
    config = tiny_config()
    return save_checkpoint(tmp_path / "tiny.safetensors", build_model(config), config)


@pytest.fixture
def window(qtbot, study_path):
    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import configure_pyqtgraph
    from vam_gui.gui.main_window import MainWindow

    configure_pyqtgraph()
    win = MainWindow(Settings(reviewer="tester"))
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    assert win.open_study(study_path)
    yield win
    # No worker may outlive its test.
    win.workers.cancel_all()
    assert win.workers.wait(30000)
    assert not win.workers.busy()
    win.close()


@pytest.fixture(autouse=True)
def _collect_each_tests_garbage():
    """Collect a test's cyclic garbage (closed windows, their models and workers) at its end,
    while no worker thread runs, rather than at a random moment of a later test while that
    test's model loads in a worker: such a collection intermittently crashed the run inside
    torch (an accumulation of many windows that a real session does not build)."""
    import gc

    yield
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(30000)
    gc.collect()
