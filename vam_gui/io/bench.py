"""Reader and store benchmarks: how much :func:`load_radiograph` adds to the bare decoder,
and what creating, exporting, sorting and counting a study of N images costs against bare
SQLite and JSON doing the same.

pydicom and the store are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from vam_gui.core.prediction import Prediction
    from vam_gui.core.schema import Schema

__all__ = ["bench_dicom_load", "bench_export_json", "bench_export_pseudonymised", "bench_study_create",
           "bench_study_queries", "build_scale_study"]


def bench_dicom_load(
    tmpdir: str | os.PathLike[str], *, side: int = 2000, repeats: int = 7
) -> dict[str, float]:
    """Time :func:`load_radiograph` against bare ``pydicom.dcmread(path).pixel_array``.

    Writes a ``side`` x ``side`` uint16 MONOCHROME2 file with PixelSpacing and window
    tags into ``tmpdir`` and returns the medians over ``repeats`` runs in ms
    (``dicom_load_ms``, ``dicom_pydicom_bare_ms``) and their ratio
    (``dicom_load_ratio``; about 1 means the reader adds little to pydicom itself).
    """
    import pydicom

    from vam_gui.io.dicom_write import dx_dataset
    from vam_gui.io.radiograph import load_radiograph

    arr = np.random.default_rng(0).integers(0, 4096, (side, side), dtype=np.uint16)
    ds = dx_dataset(arr, spacing=(0.15, 0.15), bits_stored=12, window=(2048, 4096))
    path = Path(tmpdir) / "bench_dicom_load.dcm"
    ds.save_as(path, enforce_file_format=True)

    def bare() -> None:
        _ = pydicom.dcmread(path).pixel_array

    def ours() -> None:
        load_radiograph(path)

    times: dict[str, list[float]] = {"ours": [], "bare": []}
    bare()  # warm-up: imports, plugin discovery, page cache
    ours()
    for _ in range(max(1, repeats)):
        for name, fn in (("bare", bare), ("ours", ours)):  # interleaved: fair to drift
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000.0)
    ours_ms, bare_ms = statistics.median(times["ours"]), statistics.median(times["bare"])
    return {
        "dicom_load_ms": ours_ms,
        "dicom_pydicom_bare_ms": bare_ms,
        "dicom_load_ratio": ours_ms / bare_ms if bare_ms > 0 else float("inf"),
    }


# ------------------------------------------------------------------ studies of N images
# ``vam-gui bench --scale N``: a study of N small images, every one predicted (a fake
# prediction written through the store, heatmaps included), and the figures of the store's
# side against bare baselines timed alternately in the same run.


def _median_ms(times: list[float]) -> float:
    return statistics.median(times) * 1000.0


def _figures(name: str, ours: list[float], bare: list[float]) -> dict[str, float]:
    ours_ms, bare_ms = _median_ms(ours), _median_ms(bare)
    return {f"{name}_ms": ours_ms, f"{name}_bare_ms": bare_ms,
            f"{name}_ratio": ours_ms / bare_ms if bare_ms > 0 else float("inf")}


def write_scale_images(folder: str | os.PathLike[str], n: int, *, side: int = 256) -> list[Path]:
    """``n`` ``side``-px 8-bit PNGs of noise (each a different image) in ``folder``."""
    import cv2

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        files.append(out / f"img{i:06d}.png")
        cv2.imwrite(str(files[-1]), rng.integers(0, 256, (side, side), dtype=np.uint8))
    return files


def fake_prediction(schema: Schema, height: int, width: int, rng: np.random.Generator, *,
                    size: int = 64) -> Prediction:
    """A plausible column (the default template, jittered by a few pixels, so that some
    images get flags) with ``size``-px heatmaps peaking at its points."""
    from vam_gui.core.gaussian import gaussian_windows
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction
    from vam_gui.core.template import default_shape, fit_shape

    xy = fit_shape(default_shape(schema), schema, (width / 2, height * 0.1), (width / 2, height * 0.9))
    xy = xy + rng.normal(0.0, 2.0, xy.shape)
    box = Letterbox.fit(height, width, size)
    return Prediction(xy=xy, confidence=rng.uniform(0.2, 0.99, schema.k).astype(np.float32),
                      spread=rng.uniform(0.5, 8.0, schema.k).astype(np.float32), letterbox=box,
                      heatmaps=gaussian_windows(box.to_model(xy), box.shape), model_id="bench:fake")


def build_scale_study(folder: str | os.PathLike[str], n: int, *, side: int = 256) -> Path:
    """A study of ``n`` images in ``folder`` (its images in ``folder``/images), every image
    predicted through ``save_prediction``; returns the study's path."""
    from vam_gui.io.study import Study

    folder = Path(folder)
    files = write_scale_images(folder / "images", n, side=side)
    path = folder / "scale.vamstudy"
    rng = np.random.default_rng(1)
    with Study.create(path) as study:
        study.add_images(files)
        for image_id in study.image_ids():
            study.save_prediction(image_id, fake_prediction(study.schema, side, side, rng))
    return path


