"""Size limits and hostile headers: images are refused from their header, before decoding,
in a line naming the file, the size and the limit. Every file is built here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from vam_gui.core.settings import Settings, save_settings, settings_path
from vam_gui.io import RadiographError, load_radiograph
from vam_gui.io.dicom import read_dicom
from vam_gui.io.image_limits import DEFAULT_MAX_PIXELS, ImageLimits
from vam_gui.io.raster_header import read_header

ROOT = Path(__file__).resolve().parents[2]


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return len(payload).to_bytes(4, "big") + kind + payload + zlib.crc32(kind + payload).to_bytes(4, "big")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` 8-bit grey pixels, with one tiny IDAT."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    idat = zlib.compress(b"\x00" * 64)  # a few rows' worth, far from the claimed image
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _hostile_png(tmp_path: Path) -> tuple[Path, Path]:
    """A valid ~37 KB PNG, and the same file with the IDAT length field set to 0xFFFFFFFF."""
    noise = np.random.default_rng(0).integers(0, 256, (190, 195), dtype=np.uint8)
    data = cv2.imencode(".png", noise)[1].tobytes()
    assert 30_000 < len(data) < 45_000
    good = tmp_path / "good.png"
    good.write_bytes(data)
    at = data.index(b"IDAT") - 4
    bad = tmp_path / "hostile.png"
    bad.write_bytes(data[:at] + b"\xff\xff\xff\xff" + data[at + 4:])
    return good, bad


# A fresh interpreter: the readers' lazy imports are made first, so that only the refusal
# itself is measured (peak RSS growth and wall time).
_MEASURE = """
import json, resource, sys, time
import cv2, PIL.Image, PIL.PngImagePlugin
from vam_gui.io import RadiographError, load_radiograph


def peak_kb():
    # VmHWM: this program's own peak; ru_maxrss survives exec and would start at the peak of
    # the pytest process this one was forked from, hiding any growth below it.
    try:
        return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


before = peak_kb()
start = time.perf_counter()
try:
    load_radiograph(sys.argv[1])
    outcome = "loaded"
except RadiographError as err:
    outcome = str(err)
seconds = time.perf_counter() - start
grown = peak_kb() - before
print(json.dumps({"outcome": outcome, "seconds": seconds, "grown": grown}))
"""


def _measure(path: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["grown_mb"] = result["grown"] / (2**20 if sys.platform == "darwin" else 2**10)
    return result


@pytest.mark.skipif(sys.platform == "win32", reason="peak RSS through the resource module")
def test_png_with_a_hostile_idat_length_is_refused_fast_and_small(tmp_path):
    good, bad = _hostile_png(tmp_path)
    assert load_radiograph(good).shape == (190, 195)  # the file was valid before the edit
    result = _measure(bad)
    assert result["outcome"] == "hostile.png: truncated file"
    assert result["seconds"] < 1.0, result
    assert result["grown_mb"] < 200, result  # it cost 4 GiB and 7 s before the chunk check


def test_huge_png_header_is_refused_by_the_pixel_limit_without_decoding(tmp_path, monkeypatch):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(16_000, 16_000))
    calls = []
    monkeypatch.setattr(cv2, "imdecode", lambda *args: calls.append(args))
    with pytest.raises(RadiographError) as info:
        load_radiograph(path)
    reason = str(info.value)
    assert calls == []  # refused from the header
    assert reason.startswith("huge.png: image is 16000 x 16000 pixels (256,000,000 pixels), "
                             "above the limit of 200,000,000 pixels; ")
    assert '"max_image_pixels"' in reason and str(settings_path()) in reason and "\n" not in reason


@pytest.mark.skipif(sys.platform == "win32", reason="peak RSS through the resource module")
def test_huge_png_header_costs_nothing(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(_png_header_only(16_000, 16_000))
    result = _measure(path)
    assert "above the limit of 200,000,000 pixels" in result["outcome"]
    assert result["seconds"] < 1.0 and result["grown_mb"] < 50, result


def test_pillows_own_bomb_guard_is_not_involved(tmp_path):
    # 15000 x 12000 = 180 M pixels: Image.open would raise DecompressionBombError (above
    # 2 x 89 M); the header is still read, and the user's limit decides.
    data = _png_header_only(15_000, 12_000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning either
        header = read_header(tmp_path / "h.png", data)
        assert (header.width, header.height) == (15_000, 12_000)
        assert (read_header(tmp_path / "h.png", _png_header_only(16_000, 16_000)).width) == 16_000


def test_the_setting_sets_the_limit_and_the_argument_overrides_it(tmp_path):
    path = tmp_path / "small.png"
    assert cv2.imwrite(str(path), np.zeros((10, 20), np.uint8))
    assert ImageLimits.resolve().max_pixels == DEFAULT_MAX_PIXELS == 200_000_000
    save_settings(Settings(max_image_pixels=150))
    with pytest.raises(RadiographError, match=r"20 x 10 pixels \(200 pixels\), above the limit of 150 pixels"):
        load_radiograph(path)
    assert load_radiograph(path, max_pixels=200).shape == (10, 20)
    with pytest.raises(RadiographError, match="above the limit of 199 pixels"):
        load_radiograph(path, max_pixels=199)
    save_settings(Settings(max_image_pixels=0))  # a nonsense setting means the default
    assert load_radiograph(path).shape == (10, 20)


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "100"])
def test_bad_limit_arguments_are_value_errors(bad):
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        load_radiograph("whatever.png", max_pixels=bad)
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        read_dicom("whatever.dcm", max_pixels=bad)


def _dicom(rows: int, cols: int, frames: int, pixel_bytes: bytes) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.Rows, ds.Columns = rows, cols
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.BitsAllocated = ds.BitsStored = 16
    ds.HighBit, ds.PixelRepresentation, ds.SamplesPerPixel = 15, 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = pixel_bytes
    return ds


def test_dicom_rows_columns_frames_are_checked_before_decoding(tmp_path, monkeypatch):
    stack = np.arange(3 * 10 * 20, dtype=np.uint16).reshape(3, 10, 20)
    path = tmp_path / "frames.dcm"
    _dicom(10, 20, 3, stack.tobytes()).save_as(path, enforce_file_format=True)
    np.testing.assert_array_equal(load_radiograph(path, max_pixels=600).pixels, stack[0])
    calls = []
    monkeypatch.setattr(Dataset, "pixel_array", property(lambda self: calls.append(1)))
    with pytest.raises(RadiographError, match=r"^frames.dcm: image is 20 x 10 pixels x 3 frames "
                                              r"\(600 pixels\), above the limit of 599 pixels; "):
        load_radiograph(path, max_pixels=599)
    assert calls == []


def test_dicom_header_claiming_a_huge_image_is_refused_by_the_default_limit(tmp_path):
    path = tmp_path / "claims.dcm"
    _dicom(60_000, 60_000, 1, b"\x00" * 64).save_as(path, enforce_file_format=True)
    with pytest.raises(RadiographError, match="60000 x 60000 pixels .*above the limit of 200,000,000"):
        load_radiograph(path, max_side=100_000)
