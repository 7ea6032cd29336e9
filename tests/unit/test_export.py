"""Exports: our JSON, COCO, CSV and the training dataset; de-identification; failure safety."""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.prediction import Prediction
from vam_gui.io import Study
from vam_gui.io.export import (
    COCO_FILE,
    CSV_FILE,
    JSON_FILE,
    ExportError,
    ExportOptions,
    export_study,
    image_pseudonym,
)

SIZES = ((300, 200), (240, 320), (260, 260), (200, 150))  # (H, W): portrait, landscape, square


def write_images(folder: Path, sizes=SIZES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (h, w) in enumerate(sizes):
        rng = np.random.default_rng(i)
        img = rng.normal(9000, 800, (h, w))
        img[h // 4:3 * h // 4, w // 3:2 * w // 3] += 20000
        path = folder / f"spine{i}.png"
        cv2.imwrite(str(path), np.clip(img, 0, 65535).astype(np.uint16))
        paths.append(path)
    return paths


def corners(schema, h: int, w: int, seed: int) -> np.ndarray:
    """Plausible corner positions (sub-pixel) inside an h x w image."""
    rng = np.random.default_rng(100 + seed)
    n_vert = max(schema.vertebra) + 1
    xy = np.zeros((schema.k, 2))
    for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
        xy[i, 0] = w * (0.35 + 0.3 * (c % 2)) + rng.uniform(-3, 3)
        xy[i, 1] = h * (0.1 + 0.8 * (v + 0.7 * (c // 2)) / n_vert) + rng.uniform(-2, 2)
    return xy


def annotate(study: Study) -> None:
    """Four images in four situations:
    0 predicted, two points moved, one marked missing (keeps its position), accepted;
    1 points placed by hand, some never set, accepted with a comment;
    2 flagged; 3 unreviewed and empty."""
    k = study.schema.k
    infos = study.list_images()
    a = infos[0]
    xy = corners(study.schema, a.height, a.width, 0)
    study.save_prediction(a.image_id, Prediction(
        xy=xy, confidence=np.linspace(0.3, 0.95, k).astype(np.float32), spread=np.full(k, 2.0, np.float32),
        letterbox=Letterbox.fit(a.height, a.width, 64), model_id="vam:demo-1234"))
    study.apply_edit(a.image_id, user="alice", kind="move", points={
        3: PointState(xy[3, 0] + 4.25, xy[3, 1] - 1.5, True, "moved"),
        8: PointState(xy[8, 0] - 2.0, xy[8, 1] + 0.75, True, "moved"),
        7: PointState(xy[7, 0], xy[7, 1], False, "predicted")})
    study.apply_edit(a.image_id, user="alice", kind="status", review=ReviewState("accepted", None, "alice"))

    b = infos[1]
    xy = corners(study.schema, b.height, b.width, 1)
    pts = {i: PointState(xy[i, 0], xy[i, 1], True, "placed") for i in range(k - 6)}
    study.apply_edit(b.image_id, user="bob", kind="move", points=pts,
                     review=ReviewState("accepted", "L5 hard to see", "bob"))

    c = infos[2]
    xy = corners(study.schema, c.height, c.width, 2)
    study.apply_edit(c.image_id, user="bob", kind="move",
                     points={i: PointState(xy[i, 0], xy[i, 1], True, "placed") for i in range(k)},
                     review=ReviewState("flagged", "motion blur", "bob"))


@pytest.fixture
def study(tmp_path):
    write_images(tmp_path / "images")
    s = Study.create(tmp_path / "review.vamstudy")
    s.add_images([tmp_path / "images"])
    annotate(s)
    yield s
    s.close()


def test_json_export_fields(study, tmp_path):
    report = export_study(study, "json", tmp_path / "out", ExportOptions(all_images=True, include_flagged=True))
    # the labels, then the de-identified image copies they name (tests/unit/test_export_images.py)
    assert report.files[0] == tmp_path / "out" / JSON_FILE and report.images == 4
    assert sorted(p.name for p in report.files[1:]) == sorted(img["file"] for img in json.loads(
        report.files[0].read_text())["images"])
    doc = json.loads(report.files[0].read_text())
    assert doc["format"] == "vam-gui-labels" and doc["version"] == 1
    assert doc["schema"] == study.schema.to_dict() and doc["study"].startswith("study-")
    assert doc["app_version"] and doc["created"]
    first = doc["images"][0]
    info = study.list_images()[0]
    assert first["id"] == image_pseudonym(study.study_uid, info.image_id) == "img-" + hashlib.sha256(
        (study.study_uid + info.image_id).encode()).hexdigest()[:12]
    assert first["file"] == first["id"] + ".png"
    assert (first["width"], first["height"]) == (info.width, info.height)
    assert first["spacing"] is None and first["spacing_is_detector"] is False
    assert first["status"] == "accepted" and first["reviewer"] == "alice" and first["model"] == "vam:demo-1234"
    ann = study.annotation(info.image_id)
    kp = first["keypoints"]
    assert [p["name"] for p in kp] == list(study.schema.keypoints)
    assert kp[3]["x"] == ann.xy[3, 0] and kp[3]["source"] == "moved" and kp[3]["visible"] is True
    assert kp[7]["visible"] is False and kp[7]["x"] == ann.xy[7, 0]  # missing, position kept
    assert kp[0]["confidence"] == pytest.approx(0.3)
    second = doc["images"][1]
    assert second["comment"] == "L5 hard to see" and second["model"] is None
    assert second["keypoints"][-1] == {"name": study.schema.keypoints[-1], "x": None, "y": None,
                                       "visible": False, "source": "", "confidence": None}
    assert doc["images"][3]["status"] == "unreviewed"


def test_selection_accepted_flagged_all(study, tmp_path):
    def ids(**kw):
        out = tmp_path / f"sel{len(kw)}{sorted(kw)}"
        doc = json.loads(export_study(study, "json", out, ExportOptions(**kw)).files[0].read_text())
        return [img["status"] for img in doc["images"]]

    assert ids() == ["accepted", "accepted"]
    assert ids(include_flagged=True) == ["accepted", "accepted", "flagged"]
    assert ids(all_images=True) == ["accepted", "accepted", "unreviewed"]
    assert ids(all_images=True, include_flagged=True) == ["accepted", "accepted", "flagged", "unreviewed"]


def test_nothing_to_export_is_a_clear_error(tmp_path):
    write_images(tmp_path / "images", sizes=((50, 40),))
    with Study.create(tmp_path / "empty.vamstudy") as s:
        s.add_images([tmp_path / "images"])
        with pytest.raises(ExportError, match="no accepted image.*--all"):
            export_study(s, "coco", tmp_path / "out")
    with pytest.raises(ExportError, match="multiple of 32"):
        ExportOptions(size=500)


def test_coco_export(study, tmp_path):
    report = export_study(study, "coco", tmp_path / "out", ExportOptions(all_images=True))
    doc = json.loads((tmp_path / "out" / COCO_FILE).read_text())
    assert report.images == 3 and len(doc["images"]) == len(doc["annotations"]) == 3
    cat = doc["categories"][0]
    schema = study.schema
    assert cat["id"] == 1 and cat["name"] == "spine" and cat["supercategory"] == "spine"
    assert cat["keypoints"] == list(schema.keypoints)
    assert cat["skeleton"] == [[i + 1, j + 1] for i, j in schema.edges] and min(map(min, cat["skeleton"])) == 1
    img, ann = doc["images"][0], doc["annotations"][0]
    assert isinstance(img["id"], int) and ann["image_id"] == img["id"] and ann["category_id"] == 1
    assert img["file_name"].startswith("img-") and ann["iscrowd"] == 0
    kp = np.array(ann["keypoints"]).reshape(-1, 3)
    assert kp.shape == (schema.k, 3)
    a = study.annotation(study.image_ids()[0])
    assert kp[7].tolist() == [0, 0, 0]  # marked missing: v = 0, x = y = 0
    assert kp[3].tolist() == [a.xy[3, 0], a.xy[3, 1], 2]
    assert ann["num_keypoints"] == schema.k - 1
    vis = kp[kp[:, 2] == 2, :2]
    x, y, w, h = ann["bbox"]
    assert (x, y) == (vis[:, 0].min(), vis[:, 1].min())
    assert (x + w, y + h) == pytest.approx((vis[:, 0].max(), vis[:, 1].max()))
    assert ann["area"] == pytest.approx(w * h)
    empty = doc["annotations"][2]  # the unreviewed image without labels
    assert empty["num_keypoints"] == 0 and empty["bbox"] == [0.0, 0.0, 0.0, 0.0]
    assert set(np.array(empty["keypoints"]).reshape(-1, 3)[:, 2]) == {0}


def test_csv_export(study, tmp_path, dicom_study):
    export_study(study, "csv", tmp_path / "out")
    rows = list(csv.DictReader(open(tmp_path / "out" / CSV_FILE, newline="")))
    k = study.schema.k
    assert len(rows) == 2 * k
    assert list(rows[0]) == ["image_id", "file", "index", "name", "vertebra", "corner", "x_px", "y_px",
                             "x_mm", "y_mm", "visible", "source", "confidence", "status"]
    r = rows[3]
    a = study.annotation(study.image_ids()[0])
    assert (r["name"], r["vertebra"], r["corner"]) == ("L1-LR", "L1", "LR")
    assert float(r["x_px"]) == a.xy[3, 0] and float(r["y_px"]) == a.xy[3, 1]
    assert r["x_mm"] == r["y_mm"] == ""  # PNG: no spacing
    assert (r["visible"], r["source"], r["status"]) == ("1", "moved", "accepted")
    unset = rows[2 * k - 1]
    assert unset["x_px"] == unset["y_px"] == "" and unset["source"] == "" and unset["confidence"] == ""
    # with spacing (dy, dx) = (0.2, 0.125) mm: mm = px * spacing
    export_study(dicom_study, "csv", tmp_path / "dcm")
    rows = list(csv.DictReader(open(tmp_path / "dcm" / CSV_FILE, newline="")))
    r = rows[0]
    assert float(r["x_mm"]) == pytest.approx(float(r["x_px"]) * 0.125, abs=1e-4)
    assert float(r["y_mm"]) == pytest.approx(float(r["y_px"]) * 0.2, abs=1e-4)


def test_pseudonyms_stable_within_a_study_and_unlinkable_across(study, tmp_path):
    one = json.loads(export_study(study, "json", tmp_path / "a").files[0].read_text())
    two = json.loads(export_study(study, "json", tmp_path / "b").files[0].read_text())
    assert [i["id"] for i in one["images"]] == [i["id"] for i in two["images"]]
    other = Study.create(tmp_path / "other.vamstudy")
    other.add_images([tmp_path / "images"])
    annotate(other)
    three = json.loads(export_study(other, "json", tmp_path / "c").files[0].read_text())
    other.close()
    assert not {i["id"] for i in one["images"]} & {i["id"] for i in three["images"]}
    kept = json.loads(export_study(study, "json", tmp_path / "d", ExportOptions(keep_names=True))
                      .files[0].read_text())
    assert [i["file"] for i in kept["images"]] == ["spine0.png", "spine1.png"]
    assert [i["id"] for i in kept["images"]] == [i["id"] for i in one["images"]]


# --------------------------------------------------------------------------- dataset


def test_dataset_manifest_hashes_and_counts(study, tmp_path):
    from vam_gui.io.dataset import read_manifest

    report = export_study(study, "dataset", tmp_path / "ds", ExportOptions(size=128, sigma=2.0))
    out = tmp_path / "ds"
    assert report.files == [out / "manifest.json"] and report.images == 2 and report.skipped == []
    m = read_manifest(out)
    assert m["size"] == 128 and m["sigma"] == 2.0 and m["schema"] == study.schema.to_dict()
    assert m["count"] == 2 and m["app_version"] and m["created"]
    assert m["models"] == ["vam:demo-1234"] and m["study"].startswith("study-")
    k = study.schema.k
    assert m["points"] == {"accepted": k - 3, "moved": 2, "placed": k - 6, "imported": 0, "missing": 1 + 6}
    first = m["items"][0]
    assert first["model"] == "vam:demo-1234" and first["status"] == "accepted"
    assert first["points"]["moved"] == 2 and first["file"] == first["id"] + ".png"
    assert set(first["letterbox"]) == {"size", "height", "width", "scale", "pad_x", "pad_y", "out_h", "out_w",
                                       "crop_x", "crop_y", "crop_w", "crop_h"}
    for item in m["items"]:
        for key in ("image", "targets"):
            data = (out / item[key]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"][key]
        img = cv2.imread(str(out / item["image"]), cv2.IMREAD_UNCHANGED)
        assert img.dtype == np.uint16 and img.shape == (128, 128)
        t = np.load(out / item["targets"])["targets"]
        assert t.dtype == np.float16 and t.shape == (k, 128, 128)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(["manifest.json"] + [it["image"] for it in m["items"]]
                           + [it["targets"] for it in m["items"]])


def test_dataset_targets_decode_to_the_corrected_points(tmp_path):
    import torch

    from vam_gui.io.dataset import entry_arrays, read_manifest
    from vam_gui.model import dark_decode

    write_images(tmp_path / "images")
    size, margin = 256, 8
    with Study.create(tmp_path / "s.vamstudy") as s:
        s.add_images([tmp_path / "images"])
        rng = np.random.default_rng(7)
        truth = {}
        for info in s.list_images():
            # sub-pixel positions all over the image, a few near its edges
            xy = np.stack([rng.uniform(-0.4, info.width - 0.6, s.schema.k),
                           rng.uniform(-0.4, info.height - 0.6, s.schema.k)], axis=1)
            truth[info.image_id] = xy
            s.apply_edit(info.image_id, user="t", kind="move",
                         points={i: PointState(x, y, True, "placed") for i, (x, y) in enumerate(xy)},
                         review=ReviewState("accepted", None, "t"))
        export_study(s, "dataset", tmp_path / "ds", ExportOptions(size=size, sigma=2.0))
        m = read_manifest(tmp_path / "ds")
        by_item = {image_pseudonym(s.study_uid, i): i for i in s.image_ids()}
    checked = 0
    for item in m["items"]:
        xy_model, visible, box = entry_arrays(item, 20)
        original = truth[by_item[item["id"]]]
        expected = box.to_model(original)
        assert np.allclose(xy_model, expected, atol=1e-4)
        targets = np.load(tmp_path / "ds" / item["targets"])["targets"]
        decoded, conf, _ = dark_decode(torch.from_numpy(targets.astype(np.float32))[None])
        decoded = decoded[0].double().numpy()
        inside = ((expected >= margin) & (expected <= size - 1 - margin)).all(axis=1)
        assert inside.sum() >= 15
        err = np.abs(decoded - expected)[inside].max()
        assert err < 0.01, err
        back = box.to_original(decoded)
        assert np.abs(back - original)[inside].max() < 0.01 / box.scale
        assert conf[0][inside].min() > 0.93  # the peak pixel: exp(-(0.5² + 0.5²) / 8) at worst
        checked += int(inside.sum())
    assert checked >= 60


@pytest.mark.parametrize("where", ["reading", "half-written", "fsync"])
def test_dataset_export_failing_halfway_leaves_nothing_half_done(study, tmp_path, monkeypatch, where):
    # a complete export first: a failed re-export must not leave its manifest claiming completeness
    out = tmp_path / "ds"
    export_study(study, "dataset", out, ExportOptions(size=64, all_images=True, include_flagged=True))
    assert (out / "manifest.json").is_file()
    for info in study.list_images():  # now every image has labels: 4 items
        if study.annotation(info.image_id).is_empty():
            study.apply_edit(info.image_id, user="t", kind="move", points={0: PointState(5.0, 6.0, True, "placed")})
    calls = itertools.count(1)  # next() is atomic: the writer threads share it
    if where == "reading":
        real = Study.load_radiograph

        def load(self, image_id):
            if next(calls) == 3:
                raise RuntimeError("disk on fire")
            return real(self, image_id)

        monkeypatch.setattr(Study, "load_radiograph", load)
    elif where == "half-written":
        real_fdopen = os.fdopen

        class HalfWriter:  # the third image's PNG: half its bytes reach the disk, then ENOSPC
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[:len(data) // 2])
                self.f.flush()
                raise OSError(28, "No space left on device")

            def __getattr__(self, name):
                return getattr(self.f, name)

        def fdopen(fd, *args, **kwargs):
            f = real_fdopen(fd, *args, **kwargs)
            return HalfWriter(f) if next(calls) == 5 else f

        monkeypatch.setattr("vam_gui.core.atomic.os.fdopen", fdopen)
    else:
        real_fsync = os.fsync

        def fsync(fd):  # written to its temporary file, not yet renamed into place
            if next(calls) == 5:
                raise OSError(5, "Input/output error")
            return real_fsync(fd)

        monkeypatch.setattr("vam_gui.core.atomic.os.fsync", fsync)
    with pytest.raises((RuntimeError, OSError)):
        export_study(study, "dataset", out, ExportOptions(size=64, all_images=True, include_flagged=True))
    assert not (out / "manifest.json").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    for png in (out / "images").glob("*.png"):
        img = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
        assert img is not None and img.shape == (64, 64), png
    for npz in (out / "targets").glob("*.npz"):
        assert np.load(npz)["targets"].shape == (20, 64, 64), npz


def test_dataset_export_cancel(study, tmp_path):
    asked = iter(range(100))
    with pytest.raises(InterruptedError):
        export_study(study, "dataset", tmp_path / "ds", ExportOptions(size=64), cancel=lambda: next(asked) >= 2)
    assert not (tmp_path / "ds" / "manifest.json").exists()
    with pytest.raises(InterruptedError):
        export_study(study, "json", tmp_path / "j", cancel=lambda: True)
    assert not (tmp_path / "j" / JSON_FILE).exists()


def test_dataset_skips_unreadable_and_unlabelled_images(study, tmp_path):
    infos = study.list_images()
    (tmp_path / "images" / Path(infos[1].rel_path).name).unlink()
    report = export_study(study, "dataset", tmp_path / "ds", ExportOptions(size=64, all_images=True))
    assert report.unlabelled == [image_pseudonym(study.study_uid, infos[3].image_id)]
    assert [name for name, _ in report.skipped] == [image_pseudonym(study.study_uid, infos[1].image_id)]
    assert "cannot read the image" in report.skipped[0][1] and "spine1" not in report.skipped[0][1]
    assert report.images == 1
    m = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert m["count"] == 1 and m["skipped"] == 1 and m["unlabelled"] == 1


# --------------------------------------------------------------------------- de-identification

PATIENT = {"PatientName": "DOE^JANE", "PatientID": "PID12345", "PatientBirthDate": "19700101"}
SOP_UID = "1.2.826.0.1.3680043.8.498.99887766554433221100"


def write_dicom(path: Path, arr: np.ndarray, uid: str = SOP_UID, **tags) -> Path:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = uid
    ds.Modality = "DX"
    ds.Rows, ds.Columns = arr.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation, ds.SamplesPerPixel = 0, 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelSpacing = [0.2, 0.125]
    for key, value in tags.items():
        setattr(ds, key, value)
    ds.PixelData = arr.astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.fixture
def dicom_study(tmp_path):
    folder = tmp_path / "DOE_JANE_PID12345"
    folder.mkdir()
    rng = np.random.default_rng(3)
    arr = np.clip(rng.normal(1500, 200, (220, 180)), 0, 4095)
    write_dicom(folder / "DOE_JANE_PID12345.dcm", arr, **PATIENT)
    s = Study.create(tmp_path / "DOE_JANE.vamstudy")
    report = s.add_images([folder])
    assert report.added == ["uid:" + SOP_UID]
    image_id = report.added[0]
    xy = corners(s.schema, 220, 180, 5)
    s.save_prediction(image_id, Prediction(xy=xy, confidence=np.full(20, 0.8, np.float32),
                                           spread=np.full(20, 1.0, np.float32),
                                           letterbox=Letterbox.fit(220, 180, 64), model_id="vam:m"))
    s.apply_edit(image_id, user="r", kind="status", review=ReviewState("accepted", None, "r"))
    yield s
    s.close()


def test_dicom_export_leaks_no_patient_data(dicom_study, tmp_path):
    needles = [b"DOE^JANE", b"DOE_JANE", b"JANE", b"PID12345", b"19700101", SOP_UID.encode()]
    written = []
    for fmt in ("json", "coco", "csv", "dataset"):
        out = tmp_path / f"export-{fmt}"
        report = export_study(dicom_study, fmt, out, ExportOptions(size=64))
        assert report.images == 1
        files = [p for p in out.rglob("*") if p.is_file()]
        assert files
        written += files
    # JSON, COCO, CSV + measurements CSV, each with the de-identified DICOM copy; manifest, PNG, NPZ
    assert len(written) == 4 + 3 + 3
    for path in written:
        rel = path.relative_to(tmp_path).as_posix().encode()
        data = path.read_bytes()
        blobs = [rel, data]
        if path.suffix == ".npz":  # also every member, uncompressed
            import zipfile

            with zipfile.ZipFile(path) as zf:
                blobs += [zf.read(n) + n.encode() for n in zf.namelist()]
        for blob in blobs:
            for needle in needles:
                assert needle.lower() not in blob.lower(), (path.name, needle)


def test_export_and_import_packages_load_no_torch_and_no_qt():
    import subprocess
    import sys

    code = ("import json, sys, vam_gui.io.export, vam_gui.io.importers, vam_gui.io.export.bench;"
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    assert not loaded & {"torch", "torchvision", "PySide6", "pyqtgraph", "shiboken6", "scipy"}, loaded


def test_bench_export_quick(tmp_path):
    from vam_gui.io.export.bench import bench_export

    figures = bench_export(tmp_path, n=3, side=256, size=128, repeats=1)
    assert figures["export_images_per_s"] > 0
    assert all(figures[f"export_{k}_ms"] > 0 for k in ("read", "letterbox", "png", "targets", "npz"))


def test_measurements_travel_with_json_and_csv(tmp_path):
    """JSON carries each image's measurements; the CSV export adds measurements.csv."""
    import csv as _csv
    import json as _json

    import cv2 as _cv2

    from vam_gui.core.annotation import PointState, ReviewState
    from vam_gui.io import Study
    from vam_gui.io.export import ExportOptions, export_study

    img = tmp_path / "i.png"
    _cv2.imwrite(str(img), np.zeros((300, 200), np.uint8))
    with Study.create(tmp_path / "m.vamstudy") as study:
        study.add_images([img])
        image = study.image_ids()[0]
        points = {}
        for v in range(5):  # 40 px wide, 30 px tall boxes 10 px apart
            y0 = 20 + 40 * v
            for c, (x, y) in enumerate([(50, y0), (90, y0), (50, y0 + 30), (90, y0 + 30)]):
                points[4 * v + c] = PointState(float(x), float(y), True, "placed")
        study.apply_edit(image, user="t", kind="move", points=points, review=ReviewState("accepted", None, "t"))
        export_study(study, "json", tmp_path / "j", ExportOptions())
        export_study(study, "csv", tmp_path / "c", ExportOptions())
    doc = _json.loads((tmp_path / "j" / "vam-labels.json").read_text())
    m = doc["images"][0]["measurements"]
    assert m["unit"] == "px" and m["vertebrae"][0]["heights"]["middle"] == pytest.approx(30.0)
    rows = list(_csv.DictReader(open(tmp_path / "c" / "measurements.csv")))
    assert any(r["measurement"].startswith("L1") and r["unit"] == "px" for r in rows)


@pytest.mark.parametrize("fmt", ["json", "coco", "csv"])
def test_label_exports_pause_the_cycle_collector_and_give_it_back(study, tmp_path, fmt):
    import gc

    seen = []
    assert gc.isenabled()
    export_study(study, fmt, tmp_path / fmt, ExportOptions(all_images=True, keep_names=True),
                 progress=lambda done, total: seen.append(gc.isenabled()))
    assert seen and not any(seen) and gc.isenabled()
    with pytest.raises(InterruptedError):
        export_study(study, fmt, tmp_path / "cancelled", ExportOptions(all_images=True), cancel=lambda: True)
    assert gc.isenabled()
