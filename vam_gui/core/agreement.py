"""Reader-study agreement: how closely readers (and a model) place the same landmarks.

Points are original pixels (x right, y down), one [K, 2] array per reading with a [K] visible
mask. A point counts in a comparison when it is visible and finite on both sides. Distances are
Euclidean in mm when the spacing (row_mm, col_mm) = (dy, dx) is known, x·dx and y·dy, else in
px; a study reports mm only when every compared image has a usable spacing (one missing puts
every distance and length in px, and a note says so). Measurements are those of
:func:`vam_gui.core.measure.measure` with their own units (lengths in the report's unit,
angles in degrees, ratios unitless, losses and slips in percent).

Statistics: ICC(2,1) (Shrout & Fleiss 1979; McGraw & Wong's ICC(A,1): two-way random effects,
absolute agreement, single rater) across readers; Bland–Altman bias a − b with 95 % limits
bias ± 1.96·sd (sd with ddof 1); per-axis reader noise σ = sqrt(mean squared coordinate
difference / 2), which is each reader's σ when both are the truth plus independent noise.
Level disagreements are decided by :func:`vam_gui.core.checks.level_shift`, the rule the
review flag and evaluation use. Missing values are NaN here and None in ``to_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import combinations
from typing import Any, cast

import numpy as np

from vam_gui.core.checks import SHIFT_MATCH_FRACTION, SHIFT_MIN_COUNT, SHIFT_MISMATCH_FRACTION, level_shift
from vam_gui.core.measure import measure
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import check_spacing, valid_spacing

LOA_Z = 1.96  # Bland–Altman limits of agreement: bias ± LOA_Z·sd


def _clean(obj: Any) -> Any:
    """JSON-ready: tuples to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    return obj


class _Json:
    """``to_dict``: the dataclass's fields by name, nested ones too, JSON-ready (NaN as None)."""

    def to_dict(self) -> dict[str, Any]:
        return cast(dict[str, Any], _clean(asdict(cast(Any, self))))


def icc_2_1(table: Any) -> float:
    """ICC(2,1) of an n subjects × k raters table (any unit): (BMS − EMS) / (BMS + (k−1)·EMS +
    k·(JMS − EMS)/n) from the two-way ANOVA mean squares (rows BMS, raters JMS, error EMS).
    Rows with any NaN are dropped; NaN with fewer than 2 rows or raters or a zero denominator."""
    y = np.asarray(table, dtype=np.float64)
    if y.ndim != 2:
        raise ValueError(f"icc_2_1: expected an n × k table, got shape {y.shape}")
    y = y[np.isfinite(y).all(axis=1)]
    n, k = y.shape
    if n < 2 or k < 2:
        return math.nan
    gm = y.mean()
    ss_rows = k * float(((y.mean(axis=1) - gm) ** 2).sum())
    ss_cols = n * float(((y.mean(axis=0) - gm) ** 2).sum())
    ss_err = float(((y - gm) ** 2).sum()) - ss_rows - ss_cols
    bms, jms, ems = ss_rows / (n - 1), ss_cols / (k - 1), ss_err / ((n - 1) * (k - 1))
    den = bms + (k - 1) * ems + k * (jms - ems) / n
    return (bms - ems) / den if den != 0 else math.nan


@dataclass(frozen=True)
class BlandAltman(_Json):
    """Differences a − b over the pairs where both are finite, in the values' unit; the limits
    are bias ± 1.96·sd (sd with ddof 1). Every float is NaN when n < 2."""

    n: int
    bias: float
    sd: float
    lower: float
    upper: float


def bland_altman(a: Any, b: Any) -> BlandAltman:
    """Bland–Altman agreement of two equally long sequences of paired values."""
    x, y = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"bland_altman: {x.size} values against {y.size}")
    d = (x - y)[np.isfinite(x) & np.isfinite(y)]
    if d.size < 2:
        return BlandAltman(int(d.size), math.nan, math.nan, math.nan, math.nan)
    bias, sd = float(d.mean()), float(d.std(ddof=1))
    return BlandAltman(int(d.size), bias, sd, bias - LOA_Z * sd, bias + LOA_Z * sd)


