"""Stable per-study pseudonyms for exported names and ids (de-identification).

An exported file never carries an image's real id (for DICOMs ``"uid:" + SOPInstanceUID``)
nor its original file name, which often holds the patient's name or id. The pseudonym of
an image is a hash of the study's random uid and the image id: stable across exports of
one study (so exports can be compared and re-imported into it), unlinkable across studies.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath

IMAGE_PREFIX = "img-"
STUDY_PREFIX = "study-"
_DIGITS = 12  # 48 bits: a collision within one study is beyond reach


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        # length-prefixed so that ("ab", "c") and ("a", "bc") differ
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(4, "big") + data)
    return h.hexdigest()


def image_pseudonym(study_uid: str, image_id: str) -> str:
    """``img-`` + 12 hex digits, the same for the same image of the same study."""
    return IMAGE_PREFIX + hashlib.sha256((study_uid + image_id).encode("utf-8")).hexdigest()[:_DIGITS]


def study_pseudonym(study_uid: str) -> str:
    return STUDY_PREFIX + _digest("study", study_uid)[:_DIGITS]


def content_key(salt: str, content_hash: str) -> str:
    """A salted hash of an image file's SHA-256. It lets labels exported under pseudonyms
    find the same image files again in another study (whoever imports them has the files
    and recomputes the key); without the file it reveals nothing."""
    return _digest("content", salt, content_hash)[:32]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(name: str) -> str:
    """A file-name stem usable as a dataset item id on every file system."""
    stem = _UNSAFE.sub("_", PurePosixPath(name).stem).strip("._")
    return stem or "image"


class Namer:
    """Exported ids and file names of a study's images: pseudonyms by default, the original
    file names when ``keep_names`` (ids stay pseudonyms either way)."""

    def __init__(self, study_uid: str, *, keep_names: bool = False, file_names: dict[str, str] | None = None) -> None:
        self.study_uid = study_uid
        self.keep_names = keep_names
        # image id -> the name of the image copy written beside the labels (export.images)
        self.file_names = dict(file_names or {})
        self.study = study_pseudonym(study_uid)
        self._stems: dict[str, str] = {}
        self._taken: set[str] = set()

    def image_id(self, image_id: str) -> str:
        return image_pseudonym(self.study_uid, image_id)

    def file_name(self, image_id: str, rel_path: str) -> str:
        """The name written in a label file's ``file`` field."""
        name = PurePosixPath(rel_path).name
        if self.keep_names:
            return name
        if image_id in self.file_names:
            return self.file_names[image_id]
        return self.image_id(image_id) + PurePosixPath(name).suffix.lower()

    def item_id(self, image_id: str, rel_path: str) -> str:
        """A unique, file-system-safe id for a dataset item (its PNG and NPZ names)."""
        if image_id in self._stems:
            return self._stems[image_id]
        pseudo = self.image_id(image_id)
        if self.keep_names:
            item = safe_stem(rel_path)
            if item in self._taken:  # two images named alike in different folders
                item = f"{item}-{pseudo}"
        else:
            item = pseudo
        self._stems[image_id] = item
        self._taken.add(item)
        return item
