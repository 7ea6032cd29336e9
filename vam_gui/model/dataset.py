"""VamDataset: a torch Dataset over a training-dataset folder (see ``vam_gui.io.dataset``)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from vam_gui.core.schema import Schema
from vam_gui.io.dataset import DatasetError, entry_arrays, read_manifest
from vam_gui.model.config import IMAGENET_MEAN, IMAGENET_STD


def split_of(entry: dict, val_fraction: float) -> str:
    """The item's split: as written in the manifest, else a stable hash of its id."""
    if entry.get("split"):
        return entry["split"]
    h = int(hashlib.sha1(entry["id"].encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if h < val_fraction else "train"


class VamDataset(Dataset):
    """Items: ``image`` [3, S, S] (ImageNet-normalised), ``targets`` [K, S, S] (read from the
    npz, or regenerated with ``sigma`` when given or when the files are absent), ``xy`` [K, 2]
    model px (0 where missing), ``visible`` [K], ``mm_per_px`` (mm per model px, NaN when
    unknown), ``letterbox`` (dict), ``index``.

    ``augment(image01 [S, S] float32, xy [K, 2], visible [K], rng)`` may transform an item
    before normalisation; the targets are then regenerated from the moved points.
    """

    def __init__(self, folder: str | os.PathLike, *, split: str | None = None, val_fraction: float = 0.1,
                 with_targets: bool = True, sigma: float | None = None, augment=None, seed: int = 0,
                 size: int | None = None):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.schema = Schema.from_dict(self.manifest["schema"], source=f"{self.folder}/manifest.json")
        self.stored_size = int(self.manifest["size"])
        # Training at another S resamples the square: same letterbox, scaled by r.
        self.size = int(size or self.stored_size)
        self.ratio = self.size / self.stored_size
        self.sigma = float(sigma if sigma is not None else self.manifest["sigma"])
        self._regenerate = (sigma is not None and float(sigma) != float(self.manifest["sigma"])) \
            or self.size != self.stored_size
        items = self.manifest["items"]
        self.entries = [e for e in items if split is None or split_of(e, val_fraction) == split]
        self.with_targets = with_targets
        self.augment = augment
        self.seed = seed
        self.epoch = 0  # set by the trainer so augmentation differs per epoch
        self._mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.entries)

    def read_image01(self, index: int) -> np.ndarray:
        import cv2

        entry = self.entries[index]
        path = self.folder / entry["image"]
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None or img.shape != (self.stored_size, self.stored_size):
            raise DatasetError(f"{path}: missing or not a {self.stored_size}x{self.stored_size} image")
        img = img.astype(np.float32) * (1.0 / 65535.0)
        if self.size != self.stored_size:
            interp = cv2.INTER_AREA if self.size < self.stored_size else cv2.INTER_LINEAR
            img = cv2.resize(img, (self.size, self.size), interpolation=interp)
        return img

    def __getitem__(self, index: int) -> dict:
        from vam_gui.model.targets import gaussian_heatmaps

        entry = self.entries[index]
        k = self.schema.k
        xy, visible, box = entry_arrays(entry, k)
        if self.size != self.stored_size:
            xy = (xy + 0.5) * self.ratio - 0.5
            box = box.rescaled(self.size)
        img = self.read_image01(index)
        moved = False
        if self.augment is not None:
            rng = np.random.default_rng([self.seed, self.epoch, index])
            img, xy, visible = self.augment(img, xy, visible, rng)
            moved = True
        xy = np.where(np.isfinite(xy), xy, 0.0).astype(np.float32)
        image = (torch.from_numpy(np.ascontiguousarray(img)).unsqueeze(0) - self._mean) / self._std
        item = {
            "image": image,
            "xy": torch.from_numpy(xy),
            "visible": torch.from_numpy(visible.astype(bool)),
            "mm_per_px": torch.tensor(float(entry["mm_per_model_px"]) / self.ratio
                                      if entry.get("mm_per_model_px") else float("nan")),
            "letterbox": box.to_dict(),
            "index": index,
        }
        if self.with_targets:
            target_file = self.folder / entry["targets"]
            if moved or self._regenerate or not target_file.is_file():
                item["targets"] = gaussian_heatmaps(item["xy"][None], self.size, sigma=self.sigma,
                                                    visible=item["visible"][None])[0]
            else:
                with np.load(target_file) as data:
                    item["targets"] = torch.from_numpy(data["targets"].astype(np.float32))
        return item


def collate(items: list[dict]) -> dict:
    """Stack tensors; keep letterboxes as a list of dicts."""
    out: dict = {}
    for key in items[0]:
        values = [it[key] for it in items]
        out[key] = torch.stack(values) if isinstance(values[0], torch.Tensor) else values
    return out
