"""The result types of :func:`vam_gui.core.measure.measure`, with their JSON form
(``Measurements.to_dict``) and their flat CSV rows (``Measurements.rows``).

Units and sign conventions are those of :mod:`vam_gui.core.measure`: every length is in the
result's ``unit`` (mm with a usable spacing, px otherwise), angles in degrees, ratios unitless,
losses and slips in percent; a value that cannot be measured is None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class VertebraMeasurement:
    name: str
    heights: dict[str, float | None]  # AP: left, middle, right; lateral: anterior, middle, posterior
    ratios: dict[str, float | None]  # AP: left/right, middle/max; lateral: anterior/posterior, middle/posterior
    height_loss_percent: float | None = None  # 100·(1 − min(heights)/max(heights))
    loss_reference: str | None = None  # which height was the max (the reference)
    genant_grade: int | None = None
    upper_endplate_deg: float | None = None
    lower_endplate_deg: float | None = None
    midline_deg: float | None = None


@dataclass
class DiscMeasurement:
    name: str  # "L4-L5"
    heights: dict[str, float | None]  # same edge names as the vertebrae, plus middle
    disc_angle_deg: float | None = None  # lower endplate of the upper vertebra vs upper endplate of the lower
    segment_angle_deg: float | None = None  # upper endplate of the upper vertebra vs lower endplate of the lower
    midline_angle_deg: float | None = None  # mid-line of the upper vertebra vs mid-line of the lower


@dataclass
class AngleMeasurement:
    name: str  # "lordosis_L1_L5", "lordosis_L1_S1", "cobb_L1_L5", "max_cobb"
    value_deg: float | None  # signed (see vam_gui.core.measure's doc)
    magnitude_deg: float | None
    convexity: str | None  # AP: "right" / "left" / "none" as displayed; lateral: None
    upper: str  # vertebra whose upper endplate is used
    lower: str  # vertebra whose lower endplate is used (S1: its upper endplate)
    note: str = ""


@dataclass
class SlipMeasurement:
    name: str  # "L5-S1"
    percent: float | None  # anterior slip positive
    distance: float | None  # along the S1 endplate, in the result's unit
    endplate_length: float | None
    grade: str | None  # Meyerding I..V, None for no slip / retrolisthesis
    note: str = ""


@dataclass
class Measurements:
    schema: str
    view: str
    unit: str  # "mm" or "px": the unit of every length in this result
    spacing: tuple[float, float] | None
    spacing_is_detector: bool
    facing: str | None
    facing_inferred: bool
    vertebrae: list[VertebraMeasurement] = field(default_factory=list)
    discs: list[DiscMeasurement] = field(default_factory=list)
    angles: list[AngleMeasurement] = field(default_factory=list)
    slip: SlipMeasurement | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """What ``_clean(self)`` gives (every field, in order, JSON-ready), spelled out field by
        field: the generic walk was a fifth of a large export's run."""
        slip = self.slip
        return {"schema": self.schema, "view": self.view, "unit": self.unit, "spacing": _clean(self.spacing),
                "spacing_is_detector": self.spacing_is_detector, "facing": self.facing,
                "facing_inferred": self.facing_inferred,
                "vertebrae": [_vertebra_dict(v) for v in self.vertebrae],
                "discs": [_disc_dict(d) for d in self.discs],
                "angles": [_angle_dict(a) for a in self.angles],
                "slip": None if slip is None else _slip_dict(slip),
                "notes": [_clean(n) for n in self.notes]}

    def vertebra(self, name: str) -> VertebraMeasurement:
        return next(v for v in self.vertebrae if v.name == name)

    def disc(self, name: str) -> DiscMeasurement:
        return next(d for d in self.discs if d.name == name)

    def angle(self, name: str) -> AngleMeasurement:
        return next(a for a in self.angles if a.name == name)

    def rows(self) -> list[tuple[str, float | int | str | None, str, str]]:
        """Flat (name, value, unit, note) rows for CSV export; missing values are None."""
        u = self.unit
        rows: list[tuple[str, Any, str, str]] = []
        loss_note = _loss_note(self.view)
        for v in self.vertebrae:
            rows += [(f"{v.name}.height.{k}", h, u, "") for k, h in v.heights.items()]
            rows += [(f"{v.name}.ratio.{k}", r, "ratio", "") for k, r in v.ratios.items()]
            rows.append((f"{v.name}.height_loss", v.height_loss_percent, "%",
                         f"reference: {v.loss_reference}; {loss_note}" if v.loss_reference else loss_note))
            rows.append((f"{v.name}.genant_grade", v.genant_grade, "grade", "0-3, Genant-style"))
            rows.append((f"{v.name}.upper_endplate", v.upper_endplate_deg, "deg", "tilt"))
            rows.append((f"{v.name}.lower_endplate", v.lower_endplate_deg, "deg", "tilt"))
            rows.append((f"{v.name}.midline", v.midline_deg, "deg", "tilt"))
        for d in self.discs:
            rows += [(f"disc {d.name}.height.{k}", h, u, "") for k, h in d.heights.items()]
            rows.append((f"disc {d.name}.disc_angle", d.disc_angle_deg, "deg", ""))
            rows.append((f"disc {d.name}.segment_angle", d.segment_angle_deg, "deg", ""))
            rows.append((f"disc {d.name}.midline_angle", d.midline_angle_deg, "deg", ""))
        for a in self.angles:
            rows.append((a.name, a.value_deg, "deg", a.note))
            if a.convexity is not None or self.view == "AP":
                rows.append((f"{a.name}.magnitude", a.magnitude_deg, "deg",
                             f"convex to the displayed {a.convexity}" if a.convexity else ""))
        if self.slip is not None:
            s = self.slip
            rows.append((f"slip {s.name}", s.percent, "%", s.note))
            rows.append((f"slip {s.name}.distance", s.distance, u, "along the S1 superior endplate"))
            rows.append((f"slip {s.name}.meyerding", s.grade, "grade", ""))
        rows += [("note", None, "", n) for n in self.notes]
        return [(n, _clean(val), un, note) for n, val, un, note in rows]


