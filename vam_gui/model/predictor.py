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

from vam_gui.core.crop import column_crop, vertebral_height
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.core.schema import Schema
from vam_gui.io.files import available_cores
from vam_gui.model.checkpoint import file_digest, load_checkpoint
from vam_gui.model.config import ModelConfig
from vam_gui.model.dark import Discs, dark_decode
from vam_gui.model.preprocess import grayscale, prepare

# The second pass looks for each corner within this many vertebral heights of where the first
# pass put it: several times the first pass's typical error, less than the distance to the
# nearest corner of a neighbouring vertebra across the disc.
SEARCH_RADIUS = 0.2


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when available, else CPU; an explicit CUDA request without CUDA fails clearly."""
    name = str(device).lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA device is available (use --device cpu or auto)")
    return dev


def set_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads for this process: ``threads``, or every available core
    when None (the command line's default; the window passes its ``threads`` setting, 1 by
    default, so a forward pass does not fight the UI for the cores). Returns the count set."""
    n = available_cores() if threads is None else int(threads)
    if n < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    torch.set_num_threads(n)
    return n


def _pixels_of(item) -> np.ndarray:
    pixels = getattr(item, "pixels", item)
    return np.asarray(pixels)


class Predictor:
    """Runs a checkpoint on radiographs, in two passes by default.

    ``checkpoint`` is a checkpoint path or an already built ``(model, config)`` pair.
    Pass 1 letterboxes the whole film into the model input and finds the wanted schema's
    vertebrae; pass 2 (``refine``) predicts again on a crop around them (a margin of
    ``REFINE_MARGIN`` vertebral heights, the crop's aspect matched to the input) at the
    model's full resolution. The points, their heatmaps and the letterbox (crop + fit) of a
    Prediction are those of the pass that produced the points. ``schema``: a subset of the
    network's schema (by keypoint name) to predict, e.g. a lumbar study from a whole-column
    model; default the network's own.

    On CUDA the forward pass runs under autocast (bfloat16 where supported, else float16);
    a CUDA out-of-memory error moves the model to the CPU with a warning and retries.
    """

    def __init__(self, checkpoint: str | os.PathLike | tuple[nn.Module, ModelConfig],
                 device: str | torch.device = "auto", *, keep_heatmaps: bool = True, refine: bool = True,
                 schema: Schema | None = None):
        self.device = resolve_device(device)
        if isinstance(checkpoint, tuple):
            self.model, self.config = checkpoint
            self.model_id = self.config.training.get("model_id", "in-memory")
        else:
            path = Path(checkpoint)
            self.model, self.config = load_checkpoint(path)
            self.model_id = f"{path.stem}:{file_digest(path)}"
        self.network_schema = self.config.get_schema()
        self.keep_heatmaps = keep_heatmaps
        self.refine = refine
        self.schema = schema or self.network_schema
        self.schema.indices_in(self.network_schema)  # a schema it cannot predict fails here
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

    def _pass(self, images: list[np.ndarray], crops: list, schema: Schema,
              priors: list[Prediction] | None = None) -> list[Prediction]:
        """One forward pass over a batch: each image fitted whole (crop None) or cropped;
        the heatmaps of ``schema``'s keypoints kept. With ``priors`` (the first pass's points)
        each peak is looked for only near its prior (``_search_windows``)."""
        prepared = [prepare(img, self.config, crop=crop) for img, crop in zip(images, crops)]
        boxes = [box for _, box in prepared]
        pick = torch.from_numpy(schema.indices_in(self.network_schema))
        # index_select: the same maps as [:, pick], a sixth of its time (0.1 ms, not 0.6-1 ms)
        heatmaps = self._forward(torch.stack([t for t, _ in prepared])).index_select(1, pick)
        search, radii = (None, None) if priors is None else self._search_windows(boxes, priors, schema)
        xy, conf, spread = dark_decode(heatmaps, sigma=self.config.sigma, search=search)
        xy, conf, spread = xy.cpu().numpy(), conf.cpu().numpy(), spread.cpu().numpy()
        maps = heatmaps.to(torch.float16).cpu().numpy() if self.keep_heatmaps else None
        out = []
        for i, box in enumerate(boxes):
            pred = Prediction(xy=box.to_original(xy[i]), confidence=conf[i].astype(np.float32),
                              spread=(spread[i] / box.scale).astype(np.float32), letterbox=box,
                              heatmaps=None if maps is None else maps[i], keypoints=schema.keypoints,
                              model_id=self.model_id)
            if priors is not None:
                # A peak pinned to the edge of its window is the tail of a peak outside it (the
                # crop put that corner on a neighbour): keep the first pass's point there.
                prior = priors[i]
                pinned = np.hypot(*(xy[i] - box.to_model(prior.xy)).T) > radii[i] - 1.0
                pinned &= np.isfinite(prior.xy).all(axis=1)
                pred.xy[pinned] = prior.xy[pinned]
                pred.confidence[pinned] = prior.confidence[pinned]
                pred.spread[pinned] = prior.spread[pinned]
            out.append(pred)
        return out

    def _search_windows(self, boxes: list, priors: list[Prediction], schema: Schema) -> tuple[Discs, list[float]]:
        """(the windows, radius per image in model px): a disc around each prior point of
        ``SEARCH_RADIUS`` vertebral heights (at least 3 sigma). The whole film fixes which
        vertebra is which; the crop only sharpens where its corners are, so a crop that sees
        fewer vertebrae cannot hand a corner to a neighbour."""
        centres, radii = [], []
        for box, prior in zip(boxes, priors):
            centres.append(box.to_model(prior.xy).astype(np.float32))  # [K, 2]
            height = vertebral_height(prior.xy, schema.vertebra_array(), schema.corner_array())
            radii.append(max(SEARCH_RADIUS * (height or 0.0) * box.scale, 3 * self.config.sigma))
        return Discs(np.stack(centres), np.asarray(radii)), radii

    def refine_crop(self, first: Prediction, schema: Schema | None = None) -> tuple[float, float, float, float] | None:
        """The second pass's crop around the first pass's points, or None when it would not
        look closer than the first pass did (the crop is about the whole film)."""
        schema = schema or self.schema
        crop = column_crop(first.xy, schema.vertebra_array(), schema.corner_array(), self.config.input_hw)
        if crop is None:
            return None
        x0, y0, x1, y1 = crop
        box = first.letterbox
        if min(box.out_w / (x1 - x0), box.out_h / (y1 - y0)) < 1.15 * box.scale:
            return None
        return crop

    def crop_heatmaps(self, radiograph_or_array, crop: tuple[float, float, float, float], *,
                      schema: Schema | None = None) -> tuple[torch.Tensor, Letterbox]:
        """The second stage's forward pass alone, on ``crop`` ((x0, y0, x1, y1) pixel edges in
        original px, fitted into the model input as the second pass fits its crop): the
        [K, H, W] float32 heatmaps of ``schema``'s keypoints (model px) and the letterbox that
        maps them to original px. For callers that choose their own search windows (guided
        re-prediction, ``vam_gui.model.guided``) before ``dark_decode``."""
        schema = schema or self.schema
        x0, y0, x1, y1 = (float(v) for v in crop)
        tensor, box = prepare(grayscale(_pixels_of(radiograph_or_array)), self.config, crop=(x0, y0, x1, y1))
        pick = torch.from_numpy(schema.indices_in(self.network_schema))
        return self._forward(tensor[None]).index_select(1, pick)[0], box

    def predict(self, radiograph_or_array, *, schema: Schema | None = None) -> Prediction:
        """One image (a Radiograph or an [H, W] array) -> its Prediction."""
        return self.predict_many([radiograph_or_array], schema=schema)[0]

    def predict_many(self, items: Sequence, *, batch_size: int = 4, schema: Schema | None = None,
                     progress: Callable[[int, int], None] | None = None,
                     cancel: Callable[[], bool] | None = None) -> list[Prediction]:
        """Predict in batches; ``progress(done, total)`` after each batch; stops early
        (returning what is done) when ``cancel()`` turns true. ``schema``: predict these
        keypoints (a subset of the network's; default the predictor's schema)."""
        schema = schema or self.schema
        out: list[Prediction] = []
        total = len(items)
        for start in range(0, total, max(1, batch_size)):
            if cancel is not None and cancel():
                break
            images = [grayscale(_pixels_of(item)) for item in items[start:start + batch_size]]
            preds = self._pass(images, [None] * len(images), schema)
            if self.refine:
                crops = [self.refine_crop(p, schema) for p in preds]
                todo = [i for i, c in enumerate(crops) if c is not None]
                if todo:
                    second = self._pass([images[i] for i in todo], [crops[i] for i in todo], schema,
                                        priors=[preds[i] for i in todo])
                    for i, pred in zip(todo, second):
                        preds[i] = pred
            out.extend(preds)
            if progress is not None:
                progress(len(out), total)
        return out
