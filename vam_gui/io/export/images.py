"""The image files of a pseudonymised label export, written beside the labels under the
names the labels use, so that labels and images match without any original file.

- DICOM sources become de-identified DICOM copies (:mod:`vam_gui.io.deid`: PS3.15 Basic
  Profile, pixel data unchanged), named ``<pseudonym>.dcm``.
- Raster sources are decoded as our reader decodes them (OpenCV, unchanged depth and
  channels, so the labels' coordinates hold) and written again without any metadata (PNG
  text chunks, EXIF and TIFF tags can name the patient): 8- and 16-bit images as
  ``<pseudonym>.png`` (lossless: for a JPEG source the pixels are the decoded JPEG's),
  other sample types as ``<pseudonym>.tiff``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.atomic import new_temp_file
from vam_gui.io.export.common import Cancel, Progress, check_cancel

if TYPE_CHECKING:
    from vam_gui.io.export.pseudonyms import Namer
    from vam_gui.io.study import ImageInfo, Study


@dataclass
class ImageCopies:
    names: dict[str, str] = field(default_factory=dict)  # image id -> exported file name
    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (exported name, reason)
    notes: list[str] = field(default_factory=list)


def is_dicom_file(path: Path) -> bool:
    """The reader's own rule (vam_gui.io.radiograph), so a copy is of the kind the study read."""
    from vam_gui.io.image_file import read_head
    from vam_gui.io.radiograph import is_dicom

    return is_dicom(path, read_head(path, 132))


def guessed_name(namer: Namer, info: ImageInfo) -> str:
    """The name of an image whose file cannot be read now (reported as skipped)."""
    suffix = ".dcm" if info.image_id.startswith("uid:") else ".png"
    return namer.image_id(info.image_id) + suffix


def dicom_copy(path: Path, salt: str, raw: bytes | None = None) -> tuple[bytes, bool]:
    """(de-identified DICOM file bytes, whether the source says burned-in annotation).
    ``raw``: the file's bytes, when already read."""
    import io

    import pydicom

    from vam_gui.io.deid import deidentify, to_bytes

    source = pydicom.dcmread(path if raw is None else io.BytesIO(raw), force=True)
    burned = str(source.get("BurnedInAnnotation", "")).upper() == "YES"
    return to_bytes(deidentify(source, salt=salt)), burned


