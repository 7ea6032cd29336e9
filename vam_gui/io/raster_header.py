"""What a raster file's bytes say before anything is decoded: the format (sniffed from the
content, never the suffix), whether the file is complete, and the image size and page
count from the header, read by Pillow.

Pillow reads the header only: ``.load()`` is never called, so no pixel is decoded and
nothing the size of the image is allocated, whatever the header claims. Pillow's own
decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``, applied by ``Image.open``: a warning
above 89 M pixels, an error above 179 M) protects Pillow's decoder, which is not used
here; the caller applies the user's limit instead (:mod:`vam_gui.io.image_limits`), which
may be higher. So the format's ``ImageFile`` class is built directly, which parses the
header without that guard, rather than changing the process-wide ``MAX_IMAGE_PIXELS`` that
other Pillow users rely on. TIFF goes through Pillow's IFD reader alone, because
``TiffImageFile`` also resolves a pixel mode and refuses some that OpenCV decodes
(float64, multi-channel float).

Pillow is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from vam_gui.io.image_file import NOT_AN_IMAGE, TRUNCATED, RadiographError, describe

__all__ = ["RasterHeader", "is_truncated", "read_header", "sniff_format"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_MAX_CHUNK = 2**31 - 1  # the PNG specification's bound on a chunk length
_JPEG_EOI = b"\xff\xd9"
_JPEG_SOS = b"\xff\xda"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


@dataclass(frozen=True)
class RasterHeader:
    format: str  # "PNG", "JPEG", "TIFF" or "BMP"
    width: int
    height: int
    more_pages: bool  # a TIFF holding more than one image (only the first is read)


def read_header(path: Path, data: bytes) -> RasterHeader:
    """The header of the raster file ``path`` holding ``data``; :class:`RadiographError`
    when it is no raster image, visibly incomplete, or its header cannot be read."""
    fmt = sniff_format(data)
    if fmt is None:
        raise RadiographError(path, NOT_AN_IMAGE)
    if is_truncated(fmt, data):
        raise RadiographError(path, TRUNCATED)
    try:
        size = _png_ihdr(data) if fmt == "PNG" else None
        if size is not None:
            width, height, more_pages = *size, False
        else:
            width, height, more_pages = _tiff_header(data) if fmt == "TIFF" else _pillow_header(fmt, data)
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's SyntaxError, OSError, ValueError ... for a bad header
        raise RadiographError(path, f"corrupt or unsupported {fmt} header ({describe(exc)})") from exc
    if width == 0 or height == 0:
        raise RadiographError(path, f"empty image ({width} x {height} pixels)")
    return RasterHeader(fmt, width, height, more_pages)


def sniff_format(data: bytes) -> str | None:
    if data.startswith(_PNG_SIGNATURE):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data[:4] in _TIFF_MAGICS:
        return "TIFF"
    if data.startswith(b"BM") and len(data) >= 26:
        return "BMP"
    return None


def is_truncated(fmt: str, data: bytes) -> bool:
    """True when the file visibly stops early (decoders may return partial images)."""
    if fmt == "PNG":
        return not _png_chunks_reach_iend(data)
    if fmt == "JPEG":
        # The last EOI must follow the last start-of-scan (an EXIF thumbnail has its own
        # EOI early in the file); neither marker can occur inside entropy-coded data.
        eoi = data.rfind(_JPEG_EOI)
        return eoi < 0 or eoi < data.rfind(_JPEG_SOS)
    if fmt == "BMP":
        declared = int.from_bytes(data[2:6], "little")  # 0 is allowed by some writers
        return declared > len(data)
    return False


def _png_chunks_reach_iend(data: bytes) -> bool:
    """Whether the chunks, each within the file, lead from the signature to IEND.

    The decoder trusts a chunk's length field and allocates what it claims: one that
    points past the end of the file (a cut file, or a hostile 0xFFFFFFFF in a 37 KB file)
    made it ask for 4 GiB. A chunk that does not fit is what a cut file looks like.
    """
    pos, n = len(_PNG_SIGNATURE), len(data)
    while pos + 12 <= n:  # length, type, data, CRC
        length = int.from_bytes(data[pos : pos + 4], "big")
        end = pos + 12 + length
        if length > _PNG_MAX_CHUNK or end > n:
            return False
        if data[pos + 4 : pos + 8] == b"IEND":
            return True
        pos = end
    return False


def _png_ihdr(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG whose first chunk is a 13-byte IHDR with a good CRC (what
    Pillow would read, at a tenth of the cost: adding a study reads thousands of headers);
    None otherwise, and Pillow reads it and says what is wrong."""
    import zlib

    if len(data) < 33 or data[8:16] != b"\x00\x00\x00\rIHDR":
        return None
    if zlib.crc32(data[12:29]) != int.from_bytes(data[29:33], "big"):
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _pillow_header(fmt: str, data: bytes) -> tuple[int, int, bool]:
    from PIL import BmpImagePlugin, ImageFile, JpegImagePlugin, PngImagePlugin

    factories: dict[str, Callable[[BytesIO], ImageFile.ImageFile]] = {
        "PNG": PngImagePlugin.PngImageFile, "JPEG": JpegImagePlugin.JpegImageFile,
        "BMP": BmpImagePlugin.BmpImageFile,
    }
    with factories[fmt](BytesIO(data)) as im:  # the header only: .load() is never called
        width, height = im.size
    return int(width), int(height), False


def _tiff_header(data: bytes) -> tuple[int, int, bool]:
    """ImageWidth / ImageLength of the first IFD, and whether another IFD follows."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    fp = BytesIO(data)
    ifh = fp.read(16 if data[2:4] in (b"+\x00", b"\x00+") else 8)  # BigTIFF: a 64-bit offset
    ifd = ImageFileDirectory_v2(ifh)
    fp.seek(ifd.next)  # the first IFD; load() bounds its tag data by the file size
    ifd.load(fp)
    width, height = ifd.get(256), ifd.get(257)
    if not isinstance(width, int) or not isinstance(height, int):
        raise SyntaxError("the first image directory has no valid ImageWidth / ImageLength")
    return width, height, ifd.next != 0
