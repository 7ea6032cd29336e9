"""Colour -> grey: the one rule every reader and the model's input path follow.

A colour radiograph becomes ITU-R BT.601 luminance (OpenCV's ``cvtColor`` to grey, the
weights 0.299 R + 0.587 G + 0.114 B); a colour image whose channels are identical is read
as its first channel; a grey + alpha image drops the alpha. Each case leaves a warning for
the reader to show. OpenCV is imported only when a colour image needs converting.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

ChannelOrder = Literal["RGB", "BGR"]

# The dtypes cv2.cvtColor takes; others are converted to float32 first.
_CVT_DTYPES = (np.uint8, np.uint16, np.float32)


def channels_equal(colour: np.ndarray) -> bool:
    """Whether the first three channels of [H, W, 3|4] hold the same values."""
    first = colour[:, :, 0]
    return bool(np.array_equal(first, colour[:, :, 1]) and np.array_equal(first, colour[:, :, 2]))


def luminance(colour: np.ndarray, order: ChannelOrder) -> np.ndarray:
    """BT.601 luminance [H, W] of [H, W, 3|4] (alpha ignored) in channel ``order``, by OpenCV:
    uint8 / uint16 stay integers (OpenCV's fixed point), float32 stays float32, anything
    else is converted to float32 first."""
    import cv2

    channels = colour.shape[2] if colour.ndim == 3 else 0
    if channels not in (3, 4):
        raise ValueError(f"expected a colour image [H, W, 3|4], got shape {colour.shape}")
    codes = {("RGB", 3): cv2.COLOR_RGB2GRAY, ("RGB", 4): cv2.COLOR_RGBA2GRAY,
             ("BGR", 3): cv2.COLOR_BGR2GRAY, ("BGR", 4): cv2.COLOR_BGRA2GRAY}
    if colour.dtype not in _CVT_DTYPES:
        colour = colour.astype(np.float32)
    return np.asarray(cv2.cvtColor(np.ascontiguousarray(colour), codes[(order, channels)]))


def to_grey(img: np.ndarray, order: ChannelOrder, warnings: list[str], *,
            what: str = "colour image") -> np.ndarray:
    """[H, W] from [H, W] (returned as is), [H, W, 1|2] or colour [H, W, 3|4]; appends to
    ``warnings`` what was done (``what`` names the source in the messages)."""
    if img.ndim == 2:
        return img
    channels = img.shape[2] if img.ndim == 3 else 0
    if channels not in (1, 2, 3, 4):
        raise ValueError(f"expected [H, W] or [H, W, 1|2|3|4], got shape {img.shape}")
    if channels in (1, 2):
        if channels == 2:
            warnings.append("grey + alpha image: the alpha channel was dropped")
        return np.ascontiguousarray(img[:, :, 0])
    if channels_equal(img):
        warnings.append(f"{what} with identical channels: read as grayscale")
        return np.ascontiguousarray(img[:, :, 0])
    warnings.append(f"{what} converted to grayscale luminance (ITU-R BT.601); "
                    "the colour information was discarded")
    return luminance(img, order)
