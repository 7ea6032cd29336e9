"""COCO keypoints from any tool: one record per image, matched to the study by file name.

The keypoint schema is the category's ``vam_schema`` (our exports), else the one whose
keypoint names or count fit (see ``convert.infer_schema``). A keypoint with v > 0 (labelled,
whether or not COCO calls it occluded) is imported at (x, y); v = 0 is missing. Several
annotations of one image are merged, the first labelled value of each keypoint winning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.io.export.pseudonyms import IMAGE_PREFIX
from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map, infer_schema

if TYPE_CHECKING:
    from vam_gui.io.study import Study


def _categories(doc: dict[str, Any], study: Study, origin: str) -> dict[str, Any]:
    cats = {}
    for cat in doc.get("categories") or []:
        names = cat.get("keypoints") if isinstance(cat, dict) else None
        if not isinstance(names, list) or not names:
            continue
        schema = infer_schema(study.schema, names=[str(n) for n in names], declared=cat.get("vam_schema"))
        index_map(schema, study.schema)  # refuses AP <-> lateral before anything is written
        cats[cat.get("id")] = schema
    if not cats:
        raise LabelImportError(f"{origin}: no category with keypoints (not a COCO keypoints file)")
    return cats


def _read_file(path: Path, study: Study) -> Iterator[LabelRecord]:
    origin = path.name
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        yield LabelRecord(origin, [], error=f"not a readable JSON file ({type(exc).__name__})")
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
            or not isinstance(doc.get("annotations"), list):
        yield LabelRecord(origin, [], error="not a COCO file (no images / annotations lists)")
        return
    cats = _categories(doc, study, origin)
    images = {img.get("id"): img for img in doc["images"] if isinstance(img, dict)}
    files = {key: str(img.get("file_name", "")) for key, img in images.items()}
    info = doc.get("info")
    if not isinstance(info, dict):
        info = {}
    salt = info.get("vam_content_key_salt")
    merged: dict[object, tuple[Any, ...]] = {}  # image id -> (schema, xy, visible)
    errors: dict[object, str] = {}
    for ann in doc["annotations"]:
        if not isinstance(ann, dict) or ann.get("category_id") not in cats:
            continue
        schema = cats[ann["category_id"]]
        flat = ann.get("keypoints")
        img = ann.get("image_id")
        try:
            kp = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
        except (TypeError, ValueError):
            errors[img] = "keypoints are not a list of numbers"
            continue
        if kp.shape[0] != schema.k:
            errors[img] = f"{kp.shape[0]} keypoints, the category names {schema.k}"
            continue
        xy = np.where((kp[:, 2:3] > 0) & np.isfinite(kp[:, :2]), kp[:, :2], np.nan)
        if img in merged and merged[img][0] is schema:
            _, old_xy, old_vis = merged[img]
            take = ~old_vis & np.isfinite(xy).all(axis=1)
            old_xy[take] = xy[take]
            old_vis |= take
        else:
            merged[img] = (schema, xy, np.isfinite(xy).all(axis=1))
    for img, why in errors.items():
        if img not in merged:
            yield LabelRecord(f"{origin}: {files.get(img, img)}", [], error=why)
    for img, (schema, xy, visible) in merged.items():
        name = files.get(img)
        if not name:
            yield LabelRecord(f"{origin}: image {img}", [], error="annotation of an image the file does not list")
            continue
        stem = PurePath(name).stem
        key = images[img].get("vam_content_key")
        yield LabelRecord(f"{origin}: {name}", [name], schema=schema, xy=xy, visible=visible,
                          pseudonym=stem if stem.startswith(IMAGE_PREFIX) else None,
                          content_key=(str(salt), str(key)) if salt and key else None)


def read_coco(paths: Iterable[str | os.PathLike[str]], study: Study) -> Iterator[LabelRecord]:
    """Records from COCO keypoint JSON files (folders: every ``*.json`` in them)."""
    for path in expand(paths, (".json",)):
        yield from _read_file(path, study)
