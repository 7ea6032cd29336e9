"""Anatomical plausibility checks that point a reviewer at likely label errors.

Each check returns :class:`Flag` objects; an empty list means nothing looked wrong. The checks
are deliberately tolerant of real anatomy (rotated, scoliotic, lordotic, wedged vertebrae) and
strict about things no spine does (a vertebra drawn inside out, L3 above L2): a false alarm on
every image teaches reviewers to ignore the flags.

Geometry is checked in the physical frame (x·dx, y·dy) when the spacing is known; distances to
heatmap peaks and to the prediction are in original pixels, with thresholds scaled to the median
vertebral height of the image so they hold at any resolution.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from vam_gui.core.measure import corner_table, infer_facing, to_physical
from vam_gui.core.outlines import OVERLAP_MIN_SHARE, apart, bounds, convex, crosses, overlaps  # noqa: F401 - a check threshold, named here with the others
from vam_gui.core.schema import Schema
from vam_gui.core.spacing import valid_spacing

# Flag kinds.
CORNER_ORDER = "corner_order"  # left/right (AP), anterior/posterior (lateral) or upper/lower swapped
OUTLINE = "outline"  # self-intersecting or non-convex vertebra outline
LEVEL_ORDER = "level_order"  # vertebra v+1 drawn above vertebra v
OVERLAP = "overlap"  # two vertebrae' outlines overlap
HEIGHT_JUMP = "height_jump"  # a middle height implausibly different from its neighbours'
PEAK_DISTANCE = "peak_distance"  # a point far from its heatmap peak
LEVEL_SHIFT = "level_shift"  # the labels sit one vertebra off the prediction
KINDS = (CORNER_ORDER, OUTLINE, LEVEL_ORDER, OVERLAP, HEIGHT_JUMP, PEAK_DISTANCE, LEVEL_SHIFT)
SEVERITIES = ("error", "warning")

# A vertebra's middle height is flagged when it differs by more than this fraction of each of
# its two nearest neighbours' middle heights (adjacent vertebrae differ by a few percent; a
# fracture by 20–40 %, which is worth a second look anyway).
HEIGHT_JUMP_FRACTION = 0.35
# A point is "far" from its heatmap peak beyond this fraction of the median vertebral height (px).
PEAK_DISTANCE_FRACTION = 0.25
PEAK_DISTANCE_FALLBACK_PX = 10.0  # when no vertebral height can be measured
# Level shift: annotation of v within SHIFT_MATCH × height of the prediction of v±1 while more
# than SHIFT_MISMATCH × height from the prediction of v, for more than SHIFT_MIN_SHARE of the
# comparable vertebrae (and at least SHIFT_MIN_COUNT of them).
SHIFT_MATCH_FRACTION = 0.3
SHIFT_MISMATCH_FRACTION = 0.6
SHIFT_MIN_SHARE = 0.5
SHIFT_MIN_COUNT = 2
_OUTLINE = (0, 1, 3, 2)  # UL-UR-LR-LL (AP) and SA-SP-IP-IA (lateral) share the indices
_DOWN = np.array([0.0, 1.0])


@dataclass(frozen=True)
class Flag:
    kind: str
    message: str
    points: tuple[int, ...]  # keypoint indices involved
    vertebra: int | None  # schema vertebra index, None for image-level flags
    severity: str  # "error" (anatomically impossible) or "warning" (implausible)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["points"] = list(self.points)
        return d


@dataclass(frozen=True)
class _Vertebrae:
    """One image's vertebrae as the geometric checks see them. A vertebra is "present" when all
    its schema corners are: then its centroid is defined and, being the mean of the corners, it
    does not move when corners are swapped among themselves. "full" adds: it has four corners."""

    schema: Schema
    table_px: np.ndarray  # [V, 4, 2] original px
    table: np.ndarray  # [V, 4, 2] in the physical frame when the spacing is known, else px
    finite: list[list[bool]]  # [V][4]: the corner's two coordinates are finite
    index: dict[tuple[int, int], int]
    corners_of: list[list[int]]
    present: list[bool]
    centroid: list[Any]
    full: list[bool]
    unit: str

    @classmethod
    def of(cls, schema: Schema, xy: np.ndarray, visible: np.ndarray | None,
           spacing: tuple[float, float] | None) -> _Vertebrae:
        table_px = corner_table(schema, xy, visible)
        table = to_physical(table_px, spacing)
        nv = len(schema.vertebrae)
        index = schema.index_by_corner()
        corners_of = [sorted(c for (v2, c) in index if v2 == v) for v in range(nv)]
        finite = np.isfinite(table).all(axis=2).tolist()
        present = [bool(corners_of[v]) and all(finite[v][c] for c in corners_of[v]) for v in range(nv)]
        centroid: list[Any] = [table[v, corners_of[v]].mean(axis=0) if present[v] else None for v in range(nv)]
        full = [present[v] and len(corners_of[v]) == 4 for v in range(nv)]
        return cls(schema, table_px, table, finite, index, corners_of, present, centroid, full,
                   "mm" if spacing else "px")

    def pts(self, v: int, cs: Iterable[int]) -> tuple[int, ...]:
        return tuple(sorted(self.index[(v, c)] for c in cs if (v, c) in self.index))


def check(schema: Schema, xy: np.ndarray, visible: np.ndarray | None = None, *,
          heatmap_peaks: np.ndarray | None = None, prediction_xy: np.ndarray | None = None,
          spacing: tuple[float, float] | None = None, facing: str | None = None,
          peak_threshold_px: float | None = None) -> list[Flag]:
    """All checks on one image's points (original px, y down). ``heatmap_peaks`` and
    ``prediction_xy`` are [K, 2] in the same pixels; ``peak_threshold_px`` overrides the default
    PEAK_DISTANCE_FRACTION × median vertebral height."""
    g = _Vertebrae.of(schema, xy, visible, valid_spacing(spacing))
    flags = [*_corner_order_flags(g, facing), *_outline_flags(g), *_level_order_flags(g), *_overlap_flags(g),
             *_height_jump_flags(g)]
    if heatmap_peaks is not None:
        flags += _peak_distance_flags(schema, xy, visible, heatmap_peaks, median_middle_height(g.table_px),
                                      peak_threshold_px)
    if prediction_xy is not None:
        shift = level_shift(schema, xy, prediction_xy, visible=visible)
        if shift is not None:
            flags.append(_level_shift_flag(schema, *shift, g.index))
    return flags


def _corner_order_flags(g: _Vertebrae, facing: str | None) -> list[Flag]:
    """Corners swapped across (left/right or anterior/posterior) or along the column (upper/
    lower), judged in each vertebra's own frame."""
    schema, names, cn = g.schema, g.schema.vertebrae, g.schema.corner_names
    lateral = schema.view == "LAT"
    if lateral and facing not in ("left", "right"):
        facing = infer_facing(g.table_px)
    flags: list[Flag] = []
    for v in range(len(names)):
        axis = _column_axis(v, g.centroid)
        right = np.array([axis[1], -axis[0]])  # the displayed right, perpendicular to the axis
        c, ok = g.table[v], g.finite[v]
        if lateral:
            if facing is None:
                across = []
            else:
                ant = right if facing == "right" else -right
                across = [((1, 0), ant, "anterior/posterior"), ((3, 2), ant, "anterior/posterior")]
        else:
            across = [((0, 1), right, "left/right"), ((2, 3), right, "left/right")]
        for (a, b), direction, what in across:
            if ok[a] and ok[b] and float(np.dot(c[b] - c[a], direction)) < 0:
                flags.append(Flag(CORNER_ORDER, f"{names[v]}: {cn[a]} and {cn[b]} look swapped ({what})",
                                  g.pts(v, (a, b)), v, "error"))
        swapped = [(a, b) for a, b in ((0, 2), (1, 3))
                   if ok[a] and ok[b] and float(np.dot(c[b] - c[a], axis)) < 0]
        if len(swapped) == 2:
            flags.append(Flag(CORNER_ORDER, f"{names[v]}: upper endplate drawn below the lower one",
                              g.pts(v, (0, 1, 2, 3)), v, "error"))
        for a, b in swapped if len(swapped) == 1 else []:
            flags.append(Flag(CORNER_ORDER, f"{names[v]}: {cn[a]} is below {cn[b]} (upper/lower swapped)",
                              g.pts(v, (a, b)), v, "error"))
    return flags