def raster_copy(path: Path, raw: bytes | None = None) -> tuple[bytes, str]:
    """(encoded bytes without metadata, suffix) of a raster image's decoded pixels. A PNG that
    already holds nothing but its header, palette, pixel data and end (no text, EXIF, time or
    any other ancillary chunk) is its own metadata-free copy: its bytes are kept (re-encoding
    it was most of an export) once its pixel data is checked — inflated to exactly its rows,
    each with a valid filter (an interlaced one is decoded) — so it fails as any other
    undecodable file does. ``raw``: the file's bytes, when already read."""
    from vam_gui.io.image_file import read_bytes

    if raw is None:
        raw = read_bytes(path)
    bare = _bare_png(raw)
    rows = _rows_inflate(raw) if bare else None
    if rows is False:
        raise ValueError("the image could not be decoded (its pixel data does not make its rows)")
    if rows:
        return raw, ".png"
    import cv2

    img: Any = cv2.imdecode(np.frombuffer(raw, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("the image could not be decoded")
    if bare:  # interlaced (its rows are not checked above): decoded, and kept as it is
        return raw, ".png"
    if img.ndim == 3 and img.shape[2] == 2:  # grey + alpha: PNG via OpenCV has no such layout
        img = img[:, :, 0]
    suffix = ".png" if img.dtype in (np.uint8, np.uint16) else ".tiff"
    ok, buf = cv2.imencode(suffix, img)
    if not ok:
        raise ValueError(f"{img.dtype} pixels could not be encoded as {suffix}")
    return bytes(buf), suffix


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_BARE_CHUNKS = (b"IHDR", b"PLTE", b"IDAT", b"IEND")
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type


def _chunks(raw: bytes) -> Iterator[tuple[bytes, int, int]]:
    """(kind, start of data, end of data) of each chunk after the signature, while they fit."""
    import struct

    at = len(_PNG_SIGNATURE)
    while at + 12 <= len(raw):
        size, kind = struct.unpack_from(">I4s", raw, at)
        yield kind, at + 8, at + 8 + size
        at += 12 + size


def _bare_png(raw: bytes) -> bool:
    """A well-formed PNG of critical chunks only, not grey + alpha (which a copy drops), with
    every chunk's CRC right and nothing after IEND."""
    import struct
    import zlib

    if not raw.startswith(_PNG_SIGNATURE) or len(raw) < 33 or raw[12:16] != b"IHDR" or raw[25] == 4:
        return False
    for kind, start, end in _chunks(raw):
        if kind not in _BARE_CHUNKS or end + 4 > len(raw):
            return False
        if zlib.crc32(raw[start - 4:end]) != struct.unpack_from(">I", raw, end)[0]:
            return False
        if kind == b"IEND":
            return end + 4 == len(raw)
    return False


def _rows_inflate(raw: bytes) -> bool | None:
    """Whether a bare PNG's pixel data inflates to exactly height rows of its width, each led
    by a filter type 0-4 (what a decoder checks before unfiltering; the output is capped, so a
    small file cannot inflate to gigabytes); None when that cannot be told this way (an
    interlaced image, a colour type or depth PNG does not define)."""
    import struct
    import zlib

    width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", raw, 16)
    channels = _PNG_CHANNELS.get(colour)
    if interlace or channels is None or depth not in (1, 2, 4, 8, 16) or width == 0 or height == 0:
        return None
    stride = 1 + (width * channels * depth + 7) // 8
    data = b"".join(raw[start:end] for kind, start, end in _chunks(raw) if kind == b"IDAT")
    inflate = zlib.decompressobj()
    try:
        rows = inflate.decompress(data, stride * height + 1)
    except zlib.error:
        return False
    if len(rows) != stride * height or not inflate.eof or inflate.unconsumed_tail:
        return False
    return max(rows[0::stride]) <= 4


def _image_path(folder: Path, info: ImageInfo) -> Path:
    """Where the image is: ``Study.image_path``'s rule, from the row already read."""
    rel = Path(info.rel_path)
    return rel if rel.is_absolute() else folder / rel


def _copy_one(path: Path, salt: str, name: str) -> tuple[str, bytes, str | None]:
    """(file name, bytes) of one de-identified copy, and a note when the DICOM says burned-in
    text. The file is read once, whole (its kind told from the bytes read)."""
    from vam_gui.io.image_file import read_regular_file
    from vam_gui.io.radiograph import is_dicom

    raw = read_regular_file(path)
    if is_dicom(path, raw[:132]):
        data, burned = dicom_copy(path, salt, raw)
        note = (f"{name}.dcm: the source says BurnedInAnnotation=YES; the pixels are copied unchanged and "
                "may show identifying text") if burned else None
        return name + ".dcm", data, note
    data, suffix = raster_copy(path, raw)
    return name + suffix, data, None


def _copy_and_stage(path: Path, salt: str, name: str, out: Path) -> tuple[str, str | None, str]:
    """One copy made and written under a temporary name in ``out``: (its name, a note, the
    temporary file). Runs in the copy pool: reading, inflating, checksums and writing release
    the GIL, so the pool's threads overlap them."""
    name, data, note = _copy_one(path, salt, name)
    return name, note, _stage(out / name, data)


COPY_THREADS = 4  # at most; fewer on a machine with fewer cores
_IN_FLIGHT = 2  # copies queued per thread: what the pool holds in memory at once is bounded


def write_image_copies(study: Study, infos: list[ImageInfo], out: Path, namer: Namer, *,
                       progress: Progress | None = None, cancel: Cancel | None = None) -> ImageCopies:
    """Write a de-identified copy of every image of ``infos`` into ``out``; the names used
    are in ``names`` (a guess for those that failed, which are in ``skipped``).

    The copies are made by a small thread pool, a few at a time, and taken in the images'
    order (names, notes, skips and progress as one thread would give them). Each is written
    under a temporary name; after the last, one ``os.sync`` puts them all on disk (an fsync
    right after each write was half of the export's run) and only then do they take their
    names, their folder synced after, so a cancelled or failed export leaves no copy behind."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    from vam_gui.io.image_file import describe

    result = ImageCopies()
    folder = study.folder
    staged: list[tuple[str, Path]] = []
    threads = max(1, min(COPY_THREADS, os.cpu_count() or 1))
    queued: deque[tuple[ImageInfo, Future[tuple[str, str | None, str]]]] = deque()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="vam-export-copy")
    todo = iter(infos)

    def queue_more() -> None:
        while len(queued) < threads * _IN_FLIGHT and (info := next(todo, None)) is not None:
            name = namer.image_id(info.image_id)  # pseudonyms given in the images' order, here
            queued.append((info, pool.submit(_copy_and_stage, _image_path(folder, info), namer.study_uid, name, out)))

    try:
        if infos:
            out.mkdir(parents=True, exist_ok=True)
        queue_more()
        n = 0
        while queued:
            check_cancel(cancel)
            info, done = queued.popleft()
            n += 1
            try:
                name, note, tmp = done.result()
            except Exception as exc:  # a file gone or unreadable: the labels still name it
                name = guessed_name(namer, info)
                result.names[info.image_id] = name
                result.skipped.append((name, f"image not copied ({describe(exc)})"))
            else:
                result.names[info.image_id] = name
                staged.append((tmp, out / name))
                if note is not None:
                    result.notes.append(note)
                if progress is not None:
                    progress(n, len(infos))
            queue_more()
        check_cancel(cancel)
        if staged:
            os.sync()  # every copy on disk in one flush (an fsync each cost 15 % more at 10,000 images)
        for tmp, final in staged:
            os.replace(tmp, final)
            result.files.append(final)
        for folder_written in {final.parent for _, final in staged}:
            _sync_file(folder_written)  # the names, too
    finally:
        for _, done in queued:  # a cancel or a failure: what was queued is not made, or is removed
            done.cancel()
        pool.shutdown(wait=True)
        for _, done in queued:
            if not done.cancelled() and done.exception() is None:
                staged.append((done.result()[2], out))
        for tmp, _ in staged[len(result.files):]:  # those not renamed: a cancel or a failure
            Path(tmp).unlink(missing_ok=True)
    return result


def _sync_file(path: str | Path) -> None:
    """fsync a file or folder (a folder only where the system allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except IsADirectoryError:  # Windows cannot open a folder to sync it
        return
    try:
        os.fsync(fd)
    except OSError:
        if not Path(path).is_dir():
            raise
    finally:
        os.close(fd)


def _stage(path: Path, data: bytes) -> str:
    """``data`` in a new temporary file beside ``path`` (its folder made; not yet synced); its name."""
    fd, tmp = new_temp_file(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp
