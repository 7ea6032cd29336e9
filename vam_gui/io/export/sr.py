"""DICOM SR export: per DICOM image, a TID 1500 Measurement Report (highdicom).

- Each labelled corner point (visible, with a position) is a TID 1410 planar ROI group
  whose region is an SCOORD POINT on the source image's SOP Instance; its tracking
  identifier is the keypoint's name (``L3-UL``). SCOORD image coordinates put the top-left
  corner of the top-left pixel at (0, 0) (PS3.3 C.18.6.1.2), ours put its centre there
  (design.md §2): column = x + 0.5, row = y + 0.5. Graphic Data is 32-bit float (FL).
- The measurements of :func:`vam_gui.core.measure.measure` (the same call as every export)
  are TID 1501 groups, one per vertebra, disc, spine angle and slip, with the codes and UCUM
  units of :mod:`vam_gui.io.export.sr_codes`; values are stored exactly (FloatingPointValue).
- The observer is the image's reviewer (a person observer).

The reports keep the source's patient and study identifiers (they go back to the archive,
into the source's study). With ``deidentify_sr`` each report is made from the de-identified
copy (:mod:`vam_gui.io.deid`), which is written beside it, and names a pseudonymous observer.
Files: ``<pseudonym>-sr.dcm`` (and ``<pseudonym>.dcm`` for a copy).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui import __version__
from vam_gui.core.atomic import write_bytes_atomic
from vam_gui.io.export import sr_codes
from vam_gui.io.export.common import (
    Cancel,
    ExportError,
    ExportOptions,
    ExportReport,
    Progress,
    check_cancel,
    prepare_out_dir,
    select_images,
)
from vam_gui.io.export.pseudonyms import Namer

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from vam_gui.core.measure_results import Measurements
    from vam_gui.core.schema import Schema
    from vam_gui.io.study import ImageInfo, Study

SERIES_NUMBER = 9901
SERIES_DESCRIPTION = "vam-gui vertebral corners and measurements"
_REFERENCED = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
# Type 2 attributes highdicom copies from the evidence into the report; absent ones are added empty
_TYPE2_FROM_EVIDENCE = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                        "AccessionNumber", "ReferringPhysicianName", "StudyID")


def _point_groups(schema: Schema, xy: np.ndarray, visible: np.ndarray, source: Dataset) -> list[Any]:
    import highdicom as hd
    from pydicom.sr.coding import Code

    groups = []
    finding = Code(*sr_codes.POINT_FINDING)
    for i, name in enumerate(schema.keypoints):
        if not (visible[i] and np.isfinite(xy[i]).all()):
            continue
        region = hd.sr.ImageRegion(
            graphic_type=hd.sr.GraphicTypeValues.POINT,
            graphic_data=np.array([[xy[i, 0] + 0.5, xy[i, 1] + 0.5]]),
            source_image=hd.sr.SourceImageForRegion.from_source_image(source))
        site = sr_codes.finding_site("vertebra", schema.vertebrae[schema.vertebra[i]])
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(identifier=name, uid=hd.UID()),
            referenced_region=region, finding_type=finding,
            finding_sites=[hd.sr.FindingSite(site)] if site is not None else None))
    return groups


def _measurement_groups(result: Measurements, source: Dataset, unmapped: list[str]) -> list[Any]:
    """TID 1501 groups of ``result``'s rows, in row order; rows without a code go to ``unmapped``."""
    import highdicom as hd
    from pydicom.sr.coding import Code

    subjects: dict[str, tuple[str, list[Any], list[Any]]] = {}
    for name, value, unit_name, _note in result.rows():
        if name == "note" or value is None:
            continue
        subject, kind, quantity = sr_codes.split_row(name)
        concept = sr_codes.concept(kind, subject, quantity)
        if concept is None or (isinstance(value, str) and quantity != "meyerding"):
            unmapped.append(name)
            continue
        _, measurements, evaluations = subjects.setdefault(subject, (kind, [], []))
        if isinstance(value, str):
            evaluations.append(hd.sr.QualitativeEvaluation(concept, sr_codes.meyerding_value(value)))
        else:
            number = int(value) if isinstance(value, (int, np.integer)) else float(value)
            measurements.append(hd.sr.Measurement(name=concept, value=number, unit=sr_codes.unit(unit_name)))
    groups = []
    for subject, (kind, measurements, evaluations) in subjects.items():
        site = sr_codes.finding_site(kind, subject)
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(identifier=subject, uid=hd.UID()),
            finding_type=Code(*sr_codes.VERTEBRA_FINDING) if kind == "vertebra" else None,
            finding_sites=[hd.sr.FindingSite(site)] if site is not None else None,
            measurements=measurements or None, qualitative_evaluations=evaluations or None,
            source_images=[hd.sr.SourceImageForMeasurementGroup.from_source_image(source)]))
    return groups


