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


@pytest.mark.parametrize("seconds,transactions", [(3600.0, 1), (0.0, 22)])  # 22 images (3 files skipped)
def test_a_transaction_is_made_at_least_every_batch_seconds(folder, tmp_path, monkeypatch, seconds, transactions):
    """Up to ADD_BATCH images per transaction, but one at least every ADD_BATCH_SECONDS while
    files are read (a slow share loses little on a failed write); progress every 16 files."""
    monkeypatch.setattr(study_images, "ADD_BATCH", 10**6)
    monkeypatch.setattr(study_images, "ADD_BATCH_SECONDS", seconds)
    inserts = []
    real = study_images.StudyImages._insert_batch

    def counting(self, batch, report):
        inserts.append(len(batch))
        return real(self, batch, report)

    monkeypatch.setattr(study_images.StudyImages, "_insert_batch", counting)
    progress: list[int] = []
    with Study.create(tmp_path / "t.vamstudy") as study:
        study.add_images([folder], workers=1, progress=lambda d, t: progress.append(d))
        assert len(study.image_ids()) == 22
    assert len([n for n in inserts if n]) == transactions
    assert progress == [16, 25]


def test_small_files_are_read_in_one_thread_large_ones_in_a_pool(tmp_path, monkeypatch):
    from vam_gui.io import study_add

    monkeypatch.setattr(study_add, "available_cores", lambda: 4)
    small = [tmp_path / f"s{i}.png" for i in range(20)]
    for f in small:
        f.write_bytes(b"x" * 1000)
    large = [tmp_path / f"l{i}.dcm" for i in range(3)]
    for f in large:
        f.write_bytes(b"x" * (study_add.POOL_MIN_BYTES + 1))
    assert study_add.worker_count(small) == 1
    assert study_add.worker_count(large) == 3
    assert study_add.worker_count(20) == 4 and study_add.worker_count([large[0]]) == 1
