"""The edit-latency figure of ``vam-gui bench``: what one committed edit costs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from vam_gui.core.annotation import PointState


def bench_edit_latency(folder: str | os.PathLike[str], repeats: int = 200,
                       log_rows: int = 300_000) -> dict[str, float]:
    """Median wall time of one committed single-point edit (for ``vam-gui bench``): in a fresh
    study, in one whose edit log already holds ``log_rows`` rows, and on a predicted image
    (every point set: the edit recounts its flags in the same transaction), timed alternately."""
    import cv2

    from vam_gui.io.study import Study

    folder = Path(folder)
    image = folder / "bench-edit.png"
    cv2.imwrite(str(image), np.zeros((64, 48), np.uint8))
    from vam_gui.io.bench import fake_prediction

    studies = []
    for name in ("bench-edit-empty", "bench-edit-long", "bench-edit-predicted"):
        study = Study.create(folder / f"{name}.vamstudy")
        study.add_images([image])
        studies.append(study)
    # every point set and a stored prediction: the edit recounts the image's flags (every check)
    studies[2].save_prediction(studies[2].image_ids()[0], fake_prediction(studies[2].schema, 64, 48,
                                                                          np.random.default_rng(0), size=32))
    long = studies[1]
    rid = long._row(long.image_ids()[0])
    with long._transaction() as conn:  # a long review's log, written in one go
        conn.executemany("INSERT INTO edits(grp, at, user, image, kind, point, before, after)"
                         " VALUES (?, 'then', 'bench', ?, 'move', 0, NULL, NULL)",
                         ((g, rid) for g in range(1, log_rows + 1)))
    times: list[list[float]] = [[], [], []]
    try:
        for i in range(repeats):
            state = PointState(float(i % 50), float(i % 70), True, "moved")
            for n, study in enumerate(studies):
                image_id = study.image_ids()[0]
                t0 = time.perf_counter()
                study.apply_edit(image_id, user="bench", kind="move", points={0: state})
                times[n].append(time.perf_counter() - t0)
    finally:
        for study in studies:
            study.close()
    empty, full, predicted = (float(np.median(t) * 1e3) for t in times)
    return {"edit_commit_ms_median": empty, "edit_commit_ms_median_300k_log": full,
            "edit_commit_ratio_300k_log": full / empty, "edit_commit_ms_median_predicted_image": predicted}
