"""Reading the files an ``add_images`` adds, in a pool of worker threads: a raster file
(PNG, JPEG, TIFF, BMP) by its header and its bytes' hash — the format, completeness (PNG chunks
up to IEND, JPEG's last EOI after its last scan) and size checks ``load_raster`` makes before
decoding — and a DICOM file read as when it is shown. A file that fails them is skipped, not
added; pixel data that is complete but cannot be decoded is said when the image is first shown
(as for a file damaged after it was added).

The decoders (OpenCV, zlib, hashlib) release the GIL, so on a machine with several cores the
files are read side by side while the study writes the ones read before; only the facts a
study keeps of each image (id, size, spacing, content hash, relative path, a DICOM file's
patient / study / series / view attributes) come back from a
worker, never the pixels, so memory does not grow with the number of files.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vam_gui.io.files import available_cores, file_sha256

MAX_WORKERS = 4  # past this the disk, not the decoder, is the limit


@dataclass(frozen=True)
class Probe:
    """What a study records of one readable image file."""

    file: Path
    image_id: str
    rel_path: str
    content_hash: str
    width: int
    height: int
    spacing: tuple[float, float] | None
    spacing_is_detector: bool
    dicom: dict[str, str] | None = None  # a DICOM file's patient / study / series / view (io/dicom_identity.py)


def relative_path(file: Path, folder: Path, real_folder: Callable[[str], str] = os.path.realpath) -> str:
    """``file`` (symbolic links resolved) relative to the study's folder (POSIX separators);
    absolute on another drive. ``real_folder``: ``os.path.realpath``, or a cached one while
    one add reads the many files of a folder (one resolve per folder, not per file)."""
    real = os.path.join(real_folder(os.path.dirname(os.path.abspath(file))), os.path.basename(file))
    if os.path.islink(real):
        real = os.path.realpath(real)
    try:
        rel = os.path.relpath(real, folder)
    except ValueError:  # another drive on Windows: keep it absolute
        return Path(real).as_posix()
    return rel.replace(os.sep, "/")


def probe_file(file: Path, folder: Path, max_pixels: int,
               real_folder: Callable[[str], str] = os.path.realpath) -> Probe | str:
    """The facts of a readable image, or why it is skipped (a str)."""
    from vam_gui.io.radiograph import RadiographError, load_radiograph

    raster = _raster_probe(file, folder, max_pixels, real_folder)
    if raster is not None:
        return raster
    try:
        rad = load_radiograph(file, max_pixels=max_pixels)
        # a raster reader hashed the bytes it decoded; a DICOM file is hashed here
        digest = rad.metadata.get("sha256") or file_sha256(file)
    except RadiographError as exc:
        return exc.reason
    except OSError as exc:  # gone or unreadable between the read and the hash
        return f"cannot read the file ({exc.strerror or exc})"
    dicom = None
    if rad.metadata.get("format") == "DICOM":
        from vam_gui.io.dicom_identity import read_identity

        dicom = read_identity(file)  # the header again, without the pixels: kept apart from them
    return Probe(file, rad.image_id, relative_path(file, folder, real_folder), digest, int(rad.pixels.shape[1]),
                 int(rad.pixels.shape[0]), rad.spacing, rad.spacing_is_detector, dicom)


def _raster_probe(file: Path, folder: Path, max_pixels: int,
                  real_folder: Callable[[str], str]) -> Probe | str | None:
    """A PNG/JPEG/TIFF/BMP file's facts from its header and bytes, without decoding its pixels
    (that is what made adding ten thousand files slow); None for a file that is not a raster
    image by content (DICOM, or nothing we read: ``load_radiograph`` says which)."""
    from vam_gui.io.image_file import read_head
    from vam_gui.io.image_limits import ImageLimits
    from vam_gui.io.radiograph import RadiographError, is_dicom
    from vam_gui.io.raster import raster_facts
    from vam_gui.io.raster_header import sniff_format

    try:
        head = read_head(file, 132)
        if is_dicom(file, head) or sniff_format(head) is None:
            return None
        _fmt, width, height, digest = raster_facts(file, ImageLimits.resolve(max_pixels=max_pixels))
    except RadiographError as exc:
        return exc.reason
    return Probe(file, "sha256:" + digest[:32], relative_path(file, folder, real_folder), digest, width, height,
                 None, False)


POOL_MIN_BYTES = 1 << 20  # files smaller than this (median of the first few) are read in one thread


def worker_count(files: int | list[Path]) -> int:
    """Threads worth starting for ``files`` (a count, or the files): one per core, a few at
    most, and none for a single file or for small files (a radiograph of several MB is hashed
    with the GIL released, so threads overlap; for files of some kB the threads' hand-offs cost
    more than they save: 10,000 PNGs of 50 kB took 6.4 s in two threads, 4.5-5 s in one)."""
    n = files if isinstance(files, int) else len(files)
    if not isinstance(files, int) and n > 1:
        sizes = sorted(_size(f) for f in files[:16])
        if sizes[len(sizes) // 2] < POOL_MIN_BYTES:
            return 1
    return max(1, min(MAX_WORKERS, available_cores(), n))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


@contextmanager
def probed(files: list[Path], folder: Path, *,
           workers: int | None = None) -> Iterator[Iterator[tuple[Path, Probe | str]]]:
    """``(file, probe or reason)`` for each file, in order, read ahead by ``workers`` threads;
    leaving the block early (cancel, a failed write) drops the files not read yet."""
    from vam_gui.io.image_limits import ImageLimits

    max_pixels = ImageLimits.resolve().max_pixels  # the user's setting, read once, not per file
    real_folder = functools.lru_cache(maxsize=1024)(os.path.realpath)  # for this add only
    n = worker_count(files) if workers is None else max(1, workers)
    if n == 1:
        yield ((f, probe_file(f, folder, max_pixels, real_folder)) for f in files)
        return
    pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="vam-add")
    try:
        results = pool.map(probe_file, files, [folder] * len(files), [max_pixels] * len(files),
                           [real_folder] * len(files))
        yield zip(files, results)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
