"""Read a DICOM radiograph into a :class:`Radiograph` (pydicom >= 3 backends).

:func:`read_dicom` parses the file, checks the header (Image Pixel attributes, the size
against the limits of :mod:`vam_gui.io.image_limits` - rows x columns x frames - the
transfer syntax's decoder, the pixel data's length) before any pixel is decoded, then
decodes the first frame (native or compressed: JPEG, JPEG-LS, JPEG 2000, RLE, deflated;
compressed syntaxes need pylibjpeg and its plugins). :mod:`vam_gui.io.dicom_pixels` turns
the stored values into displayed ones (modality LUT, window, MONOCHROME1 inversion) and
:mod:`vam_gui.io.dicom_tags` reads the spacing and the other values.

Nothing that identifies a patient, a study or an institution reaches the radiograph:
``metadata`` holds a fixed set of technical values, warnings name tags but never quote
their values, and error reasons name exception types rather than their text (pydicom
messages can quote element values).

pydicom is imported inside the functions that need it, so importing this module stays
cheap.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.radiograph import Radiograph
from vam_gui.io.dicom_pixels import display_pixels
from vam_gui.io.dicom_tags import code_string, int_tag, pixel_spacing, uid_is_valid, valid_uid
from vam_gui.io.image_file import TRUNCATED, RadiographError, os_reason, read_bytes, read_head
from vam_gui.io.image_limits import DEFAULT_MAX_SIDE, ImageLimits

__all__ = ["NO_PIXEL_DATA", "NOT_DICOM", "PLUGIN_HINT", "looks_like_raw_dicom", "read_dicom"]

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
# Value representations that may follow the first tag of an explicit-VR data set.
_DICOM_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC "
    b"UI UL UN UR US UT UV".split()
)


def read_dicom(
    path: str | os.PathLike[str],
    data: bytes | None = None,
    *,
    max_side: int = DEFAULT_MAX_SIDE,
    max_pixels: int | None = None,
) -> Radiograph:
    """Decode the DICOM file ``path`` (parsed from ``data`` when given, else from disk).

    ``pixels`` are the first frame after the modality LUT and, for MONOCHROME1, after
    inversion (``uint16`` when integral within 0..65535, else ``float32``); colour is
    reduced to BT.601 luminance. ``spacing`` is PixelSpacing, else ImagerPixelSpacing
    (``spacing_is_detector=True``), as ``(dy, dx)`` mm; a value outside 0.01-5 mm is
    ignored with a warning. ``window`` comes from WindowCenter/WindowWidth, else the VOI
    LUT's input range, else the pixel percentiles. ``image_id`` is ``"uid:" +
    SOPInstanceUID`` or the file's SHA-256. Rows, columns and rows x columns x frames are
    checked against ``max_side`` and ``max_pixels`` (None: the user's ``max_image_pixels``
    setting) before decoding. Raises :class:`RadiographError` for anything that cannot be
    read, ``ValueError`` for a limit that is not a positive integer.
    """
    path = Path(os.fspath(path))
    limits = ImageLimits.resolve(max_side=max_side, max_pixels=max_pixels)
    try:
        return _read(path, _Source(path, data), limits)
    except RadiographError:
        raise
    except MemoryError as exc:
        raise RadiographError(path, "not enough memory to read the image") from exc
    except Exception as exc:  # never a raw pydicom traceback; its text may quote values
        reason = f"could not read the DICOM file ({type(exc).__name__})"
        raise RadiographError(path, reason) from exc


def looks_like_raw_dicom(head: bytes) -> bool:
    """A data set written without preamble and ``DICM`` (e.g. old implicit VR files).

    Conservative, so no raster file is taken for one: the first tag must be in group
    0x0002 (file meta) or 0x0008 (identifying information, the first group of a bare
    data set), followed by a known VR (explicit) or a short even length (implicit
    little endian; big endian data sets are always explicit).
    """
    if len(head) < 8:
        return False
    explicit = head[4:6] in _DICOM_VRS
    if int.from_bytes(head[:2], "big") in (0x0002, 0x0008) and explicit:
        return True
    if int.from_bytes(head[:2], "little") not in (0x0002, 0x0008):
        return False
    if explicit:
        return True
    length = int.from_bytes(head[4:8], "little")
    return length <= 1024 and length % 2 == 0


class _Source:
    """The file's bytes, read only when needed: pydicom parses straight from the file,
    so with a SOPInstanceUID for the id no second copy of the pixel data is made."""

    def __init__(self, path: Path, data: bytes | None) -> None:
        self.path = path
        self._data = data

    def head(self) -> bytes:
        return self._data[:132] if self._data is not None else read_head(self.path, 132)

    @property
    def has_data(self) -> bool:
        return self._data is not None

    def data(self) -> bytes:
        if self._data is None:
            self._data = read_bytes(self.path)
        return self._data


@dataclass(frozen=True)
class _Header:
    """What the header says about the pixels, checked before any is decoded."""

    pixel_kw: str
    rows: int
    cols: int
    frames: int
    photometric: str
    ts_uid: Any
    ts_label: str


def _read(path: Path, src: _Source, limits: ImageLimits) -> Radiograph:
    ds, recognised = _parse(path, src)
    if _last_element_truncated(ds):
        raise RadiographError(path, TRUNCATED if recognised else NOT_DICOM)
    warnings: list[str] = []
    header = _check_header(path, src, ds, recognised, limits, warnings)
    arr = _first_frame(path, ds, header, warnings)
    pixels, window, inverted_total = display_pixels(
        path, arr, ds, photometric=header.photometric, pixel_kw=header.pixel_kw, warnings=warnings
    )
    spacing, detector = pixel_spacing(ds, warnings)
    uid = valid_uid(ds.get("SOPInstanceUID"))
    if uid:
        image_id = "uid:" + uid
    else:  # the same id as the raster reader gives: a hash of the file bytes
        image_id = "sha256:" + hashlib.sha256(src.data()).hexdigest()[:32]
    return Radiograph(
        pixels=pixels, spacing=spacing, window=window, photometric=header.photometric,
        image_id=image_id, source=path.absolute(), warnings=warnings,
        metadata=_metadata(ds, header, inverted=inverted_total is not None),
        spacing_is_detector=detector,
    )


def _check_header(
    path: Path, src: _Source, ds: Any, recognised: bool, limits: ImageLimits, warnings: list[str]
) -> _Header:
    """Everything that can refuse the file before its pixel data is decoded."""
    pixel_kw = next((kw for kw in _PIXEL_KEYWORDS if kw in ds), None)
    if pixel_kw is None:
        if any(h in src.data() for h in _PIXEL_DATA_HEADERS):
            raise RadiographError(path, TRUNCATED)  # the parser stopped inside it
        raise RadiographError(path, NO_PIXEL_DATA if recognised else NOT_DICOM)

    rows, cols = int_tag(ds, "Rows"), int_tag(ds, "Columns")
    if rows is None or cols is None:
        raise RadiographError(path, "DICOM file lacks valid Rows / Columns values")
    if rows == 0 or cols == 0:
        raise RadiographError(path, f"empty image ({cols} x {rows} pixels)")
    frames = max(int_tag(ds, "NumberOfFrames") or 1, 1)
    limits.check(path, rows, cols, frames)
    photometric = _fill_pixel_module(path, ds, warnings)

    ts_uid, ts_label = _transfer_syntax(ds)
    _check_decoder(path, ts_uid, ts_label)
    _check_length(path, ds, pixel_kw, ts_uid)
    return _Header(pixel_kw, rows, cols, frames, photometric, ts_uid, ts_label)


def _first_frame(path: Path, ds: Any, header: _Header, warnings: list[str]) -> np.ndarray:
    if header.frames > 1:
        # Decode one frame only: the others would cost time and memory for nothing.
        ds.pixel_array_options(index=0)
        warnings.append(f"multi-frame DICOM ({header.frames} frames): showing the first")
    try:
        arr = ds.pixel_array
    except Exception as exc:
        reason = f"could not decode the {header.ts_label} pixel data ({type(exc).__name__})"
        if header.ts_uid.is_encapsulated:  # the installed plugins may not cover this variant
            reason += f"; the data may be corrupt or need another decoder ({PLUGIN_HINT})"
        raise RadiographError(path, reason) from exc
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.shape[:2] != (header.rows, header.cols) or arr.ndim not in (2, 3):
        raise RadiographError(path, f"decoded pixel data has an unexpected shape {arr.shape}")
    return np.asarray(arr)


def _metadata(ds: Any, header: _Header, *, inverted: bool) -> dict[str, str]:
    """A fixed set of technical values: never free text, never an identifier."""
    metadata = {"format": "DICOM"}
    for key, kw in (("modality", "Modality"), ("body_part", "BodyPartExamined"),
                    ("view", "ViewPosition")):
        value = code_string(ds, kw)
        if value:
            metadata[key] = value
    metadata.update(rows=str(header.rows), columns=str(header.cols),
                    bits_stored=str(int_tag(ds, "BitsStored")),
                    transfer_syntax=header.ts_label if header.ts_uid.is_transfer_syntax else "private",
                    photometric=header.photometric)
    if header.frames > 1:
        metadata["frames"] = str(header.frames)
    if inverted:
        metadata["inverted"] = "MONOCHROME1 inverted so that bone is bright"
    return metadata


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
        force, recognised = True, looks_like_raw_dicom(head)
    try:
        fh = BytesIO(prefix + src.data()) if prefix or src.has_data else path.open("rb")
    except OSError as exc:
        raise RadiographError(path, os_reason(exc)) from exc
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
    spp = int_tag(ds, "SamplesPerPixel")
    if spp is None:
        ds.SamplesPerPixel = spp = 1
    if spp not in (1, 3):
        raise RadiographError(path, f"unsupported SamplesPerPixel {spp} (1 or 3 expected)")
    bits_allocated = int_tag(ds, "BitsAllocated")
    if bits_allocated not in (1, 8, 16, 32, 64):
        raise RadiographError(path, "DICOM file lacks a valid BitsAllocated value")
    bits_stored = int_tag(ds, "BitsStored")
    if bits_stored is None or not 1 <= bits_stored <= bits_allocated:
        ds.BitsStored = bits_allocated
        ds.HighBit = bits_allocated - 1
    if int_tag(ds, "PixelRepresentation") not in (0, 1):
        ds.PixelRepresentation = 0
    photometric = code_string(ds, "PhotometricInterpretation")
    if not photometric:
        photometric = "MONOCHROME2" if spp == 1 else "RGB"
        warnings.append(f"PhotometricInterpretation missing or invalid: assumed {photometric}")
        ds.PhotometricInterpretation = photometric
    return photometric


def _transfer_syntax(ds: Any) -> tuple[Any, str]:
    from pydicom.uid import UID

    uid = UID(str(ds.file_meta.TransferSyntaxUID).strip("\x00 "))
    if not uid_is_valid(uid):
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


def _pydicom() -> Any:
    import pydicom  # lazy: ~0.2 s, and only DICOM files need it

    return pydicom
