"""Raster radiograph reading (PNG / JPEG / TIFF / BMP) and the Radiograph / Window types."""

from __future__ import annotations

import hashlib
import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vam_gui.io.radiograph as rio
import vam_gui.io.raster as raster
from vam_gui.core.radiograph import Radiograph, Window, array_image_id
from vam_gui.io import Radiograph as ReexportedRadiograph
from vam_gui.io import RadiographError, load_radiograph
from vam_gui.io.files import file_sha256
from vam_gui.io.raster_header import RasterHeader, read_header
from vam_testing import byte_mutations, mutate


def _write(path, array, params=()):
    assert cv2.imwrite(str(path), array, list(params)), f"cv2 could not write {path}"
    return path


def _ramp16(h=40, w=30):
    """16-bit content with values far above 255 and a known layout."""
    return (np.arange(h * w, dtype=np.uint32).reshape(h, w) * 53 + 300).astype(np.uint16)


def _tiff_big_endian(px: np.ndarray, photometric: int = 1) -> bytes:
    """A minimal uncompressed 8-bit 'MM' TIFF (cv2 only writes little-endian ones)."""
    h, w = px.shape
    entries = [(256, 3, w), (257, 3, h), (258, 3, 8), (259, 3, 1), (262, 3, photometric),
               (273, 4, None), (277, 3, 1), (278, 3, h), (279, 4, h * w)]
    data_offset = 8 + 2 + 12 * len(entries) + 4
    out = b"MM\x00*" + struct.pack(">I", 8) + struct.pack(">H", len(entries))
    for tag, typ, value in entries:
        value = data_offset if value is None else value
        if typ == 3:
            out += struct.pack(">HHIHH", tag, typ, 1, value, 0)
        else:
            out += struct.pack(">HHII", tag, typ, 1, value)
    return out + struct.pack(">I", 0) + px.astype(np.uint8).tobytes()


# --------------------------------------------------------------------------- good files


def test_png_8bit(tmp_path):
    img = np.random.default_rng(1).integers(0, 256, (50, 70), dtype=np.uint8)
    path = _write(tmp_path / "a.png", img)
    rg = load_radiograph(path)
    assert isinstance(rg, Radiograph)
    assert rg.pixels.dtype == np.uint16
    assert rg.shape == (50, 70) and rg.height == 50 and rg.width == 70
    np.testing.assert_array_equal(rg.pixels, img.astype(np.uint16))
    assert rg.spacing is None
    assert rg.spacing_is_detector is False
    assert rg.photometric == "MONOCHROME2"
    assert rg.source == path
    assert rg.warnings == []
    assert rg.metadata["format"] == "PNG"
    assert rg.metadata["bit_depth"] == "8"


def test_png_16bit_values_survive_exactly(tmp_path):
    img = _ramp16()
    assert img.max() > 255
    rg = load_radiograph(_write(tmp_path / "b.png", img))
    assert rg.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rg.pixels, img)
    assert rg.metadata == {"format": "PNG", "bit_depth": "16", "dtype": "uint16", "channels": "1",
                           "sha256": file_sha256(tmp_path / "b.png")}  # the content hash a study records


def test_tiff_16bit(tmp_path):
    img = _ramp16(33, 21)
    rg = load_radiograph(_write(tmp_path / "c.tif", img))
    assert rg.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rg.pixels, img)
    assert rg.metadata["format"] == "TIFF"
    assert rg.metadata["bit_depth"] == "16"


def test_tiff_float_signed_and_double_become_float32(tmp_path):
    f32 = (np.random.default_rng(2).random((12, 9)) * 1000 - 200).astype(np.float32)
    rg = load_radiograph(_write(tmp_path / "f32.tiff", f32))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_array_equal(rg.pixels, f32)

    s16 = (_ramp16(12, 9).astype(np.int32) - 20000).astype(np.int16)
    assert s16.min() < 0
    rg = load_radiograph(_write(tmp_path / "s16.tif", s16))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_array_equal(rg.pixels, s16.astype(np.float32))
    assert rg.metadata["dtype"] == "int16"

    f64 = np.linspace(-1.5, 2.5, 12 * 9).reshape(12, 9)
    rg = load_radiograph(_write(tmp_path / "f64.tif", f64))
    assert rg.pixels.dtype == np.float32
    np.testing.assert_allclose(rg.pixels, f64, rtol=1e-6)


