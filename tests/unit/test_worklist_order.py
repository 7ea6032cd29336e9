"""The worklist's numpy order and filter against a plain Python reference on 2,000 images (ties,
never-predicted images, flags, groups and every status filter)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from vam_gui.core.annotation import STATUSES
from vam_gui.gui.worklist_order import SORT_KEYS, STATUS_ORDER, WorklistColumns


@dataclass
class Info:
    image_id: str
    status: str
    worst_confidence: float | None
    max_spread: float | None


def _infos(n=2000, seed=3):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        predicted = rng.random() > 0.15
        out.append(Info(f"img{i:05d}", STATUSES[rng.integers(0, 4)],
                        float(np.round(rng.random(), 2)) if predicted else None,  # rounded: many ties
                        float(np.round(rng.uniform(1, 9), 1)) if predicted else None))
    return out


def _reference(infos, flags, groups, key, status):
    def sort_value(i, info):
        if key == "status":
            return STATUS_ORDER[info.status]
        if key == "confidence":
            return math.inf if info.worst_confidence is None else info.worst_confidence
        if key == "spread":
            return math.inf if info.max_spread is None else -info.max_spread
        if key == "flags":
            return -flags.get(info.image_id, 0)
        return 0

    shown = [(i, info) for i, info in enumerate(infos) if status is None or info.status == status]
    shown.sort(key=lambda pair: (groups[pair[0]] if groups else "", sort_value(*pair), pair[0]))
    return [info.image_id for _, info in shown]


@pytest.mark.parametrize("grouped", [False, True])
def test_every_sort_and_filter_agrees_with_plain_python(grouped):
    infos = _infos()
    rng = np.random.default_rng(5)
    flags = {info.image_id: int(rng.integers(0, 4)) for info in infos if rng.random() > 0.5}
    groups = [f"patient{rng.integers(0, 40):02d}|study{rng.integers(0, 3)}" for _ in infos] if grouped else None
    cols = WorklistColumns(infos, flags)
    cols.set_groups(groups)
    for key in SORT_KEYS:
        for status in (None, *STATUSES):
            got = [cols.ids[i] for i in cols.order(key, status=status)]
            assert got == _reference(infos, flags, groups, key, status), (key, status)


def test_updates_and_flags_move_rows():
    infos = _infos(50)
    cols = WorklistColumns(infos)
    first = infos[0]
    changed = Info(first.image_id, "flagged", 0.0, 99.0)
    assert cols.update(changed) and not cols.update(Info("nope", "accepted", None, None))
    assert cols.ids[cols.order("confidence")[0]] == first.image_id
    assert cols.ids[cols.order("spread")[0]] == first.image_id
    assert cols.ids[cols.order("status")[0]] in {i.image_id for i in infos if i.status == "flagged"} | {first.image_id}
    cols.set_flags(infos[7].image_id, 12)
    assert cols.ids[cols.order("flags")[0]] == infos[7].image_id
    with pytest.raises(ValueError, match="unknown worklist sort"):
        cols.order("name")