def _outline_flags(g: _Vertebrae) -> list[Flag]:
    """A complete vertebra whose outline crosses itself (error) or is not convex (warning)."""
    names = g.schema.vertebrae
    flags: list[Flag] = []
    for v in range(len(names)):
        if not g.full[v]:
            continue
        poly = g.table[v, list(_OUTLINE)].tolist()  # the same float arithmetic on Python floats, faster
        if crosses(poly[0], poly[1], poly[2], poly[3]) or crosses(poly[1], poly[2], poly[3], poly[0]):
            flags.append(Flag(OUTLINE, f"{names[v]}: outline crosses itself (corners in the wrong order)",
                              g.pts(v, _OUTLINE), v, "error"))
        elif not convex(poly):
            flags.append(Flag(OUTLINE, f"{names[v]}: outline is not convex", g.pts(v, _OUTLINE), v, "warning"))
    return flags


def _level_order_flags(g: _Vertebrae) -> list[Flag]:
    """Cranio-caudal order: each present vertebra's centroid below the previous present one's."""
    names = g.schema.vertebrae
    order = [v for v in range(len(names)) if g.present[v]]
    return [Flag(LEVEL_ORDER, f"{names[w]} is drawn above {names[u]}",
                 g.pts(u, g.corners_of[u]) + g.pts(w, g.corners_of[w]), w, "error")
            for u, w in zip(order, order[1:]) if g.centroid[w][1] <= g.centroid[u][1]]


