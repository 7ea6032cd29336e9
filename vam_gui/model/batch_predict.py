"""Batch prediction over files, as run by ``vam-gui predict`` (and a cluster's job array)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from vam_gui import __version__
from vam_gui.io.files import files_in

# Suffixes a folder is searched for; explicitly named files are tried whatever their suffix.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".dcm", ".dicom"}


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given plus the images found (recursively) in folders; sorted, no duplicates."""
    found: set[Path] = set()
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found.update(files_in(path, accept=lambda p: p.suffix.lower() in IMAGE_SUFFIXES, hidden=True))
        else:
            found.add(path)
    return sorted(found, key=lambda p: str(p))


def parse_shard(text: str) -> tuple[int, int]:
    """"i/n" (i 0-based) -> (i, n)."""
    try:
        i_text, n_text = text.split("/")
        i, n = int(i_text), int(n_text)
    except ValueError:
        raise ValueError(f"--shard must look like i/n (e.g. 0/4), got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard {text}: need n >= 1 and 0 <= i < n")
    return i, n


def select_shard(files: Sequence[Path], shard: tuple[int, int] | None) -> list[Path]:
    """Every n-th file of the sorted list, starting at i: shards are disjoint and cover all."""
    if shard is None:
        return list(files)
    i, n = shard
    return list(files[i::n])


def predict_files(
    files: Sequence[Path],
    predictor,
    *,
    batch_size: int = 4,
    keep_names: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict, dict]:
    """Predict every file; unreadable files are listed under "errors", never fatal.

    Returns (result, key). Like every export, the result is pseudonymous unless ``keep_names``:
    each image and error carries an ``id`` (``img-`` + 12 hex digits, from a random salt of
    this run) instead of its path and SOP Instance UID, and ``key`` maps each id to its file
    and image id, to be written apart from the result (so a shard's results can be matched
    back to the files by whoever holds the key). With ``keep_names`` the result holds the
    paths and ids as before and the key is empty."""
    import secrets

    from vam_gui.io import RadiographError, load_radiograph
    from vam_gui.io.export.pseudonyms import image_pseudonym

    salt = secrets.token_hex(16)
    key: dict[str, dict] = {}

    def named(path: Path, image_id: str | None) -> dict:
        if keep_names:
            return {"file": str(path), **({"image_id": image_id} if image_id is not None else {})}
        pseudonym = image_pseudonym(salt, str(path))
        key[pseudonym] = {"file": str(path), "image_id": image_id}
        return {"id": pseudonym}

    images: list[dict] = []
    errors: list[dict] = []
    done = 0
    for start in range(0, len(files), batch_size):
        chunk = []
        for path in files[start:start + batch_size]:
            try:
                chunk.append((path, load_radiograph(path)))
            except RadiographError as exc:
                errors.append({**named(path, None), "reason": exc.reason})
        if chunk:
            preds = predictor.predict_many([r for _, r in chunk], batch_size=batch_size)
            for (path, rad), pred in zip(chunk, preds):
                entry = pred.to_dict()
                entry.pop("model", None)
                images.append({
                    **named(path, rad.image_id),
                    "width": int(rad.pixels.shape[1]),
                    "height": int(rad.pixels.shape[0]),
                    "spacing": list(rad.spacing) if rad.spacing else None,
                    "warnings": list(rad.warnings),
                    **entry,
                })
        done += len(files[start:start + batch_size])
        if progress is not None:
            progress(done, len(files))
    return {
        "format": "vam-gui-predictions",
        "pseudonymous": not keep_names,
        "version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "schema": predictor.schema.name,
        "keypoint_names": list(predictor.schema.keypoints),
        "model": predictor.model_id,
        "device": str(predictor.device),
        "coordinates": "original image pixels; pixel (row i, column j) has its centre at x = j, y = i",
        "images": images,
        "errors": errors,
    }, key