def _bare_create(path: Path, files: list[Path], k: int) -> None:
    """The baseline of ``study create``: hash each file, insert its row and K point rows."""
    from vam_gui.io.files import file_sha256
    from vam_gui.io.study_db import MIGRATIONS, SCHEMA_VERSION

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.executescript("BEGIN;" + "".join(MIGRATIONS[v] for v in range(SCHEMA_VERSION)) + "; COMMIT;")
        conn.execute("BEGIN")
        for f in files:
            digest = file_sha256(f)
            cur = conn.execute("INSERT INTO images(image_id, rel_path, content_hash, width, height, added_at)"
                               " VALUES (?, ?, ?, 0, 0, '')", ("sha256:" + digest[:32], str(f), digest))
            conn.executemany("INSERT INTO points(image, idx) VALUES (?, ?)", [(cur.lastrowid, i) for i in range(k)])
        conn.execute("COMMIT")
    finally:
        conn.close()


def bench_study_create(folder: str | os.PathLike[str], files: list[Path], *, repeats: int = 3) -> dict[str, float]:
    """``Study.create`` + ``add_images`` of ``files`` against the bare baseline, alternately."""
    from vam_gui.io.study import Study

    folder = Path(folder)
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for r in range(max(1, repeats)):
        for name in ("bare", "ours"):
            path = folder / f"create-{name}-{r}.vamstudy"
            os.sync()  # untimed: nothing dirty from the study's build or the other side waits for the disk
            t0 = time.perf_counter()
            if name == "bare":
                _bare_create(path, files, 20)
            else:
                with Study.create(path) as study:
                    added = len(study.add_images(files).added)
                if added != len(files):  # figures of a create that skipped files would mislead
                    raise RuntimeError(f"study create added {added} of {len(files)} images")
            times[name].append(time.perf_counter() - t0)
            for leftover in folder.glob(path.name + "*"):
                leftover.unlink()
    return {"scale_images": float(len(files)), **_figures("study_create", times["ours"], times["bare"])}


