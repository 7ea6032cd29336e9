"""Appearance above difficulty 1: what lies in the film besides the patient -- a ruler, lead
skin markers and the L / R marker, burned-in text -- and :func:`overlays`, which draws them and
the surgical hardware over the normalised image (never moving a landmark).

Every draw comes from the extras' stream; the text is returned separately and applied by
:func:`burn_in` after the noise (it is crisp: written onto the image, not exposed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vam_gui.synth.anatomy import Level
from vam_gui.synth.dice import Dice
from vam_gui.synth.hardware import Scene, draw_hardware
from vam_gui.synth.projection import Projection
from vam_gui.synth.raster import ONE, SUB_BITS, cv_points, mask, paint, rect


def _ruler(img: np.ndarray, px_mm: float, blur: float, rng: np.random.Generator, info: dict[str, Any]) -> None:
    """A faint strip along one side with opaque mm ticks and cm numbers, to scale (``px_mm``)."""
    import cv2

    H, W = img.shape
    strip = float(rng.uniform(18.0, 30.0)) * px_mm
    left = rng.random() < 0.5
    x0 = float(rng.uniform(0.01, 0.06)) * W
    x0 = x0 if left else W - 1 - x0 - strip
    y_top = float(rng.uniform(-0.1, 0.15)) * H
    y_bot = H * float(rng.uniform(0.9, 1.1))
    body = np.array([[x0, y_top], [x0 + strip, y_top], [x0 + strip, y_bot], [x0, y_bot]])
    img += 0.06 * float(rng.uniform(0.5, 1.5)) * (
        mask(img.shape, lambda L: cv2.fillPoly(L, [cv_points(body)], 255, cv2.LINE_AA, SUB_BITS), blur))
    edge = x0 if left else x0 + strip  # the ticks start at the outer edge
    sgn = 1.0 if left else -1.0
    cm0 = int(rng.integers(0, 30))
    th = max(1, round(0.6 * px_mm))
    lines, labels = [], []
    n_mm = int((y_bot - y_top) / px_mm)
    for mm in range(0, n_mm, 5):
        y = y_top + mm * px_mm
        if y < 0 or y > H - 1:
            continue
        tick = 0.25 if mm % 10 else (0.75 if mm % 50 == 0 else 0.45)
        lines.append(np.array([[edge, y], [edge + sgn * tick * strip, y]]))
        if mm % 50 == 0:
            labels.append((str(cm0 + mm // 10), y))
    font_scale = 0.3 * strip / 22.0

    def draw(L: np.ndarray) -> None:
        cv2.polylines(L, [cv_points(ln) for ln in lines], False, 255, th, cv2.LINE_AA, SUB_BITS)
        for text, y in labels:
            (tw, tht), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
            tx = x0 + 0.5 * strip - 0.5 * tw
            cv2.putText(L, text, (int(tx), int(y + tht + 3 * th)), cv2.FONT_HERSHEY_SIMPLEX,
                        font_scale, 255, th, cv2.LINE_AA)

    paint(img, draw, float(rng.uniform(0.85, 0.97)), blur)
    info["ruler"] = "left" if left else "right"


def _markers(img: np.ndarray, lat: bool, px_mm: float, blur: float, rng: np.random.Generator,
             info: dict[str, Any]) -> None:
    """Lead skin markers (BBs, small squares) and the radiographer's lead L / R marker."""
    import cv2

    H, W = img.shape
    n = int(rng.integers(0, 5))
    shapes = []
    for _ in range(n):
        c = np.array([float(rng.uniform(0.1, 0.9)) * W, float(rng.uniform(0.05, 0.95)) * H])
        size = float(rng.uniform(2.0, 7.0)) * px_mm
        if rng.random() < 0.5:
            shapes.append(("circle", c, size, rng.random() < 0.7))
        else:
            shapes.append(("square", c, size, rng.random() < 0.5))

    def draw(L: np.ndarray) -> None:
        for kind, c, size, filled in shapes:
            t = -1 if filled else max(1, round(0.25 * size))
            if kind == "circle":
                cv2.circle(L, tuple(int(v) for v in np.round(c * ONE)), round(0.5 * size * ONE),
                           255, t, cv2.LINE_AA, SUB_BITS)
            else:
                sq = rect(c, np.array([1.0, 0.0]), 0.5 * size, 0.5 * size)
                if filled:
                    cv2.fillPoly(L, [cv_points(sq)], 255, cv2.LINE_AA, SUB_BITS)
                else:
                    cv2.polylines(L, [cv_points(sq)], True, 255, t, cv2.LINE_AA, SUB_BITS)

    if shapes:
        paint(img, draw, float(rng.uniform(0.88, 1.0)), blur)
    side = None
    if rng.random() < 0.75:
        side = "R" if rng.random() < 0.5 else "L"
        on_left = (side == "R") if not lat else rng.random() < 0.5  # AP: patient right on the left
        size = float(rng.uniform(12.0, 22.0)) * px_mm
        fs = size / 30.0
        (tw, tht), _ = cv2.getTextSize(side, cv2.FONT_HERSHEY_DUPLEX, fs, 2)
        x0 = float(rng.uniform(0.04, 0.12)) * W
        x0 = x0 if on_left else W - x0 - tw
        y0 = float(rng.uniform(0.04, 0.3)) * H + tht
        boxed = rng.random() < 0.5
        th = max(1, round(size / 9.0))

        def draw_lr(L: np.ndarray) -> None:
            cv2.putText(L, side, (int(x0), int(y0)), cv2.FONT_HERSHEY_DUPLEX, fs, 255, th, cv2.LINE_AA)
            if boxed:
                pad = 0.25 * tht
                cv2.rectangle(L, (int(x0 - pad), int(y0 - tht - pad)), (int(x0 + tw + pad), int(y0 + pad)),
                              255, max(1, th // 2), cv2.LINE_AA)

        paint(img, draw_lr, float(rng.uniform(0.9, 1.0)), blur)
    info.update(skin_markers=n, lead_marker=side)


_WORDS = ("STANDING", "ERECT", "WEIGHT BEARING", "PA", "AP", "FULL SPINE", "SCOLIOSIS", "LONG LEG")


def _text(shape: tuple[int, int], lat: bool, rng: np.random.Generator, info: dict[str, Any]) -> np.ndarray:
    """Alpha mask of burned-in annotations (crisp: drawn after the acquisition blur)."""
    import cv2

    H, W = shape
    layer = np.zeros(shape, dtype=np.uint8)
    items = []
    if rng.random() < 0.8:
        y, mo, dd = int(rng.integers(2005, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        hh, mi = int(rng.integers(7, 19)), int(rng.integers(0, 60))
        items.append(f"{y}-{mo:02d}-{dd:02d}" if rng.random() < 0.5
                     else f"{dd:02d}/{mo:02d}/{y} {hh:02d}:{mi:02d}")
    if rng.random() < 0.6:
        items.append("STANDING" if rng.random() < 0.5 else str(_WORDS[int(rng.integers(0, len(_WORDS)))]))
    if rng.random() < 0.5:
        items.append(("LAT" if lat else "AP") if rng.random() < 0.7 else ("L" if rng.random() < 0.5 else "R"))
    corners = [(0, 0), (1, 0), (0, 1), (1, 1)]
    rng.shuffle(corners)
    fonts = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_PLAIN)
    font = fonts[int(rng.integers(0, 3))]
    for j, text in enumerate(items):
        height = float(rng.uniform(0.012, 0.03)) * H * (2.0 if len(text) <= 3 else 1.0)
        (tw1, th1), _ = cv2.getTextSize(text, font, 1.0, 2)
        fs = min(height / max(th1, 1), 0.45 * W / max(tw1, 1))
        thick = max(1, round(fs * 1.5))
        (tw, tht), base = cv2.getTextSize(text, font, fs, thick)
        cx, cy = corners[j % 4]
        x = int(0.02 * W) if cx == 0 else int(W - 0.02 * W - tw - thick)
        y = int(0.02 * H + tht) if cy == 0 else int(H - 0.02 * H - base)
        y += int(rng.integers(0, max(1, int(0.03 * H)))) * (1 if cy == 0 else -1)
        cv2.putText(layer, text, (x, y), font, fs, 255, thick, cv2.LINE_AA)
    info["text"] = items
    return layer.astype(np.float32) * (1.0 / 255.0)


def overlays(img: np.ndarray, levels: list[Level], proj: Projection, *, lat: bool, blur: float,
             dice: Dice) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw hardware, ruler and markers into the normalised [0, 1] image (in place) and return
    it with the alpha mask of the burned-in text (or None) for :func:`burn_in`.

    ``blur``: the acquisition blur (objects in the film are as sharp as the anatomy).
    """
    x, rng, info = dice.x, dice.xrng, dice.extras
    px_mm = 1.0 / proj.spacing
    mm_c = px_mm / max(proj.scale, 1e-6)
    if rng.random() < 0.8 * x:
        draw_hardware(img, Scene(levels=levels, l2i=proj.to_image, lat=lat, px_mm=px_mm, mm_c=mm_c,
                                 blur=blur, rng=rng, info=info))
    if rng.random() < 0.5 * x:
        _ruler(img, px_mm, blur, rng, info)
    if rng.random() < 0.8 * x:
        _markers(img, lat, px_mm, blur, rng, info)
    text = _text(img.shape, lat, rng, info) if rng.random() < 0.85 * x else None
    np.clip(img, 0.0, 1.0, out=img)
    return img, text


def burn_in(img: np.ndarray, text: np.ndarray | None) -> np.ndarray:
    """Apply burned-in text (white) on the final [0, 1] image."""
    if text is not None:
        img += text * (1.0 - img)
    return img