def test_big_endian_tiff_and_white_is_zero(tmp_path):
    px = (np.arange(15, dtype=np.uint8).reshape(3, 5) * 10)
    path = tmp_path / "mm.tif"
    path.write_bytes(_tiff_big_endian(px))
    assert read_header(path, path.read_bytes()) == RasterHeader("TIFF", 5, 3, False)
    np.testing.assert_array_equal(load_radiograph(path).pixels, px)
    with pytest.raises(RadiographError, match="5 x 3 pixels"):
        load_radiograph(path, max_side=4)
    # WhiteIsZero is inverted by the decoder, so bone stays bright.
    path.write_bytes(_tiff_big_endian(px, photometric=0))
    np.testing.assert_array_equal(load_radiograph(path).pixels, 255 - px)


def test_multipage_tiff_reads_first_page_with_warning(tmp_path):
    first, second = _ramp16(20, 10), np.zeros((5, 5), np.uint16)
    path = tmp_path / "multi.tif"
    assert cv2.imwritemulti(str(path), [first, second])
    rg = load_radiograph(path)
    np.testing.assert_array_equal(rg.pixels, first)
    assert any("more than one image" in w for w in rg.warnings)


def test_jpeg(tmp_path):
    yy, xx = np.mgrid[0:64, 0:48]
    img = (yy * 3 + xx).astype(np.uint8)  # smooth, so JPEG keeps it close
    rg = load_radiograph(_write(tmp_path / "d.jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95]))
    assert rg.pixels.dtype == np.uint16
    assert rg.shape == (64, 48)
    assert np.abs(rg.pixels.astype(float) - img).mean() < 2.0
    assert rg.metadata["format"] == "JPEG"
    assert rg.warnings == []


def test_bmp(tmp_path):
    img = np.random.default_rng(3).integers(0, 256, (17, 23), dtype=np.uint8)
    rg = load_radiograph(_write(tmp_path / "e.bmp", img))
    np.testing.assert_array_equal(rg.pixels, img)
    assert rg.metadata["format"] == "BMP"


def test_format_is_sniffed_not_taken_from_the_suffix(tmp_path):
    img = _ramp16(8, 8)
    png_bytes = cv2.imencode(".png", img)[1].tobytes()
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(png_bytes)
    rg = load_radiograph(path)
    assert rg.metadata["format"] == "PNG"
    np.testing.assert_array_equal(rg.pixels, img)


def test_non_ascii_path(tmp_path):
    img = _ramp16(9, 7)
    folder = tmp_path / "Röntgen 脊椎"
    folder.mkdir()
    path = folder / "Wirbelsäule_脊椎.png"
    path.write_bytes(cv2.imencode(".png", img)[1].tobytes())
    rg = load_radiograph(str(path))
    np.testing.assert_array_equal(rg.pixels, img)
    assert rg.source == path


def test_colour_png_becomes_luminance_with_warning(tmp_path):
    rng = np.random.default_rng(4)
    bgr = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    rg = load_radiograph(_write(tmp_path / "colour.png", bgr))
    assert rg.pixels.ndim == 2 and rg.pixels.dtype == np.uint16
    b, g, r = (bgr[:, :, i].astype(float) for i in range(3))
    expected = 0.299 * r + 0.587 * g + 0.114 * b
    assert np.abs(rg.pixels - expected).max() <= 1.0
    np.testing.assert_array_equal(rg.pixels, cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert len(rg.warnings) == 1 and "colour" in rg.warnings[0]
    assert "luminance" in rg.warnings[0]
    assert rg.metadata["channels"] == "3"


def test_colour_png_with_alpha_and_16bit_colour(tmp_path):
    rng = np.random.default_rng(5)
    bgra = rng.integers(0, 256, (10, 12, 4), dtype=np.uint8)
    bgra[:, :, 3] = 7  # alpha must not influence the luminance
    rg = load_radiograph(_write(tmp_path / "bgra.png", bgra))
    np.testing.assert_array_equal(rg.pixels, cv2.cvtColor(bgra[:, :, :3], cv2.COLOR_BGR2GRAY))
    assert rg.metadata["channels"] == "4"

    bgr16 = rng.integers(0, 65536, (10, 12, 3), dtype=np.uint16)
    rg = load_radiograph(_write(tmp_path / "bgr16.png", bgr16))
    assert rg.pixels.dtype == np.uint16
    assert rg.pixels.max() > 255
    np.testing.assert_array_equal(rg.pixels, cv2.cvtColor(bgr16, cv2.COLOR_BGR2GRAY))


def test_grey_content_saved_as_colour_is_exact(tmp_path):
    grey = np.random.default_rng(6).integers(0, 256, (15, 16), dtype=np.uint8)
    rg = load_radiograph(_write(tmp_path / "grey_rgb.png", np.dstack([grey] * 3)))
    np.testing.assert_array_equal(rg.pixels, grey)
    assert len(rg.warnings) == 1 and "identical channels" in rg.warnings[0]


def test_image_id_is_a_content_hash(tmp_path):
    img = _ramp16()
    p1 = _write(tmp_path / "one.png", img)
    id1 = load_radiograph(p1).image_id
    assert id1 == load_radiograph(p1).image_id  # stable across reads
    assert id1 == "sha256:" + hashlib.sha256(p1.read_bytes()).hexdigest()[:32]
    assert len(id1) == len("sha256:") + 32
    p2 = tmp_path / "copy_with_other_name.png"
    p2.write_bytes(p1.read_bytes())
    assert load_radiograph(p2).image_id == id1  # the name does not matter
    changed = img.copy()
    changed[0, 0] += 1
    assert load_radiograph(_write(tmp_path / "two.png", changed)).image_id != id1


def test_window_from_percentiles(tmp_path):
    rng = np.random.default_rng(7)
    img = rng.integers(1000, 3001, (200, 200)).astype(np.uint16)
    img[:2, :10] = 65535  # a few outliers (0.05 %) must not stretch the window
    img[-2:, :10] = 0
    rg = load_radiograph(_write(tmp_path / "w.png", img))
    win = rg.window
    assert win.lower < win.upper
    assert img.min() <= win.lower and win.upper <= img.max()
    assert 1000 <= win.lower < 1100
    assert 2900 < win.upper <= 3000
    assert win.width == pytest.approx(win.upper - win.lower)
    assert win.center == pytest.approx((win.upper + win.lower) / 2)


def test_window_edge_cases():
    const = np.full((10, 10), 500, np.uint16)
    win = Window.from_pixels(const)
    assert win.center == 500 and win.width == 1.0
    # Mostly background: the percentile window collapses, so min/max is used instead.
    sparse = np.zeros((100, 100), np.float32)
    sparse[0, :3] = 10.0
    win = Window.from_pixels(sparse)
    assert win.lower == 0.0 and win.upper == 10.0
    # NaNs are ignored; an all-NaN or empty input has no window.
    with_nan = np.array([[1.0, np.nan], [3.0, np.inf]], np.float32)
    win = Window.from_pixels(with_nan, 0, 100)
    assert (win.lower, win.upper) == (1.0, 3.0)
    with pytest.raises(ValueError):
        Window.from_pixels(np.full((3, 3), np.nan, np.float32))
    with pytest.raises(ValueError):
        Window.from_pixels(np.zeros((0, 5), np.uint16))
    with pytest.raises(ValueError):
        Window.from_pixels(const, 60, 40)
    with pytest.raises(ValueError):
        Window(center=1.0, width=0.0)
    with pytest.raises(ValueError):
        Window(center=float("nan"), width=1.0)
    assert Window.from_bounds(10, 4) == Window(center=7.0, width=6.0)


def test_window_subsample_is_bounded():
    big = np.zeros((4000, 4000), np.uint16)
    from vam_gui.core import radiograph as core

    sample = core._subsample(big)
    assert 900_000 <= sample.size <= 1_000_000
    assert core._subsample(np.zeros((10, 10))).size == 100
    assert core._subsample(np.zeros(3_000_001)).size <= 1_000_001


# --------------------------------------------------------------------------- errors


def _truncated(tmp_path, name, ext, img):
    data = cv2.imencode(ext, img)[1].tobytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    return path


TRUNC = "truncated file"


def _error_cases(tmp_path):
    img8 = np.random.default_rng(8).integers(0, 256, (64, 64), dtype=np.uint8)
    folder = tmp_path / "a_folder.png"
    folder.mkdir()
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "x.png"
    text.write_text("this is not an image\n" * 10)
    wide = _write(tmp_path / "wide.png", np.zeros((50, 200), np.uint8))
    return {
        "missing": (tmp_path / "missing.png", {}, "file not found"),
        "directory": (folder, {}, "directory"),
        "empty": (empty, {}, "empty file"),
        "text": (text, {}, rio.NOT_AN_IMAGE),
        "truncated_png": (_truncated(tmp_path, "cut.png", ".png", _ramp16()), {}, TRUNC),
        "truncated_jpeg": (_truncated(tmp_path, "cut.jpg", ".jpg", img8), {}, TRUNC),
        "truncated_bmp": (_truncated(tmp_path, "cut.bmp", ".bmp", img8), {}, TRUNC),
        "too_large": (wide, {"max_side": 100}, "200 x 50 pixels, above the limit of 100"),
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "directory", "empty", "text", "truncated_png", "truncated_jpeg",
     "truncated_bmp", "too_large"],
)
def test_errors_are_radiograph_errors_naming_the_file(tmp_path, case):
    path, kwargs, reason_part = _error_cases(tmp_path)[case]
    with pytest.raises(RadiographError) as info:
        load_radiograph(path, **kwargs)
    err = info.value
    assert path.name in str(err)
    assert str(err) == f"{path.name}: {err.reason}"
    assert err.path == path
    assert reason_part in err.reason


def test_truncated_png_reason_is_exact(tmp_path):
    path = _truncated(tmp_path, "half.png", ".png", _ramp16())
    with pytest.raises(RadiographError) as info:
        load_radiograph(path)
    assert info.value.reason == "truncated file"


def test_corrupt_tiff(tmp_path):
    path = _truncated(tmp_path, "cut.tif", ".tif", _ramp16(100, 100))
    with pytest.raises(RadiographError, match="cut.tif: .*TIFF"):
        load_radiograph(path)


def test_jpeg_with_garbage_after_eoi_is_fine_but_missing_scan_end_is_not(tmp_path):
    img = np.full((16, 16), 90, np.uint8)
    data = cv2.imencode(".jpg", img)[1].tobytes()
    path = tmp_path / "trailer.jpg"
    path.write_bytes(data + b"\x00" * 100)
    assert load_radiograph(path).shape == (16, 16)
    path.write_bytes(data[:-2])
    with pytest.raises(RadiographError, match="truncated file"):
        load_radiograph(path)


def test_side_limit_also_checked_after_decoding(tmp_path, monkeypatch):
    path = _write(tmp_path / "tall.png", np.zeros((200, 50), np.uint8))
    monkeypatch.setattr(raster, "read_header", lambda p, data: RasterHeader("PNG", 5, 5, False))  # a lying header
    with pytest.raises(RadiographError, match="50 x 200 pixels, above the limit of 100"):
        load_radiograph(path, max_side=100)
    assert load_radiograph(path, max_side=200).shape == (200, 50)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".bmp"])
