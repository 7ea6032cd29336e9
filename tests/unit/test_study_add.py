"""add_images reads and hashes in a pool of threads and writes in batches: the study it makes
is the one a single thread makes (same rows, same order), with the same skips and duplicates."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from vam_gui.io import Study, study_images
from vam_gui.io.files import file_sha256


@pytest.fixture
def folder(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(23):
        cv2.imwrite(str(images / f"{i:02d}.png"), rng.integers(0, 255, (40 + i, 30), dtype=np.uint8))
    shutil.copy(images / "03.png", images / "03-copy.png")  # the same image again: a duplicate
    (images / "05.png").write_bytes((images / "05.png").read_bytes()[:60])  # cut short: skipped
    (images / "notes.txt").write_text("not an image")
    return images


def rows(study):
    return [(i.image_id, i.rel_path, i.content_hash, i.width, i.height) for i in study.list_images()]


def test_a_pool_of_workers_adds_what_one_thread_adds(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(study_images, "ADD_BATCH", 4)  # several transactions
    reports, contents = [], []
    for workers in (1, 3):
        with Study.create(tmp_path / f"w{workers}.vamstudy") as study:
            progress: list[int] = []
            reports.append(study.add_images([folder], workers=workers,
                                            progress=lambda d, t, seen=progress: seen.append(d)))
            contents.append(rows(study))
            assert progress[-1] == 25 and progress == sorted(progress)
            for info in study.list_images():
                assert info.content_hash == file_sha256(study.image_path(info.image_id))
                assert study.annotation(info.image_id).k == study.schema.k
    one, pool = reports
    assert contents[0] == contents[1] and len(contents[0]) == 22
    assert one.added == pool.added and one.duplicates == pool.duplicates and one.skipped == pool.skipped
    assert [p.rsplit("/", 1)[-1] for p in one.duplicates] == ["03.png"]  # "03-copy.png" sorts first
    assert sorted(p.rsplit("/", 1)[-1] for p, _ in one.skipped) == ["05.png", "notes.txt"]


def test_cancel_keeps_what_was_read_before_it(folder, tmp_path, monkeypatch):
    monkeypatch.setattr(study_images, "ADD_BATCH", 4)
    seen = []

    def cancel():
        seen.append(1)
        return len(seen) > 6

    with Study.create(tmp_path / "c.vamstudy") as study:
        report = study.add_images([folder], workers=2, cancel=cancel)
        assert len(report.added) + len(report.skipped) + len(report.duplicates) == 6
        assert study.image_ids() == report.added
