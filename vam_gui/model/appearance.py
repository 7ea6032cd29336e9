"""Appearance (intensity) augmentation that carries a phantom-trained network over to real films.

Real full-length spine radiographs are 8-bit JPEG films with low bone/soft-tissue contrast,
exposure gradients, collimator edges, burned-in text and lead markers, blur, noise and
compression artefacts; synthetic phantoms have none of that, so the network has to be shown it
to learn to ignore it. Every transform changes intensities only: geometry, and therefore the
keypoints, stay as they are (markers and text are drawn over the anatomy, as on real films).
Letterbox padding stays exactly 0, because that is what the network sees at inference.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_WORDS = ("L", "R", "AP", "PA", "LAT", "STANDING", "ERECT", "SUPINE", "DX", "SIN", "WS", "FULL SPINE")
_FONTS = (0, 1, 2, 3, 4)  # cv2.FONT_HERSHEY_SIMPLEX, _PLAIN, _DUPLEX, _COMPLEX, _TRIPLEX


def _gradient(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Uneven exposure (heel effect, patient thickness): a smooth linear or radial ramp."""
    h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32) / np.float32(max(h - 1, w - 1, 1))
    if rng.random() < 0.7:
        t = rng.uniform(0.0, 2.0 * np.pi)
        g = xx * np.float32(np.cos(t)) + yy * np.float32(np.sin(t))
    else:
        cy, cx = rng.uniform(0.0, 1.0, 2) * np.array([h, w]) / max(h - 1, w - 1, 1)
        g = np.hypot(xx - np.float32(cx), yy - np.float32(cy))
    g = (g - g.min()) / np.float32(max(float(np.ptp(g)), 1e-6)) - np.float32(0.5)
    return x + np.float32(rng.uniform(-0.3, 0.3) * s) * g  # total swing up to 0.3 * s


