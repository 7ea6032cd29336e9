"""Writing DX DICOM files (phantoms, benchmarks): one place that knows the required tags."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


def dx_dataset(pixels: np.ndarray, *, spacing: tuple[float, float] | None = None,
               photometric: str = "MONOCHROME2", bits_stored: int = 16,
               window: tuple[float, float] | None = None, uid_seed: str | None = None,
               **tags: Any) -> Dataset:
    """A pydicom Dataset for a single-frame 16-bit DX image (uncompressed, explicit VR LE).

    ``pixels`` are the stored values (for MONOCHROME1 already inverted); ``window`` is
    (centre, width); ``uid_seed`` makes the SOP Instance UID reproducible; other keyword
    arguments become tags (e.g. ``BodyPartExamined="LSPINE"``)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = UID("1.2.840.10008.5.1.4.1.1.1.1")  # DX, presentation
    uid = generate_uid(entropy_srcs=[uid_seed]) if uid_seed is not None else generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = uid
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = photometric
    if spacing is not None:
        ds.PixelSpacing = [f"{spacing[0]:.6f}", f"{spacing[1]:.6f}"]
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = f"{window[0]:.1f}", f"{max(window[1], 1.0):.1f}"
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = np.ascontiguousarray(pixels, dtype=np.uint16).tobytes()
    return ds
