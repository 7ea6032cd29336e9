"""DICOM radiograph reading: files are built with pydicom here, never downloaded."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.pixels import get_decoder, get_encoder
from pydicom.sequence import Sequence
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    RLELossless,
)

import vam_gui.io.dicom as vdicom
from vam_gui.core.radiograph import Radiograph, Window
from vam_gui.io import RadiographError, load_radiograph
from vam_gui.io.bench import bench_dicom_load
from vam_testing import byte_mutations, mutate

# Identifying values: none of them may appear in a loaded radiograph.
PATIENT = {"PatientName": "DOE^JANE", "PatientID": "PID12345", "PatientBirthDate": "19700101",
           "AccessionNumber": "ACC98765", "InstitutionName": "SAINT EXAMPLE HOSPITAL",
           "StudyDate": "20240131", "ReferringPhysicianName": "HOUSE^GREGORY"}
SOP_UID = "1.2.826.0.1.3680043.8.498.12345678901234567890"

# pydicom warns about the odd values these tests write on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _dataset(arr, *, photometric="MONOCHROME2", bits_stored=None, uid=SOP_UID, **tags):
    """A Dataset holding ``arr`` ([H, W], [F, H, W] or [H, W, 3]) natively encoded."""
    arr = np.asarray(arr)
    colour = photometric in ("RGB", "YBR_FULL")
    frames = arr.shape[0] if (arr.ndim == 3 and not colour) else 1
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = uid or "1.2.3"
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    if uid:
        ds.SOPInstanceUID = uid
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape[-3:-1] if colour else arr.shape[-2:]
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = arr.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = int(np.issubdtype(arr.dtype, np.signedinteger))
    ds.PhotometricInterpretation = photometric
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = arr.tobytes()
    return ds


def _save(path, ds, *, preamble=True) -> Path:
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:  # a bare implicit VR little endian data set, as old archives hold them
        ds.file_meta = FileMetaDataset()
        ds.save_as(path, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return Path(path)


def _ramp(h=40, w=30, top=4095, dtype=np.uint16):
    return (np.arange(h * w).reshape(h, w) * 7 % (top + 1)).astype(dtype)


def _jp2_codestream(arr: np.ndarray) -> bytes:
    """A lossless J2K codestream from OpenCV (used when pydicom has no J2K encoder)."""
    ok, buf = cv2.imencode(".jp2", arr, [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000])
    assert ok
    data = buf.tobytes()
    start = data.find(b"jp2c")  # the contiguous-codestream box of the JP2 file
    return data[start + 4:] if start >= 0 else data


def _compressed(ds, uid, arr):
    if uid == JPEG2000Lossless and not get_encoder(uid).is_available:
        ds.PixelData = encapsulate([_jp2_codestream(arr)])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = uid
    else:
        ds.compress(uid, arr)
    return ds


# --------------------------------------------------------------------------- good files


def test_monochrome1_rescale_and_detector_spacing(tmp_path):
    stored = np.full((40, 50), 4000, np.uint16)  # MONOCHROME1: high stored values are dark
    stored[10:30, 20:35] = 200  # bone: low stored values, bright on screen
    ds = _dataset(stored, photometric="MONOCHROME1", bits_stored=12,
                  RescaleSlope=2.0, RescaleIntercept=-100.0,
                  ImagerPixelSpacing=[0.14, 0.12], WindowCenter=3900, WindowWidth=2000)
    rg = load_radiograph(_save(tmp_path / "m1.dcm", ds))
    # modality: 2 v - 100 over [-100, 8090]; inverted: (-100 + 8090) - (2 v - 100)
    np.testing.assert_array_equal(rg.pixels, 8090 - 2 * stored.astype(np.int64))
    assert rg.pixels.dtype == np.uint16
    assert rg.pixels[20, 25] > rg.pixels[0, 0]  # bone bright
    assert rg.spacing == (0.14, 0.12) and rg.spacing_is_detector is True
    assert any("ImagerPixelSpacing" in w and "magnification" in w for w in rg.warnings)
    assert rg.photometric == "MONOCHROME1"
    assert "inverted" in rg.metadata
    # The window is inverted with the pixels: centre' = low + high - centre.
    assert rg.window == Window(7990 - 3900, 2000)


def test_monochrome1_without_rescale_inverts_over_bits_stored(tmp_path):
    stored = _ramp(top=4095)
    rg = load_radiograph(_save(tmp_path / "m1.dcm", _dataset(
        stored, photometric="MONOCHROME1", bits_stored=12)))
    assert rg.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rg.pixels, 4095 - stored)


def test_monochrome2_16bit_spacing_order_and_window(tmp_path):
    arr = _ramp(top=65535) * 9
    ds = _dataset(arr, PixelSpacing=[0.2, 0.15], WindowCenter=30000, WindowWidth=20000)
    path = _save(tmp_path / "m2.dcm", ds)
    rg = load_radiograph(path)
    assert isinstance(rg, Radiograph)
    np.testing.assert_array_equal(rg.pixels, arr)
    assert rg.pixels.dtype == np.uint16
    assert rg.spacing == (0.2, 0.15)  # (dy, dx) = (row spacing, column spacing)
    assert rg.spacing_is_detector is False
    assert rg.window == Window(30000, 20000)
    assert rg.warnings == []
    assert rg.photometric == "MONOCHROME2"
    assert rg.source == path.absolute()
    assert rg.metadata == {
        "format": "DICOM", "modality": "DX", "rows": "40", "columns": "30",
        "bits_stored": "16", "transfer_syntax": "Explicit VR Little Endian",
        "photometric": "MONOCHROME2",
    }


def test_window_sources(tmp_path):
    arr = _ramp()
    multi = _dataset(arr, WindowCenter=[1000, 2000], WindowWidth=[500, 800])
    assert load_radiograph(_save(tmp_path / "multi.dcm", multi)).window == Window(1000, 500)

    voi = _dataset(arr)
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 100, 16])  # LUTDescriptor
    item.add_new(0x00283006, "US", list(range(0, 65536, 256)))  # LUTData
    voi.VOILUTSequence = Sequence([item])
    rg = load_radiograph(_save(tmp_path / "voi.dcm", voi))
    assert (rg.window.lower, rg.window.upper) == (100, 356)

    rg = load_radiograph(_save(tmp_path / "none.dcm", _dataset(arr)))
    assert rg.window == Window.from_pixels(rg.pixels)

    bad = _dataset(arr, WindowCenter=100, WindowWidth=0)
    rg = load_radiograph(_save(tmp_path / "bad.dcm", bad))
    assert rg.window == Window.from_pixels(rg.pixels)
    assert any("WindowWidth" in w for w in rg.warnings)


def test_signed_and_fractional_rescale_become_float32(tmp_path):
    signed = (_ramp().astype(np.int32) - 2000).astype(np.int16)
    rg = load_radiograph(_save(tmp_path / "s.dcm", _dataset(signed)))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_array_equal(rg.pixels, signed.astype(np.float32))

    arr = _ramp()
    ds = _dataset(arr, RescaleSlope=0.5, RescaleIntercept=0.25)
    rg = load_radiograph(_save(tmp_path / "f.dcm", ds))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_allclose(rg.pixels, arr * 0.5 + 0.25)

    # Identity rescale on unsigned data: the stored array, no float round trip.
    ds = _dataset(arr, RescaleSlope=1, RescaleIntercept=0)
    rg = load_radiograph(_save(tmp_path / "id.dcm", ds))
    assert rg.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rg.pixels, arr)


def test_modality_lut_sequence(tmp_path):
    arr = (_ramp() % 256).astype(np.uint16)
    ds = _dataset(arr, bits_stored=8)
    item = Dataset()
    item.add_new(0x00283002, "US", [256, 0, 16])  # LUTDescriptor
    item.add_new(0x00283006, "US", [v * 10 + 5 for v in range(256)])  # LUTData
    item.ModalityLUTType = "US"
    ds.ModalityLUTSequence = Sequence([item])
    rg = load_radiograph(_save(tmp_path / "mlut.dcm", ds))
    np.testing.assert_array_equal(rg.pixels, arr * 10 + 5)


@pytest.mark.parametrize("uid", [RLELossless, JPEG2000Lossless], ids=["rle", "j2k"])
@pytest.mark.parametrize("bits", [8, 16])
def test_lossless_compression_is_exact(tmp_path, uid, bits):
    arr = _ramp(48, 36, top=255 if bits == 8 else 65535, dtype=np.uint8 if bits == 8 else np.uint16)
    ds = _compressed(_dataset(arr, PixelSpacing=[0.1, 0.1]), uid, arr)
    assert ds.file_meta.TransferSyntaxUID == uid
    rg = load_radiograph(_save(tmp_path / "c.dcm", ds))
    np.testing.assert_array_equal(rg.pixels, arr.astype(np.uint16))
    assert rg.metadata["transfer_syntax"] == uid.name
    assert rg.spacing == (0.1, 0.1)


def test_jpeg_baseline_and_deflate(tmp_path):
    yy, xx = np.mgrid[0:64, 0:48]
    grey = (yy * 3 + xx).astype(np.uint8)
    ds = _dataset(grey)
    ds.PixelData = encapsulate([cv2.imencode(".jpg", grey, [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
                                .tobytes()])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    rg = load_radiograph(_save(tmp_path / "jpeg.dcm", ds))
    assert rg.shape == (64, 48) and np.abs(rg.pixels.astype(float) - grey).mean() < 2

    arr = _ramp()
    ds = _dataset(arr)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    rg = load_radiograph(_save(tmp_path / "deflated.dcm", ds))
    np.testing.assert_array_equal(rg.pixels, arr)
    assert rg.metadata["transfer_syntax"] == DeflatedExplicitVRLittleEndian.name


def test_big_endian_and_palette_colour(tmp_path):
    arr = _ramp()
    ds = _dataset(arr, PixelSpacing=[0.2, 0.1])
    ds.PixelData = arr.byteswap().tobytes()  # OW is written as given
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
    rg = load_radiograph(_save(tmp_path / "be.dcm", ds))
    np.testing.assert_array_equal(rg.pixels, arr)
    assert rg.spacing == (0.2, 0.1)

    index = (arr % 256).astype(np.uint8)
    ds = _dataset(index, photometric="PALETTE COLOR")
    ramp = (np.arange(256, dtype="<u2") * 256).tobytes()
    for colour, data in (("Red", ramp), ("Green", bytes(512)), ("Blue", bytes(512))):
        ds.add_new(tag_for_keyword(f"{colour}PaletteColorLookupTableDescriptor"), "US",
                   [256, 0, 16])
        ds.add_new(tag_for_keyword(f"{colour}PaletteColorLookupTableData"), "OW", data)
    rg = load_radiograph(_save(tmp_path / "palette.dcm", ds))
    assert np.abs(rg.pixels - 0.299 * index.astype(float) * 256).max() <= 2  # fixed point
    assert "luminance" in rg.warnings[0]


def test_colour_jpeg_ybr_becomes_luminance(tmp_path):
    yy, xx = np.mgrid[0:32, 0:40]
    rgb = np.dstack([(xx * 6) % 256, (yy * 7) % 256, np.full_like(xx, 90)]).astype(np.uint8)
    ds = _dataset(rgb, photometric="RGB")
    jpeg = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 98])[1].tobytes()
    ds.PixelData = encapsulate([jpeg])
    ds["PixelData"].VR = "OB"
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    rg = load_radiograph(_save(tmp_path / "ybr.dcm", ds))
    expected = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(float)
    assert np.abs(rg.pixels - expected).mean() < 3
    assert any("luminance" in w for w in rg.warnings)
    assert rg.photometric == "YBR_FULL_422"


def test_colour_rgb_becomes_luminance(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    rg = load_radiograph(_save(tmp_path / "rgb.dcm", _dataset(rgb, photometric="RGB")))
    np.testing.assert_array_equal(rg.pixels, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
    assert rg.pixels.dtype == np.uint16
    assert len(rg.warnings) == 1 and "colour" in rg.warnings[0]
    assert "luminance" in rg.warnings[0]


@pytest.mark.parametrize("uid", [None, RLELossless], ids=["native", "rle"])
def test_multi_frame_shows_the_first(tmp_path, uid):
    frames = np.stack([_ramp(), _ramp()[::-1].copy(), np.zeros((40, 30), np.uint16)])
    ds = _dataset(frames)
    if uid is not None:
        ds.compress(uid, frames)
    rg = load_radiograph(_save(tmp_path / "mf.dcm", ds))
    np.testing.assert_array_equal(rg.pixels, frames[0])
    assert "multi-frame DICOM (3 frames): showing the first" in rg.warnings
    assert rg.metadata["frames"] == "3"


def test_image_id_from_sop_instance_uid_or_hash(tmp_path):
    arr = _ramp()
    rg = load_radiograph(_save(tmp_path / "uid.dcm", _dataset(arr)))
    assert rg.image_id == "uid:" + SOP_UID
    path = _save(tmp_path / "nouid.dcm", _dataset(arr, uid=None))
    rg = load_radiograph(path)
    assert rg.image_id == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:32]
    bad = _dataset(arr, uid=None)
    bad.add_new(0x00080018, "UI", "not-a-uid")
    path = _save(tmp_path / "baduid.dcm", bad)
    assert load_radiograph(path).image_id.startswith("sha256:")


def test_files_without_preamble_are_recognised(tmp_path):
    arr = _ramp()
    path = _save(tmp_path / "raw_dataset.bin", _dataset(arr, PixelSpacing=[0.3, 0.2]),
                 preamble=False)
    head = path.read_bytes()[:8]
    assert head[:2] == b"\x08\x00" and head[128:132] != b"DICM"
    rg = load_radiograph(path)  # no suffix, no DICM: sniffed from the first tag
    np.testing.assert_array_equal(rg.pixels, arr)
    assert rg.spacing == (0.3, 0.2)
    assert rg.metadata["transfer_syntax"] == "Implicit VR Little Endian"

    full = _save(tmp_path / "full.dcm", _dataset(arr)).read_bytes()
    no_preamble = tmp_path / "meta_only.bin"
    no_preamble.write_bytes(full[128:])  # starts with DICM
    np.testing.assert_array_equal(load_radiograph(no_preamble).pixels, arr)


def test_patient_identifiers_never_reach_the_radiograph(tmp_path):
    ds = _dataset(_ramp(), photometric="MONOCHROME1", PixelSpacing=[0, 0.1],
                  BodyPartExamined="SPINE", ViewPosition="LL", **PATIENT)
    path = _save(tmp_path / "patient.dcm", ds)
    assert b"DOE^JANE" in path.read_bytes()
    rg = load_radiograph(path)
    everything = " ".join([repr(rg), repr(rg.metadata), repr(rg.warnings), rg.image_id,
                           rg.photometric, repr(rg.window)])
    for value in PATIENT.values():
        assert value not in everything
    assert SOP_UID not in repr(rg.metadata) and SOP_UID not in repr(rg.warnings)
    assert rg.metadata["body_part"] == "SPINE" and rg.metadata["view"] == "LL"
    assert set(rg.metadata) <= {"format", "modality", "body_part", "view", "rows", "columns",
                                "bits_stored", "transfer_syntax", "photometric", "inverted",
                                "frames"}


# --------------------------------------------------------------------------- spacing


@pytest.mark.parametrize(
    ("raw", "tag"),
    [(b"0\\0.1", "PixelSpacing"), (b"-.2\\.1", "PixelSpacing"), (b"abc\\0.1", "PixelSpacing"),
     (b"0.1", "PixelSpacing"), (b"1\\2\\3", "PixelSpacing"), (b"nan\\0.1", "PixelSpacing"),
     (b"", "PixelSpacing"), (b"0\\0.1", "ImagerPixelSpacing")],
)
def test_bad_spacing_is_none_with_a_warning(tmp_path, raw, tag):
    ds = _dataset(_ramp())
    ds.add_new(tag, "DS", None)
    path = _save(tmp_path / "sp.dcm", ds)
    data = path.read_bytes()
    header = struct.pack("<HH", *((0x0028, 0x0030) if tag == "PixelSpacing" else (0x0018, 0x1164)))
    i = data.index(header + b"DS")
    padded = raw + (b" " if len(raw) % 2 else b"")
    data = data[: i + 6] + struct.pack("<H", len(padded)) + padded + data[i + 8:]
    path.write_bytes(data)
    rg = load_radiograph(path)
    assert rg.spacing is None and rg.spacing_is_detector is False
    assert any(tag in w for w in rg.warnings)
    np.testing.assert_array_equal(rg.pixels, _ramp())


def test_invalid_pixel_spacing_falls_back_to_imager_spacing(tmp_path):
    ds = _dataset(_ramp(), PixelSpacing=[0, 0.1], ImagerPixelSpacing=[0.2, 0.25])
    rg = load_radiograph(_save(tmp_path / "fb.dcm", ds))
    assert rg.spacing == (0.2, 0.25) and rg.spacing_is_detector
    assert any("PixelSpacing is malformed" in w for w in rg.warnings)


@pytest.mark.parametrize(
    ("spacing", "kept"),
    [([1e300, 1e300], None), ([0.001, 0.001], None), ([0.1, 1e300], None), ([0.001, 0.1], None),
     ([0.1, 0.1], (0.1, 0.1)), ([0.01, 5], (0.01, 5.0))],
)
def test_implausible_spacing_is_ignored_with_a_warning(tmp_path, spacing, kept):
    rg = load_radiograph(_save(tmp_path / "sp.dcm", _dataset(_ramp(), PixelSpacing=spacing)))
    assert rg.spacing == kept and rg.spacing_is_detector is False
    warned = [w for w in rg.warnings if "PixelSpacing" in w]
    if kept is None:
        assert warned == ["PixelSpacing is malformed or implausible (outside 0.01-5 mm): ignored"]
    else:
        assert warned == []


def test_implausible_pixel_spacing_falls_back_to_a_plausible_imager_spacing(tmp_path):
    ds = _dataset(_ramp(), PixelSpacing=[1e300, 1e300], ImagerPixelSpacing=[0.1, 0.1])
    rg = load_radiograph(_save(tmp_path / "fb.dcm", ds))
    assert rg.spacing == (0.1, 0.1) and rg.spacing_is_detector
    ds = _dataset(_ramp(), ImagerPixelSpacing=[0.001, 0.1])
    rg = load_radiograph(_save(tmp_path / "fb2.dcm", ds))
    assert rg.spacing is None and any("ImagerPixelSpacing is malformed" in w for w in rg.warnings)


# --------------------------------------------------------------------------- errors


def _half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _expect(path, reason_part, **kwargs) -> RadiographError:
    with pytest.raises(RadiographError) as info:
        load_radiograph(path, **kwargs)
    err = info.value
    assert str(err).startswith(path.name + ": ")
    assert reason_part in err.reason
    assert "Traceback" not in str(err)
    return err


def test_no_pixel_data(tmp_path):
    ds = _dataset(_ramp())
    del ds.PixelData
    _expect(_save(tmp_path / "nopix.dcm", ds), "DICOM file has no pixel data")


@pytest.mark.parametrize("uid", [None, RLELossless, JPEG2000Lossless], ids=["native", "rle", "j2k"])
def test_truncated(tmp_path, uid):
    arr = np.random.default_rng(2).integers(0, 65536, (64, 64), dtype=np.uint16)
    ds = _dataset(arr)
    if uid is not None:
        _compressed(ds, uid, arr)
    err = _expect(_half(_save(tmp_path / "cut.dcm", ds)), "truncated file")
    assert err.reason == "truncated file"


def test_truncated_within_the_last_fragment(tmp_path):
    arr = _ramp(64, 64, top=65535)
    path = _save(tmp_path / "cut.dcm", _compressed(_dataset(arr), RLELossless, arr))
    path.write_bytes(path.read_bytes()[:-40])
    _expect(path, "truncated file")


def test_truncated_in_the_header(tmp_path):
    path = _save(tmp_path / "cut.dcm", _dataset(_ramp(), **PATIENT))
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b"DOE^JANE") + 3])  # inside the PatientName value
    err = _expect(path, "truncated file")
    assert "DOE" not in str(err)


def test_not_dicom_and_empty_images(tmp_path):
    text = tmp_path / "notes.dcm"
    text.write_text("this is not a DICOM file\n" * 10)
    _expect(text, vdicom.NOT_DICOM)

    magic_only = tmp_path / "magic.bin"
    magic_only.write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
    _expect(magic_only, "")

    ds = _dataset(_ramp())
    ds.Rows = 0
    _expect(_save(tmp_path / "empty.dcm", ds), "empty image")


def test_png_with_dicom_suffix_is_read_as_png(tmp_path):
    path = tmp_path / "scan.DCM"
    path.write_bytes(cv2.imencode(".png", _ramp(4, 4))[1].tobytes())
    assert load_radiograph(path).metadata["format"] == "PNG"


def test_oversized_is_refused_before_decoding(tmp_path, monkeypatch):
    path = _save(tmp_path / "wide.dcm", _dataset(_ramp(30, 120)))
    calls = []
    monkeypatch.setattr(Dataset, "pixel_array", property(lambda self: calls.append(1)))
    _expect(path, "120 x 30 pixels, above the limit of 100", max_side=100)
    assert calls == []


def test_unsupported_transfer_syntax_and_missing_plugins(tmp_path, monkeypatch):
    arr = _ramp(64, 64)
    ds = _dataset(arr)
    ds.PixelData = encapsulate([b"\x00" * 64])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = "1.2.826.0.1.3680043.8.498.777"  # private: no decoder
    path = tmp_path / "private.dcm"
    ds.save_as(path, implicit_vr=False, little_endian=True, enforce_file_format=True)
    err = _expect(path, "unsupported transfer syntax")
    assert "1.2.826.0.1.3680043.8.498.777" in err.reason

    path = _save(tmp_path / "j2k.dcm", _compressed(_dataset(arr), JPEG2000Lossless, arr))
    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})
    err = _expect(path, "no decoder plugin is installed")
    assert "JPEG 2000" in err.reason and "pip install pylibjpeg" in err.reason
    monkeypatch.undo()
    np.testing.assert_array_equal(load_radiograph(path).pixels, arr)


def test_corrupt_codestream(tmp_path):
    ds = _dataset(_ramp())
    ds.PixelData = encapsulate([b"\xff\x4f\xff\x51" + b"\x00" * 60])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = JPEG2000Lossless
    err = _expect(_save(tmp_path / "bad.dcm", ds), "could not decode the JPEG 2000")
    assert isinstance(err.__cause__, Exception)


def test_read_dicom_from_bytes_and_bench(tmp_path):
    path = _save(tmp_path / "b.dcm", _dataset(_ramp()))
    rg = vdicom.read_dicom(path, path.read_bytes(), max_side=100)
    np.testing.assert_array_equal(rg.pixels, _ramp())
    result = bench_dicom_load(tmp_path, side=64, repeats=1)
    assert set(result) == {"dicom_load_ms", "dicom_pydicom_bare_ms", "dicom_load_ratio"}
    assert all(v > 0 for v in result.values())


def test_import_does_not_load_pydicom_or_cv2():
    code = ("import sys, vam_gui.io, vam_gui.io.dicom, vam_gui.io.bench; "
            "bad = [m for m in ('pydicom', 'cv2', 'torch', 'PySide6') if m in sys.modules]; "
            "sys.exit(', '.join(bad) or None)")
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=root, env=env)
    assert result.returncode == 0, result.stderr


# --------------------------------------------------------------------------- fuzzing


def _base_files() -> dict[str, bytes]:
    arr = (np.arange(32 * 32).reshape(32, 32) * 97 % 4096).astype(np.uint16)
    out = {}  # 32 x 32: OpenJPEG's default resolution levels need that much
    for name, uid in (("native", None), ("rle", RLELossless), ("j2k", JPEG2000Lossless)):
        ds = _dataset(arr, photometric="MONOCHROME1", PixelSpacing=[0.2, 0.1],
                      WindowCenter=2000, WindowWidth=1000, RescaleSlope=2, RescaleIntercept=-5,
                      **PATIENT)
        if uid is not None:
            _compressed(ds, uid, arr)
        buf = BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        out[name] = buf.getvalue()
    return out


_BASES = _base_files()

_mutation = byte_mutations()
_mutate = mutate


@settings(deadline=None, max_examples=300,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.sampled_from(sorted(_BASES)), suffix=st.sampled_from([".dcm", ".bin"]),
       mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_fuzzed_dicom_never_escapes(tmp_path, base, suffix, mutations):
    path = tmp_path / f"fuzz{suffix}"
    data = _mutate(_BASES[base], mutations)
    path.write_bytes(data)
    try:
        rg = load_radiograph(path, max_side=1024)  # mutated sizes must not eat the memory
    except RadiographError as err:
        assert path.name in str(err) and err.reason
        assert "DOE" not in str(err)
        return
    assert isinstance(rg, Radiograph)
    assert rg.pixels.ndim == 2 and rg.pixels.size > 0
    assert rg.pixels.dtype in (np.uint16, np.float32)
    assert rg.window.lower < rg.window.upper