def measurement_report(schema: Schema, xy: np.ndarray, visible: np.ndarray, result: Measurements,
                       source: Dataset, *, observer: str, unmapped: list[str] | None = None) -> Dataset:
    """The SR data set (Comprehensive 3D SR, TID 1500) of one image's points and measurements;
    ``source`` is the image's data set (pixel data not needed; absent Type 2 patient and study
    attributes are added to it, empty). ``observer``: a person name (a bare login name gets
    the trailing caret that marks a single-component name)."""
    import highdicom as hd
    from pydicom.dataset import Dataset
    from pydicom.sr.codedict import codes

    context = hd.sr.ObservationContext(observer_person_context=hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(
            name=observer if "^" in observer else observer + "^")))
    for keyword in _TYPE2_FROM_EVIDENCE:
        if keyword not in source:
            setattr(source, keyword, "")
    groups = _point_groups(schema, xy, visible, source)
    groups += _measurement_groups(result, source, unmapped if unmapped is not None else [])
    report = hd.sr.MeasurementReport(observation_context=context, procedure_reported=codes.SCT.ImagingProcedure,
                                     imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[source], content=report, series_instance_uid=hd.UID(), series_number=SERIES_NUMBER,
        sop_instance_uid=hd.UID(), instance_number=1, manufacturer="vam-gui", series_description=SERIES_DESCRIPTION,
        is_complete=True)
    scheme = Dataset()
    for keyword, value in sr_codes.coding_scheme_item().items():
        setattr(scheme, keyword, value)
    sr.CodingSchemeIdentificationSequence = [scheme]
    sr.SoftwareVersions = f"vam-gui {__version__}"
    out: Dataset = sr
    return out


def _labelled(xy: np.ndarray, visible: np.ndarray) -> bool:
    return bool((np.asarray(visible, bool) & np.isfinite(xy).all(axis=1)).any())


def _observer(info: ImageInfo, namer: Namer, deidentify: bool) -> str:
    name = info.reviewer or "unknown"
    if deidentify:  # the reviewer is staff, named in no de-identified header either
        return "reviewer-" + namer.image_id("reviewer:" + name)[4:12]
    return name


def _one_report(study: Study, info: ImageInfo, out: Any, namer: Namer, options: ExportOptions,
                report: ExportReport) -> None:
    import pydicom

    from vam_gui.core.measure import measure
    from vam_gui.io.deid import deidentify, to_bytes
    from vam_gui.io.export.images import is_dicom_file

    pseudo = namer.image_id(info.image_id)
    path = study.image_path(info.image_id)
    if not is_dicom_file(path):
        report.left_out.append((pseudo, "not a DICOM image: no SR"))
        return
    ann = study.annotation(info.image_id)
    if not _labelled(ann.xy, ann.visible):
        report.left_out.append((pseudo, "no labelled point: no SR"))
        return
    source: Dataset = pydicom.dcmread(path, force=True, stop_before_pixels=not options.deidentify_sr)
    missing = [kw for kw in _REFERENCED if not source.get(kw)]
    if missing and not options.deidentify_sr:  # (de-identified copies get new UIDs in any case)
        report.skipped.append((pseudo, f"no SR: the image's header has no {', '.join(missing)} to reference"))
        return
    if options.deidentify_sr:
        source = deidentify(source, salt=study.study_uid)
        report.files.append(write_bytes_atomic(out / f"{pseudo}.dcm", to_bytes(source)))
    result = measure(study.schema, ann.xy, ann.visible, spacing=info.spacing, facing=info.facing,
                     spacing_is_detector=info.spacing_is_detector)
    unmapped: list[str] = []
    sr = measurement_report(study.schema, ann.xy, ann.visible, result, source,
                            observer=_observer(info, namer, options.deidentify_sr), unmapped=unmapped)
    if options.deidentify_sr:
        from vam_gui.io.deid import METHOD

        sr.PatientIdentityRemoved, sr.DeidentificationMethod = "YES", METHOD
    if unmapped:
        report.notes.append(f"{pseudo}: no code for {', '.join(unmapped)} (left out of the SR)")
    report.files.append(write_bytes_atomic(out / f"{pseudo}-sr.dcm", to_bytes(sr)))
    report.images += 1


def export_dicom_sr(study: Study, out_dir: str | os.PathLike[str], options: ExportOptions = ExportOptions(), *,
                    progress: Progress | None = None, cancel: Cancel | None = None) -> ExportReport:
    """Write one SR per selected DICOM image into ``out_dir`` (see the module doc).
    Non-DICOM images and images without a labelled point are in ``left_out``; images that
    cannot be read in ``skipped``; ExportError when no selected image is a DICOM image."""
    from vam_gui.io.image_file import describe

    out = prepare_out_dir(out_dir)
    infos = select_images(study, options)
    namer = Namer(study.study_uid)
    report = ExportReport("dicom-sr", out)
    for n, info in enumerate(infos, 1):
        check_cancel(cancel)
        try:
            _one_report(study, info, out, namer, options, report)
        except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
            # pydicom's InvalidDicomError is an OSError; highdicom refuses bad headers with ValueError
            report.skipped.append((namer.image_id(info.image_id), f"no SR ({describe(exc)})"))
        if progress is not None:
            progress(n, len(infos))
    if not report.images and not report.skipped and all("not a DICOM" in r for _, r in report.left_out):
        raise ExportError(f"nothing to export as DICOM SR: none of the {len(infos)} selected image(s) is a DICOM "
                          "image")
    return report
