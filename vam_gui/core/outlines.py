"""Plane geometry of vertebra outlines for the label checks: segment crossings, convexity, areas
and whether two outlines overlap (core/checks.py flags what these find)."""

from __future__ import annotations

import numpy as np

# Two outlines overlap when the intersection exceeds this share of the smaller one's area, so
# endplates that merely touch (a collapsed disc) are not flagged.
OVERLAP_MIN_SHARE = 0.05


def cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def crosses(p1: np.ndarray, p2: np.ndarray, q1: np.ndarray, q2: np.ndarray) -> bool:
    """Proper crossing of segments p1p2 and q1q2 (touching or collinear does not count)."""
    d1, d2 = cross(q1, q2, p1), cross(q1, q2, p2)
    d3, d4 = cross(p1, p2, q1), cross(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def area(poly: np.ndarray) -> float:
    x, y = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def convex(poly: np.ndarray) -> bool:
    n = len(poly)
    signs = {np.sign(cross(poly[i], poly[(i + 1) % n], poly[(i + 2) % n])) for i in range(n)}
    signs.discard(0.0)
    return len(signs) <= 1


def clip(subject: np.ndarray, clip: np.ndarray) -> np.ndarray:
    """Sutherland–Hodgman: subject ∩ clip, for a convex clip polygon of either orientation."""
    sign = 1.0 if area(clip) > 0 else -1.0
    out = list(subject)
    for i in range(len(clip)):
        a, b = clip[i], clip[(i + 1) % len(clip)]
        pts, out = out, []
        if not pts:
            break
        for j in range(len(pts)):
            p, q = pts[j], pts[(j + 1) % len(pts)]
            cp, cq = sign * cross(a, b, p), sign * cross(a, b, q)
            if cp >= 0:
                out.append(p)
            if cp * cq < 0:
                t = cp / (cp - cq)
                out.append(p + t * (q - p))
    return np.array(out) if len(out) >= 3 else np.zeros((0, 2))


def inside(point: np.ndarray, poly: np.ndarray) -> bool:
    """Strictly inside a convex polygon (on the boundary is outside)."""
    s = [cross(poly[i], poly[(i + 1) % len(poly)], point) for i in range(len(poly))]
    return all(v > 0 for v in s) or all(v < 0 for v in s)


def overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    # Outlines whose bounding boxes are apart can neither cross nor contain one another (most
    # pairs: the disc lies between neighbours); NaN compares False and falls through.
    if (a[:, 0].max() < b[:, 0].min() or b[:, 0].max() < a[:, 0].min()
            or a[:, 1].max() < b[:, 1].min() or b[:, 1].max() < a[:, 1].min()):
        return False
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 2:  # a lone endplate (S1): crossing the other outline or lying inside it
        edges = [(b[i], b[(i + 1) % len(b)]) for i in range(len(b))]
        return any(crosses(a[0], a[1], p, q) for p, q in edges) or \
            (convex(b) and (inside(a[0], b) or inside(a[1], b)))
    if convex(a) and convex(b):
        inter = clip(a, b)
        smaller = min(abs(area(a)), abs(area(b)))
        return len(inter) >= 3 and smaller > 0 and abs(area(inter)) > OVERLAP_MIN_SHARE * smaller
    # A non-convex outline is flagged on its own; here any edge crossing counts.
    return any(crosses(a[i], a[(i + 1) % len(a)], b[j], b[(j + 1) % len(b)])
               for i in range(len(a)) for j in range(len(b)))


def bounds(poly: np.ndarray) -> tuple[float, float, float, float]:
    """(x min, y min, x max, y max) of a [N, 2] outline, as the box test in :func:`overlaps` takes them."""
    x, y = poly[:, 0], poly[:, 1]
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def apart(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """The :func:`bounds` boxes of two outlines are apart: then they do not overlap (the first
    test of :func:`overlaps`, on boxes computed once per outline; NaN compares False)."""
    return a[2] < b[0] or b[2] < a[0] or a[3] < b[1] or b[3] < a[1]