def test_oversized_image_is_refused_before_decoding(tmp_path, monkeypatch, ext):
    path = _write(tmp_path / f"wide{ext}", np.zeros((30, 120), np.uint8))
    calls = []
    monkeypatch.setattr(cv2, "imdecode", lambda *args: calls.append(args))
    with pytest.raises(RadiographError, match="120 x 30 pixels, above the limit of 100"):
        load_radiograph(path, max_side=100)
    assert calls == []  # refused from the header, nothing was decoded


def test_nan_in_float_tiff(tmp_path):
    img = np.ones((8, 8), np.float32)
    img[3, 4] = np.nan
    with pytest.raises(RadiographError, match="NaN or infinite"):
        load_radiograph(_write(tmp_path / "nan.tif", img))
    img[3, 4] = np.inf
    with pytest.raises(RadiographError, match="NaN or infinite"):
        load_radiograph(_write(tmp_path / "inf.tif", img))


def test_dicom_now_loads(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    img = _ramp16(6, 5)
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.Rows, ds.Columns = img.shape
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 15, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = img.tobytes()
    by_magic = tmp_path / "scan.bin"  # found by the DICM magic, whatever the suffix
    ds.save_as(by_magic, enforce_file_format=True)
    rg = load_radiograph(by_magic)
    np.testing.assert_array_equal(rg.pixels, img)
    assert rg.metadata["format"] == "DICOM"
    # A bare DICM marker without a data set is a DICOM error naming the file.
    broken = tmp_path / "broken.DCM"
    broken.write_bytes(b"\x00" * 128 + b"DICM" + b"\x00" * 64)
    with pytest.raises(RadiographError) as info:
        load_radiograph(broken)
    assert str(info.value).startswith("broken.DCM: ")


def test_dicom_result_is_checked_against_max_side(tmp_path, monkeypatch):
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"\x00" * 200)
    big = Radiograph.from_array(np.zeros((30, 10), np.uint16))
    monkeypatch.setattr(rio, "_load_dicom", lambda p, limits: big)
    assert load_radiograph(path) is big
    with pytest.raises(RadiographError, match="above the limit of 20"):
        load_radiograph(path, max_side=20)


