"""The in-memory radiograph: pixels, spacing, display window and a stable image id.

numpy and the standard library only (no Qt, no torch, no cv2): readers live in
``vam_gui.io.radiograph`` and build these objects.

Invariants of a :class:`Radiograph` (checked on construction):

* ``pixels`` is a non-empty 2-D array ``[H, W]``, dtype ``uint16`` (integer sources,
  8-bit widened) or ``float32`` (everything else), with bone bright, i.e. after the
  modality LUT and any MONOCHROME1 inversion;
* ``spacing`` is ``(dy, dx)`` in mm, both finite and positive, or ``None`` when unknown;
* ``window`` has a finite centre and a positive, finite width. A reader passes the window its
  file names (DICOM's VOI tags) or none: then it is computed from the pixels when first asked
  for (only a display asks; prediction and import never pay for it).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np

from vam_gui.core.grey import channels_equal
from vam_gui.core.percentiles import integer_percentiles
from vam_gui.core.spacing import check_spacing

__all__ = ["Radiograph", "Window", "array_image_id"]

# Percentiles for the robust initial window are computed on at most this many pixels.
_WINDOW_SAMPLE_PIXELS = 1_000_000

# ITU-R BT.601 luma weights (R, G, B), the same ones cv2.cvtColor(..., COLOR_BGR2GRAY) uses.
_BT601_RGB = (0.299, 0.587, 0.114)


@dataclass
class Window:
    """A display window in pixel-value units (after the modality LUT)."""

    center: float
    width: float

    def __post_init__(self) -> None:
        self.center = float(self.center)
        self.width = float(self.width)
        if not math.isfinite(self.center):
            raise ValueError(f"window center must be finite, got {self.center}")
        if not (math.isfinite(self.width) and self.width > 0):
            raise ValueError(f"window width must be finite and positive, got {self.width}")

    @property
    def lower(self) -> float:
        return self.center - self.width / 2.0

    @property
    def upper(self) -> float:
        return self.center + self.width / 2.0

    @classmethod
    def from_bounds(cls, lower: float, upper: float) -> Window:
        """The window spanning ``[lower, upper]`` (a width of 1 when they coincide)."""
        lower, upper = float(lower), float(upper)
        if upper < lower:
            lower, upper = upper, lower
        width = upper - lower
        if not width > 0:
            width = 1.0
        return cls(center=(lower + upper) / 2.0, width=width)

    @classmethod
    def from_pixels(
        cls, pixels: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5
    ) -> Window:
        """A robust window from the ``low_pct`` / ``high_pct`` percentiles of ``pixels``.

        The percentiles are taken on a strided subsample of at most ~1M pixels, so this is
        fast on large images. Non-finite values are ignored. When the percentile range
        collapses (e.g. mostly constant background) the sample's min/max is used instead,
        and a constant image gets a width of 1.
        """
        if not 0.0 <= low_pct < high_pct <= 100.0:
            raise ValueError(
                f"need 0 <= low_pct < high_pct <= 100, got {low_pct}, {high_pct}"
            )
        sample = _subsample(np.asarray(pixels))
        if sample.size and not np.issubdtype(sample.dtype, np.integer):
            sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            raise ValueError("cannot compute a window: no finite pixel values")
        if sample.dtype == np.uint16 or sample.dtype == np.uint8:
            lo, hi = integer_percentiles(sample, (low_pct, high_pct))
            if not hi > lo:
                lo, hi = float(sample.min()), float(sample.max())
            return cls.from_bounds(lo, hi)
        sample = sample.astype(np.float64, copy=False)
        lo, hi = np.percentile(sample, [low_pct, high_pct])
        if not hi > lo:
            lo, hi = float(sample.min()), float(sample.max())
        return cls.from_bounds(lo, hi)


class _LazyWindow:
    """The ``window`` field of :class:`Radiograph`: the Window given, else the robust window
    of the pixels (:meth:`Window.from_pixels`) computed on first access and kept."""

    _attr = "_window"

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> None: ...
    @overload
    def __get__(self, obj: Radiograph, objtype: type | None = None) -> Window: ...

    def __get__(self, obj: Radiograph | None, objtype: type | None = None) -> Window | None:
        if obj is None:
            return None  # the dataclass default: not given
        window: Window | None = obj.__dict__.get(self._attr)
        if window is None:
            window = obj.__dict__[self._attr] = Window.from_pixels(obj.pixels)
        return window

    def __set__(self, obj: Radiograph, value: Window | None) -> None:
        if isinstance(value, _LazyWindow):
            value = None  # field(default=...) hands the descriptor itself to __init__: not given
        if value is not None and not isinstance(value, Window):
            raise TypeError(f"window must be a Window or None, got {type(value).__name__}")
        obj.__dict__[self._attr] = value


@dataclass(eq=False)
class Radiograph:
    """One radiograph as read from disk or built from an array.

    Equality is identity (the pixel array makes value equality ill-defined); compare
    ``image_id`` to tell whether two radiographs hold the same image. Treat ``pixels`` as
    read-only: ``image_id`` describes the content as loaded.
    """

    pixels: np.ndarray = field(repr=False)
    spacing: tuple[float, float] | None
    photometric: str
    image_id: str
    source: Path | None
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    spacing_is_detector: bool = False
    # None: computed from the pixels when first read (see _LazyWindow); repr would compute it
    window: _LazyWindow = field(default=_LazyWindow(), repr=False)

    def __post_init__(self) -> None:
        px = self.pixels
        if not isinstance(px, np.ndarray):
            raise TypeError(f"pixels must be a numpy array, got {type(px).__name__}")
        if px.ndim != 2:
            raise ValueError(f"pixels must be 2-D [H, W], got shape {px.shape}")
        if px.dtype not in (np.uint16, np.float32):
            raise ValueError(f"pixels must be uint16 or float32, got {px.dtype}")
        if px.size == 0:
            raise ValueError(f"pixels must not be empty, got shape {px.shape}")
        self.spacing = check_spacing(self.spacing)
        if self.source is not None:
            self.source = Path(self.source)

    def value_range(self) -> tuple[float, float]:
        """The smallest and largest pixel value, computed once (the read-ahead computes it in its
        thread: a full-length film's min and max take milliseconds)."""
        got: tuple[float, float] | None = self.__dict__.get("_value_range")
        if got is None:
            got = self.__dict__["_value_range"] = (float(np.min(self.pixels)), float(np.max(self.pixels)))
        return got

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.pixels.shape
        return int(h), int(w)

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @classmethod
    def from_array(
        cls,
        pixels: np.ndarray,
        *,
        spacing: tuple[float, float] | None = None,
        source: Path | str | None = None,
        image_id: str | None = None,
        channel_order: Literal["RGB", "BGR"] = "RGB",
    ) -> Radiograph:
        """Build a radiograph from an in-memory array (the array is copied).

        Accepts a 2-D numeric array, ``[H, W, 1]``, grey + alpha ``[H, W, 2]`` (alpha
        dropped) or colour ``[H, W, 3|4]`` in ``channel_order`` (converted to BT.601
        luminance, alpha ignored, with a warning). ``uint8``/``uint16`` are stored as
        ``uint16``, everything else as ``float32``. Raises ``ValueError`` for empty,
        non-numeric, oddly shaped or non-finite input. ``image_id`` defaults to
        :func:`array_image_id` of the stored pixels.
        """
        arr = np.asarray(pixels)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"pixels must be a real numeric array, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.complexfloating):
            raise ValueError(f"pixels must be real, got dtype {arr.dtype}")
        if channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel_order must be 'RGB' or 'BGR', got {channel_order!r}")
        if arr.size == 0:
            raise ValueError(f"pixels must not be empty, got shape {arr.shape}")
        warnings: list[str] = []
        channels = 1
        if arr.ndim == 3 and arr.shape[2] in (1, 2, 3, 4):
            channels = int(arr.shape[2])
            if channels in (1, 2):
                if channels == 2:
                    warnings.append("grey + alpha image: the alpha channel was dropped")
                arr = arr[:, :, 0]
            else:
                if channels_equal(arr):
                    warnings.append(
                        "colour image with identical channels: read as grayscale"
                    )
                    arr = arr[:, :, 0]
                else:
                    warnings.append(
                        "colour image converted to grayscale luminance (ITU-R BT.601)"
                    )
                    arr = _luminance(arr, channel_order)
        elif arr.ndim != 2:
            raise ValueError(
                f"pixels must be [H, W] or [H, W, 1|2|3|4], got shape {arr.shape}"
            )
        stored = to_storage_dtype(arr, copy=True)
        if stored.dtype == np.float32 and not np.isfinite(stored).all():
            raise ValueError("pixels contain NaN or infinite values")
        return cls(
            pixels=stored,
            spacing=spacing,
            photometric="MONOCHROME2",
            image_id=image_id if image_id is not None else array_image_id(stored),
            source=Path(source) if source is not None else None,
            warnings=warnings,
            metadata={"format": "array", "dtype": str(np.asarray(pixels).dtype),
                      "channels": str(channels)},
        )


def array_image_id(pixels: np.ndarray) -> str:
    """``"sha256:<32 hex>"`` of an array's dtype, shape and bytes (C order)."""
    arr = np.ascontiguousarray(pixels)
    h = hashlib.sha256()
    h.update(f"{arr.dtype.str}{arr.shape}".encode("ascii"))
    h.update(arr.data)
    return "sha256:" + h.hexdigest()[:32]


def to_storage_dtype(gray: np.ndarray, *, copy: bool = False) -> np.ndarray:
    """Apply the pixel dtype rule: ``uint8``/``uint16`` -> ``uint16``, else ``float32``.

    Signed and wider integers become ``float32`` (exact up to 2**24). The result is
    C-contiguous; it shares memory with ``gray`` only when no conversion was needed and
    ``copy`` is false.
    """
    target: np.dtype[Any] = np.dtype(np.uint16) if gray.dtype in (np.uint8, np.uint16) else np.dtype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        out = gray.astype(target, order="C", copy=copy or gray.dtype != target)
    return np.ascontiguousarray(out)


def _luminance(arr: np.ndarray, channel_order: str) -> np.ndarray:
    """BT.601 luma of ``[H, W, 3|4]``; integer input gives rounded integers of the same range.

    Exact (float64) where ``core.grey.luminance`` (the readers' rule) uses OpenCV's fixed
    point for uint8/uint16: the two can differ by one grey level. Kept as it is: switching
    would change the pixels (and the ``array_image_id``) that ``from_array`` gives colour arrays."""
    r, g, b = (0, 1, 2) if channel_order == "RGB" else (2, 1, 0)
    wr, wg, wb = _BT601_RGB
    lum = (
        wr * arr[:, :, r].astype(np.float64)
        + wg * arr[:, :, g].astype(np.float64)
        + wb * arr[:, :, b].astype(np.float64)
    )
    if np.issubdtype(arr.dtype, np.integer):
        info = np.iinfo(arr.dtype)
        return np.clip(np.rint(lum), info.min, info.max).astype(arr.dtype)
    return lum


def _subsample(a: np.ndarray) -> np.ndarray:
    """A strided view holding at most ~``_WINDOW_SAMPLE_PIXELS`` values."""
    n = a.size
    if n <= _WINDOW_SAMPLE_PIXELS:
        return a.reshape(-1)
    if a.ndim == 2:
        step = math.ceil(math.sqrt(n / _WINDOW_SAMPLE_PIXELS))
        return a[::step, ::step].reshape(-1)
    return a.reshape(-1)[:: math.ceil(n / _WINDOW_SAMPLE_PIXELS)]


