"""The study's first image, painted by the window's shell before its body exists.

The shell (menus, empty docks) is built with Qt alone; numpy, pyqtgraph and the study store
load right after its first paint, which takes a few seconds on a slow machine and longer on a
large study. So the shell shows, where the canvas will be, the image the study opens on — the
first unreviewed one in study order, as ``ReviewSession.open`` picks it — decoded by Qt and
greyed with the canvas's own window (``Window.from_pixels``: the 0.5 / 99.5 percentiles of
the same strided subsample, here from a histogram), fitted as the canvas fits it.

Only files whose pixels Qt decodes as the canvas's reader does qualify: 8- and 16-bit
greyscale PNG and TIFF, 8-bit greyscale JPEG. A DICOM, colour or paletted file, a
blind-first (reader) study, a missing file or anything unexpected shows no preview: the
canvas paints the image once the body is built, as before. The preview draws no point,
heatmap or measurement — nothing of the review is shown before it can be worked on — and it
never writes: the study is read through a read-only SQLite connection.

No numpy here (importing it is most of what the preview saves): 8-bit histograms are a
``collections.Counter`` of the bytes, 16-bit percentiles come from the sorted sample, the grey
mapping is a lookup table.
"""

from __future__ import annotations

import bisect
import collections
import itertools
import math
import operator
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QImage, QImageReader, QPainter
from PySide6.QtWidgets import QWidget

WINDOW_SAMPLE_PIXELS = 250_000  # core.radiograph._WINDOW_SAMPLE_PIXELS is 1_000_000: see robust_window
PADDING = 0.02  # the canvas's view padding around a fitted image
PREVIEW_SIDE = 1600  # a larger film is previewed from every n-th pixel (nearest), n making it at most this
LOW_PCT, HIGH_PCT = 0.5, 99.5  # Window.from_pixels' defaults
_SUFFIXES = {".png", ".tif", ".tiff", ".jpg", ".jpeg"}
_MAX_PIXELS = 60_000_000  # larger files are left to the canvas (the preview must stay quick)


def first_image_file(study: Path) -> Path | None:
    """The file of the image ``study`` opens on, or None when there is no preview to show
    (a blind-first study, no image, a file that cannot be read as a study)."""
    try:  # as io.study_connect.connect_reader: a study nobody has open is read immutable, leaving no file beside it
        idle = not any(Path(f"{study}{side}").exists() for side in ("-wal", "-shm"))
        conn = sqlite3.connect(study.resolve().as_uri() + ("?mode=ro&immutable=1" if idle else "?mode=ro"),
                               uri=True, timeout=0.2)
    except (sqlite3.Error, OSError, ValueError):
        return None
    try:
        blind = conn.execute("SELECT value FROM meta WHERE key = 'blind_first'").fetchall()
        if blind and blind[0][0] == "1":
            return None  # the reader's own first image; the body works it out
        # the first unreviewed image, else the first: each a walk along the table's own order that
        # stops at its first row (one ORDER BY on an expression sorted the whole table)
        row = (conn.execute("SELECT rel_path FROM images WHERE status = 'unreviewed' ORDER BY id LIMIT 1").fetchone()
               or conn.execute("SELECT rel_path FROM images ORDER BY id LIMIT 1").fetchone())
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if row is None or not isinstance(row[0], str):
        return None
    rel = Path(row[0])
    return rel if rel.is_absolute() else study.resolve().parent / rel


def _subsample(data: memoryview, width: int, height: int, row_items: int) -> memoryview:
    """The pixels ``Window.from_pixels`` takes its percentiles of: all of them up to
    WINDOW_SAMPLE_PIXELS, else every ``step``-th row and column (of ``data``: ``height`` rows
    of ``row_items`` values, ``width`` of them pixels)."""
    n = width * height
    step = 1 if n <= WINDOW_SAMPLE_PIXELS else math.ceil(math.sqrt(n / WINDOW_SAMPLE_PIXELS))
    if step == 1 and row_items == width:
        return data[:n]
    rows = (data[r * row_items:r * row_items + width:step].tobytes() for r in range(0, height, step))
    return memoryview(b"".join(rows)).cast(data.format)