def test_unexpected_decoder_exceptions_are_wrapped(tmp_path, monkeypatch):
    path = _write(tmp_path / "ok.png", _ramp16(6, 6))

    def raising(buf, flags):
        raise cv2.error("OpenCV(9.9) somewhere.cpp:1: error: (-2:Unspecified error) boom")

    monkeypatch.setattr(cv2, "imdecode", raising)
    with pytest.raises(RadiographError, match="ok.png: the PNG decoder failed .*boom") as info:
        load_radiograph(path)
    assert isinstance(info.value.__cause__, cv2.error)

    def broken(*args):
        raise RuntimeError("something odd")

    monkeypatch.setattr(raster, "to_grey", broken)
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: np.zeros((6, 6, 3), np.uint8))
    with pytest.raises(RadiographError, match="RuntimeError: something odd"):
        load_radiograph(path)


@pytest.mark.parametrize(
    ("decoded", "reason"),
    [
        (np.zeros((6, 6, 5), np.uint8), "unsupported image layout"),
        (np.zeros((2, 6, 6), np.uint8).reshape(2, 6, 6, 1), "unsupported image layout"),
        (np.zeros((0, 6), np.uint8), "empty image"),
    ],
)
def test_odd_decoded_shapes(tmp_path, monkeypatch, decoded, reason):
    path = _write(tmp_path / "odd.png", _ramp16(6, 6))
    monkeypatch.setattr(cv2, "imdecode", lambda buf, flags: decoded)
    with pytest.raises(RadiographError, match=reason):
        load_radiograph(path)


