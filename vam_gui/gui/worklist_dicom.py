"""What the worklist shows of a DICOM image: patient, study date, series, view / laterality, and
the group (study or series) it sorts under; pseudonyms in place of identifiers when the study hides
them (io/study_dicom.py: ``hide_identifiers``, on by default).

Hidden, a row shows the patient as ``patient-…`` (PatientID salted with the study's uid), the
study as ``study-…`` (no date, no description), the series by its number only, and the image by
its export pseudonym (``img-…``: DICOM file names often hold the patient's name); view position
and laterality are code strings (AP, LL, L, R) and are shown either way. A raster image has none of
these: its cells are empty and it groups under "(not DICOM)", after every DICOM group.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from vam_gui.io.export.pseudonyms import image_pseudonym
from vam_gui.io.study_dicom import group_pseudonym, patient_pseudonym

DICOM_HEADERS = ("Patient", "Study date", "Series", "View")
GROUPS = ("none", "study", "series")
NOT_DICOM = "(not DICOM)"


def _date(value: str | None) -> str:
    if value and len(value) == 8 and value.isdigit():
        return f"{value[:4]}-{value[4:6]}-{value[6:]}"
    return value or ""


def image_name(info, study_uid: str, hide: bool) -> str:
    """The Image column: the file name, or for a DICOM image in hidden mode its pseudonym."""
    if hide and info.dicom is not None:
        return image_pseudonym(study_uid, info.image_id) + PurePosixPath(info.rel_path).suffix.lower()
    return info.file_name


def dicom_cells(info, study_uid: str, hide: bool) -> tuple[str, str, str, str]:
    """(patient, study date, series, view) as shown; empty for an image that is not DICOM."""
    d = info.dicom
    if d is None:
        return ("", "", "", "")
    view = " ".join(v for v in (d.get("ViewPosition"), d.get("ImageLaterality") or d.get("Laterality")) if v)
    number = d.get("SeriesNumber", "")
    if hide:
        patient = patient_pseudonym(study_uid, d) or ""
        study = group_pseudonym(study_uid, "study", d.get("StudyInstanceUID")) or ""
        return (patient, study, f"#{number}" if number else "", view)
    patient = (d.get("PatientName") or "").replace("^", " ").strip() or d.get("PatientID", "")
    series = " ".join(v for v in (f"#{number}" if number else "", d.get("SeriesDescription", "")) if v)
    return (patient, _date(d.get("StudyDate")), series, view)


def group_label(info, by: str, study_uid: str, hide: bool) -> str:
    """The group an image is listed under (``by``: "study" or "series"), as shown."""
    d = info.dicom
    if by == "none":
        return ""
    if d is None:
        return NOT_DICOM
    patient, date, series, _ = dicom_cells(info, study_uid, hide)
    if hide:
        label = patient
        if by == "study":
            return f"{label} / {date}".strip(" /")  # date holds the study pseudonym
        return f"{label} / {group_pseudonym(study_uid, 'series', d.get('SeriesInstanceUID')) or series}".strip(" /")
    study = " ".join(v for v in (date, d.get("StudyDescription", "")) if v)
    label = f"{patient} / {study}".strip(" /")
    return label if by == "study" else f"{label} / {series}".strip(" /")


def group_key(info, by: str, study_uid: str) -> tuple[int, str, str, str]:
    """What rows sort by when grouped: DICOM images first, by patient, study date and uid (and
    the series number and uid), so a group's rows stand together and groups in date order."""
    d = info.dicom
    if by == "none" or d is None:
        return (1, "", "", "") if by != "none" else (0, "", "", "")
    study = f"{d.get('StudyDate', '')}|{d.get('StudyInstanceUID', '')}"
    series = ""
    if by == "series":
        series = f"{int(d.get('SeriesNumber', '0') or 0):08d}|{d.get('SeriesInstanceUID', '')}"
    return (0, d.get("PatientID") or d.get("PatientName", ""), study, series)
