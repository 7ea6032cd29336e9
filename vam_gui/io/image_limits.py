"""How large an image may be, checked from its header before anything is decoded.

Two limits: pixels per side (``max_side``, default :data:`DEFAULT_MAX_SIDE`) and pixels in
all (``max_pixels``; by default the user's ``max_image_pixels`` setting, 200 million, so
that a header claiming 16,000 x 16,000 pixels or an absurd frame count is refused in a
line instead of allocating gigabytes). DICOM counts rows x columns x frames. The readers
check again after decoding, so a header that lies is caught too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vam_gui.core.settings import Settings, load_settings, settings_path
from vam_gui.io.image_file import RadiographError

__all__ = ["DEFAULT_MAX_PIXELS", "DEFAULT_MAX_SIDE", "ImageLimits"]

DEFAULT_MAX_SIDE = 20000
DEFAULT_MAX_PIXELS: int = Settings.max_image_pixels


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


_setting_read: list[tuple[tuple[str, int, int, int], int]] = []  # (the file as last read, its value)


def _pixels_setting() -> int:
    """The user's ``max_image_pixels``, read again only when the settings file has changed
    (every image read asks; parsing the file each time was a tenth of an image switch)."""
    path = settings_path()
    try:
        stat = path.stat()
        key = (str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)  # saved atomically: a new inode
    except OSError:
        key = (str(path), -1, -1, -1)
    if _setting_read and _setting_read[0][0] == key:
        return _setting_read[0][1]
    value = load_settings(path).max_image_pixels
    # load_settings keeps the type; a zero or negative value in the file means the default
    value = value if isinstance(value, int) and value >= 1 else DEFAULT_MAX_PIXELS
    _setting_read[:] = [(key, value)]
    return value


@dataclass(frozen=True)
class ImageLimits:
    max_side: int = DEFAULT_MAX_SIDE
    max_pixels: int = DEFAULT_MAX_PIXELS

    @classmethod
    def resolve(cls, *, max_side: int = DEFAULT_MAX_SIDE, max_pixels: int | None = None) -> ImageLimits:
        """The limits for one read; ``max_pixels=None`` means the user's ``max_image_pixels``
        setting. ``ValueError`` when either given value is not a positive integer."""
        side = _positive_int("max_side", max_side)
        pixels = _pixels_setting() if max_pixels is None else _positive_int("max_pixels", max_pixels)
        return cls(side, pixels)

    def check(self, path: Path, height: int, width: int, frames: int = 1) -> None:
        """Raise :class:`RadiographError` when ``height`` x ``width`` (x ``frames``) is too large."""
        if height > self.max_side or width > self.max_side:
            raise RadiographError(
                path, f"image is {width} x {height} pixels, above the limit of {self.max_side} pixels per side"
            )
        total = height * width * frames
        if total > self.max_pixels:
            size = f"{width} x {height} pixels" + (f" x {frames} frames" if frames > 1 else "")
            raise RadiographError(
                path,
                f"image is {size} ({total:,} pixels), above the limit of {self.max_pixels:,} pixels; "
                f'to open it, raise "max_image_pixels" in {settings_path()}',
            )
