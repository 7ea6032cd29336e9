"""Labels: the phantom as returned, its landmarks taken from the drawn outlines, and a preview.

Every landmark is a vertex of a polygon that was drawn (never found by image analysis), so the
labels are exact by construction; a landmark outside the film is kept but marked not visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vam_gui.core.schema import Schema
from vam_gui.synth.anatomy import Level


@dataclass
class Phantom:
    pixels: np.ndarray  # [H, W] uint16, bone bright
    xy: np.ndarray  # [K, 2] float64 (x, y) ground-truth corners, image pixels
    visible: np.ndarray  # [K] bool
    spacing: tuple[float, float]  # (dy, dx) mm per pixel
    schema: str
    seed: int
    facing: str | None  # lateral view: "left" or "right" (side the anterior is displayed on)
    params: dict[str, Any] = field(default_factory=dict)  # the random parameters drawn (JSON-serialisable)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.pixels.shape[0]), int(self.pixels.shape[1]))


def jsonable(obj: Any) -> Any:
    """``obj`` with numpy scalars and arrays turned into plain Python (for ``Phantom.params``)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        return float(obj)
    return obj


def keypoints(sch: Schema, outlines: list[np.ndarray], levels: list[Level], schema_pos: list[int],
              *, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(xy [K, 2], visible [K]): each schema keypoint is its body's outline vertex."""
    xy = np.zeros((sch.k, 2), dtype=np.float64)
    for kp in range(sch.k):
        pos = schema_pos[sch.vertebra[kp]]
        xy[kp] = outlines[pos][levels[pos].corner_idx[sch.corner[kp]]]
    visible = (xy[:, 0] >= 0) & (xy[:, 0] <= width - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= height - 1)
    return xy, visible


def preview_rgb(ph: Phantom, *, radius: float = 3.0, color: tuple[int, int, int] = (255, 0, 0),
                labels: bool = False) -> np.ndarray:
    """[H, W, 3] uint8 RGB rendering of a phantom with its landmarks as small circles."""
    import cv2

    px = ph.pixels.astype(np.float32)
    lo, hi = float(px.min()), float(px.max())
    gray = np.clip((px - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255).astype(np.uint8)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    sh = 4
    for k, (x, y) in enumerate(ph.xy):
        if not ph.visible[k]:
            continue
        centre = (int(round(x * (1 << sh))), int(round(y * (1 << sh))))
        cv2.circle(rgb, centre, int(round(radius * (1 << sh))), color, 1, cv2.LINE_AA, sh)
        if labels:
            cv2.putText(rgb, str(k), (int(x) + 4, int(y) - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                        color, 1, cv2.LINE_AA)
    return rgb