def test_opencv_log_level_is_restored(tmp_path):
    log = cv2.utils.logging
    before = log.getLogLevel()
    path = _truncated(tmp_path, "cut.tif", ".tif", _ramp16(100, 100))
    with pytest.raises(RadiographError):
        load_radiograph(path)
    assert log.getLogLevel() == before


def test_error_pickles_and_bad_arguments():
    err = RadiographError("/some/dir/img.png", "truncated file")
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, RadiographError)
    assert (back.path.name, back.reason, str(back)) == ("img.png", "truncated file",
                                                        "img.png: truncated file")
    with pytest.raises(ValueError):
        load_radiograph("whatever.png", max_side=0)


# --------------------------------------------------------------------------- Radiograph


def test_from_array_uint8_float64_uint16():
    u8 = np.arange(12, dtype=np.uint8).reshape(3, 4)
    rg = Radiograph.from_array(u8)
    assert rg.pixels.dtype == np.uint16
    np.testing.assert_array_equal(rg.pixels, u8)
    assert rg.spacing is None and rg.source is None
    assert rg.image_id.startswith("sha256:") and len(rg.image_id) == 39

    f64 = np.linspace(-1, 1, 12).reshape(3, 4)
    rg = Radiograph.from_array(f64, spacing=(0.2, 0.15), source="x.png", image_id="custom")
    assert rg.pixels.dtype == np.float32
    np.testing.assert_allclose(rg.pixels, f64, rtol=1e-6)
    assert rg.spacing == (0.2, 0.15)
    assert rg.image_id == "custom"
    assert rg.window.lower < rg.window.upper

    u16 = _ramp16(5, 5)
    rg = Radiograph.from_array(u16)
    u16[0, 0] = 0  # the radiograph holds a copy
    assert rg.pixels[0, 0] == 300
    assert Radiograph.from_array(np.array([[-3, 4]], np.int16)).pixels.dtype == np.float32


