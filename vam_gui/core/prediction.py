"""Prediction: what the network says about one image, in original pixels (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vam_gui.core.letterbox import Letterbox


@dataclass
class Prediction:
    xy: np.ndarray  # [K, 2] (x, y) in original pixels
    confidence: np.ndarray  # [K] heatmap peak value
    spread: np.ndarray  # [K] isotropic std of the peak in original pixels (NaN: empty map)
    letterbox: Letterbox
    heatmaps: np.ndarray | None = None  # [K, S, S] float16 in model pixels
    keypoints: tuple[str, ...] = ()
    model_id: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def k(self) -> int:
        return int(self.xy.shape[0])

    def xy_model(self) -> np.ndarray:
        return self.letterbox.to_model(self.xy)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no heatmaps); NaN becomes None."""
        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else round(float(v), 4)

        names = self.keypoints or tuple(str(i) for i in range(self.k))
        return {
            "model": self.model_id,
            "letterbox": self.letterbox.to_dict(),
            "keypoints": [
                {"name": n, "x": num(x), "y": num(y), "confidence": num(c), "spread": num(s)}
                for n, (x, y), c, s in zip(names, self.xy, self.confidence, self.spread)
            ],
        }
