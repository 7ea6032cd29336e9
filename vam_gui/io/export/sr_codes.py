"""The codes of our DICOM SR measurement reports (``vam-gui export --format dicom-sr``).

Each row of :meth:`vam_gui.core.measure_results.Measurements.rows` (``"L3.height.left"``,
``"disc L4-L5.disc_angle"``, ``"cobb_L1_L5.magnitude"``, ``"slip L5-S1"``) becomes one TID 300
measurement in the TID 1501 measurement group of its subject (the part before the first dot:
a vertebra, a disc, a spine angle, a slip). The group's tracking identifier is the subject's
name; its finding site is the SNOMED CT code of the vertebra or disc where one exists.

Concept names: SNOMED CT where a code says exactly what we measure (SCT 285285000 "Cobb
angle" for the Cobb magnitude), else the private coding scheme ``99VAMGUI`` (PS3.16 8.2: a
designator beginning with "99" is private) with the meanings in ``PRIVATE`` — "left"/"right"
are as displayed (not the patient's side: AP vs PA), angles are signed as in
:mod:`vam_gui.core.measure`. Units are UCUM: ``mm``, ``deg``, ``%``, ``{ratio}``;
``{grade}`` for grades; lengths of images without pixel spacing in ``{pixel}`` (a UCUM
annotation: dimensionless, the image's pixels; UCUM has no pixel unit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydicom.sr.coding import Code

SCHEME = "99VAMGUI"
SCHEME_NAME = "vam-gui measurement codes"
POINT_FINDING = ("711101009", "SCT", "Anatomical point")  # each corner point's finding type
VERTEBRA_FINDING = ("51282000", "SCT", "Vertebra")

# (group kind, quantity) -> (code value, meaning); group kinds: vertebra, disc, angle, slip
PRIVATE: dict[tuple[str, str], tuple[str, str]] = {
    ("vertebra", "height.left"): ("VH-LEFT", "Vertebral body height, displayed-left edge"),
    ("vertebra", "height.middle"): ("VH-MIDDLE", "Vertebral body height, middle"),
    ("vertebra", "height.right"): ("VH-RIGHT", "Vertebral body height, displayed-right edge"),
    ("vertebra", "height.anterior"): ("VH-ANTERIOR", "Vertebral body height, anterior"),
    ("vertebra", "height.posterior"): ("VH-POSTERIOR", "Vertebral body height, posterior"),
    ("vertebra", "ratio.left/right"): ("VR-LEFT-RIGHT", "Vertebral height ratio, left/right"),
    ("vertebra", "ratio.middle/max"): ("VR-MIDDLE-MAX", "Vertebral height ratio, middle/maximum"),
    ("vertebra", "ratio.anterior/posterior"): ("VR-ANT-POST", "Vertebral height ratio, anterior/posterior"),
    ("vertebra", "ratio.middle/posterior"): ("VR-MID-POST", "Vertebral height ratio, middle/posterior"),
    ("vertebra", "height_loss"): ("VH-LOSS", "Vertebral height loss, 1 - minimum/maximum height"),
    ("vertebra", "genant_grade"): ("GENANT-GRADE", "Genant-style semiquantitative grade (0-3)"),
    ("vertebra", "upper_endplate"): ("EP-UPPER-TILT", "Upper endplate tilt"),
    ("vertebra", "lower_endplate"): ("EP-LOWER-TILT", "Lower endplate tilt"),
    ("vertebra", "midline"): ("MIDLINE-TILT", "Vertebral mid-line tilt"),
    ("disc", "height.left"): ("DH-LEFT", "Disc height, displayed-left edge"),
    ("disc", "height.middle"): ("DH-MIDDLE", "Disc height, middle"),
    ("disc", "height.right"): ("DH-RIGHT", "Disc height, displayed-right edge"),
    ("disc", "height.anterior"): ("DH-ANTERIOR", "Disc height, anterior"),
    ("disc", "height.posterior"): ("DH-POSTERIOR", "Disc height, posterior"),
    ("disc", "disc_angle"): ("DISC-ANGLE", "Disc angle, between the adjacent endplates"),
    ("disc", "segment_angle"): ("SEGMENT-ANGLE", "Segmental angle, upper to lower vertebra"),
    ("disc", "midline_angle"): ("MIDLINE-ANGLE", "Angle between the vertebral mid-lines"),
    ("angle", ""): ("SIGNED-ANGLE", "Angle between endplates, signed"),
    ("angle", "magnitude"): ("ANGLE-MAGNITUDE", "Angle between endplates, magnitude"),
    ("lordosis", ""): ("LORDOSIS", "Lordosis angle, signed (positive = lordotic)"),
    ("slip", ""): ("SLIP-PERCENT", "Anterior slip, percent of the S1 superior endplate"),
    ("slip", "distance"): ("SLIP-DISTANCE", "Anterior slip along the S1 superior endplate"),
    ("slip", "meyerding"): ("MEYERDING", "Meyerding grade"),
}
COBB = ("285285000", "SCT", "Cobb angle")
UNITS = {"mm": ("mm", "millimeter"), "deg": ("deg", "degree"), "%": ("%", "percent"),
         "ratio": ("{ratio}", "ratio"), "grade": ("{grade}", "grade"), "px": ("{pixel}", "pixel")}
_ORDINAL = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth",
            "Eleventh", "Twelfth")
_REGION = {"C": "Cervical", "T": "Thoracic", "L": "Lumbar"}


def split_row(name: str) -> tuple[str, str, str]:
    """(subject, group kind, quantity) of a measurement row name."""
    subject, _, quantity = name.partition(".")
    if subject.startswith("disc "):
        return subject, "disc", quantity
    if subject.startswith("slip "):
        return subject, "slip", quantity
    if "_" in subject:  # cobb_L1_L5, lordosis_L1_S1, max_cobb
        return subject, "angle", quantity
    return subject, "vertebra", quantity


def concept(kind: str, subject: str, quantity: str) -> Code | None:
    """The concept name of one measurement; None for a row we have no code for."""
    from pydicom.sr.coding import Code

    if kind == "angle":
        if "cobb" in subject and quantity == "magnitude":
            return Code(*COBB)
        if subject.startswith("lordosis") and quantity == "":
            kind = "lordosis"
    entry = PRIVATE.get((kind, quantity))
    return None if entry is None else Code(entry[0], SCHEME, entry[1])


def meyerding_value(grade: str) -> Code:
    from pydicom.sr.coding import Code

    return Code(f"MEYERDING-{grade}", SCHEME, f"Meyerding grade {grade}")


def unit(name: str) -> Code:
    from pydicom.sr.coding import Code

    value, meaning = UNITS[name]
    return Code(value, "UCUM", meaning)


def _sct(attribute: str) -> Code | None:
    from pydicom.sr.codedict import codes

    try:
        code: Code = getattr(codes.SCT, attribute)
    except AttributeError:
        return None
    return code


def finding_site(kind: str, subject: str) -> Code | None:
    """SNOMED CT code of a vertebra (``L3``) or a disc (``disc L4-L5``; the disc below a
    thoracic vertebra is SNOMED's "intervertebral disc structure of the Nth thoracic
    vertebra"); the spine for spine angles; None where there is none."""
    if kind == "vertebra":
        return _sct(f"{subject}Vertebra")
    if kind == "angle":
        return _sct("Spine")
    if kind == "disc":
        upper, _, lower = subject.removeprefix("disc ").partition("-")
        site = _sct(f"{upper}{lower}Disc")
        if site is None and upper[:1] in _REGION and upper[1:].isdigit() and 1 <= int(upper[1:]) <= 12:
            site = _sct(f"IntervertebralDiscStructureOf{_ORDINAL[int(upper[1:]) - 1]}{_REGION[upper[0]]}Vertebra")
        return site
    return None


def coding_scheme_item() -> dict[str, str]:
    """The Coding Scheme Identification item that declares ``99VAMGUI`` in each report."""
    return {"CodingSchemeDesignator": SCHEME, "CodingSchemeName": SCHEME_NAME,
            "CodingSchemeResponsibleOrganization": "vam-gui (see vam_gui/io/export/sr_codes.py)"}