def _percentile(order_statistic: Callable[[int], int], n: int, pct: float) -> float:
    """numpy's (linear) percentile of ``n`` values whose k-th smallest (0-based) is
    ``order_statistic(k)``."""
    position = pct / 100.0 * (n - 1)
    below = math.floor(position)
    a = order_statistic(below)
    b = order_statistic(min(below + 1, n - 1))
    t = position - below
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's _lerp, to the last bit


def _ranked(levels: list[int], cumulative: list[int]) -> Callable[[int], int]:
    """k -> the k-th smallest value, given sorted distinct ``levels`` and cumulative counts."""
    return lambda k: levels[bisect.bisect_right(cumulative, k)]  # the first level whose count exceeds k


def _counted(data: bytes) -> tuple[list[int], list[int], collections.Counter[int]]:
    """(sorted distinct byte values, their cumulative counts, the counts): one C-speed pass
    (256 ``bytes.count`` scans took 3x longer)."""
    counts = collections.Counter(data)
    levels = sorted(counts)
    return levels, list(itertools.accumulate(counts[v] for v in levels)), counts


def _byte_ranks(data: bytes) -> tuple[Callable[[int], int], int]:
    """(order statistic, n) of 8-bit values."""
    levels, ends, _ = _counted(data)
    return _ranked(levels, ends), len(data)


def _wide_ranks(sample: memoryview) -> tuple[Callable[[int], int], int]:
    """(order statistic, n) of 16-bit values, exactly, without sorting them (37 ms for the
    sample film's 124,000): the high bytes counted, then, for the bin a rank falls in, the low
    bytes of that bin's pixels only (picked by a translated mask)."""
    raw = sample.cast("B")
    high_at = 1 if sys.byteorder == "little" else 0
    high, low = raw[high_at::2].tobytes(), raw[1 - high_at::2].tobytes()
    bins, ends, counts = _counted(high)
    by_high, first = _ranked(bins, ends), {b: end - counts[b] for b, end in zip(bins, ends)}
    within: dict[int, Callable[[int], int]] = {}

    def order_statistic(k: int) -> int:
        b = by_high(k)
        if b not in within:
            picked = itertools.compress(low, high.translate(bytes(int(v == b) for v in range(256))))
            within[b] = _byte_ranks(bytes(picked))[0]
        return b * 256 + within[b](k - first[b])

    return order_statistic, len(high)


def robust_window(sample: memoryview) -> tuple[float, float]:
    """(lower, upper) as ``Window.from_pixels`` gives them for these integer pixel values.
    The canvas takes them from up to 1,000,000 pixels, the preview (to stay quick without
    numpy) from up to 250,000 (WINDOW_SAMPLE_PIXELS): the same window for images of up to
    that many pixels, percentiles of a sparser grid of the same image above."""
    if len(sample) == 0:
        raise ValueError("no pixels")
    rank, n = _byte_ranks(sample.tobytes()) if sample.itemsize == 1 else _wide_ranks(sample)
    lo, hi = _percentile(rank, n, LOW_PCT), _percentile(rank, n, HIGH_PCT)
    if not hi > lo:
        lo, hi = float(rank(0)), float(rank(n - 1))
    if not hi > lo:  # Window.from_bounds: a constant image gets a width of 1
        centre = (lo + hi) / 2.0
        return centre - 0.5, centre + 0.5
    return float(lo), float(hi)


def _grey_table(lower: float, upper: float, levels: int) -> bytes:
    """Each stored value's grey, as the canvas's image item maps it with levels (lower, upper):
    ``int((v - lower) * 255 / (upper - lower))`` clipped to 0..255: value by value for 8-bit
    pixels, as 256 runs for 16-bit ones (65,536 values)."""
    scale = 255.0 / (upper - lower)

    def grey(v: int) -> int:
        return min(255, max(0, int((v - lower) * scale)))

    if levels <= 256:
        return bytes(grey(v) for v in range(levels))
    runs, start = [], 0
    for g in range(255):  # the first value whose grey is past g, near lower + (g + 1) / scale
        end = min(levels, max(start, math.ceil(lower + (g + 1) / scale) - 1))
        while end < levels and grey(end) <= g:
            end += 1
        while end > start and grey(end - 1) > g:
            end -= 1
        runs.append(bytes([grey(start) if end > start else g]) * (end - start))
        start = end
    return b"".join(runs) + b"\xff" * (levels - start)  # 255 from there on: no value's grey is past it


