"""The training-dataset folder: what exports write and training reads.

Layout (all paths relative to the folder)::

    manifest.json          written last: its presence means the dataset is complete
    images/<id>.png        the letterboxed S x S input, 16-bit: the [0, 1] image x 65535
    targets/<id>.npz       "targets": float16 [K, S, S] Gaussian heatmaps of the labels

The manifest holds the schema, sigma, S, the preprocessing recipe, and per item its
letterbox, keypoints in model and original pixels (null where missing), visibility,
spacing, sources, split and the sha256 of its files. Every file is written under a
temporary name and renamed into place; an exception part-way leaves no manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from vam_gui import __version__
from vam_gui.core.atomic import write_bytes_atomic, write_json_atomic
from vam_gui.core.gaussian import gaussian_windows
from vam_gui.core.letterbox import Letterbox, intensity_recipe, letterbox_image
from vam_gui.core.schema import Schema

FORMAT = "vam-gui-dataset"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class DatasetError(ValueError):
    """A dataset folder that cannot be read."""


@dataclass
class DatasetSource:
    """One labelled radiograph to write: pixels in original resolution, labels in original px."""

    item_id: str  # already de-identified (a pseudonym) unless the caller keeps names
    pixels: np.ndarray  # [H, W]
    xy: np.ndarray  # [K, 2] original pixels (NaN where unknown)
    visible: np.ndarray  # [K] bool
    spacing: tuple[float, float] | None = None
    sources: list[str] = field(default_factory=list)
    split: str | None = None  # "train" / "val" / "test"; None: decided by the reader
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. status, model that predicted


def manifest_recipe() -> dict[str, Any]:
    """What a manifest records of how its images were made: the model input's intensity
    recipe (``core.letterbox``, shared with every checkpoint's config) and the PNG scale.
    The rest of a checkpoint's recipe (channels, ImageNet mean/std) is applied at training."""
    return {**intensity_recipe(), "png_scale": 65535}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _savez_targets(buf: BinaryIO, targets: np.ndarray) -> None:
    """The same file as ``np.savez_compressed(buf, targets=targets)``, faster: deflate level 1
    (the maps are almost all zeros, so level 6 buys little but costs twice the time) and the
    array handed to zlib without the full copy numpy's writer makes for file-like objects."""
    import zipfile

    arr = np.ascontiguousarray(targets)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open("targets.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, np.lib.format.header_data_from_array_1_0(arr))
            f.write(arr.reshape(-1).view(np.uint8).data)


def sparse_targets(xy_model: np.ndarray, visible: np.ndarray, size: int, sigma: float) -> np.ndarray:
    """float16 [K, S, S] Gaussian targets, computed only within +-(ceil(4 sigma) + 1) px of
    each point (design.md §3: a windowed version must reach at least ceil(4 sigma)); beyond,
    the full maps hold < exp(-8) and these hold 0. The window values come from
    ``core.gaussian`` (the same formula as the model's ``gaussian_heatmaps``, in numpy, so
    writing a dataset never imports torch). The zero array is left to the allocator
    (calloc), so untouched pages cost nothing until read."""
    k = len(xy_model)
    out = np.zeros((k, size, size), dtype=np.float16)
    ok = np.asarray(visible, dtype=bool) & np.isfinite(xy_model).all(axis=1)
    if not ok.any():
        return out
    r = int(np.ceil(4 * sigma)) + 1
    idx = np.flatnonzero(ok)
    # far-off points only need to stay far off: clamp before rounding to int
    centre = np.rint(np.clip(xy_model[idx], -4 * r - size, 4 * r + 2 * size)).astype(np.int64)
    local = xy_model[idx] - (centre - r)
    windows = gaussian_windows(local, 2 * r + 1, sigma=sigma, dtype=np.float16)
    for n, i in enumerate(idx):
        x0, y0 = centre[n] - r
        xa, ya = max(x0, 0), max(y0, 0)
        xb, yb = min(x0 + 2 * r + 1, size), min(y0 + 2 * r + 1, size)
        if xa < xb and ya < yb:
            out[i, ya:yb, xa:xb] = windows[n, ya - y0:yb - y0, xa - x0:xb - x0]
    return out


def encode_item(src: DatasetSource, schema: Schema, *, size: int, sigma: float,
                preprocessing: dict[str, Any] | None = None,
                targets: bool = True) -> tuple[bytes, bytes | None, dict[str, Any]]:
    """(PNG bytes, NPZ bytes or None without ``targets``, manifest entry) for one source;
    pure, no files touched."""
    import io

    import cv2

    pre = preprocessing or manifest_recipe()
    img01, box = letterbox_image(src.pixels, size, low_pct=pre["low_pct"], high_pct=pre["high_pct"])
    png_ok, png = cv2.imencode(".png", np.rint(img01 * 65535).astype(np.uint16))
    if not png_ok:
        raise OSError(f"could not encode the image of {src.item_id}")
    xy = np.asarray(src.xy, dtype=np.float64).reshape(schema.k, 2)
    visible = np.asarray(src.visible, dtype=bool).reshape(schema.k) & np.isfinite(xy).all(axis=1)
    xy_model = box.to_model(xy)
    npz = None
    if targets:
        buf = io.BytesIO()
        _savez_targets(buf, sparse_targets(xy_model, visible, size, sigma))
        npz = buf.getvalue()
    png_bytes = png.tobytes()

    def pts(a: np.ndarray) -> list[Any]:
        return [[round(float(x), 4), round(float(y), 4)] if v else None for (x, y), v in zip(a, visible)]

    mm_per_model_px = None
    if src.spacing is not None:
        # one model pixel spans 1/s original pixels; report the mean of dy and dx
        mm_per_model_px = float(np.mean(src.spacing) / box.scale)
    entry = {
        "id": src.item_id,
        "image": f"images/{src.item_id}.png",
        "targets": f"targets/{src.item_id}.npz" if npz is not None else None,
        "letterbox": box.to_dict(),
        "xy_model": pts(xy_model),
        "xy_original": pts(xy),
        "visible": [bool(v) for v in visible],
        "spacing": list(src.spacing) if src.spacing is not None else None,
        "mm_per_model_px": mm_per_model_px,
        "sources": list(src.sources) if src.sources else [],
        "split": src.split,
        "sha256": {"image": _sha256(png_bytes), **({"targets": _sha256(npz)} if npz is not None else {})},
        **src.extra,
    }
    return png_bytes, npz, entry


def write_dataset(
    sources: Iterable[DatasetSource],
    out_dir: str | os.PathLike[str],
    schema: Schema,
    *,
    size: int = 512,
    sigma: float = 2.0,
    total: int | None = None,
    info: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    workers: int = 1,
    targets: bool = True,
) -> Path:
    """Write a dataset folder; returns the manifest path. ``info`` adds top-level manifest
    fields (the model that predicted, counts, ...); it is read only after the last source
    has been consumed, so the caller may fill it while ``sources`` is iterated. Without
    ``targets`` no npz is written (training regenerates them from the points). The manifest
    is written last and only when every item is on disk, so a failed or cancelled export
    never looks complete."""
    from concurrent.futures import ThreadPoolExecutor

    if size % 32 or size <= 0:
        raise ValueError(f"S must be a positive multiple of 32, got {size}")
    out = Path(out_dir)
    (out / "images").mkdir(parents=True, exist_ok=True)
    if targets:
        (out / "targets").mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    if manifest_path.exists():
        manifest_path.unlink()  # the folder is being rewritten: it is incomplete until the end
    entries: list[dict[str, Any]] = []
    pre = manifest_recipe()

    def encode(src: DatasetSource) -> dict[str, Any]:
        png, npz, entry = encode_item(src, schema, size=size, sigma=sigma, preprocessing=pre, targets=targets)
        write_bytes_atomic(out / entry["image"], png)
        if npz is not None:
            write_bytes_atomic(out / entry["targets"], npz)
        return entry

    # OpenCV, zlib and torch release the GIL, so threads overlap the heavy parts.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending = []
        for src in sources:
            if cancel is not None and cancel():
                raise InterruptedError("export cancelled")
            pending.append(pool.submit(encode, src))
            if len(pending) >= 2 * max(1, workers):
                entries.append(pending.pop(0).result())
                if progress is not None:
                    progress(len(entries), total or 0)
        for fut in pending:
            entries.append(fut.result())
            if progress is not None:
                progress(len(entries), total or 0)
    manifest = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "app_version": __version__,
        "schema": schema.to_dict(),
        "size": size,
        "sigma": sigma,
        "preprocessing": pre,
        "count": len(entries),
        **(info or {}),
        "items": entries,
    }
    write_json_atomic(manifest_path, manifest, indent=1)
    return manifest_path


def read_manifest(folder: str | os.PathLike[str]) -> dict[str, Any]:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise DatasetError(f"{folder}: no {MANIFEST} (not a dataset, or an incomplete export)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable manifest ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a vam-gui dataset manifest")
    if manifest.get("version", 0) > FORMAT_VERSION:
        raise DatasetError(f"{path}: dataset format {manifest['version']} is newer than this vam-gui")
    out: dict[str, Any] = manifest
    return out


def entry_arrays(entry: dict[str, Any], k: int) -> tuple[np.ndarray, np.ndarray, Letterbox]:
    """(xy_model [K, 2] with NaN for missing, visible [K], letterbox) of a manifest item."""
    xy = np.full((k, 2), np.nan)
    for i, p in enumerate(entry["xy_model"]):
        if p is not None:
            xy[i] = p
    return xy, np.asarray(entry["visible"], dtype=bool), Letterbox.from_dict(entry["letterbox"])