def _clean(obj: Any) -> Any:
    """JSON-ready: dataclasses to dicts of their fields (what ``asdict`` gives, without its deep
    copies: an export of ten thousand images spent most of its time there), tuples to lists,
    numpy scalars to Python, NaN/inf to None."""
    if type(obj) is float:  # the common case first
        return obj if math.isfinite(obj) else None
    if obj is None or type(obj) in (str, int, bool):
        return obj
    fields = getattr(type(obj), "__dataclass_fields__", None)
    if fields is not None:
        return {name: _clean(getattr(obj, name)) for name in fields}
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def _num(value: Any) -> Any:
    """``_clean`` of a number or None, the common float case first."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    return value if value is None else _clean(value)


def _vertebra_dict(v: VertebraMeasurement) -> dict[str, Any]:
    return {"name": v.name, "heights": {k: _num(h) for k, h in v.heights.items()},
            "ratios": {k: _num(r) for k, r in v.ratios.items()},
            "height_loss_percent": _num(v.height_loss_percent), "loss_reference": v.loss_reference,
            "genant_grade": _num(v.genant_grade), "upper_endplate_deg": _num(v.upper_endplate_deg),
            "lower_endplate_deg": _num(v.lower_endplate_deg), "midline_deg": _num(v.midline_deg)}


def _disc_dict(d: DiscMeasurement) -> dict[str, Any]:
    return {"name": d.name, "heights": {k: _num(h) for k, h in d.heights.items()},
            "disc_angle_deg": _num(d.disc_angle_deg), "segment_angle_deg": _num(d.segment_angle_deg),
            "midline_angle_deg": _num(d.midline_angle_deg)}


def _angle_dict(a: AngleMeasurement) -> dict[str, Any]:
    return {"name": a.name, "value_deg": _num(a.value_deg), "magnitude_deg": _num(a.magnitude_deg),
            "convexity": a.convexity, "upper": a.upper, "lower": a.lower, "note": a.note}


def _slip_dict(s: SlipMeasurement) -> dict[str, Any]:
    return {"name": s.name, "percent": _num(s.percent), "distance": _num(s.distance),
            "endplate_length": _num(s.endplate_length), "grade": s.grade, "note": s.note}


def _loss_note(view: str) -> str:
    base = ("loss = 1 - min(heights)/max(heights) of the same vertebra; the reference is the "
            "vertebra's largest height")
    if view == "LAT":
        return base + " (the classic Genant reference, the posterior height, when it is the largest)"
    return base + " (AP heights: a Genant-style index, not a clinical Genant grade)"