def _masked(xy: Any, visible: Any | None) -> np.ndarray:
    """[..., K, 2] float points with NaN where not visible or not finite."""
    arr = np.asarray(xy, dtype=np.float64)
    ok = np.asarray(np.isfinite(arr).all(axis=-1), dtype=bool)
    if visible is not None:
        ok = ok & np.asarray(visible, dtype=bool)
    return np.where(ok[..., None], arr, np.nan)


def point_distances(xy_a: Any, visible_a: Any | None, xy_b: Any, visible_b: Any | None,
                    spacing: tuple[float, float] | None = None) -> np.ndarray:
    """[..., K] Euclidean distance between two annotations of one image ([..., K, 2] px; the
    masks [..., K], None = all visible): mm with ``spacing`` (row_mm, col_mm) = (dy, dx), else
    px; NaN where the point is invisible or NaN on either side. A bad spacing raises."""
    sp = check_spacing(spacing)
    d = (_masked(xy_a, visible_a) - _masked(xy_b, visible_b)) * (np.array(sp[::-1]) if sp else np.ones(2))
    out: np.ndarray = np.hypot(d[..., 0], d[..., 1])
    return out


@dataclass(frozen=True, eq=False)
class ImageReadings:
    """One image of a reader study: each reader's (xy [K, 2] original px, visible [K] bool), the
    model's xy [K, 2] (None without a prediction), the spacing (dy, dx) mm and lateral facing."""

    image_id: str
    readers: dict[str, tuple[np.ndarray, np.ndarray]]
    model: np.ndarray | None
    spacing: tuple[float, float] | None
    facing: str | None = None


@dataclass(frozen=True)
class DistanceStats(_Json):
    """n compared points, mean and 95th-percentile (linear) distance in the report's unit."""

    n: int
    mean: float
    p95: float

    @classmethod
    def of(cls, d: np.ndarray) -> DistanceStats:
        d = d[np.isfinite(d)]
        return (cls(int(d.size), float(d.mean()), float(np.percentile(d, 95.0))) if d.size
                else cls(0, math.nan, math.nan))


@dataclass(frozen=True)
class KeypointAgreement(_Json):
    """One schema keypoint: every reader pair pooled, and each reader (by name) vs the model."""

    name: str
    readers: DistanceStats
    model: dict[str, DistanceStats]


@dataclass(frozen=True)
class AxisSigma(_Json):
    """Per-axis reader noise in the report's unit from n point pairs: sqrt(mean(Δ²)/2) in x, y
    and over both axes together (pooled)."""

    n: int
    x: float
    y: float
    pooled: float


@dataclass(frozen=True)
class MeasurementAgreement(_Json):
    """One measurement row of :func:`measure`: n images with at least two readers' values,
    ICC(2,1) over the icc_n images every reader measured, Bland–Altman per reader pair
    ("alice vs bob": alice − bob) and per reader against the model ("alice vs model")."""

    name: str
    unit: str
    n: int
    icc: float
    icc_n: int
    pairs: dict[str, BlandAltman]
    model: dict[str, BlandAltman]


@dataclass(frozen=True)
class LevelDisagreement(_Json):
    """Readers (a, b) one vertebra apart on an image; delta as :func:`level_shift` gives it for
    a's points against b's (+1: a names each vertebra one level more cranially than b)."""

    image_id: str
    readers: tuple[str, str]
    delta: int


@dataclass(frozen=True)
class AgreementReport(_Json):
    """The agreement of a reader study (see the module doc for units and conventions).
    ``images`` counts images with at least two readers, ``images_with_model`` those with a
    model and at least one reader; ``overall_*`` pool every keypoint."""

    phase_label: str
    unit: str
    notes: list[str]
    readers: list[str]
    images: int
    images_with_model: int
    overall_readers: DistanceStats
    overall_model: dict[str, DistanceStats]
    keypoints: list[KeypointAgreement]
    per_axis_sigma: AxisSigma
    measurements: list[MeasurementAgreement]
    level_disagreements: list[LevelDisagreement]

    def format_table(self) -> str:
        """Plain-text summary for a terminal or a saved .txt."""
        return _format(self)


