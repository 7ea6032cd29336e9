"""A study keeps a DICOM image's patient / study / series / view attributes (format 6), apart
from the radiograph; format 5 studies migrate without reading files; DICOMDIRs add their images."""

from __future__ import annotations

import pytest
from dicom_studies import IMAGES, PATIENTS, STUDY_A, dicom_folder, dicomdir

from vam_gui.cli import main as cli_main
from vam_gui.io import load_radiograph
from vam_gui.io.study import Study
from vam_gui.io.study_db import DICOM_FROM, SCHEMA_VERSION
from vam_gui.io.study_dicom import group_pseudonym, patient_pseudonym
from vam_testing import downgrade_study

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture
def study(tmp_path):
    files = dicom_folder(tmp_path / "images")
    s = Study.create(tmp_path / "s.vamstudy")
    report = s.add_images(files)
    assert len(report.added) == len(IMAGES), report.skipped
    yield s
    s.close()


def test_the_attributes_are_kept_on_add(study):
    infos = {i.file_name: i for i in study.list_images()}
    jane = infos["jane_ap.dcm"].dicom
    assert jane == {"PatientName": "DOE^JANE", "PatientID": "PID-JANE-1", "StudyDate": "20240131",
                    "StudyDescription": "SPINE DOE", "StudyInstanceUID": STUDY_A, "SeriesNumber": "1",
                    "SeriesDescription": "LUMBAR SPINE", "SeriesInstanceUID": IMAGES[0][4], "ViewPosition": "AP",
                    "ImageLaterality": "L"}
    assert "ImageLaterality" not in infos["rich_ap.dcm"].dicom
    assert study.dicom_attributes(infos["jane_lat.dcm"].image_id)["ViewPosition"] == "LL"
    # the radiograph itself still carries no identifier
    rad = study.load_radiograph(infos["jane_ap.dcm"].image_id)
    assert "DOE" not in repr(rad.metadata) and "PID-JANE" not in repr(rad.metadata)


def test_a_raster_image_has_no_attributes(study, tmp_path):
    import cv2
    import numpy as np

    cv2.imwrite(str(tmp_path / "plain.png"), np.zeros((32, 32), np.uint8))
    (added,) = study.add_images([tmp_path / "plain.png"]).added
    assert study.image_info(added).dicom is None and study.dicom_attributes(added) is None


def test_hide_identifiers_is_on_by_default_and_kept(study):
    assert study.hide_identifiers
    study.set_hide_identifiers(False)
    path = study.path
    study.close()
    with Study.open(path, read_only=True) as again:
        assert not again.hide_identifiers
        with pytest.raises(Exception, match="read-only"):
            again.set_hide_identifiers(True)


def test_pseudonyms_are_stable_per_study_and_carry_no_identifier(study):
    jane = study.list_images()[0].dicom
    p = patient_pseudonym(study.study_uid, jane)
    assert p == patient_pseudonym(study.study_uid, jane) != patient_pseudonym("another study", jane)
    assert p.startswith("patient-") and "JANE" not in p
    assert group_pseudonym(study.study_uid, "study", STUDY_A).startswith("study-")
    assert patient_pseudonym(study.study_uid, {}) is None


def _downgrade_to_format_5(path):
    downgrade_study(path, 5)


def test_a_format_5_study_opens_read_only_and_migrates_filling_on_load(study, monkeypatch):
    ids = study.image_ids()
    path = study.path
    study.close()
    _downgrade_to_format_5(path)
    with Study.open(path, read_only=True) as old:  # read as it is: no attributes, nothing written
        assert old.format_version == 5 and {i.dicom for i in old.list_images()} == {None}
        old.load_radiograph(ids[0])
        assert old.image_info(ids[0]).dicom is None
    read = []
    import vam_gui.io.dicom_identity as identity

    original = identity.read_identity
    monkeypatch.setattr(identity, "read_identity", lambda p: read.append(p) or original(p))
    with Study.open(path) as new:
        assert new.format_version == SCHEMA_VERSION >= DICOM_FROM
        assert read == []  # the migration read no file
        assert {i.dicom is None for i in new.list_images()} == {True}
        new.load_radiograph(ids[1])  # the image is next shown: its header is read then
        assert new.image_info(ids[1]).dicom["PatientName"] == "DOE^JANE"
        assert new.image_info(ids[0]).dicom is None and len(read) == 1
        new.load_radiograph(ids[1])
        assert len(read) == 1  # once


def test_a_dicomdir_adds_the_images_it_references(tmp_path):
    files = dicom_folder(tmp_path / "src", suffix="")
    media = tmp_path / "media"
    index = dicomdir(media, files)
    with Study.create(tmp_path / "s.vamstudy") as s:
        report = s.add_images([index])
        assert len(report.added) == 4 and not report.skipped
        names = sorted(i.dicom["PatientName"] for i in s.list_images())
        assert names == sorted(p for _, p, *_ in IMAGES)
        assert all(i.rel_path.startswith("media/PT") for i in s.list_images())
        again = s.add_images([media])  # the folder: the same images; the DICOMDIR is no image
        assert len(again.duplicates) == 4 and not again.skipped and not again.added


def test_a_broken_dicomdir_is_reported(tmp_path):
    (tmp_path / "DICOMDIR").write_bytes(b"not a dicomdir at all")
    with Study.create(tmp_path / "s.vamstudy") as s:
        report = s.add_images([tmp_path / "DICOMDIR"])
        assert not report.added and report.skipped[0][1].startswith("not a readable DICOMDIR")


def test_dicom_files_without_a_suffix_in_a_folder_are_read_by_content(tmp_path):
    files = dicom_folder(tmp_path / "dicoms", suffix="")
    assert load_radiograph(files[0]).metadata["format"] == "DICOM"
    with Study.create(tmp_path / "s.vamstudy") as s:
        report = s.add_images([tmp_path / "dicoms"])
        assert len(report.added) == 4
        assert {i.dicom["PatientID"] for i in s.list_images()} == set(PATIENTS.values())


def test_study_create_on_a_dicomdir(tmp_path, capsys):
    files = dicom_folder(tmp_path / "src")
    index = dicomdir(tmp_path / "media", files)
    code = cli_main(["study", "create", str(tmp_path / "s.vamstudy"), str(index)])
    assert code in (0, None), capsys.readouterr()
    with Study.open(tmp_path / "s.vamstudy", read_only=True) as s:
        assert len(s.image_ids()) == 4 and all(i.dicom for i in s.list_images())
