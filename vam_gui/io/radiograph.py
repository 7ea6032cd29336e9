"""Read a radiograph from disk: raster images (PNG, JPEG, TIFF, BMP) and DICOM.

``load_radiograph(path)`` is the single entry point. It sniffs the file: DICOM (the
``DICM`` magic at byte 128, a bare data set without preamble, or a ``.dcm`` / ``.dicom``
suffix on a file that is not a raster image) goes to :func:`_load_dicom` and
:mod:`vam_gui.io.dicom` (pydicom), everything else to the raster reader, which decodes
with OpenCV.
Every failure is reported as :class:`RadiographError` (``str(err)`` is
``"<file name>: <reason>"``, ready for the GUI); no decoder exception escapes.

cv2 and pydicom are imported lazily, inside the functions that decode, so importing
``vam_gui.io`` stays fast.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.grey import to_grey
from vam_gui.core.radiograph import Radiograph, Window, to_storage_dtype

__all__ = ["DEFAULT_MAX_SIDE", "RadiographError", "load_radiograph"]

DEFAULT_MAX_SIDE = 20000
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})

NOT_AN_IMAGE = "not a readable image (PNG, JPEG, TIFF or DICOM expected)"
TRUNCATED = "truncated file"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND_CHUNK = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, CRC
_JPEG_EOI = b"\xff\xd9"
_JPEG_SOS = b"\xff\xda"
# Start-of-frame markers (C0-CF except DHT C4, JPG C8, DAC CC).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_CV2_DEFAULT_MAX_PIXELS = 1 << 30


class RadiographError(Exception):
    """A radiograph could not be read. ``path`` is the file, ``reason`` a short sentence."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(self.path, self.reason)  # args round-trip through pickle

    def __str__(self) -> str:
        name = self.path.name or str(self.path)
        return f"{name}: {self.reason}"


def load_radiograph(
    path: str | os.PathLike[str], *, max_side: int = DEFAULT_MAX_SIDE
) -> Radiograph:
    """Read one radiograph; raise :class:`RadiographError` when that is not possible.

    Raster files (PNG, JPEG, TIFF, BMP; 8/16-bit integer, signed or float samples) give
    ``pixels`` as ``uint16`` (unsigned 8/16-bit) or ``float32`` (anything else), colour is
    converted to BT.601 luminance with a warning, ``spacing`` is ``None``, ``photometric``
    is ``"MONOCHROME2"`` and ``image_id`` is ``"sha256:"`` + the first 32 hex digits of the
    SHA-256 of the file bytes. Images with a side above ``max_side`` are refused.
    DICOM files are described in :func:`vam_gui.io.dicom.read_dicom`.
    """
    path = Path(os.fspath(path))
    if isinstance(max_side, bool) or not isinstance(max_side, (int, np.integer)) or max_side < 1:
        raise ValueError(f"max_side must be a positive integer, got {max_side!r}")
    max_side = int(max_side)
    try:
        head = _read_head(path, 132)
        if _is_dicom(path, head):
            rg = _load_dicom(path, max_side)
        else:
            rg = _load_raster(path, max_side)
        _check_side(path, rg.height, rg.width, max_side)
        return rg
    except RadiographError:
        raise
    except MemoryError as exc:
        raise RadiographError(path, "not enough memory to read the image") from exc
    except Exception as exc:  # a decoder or numpy failure: never let it escape raw
        raise RadiographError(path, f"could not read the image ({_describe(exc)})") from exc


def _load_dicom(path: Path, max_side: int = DEFAULT_MAX_SIDE) -> Radiograph:
    """Read a DICOM file with :func:`vam_gui.io.dicom.read_dicom`.

    Pixels come after the modality LUT and MONOCHROME1 inversion (bone bright,
    ``uint16`` or ``float32``), spacing from PixelSpacing (or ImagerPixelSpacing with
    ``spacing_is_detector=True``), the window from the file's VOI when present; anything
    unreadable raises :class:`RadiographError`. ``max_side`` is checked from the header,
    before decoding; ``load_radiograph`` re-checks it on the result.
    """
    from vam_gui.io.dicom import read_dicom  # lazy: dicom.py imports this module

    return read_dicom(path, max_side=max_side)