@dataclass(frozen=True)
class _Study:
    """The compared images as arrays: pts [N, R, K, 2] px (NaN: absent, invisible or unset),
    model [N, K, 2] px, scale [N, 2] (dx, dy) per image to the report's unit."""

    ids: list[str]
    readers: list[str]
    pts: np.ndarray
    model: np.ndarray
    scale: np.ndarray
    spacing: list[tuple[float, float] | None]
    facing: list[str | None]
    unit: str
    notes: list[str]


def _shaped(arr: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    if (a := np.asarray(arr)).shape != shape:
        raise ValueError(f"agreement: {what} has shape {a.shape}, expected {shape} for the schema")
    return a


def _collect(schema: Schema, images: Sequence[ImageReadings]) -> _Study:

    used = [im for im in images if len(im.readers) >= 2 or (im.readers and im.model is not None)]
    readers = sorted({r for im in used for r in im.readers})
    k, n = schema.k, len(used)
    pts, model = np.full((n, len(readers), k, 2), np.nan), np.full((n, k, 2), np.nan)
    for i, im in enumerate(used):
        for r, (xy, vis) in im.readers.items():
            what = f"image {im.image_id!r}, reader {r!r}"
            pts[i, readers.index(r)] = _masked(_shaped(xy, (k, 2), f"{what} xy"), _shaped(vis, (k,), f"{what} visible"))
        if im.model is not None:
            model[i] = _masked(_shaped(im.model, (k, 2), f"image {im.image_id!r}, model xy"), None)
    spacing = [valid_spacing(im.spacing) for im in used]
    missing = sum(s is None for s in spacing)
    unit = "mm" if n and not missing else "px"
    notes = [] if unit == "mm" else (
        ["no images to compare"] if not n else ["no pixel spacing: distances and lengths in px"]
        if missing == n else [f"pixel spacing missing on {missing} of {n} images: all distances and lengths "
                              "in px (square pixels assumed)"])
    scale = np.array([[s[1], s[0]] if unit == "mm" and s else [1.0, 1.0] for s in spacing]).reshape(n, 2)
    return _Study([im.image_id for im in used], readers, pts, model, scale,
                  spacing if unit == "mm" else [None] * n, [im.facing for im in used], unit, notes)


def _distances(schema: Schema, st: _Study) -> tuple[DistanceStats, dict[str, DistanceStats],
                                                     list[KeypointAgreement], AxisSigma]:
    """Reader-pair and reader-vs-model distances per keypoint, and the per-axis reader σ."""
    k, nr, scale = schema.k, len(st.readers), st.scale[:, None, :]
    pair_d, sq, count = [], np.zeros(2), 0
    for a, b in combinations(range(nr), 2):
        diff = (st.pts[:, a] - st.pts[:, b]) * scale  # [N, K, 2]
        ok = np.isfinite(diff).all(axis=-1)
        sq += (diff[ok] ** 2).sum(axis=0)
        count += int(ok.sum())
        pair_d.append(np.hypot(diff[..., 0], diff[..., 1]))
    between = np.concatenate(pair_d) if pair_d else np.zeros((0, k))
    vs_model = {}
    for a, r in enumerate(st.readers if np.isfinite(st.model).any() else []):
        diff = (st.pts[:, a] - st.model) * scale
        vs_model[r] = np.hypot(diff[..., 0], diff[..., 1])
    keypoints = [KeypointAgreement(name, DistanceStats.of(between[:, j]),
                                   {r: DistanceStats.of(d[:, j]) for r, d in vs_model.items()})
                 for j, name in enumerate(schema.keypoints)]
    sigma = np.sqrt(sq / (2 * count)) if count else np.full(2, np.nan)
    pooled = math.sqrt(float(sq.sum()) / (4 * count)) if count else math.nan
    return (DistanceStats.of(between.ravel()), {r: DistanceStats.of(d.ravel()) for r, d in vs_model.items()},
            keypoints, AxisSigma(count, float(sigma[0]), float(sigma[1]), pooled))


def _measured(schema: Schema, xy: np.ndarray, st: _Study, i: int) -> dict[str, tuple[float, str]]:
    """{row name: (value, unit)} of one reading's numeric rows (no grades, notes, missing)."""
    m = measure(schema, xy, None, spacing=st.spacing[i], facing=st.facing[i])
    return {name: (float(v), unit) for name, v, unit, _ in m.rows()
            if unit != "grade" and name != "note" and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v)}


