"""DICOM SR export (TID 1500 with highdicom): read back, every corner point and every
measurement of ``measure()`` is found, with its code and unit; identifiers kept unless
--deidentify-sr, which references the de-identified copies written beside the reports."""

from __future__ import annotations

import highdicom as hd
import numpy as np
import pydicom
import pytest
from pydicom.sr.codedict import codes
from test_export import corners, write_dicom, write_images
from test_export_images import assert_no_identifier, write_identified_dicom

from vam_gui.cli import main
from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.measure import measure
from vam_gui.io import Study
from vam_gui.io.export import ExportError, ExportOptions, export_study, image_pseudonym, sr_codes

SOP = {"ap": "1.2.826.0.1.3680043.8.498.5550001", "lat": "1.2.826.0.1.3680043.8.498.5550002",
       "nospacing": "1.2.826.0.1.3680043.8.498.5550003"}


def _label(study: Study, image_id: str, seed: int, hidden: tuple[int, ...] = ()) -> None:
    info = study.image_info(image_id)
    xy = corners(study.schema, info.height, info.width, seed)
    points = {i: PointState(xy[i, 0], xy[i, 1], i not in hidden, "placed") for i in range(study.schema.k)}
    study.apply_edit(image_id, user="dr.lee", kind="move", points=points,
                     review=ReviewState("accepted", None, "dr.lee"))


def _study(tmp_path, schema: str, dicoms: dict[str, dict], png: bool = False) -> Study:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for name, tags in dicoms.items():
        arr = np.clip(rng.normal(1500, 200, (300, 200)), 0, 4095)
        write_dicom(folder / f"{name}.dcm", arr, uid=SOP[name], PatientName="ROE^RICHARD", PatientID="P-77",
                    StudyInstanceUID="1.2.826.0.1.3680043.8.498.5559999",
                    SeriesInstanceUID="1.2.826.0.1.3680043.8.498.5559998", **tags)
    if png:
        write_images(folder, sizes=((240, 200),))
    study = Study.create(tmp_path / "sr.vamstudy", schema)
    study.add_images([folder])
    for n, info in enumerate(study.list_images()):
        _label(study, info.image_id, n, hidden=(2,))
    return study


def _read(path):
    sr = hd.sr.srread(path)
    return sr, hd.sr.MeasurementReport.from_sequence([sr])


def assert_round_trip(study: Study, image_id: str, path, *, source_uid: str) -> None:
    """Every labelled point and every measurement of measure() is in the SR at ``path``."""
    schema, info = study.schema, study.image_info(image_id)
    ann = study.annotation(image_id)
    sr, report = _read(path)
    groups = report.get_planar_roi_measurement_groups(referenced_sop_instance_uid=source_uid)
    assert len(groups) == len(report.get_planar_roi_measurement_groups())
    points = {str(g.tracking_identifier): g for g in groups}
    labelled = [i for i in range(schema.k) if ann.visible[i] and np.isfinite(ann.xy[i]).all()]
    assert len(labelled) == schema.k - 1 and set(points) == {schema.keypoints[i] for i in labelled}
    for i in labelled:
        roi = points[schema.keypoints[i]].roi
        assert roi.graphic_type == hd.sr.GraphicTypeValues.POINT
        # SCOORD: the top-left pixel's corner is (0, 0), ours puts its centre there; Graphic Data is FL
        expected = (ann.xy[i] + 0.5).astype(np.float32)
        np.testing.assert_array_equal(np.asarray(roi.value, np.float32).reshape(2), expected)

    result = measure(schema, ann.xy, ann.visible, spacing=info.spacing, facing=info.facing,
                     spacing_is_detector=info.spacing_is_detector)
    by_subject = {str(g.tracking_identifier): g for g in report.get_image_measurement_groups()}
    numeric = 0
    for name, value, unit, _note in result.rows():
        if name == "note" or value is None:
            continue
        subject, kind, quantity = sr_codes.split_row(name)
        group = by_subject[subject]
        code = sr_codes.concept(kind, subject, quantity)
        if isinstance(value, str):
            evaluation, = group.get_qualitative_evaluations(name=code)
            assert evaluation.value == sr_codes.meyerding_value(value)
            continue
        numeric += 1
        found, = group.get_measurements(name=code)
        assert found.value == pytest.approx(value, rel=1e-12, abs=1e-12), name
        assert found.unit.value == sr_codes.UNITS[unit][0] and found.unit.scheme_designator == "UCUM"
    assert numeric > 20
    assert sum(len(g.get_measurements()) for g in by_subject.values()) == numeric  # nothing else
    observer, = report.get_observer_contexts(observer_type=codes.DCM.Person)
    assert "dr.lee" in str(observer.observer_identifying_attributes.name)
    assert sr.SOPClassUID == pydicom.uid.Comprehensive3DSRStorage
    assert sr.CodingSchemeIdentificationSequence[0].CodingSchemeDesignator == "99VAMGUI"


