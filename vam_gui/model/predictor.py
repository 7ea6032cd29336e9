"""Predictor: radiograph in, keypoints in original pixels out (GPU when there is one)."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from vam_gui.core.prediction import Prediction
from vam_gui.model.checkpoint import file_digest, load_checkpoint
from vam_gui.model.config import ModelConfig
from vam_gui.model.dark import dark_decode
from vam_gui.model.preprocess import prepare


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; an explicit CUDA request without CUDA fails clearly."""
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available (use --device cpu or auto)")
    return dev


def _pixels_of(item) -> np.ndarray:
    pixels = getattr(item, "pixels", item)
    return np.asarray(pixels)


class Predictor:
    """Runs a checkpoint on radiographs.

    ``checkpoint`` is a checkpoint path or an already built ``(model, config)`` pair.
    On CUDA the forward pass runs under autocast (bfloat16 where supported, else float16);
    a CUDA out-of-memory error moves the model to the CPU with a warning and retries.
    """

    def __init__(self, checkpoint: str | os.PathLike | tuple[nn.Module, ModelConfig],
                 device: str | torch.device = "auto", *, keep_heatmaps: bool = True):
        self.device = resolve_device(device)
        if isinstance(checkpoint, tuple):
            self.model, self.config = checkpoint
            self.model_id = self.config.training.get("model_id", "in-memory")
        else:
            path = Path(checkpoint)
            self.model, self.config = load_checkpoint(path)
            self.model_id = f"{path.stem}:{file_digest(path)}"
        self.schema = self.config.get_schema()
        self.keep_heatmaps = keep_heatmaps
        self.model.to(self.device).eval()

    # The dtype autocast uses on this device, or None for full precision.
    def _autocast(self):
        if self.device.type != "cuda":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.autocast("cuda", dtype=dtype)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        try:
            with torch.inference_mode(), self._autocast():
                return self.model(batch.to(self.device, non_blocking=True)).float()
        except torch.cuda.OutOfMemoryError:
            warnings.warn("CUDA ran out of memory; continuing on the CPU", RuntimeWarning, stacklevel=3)
            torch.cuda.empty_cache()
            self.device = torch.device("cpu")
            self.model.to(self.device)
            with torch.inference_mode():
                return self.model(batch).float()

    def predict(self, radiograph_or_array) -> Prediction:
        """One image (a Radiograph or an [H, W] array) -> its Prediction."""
        return self.predict_many([radiograph_or_array])[0]

    def predict_many(self, items: Sequence, *, batch_size: int = 4,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> list[Prediction]:
        """Predict in batches; ``progress(done, total)`` after each batch; stops early
        (returning what is done) when ``cancel()`` turns true."""
        out: list[Prediction] = []
        total = len(items)
        for start in range(0, total, max(1, batch_size)):
            if cancel is not None and cancel():
                break
            chunk = items[start:start + batch_size]
            prepared = [prepare(_pixels_of(item), self.config) for item in chunk]
            batch = torch.stack([t for t, _ in prepared])
            heatmaps = self._forward(batch)
            xy, conf, spread = dark_decode(heatmaps, sigma=self.config.sigma)
            xy, conf, spread = xy.cpu().numpy(), conf.cpu().numpy(), spread.cpu().numpy()
            maps = heatmaps.to(torch.float16).cpu().numpy() if self.keep_heatmaps else None
            for i, (_, box) in enumerate(prepared):
                out.append(Prediction(
                    xy=box.to_original(xy[i]),
                    confidence=conf[i].astype(np.float32),
                    spread=(spread[i] / box.scale).astype(np.float32),
                    letterbox=box,
                    heatmaps=None if maps is None else maps[i],
                    keypoints=self.schema.keypoints,
                    model_id=self.model_id,
                ))
            if progress is not None:
                progress(len(out), total)
        return out
