"""Rules with one owner (conventions.md §15): each is defined once and the others use it."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from vam_gui.core.grey import luminance, to_grey
from vam_gui.core.letterbox import intensity_recipe
from vam_gui.core.schema import load_schema
from vam_gui.core.spacing import check_spacing, valid_spacing


def test_grey_rule():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # pure red
    warnings: list[str] = []
    grey = to_grey(rgb, "RGB", warnings, what="colour DICOM (RGB)")
    assert grey.dtype == np.uint8 and np.all(grey == round(0.299 * 200))
    assert warnings == ["colour DICOM (RGB) converted to grayscale luminance (ITU-R BT.601); "
                        "the colour information was discarded"]
    assert np.array_equal(luminance(rgb[..., ::-1], "BGR"), grey)  # channel order is honoured
    same = np.repeat(np.arange(20, dtype=np.uint16).reshape(4, 5, 1), 4, axis=2)
    warnings.clear()
    assert np.array_equal(to_grey(same, "BGR", warnings), same[..., 0])
    assert warnings == ["colour image with identical channels: read as grayscale"]
    warnings.clear()
    assert to_grey(same[..., :2], "BGR", warnings).shape == (4, 5) and "alpha" in warnings[0]
    assert luminance(rgb.astype(np.float64), "RGB").dtype == np.float32


def test_spacing_rule():
    assert valid_spacing((0.2, "0.3")) == (0.2, 0.3) == check_spacing([0.2, 0.3])
    for bad in ((0, 1), (-1, 1), (float("nan"), 1), (1, 2, 3), "ab", 5):
        assert valid_spacing(bad) is None
        with pytest.raises(ValueError):
            check_spacing(bad)
    assert valid_spacing(None) is None and check_spacing(None) is None


def test_index_by_corner():
    schema = load_schema("lumbar-lat-22")
    index = schema.index_by_corner()
    assert len(index) == schema.k
    for (v, c), i in index.items():
        assert (schema.vertebra[i], schema.corner[i]) == (v, c)


def test_one_intensity_recipe_in_checkpoints_and_manifests():
    from vam_gui.io.dataset import manifest_recipe
    from vam_gui.model.config import default_preprocessing as model_recipe

    recipe = intensity_recipe()
    assert recipe.items() <= model_recipe().items() and recipe.items() <= manifest_recipe().items()


def test_files_in_and_file_sha256(tmp_path):
    from vam_gui.io.files import file_sha256, files_in

    (tmp_path / "sub").mkdir()
    for name in ("b.png", "a.PNG", ".hidden.png", "sub/c.png", "sub/notes.txt"):
        (tmp_path / name).write_bytes(name.encode())
    png = files_in(tmp_path, accept=lambda p: p.suffix.lower() == ".png")
    assert [p.relative_to(tmp_path).as_posix() for p in png] == ["a.PNG", "b.png", "sub/c.png"]
    assert len(files_in(tmp_path, recursive=False, hidden=True)) == 3
    assert file_sha256(tmp_path / "b.png") == hashlib.sha256(b"b.png").hexdigest()


def test_training_normalises_with_the_models_own_recipe(tmp_path):
    """Training reads mean/std from the model config's preprocessing, as inference does: a
    checkpoint with another recipe is fine-tuned on the pixels it will be asked about."""
    import torch

    from vam_gui.io.synth import synthesize
    from vam_gui.model.config import default_preprocessing
    from vam_gui.model.dataset import VamDataset
    from vam_gui.model.preprocess import mean_std

    synthesize(tmp_path, 1, seed=3, dataset_size=64, difficulty=0.0)
    standard = VamDataset(tmp_path / "dataset")[0]["image"]
    other = {**default_preprocessing(), "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}
    custom = VamDataset(tmp_path / "dataset", preprocessing=other)[0]["image"]
    m0, s0 = mean_std(default_preprocessing())
    pixels = standard * s0 + m0  # the [0, 1] image both started from
    assert torch.allclose(custom, (pixels - 0.5) / 0.25, atol=1e-5)
    assert not torch.allclose(custom, standard)
