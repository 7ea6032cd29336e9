"""Training augmentation: where a sample looks (the view), how it is moved, how it looks.

A sample is cut from an item's stored image with one affine map, composed of
- the **view**: the whole film letterboxed into the model input, or a crop around a run of
  labelled vertebrae made by the predictor's own crop function (``core.crop.column_crop``)
  with jitter in position and scale, so the second prediction pass sees in training what the
  first pass hands it;
- the **geometry**: rotation, scale, shift and a left/right flip about the input's centre.
  A flip is only done with the keypoint swap that keeps the labels right: on an AP view left
  and right corners trade places (UL <-> UR, LL <-> LR); on a lateral view the corner names
  are anatomical (anterior/posterior), so the labels stay and only the facing changes;
- the **appearance** (``model.appearance``): intensity changes that leave the points alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vam_gui.core.crop import column_crop
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.schema import Schema
from vam_gui.model.appearance import Appearance


def flip_permutation(schema: Schema) -> np.ndarray:
    """perm[i] = the keypoint whose position keypoint i takes after a horizontal flip."""
    perm = np.arange(schema.k)
    if schema.view != "AP":
        return perm
    where = schema.index_by_corner()
    swap = {0: 1, 1: 0, 2: 3, 3: 2}  # UL<->UR, LL<->LR
    for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        perm[i] = where.get((v, swap[c]), i)
    return perm


@dataclass
class Views:
    """Chooses the region of the original image a training sample shows."""

    schema: Schema
    out_hw: tuple[int, int]
    crop_p: float = 0.65  # share of samples that are crops (the rest: the whole film)
    margin: tuple[float, float] = (0.8, 2.2)  # vertebral heights around the run (predictor: 1.5)
    shift: float = 0.4  # centre jitter, vertebral heights
    zoom: tuple[float, float] = (0.9, 1.15)

    def __call__(self, xy: np.ndarray, visible: np.ndarray, height: int, width: int,
                 rng: np.random.Generator) -> Letterbox:
        """The letterbox (crop + fit) of one sample; ``xy`` in original px."""
        whole = Letterbox.fit(height, width, self.out_hw)
        labelled = sorted({self.schema.vertebra[i] for i in np.flatnonzero(visible)})
        if len(labelled) < 2 or rng.random() >= self.crop_p:
            return whole
        # A run of vertebrae: five (a lumbar study from a longer column), all of them, or any.
        n = len(labelled)
        r = rng.random()
        length = min(5, n) if r < 0.45 else n if r < 0.65 else int(rng.integers(2, n + 1))
        first = int(rng.integers(0, n - length + 1))
        run = set(labelled[first:first + length])
        pick = np.array([visible[i] and self.schema.vertebra[i] in run for i in range(self.schema.k)])
        crop = column_crop(np.where(pick[:, None], xy, np.nan), self.schema.vertebra_array(),
                           self.schema.corner_array(), self.out_hw, margin=float(rng.uniform(*self.margin)),
                           centre_shift=tuple(rng.uniform(-self.shift, self.shift, 2)),
                           zoom=float(rng.uniform(*self.zoom)))
        if crop is None:
            return whole
        box = Letterbox.fit(height, width, self.out_hw, crop)
        return box if box.scale > whole.scale else whole  # never a view wider than the film


@dataclass
class Augment:
    """Geometry and appearance of a training sample (``strength`` 0 turns both off)."""

    schema: Schema
    size: int | tuple[int, int]
    rotation_deg: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05  # fraction of the input size
    flip: bool = True
    strength: float = 1.0  # appearance strength (model.appearance)
    appearance: Appearance = field(init=False)

    def __post_init__(self) -> None:
        self._perm = flip_permutation(self.schema)
        self.appearance = Appearance(strength=self.strength)

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(self.size) if isinstance(self.size, (tuple, list)) else (self.size, self.size)

    def geometry(self, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
        """(3x3 map model px -> model px, flipped?) about the input's centre."""
        import cv2

        h, w = self.out_hw
        angle = rng.uniform(-self.rotation_deg, self.rotation_deg)
        m = np.vstack([cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, rng.uniform(*self.scale)),
                       [0.0, 0.0, 1.0]])  # pixel centres at integers: exact
        m[:2, 2] += rng.uniform(-self.shift, self.shift, 2) * np.array([w, h])
        flip = self.flip and rng.random() < 0.5
        if flip:
            m = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
        return m, flip

    def __call__(self, img: np.ndarray, xy: np.ndarray, visible: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Augment a model-input image [H, W] in [0, 1] and its points (model px)."""
        import cv2

        h, w = img.shape
        m, flip = self.geometry(rng)
        content = cv2.warpAffine(np.ones_like(img), m[:2], (w, h), flags=cv2.INTER_NEAREST) > 0
        img = cv2.warpAffine(img, m[:2], (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=0.0)
        xy, visible = self.move_points(xy, visible, m, flip)
        return self.appearance(img, rng, content=content & (img > 0)), xy, visible

    def move_points(self, xy: np.ndarray, visible: np.ndarray, m: np.ndarray,
                    flip: bool) -> tuple[np.ndarray, np.ndarray]:
        """Points through the 3x3 map (and the flip's relabelling); those that leave the input
        become invisible (weight 0 in the loss)."""
        h, w = self.out_hw
        xy = xy @ m[:2, :2].T + m[:2, 2]
        if flip:
            xy, visible = xy[self._perm], visible[self._perm]
        inside = np.isfinite(xy).all(axis=1) & (xy >= 0).all(axis=1) & (xy[:, 0] <= w - 1) & (xy[:, 1] <= h - 1)
        return xy, visible & inside