def _is_dicom(path: Path, head: bytes) -> bool:
    """DICOM by content; the suffix counts only when the content is no raster image."""
    if head[128:132] == b"DICM" or head[:4] == b"DICM" or _looks_like_raw_dicom(head):
        return True
    return path.suffix.lower() in DICOM_SUFFIXES and _sniff_format(head) is None


# Value representations that may follow the first tag of an explicit-VR data set.
_DICOM_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC "
    b"UI UL UN UR US UT UV".split()
)


def _looks_like_raw_dicom(head: bytes) -> bool:
    """A data set written without preamble and ``DICM`` (e.g. old implicit VR files).

    Conservative, so no raster file is taken for one: the first tag must be in group
    0x0002 (file meta) or 0x0008 (identifying information, the first group of a bare
    data set), followed by a known VR (explicit) or a short even length (implicit
    little endian; big endian data sets are always explicit).
    """
    if len(head) < 8:
        return False
    explicit = head[4:6] in _DICOM_VRS
    if struct.unpack(">H", head[:2])[0] in (0x0002, 0x0008) and explicit:
        return True
    if struct.unpack("<H", head[:2])[0] not in (0x0002, 0x0008):
        return False
    if explicit:
        return True
    length = struct.unpack("<I", head[4:8])[0]
    return bool(length <= 1024 and length % 2 == 0)


# --------------------------------------------------------------------------- file access


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        return "file not found"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    return f"cannot read the file ({exc.strerror or exc})"


