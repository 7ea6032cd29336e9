"""Read a DICOM radiograph into a :class:`Radiograph` (pydicom >= 3 backends).

:func:`read_dicom` decodes the first frame (native or compressed: JPEG, JPEG-LS,
JPEG 2000, RLE, deflated; compressed syntaxes need pylibjpeg and its plugins), applies
the modality LUT (pydicom's :func:`~pydicom.pixels.apply_modality_lut`), inverts
MONOCHROME1 so bone is bright, and takes spacing and the initial window from the tags.

Nothing that identifies a patient, a study or an institution reaches the radiograph:
``metadata`` holds a fixed set of technical values, warnings name tags but never quote
their values, and error reasons name exception types rather than their text (pydicom
messages can quote element values).

pydicom and cv2 are imported inside the functions that need them, so importing this
module stays cheap.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.grey import to_grey
from vam_gui.core.radiograph import Radiograph, Window
from vam_gui.core.spacing import valid_spacing
from vam_gui.io.radiograph import (
    DEFAULT_MAX_SIDE,
    TRUNCATED,
    RadiographError,
    _check_side,
    _looks_like_raw_dicom,
    _os_reason,
    _read_bytes,
    _read_head,
)

__all__ = ["NO_PIXEL_DATA", "NOT_DICOM", "PLUGIN_HINT", "read_dicom"]

NO_PIXEL_DATA = "DICOM file has no pixel data"
NOT_DICOM = "not a readable DICOM file"
PLUGIN_HINT = "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg"

_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# (7FE0,0010) element headers as they appear in a file: explicit VR OB/OW (little and
# big endian) and implicit VR with undefined length (encapsulated).
_PIXEL_DATA_HEADERS = (
    b"\xe0\x7f\x10\x00OB", b"\xe0\x7f\x10\x00OW", b"\xe0\x7f\x10\x00\xff\xff\xff\xff",
    b"\x7f\xe0\x00\x10OB", b"\x7f\xe0\x00\x10OW",
)
_UID_RE = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")
_CS_RE = re.compile(r"^[A-Z0-9 _]{1,16}$")  # the Code String character set


def read_dicom(
    path: str | os.PathLike[str],
    data: bytes | None = None,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
) -> Radiograph:
    """Decode the DICOM file ``path`` (parsed from ``data`` when given, else from disk).

    ``pixels`` are the first frame after the modality LUT and, for MONOCHROME1, after
    inversion (``uint16`` when integral within 0..65535, else ``float32``); colour is
    reduced to BT.601 luminance. ``spacing`` is PixelSpacing, else ImagerPixelSpacing
    (``spacing_is_detector=True``), as ``(dy, dx)`` mm. ``window`` comes from
    WindowCenter/WindowWidth, else the VOI LUT's input range, else the pixel
    percentiles. ``image_id`` is ``"uid:" + SOPInstanceUID`` or the file's SHA-256.
    Raises :class:`RadiographError` for anything that cannot be read.
    """
    path = Path(os.fspath(path))
    try:
        return _read(path, _Source(path, data), int(max_side))
    except RadiographError:
        raise
    except MemoryError as exc:
        raise RadiographError(path, "not enough memory to read the image") from exc
    except Exception as exc:  # never a raw pydicom traceback; its text may quote values
        reason = f"could not read the DICOM file ({type(exc).__name__})"
        raise RadiographError(path, reason) from exc


class _Source:
    """The file's bytes, read only when needed: pydicom parses straight from the file,
    so with a SOPInstanceUID for the id no second copy of the pixel data is made."""

    def __init__(self, path: Path, data: bytes | None) -> None:
        self.path = path
        self._data = data

    def head(self) -> bytes:
        return self._data[:132] if self._data is not None else _read_head(self.path, 132)

    @property
    def has_data(self) -> bool:
        return self._data is not None

    def data(self) -> bytes:
        if self._data is None:
            self._data = _read_bytes(self.path)
        return self._data


def _read(path: Path, src: _Source, max_side: int) -> Radiograph:
    ds, recognised = _parse(path, src)
    if _last_element_truncated(ds):
        raise RadiographError(path, TRUNCATED if recognised else NOT_DICOM)
    warnings: list[str] = []

    pixel_kw = next((kw for kw in _PIXEL_KEYWORDS if kw in ds), None)
    if pixel_kw is None:
        if any(h in src.data() for h in _PIXEL_DATA_HEADERS):
            raise RadiographError(path, TRUNCATED)  # the parser stopped inside it
        raise RadiographError(path, NO_PIXEL_DATA if recognised else NOT_DICOM)

    rows, cols = _int_tag(ds, "Rows"), _int_tag(ds, "Columns")
    if rows is None or cols is None:
        raise RadiographError(path, "DICOM file lacks valid Rows / Columns values")
    if rows == 0 or cols == 0:
        raise RadiographError(path, f"empty image ({cols} x {rows} pixels)")
    _check_side(path, rows, cols, max_side)
    photometric = _fill_pixel_module(path, ds, warnings)
    frames = max(_int_tag(ds, "NumberOfFrames") or 1, 1)

    ts_uid, ts_label = _transfer_syntax(ds)
    _check_decoder(path, ts_uid, ts_label)
    _check_length(path, ds, pixel_kw, ts_uid)

    if frames > 1:
        # Decode one frame only: the others would cost time and memory for nothing.
        ds.pixel_array_options(index=0)
        warnings.append(f"multi-frame DICOM ({frames} frames): showing the first")
    try:
        arr = ds.pixel_array
    except Exception as exc:
        reason = f"could not decode the {ts_label} pixel data ({type(exc).__name__})"
        if ts_uid.is_encapsulated:  # the installed plugins may not cover this variant
            reason += f"; the data may be corrupt or need another decoder ({PLUGIN_HINT})"
        raise RadiographError(path, reason) from exc
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.shape[:2] != (rows, cols) or arr.ndim not in (2, 3):
        raise RadiographError(path, f"decoded pixel data has an unexpected shape {arr.shape}")

    inverted_total: float | None = None
    if arr.ndim == 3 or photometric == "PALETTE COLOR":
        gray = _colour_to_gray(arr, ds, photometric, warnings)
        pixels = _to_storage(path, gray)
        window = None
    else:
        out, low, high = _modality(arr, ds, pixel_kw, warnings)
        window = _window_from_tags(ds, warnings)
        if photometric == "MONOCHROME1":
            out, inverted_total = _invert(out, low, high)
        pixels = _to_storage(path, out)
        if window is not None and inverted_total is not None:
            window = Window(inverted_total - window.center, window.width)
    if window is None:
        window = Window.from_pixels(pixels)

    spacing, detector = _spacing(ds, warnings)
    uid = _valid_uid(ds.get("SOPInstanceUID"))
    if uid:
        image_id = "uid:" + uid
    else:  # the same id as the raster reader gives: a hash of the file bytes
        image_id = "sha256:" + hashlib.sha256(src.data()).hexdigest()[:32]

    metadata = {"format": "DICOM"}
    for key, kw in (("modality", "Modality"), ("body_part", "BodyPartExamined"),
                    ("view", "ViewPosition")):
        value = _code_string(ds, kw)
        if value:
            metadata[key] = value
    metadata.update(rows=str(rows), columns=str(cols),
                    bits_stored=str(_int_tag(ds, "BitsStored")),
                    transfer_syntax=ts_label if ts_uid.is_transfer_syntax else "private",
                    photometric=photometric)
    if frames > 1:
        metadata["frames"] = str(frames)
    if inverted_total is not None:
        metadata["inverted"] = "MONOCHROME1 inverted so that bone is bright"

    return Radiograph(
        pixels=pixels, spacing=spacing, window=window, photometric=photometric,
        image_id=image_id, source=path.absolute(), warnings=warnings, metadata=metadata,
        spacing_is_detector=detector,
    )


# --------------------------------------------------------------------------- parsing


def _parse(path: Path, src: _Source) -> tuple[Any, bool]:
    """The dataset, and whether the bytes were recognisably DICOM before parsing."""
    pydicom = _pydicom()
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

    head = src.head()
    prefix = b""
    if head[128:132] == b"DICM":
        force, recognised = False, True
    elif head[:4] == b"DICM":  # file meta without the preamble: give pydicom one
        prefix, force, recognised = bytes(128), False, True
    else:  # a bare data set; the parser guesses its encoding
        force, recognised = True, _looks_like_raw_dicom(head)
    try:
        fh = BytesIO(prefix + src.data()) if prefix or src.has_data else path.open("rb")
    except OSError as exc:
        raise RadiographError(path, _os_reason(exc)) from exc
    try:
        with fh:  # pydicom raises OSError for malformed tags too: not a file-access problem
            ds = pydicom.dcmread(fh, force=force)
    except EOFError as exc:
        raise RadiographError(path, TRUNCATED if recognised else NOT_DICOM) from exc
    except Exception as exc:
        raise RadiographError(path, f"{NOT_DICOM} ({type(exc).__name__})") from exc

    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = ds.file_meta = FileMetaDataset()
    if not meta.get("TransferSyntaxUID"):
        implicit, little = ds.original_encoding
        if implicit or implicit is None:
            meta.TransferSyntaxUID = ImplicitVRLittleEndian
        else:
            meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    return ds, recognised


def _last_element_truncated(ds: Any) -> bool:
    """True when the file ends inside the value of its last element.

    pydicom keeps such a value short without complaint; element lengths are still the
    declared ones until an element is first accessed, so call this right after parsing.
    """
    from pydicom.dataelem import RawDataElement

    tags = list(ds.keys())
    if not tags:
        return False
    raw = ds.get_item(tags[-1])
    return (
        isinstance(raw, RawDataElement)
        and raw.length != 0xFFFFFFFF
        and isinstance(raw.value, bytes)
        and len(raw.value) < raw.length
    )


def _fill_pixel_module(path: Path, ds: Any, warnings: list[str]) -> str:
    """Check the Image Pixel attributes pydicom needs, defaulting the harmless ones."""
    spp = _int_tag(ds, "SamplesPerPixel")
    if spp is None:
        ds.SamplesPerPixel = spp = 1
    if spp not in (1, 3):
        raise RadiographError(path, f"unsupported SamplesPerPixel {spp} (1 or 3 expected)")
    bits_allocated = _int_tag(ds, "BitsAllocated")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise RadiographError(path, "DICOM file lacks a valid BitsAllocated value")
    bits_stored = _int_tag(ds, "BitsStored")
    if bits_stored is None or not 1 <= bits_stored <= bits_allocated:
        ds.BitsStored = bits_allocated
        ds.HighBit = bits_allocated - 1
    if _int_tag(ds, "PixelRepresentation") not in (0, 1):
        ds.PixelRepresentation = 0
    photometric = _code_string(ds, "PhotometricInterpretation")
    if not photometric:
        photometric = "MONOCHROME2" if spp == 1 else "RGB"
        warnings.append(f"PhotometricInterpretation missing or invalid: assumed {photometric}")
        ds.PhotometricInterpretation = photometric
    return photometric


def _transfer_syntax(ds: Any) -> tuple[Any, str]:
    from pydicom.uid import UID

    uid = UID(str(ds.file_meta.TransferSyntaxUID).strip("\x00 "))
    if not _UID_RE.match(uid) or len(uid) > 64:
        return uid, "invalid transfer syntax UID"
    name = uid.name
    return uid, name if name != uid else f"transfer syntax {uid}"


def _check_decoder(path: Path, uid: Any, label: str) -> None:
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise RadiographError(path, f"unsupported transfer syntax: {label}") from None
    if not decoder.is_available:
        reason = f"cannot decode {label} pixel data: no decoder plugin is installed"
        raise RadiographError(path, f"{reason} ({PLUGIN_HINT})")


def _check_length(path: Path, ds: Any, pixel_kw: str, uid: Any) -> None:
    """Refuse pixel data that stops before its declared end ("truncated file")."""
    from pydicom.pixels.utils import get_expected_length

    value = ds[pixel_kw].value
    if not isinstance(value, (bytes, bytearray)):
        raise RadiographError(path, "DICOM pixel data has an unexpected encoding")
    if uid.is_encapsulated:
        if _fragments_truncated(value):
            raise RadiographError(path, TRUNCATED)
    elif len(value) < get_expected_length(ds, "bytes"):
        raise RadiographError(path, TRUNCATED)


def _fragments_truncated(buf: bytes | bytearray) -> bool:
    """True when an encapsulated item claims more bytes than the buffer holds."""
    pos, n = 0, len(buf)
    while pos + 8 <= n:
        group, elem, length = struct.unpack_from("<HHI", buf, pos)
        if group != 0xFFFE or elem != 0xE000 or length == 0xFFFFFFFF:
            return False  # delimiter or malformed: the decoder decides
        pos += 8 + length
    return pos != n


# --------------------------------------------------------------------------- pixels


def _modality(
    arr: np.ndarray, ds: Any, pixel_kw: str, warnings: list[str]
) -> tuple[np.ndarray, float | None, float | None]:
    """Apply the modality LUT; also return the representable output range (or Nones)."""
    from pydicom.pixels import apply_modality_lut

    low: float | None = None
    high: float | None = None
    if pixel_kw == "PixelData":
        bits = _int_tag(ds, "BitsStored") or 16
        if _int_tag(ds, "PixelRepresentation") == 1:
            low, high = -(2.0 ** (bits - 1)), 2.0 ** (bits - 1) - 1
        else:
            low, high = 0.0, 2.0**bits - 1

    if ds.get("ModalityLUTSequence"):
        out = apply_modality_lut(arr, ds)
        depth = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        return out, 0.0, 2.0**depth - 1
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        return arr, low, high
    slope, intercept = _float_tag(ds, "RescaleSlope"), _float_tag(ds, "RescaleIntercept")
    if slope is None or intercept is None or slope == 0:
        warnings.append("RescaleSlope / RescaleIntercept missing or invalid: not applied")
        return arr, low, high
    if slope == 1 and intercept == 0:
        return arr, low, high  # the common case: skip a float64 copy of the image
    ds.RescaleSlope, ds.RescaleIntercept = slope, intercept  # parsed once, clean values
    out = apply_modality_lut(arr, ds)
    if low is not None and high is not None:
        low, high = sorted((low * slope + intercept, high * slope + intercept))
    return out, low, high


def _invert(arr: np.ndarray, low: float | None, high: float | None) -> tuple[np.ndarray, float]:
    """MONOCHROME1 -> bone bright: ``low + high - value`` over the representable range.

    The range grows to the actual data when values lie outside it (wrong BitsStored),
    so inverted values stay within the same range.
    """
    amin, amax = float(arr.min()), float(arr.max())
    low = amin if low is None else min(low, amin)
    high = amax if high is None else max(high, amax)
    total = low + high
    if arr.dtype in (np.uint8, np.uint16) and 0 <= total <= 65535 and total == int(total):
        return np.subtract(np.uint16(total), arr, dtype=np.uint16), total
    if np.issubdtype(arr.dtype, np.integer) and abs(total) < 2**62:
        return np.int64(total) - arr.astype(np.int64), total
    return total - arr.astype(np.float64), total


def _to_storage(path: Path, arr: np.ndarray) -> np.ndarray:
    """``uint16`` when integral and within 0..65535, else ``float32``."""
    if arr.dtype == np.uint16:
        return np.ascontiguousarray(arr)
    if arr.dtype == np.uint8:
        return arr.astype(np.uint16)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() >= 0 and arr.max() <= 65535:
            return arr.astype(np.uint16)
        return arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise RadiographError(path, "image contains NaN or infinite values")
    if arr.min() >= 0 and arr.max() <= 65535 and np.array_equal(arr, np.trunc(arr)):
        return arr.astype(np.uint16)
    return arr.astype(np.float32)


def _colour_to_gray(arr: np.ndarray, ds: Any, photometric: str, warnings: list[str]) -> np.ndarray:
    """BT.601 luminance of RGB (pydicom already converted YBR; palettes are applied)."""
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        arr = apply_color_lut(arr, ds)
    return to_grey(arr[:, :, :3], "RGB", warnings, what=f"colour DICOM ({photometric})")


# --------------------------------------------------------------------------- tags


def _window_from_tags(ds: Any, warnings: list[str]) -> Window | None:
    """WindowCenter/WindowWidth (first values), else the VOI LUT's input range."""
    if "WindowCenter" in ds or "WindowWidth" in ds:
        center, width = _float_tag(ds, "WindowCenter"), _float_tag(ds, "WindowWidth")
        if center is not None and width is not None and width > 0:
            return Window(center, width)
        warnings.append("WindowCenter / WindowWidth missing or invalid: window ignored")
    try:
        seq = ds.get("VOILUTSequence")
        if seq:
            n, first = (int(v) for v in list(seq[0].LUTDescriptor)[:2])
            return Window.from_bounds(first, first + (n or 65536))
    except Exception:  # a malformed sequence only costs the initial window
        warnings.append("VOILUTSequence malformed: window ignored")
    return None


