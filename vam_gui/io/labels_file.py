"""Our labels file, format "vam-gui-labels": the one owner of its layout.

Writers (the JSON export, ``vam-gui synth``) build the document from typed
:class:`LabelEntry` records with :func:`labels_document`; readers (the JSON importer,
``evaluate`` and ``train`` on a folder with ``labels.json``) get them back with
:func:`read_labels_file`, which trusts nothing in the file (importers/strict.py): a
non-finite or non-numeric coordinate, a value of the wrong type, a keypoint named twice or
unknown to the file's schema, a file too large or nested too deep is one LabelImportError
whose ``str()`` is one line naming the file and the record.

Points are in original-image pixels (design.md §2); a point never placed is written with
x = y = null and read back as NaN (and not visible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vam_gui import __version__
from vam_gui.core.annotation import SOURCES, STATUSES
from vam_gui.core.schema import Schema, SchemaError
from vam_gui.core.spacing import spacing_problem

# The strict readers (importers/strict.py, importers/convert.py) are imported where they are
# used: importing them starts the importers package, which imports this module (ours.py) and
# the export package (which imports it too), so at the top they would close a cycle.

FORMAT = "vam-gui-labels"
VERSION = 1
FACINGS = (None, "left", "right")
DEFAULT_SOURCE = "imported"  # a keypoint that names no source


@dataclass
class LabelEntry:
    """One image of a labels file: its points in the file's schema order."""

    id: str | None
    file: str | None
    width: int | None
    height: int | None
    spacing: tuple[float, float] | None  # (dy, dx) mm
    status: str | None
    facing: str | None
    xy: np.ndarray  # [K, 2] float, NaN where never placed (or not named)
    visible: np.ndarray  # [K] bool
    sources: list[str]  # [K]
    confidence: np.ndarray | None = None  # [K] float, NaN where unknown; None: no prediction
    # A study export also writes these (a synthesized file has none of them):
    content_key: str | None = None
    spacing_is_detector: bool = False
    comment: str | None = None
    reviewer: str | None = None
    model: str | None = None
    measurements: dict[str, Any] | None = None
    # Read back only:
    named: np.ndarray | None = None  # [K] bool, the keypoints the file names (all unless partial)
    where: str = ""  # "labels.json: images[3] (spine3.png)", for messages


@dataclass
class ExportOrigin:
    """What a study export says of where its labels come from."""

    study: str  # the study's pseudonym
    selection: dict[str, Any]  # which images were exported
    content_key_salt: str  # content_key = sha256(salt, sha256 of the image file)


@dataclass
class LabelsFile:
    """A labels file as read: its schema and one entry per image, every value checked."""

    path: Path
    version: int
    schema: Schema
    entries: list[LabelEntry]
    study: str | None = None
    content_key_salt: str | None = None

    def image_path(self, entry: LabelEntry) -> Path:
        """The image file of ``entry``, relative to the labels file; a name that leaves its
        folder (absolute, or with ``..``) is refused in one line."""
        from vam_gui.io.importers.convert import LabelImportError
        from vam_gui.io.importers.strict import shown

        if not entry.file:
            raise LabelImportError(f"{entry.where}: the image has no file")
        rel = PurePosixPath(entry.file.replace("\\", "/"))
        if not rel.parts or rel.is_absolute() or ".." in rel.parts or ":" in rel.parts[0]:
            raise LabelImportError(f"{entry.where}: file {shown(entry.file)} lies outside the folder of "
                                   f"{self.path.name}")
        return self.path.parent / rel


def timestamp() -> str:
    """The ``created`` value of a document written now."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- writing


def keypoints_json(schema: Schema, xy: np.ndarray, visible: np.ndarray, sources: Any,
                   confidence: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The ``keypoints`` list of one image (also of a reader's annotation in an export)."""
    finite = math.isfinite
    # whole arrays to Python values first: numpy scalars one at a time were a tenth of an export
    xs, ys = np.asarray(xy, dtype=np.float64)[:, :2].T.tolist()
    shown = np.asarray(visible, dtype=bool).tolist()
    conf = [None] * len(schema.keypoints) if confidence is None else np.asarray(confidence).astype(float).tolist()
    return [{"name": name, "x": x if finite(x) else None, "y": y if finite(y) else None, "visible": v,
             "source": str(s), "confidence": c if c is None or finite(c) else None}
            for name, x, y, v, s, c in zip(schema.keypoints, xs, ys, shown, sources, conf)]


def _keypoints(schema: Schema, entry: LabelEntry) -> list[dict[str, Any]]:
    return keypoints_json(schema, entry.xy, entry.visible, entry.sources, entry.confidence)