def _read_head(path: Path, n: int) -> bytes:
    """Check that ``path`` is a non-empty regular file and return its first ``n`` bytes."""
    try:
        st = path.stat()
    except OSError as exc:
        raise RadiographError(path, _os_reason(exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        raise RadiographError(path, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise RadiographError(path, "not a regular file")
    if st.st_size == 0:
        raise RadiographError(path, "empty file (0 bytes)")
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise RadiographError(path, _os_reason(exc)) from exc


def _read_bytes(path: Path) -> bytes:
    # Python file I/O (unlike cv2.imread) copes with non-ASCII paths on every platform.
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RadiographError(path, _os_reason(exc)) from exc
    if not data:
        raise RadiographError(path, "empty file (0 bytes)")
    return data


# --------------------------------------------------------------------------- raster


def _load_raster(path: Path, max_side: int) -> Radiograph:
    data = _read_bytes(path)
    fmt = _sniff_format(data)
    if fmt is None:
        raise RadiographError(path, NOT_AN_IMAGE)
    if _is_truncated(fmt, data):
        raise RadiographError(path, TRUNCATED)

    warnings: list[str] = []
    header = _peek_header(fmt, data)
    if header is not None:
        h, w, more_pages = header
        if h == 0 or w == 0:
            raise RadiographError(path, f"empty image ({w} x {h} pixels)")
        _check_side(path, h, w, max_side)
        limit = _cv2_max_pixels()
        if h * w > limit:
            raise RadiographError(
                path, f"image of {w} x {h} pixels is too large to decode (limit {limit} pixels)"
            )
        if more_pages:
            warnings.append("the TIFF holds more than one image; only the first was read")

    img = _decode(path, fmt, data)
    if img.size == 0:
        raise RadiographError(path, f"empty image (shape {img.shape})")
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    channels = 1 if img.ndim == 2 else int(img.shape[2])
    if not (img.ndim == 2 or (img.ndim == 3 and channels in (2, 3, 4))):
        raise RadiographError(
            path,
            f"unsupported image layout {tuple(img.shape)}: "
            "expected one grayscale or colour image",
        )
    _check_side(path, img.shape[0], img.shape[1], max_side)

    source_dtype = img.dtype
    gray = _to_gray(img, warnings)
    pixels = to_storage_dtype(gray)
    if pixels.dtype == np.float32:
        if not np.isfinite(pixels).all():
            raise RadiographError(path, "image contains NaN or infinite values")
        if np.issubdtype(source_dtype, np.integer) and source_dtype.itemsize >= 4:
            if float(np.abs(pixels).max()) > 2**24:
                warnings.append(
                    f"{source_dtype} values beyond 2^24 lose precision when stored as float32"
                )

    return Radiograph(
        pixels=pixels,
        spacing=None,
        window=Window.from_pixels(pixels),
        photometric="MONOCHROME2",
        image_id="sha256:" + hashlib.sha256(data).hexdigest()[:32],
        source=path.absolute(),
        warnings=warnings,
        metadata={
            "format": fmt,
            "bit_depth": str(source_dtype.itemsize * 8),
            "dtype": str(source_dtype),
            "channels": str(channels),
        },
    )


def _decode(path: Path, fmt: str, data: bytes) -> np.ndarray:
    cv2 = _cv2()
    buf = np.frombuffer(data, dtype=np.uint8)
    try:
        with _quiet_opencv(cv2):
            img = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise RadiographError(path, f"the {fmt} decoder failed ({_describe(exc)})") from exc
    if img is None:
        raise RadiographError(
            path, f"corrupt, truncated or unsupported {fmt} file (the decoder could not read it)"
        )
    return np.asarray(img)


def _to_gray(img: np.ndarray, warnings: list[str]) -> np.ndarray:
    """One channel from a decoded image (cv2 channel order: BGR / BGRA), by ``core.grey``."""
    return to_grey(img, "BGR", warnings)


def _check_side(path: Path, h: int, w: int, max_side: int) -> None:
    if h > max_side or w > max_side:
        raise RadiographError(
            path, f"image is {w} x {h} pixels, above the limit of {max_side} pixels per side"
        )


# --------------------------------------------------------------------------- sniffing


def _sniff_format(data: bytes) -> str | None:
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] in _TIFF_MAGICS:
        return "TIFF"
    if data.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    return None


def _is_truncated(fmt: str, data: bytes) -> bool:
    """True when the file visibly stops early (decoders may return partial images)."""
    if fmt == "PNG":
        return data.rfind(_PNG_IEND_CHUNK) < 0
    if fmt == "JPEG":
        # The last EOI must follow the last start-of-scan (an EXIF thumbnail has its own
        # EOI early in the file); neither marker can occur inside entropy-coded data.
        eoi = data.rfind(_JPEG_EOI)
        return eoi < 0 or eoi < data.rfind(_JPEG_SOS)
    if fmt == "BMP":
        declared = struct.unpack("<I", data[2:6])[0]  # 0 is allowed by some writers
        return bool(declared > len(data))
    return False


def _peek_header(fmt: str, data: bytes) -> tuple[int, int, bool] | None:
    """``(height, width, more_pages)`` from the file header, or None when unsure.

    Lets oversized images be refused before anything is allocated; the decoded image is
    checked again, so a wrong or missing answer here is harmless.
    """
    try:
        if fmt == "PNG":
            if data[12:16] != b"IHDR":
                return None
            w, h = struct.unpack(">II", data[16:24])
            return h, w, False
        if fmt == "JPEG":
            return _peek_jpeg(data)
        if fmt == "TIFF":
            return _peek_tiff(data)
        if fmt == "BMP":
            if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
                w, h = struct.unpack("<HH", data[18:22])
            else:
                w, h = struct.unpack("<ii", data[18:26])
            return abs(h), abs(w), False
    except (struct.error, IndexError, ValueError):
        return None
    return None


def _peek_jpeg(data: bytes) -> tuple[int, int, bool] | None:
    i, n = 2, len(data)
    for _ in range(10_000):  # segments before the first frame header
        if i + 4 > n or data[i] != 0xFF:
            return None
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # no payload
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before any frame
            return None
        seglen = struct.unpack(">H", data[i : i + 2])[0]
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", data[i + 3 : i + 7])
            return (h, w, False) if h else None  # height 0: defined later by DNL
        if seglen < 2:
            return None
        i += seglen
    return None


def _peek_tiff(data: bytes) -> tuple[int, int, bool] | None:
    e = "<" if data[:2] == b"II" else ">"
    magic = struct.unpack(e + "H", data[2:4])[0]
    if magic == 42:
        offset = struct.unpack(e + "I", data[4:8])[0]
        count_fmt, count_size, entry_size, off_fmt, off_size = "H", 2, 12, "I", 4
    elif magic == 43:  # BigTIFF
        offset = struct.unpack(e + "Q", data[8:16])[0]
        count_fmt, count_size, entry_size, off_fmt, off_size = "Q", 8, 20, "Q", 8
    else:
        return None
    count = struct.unpack(e + count_fmt, data[offset : offset + count_size])[0]
    if count > 10_000:
        return None
    dims: dict[int, int] = {}
    value_fmt = {3: "H", 4: "I", 16: "Q"}
    for k in range(count):
        p = offset + count_size + k * entry_size
        tag, typ = struct.unpack(e + "HH", data[p : p + 4])
        if tag in (256, 257) and typ in value_fmt:
            vp = p + 4 + off_size  # after the value count
            size = struct.calcsize(value_fmt[typ])
            dims[tag] = struct.unpack(e + value_fmt[typ], data[vp : vp + size])[0]
    if 256 not in dims or 257 not in dims:
        return None
    p = offset + count_size + count * entry_size
    next_ifd = struct.unpack(e + off_fmt, data[p : p + off_size])[0]
    return dims[257], dims[256], next_ifd != 0


# --------------------------------------------------------------------------- OpenCV


def _cv2() -> Any:
    import cv2  # lazy: importing OpenCV costs ~0.1 s and is not needed to import vam_gui.io

    return cv2


def _cv2_max_pixels() -> int:
    """OpenCV's decode limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, default 2**30 pixels)."""
    try:
        return int(os.environ.get("OPENCV_IO_MAX_IMAGE_PIXELS", _CV2_DEFAULT_MAX_PIXELS))
    except ValueError:
        return _CV2_DEFAULT_MAX_PIXELS


_quiet_lock = threading.Lock()
_quiet_depth = 0
_quiet_saved: int | None = None


@contextmanager
def _quiet_opencv(cv2: Any) -> Iterator[None]:
    """Silence OpenCV's log (corrupt-file warnings on stderr) while decoding.

    Reference counted so concurrent loads in several threads restore the level once.
    Messages libpng prints by itself are not OpenCV log output and still appear.
    """
    global _quiet_depth, _quiet_saved
    log = getattr(getattr(cv2, "utils", None), "logging", None)
    if log is None or not hasattr(log, "setLogLevel"):
        yield
        return
    with _quiet_lock:
        if _quiet_depth == 0:
            _quiet_saved = log.getLogLevel() if hasattr(log, "getLogLevel") else None
            log.setLogLevel(log.LOG_LEVEL_SILENT)
        _quiet_depth += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_depth -= 1
            if _quiet_depth == 0 and _quiet_saved is not None:
                log.setLogLevel(_quiet_saved)


def _describe(exc: BaseException) -> str:
    """A one-line, bounded description of an unexpected exception."""
    text = str(exc).strip()
    if "error: (" in text:  # cv2.error: keep the part after the source location
        text = text.split("error: (", 1)[1]
        text = "(" + text
    line = text.splitlines()[0] if text else ""
    line = f"{type(exc).__name__}: {line}" if line else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."