def _clahe(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Local contrast equalisation, which many PACS exports apply; mixed with the original."""
    import cv2

    h, w = x.shape
    n = int(rng.integers(2, 9))
    grid = (max(1, round(n * w / max(h, w))), max(1, round(n * h / max(h, w))))  # (cols, rows)
    clahe = cv2.createCLAHE(clipLimit=float(1.0 + rng.uniform(0.5, 2.0) * s), tileGridSize=grid)
    eq = clahe.apply(np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)).astype(np.float32) / 255
    mix = np.float32(min(1.0, rng.uniform(0.3, 0.8) * s))
    return x + mix * (eq - x)


def _gamma(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Film/detector response curve: gamma in [0.6, 1.6] at strength 1 (log-scaled)."""
    g = np.exp(rng.uniform(np.log(0.6), np.log(1.6)) * s)
    return np.clip(x, 0, 1) ** np.float32(g)


def _contrast(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Window/level differences; sometimes a washed-out film squeezed towards its mean."""
    m = float(x[mask].mean())
    if rng.random() < 0.25:
        c = max(0.1, 1.0 - rng.uniform(0.3, 0.6) * s)  # low contrast: bone barely above tissue
    else:
        c = max(0.1, 1.0 + rng.uniform(-0.4, 0.4) * s)
    b = rng.uniform(-0.1, 0.1) * s
    return (x - np.float32(m)) * np.float32(c) + np.float32(m + b)


def _collimation(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """One to four collimator shutters: straight, slightly tilted soft edges near the borders."""
    h, w = x.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    inward = {0: (0.0, 1.0), 1: (0.0, -1.0), 2: (1.0, 0.0), 3: (-1.0, 0.0)}  # top, bottom, left, right
    out = x
    for side in rng.permutation(4)[: int(rng.integers(1, 5))]:
        nx, ny = inward[int(side)]
        extent = h if side < 2 else w
        depth = min(0.2, rng.uniform(0.02, 0.12) * s) * extent
        p0x, p0y = (w - 1) / 2 + nx * (depth - w / 2), (h - 1) / 2 + ny * (depth - h / 2)
        t = np.deg2rad(rng.uniform(-4.0, 4.0) * s)
        nx, ny = nx * np.cos(t) - ny * np.sin(t), nx * np.sin(t) + ny * np.cos(t)
        outside = -((xx - np.float32(p0x)) * np.float32(nx) + (yy - np.float32(p0y)) * np.float32(ny))
        soft = rng.uniform(0.5, 3.0) * max(1.0, min(h, w) / 256)
        m = 0.5 * (1.0 + np.tanh(outside / np.float32(2.0 * soft)))
        level = rng.uniform(0.0, 0.12) if rng.random() < 0.5 else rng.uniform(0.85, 1.0)
        out = out + (np.float32(level) - out) * (m * np.float32(rng.uniform(0.7, 1.0)))
    return out


def _random_string(rng: np.random.Generator) -> str:
    """A side marker / view label, a date, or a number, as burned into real films."""
    r = rng.random()
    if r < 0.6:
        return str(rng.choice(_WORDS))
    if r < 0.8:
        d, m, y = int(rng.integers(1, 29)), int(rng.integers(1, 13)), int(rng.integers(1990, 2030))
        return f"{d:02d}{'./-'[int(rng.integers(3))]}{m:02d}{'./-'[int(rng.integers(3))]}{y}"
    return str(int(rng.integers(0, 10 ** int(rng.integers(1, 7)))))


def _put_text(layer: np.ndarray, rng: np.random.Generator, unit: float) -> None:
    """Burned-in text at a random size and position (may run off the edge)."""
    import cv2

    h, w = layer.shape
    text, font = _random_string(rng), int(rng.choice(_FONTS))
    scale, thick = rng.uniform(0.25, 0.9) * unit, int(rng.integers(1, 3 + int(unit)))
    (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
    x0 = int(-0.2 * tw + rng.random() * max(1.0, w - 0.6 * tw))
    y0 = int(0.8 * th + rng.random() * max(1.0, h - 0.6 * th))
    cv2.putText(layer, text, (x0, y0), font, scale, 255, thick, cv2.LINE_AA)


def _put_marker(layer: np.ndarray, rng: np.random.Generator, unit: float) -> None:
    """Skin markers and lead letters: filled or outlined rectangles and circles."""
    import cv2

    h, w = layer.shape
    size = rng.uniform(3.0, 14.0) * unit
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    thick = -1 if rng.random() < 0.5 else int(rng.integers(1, 3))
    if rng.random() < 0.6:
        hx, hy = size * rng.uniform(0.4, 2.5) / 2, size / 2
        cv2.rectangle(layer, (int(cx - hx), int(cy - hy)), (int(cx + hx), int(cy + hy)), 255, thick,
                      cv2.LINE_AA)
        if thick < 0 and rng.random() < 0.5:  # lead letter: the letter shows through the block
            letter, scale = str(rng.choice(["L", "R"])), max(0.2, size / 30.0)
            (tw, th), _ = cv2.getTextSize(letter, 0, scale, 1)
            cv2.putText(layer, letter, (int(cx - tw / 2), int(cy + th / 2)), 0, scale, 0, 1, cv2.LINE_AA)
    else:
        cv2.circle(layer, (int(cx), int(cy)), max(1, int(size / 2)), 255, thick, cv2.LINE_AA)


def _put_ruler(layer: np.ndarray, rng: np.random.Generator, unit: float) -> None:
    """A row of tick marks, as from a radiopaque ruler laid beside the spine."""
    import cv2

    h, w = layer.shape
    vertical = rng.random() < 0.7
    length, across = (h, w) if vertical else (w, h)
    pos, step = rng.uniform(0.05, 0.95) * across, rng.uniform(3.0, 8.0) * unit
    start = rng.uniform(0.0, 0.5) * length
    stop = min(length, start + rng.uniform(0.3, 1.0) * length)
    for i, t in enumerate(np.arange(start, stop, step)):
        tick = (5.0 if i % 5 == 0 else 2.5) * unit
        a, b = (int(pos), int(t)), (int(pos + tick), int(t))
        cv2.line(layer, a if vertical else a[::-1], b if vertical else b[::-1], 255, 1, cv2.LINE_AA)


def _text(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Burned-in annotations in white or black: text, markers, sometimes a ruler."""
    h, w = x.shape
    unit = min(h, w) / 128.0
    out = x
    for _ in range(1 + int(rng.poisson(1.0 * s))):
        layer = np.zeros((h, w), np.uint8)
        kind = rng.random()
        draw = _put_text if kind < 0.55 else _put_marker if kind < 0.9 else _put_ruler
        draw(layer, rng, unit)
        colour = rng.uniform(0.85, 1.0) if rng.random() < 0.7 else rng.uniform(0.0, 0.1)
        alpha = layer.astype(np.float32) * np.float32(rng.uniform(0.7, 1.0) / 255)
        out = out + (np.float32(colour) - out) * alpha
    return out


def _blur(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Detector/scatter unsharpness and downsampled scans: Gaussian, sigma 0.3-1.5 at strength 1."""
    import cv2

    sigma = rng.uniform(0.3, 1.5) * s
    return cv2.GaussianBlur(x, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)


def _noise(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """Electronic (Gaussian) plus quantum (Poisson-like, std ~ sqrt(signal)) noise."""
    sg, k = rng.uniform(0.005, 0.04) * s, rng.uniform(0.0, 0.03) * s
    std = np.sqrt(np.float32(sg * sg) + np.float32(k * k) * np.clip(x, 0, 1))
    return x + rng.standard_normal(x.shape, dtype=np.float32) * std


def _quantise(x: np.ndarray, mask: np.ndarray, rng: np.random.Generator, s: float) -> np.ndarray:
    """8-bit films: round to 1/255, and half the time a real JPEG round trip."""
    import cv2

    q = np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)
    if rng.random() < 0.5:
        quality = int(np.clip(95 - rng.uniform(0.0, 45.0) * s, 10, 95))
        _, buf = cv2.imencode(".jpg", q, [cv2.IMWRITE_JPEG_QUALITY, quality])
        q = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE).reshape(q.shape)
    return q.astype(np.float32) / 255


_Fn = Callable[[np.ndarray, np.ndarray, np.random.Generator, float], np.ndarray]
_TABLE: dict[str, tuple[float, _Fn]] = {  # name: (probability at strength 1, transform), in order
    "gradient": (0.5, _gradient), "clahe": (0.3, _clahe), "gamma": (0.5, _gamma),
    "contrast": (0.5, _contrast), "collimation": (0.25, _collimation), "text": (0.3, _text),
    "blur": (0.3, _blur), "noise": (0.6, _noise), "quantise": (0.5, _quantise),
}


def transforms() -> tuple[str, ...]:
    """Names of the transforms, in the order they are applied."""
    return tuple(_TABLE)


@dataclass
class Appearance:
    """Random intensity changes; `strength` (0 off, 1 default, 2 strong) scales probabilities and
    magnitudes, `only` restricts to some of `transforms()`."""

    strength: float = 1.0
    only: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not self.strength >= 0:
            raise ValueError(f"strength must be >= 0, got {self.strength}")
        unknown = set(self.only or ()) - set(_TABLE)
        if unknown:
            raise ValueError(f"unknown transforms {sorted(unknown)}; known: {transforms()}")

    def __call__(self, img: np.ndarray, rng: np.random.Generator, *,
                 content: np.ndarray | None = None) -> np.ndarray:
        out = np.array(img, dtype=np.float32, copy=True)
        if self.strength == 0:
            return out
        content = np.ones(out.shape, bool) if content is None else np.asarray(content, dtype=bool)
        if content.shape != out.shape:
            raise ValueError(f"content shape {content.shape} != image shape {out.shape}")
        rows, cols = np.flatnonzero(content.any(1)), np.flatnonzero(content.any(0))
        if rows.size == 0:
            return np.zeros_like(out)
        box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))  # work on the image only
        sub, mask = out[box], content[box]
        for name, (p, fn) in _TABLE.items():
            if self.only is not None and name not in self.only:
                continue
            if rng.random() < min(1.0, p * self.strength):
                sub = np.clip(fn(sub, mask, rng, float(self.strength)), 0, 1).astype(np.float32)
        out[box] = sub
        out[~content] = 0
        return out