def _image(schema: Schema, entry: LabelEntry, exported: bool) -> dict[str, Any]:
    spacing = list(entry.spacing) if entry.spacing is not None else None
    if not exported:
        return {"id": entry.id, "file": entry.file, "width": entry.width, "height": entry.height,
                "spacing": spacing, "status": entry.status, "facing": entry.facing,
                "keypoints": _keypoints(schema, entry)}
    return {
        "id": entry.id, "file": entry.file, "content_key": entry.content_key,
        "width": entry.width, "height": entry.height,
        "spacing": spacing, "spacing_is_detector": entry.spacing_is_detector,
        "status": entry.status, "comment": entry.comment, "reviewer": entry.reviewer,
        "facing": entry.facing, "model": entry.model, "keypoints": _keypoints(schema, entry),
        "measurements": entry.measurements,
    }


def labels_document(schema: Schema, entries: list[LabelEntry], *, origin: ExportOrigin | None = None,
                    created: str | None = None) -> dict[str, Any]:
    """The document (a dict for ``json.dumps``) of ``entries``: a study export when
    ``origin`` is given (with each image's content key, review comment, model and
    measurements), else a synthesized file. The two layouts keep their historic key order,
    so that files written by older versions and by this one are byte for byte the same."""
    created = timestamp() if created is None else created
    images = [_image(schema, e, origin is not None) for e in entries]
    if origin is None:
        return {"format": FORMAT, "version": VERSION, "created": created, "app_version": __version__,
                "schema": schema.to_dict(), "images": images}
    return {
        "format": FORMAT, "version": VERSION, "schema": schema.to_dict(),
        "study": origin.study, "created": created, "app_version": __version__,
        "selection": origin.selection, "content_key_salt": origin.content_key_salt,
        "images": images,
    }


def labels_json(doc: dict[str, Any]) -> bytes:
    """The bytes of a labels file: one top-level key per line and one image per line (compact
    JSON within a line), readable and diffable image by image. Encoded by orjson: at 10,000
    images (68 MB, most of it floats) the standard library's C encoder took 1.7-3 s, orjson
    0.3 s, writing the same values (shortest round-trip digits; ``1e-05`` as ``0.00001``).
    A non-finite float is written as null, as the file writes a point never placed; numpy
    scalars are written as their values."""
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)

    lines = [b" " + dumps(key) + b": " + dumps(value) for key, value in doc.items() if key != "images"]
    images = b",\n".join(b"  " + dumps(image) for image in doc.get("images", []))
    lines.append(b' "images": [\n' + images + b"\n ]" if images else b' "images": []')
    return b"{\n" + b",\n".join(lines) + b"\n}\n"


# --------------------------------------------------------------------------- reading


class NotLabelsFileError(ValueError):
    """A file that is not a labels file at all (not JSON, or another format): an importer
    reports it as skipped; ``reason`` is the message without the file name."""

    def __init__(self, path: Path, reason: str) -> None:
        from vam_gui.io.importers.convert import one_line

        super().__init__(one_line(f"{path.name}: {reason}"))
        self.reason = reason


def _point(kp: Any, where: str) -> tuple[str, float, float, bool, str, float]:
    """(name, x, y, visible, source, confidence) of one keypoint entry; x = y = NaN when
    never placed, confidence NaN when null."""
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.importers.strict import choice, flag, items, number, text

    items(kp, where, "the entry", dict)
    name = text(kp.get("name"), where, "name")
    if name is None:
        raise LabelImportError(f"{where}: the keypoint has no name")
    where = f"{where} ({name!r})"
    raw = kp.get("x"), kp.get("y")
    visible = flag(kp.get("visible"), where, "visible")
    if raw == (None, None):
        if visible:
            raise LabelImportError(f"{where}: visible, but x and y are null")
        x = y = math.nan
    else:
        x, y = number(raw[0], where, "x"), number(raw[1], where, "y")
    source = choice(kp.get("source", DEFAULT_SOURCE), where, "source", SOURCES)
    conf = kp.get("confidence")
    confidence = math.nan if conf is None else number(conf, where, "confidence")
    return name, x, y, visible, source or "", confidence


def _points(raw: Any, schema: Schema, where: str, partial: bool) -> tuple[np.ndarray, ...]:
    """(xy, visible, sources, confidence, named) of an image, in ``schema``'s order."""
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.importers.strict import items, shown

    xy = np.full((schema.k, 2), np.nan)
    visible = np.zeros(schema.k, dtype=bool)
    sources = np.full(schema.k, "", dtype=object)
    confidence = np.full(schema.k, np.nan)
    named = np.zeros(schema.k, dtype=bool)
    index = {name: i for i, name in enumerate(schema.keypoints)}
    for n, kp in enumerate(items(raw, where, "keypoints")):
        name, x, y, vis, src, conf = _point(kp, f"{where}: keypoints[{n}]")
        i = index.get(name, -1)
        if i < 0:
            raise LabelImportError(f"{where}: keypoint {shown(name)} is not in the file's schema {schema.name}")
        if named[i]:
            raise LabelImportError(f"{where}: keypoint {name!r} is given twice")
        named[i] = True
        xy[i], visible[i], sources[i], confidence[i] = (x, y), vis, src, conf
    if not partial and not named.all():
        raise LabelImportError(f"{where}: names {int(named.sum())} of the {schema.k} keypoints of {schema.name}: "
                               "a partial import must be asked for")
    return xy, visible, sources, confidence, named


