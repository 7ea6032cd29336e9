"""The generator: the stages called in the order they draw from the random streams.

That order is part of the output: phantoms of difficulty <= 1 are pinned byte for byte
(tests/unit/test_phantom_extras.py), so a new draw goes after the existing ones of its stream,
or into the extras' stream (:mod:`.dice`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vam_gui.core.schema import Schema, load_schema
from vam_gui.synth.anatomy import Column, Span, draw_bodies, pick_levels, shape_bodies, size_levels
from vam_gui.synth.bone import draw_bone_look, draw_pelvis, draw_ribs
from vam_gui.synth.column import column_curve, open_discs, place_levels
from vam_gui.synth.dice import Dice
from vam_gui.synth.film import expose
from vam_gui.synth.labels import Phantom, jsonable, keypoints
from vam_gui.synth.projection import Projection, film_size, image_outlines, project
from vam_gui.synth.raster import Canvas
from vam_gui.synth.tissue import draw_background, more_soft_tissue
from vam_gui.synth.vertebrae import draw_vertebrae


def make_phantom(
    schema: Schema | str = "lumbar-ap-20",
    *,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    difficulty: float = 1.0,
    clean: bool = False,
) -> Phantom:
    """A synthetic spine radiograph with the schema's corner landmarks.

    Deterministic by ``seed``. ``size=(H, W)`` or drawn per seed (H 640..1024, W 0.7..0.9 H;
    0.4..0.55 H for long columns such as spine-ap-68). ``difficulty`` in [0, 1] scales the
    nuisances (0: upright, centred, no scoliosis, little noise); (1, 2] adds, with strength
    difficulty - 1, hardware (rods, screws, cages), a ruler, lead markers, burned-in text,
    curves up to ~60 deg Cobb with axial rotation, fainter bone, more soft tissue and gas (a
    difficulty <= 1 phantom is exactly what it was before these extras; labels stay the drawn
    corners). ``clean=True`` skips blur, noise, gamma and the intensity gradient (the anatomy,
    its texture and the landmarks are the same as without it).
    """
    return _generate(schema, seed=seed, size=size, difficulty=difficulty, clean=clean)[0]


def _generate(
    schema: Schema | str,
    *,
    seed: int = 0,
    size: tuple[int, int] | None = None,
    difficulty: float = 1.0,
    clean: bool = False,
) -> tuple[Phantom, dict[str, Any]]:
    """make_phantom plus debug data: the image-frame outlines of the drawn bodies, the drawn
    level names, and the position among them of each schema vertebra."""
    sch = schema if isinstance(schema, Schema) else load_schema(schema)
    lat = sch.view == "LAT"
    dice = Dice.start(seed, difficulty, view=sch.view, clean=clean)
    span = pick_levels(sch)
    H, W = film_size(dice, size, tall=span.tall)
    # anatomy -> projection -> labels -> appearance
    col, facing = _anatomy(dice, span, lat=lat, height=H, width=W)
    proj = project(dice, col, lat=lat, facing=facing, height=H, width=W)
    outlines = image_outlines(col.levels, proj, lat=lat)
    xy, visible = keypoints(sch, outlines, col.levels, span.schema_pos, height=H, width=W)
    pixels = _appearance(dice, col, proj, outlines, lat=lat, clean=clean)
    ph = Phantom(
        pixels=pixels,
        xy=xy,
        visible=visible,
        spacing=(float(proj.spacing), float(proj.spacing)),
        schema=sch.name,
        seed=int(seed),
        facing=facing,
        params=jsonable(dice.params),
    )
    return ph, {"outlines": outlines, "levels": span.names, "schema_pos": span.schema_pos}


def _anatomy(dice: Dice, span: Span, *, lat: bool, height: int, width: int) -> tuple[Column, str | None]:
    """The levels sized, placed on the column's curve and shaped; (column, LAT facing)."""
    bodies = draw_bodies(dice, span)
    col = size_levels(span, bodies, lat=lat, height=height, width=width)
    curve = column_curve(dice, col, bodies.tilt, lat=lat, width=width)
    place_levels(col, curve, bodies.tilt, lat=lat, x=dice.x)
    shape_bodies(col.levels, bodies, lat=lat, d=dice.d)
    open_discs(col.levels)
    return col, curve.facing


def _appearance(dice: Dice, col: Column, proj: Projection, outlines: list[np.ndarray], *,
                lat: bool, clean: bool) -> np.ndarray:
    """Draw the film back to front (soft tissue, ribs, pelvis, vertebrae), then expose it."""
    look = draw_bone_look(dice, proj)
    canvas = Canvas(proj.height, proj.width)
    torso, background = draw_background(dice, proj, col.levels, col.span.schema_pos, lat=lat)
    canvas.img += background
    if dice.x > 0:
        more_soft_tissue(canvas.img, proj, torso, lat=lat, dice=dice)
    draw_ribs(canvas, dice, col.levels, torso, proj, lat=lat)
    if "S1" in col.span.names:
        draw_pelvis(canvas, dice, col.levels[col.span.names.index("S1")], proj, look, lat=lat)
    draw_vertebrae(canvas, col.levels, outlines, proj, look, lat=lat)
    return expose(canvas.img, dice, proj, col.levels, lat=lat, clean=clean)