def _overlap_flags(g: _Vertebrae) -> list[Flag]:
    """Any two present vertebrae whose outlines (or a lone endplate and an outline) overlap."""
    names = g.schema.vertebrae
    order = [v for v in range(len(names)) if g.present[v]]
    # each outline and its box once, not once per pair (most pairs end at the box test)
    polys = {v: g.table[v, [k for k in _OUTLINE if k in g.corners_of[v]]] for v in order}
    boxes = {v: bounds(p) for v, p in polys.items() if len(p) >= 2}
    flags: list[Flag] = []
    for i, u in enumerate(order):
        for w in order[i + 1:]:
            pu, pw = polys[u], polys[w]
            if (len(pu) >= 2 and len(pw) >= 2 and len(pu) + len(pw) >= 6
                    and not apart(boxes[u], boxes[w]) and overlaps(pu, pw)):
                flags.append(Flag(OVERLAP, f"{names[u]} and {names[w]} overlap",
                                  g.pts(u, g.corners_of[u]) + g.pts(w, g.corners_of[w]), w, "error"))
    return flags


def _height_jump_flags(g: _Vertebrae) -> list[Flag]:
    """A middle height more than HEIGHT_JUMP_FRACTION off both nearest neighbours' (one adjacent)."""
    names, unit = g.schema.vertebrae, g.unit
    heights = {v: _middle_height(g.table[v]) for v in range(len(names)) if g.full[v]}
    flags: list[Flag] = []
    for v, h in heights.items():
        near = sorted((abs(u - v), u) for u in heights if u != v and abs(u - v) <= 2)[:2]
        if len(near) < 2 or not any(d == 1 for d, _ in near):
            continue
        if all(abs(h - heights[u]) > HEIGHT_JUMP_FRACTION * heights[u] for _, u in near):
            others = " and ".join(f"{names[u]} ({heights[u]:.1f} {unit})" for _, u in near)
            flags.append(Flag(HEIGHT_JUMP, f"{names[v]}: middle height {h:.1f} {unit} differs by more "
                              f"than {HEIGHT_JUMP_FRACTION:.0%} from {others}", g.pts(v, (0, 1, 2, 3)), v,
                              "warning"))
    return flags


def _peak_distance_flags(schema: Schema, xy: np.ndarray, visible: np.ndarray | None, heatmap_peaks: np.ndarray,
                         median_px: float | None, peak_threshold_px: float | None) -> list[Flag]:
    """Visible points farther from their heatmap peak than the threshold (original px)."""
    thr = peak_threshold_px if peak_threshold_px is not None else (
        PEAK_DISTANCE_FRACTION * median_px if median_px else PEAK_DISTANCE_FALLBACK_PX)
    peaks = np.asarray(heatmap_peaks, dtype=np.float64).reshape(-1, 2)
    xy_arr = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    vis = np.ones(schema.k, bool) if visible is None else np.asarray(visible, bool)
    dist = np.hypot(*(xy_arr - peaks).T)
    return [Flag(PEAK_DISTANCE, f"{schema.keypoints[j]} is {dist[j]:.1f} px from its "
                 f"heatmap peak (threshold {thr:.1f} px)", (int(j),), schema.vertebra[j], "warning")
            for j in np.flatnonzero(vis & np.isfinite(dist) & (dist > thr))]


def _column_axis(v: int, centroid: list[Any]) -> np.ndarray:
    """Unit caudal direction of the column at vertebra v, from the neighbours' centroids (which
    corner swaps cannot move); image-down when there are none or they point implausibly."""
    prev = centroid[v - 1] if v > 0 else None
    nxt = centroid[v + 1] if v + 1 < len(centroid) else None
    here = centroid[v]
    if prev is not None and nxt is not None:
        d = nxt - prev
    elif nxt is not None and here is not None:
        d = nxt - here
    elif prev is not None and here is not None:
        d = here - prev
    else:
        return _DOWN
    n = float(np.hypot(*d))
    # More than 60° off image-down means the neighbours themselves are misplaced; don't trust them.
    if n == 0 or d[1] / n < 0.5:
        return _DOWN
    out: np.ndarray = d / n
    return out


def _middle_height(c: np.ndarray) -> float:
    # (c[0] + c[1]) / 2 is what c[[0, 1]].mean(axis=0) gives, without a numpy reduction per call
    return float(np.hypot(*((c[0] + c[1]) / 2 - (c[2] + c[3]) / 2)))