def test_from_array_colour():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 200  # red
    rg = Radiograph.from_array(rgb)
    assert rg.pixels.shape == (2, 3) and rg.pixels.dtype == np.uint16
    assert np.all(rg.pixels == round(0.299 * 200))
    assert "luminance" in rg.warnings[0]
    bgr = Radiograph.from_array(rgb, channel_order="BGR")
    assert np.all(bgr.pixels == round(0.114 * 200))
    rgba = np.concatenate([rgb, np.full((2, 3, 1), 9, np.uint8)], axis=2)
    np.testing.assert_array_equal(Radiograph.from_array(rgba).pixels, rg.pixels)
    f = Radiograph.from_array(rgb.astype(np.float64) / 255)
    assert f.pixels.dtype == np.float32
    np.testing.assert_allclose(f.pixels, 0.299 * 200 / 255, rtol=1e-6)
    single = Radiograph.from_array(np.ones((4, 4, 1), np.uint8))
    assert single.shape == (4, 4) and single.warnings == []


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(5),
        np.zeros((2, 3, 4, 5)),
        np.zeros((3, 3, 7)),
        np.zeros((0, 4)),
        np.array([[1.0, np.nan]]),
        np.array([[1.0, -np.inf]]),
        np.zeros((2, 2), bool),
        np.zeros((2, 2), complex),
        np.array([["a", "b"]]),
    ],
)
def test_from_array_rejects(bad):
    with pytest.raises(ValueError):
        Radiograph.from_array(bad)


def test_from_array_rejects_bad_spacing():
    for spacing in [(0.0, 1.0), (-1.0, 1.0), (1.0,), (float("nan"), 1.0), "ab",
                    (1e300, 0.1), (0.1, 0.001), (5.5, 1.0)]:  # outside 0.01-5 mm
        with pytest.raises(ValueError):
            Radiograph.from_array(np.zeros((2, 2), np.uint8), spacing=spacing)


def test_array_image_id_depends_on_content_shape_and_dtype():
    a = np.arange(16, dtype=np.uint16)
    assert array_image_id(a.reshape(4, 4)) == array_image_id(a.reshape(4, 4).copy())
    assert array_image_id(a.reshape(4, 4)) != array_image_id(a.reshape(2, 8))
    assert array_image_id(a.reshape(4, 4)) != array_image_id(a.reshape(4, 4).astype(np.float32))
    t = a.reshape(4, 4).T  # non-contiguous input hashes like its contiguous copy
    assert array_image_id(t) == array_image_id(np.ascontiguousarray(t))
    assert Radiograph.from_array(a.reshape(4, 4)).image_id == array_image_id(a.reshape(4, 4))


def test_radiograph_constructor_checks_invariants():
    win = Window(1.0, 2.0)
    common = dict(spacing=None, window=win, photometric="MONOCHROME2", image_id="i", source=None)
    with pytest.raises(ValueError):
        Radiograph(pixels=np.zeros((2, 2), np.float64), **common)
    with pytest.raises(ValueError):
        Radiograph(pixels=np.zeros((2, 2, 3), np.uint16), **common)
    with pytest.raises(ValueError):
        Radiograph(pixels=np.zeros((0, 2), np.uint16), **common)
    rg = Radiograph(pixels=np.zeros((2, 3), np.uint16), **{**common, "spacing": [1, 2]})
    assert rg.spacing == (1.0, 2.0) and rg.shape == (2, 3)
    assert "pixels" not in repr(rg)