def _bare_export(study_path: Path, out: Path) -> None:
    """The baseline of ``export --format json --all --keep-names``: the same rows (image, its
    points, its prediction's confidences) read in one query each and dumped as JSON."""
    import json

    conn = sqlite3.connect(study_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        points: dict[int, list[list[object]]] = {}
        for image, _idx, x, y, visible, source in conn.execute("SELECT * FROM points ORDER BY image, idx"):
            points.setdefault(image, []).append([x, y, visible, source])
        conf = {r[0]: np.frombuffer(r[1], np.float32).tolist()
                for r in conn.execute("SELECT image, confidence FROM predictions")}
        images = [{"id": rid, "file": rel, "content_hash": digest, "width": w, "height": h, "status": status,
                   "points": points.get(rid, []), "confidence": conf.get(rid)}
                  for rid, rel, digest, w, h, status in conn.execute(
                      "SELECT id, rel_path, content_hash, width, height, status FROM images ORDER BY id")]
    finally:
        conn.close()
    out.write_text(json.dumps({"images": images}, indent=1))


def _bare_copies(study_path: Path, out: Path) -> None:
    """The rest of the baseline of a pseudonymised export: ``shutil.copyfile`` of every
    image file (paths as the store keeps them, relative to the study's folder)."""
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(study_path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, rel_path FROM images ORDER BY id").fetchall()
    finally:
        conn.close()
    for rid, rel in rows:
        source = Path(rel) if Path(rel).is_absolute() else study_path.parent / rel
        shutil.copyfile(source, out / f"{rid}{source.suffix}")


def _bench_export(study_path: Path, folder: Path, options: object, *, repeats: int,
                  copies: bool) -> tuple[list[float], list[float]]:
    """(ours, bare) seconds of ``export --format json`` with ``options`` against the bare
    dump (plus copying every image when ``copies``), alternately, each into a fresh folder."""
    import shutil

    from vam_gui.io.export import ExportOptions, export_study
    from vam_gui.io.study import Study

    assert isinstance(options, ExportOptions)
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for r in range(max(1, repeats)):
        bare_dir, ours_dir = folder / f"bare-{r}", folder / f"export-{r}"
        for leftover in (bare_dir, ours_dir):
            shutil.rmtree(leftover, ignore_errors=True)
        bare_dir.mkdir(parents=True)
        # Each side starts with nothing dirty waiting for the disk (untimed): the export's sync
        # of its copies must not write back the bare side's files, nor the rmtree's, too.
        os.sync()
        t0 = time.perf_counter()
        _bare_export(study_path, bare_dir / "bare.json")
        if copies:
            _bare_copies(study_path, bare_dir / "images")
        times["bare"].append(time.perf_counter() - t0)
        os.sync()
        t0 = time.perf_counter()
        with Study.open(study_path, read_only=True) as study:
            export_study(study, "json", ours_dir, options)
        times["ours"].append(time.perf_counter() - t0)
        for done in (bare_dir, ours_dir):
            shutil.rmtree(done, ignore_errors=True)
    return times["ours"], times["bare"]


def bench_export_json(study_path: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                      repeats: int = 3) -> dict[str, float]:
    """``export --format json --all --keep-names`` against a bare JSON dump of the same rows."""
    from vam_gui.io.export import ExportOptions

    ours, bare = _bench_export(Path(study_path), Path(folder), ExportOptions(all_images=True, keep_names=True),
                               repeats=repeats, copies=False)
    return _figures("export_json_all", ours, bare)


def bench_export_pseudonymised(study_path: str | os.PathLike[str], folder: str | os.PathLike[str], *,
                               repeats: int = 3) -> dict[str, float]:
    """``export --format json --all`` (pseudonyms, de-identified copies of the images beside
    the labels) against the bare JSON dump plus ``shutil.copyfile`` of every image."""
    from vam_gui.io.export import ExportOptions

    ours, bare = _bench_export(Path(study_path), Path(folder), ExportOptions(all_images=True),
                               repeats=repeats, copies=True)
    return _figures("export_json_pseudonymised", ours, bare)


def bench_study_queries(study_path: str | os.PathLike[str], *, repeats: int = 20) -> dict[str, float]:
    """Sorting by uncertainty in SQL and reading every image's flag count, each against the
    bare query on a plain connection, on an open study."""
    from vam_gui.io.review import count_flags
    from vam_gui.io.study import Study

    study_path = Path(study_path)
    bare = sqlite3.connect(study_path.resolve().as_uri() + "?mode=ro", uri=True)
    times: dict[str, list[float]] = {k: [] for k in ("sort", "sort_bare", "flags", "flags_bare")}
    try:
        with Study.open(study_path, read_only=True) as study:
            ids = study.image_ids()
            for _ in range(max(1, repeats)):
                for key, run in (
                    ("sort_bare", lambda: bare.execute("SELECT image_id FROM images ORDER BY worst_confidence IS"
                                                       " NULL, worst_confidence, id").fetchall()),
                    ("sort", lambda: study.ordered_image_ids("worst_confidence")),
                    ("flags_bare", lambda: dict(bare.execute("SELECT image_id, flags FROM images").fetchall())),
                    ("flags", lambda: count_flags(study, ids)),
                ):
                    t0 = time.perf_counter()
                    run()
                    times[key].append(time.perf_counter() - t0)
    finally:
        bare.close()
    return {**_figures("sort_by_uncertainty", times["sort"], times["sort_bare"]),
            **_figures("flag_counts_read", times["flags"], times["flags_bare"])}
