"""Landmark errors in the units users read them in.

Full-length films often carry no pixel spacing, so besides original pixels and millimetres the
errors are given as a percentage of the image height and in vertebral heights (error divided by
the image's median *true* vertebral middle height): both compare across scanners, resolutions
and patients, and a vertebral height is what a reader means by "one level off".

A truth point counts when it is visible and set. A missing prediction (NaN) at such a point has
no distance, so it is left out of every mean, median and maximum, and counted as a miss in every
success detection rate (SDR): a model cannot improve its SDR by abstaining. ``missing`` reports
how many there were.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from vam_gui.core.checks import level_shift, median_middle_height
from vam_gui.core.measure import corner_table
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing

UNITS = ("px", "mm", "%h", "vh")  # original px, millimetres, % of image height, vertebral heights
DEFAULT_SDR_PCT_H = (0.5, 1.0)
DEFAULT_SDR_MM = (2.0, 4.0)  # only when every image has a spacing
_ITEM = re.compile(r"^(\d+\.?\d*|\.\d+)\s*(.*)$")
_KEYS = {"px": "px", "%h": "pct_h", "vh": "vh", "mm": "mm"}  # unit -> error-array name


@dataclass(frozen=True)
class SdrThreshold:
    value: float
    unit: str  # one of UNITS

    def __str__(self) -> str:
        return f"{self.value:g} {self.unit}"


def parse_sdr(text: str) -> list[SdrThreshold]:
    """Thresholds from a command-line style list: ``"2,4mm"`` (a bare value takes the next unit
    written after it) or ``"2mm,0.5%h"``. A value with no unit after it is an error rather than
    a guess, since the same number means very different things in px, mm, %h and vh."""
    accepted = ", ".join(UNITS)
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(f"SDR thresholds {text!r}: empty value; write e.g. '2,4mm' or '2mm,0.5%h'")
    out: list[SdrThreshold] = []
    pending: list[float] = []
    for item in items:
        m = _ITEM.match(item)
        if m is None:
            raise ValueError(f"SDR thresholds {text!r}: {item!r} is not a positive number with an "
                             f"optional unit ({accepted})")
        value, unit = float(m[1]), m[2].strip().lower()
        if unit and unit not in UNITS:
            raise ValueError(f"SDR thresholds {text!r}: unknown unit {m[2].strip()!r} in {item!r}; "
                             f"use one of {accepted}")
        if not value > 0:
            raise ValueError(f"SDR thresholds {text!r}: {item!r} must be greater than zero")
        pending.append(value)
        if unit:
            out.extend(SdrThreshold(v, unit) for v in pending)
            pending = []
    if pending:
        raise ValueError(f"SDR thresholds {text!r}: {', '.join(f'{v:g}' for v in pending)} has no "
                         f"unit; end with one of {accepted} (e.g. '2,4mm')")
    return out


def _num(x: float) -> float | None:
    """JSON-ready float: NaN and inf (nothing to average) become None."""
    return float(x) if math.isfinite(x) else None


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return _num(float(values.mean())) if values.size else None


def _median(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return _num(float(np.median(values))) if values.size else None


def _as_points(schema: Schema, xy: np.ndarray, what: str, i: int) -> np.ndarray:
    arr = np.asarray(xy, dtype=np.float64)
    if arr.shape != (schema.k, 2):
        raise ValueError(f"{what}[{i}] has shape {arr.shape}, expected ({schema.k}, 2) for "
                         f"schema {schema.name!r}")
    return arr


def _image_errors(schema: Schema, pred: np.ndarray, truth: np.ndarray, vis: np.ndarray,
                  height: float, spacing: tuple[float, float] | None) -> dict[str, np.ndarray]:
    """[K] errors in every unit for one image (NaN where there is none) and which truth points
    count; the vertebral height comes from the truth so a bad prediction cannot rescale its
    own error."""
    counted = vis & np.isfinite(truth).all(axis=1)
    d = np.where((counted & np.isfinite(pred).all(axis=1))[:, None], pred - truth, np.nan)
    px = np.hypot(d[:, 0], d[:, 1])
    vh_height = median_middle_height(corner_table(schema, truth, vis))
    mm = np.full_like(px, np.nan)
    if spacing is not None:
        mm = np.hypot(d[:, 0] * spacing[1], d[:, 1] * spacing[0])
    return {"counted": counted, "px": px, "pct_h": px * 100.0 / height, "mm": mm,
            "vh": px / vh_height if vh_height else np.full_like(px, np.nan),
            "vh_known": np.full(len(px), bool(vh_height))}


def _sdr_rate(err: dict[str, np.ndarray], t: SdrThreshold, all_mm: bool) -> float | None:
    """Share of counted points within the threshold; points whose image has no scale in that
    unit (no measurable vertebra for vh) are left out, missing predictions count as misses."""
    if t.unit == "mm" and not all_mm:
        return None
    known = err["counted"] & (err["vh_known"] if t.unit == "vh" else True)
    if not known.any():
        return None
    within = known & (np.nan_to_num(err[_KEYS[t.unit]], nan=np.inf) <= t.value)
    return float(within.sum() / known.sum())


def evaluate_points(schema: Schema, pred: list[np.ndarray], truth: list[np.ndarray],
                    visible: list[np.ndarray], *, heights: list[int],
                    spacings: list[tuple[float, float] | None],
                    sdr: list[SdrThreshold] | None = None, names: list[str] | None = None) -> dict[str, Any]:
    """Landmark errors of ``pred`` against ``truth`` ([K, 2] original px per image) as a
    JSON-ready dict (see the module doc for missing predictions).

    Keys: images, points (visible truth points), missing (of those, not predicted);
    mre_/median_ in px, pct_h (error / image height × 100), vh (error / the image's median true
    vertebral middle height; images with no complete true vertebra are left out) and mm (None
    unless every image has a spacing (dy, dx)); sdr [{threshold, unit, rate}] (an mm threshold
    has rate None unless every image has a spacing; default 0.5 and 1 %h, plus 2 and 4 mm when
    every image has one); per_vertebra [{vertebra, mre_px, mre_pct_h, mre_vh, points}];
    per_keypoint [{name, mre_px, mre_pct_h, max_pct_h}]; level_shifted_images and
    level_shifted [{image, delta}] by :func:`level_shift` (delta +1: the prediction names each
    vertebra one level too cranially)."""
    n = len(pred)
    lengths = {"truth": len(truth), "visible": len(visible), "heights": len(heights),
               "spacings": len(spacings)} | ({"names": len(names)} if names is not None else {})
    bad = [f"{key} has {m}" for key, m in lengths.items() if m != n]
    if bad:
        raise ValueError(f"evaluate_points: pred has {n} images but {', '.join(bad)}")
    if any(not h > 0 for h in heights):
        raise ValueError("evaluate_points: every image height must be positive")
    spacing = [valid_spacing(s) for s in spacings]
    all_mm = n > 0 and all(s is not None for s in spacing)
    per_image, shifted = [], []
    for i in range(n):
        p, t = _as_points(schema, pred[i], "pred", i), _as_points(schema, truth[i], "truth", i)
        vis = np.asarray(visible[i], dtype=bool).reshape(schema.k)
        per_image.append(_image_errors(schema, p, t, vis, float(heights[i]), spacing[i]))
        shift = level_shift(schema, p, np.where(vis[:, None], t, np.nan))
        if shift is not None:
            shifted.append({"image": names[i] if names is not None else i, "delta": shift[0]})
    keys = ("counted", "px", "pct_h", "vh", "mm", "vh_known")
    err = {key: np.stack([e[key] for e in per_image]) if n else np.zeros((0, schema.k))
           for key in keys}
    err["counted"] = err["counted"].astype(bool)
    err["vh_known"] = err["vh_known"].astype(bool)
    if sdr is None:
        sdr = [SdrThreshold(v, "%h") for v in DEFAULT_SDR_PCT_H]
        sdr += [SdrThreshold(v, "mm") for v in DEFAULT_SDR_MM] if all_mm else []
    result: dict[str, Any] = {"images": n, "points": int(err["counted"].sum()),
                    "missing": int((err["counted"] & ~np.isfinite(err["px"])).sum())}
    for key in ("px", "pct_h", "vh", "mm"):
        use = key != "mm" or all_mm
        result[f"mre_{key}"] = _mean(err[key].ravel()) if use else None
        result[f"median_{key}"] = _median(err[key].ravel()) if use else None
    result["sdr"] = [{"threshold": t.value, "unit": t.unit, "rate": _sdr_rate(err, t, all_mm)}
                     for t in sdr]
    result["per_vertebra"] = _per_vertebra(schema, err)
    result["per_keypoint"] = [
        {"name": name, "mre_px": _mean(err["px"][:, k]), "mre_pct_h": _mean(err["pct_h"][:, k]),
         "max_pct_h": _num(float(np.nanmax(err["pct_h"][:, k])))
         if np.isfinite(err["pct_h"][:, k]).any() else None}
        for k, name in enumerate(schema.keypoints)]
    result["level_shifted_images"] = len(shifted)
    result["level_shifted"] = shifted
    return result


def _per_vertebra(schema: Schema, err: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    rows = []
    for v, name in enumerate(schema.vertebrae):
        cols = [k for k in range(schema.k) if schema.vertebra[k] == v]
        rows.append({"vertebra": name, "mre_px": _mean(err["px"][:, cols].ravel()),
                     "mre_pct_h": _mean(err["pct_h"][:, cols].ravel()),
                     "mre_vh": _mean(err["vh"][:, cols].ravel()),
                     "points": int(err["counted"][:, cols].sum())})
    return rows


def _fmt(x: float | None, digits: int) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def format_report(result: dict[str, Any]) -> str:
    """Plain-text summary of :func:`evaluate_points`: a few header lines, then one row per
    vertebra, so a console log and a saved .txt read the same."""
    head = f"images: {result['images']}   points: {result['points']}"
    lines = [f"{head}   missing predictions: {result.get('missing', 0)}",
             f"{'error':<8}{'mean':>10}{'median':>10}"]
    for key, unit, digits in (("px", "px", 2), ("pct_h", "%h", 3), ("vh", "vh", 3), ("mm", "mm", 2)):
        if result.get(f"mre_{key}") is not None or key != "mm":
            lines.append(f"{unit:<8}{_fmt(result.get(f'mre_{key}'), digits):>10}"
                         f"{_fmt(result.get(f'median_{key}'), digits):>10}")
    for row in result.get("sdr", []):
        label = f"SDR {row['threshold']:g} {row['unit']}"
        rate = row["rate"]
        note = "n/a (spacing missing)" if rate is None and row["unit"] == "mm" else (
            "n/a" if rate is None else f"{100.0 * rate:.1f} %")
        lines.append(f"{label:<18}{note}")
    shifted = result.get("level_shifted", [])
    listed = ", ".join(f"{s['image']} ({s['delta']:+d})" for s in shifted[:10])
    more = f", ... {len(shifted) - 10} more" if len(shifted) > 10 else ""
    lines.append(f"level-shifted images: {result.get('level_shifted_images', len(shifted))}"
                 + (f" ({listed}{more})" if shifted else ""))
    lines.append("")
    lines.append(f"{'vertebra':<10}{'points':>8}{'mre_px':>10}{'mre_%h':>10}{'mre_vh':>10}")
    for row in result.get("per_vertebra", []):
        lines.append(f"{row['vertebra']:<10}{row['points']:>8}{_fmt(row['mre_px'], 2):>10}"
                     f"{_fmt(row['mre_pct_h'], 3):>10}{_fmt(row['mre_vh'], 3):>10}")
    return "\n".join(lines) + "\n"
