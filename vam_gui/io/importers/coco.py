"""COCO keypoints from any tool: one record per image, matched to the study by file name.

The keypoint schema is the category's ``vam_schema`` (our exports), else the one whose
keypoint names or count fit (see ``convert.infer_schema``; names that are only part of a
schema need ``partial``). A keypoint with v > 0 (labelled, whether or not COCO calls it
occluded) is imported at (x, y); v = 0 is missing. Several annotations of one image are
merged, the first labelled value of each keypoint winning. Every value is checked
(strict.py): x, y and v finite numbers, v one of 0, 1, 2, ids integers or strings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.schema import Schema
from vam_gui.io.export.pseudonyms import IMAGE_PREFIX
from vam_gui.io.importers.common import LabelRecord, expand
from vam_gui.io.importers.convert import LabelImportError, index_map, infer_schema, located
from vam_gui.io.importers.strict import ident, items, load_json, number, shown, text

if TYPE_CHECKING:
    from vam_gui.io.study import Study

_Merged = tuple[Schema, np.ndarray, np.ndarray]  # schema, xy (NaN = missing), visible


def _category(cat: Any, where: str, study: Study, partial: bool) -> Schema | None:
    items(cat, where, "the category", dict)
    if cat.get("keypoints") in (None, []):
        return None  # a category without keypoints (a ruler, a bounding box)
    names = items(cat["keypoints"], where, "keypoints")
    for name in names:
        text(name, where, "a keypoint name")
    try:
        schema = infer_schema(study.schema, names=names, partial=partial,
                              declared=text(cat.get("vam_schema"), where, "vam_schema"))
        index_map(schema, study.schema)  # refuses AP <-> lateral before anything is written
    except LabelImportError as exc:
        raise located(exc, where) from None
    return schema


def _categories(doc: dict[str, Any], study: Study, origin: str, partial: bool) -> dict[int | str, Schema]:
    cats: dict[int | str, Schema] = {}
    for n, cat in enumerate(items(doc.get("categories", []), origin, "categories")):
        where = f"{origin}: categories[{n}]"
        schema = _category(cat, where, study, partial)
        if schema is None:
            continue
        cat_id = ident(cat.get("id"), where, "id")
        if cat_id in cats:
            raise LabelImportError(f"{where}: category id {shown(cat_id)} is given twice")
        cats[cat_id] = schema
    if not cats:
        raise LabelImportError(f"{origin}: no category with keypoints (not a COCO keypoints file)")
    return cats


def _images(doc: dict[str, Any], origin: str) -> dict[int | str, dict[str, Any]]:
    images: dict[int | str, dict[str, Any]] = {}
    for n, img in enumerate(doc["images"]):
        where = f"{origin}: images[{n}]"
        items(img, where, "the entry", dict)
        img_id = ident(img.get("id"), where, "id")
        if img_id in images:
            raise LabelImportError(f"{where}: image id {shown(img_id)} is given twice")
        if not text(img.get("file_name"), where, "file_name"):
            raise LabelImportError(f"{where}: no file_name")
        text(img.get("vam_content_key"), where, "vam_content_key")
        images[img_id] = img
    return images


def _keypoints(flat: Any, schema: Schema, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(xy with NaN where v = 0, visible) of one annotation's flat [x, y, v, ...] list."""
    items(flat, where, "keypoints")
    if len(flat) != 3 * schema.k:
        raise LabelImportError(f"{where}: {len(flat)} keypoint values, the category names {schema.k} "
                               f"keypoints ({3 * schema.k} values)")
    kp = np.array([number(v, where, f"keypoints[{i}]") for i, v in enumerate(flat)]).reshape(-1, 3)
    bad = ~np.isin(kp[:, 2], (0, 1, 2))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise LabelImportError(f"{where}: keypoint {schema.keypoints[i]!r} has v = {kp[i, 2]:g}, not 0, 1 or 2")
    labelled = kp[:, 2] > 0
    return np.where(labelled[:, None], kp[:, :2], np.nan), labelled


def _merge(doc: dict[str, Any], cats: dict[int | str, Schema], images: dict[int | str, dict[str, Any]],
           origin: str) -> dict[int | str, _Merged]:
    merged: dict[int | str, _Merged] = {}
    for n, ann in enumerate(doc["annotations"]):
        where = f"{origin}: annotations[{n}]"
        items(ann, where, "the entry", dict)
        if ident(ann.get("category_id"), where, "category_id") not in cats:
            continue  # another category
        schema = cats[ann["category_id"]]
        img = ident(ann.get("image_id"), where, "image_id")
        if img not in images:
            raise LabelImportError(f"{where}: image_id {shown(img)} is not in the file's images")
        if "id" in ann:
            where = f"{where} (id {shown(ident(ann['id'], where, 'id'))}, {images[img]['file_name']})"
        xy, labelled = _keypoints(ann.get("keypoints"), schema, where)
        if img not in merged:
            merged[img] = (schema, xy, labelled)
        elif merged[img][0] is not schema:
            raise LabelImportError(f"{where}: its image already has annotations of another keypoint category")
        else:
            _, old_xy, old_vis = merged[img]
            take = ~old_vis & labelled
            old_xy[take] = xy[take]
            old_vis |= take
    return merged


def _read_file(path: Path, study: Study, partial: bool) -> Iterator[LabelRecord]:
    origin = path.name
    doc, why = load_json(path)
    if why is not None:
        yield LabelRecord(origin, [], error=why)
        return
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) \
            or not isinstance(doc.get("annotations"), list):
        yield LabelRecord(origin, [], error="not a COCO file (no images / annotations lists)")
        return
    cats = _categories(doc, study, origin, partial)
    images = _images(doc, origin)
    info = items(doc.get("info") or {}, origin, "info", dict)
    salt = text(info.get("vam_content_key_salt"), origin, "info.vam_content_key_salt")
    for img, (schema, xy, visible) in _merge(doc, cats, images, origin).items():
        name = images[img]["file_name"]
        stem = PurePath(name).stem
        key = images[img].get("vam_content_key")
        yield LabelRecord(f"{origin}: {name}", [name], schema=schema, xy=xy, visible=visible,
                          pseudonym=stem if stem.startswith(IMAGE_PREFIX) else None,
                          content_key=(salt, key) if salt and key else None)


def read_coco(paths: Iterable[str | os.PathLike[str]], study: Study, *, partial: bool = False) -> Iterator[LabelRecord]:
    """Records from COCO keypoint JSON files (folders: every ``*.json`` in them)."""
    for path in expand(paths, (".json",)):
        yield from _read_file(path, study, partial)