@pytest.mark.parametrize("schema", ["lumbar-ap-20", "lumbar-lat-22"])
def test_sr_round_trip(tmp_path, schema):
    study = _study(tmp_path, schema, {"ap": {}, "nospacing": {"PixelSpacing": None}}, png=True)
    out = tmp_path / "sr"
    report = export_study(study, "dicom-sr", out, ExportOptions())
    assert report.images == 2 and not report.skipped and not report.notes
    png_id = next(i.image_id for i in study.list_images() if i.rel_path.endswith(".png"))
    assert report.left_out == [(image_pseudonym(study.study_uid, png_id), "not a DICOM image: no SR")]
    units = set()
    for info in study.list_images():
        if info.image_id == png_id:
            continue
        uid = info.image_id.removeprefix("uid:")
        path = out / f"{image_pseudonym(study.study_uid, info.image_id)}-sr.dcm"
        assert_round_trip(study, info.image_id, path, source_uid=uid)
        sr, _ = _read(path)
        assert str(sr.PatientName) == "ROE^RICHARD" and sr.PatientID == "P-77"  # for the archive
        assert sr.StudyInstanceUID == "1.2.826.0.1.3680043.8.498.5559999"
        units |= {item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue
                  for item in _walk(sr) if "MeasuredValueSequence" in item}
    assert {"mm", "{pixel}", "deg", "{ratio}"} <= units
    study.close()


def _walk(ds):
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _walk(item)


def test_lateral_report_carries_slip_and_lordosis(tmp_path):
    study = _study(tmp_path, "lumbar-lat-22", {"lat": {}})
    export_study(study, "dicom-sr", tmp_path / "out", ExportOptions())
    sr, report = _read(next((tmp_path / "out").glob("*-sr.dcm")))
    subjects = {str(g.tracking_identifier) for g in report.get_image_measurement_groups()}
    assert {"slip L5-S1", "lordosis_L1_S1", "L3", "disc L4-L5"} <= subjects
    disc, = [g for g in report.get_image_measurement_groups() if str(g.tracking_identifier) == "disc L4-L5"]
    assert disc.finding_sites[0].value == codes.SCT.L4L5Disc
    study.close()


def test_deidentified_sr_references_the_deidentified_copy(tmp_path):
    folder = tmp_path / "QZXFAMILY_PIDQZX77310_spine"
    folder.mkdir()
    arr = np.clip(np.random.default_rng(2).normal(1500, 200, (260, 190)), 0, 4095)
    write_identified_dicom(folder / "QZXFAMILY_PIDQZX77310_0.dcm", arr, "1.2.826.0.1.3680043.8.498.11223344556677")
    study = Study.create(tmp_path / "s.vamstudy")
    image_id, = study.add_images([folder]).added
    _label(study, image_id, 3, hidden=(2,))
    out = tmp_path / "deid"
    report = export_study(study, "dicom-sr", out, ExportOptions(deidentify_sr=True))
    assert report.images == 1
    pseudo = image_pseudonym(study.study_uid, image_id)
    copy = pydicom.dcmread(out / f"{pseudo}.dcm")
    assert copy.PatientIdentityRemoved == "YES"
    sr_deid = _read(out / f"{pseudo}-sr.dcm")[0]
    assert sr_deid.PatientIdentityRemoved == "YES"
    assert sr_deid.StudyInstanceUID == copy.StudyInstanceUID
    _, parsed = _read(out / f"{pseudo}-sr.dcm")
    assert len(parsed.get_planar_roi_measurement_groups(referenced_sop_instance_uid=copy.SOPInstanceUID)) == 19
    assert_no_identifier(out)
    # the reviewer is named by a pseudonym in a de-identified report
    observer, = parsed.get_observer_contexts(observer_type=codes.DCM.Person)
    assert "dr.lee" not in str(observer.observer_identifying_attributes.name)
    study.close()


def test_study_without_dicom_images_is_a_clear_error(tmp_path):
    write_images(tmp_path / "images", sizes=((200, 160),))
    study = Study.create(tmp_path / "p.vamstudy")
    study.add_images([tmp_path / "images"])
    _label(study, study.image_ids()[0], 1)
    with pytest.raises(ExportError, match="none of the 1 selected image"):
        export_study(study, "dicom-sr", tmp_path / "out", ExportOptions())
    study.close()


def test_cli_dicom_sr(tmp_path, capsys):
    study = _study(tmp_path, "lumbar-ap-20", {"ap": {}}, png=True)
    path = study.path
    study.close()
    assert main(["export", str(path), "--format", "dicom-sr", "--out", str(tmp_path / "o"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "left out" in err and "not a DICOM image" in err and "1 image(s) exported as dicom-sr" in err
    assert len(list((tmp_path / "o").glob("*-sr.dcm"))) == 1