def median_middle_height(table: np.ndarray) -> float | None:
    """Median middle height over the complete vertebrae of a [V, 4, 2] corner table: the image's
    own length scale, so thresholds hold at any resolution. None when no vertebra is complete."""
    # _middle_height's arithmetic on all complete vertebrae at once, and np.median's answer
    # (the middle value, or the mean of the middle two) without its per-call overhead
    c = table[np.isfinite(table).all(axis=(1, 2))]
    d = (c[:, 0] + c[:, 1]) / 2 - (c[:, 2] + c[:, 3]) / 2
    heights: list[float] = sorted(np.hypot(d[:, 0], d[:, 1]).tolist())
    n = len(heights)
    if not n:
        return None
    return heights[n // 2] if n % 2 else (heights[n // 2 - 1] + heights[n // 2]) / 2


def _mean_corner_distances(a: np.ndarray, b: np.ndarray, s: int) -> np.ndarray:
    """[V]: mean distance of vertebra v's corners in ``a`` to vertebra v + s's in ``b`` ([V, 4, 2]
    each) over the corners both have; NaN with fewer than two or no v + s. One ``np.mean`` per
    vertebra would give the same sums in the same order."""
    nv = len(a)
    out = np.full(nv, np.nan)
    lo, hi = max(0, -s), min(nv, nv - s)
    if hi <= lo:
        return out
    pa, pb = a[lo:hi], b[lo + s:hi + s]
    ok = np.isfinite(pa).all(axis=2) & np.isfinite(pb).all(axis=2)
    d = np.hypot(pa[..., 0] - pb[..., 0], pa[..., 1] - pb[..., 1])
    n = ok.sum(axis=1)
    total = np.where(ok, d, 0.0).sum(axis=1)
    out[lo:hi] = np.where(n >= 2, total / np.maximum(n, 1), np.nan)
    return out


def level_shift(schema: Schema, xy: np.ndarray, reference_xy: np.ndarray, *,
                visible: np.ndarray | None = None) -> tuple[int, tuple[int, ...]] | None:
    """(delta, matched vertebra indices) when the points ``xy`` sit one level off
    ``reference_xy``, else None. One rule shared by the review flag, reader studies and
    evaluation, so "level-shifted" means the same thing everywhere.

    delta = +1: ``xy`` names each vertebra one level too cranially (its v sits on the
    reference's v+1), so moving every label one vertebra down would match. ``visible`` masks
    ``xy``; NaN points on either side are ignored. A vertebra counts when its mean corner
    distance to the reference's v±1 is under SHIFT_MATCH_FRACTION and to the reference's v over
    SHIFT_MISMATCH_FRACTION of the median vertebral height (the reference's, else ``xy``'s); a
    shift needs more than SHIFT_MIN_SHARE of the comparable vertebrae and SHIFT_MIN_COUNT."""
    ann = corner_table(schema, xy, visible)
    pred = corner_table(schema, reference_xy)
    nv = len(schema.vertebrae)
    h = median_middle_height(pred)
    if h is None:
        h = median_middle_height(ann)
    if not h:
        return None

    same = _mean_corner_distances(ann, pred, 0)
    comparable = [v for v in range(nv) if np.isfinite(same[v])]
    best: tuple[int, list[int]] | None = None
    for s in (1, -1):
        shifted = _mean_corner_distances(ann, pred, s)
        matched = [v for v in comparable if 0 <= v + s < nv and np.isfinite(shifted[v])
                   and shifted[v] < SHIFT_MATCH_FRACTION * h and same[v] > SHIFT_MISMATCH_FRACTION * h]
        if best is None or len(matched) > len(best[1]):
            best = (s, matched)
    if best is None:
        return None
    s, matched = best
    if len(matched) < SHIFT_MIN_COUNT or len(matched) <= SHIFT_MIN_SHARE * len(comparable):
        return None
    return s, tuple(matched)


def _level_shift_flag(schema: Schema, s: int, matched: tuple[int, ...], index: dict[tuple[int, int], int]) -> Flag:
    names = schema.vertebrae
    pairs = ", ".join(f"annotated {names[v]} sits on predicted {names[v + s]}" for v in matched)
    fix = "down" if s > 0 else "up"
    points = tuple(i for v in matched for c in range(4) if (i := index.get((v, c))) is not None)
    # s > 0: the annotation names each vertebra one level too cranially, so ShiftLevels(+1)
    # (every label one vertebra down) would bring it onto the prediction.
    return Flag(LEVEL_SHIFT, f"labels look one level off the prediction ({pairs}); shifting the "
                f"labels {fix} one level (delta {s:+d}) would match it",
                points, None, "warning")
