"""VamDataset: a torch Dataset over a training-dataset folder (see ``vam_gui.io.dataset``)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from vam_gui.core.letterbox import Letterbox, size_hw
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing
from vam_gui.io.dataset import DatasetError, entry_arrays, read_manifest
from vam_gui.model.config import default_preprocessing
from vam_gui.model.preprocess import mean_std


def split_of(entry: dict, val_fraction: float) -> str:
    """The item's split: as written in the manifest, else a stable hash of its id."""
    if entry.get("split"):
        return entry["split"]
    h = int(hashlib.sha1(entry["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


class VamDataset(Dataset):
    """Items: ``image`` [3, H, W] (ImageNet-normalised), ``targets`` [K, H, W] (read from the
    npz when the sample is the stored square itself, else regenerated with ``sigma``),
    ``xy`` [K, 2] model px (0 where missing), ``visible`` [K], ``mm_per_px`` (mm per model px,
    NaN when unknown), ``letterbox`` (dict: original px -> model px), ``index``.

    ``size`` (S or (H, W); default the stored S) is the model input. Each sample is cut from
    the stored letterboxed image with one affine map: stored px -> original px -> the view's
    letterbox (the whole film, or a crop chosen by ``views``) -> ``augment``'s geometry; then
    ``augment``'s appearance changes. Without ``views`` and ``augment`` the sample is the
    whole film fitted into ``size`` (validation, evaluation).
    """

    def __init__(self, folder: str | os.PathLike, *, split: str | None = None, val_fraction: float = 0.1,
                 with_targets: bool = True, sigma: float | None = None, augment=None, views=None,
                 seed: int = 0, size: int | tuple[int, int] | list[int] | None = None,
                 preprocessing: Mapping[str, Any] | None = None):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.schema = Schema.from_dict(self.manifest["schema"], source=f"{self.folder}/manifest.json")
        self.stored_size = int(self.manifest["size"])
        self.out_hw = size_hw(size or self.stored_size)
        self.size = self.out_hw[0] if self.out_hw[0] == self.out_hw[1] else self.out_hw
        self.sigma = float(sigma if sigma is not None else self.manifest["sigma"])
        self._stored_targets_fit = (sigma is None or float(sigma) == float(self.manifest["sigma"])) \
            and self.out_hw == (self.stored_size, self.stored_size)
        items = self.manifest["items"]
        self.entries = [e for e in items if split is None or split_of(e, val_fraction) == split]
        self.with_targets = with_targets
        self.augment = augment
        self.views = views
        self.seed = seed
        self.epoch = 0  # set by the trainer so augmentation differs per epoch
        # the model's own recipe (its config), as inference reads it
        self._mean, self._std = mean_std(preprocessing or default_preprocessing())

    def __len__(self) -> int:
        return len(self.entries)

    def read_stored(self, index: int) -> np.ndarray:
        """The stored S x S image in [0, 1]."""
        import cv2

        entry = self.entries[index]
        path = self.folder / entry["image"]
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.shape != (self.stored_size, self.stored_size):
            raise DatasetError(f"{path}: missing or not a {self.stored_size}x{self.stored_size} image")
        return img.astype(np.float32) * (1.0 / 65535.0)

    def sample(self, index: int, rng: np.random.Generator | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Letterbox]:
        """(image [H, W] in [0, 1], xy [K, 2] model px, visible [K], view letterbox)."""
        import cv2

        entry = self.entries[index]
        xy_stored, visible, stored = entry_arrays(entry, self.schema.k)
        xy_orig = stored.to_original(xy_stored)
        if self.views is not None and rng is not None:
            view = self.views(xy_orig, visible, stored.height, stored.width, rng)
        else:
            view = Letterbox.fit(stored.height, stored.width, self.out_hw)
        # stored px -> original px -> view px, one 3x3 map
        to_orig = np.linalg.inv(np.vstack([stored.matrix(), [0.0, 0.0, 1.0]]))
        m = np.vstack([view.matrix(), [0.0, 0.0, 1.0]]) @ to_orig
        flip = False
        if self.augment is not None and rng is not None:
            g, flip = self.augment.geometry(rng)
            m = g @ m
        h, w = self.out_hw
        stored_img = self.read_stored(index)
        # Downscaling by more than 2 aliases a bilinear warp: area-resize the source first.
        shrink = float(np.sqrt(abs(np.linalg.det(m[:2, :2]))))
        if shrink < 0.5:
            factor = shrink * 1.5
            side = max(1, int(round(self.stored_size * factor)))
            stored_img = cv2.resize(stored_img, (side, side), interpolation=cv2.INTER_AREA)
            r = side / self.stored_size  # x_small = (x + 0.5) * r - 0.5
            m = m @ np.array([[1 / r, 0.0, 0.5 / r - 0.5], [0.0, 1 / r, 0.5 / r - 0.5], [0.0, 0.0, 1.0]])
        img = cv2.warpAffine(stored_img, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=0.0)
        xy = view.to_model(xy_orig)
        if self.augment is not None and rng is not None:
            xy, visible = self.augment.move_points(xy, visible, g, flip)
            # Image content: inside the stored square's picture and inside the source frame.
            content = (img > 0) & (cv2.warpAffine(np.ones(stored_img.shape, np.uint8), m[:2], (w, h),
                                                  flags=cv2.INTER_NEAREST) > 0)
            img = self.augment.appearance(img, rng, content=content)
        else:
            inside = np.isfinite(xy).all(axis=1) & (xy >= 0).all(axis=1) & (xy[:, 0] <= w - 1) & (xy[:, 1] <= h - 1)
            visible = visible & inside
        return img, xy, visible, view

    def __getitem__(self, index: int) -> dict:
        from vam_gui.model.targets import gaussian_heatmaps

        entry = self.entries[index]
        rng = np.random.default_rng([self.seed, self.epoch, index]) \
            if (self.augment is not None or self.views is not None) else None
        img, xy, visible, view = self.sample(index, rng)
        xy = np.where(np.isfinite(xy), xy, 0.0).astype(np.float32)
        image = (torch.from_numpy(np.ascontiguousarray(img)).unsqueeze(0) - self._mean) / self._std
        spacing = valid_spacing(entry.get("spacing"))  # a hand-edited manifest's spacing is data from a file
        item = {
            "image": image,
            "xy": torch.from_numpy(xy),
            "visible": torch.from_numpy(visible.astype(bool)),
            "mm_per_px": torch.tensor(float(np.mean(spacing)) / view.scale if spacing else float("nan")),
            "letterbox": view.to_dict(),
            "index": index,
        }
        if self.with_targets:
            target_file = self.folder / entry["targets"] if entry.get("targets") else None
            if rng is None and self._stored_targets_fit and target_file is not None and target_file.is_file():
                with np.load(target_file) as data:
                    item["targets"] = torch.from_numpy(data["targets"].astype(np.float32))
            else:
                item["targets"] = gaussian_heatmaps(item["xy"][None], self.out_hw, sigma=self.sigma,
                                                    visible=item["visible"][None])[0]
        return item


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep letterboxes as a list of dicts."""
    out: dict = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out