def test_import_stays_light():
    code = (
        "import sys, vam_gui.io; "
        "bad = [m for m in ('cv2', 'torch', 'PySide6', 'pyqtgraph') if m in sys.modules]; "
        "assert vam_gui.io.Radiograph is not None; "
        "sys.exit(', '.join(bad) or None)"
    )
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env
    )
    assert result.returncode == 0, result.stderr
    assert ReexportedRadiograph is Radiograph


# --------------------------------------------------------------------------- fuzzing


def _small_png() -> bytes:
    yy, xx = np.mgrid[0:6, 0:8]
    return cv2.imencode(".png", (yy * 4000 + xx * 300).astype(np.uint16))[1].tobytes()


_BASES = {
    "png": _small_png(),
    "jpeg": cv2.imencode(".jpg", np.arange(64, dtype=np.uint8).reshape(8, 8) * 3)[1].tobytes(),
    "tiff": cv2.imencode(".tif", np.arange(48, dtype=np.uint16).reshape(6, 8) * 999)[1].tobytes(),
    "bmp": cv2.imencode(".bmp", np.arange(48, dtype=np.uint8).reshape(6, 8))[1].tobytes(),
}

_mutation = byte_mutations()
_mutate = mutate


_FIXTURE_OK = [HealthCheck.function_scoped_fixture]  # the file is rewritten per example


def _check_outcome(path):
    try:
        rg = load_radiograph(path)
    except RadiographError as err:  # anything else fails the test
        assert path.name in str(err)
        assert err.reason
        return
    assert isinstance(rg, Radiograph)
    assert rg.pixels.ndim == 2 and rg.pixels.size > 0
    assert rg.pixels.dtype in (np.uint16, np.float32)
    assert rg.window.lower < rg.window.upper


@settings(deadline=None, max_examples=200, suppress_health_check=_FIXTURE_OK)
@given(mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_fuzzed_png_never_escapes(tmp_path, mutations):
    path = tmp_path / "fuzz.png"
    path.write_bytes(_mutate(_BASES["png"], mutations))
    _check_outcome(path)


@settings(deadline=None, max_examples=200, suppress_health_check=_FIXTURE_OK)
@given(base=st.sampled_from(["jpeg", "tiff", "bmp"]),
       mutations=st.lists(_mutation, min_size=1, max_size=4))
def test_fuzzed_other_formats_never_escape(tmp_path, base, mutations):
    path = tmp_path / f"fuzz.{base}"
    path.write_bytes(_mutate(_BASES[base], mutations))
    _check_outcome(path)


def test_a_known_id_spares_the_hash_and_nothing_else(tmp_path, monkeypatch):
    """A study's image is read with its id: the same pixels, window and metadata, without the
    file's SHA-256 (seconds at a study's scale); a file read on its own is still hashed."""
    path = tmp_path / "film.png"
    cv2.imwrite(str(path), np.random.default_rng(3).integers(0, 4096, (90, 70), dtype=np.uint16))
    hashed = load_radiograph(path)
    assert hashed.image_id == "sha256:" + file_sha256(path)[:32] and hashed.metadata["sha256"] == file_sha256(path)

    def no_hash(*_args):
        raise AssertionError("hashed")

    monkeypatch.setattr(raster.hashlib, "sha256", no_hash)
    known = load_radiograph(path, known_id="sha256:abc")
    assert known.image_id == "sha256:abc" and "sha256" not in known.metadata
    assert np.array_equal(known.pixels, hashed.pixels) and known.window == hashed.window
    assert {k: v for k, v in hashed.metadata.items() if k != "sha256"} == known.metadata


def test_a_study_reads_its_images_without_hashing_them(tmp_path, monkeypatch):
    from vam_gui.io import Study

    images = tmp_path / "images"
    images.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((40, 30), 7, np.uint8))
    with Study.create(tmp_path / "s.vamstudy") as study:
        study.add_images([images])
        (image_id,) = study.image_ids()
        monkeypatch.setattr(raster.hashlib, "sha256", lambda *_a: pytest.fail("hashed at display"))
        rad = study.load_radiograph(image_id)
        assert rad.image_id == image_id and rad.pixels.shape == (40, 30)
