"""Appearance: the acquisition -- blur, a smooth intensity gradient, the contrast window, the
overlays (difficulty above 1), gamma and noise, and the detector's grey levels (uint16).

``clean`` skips blur, gradient, window shift, gamma and noise; the draws happen anyway, so a
clean phantom has the same anatomy, texture and landmarks as the noisy one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vam_gui.synth.anatomy import Level
from vam_gui.synth.dice import Dice
from vam_gui.synth.overlays import burn_in, overlays
from vam_gui.synth.projection import Projection


@dataclass(frozen=True)
class Exposure:
    blur: float  # Gaussian sigma, px
    gamma: float
    grad_amp: float  # relative strength of the linear intensity ramp
    grad_dir: float  # its direction, radians
    noise_add: float  # additive noise sigma (of the [0, 1] range)
    noise_poisson: float  # signal-dependent noise: sigma^2 grows with the intensity
    vmax: float  # detector output range
    vmin: float
    window_lo: float  # the [0, 1] window moves a little (contrast variation)
    window_hi: float


def draw_exposure(dice: Dice) -> Exposure:
    rng, d = dice.rng, dice.d
    blur = 0.5 + d * float(rng.uniform(0.0, 1.0))
    gamma = float(math.exp(d * rng.uniform(-0.35, 0.35)))
    grad_amp = d * float(rng.uniform(0.0, 0.3))
    grad_dir = float(rng.uniform(0, 2 * math.pi))
    noise_add = 0.004 + d * float(rng.uniform(0.0, 0.025))
    noise_poisson = 0.004 + d * float(rng.uniform(0.0, 0.03))
    vmax = float(rng.uniform(4000.0, 60000.0))
    vmin = float(rng.uniform(0.0, 0.08)) * vmax
    window_lo = d * float(rng.uniform(-0.1, 0.1))
    window_hi = 1.0 + d * float(rng.uniform(0.0, 0.2))
    dice.params.update(blur_sigma=blur, gamma=gamma, gradient=grad_amp, gradient_dir=grad_dir,
                       noise_additive=noise_add, noise_poisson=noise_poisson, vmax=vmax, vmin=vmin,
                       window=[window_lo, window_hi])
    return Exposure(blur=blur, gamma=gamma, grad_amp=grad_amp, grad_dir=grad_dir,
                    noise_add=noise_add, noise_poisson=noise_poisson, vmax=vmax, vmin=vmin,
                    window_lo=window_lo, window_hi=window_hi)


def expose(img: np.ndarray, dice: Dice, proj: Projection, levels: list[Level], *, lat: bool,
           clean: bool) -> np.ndarray:
    """The drawn film ``img`` (float32, may be modified) -> [H, W] uint16 detector values."""
    ex = draw_exposure(dice)
    if not clean:
        img = _blur_and_shade(img, ex, proj)
    img = _window(img, ex, clean=clean)
    burned = None
    if dice.x > 0:  # metal, ruler and markers over the anatomy (never moves a landmark)
        img, burned = overlays(img, levels, proj, lat=lat, blur=0.0 if clean else ex.blur, dice=dice)
    if not clean:
        img = _gamma_and_noise(img, ex, dice.rng)
    if dice.x > 0:
        img = burn_in(img, burned)
    out: np.ndarray = np.rint(ex.vmin + (ex.vmax - ex.vmin) * img).astype(np.uint16)
    return out


def _blur_and_shade(img: np.ndarray, ex: Exposure, proj: Projection) -> np.ndarray:
    """Acquisition blur, then a smooth linear intensity ramp (heel effect, uneven thickness)."""
    import cv2

    H, W = proj.height, proj.width
    GX, GY, _, _ = proj.canonical_grid(8)
    img = np.asarray(cv2.GaussianBlur(img, (0, 0), ex.blur))
    ramp = (math.cos(ex.grad_dir) * (GX - W / 2) / W + math.sin(ex.grad_dir) * (GY - H / 2) / H)
    smooth = cv2.resize((1.0 + ex.grad_amp * ramp).astype(np.float32), (W, H),
                        interpolation=cv2.INTER_LINEAR)
    img *= smooth
    return img


def _window(img: np.ndarray, ex: Exposure, *, clean: bool) -> np.ndarray:
    """Normalise to [0, 1] by the (sampled) range, the window moved a little unless clean."""
    lo = float(img[::4, ::4].min())
    hi = float(img[::4, ::4].max())
    if not clean:
        lo, hi = lo + ex.window_lo * (hi - lo), lo + ex.window_hi * (hi - lo)
    img = (img - lo) * (1.0 / max(hi - lo, 1e-6))
    np.clip(img, 0.0, 1.0, out=img)
    return img


def _gamma_and_noise(img: np.ndarray, ex: Exposure, rng: np.random.Generator) -> np.ndarray:
    if abs(ex.gamma - 1.0) > 1e-6:
        img = np.power(img, ex.gamma, dtype=np.float32)
    noise = rng.standard_normal(img.shape, dtype=np.float32)
    img += noise * np.sqrt(ex.noise_add**2 + ex.noise_poisson**2 * img)
    np.clip(img, 0.0, 1.0, out=img)
    return img
