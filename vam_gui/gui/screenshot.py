"""`vam-gui screenshot`: render the review window offscreen to a PNG (docs and checks)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def phantom_study(folder: Path, *, seed: int = 7, size: int = 512) -> Path:
    """A one-image study of a generated phantom whose ground-truth corners stand in for a
    prediction, with ``gaussian_heatmaps`` of them standing in for the heatmaps, so the
    placement of overlay and points can be checked by eye against the drawn vertebrae."""
    import cv2
    import numpy as np
    import torch

    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction
    from vam_gui.io import Study
    from vam_gui.model.targets import gaussian_heatmaps
    from vam_gui.synth import make_phantom

    ph = make_phantom("lumbar-ap-20", seed=seed, difficulty=0.5)
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(images / "phantom.png"), ph.pixels)
    study = Study.create(folder / "phantom.vamstudy")
    study.add_images([images])
    image_id = study.image_ids()[0]
    h, w = ph.pixels.shape
    box = Letterbox.fit(h, w, size)
    xy_model = torch.from_numpy(box.to_model(ph.xy)).float()[None]
    maps = gaussian_heatmaps(xy_model, size, visible=torch.from_numpy(ph.visible)[None])[0].numpy()
    study.save_prediction(image_id, Prediction(
        xy=ph.xy, confidence=np.where(ph.visible, 0.9, 0.0).astype(np.float32),
        spread=np.full(len(ph.xy), 2.0 / box.scale, np.float32), letterbox=box,
        heatmaps=maps.astype(np.float16), keypoints=study.schema.keypoints,
        model_id="phantom ground truth (stand-in)"))
    path = study.path
    study.close()
    return path


def render_screenshot(out: str | os.PathLike, study: str | os.PathLike | None = None, *,
                      width: int = 1400, height: int = 900, checkpoint: str | None = None,
                      dock: str | None = None) -> Path:
    """Open the window offscreen on ``study`` (default: the bundled sample study, else a
    phantom study) showing its first image, and save the window as a PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtTest import QTest

    from vam_gui.core.settings import Settings
    from vam_gui.gui.app import application, first_start_study, quiet_offscreen_warnings
    from vam_gui.gui.main_window import MainWindow

    out = Path(out)
    application()
    quiet_offscreen_warnings()
    with tempfile.TemporaryDirectory(prefix="vam-gui-shot-") as tmp:
        target = Path(study) if study is not None else (first_start_study() or phantom_study(Path(tmp)))
        if checkpoint is not None:
            _predict_missing(target, checkpoint)
        window = MainWindow(Settings(), restore_layout=False)
        window.resize(width, height)
        window.show()
        if not window.open_study(target):
            raise RuntimeError(f"cannot open {target}")
        first = window.session.study.image_ids()[0] if window.session.study.image_ids() else None
        if first is not None and window.session.current_id != first:
            window.session.show_image(first)
        if dock in window.docks:
            window.docks[dock].raise_()
        QTest.qWait(200)  # let layout, the deferred dock sizes and painting happen
        image = window.grab()
        window.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_png = out.with_name(f".{out.name}.tmp.png")
    if not image.save(str(tmp_png), "PNG"):
        raise OSError(f"could not write {out}")
    os.replace(tmp_png, out)
    return out


def _predict_missing(study_path: Path, checkpoint: str) -> None:
    from vam_gui.io import Study
    from vam_gui.model.study_predict import load_predictor, predict_study_images

    with Study.open(study_path) as study:
        todo = [i.image_id for i in study.list_images() if i.worst_confidence is None]
        if todo:
            predict_study_images(study, load_predictor(checkpoint), todo)
