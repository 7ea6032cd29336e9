"""The worklist's numpy order and filter against a plain Python reference on 2,000 images (ties,
never-predicted images, flags, groups and every status filter)."""

from __future__ import annotations

import numpy as np
import pytest

from vam_gui.core.annotation import STATUSES
from vam_gui.gui.worklist_order import SORT_KEYS, WorklistColumns
from vam_testing import Info, worklist_infos, worklist_reference


@pytest.mark.parametrize("grouped", [False, True])
def test_every_sort_and_filter_agrees_with_plain_python(grouped):
    infos = worklist_infos()
    rng = np.random.default_rng(5)
    flags = {info.image_id: int(rng.integers(0, 4)) for info in infos if rng.random() > 0.5}
    groups = [f"patient{rng.integers(0, 40):02d}|study{rng.integers(0, 3)}" for _ in infos] if grouped else None
    cols = WorklistColumns(infos, flags)
    cols.set_groups(groups)
    for key in SORT_KEYS:
        for status in (None, *STATUSES):
            got = [cols.ids[i] for i in cols.order(key, status=status)]
            assert got == worklist_reference(infos, flags, groups, key, status), (key, status)


def test_updates_and_flags_move_rows():
    infos = worklist_infos(50)
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
