"""Appearance (intensity) augmentation: identity, ranges, padding, determinism, every transform live."""

import numpy as np
import pytest

from vam_gui.model.appearance import Appearance, transforms


def phantom(h: int = 256, w: int = 128, seed: int = 0) -> np.ndarray:
    """A smooth phantom-like image in [0.15, 0.85] with bright blobs, off the 1/255 grid."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    img = 0.35 + 0.2 * xx + 0.1 * np.sin(8 * yy)
    for cy, cx in rng.uniform(0.1, 0.9, (6, 2)):
        img += 0.2 * np.exp(-((yy - cy * h / max(h, w)) ** 2 + (xx - cx * w / max(h, w)) ** 2) / 0.002)
    img += rng.normal(0, 0.003, img.shape)
    return np.clip(img, 0.15, 0.85).astype(np.float32)


def letterboxed(h: int = 256, w: int = 256, cw: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A phantom centred in zero padding, as the letterbox leaves a tall film, and its content mask."""
    img = np.zeros((h, w), np.float32)
    content = np.zeros((h, w), bool)
    c0 = (w - cw) // 2
    img[:, c0:c0 + cw] = phantom(h, cw)
    content[:, c0:c0 + cw] = True
    return img, content


def test_transform_names_in_order():
    assert transforms() == ("gradient", "clahe", "gamma", "contrast", "collimation", "text", "blur",
                            "noise", "quantise")


def test_rejects_unknown_transform_and_negative_strength():
    with pytest.raises(ValueError):
        Appearance(only=("gamma", "warp"))
    with pytest.raises(ValueError):
        Appearance(strength=-0.5)


def test_identity_at_strength_zero():
    img, content = letterboxed()
    for seed in range(5):
        out = Appearance(strength=0.0)(img, np.random.default_rng(seed), content=content)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, img)
        assert out is not img


@pytest.mark.parametrize("shape", [(256, 128), (128, 256), (64, 64), (97, 33)])
@pytest.mark.parametrize("strength", [0.5, 1.0, 2.0])
def test_shape_dtype_range(shape, strength):
    img = phantom(*shape)
    before = img.copy()
    aug = Appearance(strength=strength)
    for seed in range(6):
        out = aug(img, np.random.default_rng(seed))
        assert out.shape == shape and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(img, before)  # never in place


@pytest.mark.parametrize("strength", [1.0, 2.0])
def test_padding_stays_zero(strength):
    img, content = letterboxed()
    changed = 0
    for seed in range(15):
        out = Appearance(strength=strength)(img, np.random.default_rng(seed), content=content)
        assert (out[~content] == 0).all()
        changed += not np.array_equal(out[content], img[content])
    assert changed > 0


def test_padding_stays_zero_for_every_transform_alone():
    img, content = letterboxed()
    for name in transforms():
        for seed in range(4):
            out = Appearance(strength=2.0, only=(name,))(img, np.random.default_rng(seed), content=content)
            assert (out[~content] == 0).all(), name


def test_no_content_gives_all_padding():
    img, _ = letterboxed()
    out = Appearance()(img, np.random.default_rng(0), content=np.zeros(img.shape, bool))
    assert (out == 0).all()


def test_content_none_means_all_content():
    img = phantom()
    for seed in range(5):
        a = Appearance(strength=1.5)(img, np.random.default_rng(seed))
        b = Appearance(strength=1.5)(img, np.random.default_rng(seed), content=np.ones(img.shape, bool))
        np.testing.assert_array_equal(a, b)


def test_deterministic_per_seed():
    img = phantom()
    aug = Appearance(strength=1.0)
    outs = [aug(img, np.random.default_rng(seed)) for seed in range(8)]
    for seed, out in enumerate(outs):
        np.testing.assert_array_equal(out, aug(img, np.random.default_rng(seed)))
    distinct = {out.tobytes() for out in outs}
    assert len(distinct) >= 7


@pytest.mark.parametrize("name", transforms())
def test_each_transform_changes_the_image(name):
    img = phantom()
    aug = Appearance(strength=2.0, only=(name,))
    changed = sum(not np.array_equal(aug(img, np.random.default_rng(seed)), img) for seed in range(8))
    assert changed >= 2, name


def test_text_draws_on_blank_grey():
    grey = np.full((256, 128), 0.5, np.float32)
    aug = Appearance(strength=2.0, only=("text",))
    drawn = 0
    for seed in range(10):
        out = aug(grey, np.random.default_rng(seed))
        diff = np.abs(out - grey)
        if diff.max() > 0:
            assert diff.max() > 0.25  # white or black, not a faint smudge
            assert (diff > 0).mean() < 0.5  # markers, not a wash over the whole image
            drawn += 1
    assert drawn >= 3


def test_change_grows_with_strength():
    img = phantom()
    means = []
    for strength in (0.0, 0.5, 1.0, 2.0):
        aug = Appearance(strength=strength)
        means.append(np.mean([np.abs(aug(img, np.random.default_rng(s)) - img).mean() for s in range(20)]))
    assert means[0] == 0.0
    assert means[0] < means[1] < means[2] < means[3], means