def _size(value: Any, where: str, field: str) -> int | None:
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.importers.strict import whole

    if value is None:
        return None
    size = whole(value, where, field)
    if size <= 0:
        raise LabelImportError(f"{where}: {field} is {size}, not a positive number of pixels")
    return size


def _spacing(value: Any, where: str) -> tuple[float, float] | None:
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.importers.strict import items, number

    if value is None:
        return None
    if len(items(value, where, "spacing")) != 2:
        raise LabelImportError(f"{where}: spacing must be two numbers (dy, dx), not {len(value)}")
    dy, dx = number(value[0], where, "spacing[0]"), number(value[1], where, "spacing[1]")
    problem = spacing_problem((dy, dx))
    if problem is not None:
        raise LabelImportError(f"{where}: spacing is not a usable pixel spacing ({problem})")
    return dy, dx


def _entry(raw: Any, n: int, schema: Schema, origin: str, partial: bool) -> LabelEntry:
    """One image of the file (the importer's checks, in the importer's order)."""
    from vam_gui.io.importers.strict import choice, flag, items, text

    where = f"{origin}: images[{n}]"
    items(raw, where, "the entry", dict)
    pseudonym = text(raw.get("id"), where, "id")
    file = text(raw.get("file"), where, "file")
    key = text(raw.get("content_key"), where, "content_key")
    where = f"{origin}: images[{n}] ({file or pseudonym or 'no name'})"
    xy, visible, sources, confidence, named = _points(raw.get("keypoints"), schema, where, partial)
    facing = choice(raw.get("facing"), where, "facing", FACINGS)
    status = choice(raw.get("status"), where, "status", (None, *STATUSES))
    comment = text(raw.get("comment"), where, "comment")
    reviewer = text(raw.get("reviewer"), where, "reviewer")
    measurements = raw.get("measurements")
    if measurements is not None:
        items(measurements, where, "measurements", dict)
    return LabelEntry(
        id=pseudonym, file=file, width=_size(raw.get("width"), where, "width"),
        height=_size(raw.get("height"), where, "height"), spacing=_spacing(raw.get("spacing"), where),
        status=status, facing=facing, xy=xy, visible=visible, sources=[str(s) for s in sources],
        confidence=None if np.isnan(confidence).all() else confidence, content_key=key,
        spacing_is_detector=flag(raw.get("spacing_is_detector", False), where, "spacing_is_detector"),
        comment=comment, reviewer=reviewer, model=text(raw.get("model"), where, "model"),
        measurements=measurements, named=named, where=where)


def _schema(doc: dict[str, Any], origin: str) -> tuple[int, Schema]:
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.importers.strict import whole

    version = whole(doc.get("version"), origin, "version")
    if version > VERSION:
        raise LabelImportError(f"{origin}: label format version {version} is newer than this vam-gui")
    raw: Any = doc.get("schema")  # checked by Schema.from_dict, whatever it is
    try:
        return version, Schema.from_dict(raw, source=f"{origin} (schema)")
    except SchemaError as exc:
        raise LabelImportError(f"{origin}: no valid keypoint schema ({exc})") from None


def read_labels_file(path: str | Path, *, partial: bool = False) -> LabelsFile:
    """Every entry of a labels file, each value checked. A file that is not JSON or not of
    this format: NotLabelsFileError; one too large, too deeply nested or with a bad value
    (and, unless ``partial``, an image that names only some keypoints): LabelImportError."""
    from vam_gui.io.importers.strict import items, load_json, text

    path = Path(path)
    origin = path.name
    doc, why = load_json(path)
    if why is not None:
        raise NotLabelsFileError(path, why)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise NotLabelsFileError(path, f"not a {FORMAT} file")
    version, schema = _schema(doc, origin)
    salt = text(doc.get("content_key_salt"), origin, "content_key_salt")
    study = text(doc.get("study"), origin, "study")
    raws = items(doc.get("images"), origin, "images")
    entries = [_entry(raw, n, schema, origin, partial) for n, raw in enumerate(raws)]
    return LabelsFile(path, version, schema, entries, study=study, content_key_salt=salt)
