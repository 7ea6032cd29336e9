"""The per-image values behind a reader study's Bland–Altman statistics, for plotting them.

:func:`vam_gui.core.agreement.agreement` reports each measurement's bias and limits per pair of
readers ("alice vs bob": alice − bob) and per reader against the model ("alice vs model") but
keeps no per-image values. :func:`measurement_values` measures the same images the same way:
the images with at least two readers or one reader and a model; lengths in mm only when every
one of those images has a usable pixel spacing, else every length in px; each reading measured
by :func:`vam_gui.core.measure.measure` with its invisible or unset points left out (NaN), a
reading without any point skipped; grades, notes and missing values left out. So
``bland_altman(*values.pairs(name)[label])`` is the report's ``pairs | model`` entry of that
measurement, pair for pair.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from vam_gui.core.agreement import ImageReadings
from vam_gui.core.measure import measure
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing

__all__ = ["CancelledError", "MeasurementValues", "measurement_pairs", "measurement_values"]

Pairs = dict[str, tuple[np.ndarray, np.ndarray]]


class CancelledError(Exception):
    """``cancel()`` said stop before every image was measured."""


@dataclass(frozen=True, eq=False)
class MeasurementValues:
    """Every compared image's measured values: ``values[name]`` is [N, R + 1] (rows ``ids``,
    columns ``readers`` then the model; NaN where not measured), in ``units[name]``;
    ``unit`` is the lengths' unit (mm or px) as the report gives it."""

    ids: list[str]
    readers: list[str]
    unit: str
    units: dict[str, str] = field(default_factory=dict)
    values: dict[str, np.ndarray] = field(default_factory=dict)

    def _columns(self, name: str) -> list[tuple[str, int, int]]:
        """(label, column a, column b) of the report's pairs of ``name``: every reader pair, then
        each reader against the model where some image has the model's value."""
        nr, table = len(self.readers), self.values.get(name)
        if table is None:
            return []
        out = [(f"{self.readers[a]} vs {self.readers[b]}", a, b) for a, b in combinations(range(nr), 2)]
        if np.isfinite(table[:, nr]).any():
            out += [(f"{r} vs model", a, nr) for a, r in enumerate(self.readers)]
        return out

    def pairs(self, name: str) -> Pairs:
        """{pair label: (a values, b values)} over the images where both are finite ({} for an
        unknown name); a − b is the report's difference."""
        out: Pairs = {}
        for label, a, b in self._columns(name):
            x, y = self.values[name][:, a], self.values[name][:, b]
            ok = np.isfinite(x) & np.isfinite(y)
            out[label] = (x[ok], y[ok])
        return out

    def pair_ids(self, name: str) -> dict[str, list[str]]:
        """{pair label: the image ids of ``pairs(name)[label]``, in the same order}."""
        out = {}
        for label, a, b in self._columns(name):
            table = self.values[name]
            ok = np.isfinite(table[:, a]) & np.isfinite(table[:, b])
            out[label] = [self.ids[i] for i in np.flatnonzero(ok)]
        return out


def _masked(xy: np.ndarray, visible: np.ndarray | None, k: int, what: str) -> np.ndarray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.shape != (k, 2) or (visible is not None and np.shape(visible) != (k,)):
        raise ValueError(f"measurement values: {what} does not fit the schema's {k} keypoints")
    ok = np.isfinite(arr).all(axis=-1) & (np.asarray(visible, dtype=bool) if visible is not None else True)
    return np.where(ok[:, None], arr, np.nan)


def _numeric(schema: Schema, xy: np.ndarray, spacing: tuple[float, float] | None,
             facing: str | None) -> dict[str, tuple[float, str]]:
    """{row name: (value, unit)} of one reading's numeric rows, as the report takes them."""
    m = measure(schema, xy, None, spacing=spacing, facing=facing)
    return {name: (float(v), unit) for name, v, unit, _ in m.rows()
            if unit != "grade" and name != "note" and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)}


def measurement_values(schema: Schema, images: Sequence[ImageReadings], names: Collection[str] | None = None, *,
                       progress: Callable[[int, int], None] | None = None,
                       cancel: Callable[[], bool] | None = None) -> MeasurementValues:
    """The values of every measurement (or only ``names``) of every compared image, by reader
    and for the model. ``progress(done, total)`` hears of the images measured; ``cancel()``
    True stops with :class:`CancelledError`."""
    used = [im for im in images if len(im.readers) >= 2 or (im.readers and im.model is not None)]
    readers = sorted({r for im in used for r in im.readers})
    spacings = [valid_spacing(im.spacing) for im in used]
    mm = bool(used) and all(s is not None for s in spacings)
    n, nr = len(used), len(readers)
    out = MeasurementValues([im.image_id for im in used], readers, "mm" if mm else "px")
    for i, im in enumerate(used):
        if cancel is not None and cancel():
            raise CancelledError(f"stopped after {i} of {n} images")
        readings = [(readers.index(r), _masked(xy, vis, schema.k, f"image {im.image_id!r}, reader {r!r}"))
                    for r, (xy, vis) in im.readers.items()]
        if im.model is not None:
            readings.append((nr, _masked(im.model, None, schema.k, f"image {im.image_id!r}, model")))
        for c, xy in readings:
            if not np.isfinite(xy).any():
                continue
            for name, (v, unit) in _numeric(schema, xy, spacings[i] if mm else None, im.facing).items():
                if names is not None and name not in names:
                    continue
                if name not in out.values:
                    out.values[name], out.units[name] = np.full((n, nr + 1), np.nan), unit
                out.values[name][i, c] = v
        if progress is not None and (i + 1 == n or (i + 1) % 50 == 0):
            progress(i + 1, n)
    return out


def measurement_pairs(schema: Schema, images: Sequence[ImageReadings], name: str) -> Pairs:
    """{pair label: (a values, b values)} of one measurement, as the report pairs them (see
    :meth:`MeasurementValues.pairs`)."""
    return measurement_values(schema, images, {name}).pairs(name)
