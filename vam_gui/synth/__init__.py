"""Procedural spine-radiograph phantoms with exact ground-truth vertebral corner landmarks.

``make_phantom(schema, seed=...)`` draws a synthetic AP or lateral spine radiograph and
returns it with the schema's corner landmarks. The landmarks are computed from the geometry
(never by image analysis) and are exactly the corners of the polygons that were drawn.

Pixel convention (as everywhere in vam_gui): the centre of pixel (row i, column j) is
(x = j, y = i). Shapes are drawn by :func:`polygon_coverage` (:mod:`.raster`), which puts every
edge at its sub-pixel position: no supersampling, no offset to compensate. Only numpy at
import; OpenCV inside the functions that need it. No torch, no Qt. Imports ``vam_gui.core``
(the schema) and nothing else of ours.

Stages, in the order :mod:`.generate` runs them
------------------------------------------------
* anatomy -- :mod:`.anatomy` (the levels drawn, their sizes, each body's outline in its own
  frame), :mod:`.column` (lordosis or scoliosis, the levels placed along the curve, discs
  kept open);
* projection -- :mod:`.projection` (film size, the column centred and turned into the image,
  the bodies' outlines in image pixels);
* labels -- :mod:`.labels` (:class:`Phantom`, the keypoints read off the outlines, a preview);
* appearance -- :mod:`.tissue` (silhouette, lungs, heart, bowel gas), :mod:`.bone` (texture,
  bone contrast, ribs, pelvis), :mod:`.vertebrae` (bodies, discs, posterior elements,
  sacrum), :mod:`.film` (blur, gradient, window, gamma, noise, grey levels), :mod:`.hardware`
  and :mod:`.overlays` (difficulty above 1: metal, ruler, markers, text).

:mod:`.dice` holds the two random streams and the record of the drawn parameters;
:mod:`.raster` the anti-aliased polygon rasteriser and the drawing canvas.

Content
-------
AP view: the schema's vertebral bodies plus two extra levels above (e.g. T11, T12 for a
lumbar schema) and the sacrum below L5, each body a quadrilateral with slightly concave
sides and endplates, a bright cortical rim and band-passed (trabecular) interior texture;
discs (faint) between them; pedicle rings, spinous process teardrop, laminae, inferior
articular processes and transverse processes; ribs (floating ribs on lumbar films, full
posterior/anterior ribs and clavicles on thoracic films), lung fields and heart shadow,
iliac wings and sacrum with foramina, bowel gas, a soft-tissue silhouette. Scoliosis: a
C or S curve of the column.

Lateral view: bodies as wedged quadrilaterals with the anterior side towards ``facing``;
pedicles, articular processes and spinous processes behind them; lordosis (column concave
posteriorly); the sacrum as a curved wedge whose top edge is the S1 superior endplate
(its two corners are the S1-SA / S1-SP keypoints); iliac wing, floating ribs, bowel gas.

Nuisances (scaled by ``difficulty``): scoliosis amplitude, per-vertebra tilt (+-5 deg),
global rotation (+-10 deg), scale (0.85..1.15), translation, blur, noise, low-frequency
gradient, gamma; the output range (max 4000..60000) is always random. Difficulty above 1 adds
(strength d - 1, from the extras' own random stream) curves up to ~60 deg Cobb with apical
axial rotation, fainter bone, more soft tissue and bowel gas, surgical hardware, a ruler, lead
markers and burned-in text; phantoms with difficulty <= 1 are unchanged by it.
"""

from vam_gui.synth.generate import make_phantom
from vam_gui.synth.labels import Phantom, preview_rgb
from vam_gui.synth.raster import polygon_coverage

__all__ = ["Phantom", "make_phantom", "polygon_coverage", "preview_rgb"]