def _measurements(schema: Schema, st: _Study) -> list[MeasurementAgreement]:
    """ICC and Bland–Altman per measurement; column R of each value table is the model."""
    n, nr = len(st.ids), len(st.readers)
    values: dict[str, np.ndarray] = {}
    units: dict[str, str] = {}
    for i in range(n):
        readings = [(c, st.pts[i, c]) for c in range(nr) if np.isfinite(st.pts[i, c]).any()]
        if np.isfinite(st.model[i]).any():
            readings.append((nr, st.model[i]))
        for c, xy in readings:
            for name, (v, unit) in _measured(schema, xy, st, i).items():
                if name not in values:
                    values[name], units[name] = np.full((n, nr + 1), np.nan), unit
                values[name][i, c] = v
    out = []
    for name, table in values.items():
        rd = table[:, :nr]
        pairs = {f"{st.readers[a]} vs {st.readers[b]}": bland_altman(rd[:, a], rd[:, b])
                 for a, b in combinations(range(nr), 2)}
        model = {f"{r} vs model": bland_altman(rd[:, a], table[:, nr]) for a, r in enumerate(st.readers)
                 if np.isfinite(table[:, nr]).any()}
        out.append(MeasurementAgreement(
            name, units[name], int((np.isfinite(rd).sum(axis=1) >= 2).sum()), icc_2_1(rd),
            int(np.isfinite(rd).all(axis=1).sum()) if nr >= 2 else 0, pairs, model))
    return out


