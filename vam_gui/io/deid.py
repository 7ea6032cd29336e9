"""De-identified copies of DICOM images (DICOM PS3.15 Annex E, Basic Application Level
Confidentiality Profile), pixel data unchanged.

The profile is applied as an *allowlist*, which is stricter than the profile's table and
easier to check: a copy is a new data set holding only

- the attributes a viewer and our reader need to show and measure the image (``KEEP``: the
  Image Pixel and pixel-interpretation modules, the pixel spacings, modality, view and
  laterality). None of them is listed in PS3.15 (2024b) Table E.1-1 "Application Level
  Confidentiality Profile Attributes", so the Basic Profile keeps them as they are;
- the identifying attributes the DX image IOD requires (Type 1 or 2), each with the Basic
  Profile's action from Table E.1-1: UIDs replaced (action U), the patient's name, birth
  date and sex, the study date and time, the accession number, the referring physician and
  the study id emptied (action Z); the patient id replaced by a per-study pseudonym (D);
- PatientIdentityRemoved = YES, DeidentificationMethod and its code (DCM 113100) (PS3.15
  E.1.1 point 6), LongitudinalTemporalInformationModified = REMOVED.

Everything else is left out: institution, physicians, operators, device serials, every date
and time, descriptions, private tags, curves and overlays, the file meta information of the
source (its AE title, implementation name) and its 128-byte preamble. New UIDs are
``2.25.`` + a hash of the study's secret salt and the original UID: consistent within one
export and across exports of one study (two images of one original study share the new
StudyInstanceUID), unlinkable without the salt.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from vam_gui import __version__

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

# Copied unchanged (top level). None of these is in PS3.15 Table E.1-1.
KEEP = (
    # SOP common, general image (technical parts)
    "SpecificCharacterSet", "SOPClassUID", "Modality", "ImageType", "PresentationIntentType",
    "PatientOrientation", "ViewPosition", "ImageLaterality", "Laterality", "BurnedInAnnotation",
    "RecognizableVisualFeatures", "LossyImageCompression", "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
    # image pixel
    "SamplesPerPixel", "PhotometricInterpretation", "Rows", "Columns", "BitsAllocated", "BitsStored",
    "HighBit", "PixelRepresentation", "PlanarConfiguration", "PixelAspectRatio", "SmallestImagePixelValue",
    "LargestImagePixelValue", "PixelPaddingValue", "PixelPaddingRangeLimit", "NumberOfFrames",
    "FrameIncrementPointer", "PixelData", "FloatPixelData", "DoubleFloatPixelData",
    # pixel interpretation (modality LUT, VOI, presentation)
    "RescaleIntercept", "RescaleSlope", "RescaleType", "WindowCenter", "WindowWidth", "VOILUTFunction",
    "PresentationLUTShape", "PixelIntensityRelationship", "PixelIntensityRelationshipSign",
    # geometry
    "PixelSpacing", "ImagerPixelSpacing", "NominalScannedPixelSpacing", "PixelSpacingCalibrationType",
    "EstimatedRadiographicMagnificationFactor",
)
# LUT sequences: their items keep only the LUT itself (LUTExplanation is free text)
KEEP_LUT_SEQUENCES = ("ModalityLUTSequence", "VOILUTSequence")
LUT_ITEM_KEEP = ("LUTDescriptor", "LUTData", "ModalityLUTType")
# Table E.1-1 action Z (zero length) for the Type 2 attributes of the DX image IOD
EMPTIED = ("PatientName", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime", "AccessionNumber",
           "ReferringPhysicianName", "StudyID", "SeriesNumber", "InstanceNumber")
# Table E.1-1 action U: replaced by new UIDs, the same original giving the same new one
REPLACED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID")
METHOD = f"PS3.15 Basic Profile, as an allowlist (vam-gui {__version__})"[:64]  # LO: 64 characters


def _digest(salt: str, *parts: str) -> int:
    h = hashlib.sha256()
    for part in (salt, *parts):
        data = part.encode("utf-8")
        h.update(len(data).to_bytes(4, "big") + data)
    return int.from_bytes(h.digest()[:16], "big")


def new_uid(salt: str, original: str) -> str:
    """The replacement of ``original``: ``2.25.`` + a 128-bit integer from the salted hash
    (the UUID-derived UID form of PS3.5 B.2)."""
    return f"2.25.{_digest(salt, 'uid', str(original))}"


def patient_pseudonym(salt: str, patient_id: str) -> str:
    """A per-study pseudonym of a patient id: the copies of one patient's images share it."""
    return "" if not patient_id else f"pat-{_digest(salt, 'patient', patient_id):032x}"[:16]


def _copy_lut_sequence(source: Dataset, target: Dataset, keyword: str) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for item in source.get(keyword) or []:
        clean = Dataset()
        for kw in LUT_ITEM_KEEP:
            if kw in item:
                clean[kw] = item[kw]
        items.append(clean)
    if items:
        setattr(target, keyword, Sequence(items))


def deidentify(source: Dataset, *, salt: str) -> Dataset:
    """A new data set: ``source`` de-identified (see the module doc), with its file meta
    information. ``source`` is left as it was; the pixel data element is shared, unchanged."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sr.codedict import codes
    from pydicom.uid import ExplicitVRLittleEndian

    out = Dataset()
    for keyword in KEEP:
        if keyword in source:
            out[keyword] = source[keyword]
    for keyword in KEEP_LUT_SEQUENCES:
        _copy_lut_sequence(source, out, keyword)
    for keyword in EMPTIED:
        setattr(out, keyword, "" if keyword not in ("SeriesNumber", "InstanceNumber") else None)
    out.PatientID = patient_pseudonym(salt, str(source.get("PatientID") or ""))
    for keyword in REPLACED_UIDS:
        original = source.get(keyword)
        if original:
            setattr(out, keyword, new_uid(salt, str(original)))
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):  # Type 1: made up if absent
        if keyword not in out:
            setattr(out, keyword, new_uid(salt, f"missing {keyword} of {out.get('SOPInstanceUID', '')}"))
    out.PatientIdentityRemoved = "YES"
    out.DeidentificationMethod = METHOD
    method = Dataset()
    code = codes.DCM.BasicApplicationConfidentialityProfile
    method.CodeValue, method.CodingSchemeDesignator, method.CodeMeaning = code.value, code.scheme_designator, \
        code.meaning
    out.DeidentificationMethodCodeSequence = [method]
    out.LongitudinalTemporalInformationModified = "REMOVED"

    meta = FileMetaDataset()
    src_meta = getattr(source, "file_meta", None)
    syntax = src_meta.get("TransferSyntaxUID") if src_meta is not None else None
    meta.TransferSyntaxUID = syntax or ExplicitVRLittleEndian
    sop_class = out.get("SOPClassUID") or (src_meta.get("MediaStorageSOPClassUID") if src_meta is not None else None)
    if sop_class:
        meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    out.file_meta = meta
    return out


def to_bytes(ds: Dataset) -> bytes:
    """``ds`` as a DICOM file (128-byte zero preamble, DICM, file meta, data set)."""
    from io import BytesIO

    buf = BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
