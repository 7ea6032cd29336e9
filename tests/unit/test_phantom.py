"""The procedural spine phantom: determinism, layout, landmark exactness, sub-pixel rendering."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from vam_gui.core.schema import load_schema
from vam_gui.synth import Phantom, make_phantom, polygon_coverage
from vam_gui.synth.generate import _generate
from vam_gui.synth.raster import Canvas

SCHEMAS = {"lumbar-ap-20": 20, "lumbar-lat-22": 22, "spine-ap-68": 68}


def _centroid(img: np.ndarray) -> tuple[float, float, float]:
    """(x, y, mass) of an intensity image, pixel centres at integer (x = column, y = row)."""
    img = np.asarray(img, dtype=np.float64)
    mass = img.sum()
    ys, xs = np.indices(img.shape)
    return float((img * xs).sum() / mass), float((img * ys).sum() / mass), float(mass)


def _polygon_centroid(poly: np.ndarray) -> tuple[float, float, float]:
    p = np.asarray(poly, dtype=np.float64)
    q = np.roll(p, -1, axis=0)
    cr = p[:, 0] * q[:, 1] - q[:, 0] * p[:, 1]
    a = cr.sum() / 2.0
    cx = ((p[:, 0] + q[:, 0]) * cr).sum() / (6.0 * a)
    cy = ((p[:, 1] + q[:, 1]) * cr).sum() / (6.0 * a)
    return float(cx), float(cy), abs(float(a))


# --- sub-pixel rendering ------------------------------------------------------------------


@pytest.mark.parametrize(
    "x0, y0, x1, y1",
    [(10.0, 12.0, 40.0, 30.0), (10.3, 12.7, 40.1, 30.45), (7.5, 9.5, 33.5, 41.5),
     (20.26, 5.81, 61.93, 44.12), (3.9, 4.2, 4.9, 5.3)],
)
def test_rectangle_centroid_and_area_are_subpixel_exact(x0, y0, x1, y1) -> None:
    rect = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    cov = polygon_coverage(rect, (64, 80))
    cx, cy, mass = _centroid(cov)
    assert abs(cx - (x0 + x1) / 2) < 0.05
    assert abs(cy - (y0 + y1) / 2) < 0.05
    assert mass == pytest.approx((x1 - x0) * (y1 - y0), rel=0.01, abs=0.05)
    # Along x the covered length is exact: the pixel holding the left edge is covered by
    # (j + 0.5 - x0) of its width, its neighbours fully or not at all.
    row = int(round((y0 + y1) / 2))
    j = int(np.floor(x0 + 0.5))
    assert cov[row, j] == pytest.approx(j + 0.5 - x0, abs=1e-5) or (x1 - x0) < 1.5
    if (x1 - x0) > 3:
        assert cov[row, j + 1] == pytest.approx(1.0, abs=1e-5)
        assert cov[row, j - 1] == pytest.approx(0.0, abs=1e-5)


def test_rendered_bright_rectangle_through_the_phantom_canvas() -> None:
    """A rectangle drawn the way the phantom draws bodies (fill + cortical rim, no noise, no
    blur) has its intensity centroid at the centre of its corners."""
    rng = np.random.default_rng(7)
    for _ in range(5):
        x0, y0 = rng.uniform(8, 20, 2)
        x1, y1 = x0 + rng.uniform(15, 40), y0 + rng.uniform(15, 30)
        rect = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        canvas = Canvas(64, 72)
        canvas.add_shell(rect, 2.5, rim=0.3, fill=0.5, n_sub=16)
        assert canvas.img.min() >= -1e-6 and canvas.img.max() > 0.7  # bright rim
        cx, cy, _ = _centroid(canvas.img)
        assert abs(cx - (x0 + x1) / 2) < 0.05
        assert abs(cy - (y0 + y1) / 2) < 0.05


def test_rotated_quadrilateral_matches_analytic_centroid_either_orientation() -> None:
    th = 0.4
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    quad = np.array([30.3, 28.7]) + np.array([[-15, -9], [16, -11], [17, 12], [-14, 8]]) @ rot.T
    ex, ey, area = _polygon_centroid(quad)
    for poly in (quad, quad[::-1]):
        cov = polygon_coverage(poly, (60, 64))
        cx, cy, mass = _centroid(cov)
        assert abs(cx - ex) < 0.05 and abs(cy - ey) < 0.05
        assert mass == pytest.approx(area, rel=0.005)
        assert cov.min() >= 0.0 and cov.max() <= 1.0


def test_coverage_is_clipped_to_the_image() -> None:
    rect = np.array([[-10.0, -5.0], [5.2, -5.0], [5.2, 9.5], [-10.0, 9.5]])
    cov = polygon_coverage(rect, (20, 20))
    # inside the image the rectangle covers x in [-0.5, 5.2], y in [-0.5, 9.5]
    assert cov.sum() == pytest.approx(5.7 * 10.0, rel=0.005)
    assert polygon_coverage(rect + 100.0, (20, 20)).sum() == 0.0


# --- determinism, shapes, types -------------------------------------------------------------


def test_same_seed_is_byte_identical_and_seeds_differ() -> None:
    a = make_phantom("lumbar-ap-20", seed=3)
    b = make_phantom("lumbar-ap-20", seed=3)
    c = make_phantom("lumbar-ap-20", seed=4)
    assert a.pixels.tobytes() == b.pixels.tobytes()
    assert np.array_equal(a.xy, b.xy)
    assert a.params == b.params
    assert a.pixels.shape != c.pixels.shape or not np.array_equal(a.pixels, c.pixels)
    assert not np.allclose(a.xy, c.xy)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_shapes_types_and_metadata(name: str) -> None:
    schema = load_schema(name)
    ph = make_phantom(name, seed=11)
    assert isinstance(ph, Phantom)
    h, w = ph.pixels.shape
    assert 640 <= h <= 1024 and 0.35 * h <= w <= 0.95 * h
    assert ph.pixels.dtype == np.uint16
    assert 4000 * 0.5 <= int(ph.pixels.max()) <= 60000
    assert int(ph.pixels.max()) - int(ph.pixels.min()) > 1000
    assert ph.xy.shape == (SCHEMAS[name], 2) == (schema.k, 2) and ph.xy.dtype == np.float64
    assert ph.visible.shape == (schema.k,) and ph.visible.dtype == bool
    assert np.all(np.isfinite(ph.xy))
    assert ph.schema == name and ph.seed == 11
    dy, dx = ph.spacing
    assert dy == dx and 0.1 <= dy <= 1.5
    assert ph.facing in (("left", "right") if schema.view == "LAT" else (None,))
    assert json.loads(json.dumps(ph.params)) == ph.params
    assert ph.params["size"] == [h, w]


def test_explicit_size_and_schema_object() -> None:
    schema = load_schema("lumbar-lat-22")
    ph = make_phantom(schema, seed=5, size=(512, 400))
    assert ph.pixels.shape == (512, 400)
    assert ph.schema == "lumbar-lat-22"
    assert ph.visible.sum() >= 20


def test_both_facings_occur_and_lordosis_faces_anterior() -> None:
    schema = load_schema("lumbar-lat-22")
    sa = [schema.index(f"{v}-SA") for v in schema.vertebrae]
    sp = [schema.index(f"{v}-SP") for v in schema.vertebrae]
    seen = set()
    for seed in range(8):
        ph = make_phantom(schema, seed=seed, difficulty=0.0)
        seen.add(ph.facing)
        sign = -1.0 if ph.facing == "left" else 1.0
        # anterior corners lie on the facing side of the posterior ones
        assert np.all(sign * (ph.xy[sa, 0] - ph.xy[sp, 0]) > 0)
        # lordosis: the mid-lumbar bodies stand anterior to the line from L1 to S1
        # called in this iteration only, so binding the loop's `ph` late is what is meant
        mid = lambda v: ph.xy[[schema.index(f"{v}-SA"), schema.index(f"{v}-SP")]].mean(axis=0)  # noqa: E731, B023
        top, bottom, l3 = mid("L1"), mid("S1"), mid("L3")
        t = (l3[1] - top[1]) / (bottom[1] - top[1])
        chord_x = top[0] + t * (bottom[0] - top[0])
        assert sign * (l3[0] - chord_x) > 0
    assert seen == {"left", "right"}


# --- landmark order and placement -----------------------------------------------------------


def _corner_table(ph: Phantom, schema) -> dict[tuple[int, int], np.ndarray]:
    return {(v, c): ph.xy[i] for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner))}


@pytest.mark.parametrize("name", ["lumbar-ap-20", "spine-ap-68"])
def test_ap_corner_order_at_difficulty_zero(name: str) -> None:
    schema = load_schema(name)
    for seed in range(3):
        ph = make_phantom(name, seed=seed, difficulty=0.0)
        assert ph.visible.all()
        xy = _corner_table(ph, schema)
        for v in range(len(schema.vertebrae)):
            ul, ur, ll, lr = xy[v, 0], xy[v, 1], xy[v, 2], xy[v, 3]
            assert ul[0] < ur[0] and ll[0] < lr[0]
            assert ul[1] < ll[1] and ur[1] < lr[1]
            if v + 1 < len(schema.vertebrae):
                nxt = xy[v + 1, 0], xy[v + 1, 1]
                assert min(nxt[0][1], nxt[1][1]) > max(ll[1], lr[1])
        # difficulty 0 is upright and centred: endplates level, column in the middle
        ul, ur = xy[0, 0], xy[0, 1]
        assert abs(ul[1] - ur[1]) < 0.12 * (ur[0] - ul[0])
        centre = ph.xy.mean(axis=0)
        h, w = ph.pixels.shape
        assert abs(centre[0] - (w - 1) / 2) < 0.05 * w
        assert abs(centre[1] - (h - 1) / 2) < 0.1 * h


def test_lat_corner_order_facing_left() -> None:
    schema = load_schema("lumbar-lat-22")
    found = 0
    for seed in range(10):
        ph = make_phantom(schema, seed=seed, difficulty=0.0)
        if ph.facing != "left":
            continue
        found += 1
        assert ph.visible.all()
        xy = _corner_table(ph, schema)
        for v in range(len(schema.vertebrae)):
            assert xy[v, 0][0] < xy[v, 1][0]  # SA left of SP
            if (v, 2) in xy:
                assert xy[v, 2][0] < xy[v, 3][0]  # IA left of IP
                assert xy[v, 0][1] < xy[v, 2][1] and xy[v, 1][1] < xy[v, 3][1]
            if v + 1 < len(schema.vertebrae):
                assert xy[v + 1, 1][1] > xy[v, 3][1]  # next SP below this IP
    assert found >= 2


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_landmarks_are_vertices_of_the_drawn_outlines(name: str) -> None:
    schema = load_schema(name)
    ph, debug = _generate(name, seed=21, difficulty=1.0)
    outlines = debug["outlines"]
    for k in range(schema.k):
        outline = outlines[debug["schema_pos"][schema.vertebra[k]]]
        assert np.min(np.abs(outline - ph.xy[k]).max(axis=1)) == 0.0, schema.keypoints[k]


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_bone_inside_each_corner_is_brighter_than_outside(name: str) -> None:
    schema = load_schema(name)
    vert = np.asarray(schema.vertebra)
    for seed in (0, 1):
        ph = make_phantom(name, seed=seed, difficulty=0.0, clean=True)
        px = ph.pixels.astype(np.float64)
        span = px.max() - px.min()
        for k in range(schema.k):
            same = ph.xy[vert == vert[k]]
            if len(same) == 4:
                centre = same.mean(axis=0)
            else:  # S1: only the superior endplate; the sacrum lies below it
                a, b = same
                n = np.array([-(b - a)[1], (b - a)[0]]) / np.hypot(*(b - a))
                centre = (a + b) / 2 + (n if n[1] > 0 else -n) * 20.0
            u = (centre - ph.xy[k]) / np.hypot(*(centre - ph.xy[k]))
            inside = np.rint(ph.xy[k] + 3.0 * u).astype(int)
            outside = np.rint(ph.xy[k] - 3.0 * u).astype(int)
            contrast = (px[inside[1], inside[0]] - px[outside[1], outside[0]]) / span
            assert contrast > 0.05, (name, seed, schema.keypoints[k], contrast)


def _cross(a: np.ndarray, b: np.ndarray) -> float:
    return float(a[0] * b[1] - a[1] * b[0])


def assert_bodies_convex_and_discs_open(xy: dict, schema, where=()) -> None:
    """Each body's corner quadrilateral is convex (AP: UL -> UR turns clockwise, y down, into
    UL -> LL), and the next body's upper corners lie beyond this body's lower endplate.
    ``xy`` maps (vertebra, corner) to a point; ``where`` labels a failure."""
    n_vert = len(schema.vertebrae)
    for v in range(n_vert):
        if (v, 2) not in xy:
            continue
        quad = [xy[v, 0], xy[v, 1], xy[v, 3], xy[v, 2]]
        turns = {np.sign(_cross(quad[(i + 1) % 4] - quad[i], quad[(i + 2) % 4] - quad[(i + 1) % 4]))
                 for i in range(4)}
        assert len(turns) == 1, (*where, v)
        if schema.view != "LAT":
            assert _cross(xy[v, 1] - xy[v, 0], xy[v, 2] - xy[v, 0]) > 0, (*where, v)
        if v + 1 < n_vert:
            a, b = xy[v, 2], xy[v, 3]
            n = np.array([-(b - a)[1], (b - a)[0]])
            if n @ (xy[v, 2] - xy[v, 0]) < 0:
                n = -n
            for c in (0, 1):
                assert (xy[v + 1, c] - a) @ n > 0, (*where, v)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_hard_phantoms_keep_bodies_convex_and_discs_open(name: str) -> None:
    schema = load_schema(name)
    for seed in range(4):
        ph = make_phantom(name, seed=100 + seed, difficulty=1.0)
        h, w = ph.pixels.shape
        inside = ((ph.xy[:, 0] >= 0) & (ph.xy[:, 0] <= w - 1)
                  & (ph.xy[:, 1] >= 0) & (ph.xy[:, 1] <= h - 1))
        assert np.array_equal(ph.visible, inside)
        assert_bodies_convex_and_discs_open(_corner_table(ph, schema), schema, (seed,))


def test_difficulty_scales_the_nuisances() -> None:
    easy = make_phantom("lumbar-ap-20", seed=9, difficulty=0.0)
    hard = make_phantom("lumbar-ap-20", seed=9, difficulty=1.0)
    assert easy.params["rotation_deg"] == 0.0 and easy.params["scale"] == 1.0
    assert easy.params["scoliosis_px"] == 0.0
    assert easy.params["blur_sigma"] == 0.5
    assert hard.params["blur_sigma"] >= 0.5 and hard.params["noise_additive"] >= 0.004
    assert 4000 <= hard.params["vmax"] <= 60000


def test_package_imports_numpy_only() -> None:
    code = ("import sys, vam_gui.synth; "
            "bad = [m for m in ('cv2', 'scipy', 'torch', 'PySide6') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
