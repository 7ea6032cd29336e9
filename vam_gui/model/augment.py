"""Training augmentation on the letterboxed S x S image and its keypoints (model px).

Geometry (rotation, scale, shift) moves the image and the points with one affine map;
intensity changes (gamma, contrast, noise, blur) leave the points alone. A left/right flip
is only done with the keypoint swap that keeps the labels right: on an AP view left and
right corners trade places (UL <-> UR, LL <-> LR); on a lateral view the corner names are
anatomical (anterior/posterior), so the labels stay and only the facing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vam_gui.core.schema import Schema


def flip_permutation(schema: Schema) -> np.ndarray:
    """perm[i] = the keypoint whose position keypoint i takes after a horizontal flip."""
    perm = np.arange(schema.k)
    if schema.view != "AP":
        return perm
    where = {(v, c): i for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner))}
    swap = {0: 1, 1: 0, 2: 3, 3: 2}  # UL<->UR, LL<->LR
    for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        perm[i] = where.get((v, swap[c]), i)
    return perm


@dataclass
class Augment:
    schema: Schema
    size: int
    rotation_deg: float = 10.0
    scale: tuple[float, float] = (0.9, 1.1)
    shift: float = 0.05  # fraction of S
    flip: bool = True
    gamma: tuple[float, float] = (0.7, 1.4)
    contrast: tuple[float, float] = (0.8, 1.2)
    noise: float = 0.03
    blur_p: float = 0.3

    def __post_init__(self) -> None:
        self._perm = flip_permutation(self.schema)

    def __call__(self, img: np.ndarray, xy: np.ndarray, visible: np.ndarray,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        import cv2

        s = self.size
        c = (s - 1) / 2.0
        angle = rng.uniform(-self.rotation_deg, self.rotation_deg)
        scale = rng.uniform(*self.scale)
        m = cv2.getRotationMatrix2D((c, c), angle, scale)  # pixel centres at integers: exact
        m[:, 2] += rng.uniform(-self.shift, self.shift, 2) * s
        flip = self.flip and rng.random() < 0.5
        if flip:
            m = np.array([[-1.0, 0.0, s - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([m, [0, 0, 1]])
        img = cv2.warpAffine(img, m, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=0.0)
        xy = xy @ m[:, :2].T + m[:, 2]
        if flip:
            xy, visible = xy[self._perm], visible[self._perm]
        visible = visible & np.isfinite(xy).all(axis=1) & (xy >= 0).all(axis=1) & (xy <= s - 1).all(axis=1)

        # Intensity: only where there is image; the padding stays 0 as at inference.
        content = img > 0
        img = np.clip(img, 0.0, 1.0) ** rng.uniform(*self.gamma)
        img = (img - 0.5) * rng.uniform(*self.contrast) + 0.5
        if rng.random() < self.blur_p:
            img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 1.2))
        img = img + rng.normal(0.0, self.noise * rng.random(), img.shape).astype(np.float32)
        img = np.where(content, np.clip(img, 0.0, 1.0), 0.0)
        return img.astype(np.float32), xy, visible
