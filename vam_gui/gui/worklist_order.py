"""The worklist's order and filter over columns, in numpy (no Qt).

A study's images are held as column arrays (status code, worst confidence, spread, flag count,
group rank), so sorting 10,000 rows is one ``np.lexsort`` and a status filter one comparison,
instead of a Qt proxy calling back into Python for every comparison (a quarter of a million
``data()`` calls per sort at 10,000 rows). The order is always total: ties keep the order the
images were added in.

Sort keys (ascending in what they mean for a reviewer):

- ``added``: the order the images were added;
- ``status``: flagged, unreviewed, in progress, accepted;
- ``confidence``: least confident first, never predicted last;
- ``spread``: widest spread first, never predicted last;
- ``flags``: most anatomical-check flags first.

While grouped (by study or series) rows are ordered by their group first, then by the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

STATUS_ORDER = {s: i for i, s in enumerate(("flagged", "unreviewed", "in_progress", "accepted"))}
SORT_KEYS = ("added", "status", "confidence", "spread", "flags")


class WorklistColumns:
    """The sortable columns of a study's images, one entry per image in the order added."""

    def __init__(self, infos: Sequence[Any], flag_counts: dict[str, int] | None = None) -> None:
        n = len(infos)
        self.ids: list[str] = [info.image_id for info in infos]
        self.index = {image_id: i for i, image_id in enumerate(self.ids)}
        self.status = np.fromiter((STATUS_ORDER[info.status] for info in infos), dtype=np.int8, count=n)
        self.confidence = np.fromiter((np.inf if info.worst_confidence is None else info.worst_confidence
                                       for info in infos), dtype=np.float64, count=n)
        self.spread = np.fromiter((np.inf if info.max_spread is None else -info.max_spread
                                   for info in infos), dtype=np.float64, count=n)
        self.flags = np.zeros(n, dtype=np.int64)
        for image_id, count in (flag_counts or {}).items():
            self.set_flags(image_id, count)
        self.group = np.zeros(n, dtype=np.int64)  # rank of each image's group (0 when not grouped)

    def __len__(self) -> int:
        return len(self.ids)

    def update(self, info: Any) -> bool:
        """Take a changed image's status and figures; False for an image not in the columns."""
        i = self.index.get(info.image_id)
        if i is None:
            return False
        self.status[i] = STATUS_ORDER[info.status]
        self.confidence[i] = np.inf if info.worst_confidence is None else info.worst_confidence
        self.spread[i] = np.inf if info.max_spread is None else -info.max_spread
        return True

    def set_flags(self, image_id: str, count: int) -> None:
        i = self.index.get(image_id)
        if i is not None:
            self.flags[i] = -int(count)  # most flags first

    def set_groups(self, keys: Sequence[Any] | None) -> None:
        """Each image's group key (any comparable value, one per image), or None: not grouped."""
        if keys is None:
            self.group[:] = 0
            return
        distinct = sorted(set(keys))
        rank = {key: r for r, key in enumerate(distinct)}
        self.group = np.fromiter((rank[key] for key in keys), dtype=np.int64, count=len(keys))

    def order(self, key: str = "added", *, status: str | None = None) -> np.ndarray:
        """Indices of the images shown, in the order shown: those of ``status`` (None: all),
        sorted by their group, then ``key``, then the order added."""
        if key not in SORT_KEYS:
            raise ValueError(f"unknown worklist sort {key!r}; one of {', '.join(SORT_KEYS)}")
        rows = np.arange(len(self.ids))
        if status is not None:
            rows = rows[self.status == STATUS_ORDER[status]]
        column = {"added": None, "status": self.status, "confidence": self.confidence,
                  "spread": self.spread, "flags": self.flags}[key]
        keys = [rows] if column is None else [rows, column[rows]]  # np.lexsort: the last key is primary
        keys.append(self.group[rows])
        ordered: np.ndarray = rows[np.lexsort(keys)]
        return ordered
