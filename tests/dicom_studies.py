"""DICOM files of two patients in two studies (three series), built with pydicom for the worklist
tests; never downloaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SOP_CLASS = "1.2.840.10008.5.1.4.1.1.1.1"  # Digital X-Ray Image Storage - For Presentation
STUDY_A, STUDY_B = "1.2.826.0.1.3680043.8.498.1001", "1.2.826.0.1.3680043.8.498.2002"
SERIES_A1, SERIES_A2, SERIES_B1 = (f"1.2.826.0.1.3680043.8.498.{n}" for n in (1101, 1102, 2101))
PATIENTS = {"DOE^JANE": "PID-JANE-1", "ROE^RICHARD": "PID-RICH-2"}

# (file name, patient name, study uid, study date, series uid, series number, view, laterality)
IMAGES = (
    ("jane_ap", "DOE^JANE", STUDY_A, "20240131", SERIES_A1, 1, "AP", "L"),
    ("jane_lat", "DOE^JANE", STUDY_A, "20240131", SERIES_A2, 2, "LL", "R"),
    ("rich_ap", "ROE^RICHARD", STUDY_B, "20230615", SERIES_B1, 1, "PA", ""),
    ("rich_ap2", "ROE^RICHARD", STUDY_B, "20230615", SERIES_B1, 1, "AP", ""),
)


def dicom_image(path: Path, patient: str, study: str, date: str, series: str, number: int, view: str,
                laterality: str, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    img = rng.normal(800, 60, size=(160, 120))
    for v in range(5):  # five bright "vertebrae"
        img[12 + v * 28:32 + v * 28, 35:85] += 2000
    arr = np.clip(img, 0, 4095).astype(np.uint16)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = SOP_CLASS
    ds.SOPClassUID = SOP_CLASS
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.Modality = "DX"
    ds.PatientName, ds.PatientID = patient, PATIENTS[patient]
    ds.StudyDate, ds.StudyDescription, ds.StudyInstanceUID = date, f"SPINE {patient.split('^')[0]}", study
    ds.SeriesNumber, ds.SeriesInstanceUID = number, series
    ds.SeriesDescription = ("LUMBAR SPINE", "LUMBAR LATERAL")[number - 1]
    ds.StudyTime, ds.StudyID, ds.InstanceNumber = "101500", study[-4:], 1
    ds.ViewPosition = view
    if laterality:
        ds.ImageLaterality = laterality
    ds.Rows, ds.Columns = arr.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelSpacing = [0.2, 0.2]
    ds.PixelData = arr.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def dicom_folder(folder: Path, *, suffix: str = ".dcm") -> list[Path]:
    """The four IMAGES in ``folder`` (``suffix`` "" for files named without one)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [dicom_image(folder / f"{name}{suffix}", *rest, seed=i) for i, (name, *rest) in enumerate(IMAGES)]


def dicomdir(folder: Path, files: list[Path]) -> Path:
    """A DICOMDIR in ``folder`` referencing ``files`` (under it), built with pydicom's FileSet."""
    from pydicom import dcmread
    from pydicom.fileset import FileSet

    fs = FileSet()
    for f in files:
        fs.add(dcmread(f))
    fs.write(folder)
    return folder / "DICOMDIR"
