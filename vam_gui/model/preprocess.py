"""From a radiograph's pixels to the network's input tensor, by the recipe in the config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from vam_gui.core.grey import luminance
from vam_gui.core.letterbox import Letterbox, letterbox_image
from vam_gui.model.config import ModelConfig


def grayscale(pixels: np.ndarray) -> np.ndarray:
    """A radiograph-like array as [H, W]: colour (H, W, 3|4, BGR order) becomes luminance."""
    arr = np.asarray(pixels)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = luminance(arr, "BGR")
    if arr.ndim != 2:
        raise ValueError(f"expected a grayscale [H, W] image, got shape {arr.shape}")
    return arr


def mean_std(recipe: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The per-channel mean and std of a preprocessing recipe (a checkpoint's config), as
    [3, 1, 1] tensors: the one place training and inference read them."""
    return (torch.tensor(recipe["mean"], dtype=torch.float32).view(3, 1, 1),
            torch.tensor(recipe["std"], dtype=torch.float32).view(3, 1, 1))


def normalise(img01: np.ndarray | torch.Tensor, config: ModelConfig) -> torch.Tensor:
    """[S, S] image in [0, 1] (or [B, S, S]) -> ImageNet-normalised [3, S, S] (or [B, 3, S, S])."""
    t = torch.as_tensor(img01, dtype=torch.float32)
    mean, std = mean_std(config.preprocessing)
    return (t.unsqueeze(-3) - mean) / std


def prepare(pixels: np.ndarray, config: ModelConfig, *, crop: tuple[float, float, float, float] | None = None,
            low_pct: float | None = None, high_pct: float | None = None) -> tuple[torch.Tensor, Letterbox]:
    """Grayscale pixels -> ([3, H, W] input tensor, letterbox); ``crop`` (pixel edges in
    original px) fits only that region (the second prediction pass)."""
    pre = config.preprocessing
    img01, box = letterbox_image(grayscale(pixels), config.input_hw, crop=crop,
                                 low_pct=float(pre["low_pct"] if low_pct is None else low_pct),
                                 high_pct=float(pre["high_pct"] if high_pct is None else high_pct))
    return normalise(img01, config), box
