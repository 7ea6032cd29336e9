"""A study's DICOM attributes (format 6 on): patient / study / series / view per image, and
whether the worklist shows them or pseudonyms.

The ``image_dicom`` table holds, per DICOM image, a JSON object (DICOM keyword -> text,
io/dicom_tags.IDENTITY_KEYWORDS) written when the image is added. Any other image has no row,
nor has a DICOM image of a study migrated from format 5: its header is read when the image is
next loaded (``load_radiograph``), not by the migration (thousands of headers are not cheap).
``ImageInfo.dicom`` is that object, or None.

``hide_identifiers`` (meta key, default on: a study may be shown on a screen others see) makes
the worklist show :func:`patient_pseudonym`, :func:`group_pseudonym` in place of names, dates,
descriptions and UIDs. A read-only study keeps its stored setting; changing it there is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

from vam_gui.io.study_base import StudyConnection
from vam_gui.io.study_db import DICOM_FROM

if TYPE_CHECKING:
    from vam_gui.core.radiograph import Radiograph

__all__ = ["HIDE_KEY", "StudyDicom", "dicom_from_json", "dicom_json", "group_pseudonym", "patient_pseudonym"]

HIDE_KEY = "hide_identifiers"
_DIGITS = 8  # shown in a worklist cell; a collision only merges two rows' labels


def dicom_json(attributes: dict[str, str]) -> str:
    return json.dumps(attributes, sort_keys=True, ensure_ascii=False)


def dicom_from_json(text: object) -> dict[str, str] | None:
    """The stored attributes; None for NULL and for a damaged value (the worklist then shows
    the file name only: nothing else depends on them)."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _pseudonym(prefix: str, study_uid: str, kind: str, value: str) -> str:
    digest = hashlib.sha256(f"{len(study_uid)}:{study_uid}|{kind}|{value}".encode()).hexdigest()
    return prefix + digest[:_DIGITS]


def patient_pseudonym(study_uid: str, attributes: dict[str, str]) -> str | None:
    """``patient-`` + 8 hex digits from the PatientID (else the PatientName) salted with the
    study's random uid: the same patient reads alike within a study, unlinkable across studies."""
    key = attributes.get("PatientID") or attributes.get("PatientName")
    return None if key is None else _pseudonym("patient-", study_uid, "patient", key)


def group_pseudonym(study_uid: str, kind: str, uid: str | None) -> str | None:
    """``study-``/``series-`` + 8 hex digits for a StudyInstanceUID or SeriesInstanceUID."""
    return None if uid is None else _pseudonym(f"{kind}-", study_uid, kind, uid)


class StudyDicom(StudyConnection):
    """DICOM attributes of a study's images (mixed into ``Study``)."""

    @property
    def hide_identifiers(self) -> bool:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (HIDE_KEY,))
        return not rows or rows[0][0] != "0"

    def set_hide_identifiers(self, hide: bool) -> None:
        with self._transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (HIDE_KEY, "1" if hide else "0"))

    def dicom_attributes(self, image_id: str) -> dict[str, str] | None:
        if self.format_version < DICOM_FROM:
            return None
        rows = self._query("SELECT attributes FROM image_dicom WHERE image = ?", (self._row(image_id),))
        return dicom_from_json(rows[0][0]) if rows else None

    def _fill_dicom(self, image_id: str, rad: Radiograph) -> bool:
        """Store the attributes of a DICOM image loaded without them (a study migrated from
        format 5); True when it wrote. Never fails the load: a refused write is left for later."""
        from vam_gui.io.dicom_identity import read_identity
        from vam_gui.io.study_errors import StudyWriteError

        if (rad.metadata.get("format") != "DICOM" or rad.source is None or self.read_only
                or self.format_version < DICOM_FROM):
            return False
        rid = self._row(image_id)
        if self._query("SELECT 1 FROM image_dicom WHERE image = ?", (rid,)):
            return False
        attributes = read_identity(rad.source)
        if attributes is None:
            return False
        try:
            with self._transaction() as conn:
                conn.execute("INSERT OR IGNORE INTO image_dicom(image, attributes) VALUES (?, ?)",
                             (rid, dicom_json(attributes)))
        except StudyWriteError:
            return False
        return True