def preview_image(path: Path) -> QImage | None:
    """``path`` decoded and greyed as the canvas will show it, or None when it does not qualify."""
    if path.suffix.lower() not in _SUFFIXES or not path.is_file():
        return None
    reader = QImageReader()  # then the name: the constructor's overload check builds QIODevice and QByteArray
    reader.setFileName(str(path))
    reader.setAutoTransform(False)  # the canvas's decoder ignores EXIF orientation too
    size = reader.size()
    if not size.isValid() or size.width() * size.height() > _MAX_PIXELS:
        return None
    image = reader.read()
    if image.isNull() or image.format() not in (QImage.Format.Format_Grayscale8, QImage.Format.Format_Grayscale16):
        return None
    if image.format() == QImage.Format.Format_Grayscale16 and path.suffix.lower() in {".jpg", ".jpeg"}:
        return None
    w, h = image.width(), image.height()
    if w < 2 or h < 2:
        return None
    bits = memoryview(image.constBits())
    wide = image.format() == QImage.Format.Format_Grayscale16
    data = bits.cast("H") if wide else bits
    lower, upper = robust_window(_subsample(data, w, h, image.bytesPerLine() // (2 if wide else 1)))
    table = _grey_table(lower, upper, 65536 if wide else 256)
    row = image.bytesPerLine() // (2 if wide else 1)
    step = max(1, math.ceil(max(w, h) / PREVIEW_SIDE))  # every step-th pixel: no more than a screen shows
    out_w = len(range(0, w, step))
    if wide:  # itemgetter looks every pixel up in one C loop
        grey = b"".join(bytes(operator.itemgetter(*data[r * row:r * row + w:step].tolist())(table))
                        for r in range(0, h, step))
    else:
        grey = b"".join(data[r * row:r * row + w:step].tobytes().translate(table) for r in range(0, h, step))
    return QImage(grey, out_w, len(range(0, h, step)), out_w, QImage.Format.Format_Grayscale8).copy()  # owns its pixels


class FirstImage(QWidget):
    """Paints one image fitted as the canvas fits it (centred, aspect kept, 2 % padding) on
    the canvas's black background."""

    def __init__(self, image: QImage, source: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image, self.source = image, source
        # drawn as RGB32: scaling a Grayscale8 image onto the window converts it in Qt's thread
        # pool (two threads started and handed the work, 2-3 ms of the first paint); the same greys
        self._picture = image.convertToFormat(QImage.Format.Format_RGB32)
        self.painted_at: float | None = None  # time.time() when first painted (benchmarks read it)
        self.setObjectName("first-image")
        self.setAutoFillBackground(False)

    def target_rect(self) -> QRectF:
        w, h = self.image.width(), self.image.height()
        pad_w, pad_h = w * (1 + 2 * PADDING), h * (1 + 2 * PADDING)
        scale = min(self.width() / pad_w, self.height() / pad_h)
        return QRectF((self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt naming
        p = QPainter(self)
        # a Qt.GlobalColor, not a QColor: resolving fillRect's overloads for a QColor makes
        # PySide6 build its QGradient type (its 180 presets), 4.5 ms of the first paint
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(self.target_rect(), self._picture)
        p.end()
        if self.painted_at is None:
            self.painted_at = time.time()


def first_image_widget(study: Path) -> FirstImage | None:
    """The preview of the image ``study`` opens on, or None (see the module docstring)."""
    path = first_image_file(study)
    if path is None:
        return None
    try:
        image = preview_image(path)
    except (OSError, ValueError, MemoryError):
        return None
    return None if image is None else FirstImage(image, path)


__all__ = ["FirstImage", "first_image_file", "first_image_widget", "preview_image", "robust_window"]