def _spacing(ds: Any, warnings: list[str]) -> tuple[tuple[float, float] | None, bool]:
    for kw, detector in (("PixelSpacing", False), ("ImagerPixelSpacing", True)):
        if kw not in ds:
            continue
        pair = _float_pair(ds, kw)
        if pair is None:
            warnings.append(f"{kw} is malformed, zero or negative: ignored")
            continue
        if detector:
            warnings.append(
                "spacing from ImagerPixelSpacing (at the detector): the geometric "
                "magnification is not corrected, so distances are slightly overestimated"
            )
        return pair, detector
    return None, False


def _float_pair(ds: Any, kw: str) -> tuple[float, float] | None:
    try:
        values = [float(v) for v in _as_list(ds[kw].value)]
    except Exception:  # unparseable DS
        return None
    return valid_spacing(values)


def _float_tag(ds: Any, kw: str) -> float | None:
    """The first value of a numeric tag, or None when missing, empty or malformed."""
    try:
        values = _as_list(ds[kw].value)
        value = float(values[0])
    except Exception:
        return None
    return value if math.isfinite(value) else None


def _int_tag(ds: Any, kw: str) -> int | None:
    value = _float_tag(ds, kw)
    if value is None or value != int(value) or value < 0:
        return None
    return int(value)


def _as_list(value: Any) -> list[Any]:
    if value is None or isinstance(value, (str, bytes)):
        return [value] if value not in (None, "", b"") else []
    try:
        return list(value)
    except TypeError:
        return [value]


def _code_string(ds: Any, kw: str) -> str | None:
    """A Code String value when it looks like one (so free text never leaks through)."""
    try:
        values = _as_list(ds[kw].value) if kw in ds else []
        value = str(values[0]).strip() if values else ""
    except Exception:
        return None
    return value if _CS_RE.match(value) else None


def _valid_uid(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    uid = value.strip("\x00 ")
    return uid if 0 < len(uid) <= 64 and _UID_RE.match(uid) else None


def _pydicom() -> Any:
    import pydicom  # lazy: ~0.2 s, and only DICOM files need it

    return pydicom