def _mean_corner_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[...] mean corner distance of two [..., 4, 2] corner sets, NaN unless ≥ 2 corners pair up
    (level_shift's own mean distance, for a whole study at once)."""
    d = np.hypot(a[..., 0] - b[..., 0], a[..., 1] - b[..., 1])
    cnt = (ok := np.isfinite(d)).sum(axis=-1)
    total = np.where(ok, d, 0.0).sum(axis=-1)
    return np.where(cnt >= 2, total / np.maximum(cnt, 1), np.nan)


def _may_shift(table: np.ndarray, a: int, b: int) -> np.ndarray:
    """[N] False where :func:`level_shift` cannot fire between readers a and b in either
    direction: it needs SHIFT_MIN_COUNT vertebrae whose distance to the other's neighbour is
    under SHIFT_MATCH_FRACTION and to the other's same vertebra over SHIFT_MISMATCH_FRACTION of
    one height, so their ratio exceeds the fractions' (a margin keeps the screen conservative)."""
    ratio = 0.95 * SHIFT_MISMATCH_FRACTION / SHIFT_MATCH_FRACTION
    may = np.zeros(len(table), bool)
    for x, y in ((a, b), (b, a)):
        p, q = table[:, x], table[:, y]  # [N, V, 4, 2]
        same = _mean_corner_dist(p, q)
        up = same[:, :-1] > ratio * _mean_corner_dist(p[:, :-1], q[:, 1:])  # p's v on q's v+1
        down = same[:, 1:] > ratio * _mean_corner_dist(p[:, 1:], q[:, :-1])  # p's v on q's v-1
        may |= (up.sum(axis=1) >= SHIFT_MIN_COUNT) | (down.sum(axis=1) >= SHIFT_MIN_COUNT)
    return may


def _level_disagreements(schema: Schema, st: _Study) -> list[LevelDisagreement]:
    """The first reader pair per image that :func:`level_shift` finds one vertebra apart."""
    n, nr = len(st.ids), len(st.readers)
    table = np.full((n, nr, len(schema.vertebrae), 4, 2), np.nan)
    table[:, :, schema.vertebra_array(), schema.corner_array()] = st.pts
    found: dict[int, LevelDisagreement] = {}
    for a, b in combinations(range(nr), 2):
        for i in (int(j) for j in np.flatnonzero(_may_shift(table, a, b)) if int(j) not in found):
            shift = level_shift(schema, st.pts[i, a], st.pts[i, b])
            delta = shift[0] if shift is not None else None
            if delta is None and (back := level_shift(schema, st.pts[i, b], st.pts[i, a])) is not None:
                delta = -back[0]
            if delta is not None:
                found[i] = LevelDisagreement(st.ids[i], (st.readers[a], st.readers[b]), int(delta))
    return [found[i] for i in sorted(found)]


def agreement(schema: Schema, images: Sequence[ImageReadings], *, phase_label: str = "") -> AgreementReport:
    """Agreement between the readers of a study, and of each reader with the model, over the
    images with at least two readers or one reader and a model prediction."""
    st = _collect(schema, images)
    overall, overall_model, keypoints, sigma = _distances(schema, st)
    pair_images = int(((np.isfinite(st.pts).any(axis=(2, 3))).sum(axis=1) >= 2).sum())
    with_model = int((np.isfinite(st.model).any(axis=(1, 2)) & np.isfinite(st.pts).any(axis=(1, 2, 3))).sum())
    return AgreementReport(phase_label, st.unit, st.notes, st.readers, pair_images, with_model, overall,
                           overall_model, keypoints, sigma, _measurements(schema, st),
                           _level_disagreements(schema, st))


def _f(x: float, digits: int = 2) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "n/a"


def _format(rep: AgreementReport) -> str:
    u, s = rep.unit, rep.per_axis_sigma
    lines = [f"Reader agreement{f' - {rep.phase_label}' if rep.phase_label else ''}",
             f"readers: {', '.join(rep.readers) or 'none'}   images: {rep.images}   with model: "
             f"{rep.images_with_model}   unit: {u}"]
    lines += [f"note: {note}" for note in rep.notes]
    lines += [f"{who}: {d.n} points, mean {_f(d.mean)} {u}, p95 {_f(d.p95)} {u}" for who, d in
              [("between readers", rep.overall_readers), *((f"{r} vs model", d) for r, d in rep.overall_model.items())]]
    lines.append(f"reader sigma per axis ({u}): x {_f(s.x)}  y {_f(s.y)}  pooled {_f(s.pooled)}  ({s.n} points)")
    shown = ", ".join(f"{d.image_id} ({'/'.join(d.readers)} {d.delta:+d})" for d in rep.level_disagreements[:10])
    more = f", ... {len(rep.level_disagreements) - 10} more" if len(rep.level_disagreements) > 10 else ""
    lines.append(f"level disagreements: {len(rep.level_disagreements)}" + (f" ({shown}{more})" if shown else ""))
    lines += ["", f"{'keypoint':<14}{'n':>7}{'mean':>9}{'p95':>9}" + "".join(f"{r[:12] + ' vs model':>22}"
                                                                         for r in rep.overall_model)]
    lines += [f"{kp.name:<14}{kp.readers.n:>7}{_f(kp.readers.mean):>9}{_f(kp.readers.p95):>9}"
              + "".join(f"{_f(d.mean):>22}" for d in kp.model.values()) for kp in rep.keypoints]
    lines += ["", f"{'measurement':<32}{'unit':>6}{'n':>7}{'ICC':>7}   Bland-Altman bias [limits]"]
    for m in rep.measurements:
        ba = "; ".join(f"{key} {_f(v.bias)} [{_f(v.lower)}, {_f(v.upper)}]"
                       for key, v in (m.pairs | m.model).items() if v.n >= 2)
        lines.append(f"{m.name:<32}{m.unit:>6}{m.n:>7}{_f(m.icc, 3):>7}   {ba}")
    return "\n".join(lines) + "\n"
