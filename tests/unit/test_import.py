"""Importers: round trips through our JSON and COCO, the scoliosis-challenge layouts, endplate
CSV, COCO from another tool, schema conversion and the AP <-> lateral refusal."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_export import annotate, corners, write_images

from vam_gui.cli import main
from vam_gui.core.annotation import PointState, ReviewState
from vam_gui.core.schema import load_schema
from vam_gui.io import Study
from vam_gui.io.export import COCO_FILE, JSON_FILE, ExportOptions, export_study
from vam_gui.io.importers import LabelImportError, ViewMismatchError, import_labels


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "images")


def new_study(tmp_path, name="fresh", schema="lumbar-ap-20", folder=None):
    s = Study.create(tmp_path / f"{name}.vamstudy", schema=schema)
    s.add_images([folder or tmp_path / "images"])
    return s


@pytest.fixture
def source(tmp_path, images):
    s = new_study(tmp_path, "source")
    annotate(s)
    yield s
    s.close()


def by_name(study) -> dict[str, str]:
    return {Path(i.rel_path).name: i.image_id for i in study.list_images()}


# --------------------------------------------------------------------------- round trips


def test_json_round_trip_into_a_fresh_study(source, tmp_path):
    export_study(source, "json", tmp_path / "out", ExportOptions(all_images=True, include_flagged=True))
    with new_study(tmp_path) as fresh:
        report = import_labels(fresh, "json", [tmp_path / "out" / JSON_FILE], user="carol")
        assert report.skipped == [] and len(report.imported) == 4
        a, b = by_name(source), by_name(fresh)
        for name in a:
            ann_a, ann_b = source.annotation(a[name]), fresh.annotation(b[name])
            assert ann_a.equals(ann_b), name  # xy (NaN included), visibility, sources
            assert source.status(a[name]) == fresh.status(b[name]), name
        # logged as imports, signed by the importing user
        log = fresh.edit_log()
        assert log and {e.kind for e in log} == {"import"} and {e.user for e in log} == {"carol"}


def test_json_reimport_into_the_same_study_restores_it(source, tmp_path):
    export_study(source, "json", tmp_path / "out", ExportOptions(all_images=True, include_flagged=True))
    before = {i: (source.annotation(i), source.status(i)) for i in source.image_ids()}
    for image_id in source.image_ids():  # scramble everything
        source.apply_edit(image_id, user="x", kind="move",
                          points={i: PointState(1.0, 1.0, True, "placed") for i in range(20)},
                          review=ReviewState("in_progress", None, "x"))
    report = import_labels(source, "json", tmp_path / "out")  # the folder: every *.json in it
    assert len(report.imported) == 4
    for image_id, (ann, status) in before.items():
        assert source.annotation(image_id).equals(ann) and source.status(image_id) == status


def test_coco_round_trip(source, tmp_path):
    export_study(source, "coco", tmp_path / "named", ExportOptions(all_images=True, include_flagged=True,
                                                                   keep_names=True))
    with new_study(tmp_path) as fresh:
        report = import_labels(fresh, "coco", [tmp_path / "named" / COCO_FILE])
        assert report.skipped == [] and len(report.imported) == 4
        a, b = by_name(source), by_name(fresh)
        for name in a:
            ann_a, ann_b = source.annotation(a[name]), fresh.annotation(b[name])
            labelled = ann_a.visible & np.isfinite(ann_a.xy).all(axis=1)
            assert np.array_equal(ann_b.visible, labelled)
            assert np.abs(ann_b.xy[labelled] - ann_a.xy[labelled]).max(initial=0) <= 1e-6
            assert set(ann_b.source) == {"imported"}
    # pseudonymised names find their images again in the study that exported them
    export_study(source, "coco", tmp_path / "pseudo", ExportOptions(all_images=True))
    doc = json.loads((tmp_path / "pseudo" / COCO_FILE).read_text())
    assert all(img["file_name"].startswith("img-") for img in doc["images"])
    report = import_labels(source, "coco", [tmp_path / "pseudo" / COCO_FILE])
    assert report.skipped == [] and len(report.imported) == 3
    with new_study(tmp_path, "fresh2") as fresh:  # and the same files in another study, by content
        report = import_labels(fresh, "coco", [tmp_path / "pseudo" / COCO_FILE])
        assert report.skipped == [] and len(report.imported) == 3


def test_unmatched_files_are_reported_not_fatal(source, tmp_path):
    export_study(source, "json", tmp_path / "out", ExportOptions(all_images=True, keep_names=True))
    doc = json.loads((tmp_path / "out" / JSON_FILE).read_text())
    doc["images"][0].update(file="somebody-else.png", id="img-000000000000", content_key="0" * 32)
    (tmp_path / "out" / JSON_FILE).write_text(json.dumps(doc))
    (tmp_path / "out" / "notes.json").write_text("{not json")
    with new_study(tmp_path) as fresh:
        report = import_labels(fresh, "json", [tmp_path / "out"])
        assert len(report.imported) == 2
        reasons = dict(report.skipped)
        assert "no image of the study matches 'somebody-else.png'" in reasons[f"{JSON_FILE}: somebody-else.png"]
        assert "not a readable JSON file" in reasons["notes.json"]


# --------------------------------------------------------------------------- scoliosis challenge


def scoliosis_points(h: int, w: int, seed: int) -> np.ndarray:
    return corners(load_schema("spine-ap-68"), h, w, seed)


def test_scoliosis_mat_68_and_conversion_to_lumbar_20(tmp_path, images):
    from scipy.io import savemat

    labels = tmp_path / "labels"
    labels.mkdir()
    truth = {}
    for i, path in enumerate(images[:3]):
        h, w = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape
        p2 = scoliosis_points(h, w, i)
        truth[path.name] = p2
        # the challenge names labels after the image, extension included
        savemat(labels / f"{path.name}.mat", {"p2": p2})
    savemat(labels / "stranger.jpg.mat", {"p2": scoliosis_points(100, 100, 9)})
    savemat(labels / "broken.mat", {"p3": np.zeros((68, 2))})

    with new_study(tmp_path, "spine", schema="spine-ap-68") as s:
        report = import_labels(s, "scoliosis-mat", [labels])
        assert len(report.imported) == 3
        reasons = dict(report.skipped)
        assert "no image of the study matches" in reasons["stranger.jpg.mat"]
        assert "no 'p2' array" in reasons["broken.mat"]
        for name, image_id in by_name(s).items():
            if name in truth:
                ann = s.annotation(image_id)
                assert np.array_equal(ann.xy, truth[name]) and ann.visible.all()
                assert set(ann.source) == {"imported"}

    with new_study(tmp_path, "lumbar") as s:  # 68 -> 20: L1..L5 are the last 17 * 4 - 20 .. 67
        import_labels(s, "scoliosis-mat", [labels / f"{p.name}.mat" for p in images[:3]])
        for name, image_id in by_name(s).items():
            if name in truth:
                assert np.array_equal(s.annotation(image_id).xy, truth[name][48:68])
        names68 = load_schema("spine-ap-68").keypoints
        assert names68[48:68] == load_schema("lumbar-ap-20").keypoints


def test_scoliosis_csv_normalised(tmp_path, images):
    labels = tmp_path / "csv"
    labels.mkdir()
    rows, names, truth = [], [], {}
    for i, path in enumerate(images[:2]):
        h, w = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape
        p = scoliosis_points(h, w, i)
        truth[path.name] = p
        rows.append(",".join(f"{v:.10f}" for v in np.concatenate([p[:, 0] / w, p[:, 1] / h])))
        names.append(path.name)
    rows.append(",".join(["0.5"] * 136))
    names.append("missing-image.jpg")
    (labels / "landmarks.csv").write_text("\n".join(rows) + "\n")
    (labels / "filenames.csv").write_text("\n".join(names) + "\n")
    with new_study(tmp_path) as s:
        report = import_labels(s, "scoliosis-csv", [labels])
        assert len(report.imported) == 2 and len(report.skipped) == 1
        for name, image_id in by_name(s).items():
            if name in truth:
                assert np.allclose(s.annotation(image_id).xy, truth[name][48:68], atol=1e-6)
    (labels / "filenames.csv").write_text("\n".join(names[:2]) + "\n")
    with new_study(tmp_path, "other") as s, pytest.raises(LabelImportError, match="cannot be paired"):
        import_labels(s, "scoliosis-csv", [labels / "landmarks.csv", labels / "filenames.csv"])


def test_ap_labels_are_never_converted_to_lateral(tmp_path, images, source):
    from scipy.io import savemat

    savemat(tmp_path / f"{images[0].name}.mat", {"p2": scoliosis_points(300, 200, 0)})
    export_study(source, "json", tmp_path / "out")
    with new_study(tmp_path, "lateral", schema="lumbar-lat-22") as s:
        for fmt, path in (("scoliosis-mat", tmp_path / f"{images[0].name}.mat"),
                          ("json", tmp_path / "out" / JSON_FILE)):
            with pytest.raises(ViewMismatchError, match="AP view.*LAT view"):
                import_labels(s, fmt, [path])
        assert all(s.annotation(i).is_empty() for i in s.image_ids()) and s.edit_log() == []
        assert main(["import", str(s.path), "--format", "scoliosis-mat", str(tmp_path), "-q"]) == 2


def test_json_conversion_between_schemas_of_one_view(tmp_path, images):
    with new_study(tmp_path, "big", schema="spine-ap-68") as big:
        image_id = big.image_ids()[0]
        info = big.image_info(image_id)
        xy = scoliosis_points(info.height, info.width, 0)
        big.apply_edit(image_id, user="t", kind="move",
                       points={i: PointState(x, y, True, "moved") for i, (x, y) in enumerate(xy)},
                       review=ReviewState("accepted", None, "t"))
        export_study(big, "json", tmp_path / "big", ExportOptions(keep_names=True))
    with new_study(tmp_path, "small") as small:
        import_labels(small, "json", [tmp_path / "big" / JSON_FILE])
        ann = small.annotation(by_name(small)[images[0].name])
        assert np.array_equal(ann.xy, xy[48:68]) and set(ann.source) == {"moved"}
        # and back: 20 -> 68 fills L1-L5 and leaves T1-T12 untouched
        export_study(small, "json", tmp_path / "small", ExportOptions(keep_names=True))
    with new_study(tmp_path, "big2", schema="spine-ap-68") as big2:
        import_labels(big2, "json", [tmp_path / "small" / JSON_FILE])
        ann = big2.annotation(by_name(big2)[images[0].name])
        assert np.array_equal(ann.xy[48:], xy[48:]) and np.isnan(ann.xy[:48]).all()


# --------------------------------------------------------------------------- endplates


def endplate_rows(xy: np.ndarray, schema, labels: bool) -> list[str]:
    """Two rows per vertebra: upper (UL, UR) then lower (LL, LR)."""
    rows = []
    for v, name in enumerate(schema.vertebrae):
        for first, which in ((0, "upper"), (2, "lower")):
            a = xy[4 * v + first]
            b = xy[4 * v + first + 1]
            row = f"{a[0]},{a[1]},{b[0]},{b[1]}"
            rows.append(row + (f",{name} {which}" if labels else ""))
    return rows


def test_endplate_csv(tmp_path, images):
    schema = load_schema("lumbar-ap-20")
    folder = tmp_path / "endplates"
    folder.mkdir()
    h, w = cv2.imread(str(images[0]), cv2.IMREAD_UNCHANGED).shape
    xy0 = corners(schema, h, w, 0)
    (folder / "spine0.csv").write_text("x1,y1,x2,y2\n" + "\n".join(endplate_rows(xy0, schema, False)) + "\n")
    h, w = cv2.imread(str(images[1]), cv2.IMREAD_UNCHANGED).shape
    xy1 = corners(schema, h, w, 1)
    labelled = endplate_rows(xy1, schema, True)
    # only L3 and L4, with a T12 row this schema lacks
    (folder / "spine1.csv").write_text("\n".join(["1,2,3,4,T12 lower"] + labelled[4:8]) + "\n")
    (folder / "spine2.csv").write_text("\n".join(endplate_rows(xy0, schema, False)[:7]) + "\n")
    with new_study(tmp_path) as s:
        s.apply_edit(by_name(s)["spine1.png"], user="t", kind="move", points={0: PointState(9.0, 9.0, True, "placed")})
        # a file that cannot be placed refuses the whole import: nothing of spine0 / spine1 written
        with pytest.raises(LabelImportError, match="spine2.csv: 7 endplate rows without labels; lumbar-ap-20 has 10"):
            import_labels(s, "endplates", [folder], partial=True)
        assert len(s.edit_log()) == 1 and s.annotation(by_name(s)["spine0.png"]).is_empty()
        (folder / "spine2.csv").unlink()
        # spine1 covers L3 and L4 only: imported only when a partial import is asked for
        with pytest.raises(LabelImportError, match="spine1.csv: the rows cover 4 of the 10 endplates"):
            import_labels(s, "endplates", [folder])
        assert len(s.edit_log()) == 1
        report = import_labels(s, "endplates", [folder], partial=True)
        assert len(report.imported) == 2 and report.skipped == []
        ann = s.annotation(by_name(s)["spine0.png"])
        assert np.array_equal(ann.xy, xy0) and ann.visible.all() and set(ann.source) == {"imported"}
        ann = s.annotation(by_name(s)["spine1.png"])
        assert np.array_equal(ann.xy[8:16], xy1[8:16])
        assert ann.point(0) == PointState(9.0, 9.0, True, "placed")  # rows for L1 absent: untouched
        assert np.isnan(ann.xy[16:]).all()


def test_endplate_csv_lateral_uses_facing(tmp_path, images):
    schema = load_schema("lumbar-lat-22")
    with new_study(tmp_path, "lat", schema="lumbar-lat-22") as s:
        image_id = by_name(s)["spine0.png"]
        s.set_facing(image_id, "right")  # anterior on the right: the right point is SA / IA
        rows = []
        for v in schema.vertebrae:
            rows.append(f"10,20,30,21,{v} sup")
            if v != "S1":
                rows.append(f"11,40,31,41,{v} inf")
        (tmp_path / "spine0.csv").write_text("\n".join(rows) + "\n")
        report = import_labels(s, "endplates", [tmp_path / "spine0.csv"])
        assert report.imported == [image_id]
        ann = s.annotation(image_id)
        assert ann.point(schema.index("L1-SA")) == PointState(30.0, 21.0, True, "imported")
        assert ann.point(schema.index("L1-SP")) == PointState(10.0, 20.0, True, "imported")
        assert ann.point(schema.index("L5-IP")) == PointState(11.0, 40.0, True, "imported")
        assert ann.point(schema.index("S1-SA")) == PointState(30.0, 21.0, True, "imported")


# --------------------------------------------------------------------------- COCO of another tool


def test_coco_from_another_tool(tmp_path, images):
    """A CVAT-style file: numeric keypoint names, visibility 1 and 2, one annotation per
    vertebra pair, images in a sub-folder, an image the study lacks."""
    schema = load_schema("lumbar-ap-20")
    h, w = cv2.imread(str(images[2]), cv2.IMREAD_UNCHANGED).shape
    xy = corners(schema, h, w, 4)
    upper = [0.0] * 60
    lower = [0.0] * 60
    for i, (x, y) in enumerate(xy):
        target = upper if i < 8 else lower
        target[3 * i:3 * i + 3] = [float(x), float(y), 1 if i == 5 else 2]
    lower[3 * 19:3 * 20] = [0, 0, 0]  # not labelled
    doc = {
        "images": [{"id": 7, "file_name": "batch1/spine2.png", "width": w, "height": h},
                   {"id": 8, "file_name": "batch1/other.png", "width": 10, "height": 10}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "keypoints": upper, "num_keypoints": 8},
            {"id": 2, "image_id": 7, "category_id": 3, "keypoints": lower, "num_keypoints": 11},
            {"id": 3, "image_id": 8, "category_id": 3, "keypoints": [0] * 60, "num_keypoints": 0},
            {"id": 4, "image_id": 7, "category_id": 9, "bbox": [0, 0, 1, 1]},  # another category
        ],
        "categories": [{"id": 3, "name": "vertebrae", "keypoints": [str(i) for i in range(1, 21)],
                        "skeleton": []}, {"id": 9, "name": "ruler"}],
    }
    (tmp_path / "cvat.json").write_text(json.dumps(doc))
    with new_study(tmp_path) as s:
        report = import_labels(s, "coco", [tmp_path / "cvat.json"])
        assert report.imported == [by_name(s)["spine2.png"]]
        assert "no image of the study matches 'other.png'" in dict(report.skipped)["cvat.json: batch1/other.png"]
        ann = s.annotation(by_name(s)["spine2.png"])
        assert np.array_equal(ann.xy[:19], xy[:19]) and ann.visible[:19].all()
        assert np.isnan(ann.xy[19]).all() and not ann.visible[19]
    with new_study(tmp_path, "lat", schema="lumbar-lat-22") as s:  # 20 keypoints: lumbar-ap-20, AP
        with pytest.raises(ViewMismatchError):
            import_labels(s, "coco", [tmp_path / "cvat.json"])


# --------------------------------------------------------------------------- command line


def test_cli_export_and_import(source, tmp_path, capsys):
    study = str(source.path)
    source.close()
    assert main(["export", study, "--format", "json", "--out", str(tmp_path / "cli"), "--all", "-q"]) == 0
    assert "3 image(s) exported as json" in capsys.readouterr().err
    assert main(["export", study, "--format", "dataset", "--out", str(tmp_path / "ds"), "--size", "64",
                 "--sigma", "1.5", "-q"]) == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["size"] == 64 and manifest["sigma"] == 1.5 and manifest["count"] == 2
    capsys.readouterr()
    assert main(["export", study, "--format", "csv", "--out", str(tmp_path / "x"), "--size", "100"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "multiple of 32" in err
    fresh = new_study(tmp_path)
    path = str(fresh.path)
    fresh.close()
    assert main(["import", path, "--format", "json", str(tmp_path / "cli" / JSON_FILE), "--user", "dan", "-q"]) == 0
    assert "3 image(s) imported" in capsys.readouterr().err
    with Study.open(path) as s:
        assert {e.user for e in s.edit_log()} == {"dan"}
    assert main(["import", path, "--format", "coco", str(tmp_path / "nowhere.json")]) == 2
    assert "no such file or folder" in capsys.readouterr().err


def test_cli_import_summarises_labels_that_fail_the_checks(source, tmp_path, capsys):
    """Public label sets hold a few wrong labels: they are imported, and the import says which."""
    export_study(source, "json", tmp_path / "out", ExportOptions(all_images=True, include_flagged=True))
    doc = json.loads((tmp_path / "out" / JSON_FILE).read_text())
    first = doc["images"][0]["keypoints"]
    # swap L3's upper corners: a corner-order / outline error the checks must report
    a, b = (next(k for k in first if k["name"] == n) for n in ("L3-UL", "L3-UR"))
    a["x"], b["x"] = b["x"], a["x"]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    fresh = new_study(tmp_path)
    path = str(fresh.path)
    fresh.close()
    assert main(["import", path, "--format", "json", str(tmp_path / "bad.json"), "-q"]) == 0
    err = capsys.readouterr().err
    assert f"{len(doc['images'])} image(s) imported" in err  # the bad one too
    assert "fail the anatomical checks (imported anyway" in err
    assert f"1 of {len(doc['images'])} imported image(s)" in err and "L3: UL and UR look swapped" in err
