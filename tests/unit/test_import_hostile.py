"""Hostile label files: every importer refuses a bad file whole, with one line naming the file
and the record, and leaves the study exactly as it was (points, status, facing, edit log).

One test per kind of fault per format: values that are not finite numbers, points far outside
their image, wrong types, a keypoint named twice, a keypoint the labels' schema lacks, only
some keypoints of an image (refused unless partial=True), files too large or nested too deep,
and a bad record after good ones (nothing of the good ones is written either). Faults a
format cannot express (names in the scoliosis layout, nesting in CSV) have no test there."""

from __future__ import annotations

import json
import re

import cv2
import numpy as np
import pytest
from test_export import annotate, corners, write_images

from vam_gui.core.schema import load_schema
from vam_gui.io import Study
from vam_gui.io.export import COCO_FILE, JSON_FILE, ExportOptions, export_study
from vam_gui.io.importers import LabelImportError, import_labels
from vam_gui.io.importers.strict import MAX_FILE_BYTES

EVERYTHING = ExportOptions(all_images=True, include_flagged=True, keep_names=True)
NONFINITE = {"nan": "NaN", "inf": "Infinity", "1e400": "1e400", "null": "null"}


@pytest.fixture
def images(tmp_path):
    return write_images(tmp_path / "images")


@pytest.fixture
def study(tmp_path, images):
    s = Study.create(tmp_path / "target.vamstudy")
    s.add_images([tmp_path / "images"])
    annotate(s)
    yield s
    s.close()


def state(study: Study):
    """Everything an import could change, comparable with ==."""
    images = {}
    for info in study.list_images():
        ann = study.annotation(info.image_id)
        images[info.image_id] = (np.where(np.isnan(ann.xy), -1e9, ann.xy).tolist(), ann.visible.tolist(),
                                 list(ann.source), study.status(info.image_id), info.facing)
    log = [(e.id, e.image_id, e.kind, e.point, e.before, e.after) for e in study.edit_log()]
    return images, log


def refused(study: Study, fmt: str, path, pattern: str, shown_file=None, **kw) -> str:
    """Import ``path``, expect one LabelImportError line naming the file, and no change."""
    before = state(study)
    with pytest.raises(LabelImportError) as caught:
        import_labels(study, fmt, [path], user="mallory", **kw)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message, message
    assert (shown_file or path.name) in message, message
    assert re.search(pattern, message), message
    assert state(study) == before
    return message


def sparse(path, size=MAX_FILE_BYTES + 1):
    with open(path, "wb") as f:
        f.truncate(size)  # a hole: the test costs no disk, the importer must not read it
    return path


def image_size(path) -> tuple[int, int]:
    h, w = cv2.imread(str(path), cv2.IMREAD_UNCHANGED).shape
    return h, w


# --------------------------------------------------------------------------- our JSON


@pytest.fixture
def ours(study, tmp_path):
    """Our export of the study; faults go into its last image, after two good ones."""
    export_study(study, "json", tmp_path / "out", EVERYTHING)
    return json.loads((tmp_path / "out" / JSON_FILE).read_text())


def write_ours(tmp_path, doc, marker=None, raw="") -> object:
    text = json.dumps(doc)
    if marker is not None:
        text = text.replace(json.dumps(marker), raw)
    path = tmp_path / "hostile.json"
    path.write_text(text)
    return path


@pytest.mark.parametrize("value", NONFINITE)
def test_ours_non_finite_coordinate(study, tmp_path, ours, value):
    ours["images"][-1]["keypoints"][4].update(x="@@", y=5.0, visible=True)
    path = write_ours(tmp_path, ours, "@@", NONFINITE[value])
    refused(study, "json", path, r"images\[3\].*L2-UL.*x (must be a number|is .*not a finite)")


@pytest.mark.parametrize("x", [1e300, -1e300, -40.0])
def test_ours_point_outside_the_image(study, tmp_path, ours, x):
    ours["images"][-1]["keypoints"][4].update(x=x, y=5.0, visible=True)
    refused(study, "json", write_ours(tmp_path, ours),
            r"hostile.json: spine3.png: keypoint 'L2-UL'.*outside the \d+ x \d+ image")


@pytest.mark.parametrize("where, field, value, pattern", [
    ("point", "x", True, "x must be a number, not true"),
    ("point", "visible", 1, "visible must be true or false"),
    ("point", "source", ["moved"], "source is a list"),
    ("image", "reviewer", {"name": "x"}, "reviewer must be a string, not an object"),
    ("image", "id", ["img"], "id must be a string, not a list"),
    ("image", "status", "approved", "status is 'approved', not one of"),
    ("image", "facing", "up", "facing is 'up'"),
    ("doc", "version", "abc", "version must be a whole number, not 'abc'"),
    ("doc", "images", {"a": 1}, "images must be a list"),
])
def test_ours_wrong_type(study, tmp_path, ours, where, field, value, pattern):
    target = {"point": ours["images"][-1]["keypoints"][4], "image": ours["images"][-1], "doc": ours}[where]
    target[field] = value
    refused(study, "json", write_ours(tmp_path, ours), pattern)


def test_ours_duplicate_keypoint_name(study, tmp_path, ours):
    kps = ours["images"][-1]["keypoints"]
    kps.append(dict(kps[0], x=1.0, y=1.0))
    refused(study, "json", write_ours(tmp_path, ours), r"images\[3\].*'L1-UL' is given twice")


def test_ours_keypoint_unknown_to_its_schema(study, tmp_path, ours):
    ours["images"][-1]["keypoints"][7]["name"] = "L9-UL"
    refused(study, "json", write_ours(tmp_path, ours), r"images\[3\].*'L9-UL' is not in the file's schema")


def test_ours_some_keypoints_only_need_partial(study, tmp_path, ours):
    entry = ours["images"][1]
    entry["keypoints"] = entry["keypoints"][:5]
    path = write_ours(tmp_path, ours)
    refused(study, "json", path, r"images\[1\].*names 5 of the 20 keypoints.*partial")
    image_id = next(i.image_id for i in study.list_images() if i.file_name == entry["file"])
    before = study.annotation(image_id)
    moved = {k["name"]: k for k in entry["keypoints"]}
    for k in moved.values():
        k.update(x=3.0, y=4.0, visible=True, source="moved")
    path = write_ours(tmp_path, ours)
    report = import_labels(study, "json", [path], partial=True)
    assert len(report.imported) == 4
    after = study.annotation(image_id)
    assert np.array_equal(after.xy[:5], np.full((5, 2), [3.0, 4.0])) and after.visible[:5].all()
    assert np.array_equal(after.xy[5:], before.xy[5:], equal_nan=True)  # the other 15 untouched
    assert list(after.source[5:]) == list(before.source[5:])


def test_ours_too_large_and_too_deep(study, tmp_path):
    refused(study, "json", sparse(tmp_path / "huge.json"), "larger than the 512 MB")
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    refused(study, "json", tmp_path / "deep.json", "nested too deeply")


def test_ours_version_and_schema_checked(study, tmp_path, ours):
    ours["version"] = 10 ** 400  # a huge integer never becomes a Python int of 400 digits
    refused(study, "json", write_ours(tmp_path, ours), "version must be a whole number")
    ours["version"] = 1
    ours["schema"]["keypoints"][1]["name"] = ours["schema"]["keypoints"][0]["name"]
    refused(study, "json", write_ours(tmp_path, ours), "no valid keypoint schema.*duplicate keypoint name")


# --------------------------------------------------------------------------- COCO


@pytest.fixture
def coco(study, tmp_path):
    export_study(study, "coco", tmp_path / "coco", EVERYTHING)
    doc = json.loads((tmp_path / "coco" / COCO_FILE).read_text())
    assert len(doc["annotations"]) >= 3
    return doc


def write_coco(tmp_path, doc, marker=None, raw=""):
    return write_ours(tmp_path, doc, marker, raw)


@pytest.mark.parametrize("value", NONFINITE)
def test_coco_non_finite_coordinate(study, tmp_path, coco, value):
    coco["annotations"][-1]["keypoints"][3] = "@@"
    path = write_coco(tmp_path, coco, "@@", NONFINITE[value])
    refused(study, "coco", path, r"annotations\[\d+\] \(id .*\).*keypoints\[3\] (must be a number|is .*not a finite)")


@pytest.mark.parametrize("x", [1e300, -1e300])
def test_coco_point_outside_the_image(study, tmp_path, coco, x):
    coco["annotations"][-1]["keypoints"][0:3] = [x, 5.0, 2]
    refused(study, "coco", write_coco(tmp_path, coco), r"hostile.json: .*'L1-UL'.*outside the \d+ x \d+ image")


def test_coco_missing_points_are_fine(study, tmp_path, coco):
    ann = coco["annotations"][0]
    ann["keypoints"][0:3] = [0, 0, 0]  # v = 0: missing, whatever x and y say
    report = import_labels(study, "coco", [write_coco(tmp_path, coco)])
    assert report.skipped == [] and len(report.imported) == len(coco["annotations"])


@pytest.mark.parametrize("part, field, value, pattern", [
    ("kp", 0, True, r"keypoints\[0\] must be a number, not true"),
    ("kp", 2, 3, "has v = 3, not 0, 1 or 2"),
    ("ann", "image_id", [1], "image_id must be an integer or a string, not a list"),
    ("ann", "category_id", {"id": 1}, "category_id must be an integer or a string, not an object"),
    ("ann", "image_id", 999, "image_id 999 is not in the file's images"),
    ("ann", "keypoints", "1,2,2", "keypoints must be a list"),
    ("image", "file_name", ["a.png"], "file_name must be a string"),
    ("image", "id", True, "id must be an integer or a string, not true"),
    ("cat", "keypoints", list(range(20)), "a keypoint name must be a string, not 0"),
])
def test_coco_wrong_type(study, tmp_path, coco, part, field, value, pattern):
    target = {"kp": coco["annotations"][-1]["keypoints"], "ann": coco["annotations"][-1],
              "image": coco["images"][-1], "cat": coco["categories"][0]}[part]
    target[field] = value
    refused(study, "coco", write_coco(tmp_path, coco), pattern)


def test_coco_duplicate_keypoint_name(study, tmp_path, coco):
    names = coco["categories"][0]["keypoints"]
    names[1] = names[0]
    refused(study, "coco", write_coco(tmp_path, coco), r"categories\[0\]: duplicate keypoint name 'L1-UL'")


def test_coco_keypoint_unknown_to_the_schemas(study, tmp_path, coco):
    coco["categories"][0]["keypoints"][3] = "L1-XX"
    coco["categories"][0].pop("vam_schema", None)
    refused(study, "coco", write_coco(tmp_path, coco), r"categories\[0\]: keypoint 'L1-XX' is in no known schema")


def test_coco_some_keypoints_only_need_partial(study, tmp_path, coco):
    coco["categories"][0]["keypoints"] = coco["categories"][0]["keypoints"][:5]
    coco["categories"][0].pop("vam_schema", None)
    for ann in coco["annotations"]:
        ann["keypoints"] = ann["keypoints"][:15]
    path = write_coco(tmp_path, coco)
    refused(study, "coco", path, r"categories\[0\]: names 5 of the 20 keypoints of lumbar-ap-20.*partial")
    before = {i: study.annotation(i) for i in study.image_ids()}
    report = import_labels(study, "coco", [path], partial=True)
    assert len(report.imported) == len(coco["annotations"])
    for image_id in report.imported:
        assert np.array_equal(study.annotation(image_id).xy[5:], before[image_id].xy[5:], equal_nan=True)


def test_coco_5_of_20_values_refused(study, tmp_path, coco):
    coco["annotations"][-1]["keypoints"] = coco["annotations"][-1]["keypoints"][:15]
    refused(study, "coco", write_coco(tmp_path, coco), "15 keypoint values, the category names 20 keypoints")


def test_coco_too_large_and_too_deep(study, tmp_path, coco):
    refused(study, "coco", sparse(tmp_path / "huge.json"), "larger than the 512 MB")
    coco["annotations"][-1]["keypoints"] = "@@"
    deep = write_coco(tmp_path, coco, "@@", "[" * 100_000 + "]" * 100_000)
    refused(study, "coco", deep, "nested too deeply")


# --------------------------------------------------------------------------- scoliosis CSV


@pytest.fixture
def spine_study(tmp_path, images):
    s = Study.create(tmp_path / "spine.vamstudy", schema="spine-ap-68")
    s.add_images([tmp_path / "images"])
    annotate(s)
    yield s
    s.close()


def scoliosis_csv(tmp_path, images, bad_cell=None, bad_index=7):
    """landmarks.csv + filenames.csv for three images, the last row with ``bad_cell``."""
    folder = tmp_path / "csv"
    folder.mkdir(exist_ok=True)
    rows = []
    for i, path in enumerate(images[:3]):
        h, w = image_size(path)
        p = corners(load_schema("spine-ap-68"), h, w, i)
        cells = [f"{v:.8f}" for v in np.concatenate([p[:, 0] / w, p[:, 1] / h])]
        if i == 2 and bad_cell is not None:
            cells[bad_index] = bad_cell
        rows.append(",".join(cells))
    (folder / "landmarks.csv").write_text("\n".join(rows) + "\n")
    (folder / "filenames.csv").write_text("\n".join(p.name for p in images[:3]) + "\n")
    return folder


def test_scoliosis_csv_good_rows_import(spine_study, tmp_path, images):
    report = import_labels(spine_study, "scoliosis-csv", [scoliosis_csv(tmp_path, images)])
    assert len(report.imported) == 3


@pytest.mark.parametrize("cell", ["nan", "inf", "-Infinity", "1e400", ""])
def test_scoliosis_csv_non_finite(spine_study, tmp_path, images, cell):
    folder = scoliosis_csv(tmp_path, images, cell)
    refused(spine_study, "scoliosis-csv", folder,
            r"landmarks.csv row 3 \(spine2.png\): value 8 is .*not a (finite )?number", shown_file="landmarks.csv")


@pytest.mark.parametrize("cell", ["1.2", "-0.3", "1e300"])
def test_scoliosis_csv_outside_the_image(spine_study, tmp_path, images, cell):
    folder = scoliosis_csv(tmp_path, images, cell)
    refused(spine_study, "scoliosis-csv", folder, r"landmarks.csv row 3 \(spine2.png\): point 8 .*outside \[0, 1\]",
            shown_file="landmarks.csv")


@pytest.mark.parametrize("cell", ["true", "abc", "1_0", "0x1"])
def test_scoliosis_csv_wrong_type(spine_study, tmp_path, images, cell):
    folder = scoliosis_csv(tmp_path, images, cell)
    refused(spine_study, "scoliosis-csv", folder, rf"row 3 \(spine2.png\): value 8 is '{cell}', not a number",
            shown_file="landmarks.csv")


def test_scoliosis_csv_some_values_only(spine_study, tmp_path, images):
    folder = scoliosis_csv(tmp_path, images)
    lines = (folder / "landmarks.csv").read_text().splitlines()
    lines[2] = ",".join(lines[2].split(",")[:40])
    (folder / "landmarks.csv").write_text("\n".join(lines) + "\n")
    refused(spine_study, "scoliosis-csv", folder, r"row 3 \(spine2.png\): 40 values, expected 136",
            shown_file="landmarks.csv", partial=True)  # the layout has no partial form


def test_scoliosis_csv_too_large(spine_study, tmp_path, images):
    folder = scoliosis_csv(tmp_path, images)
    sparse(folder / "landmarks.csv")
    refused(spine_study, "scoliosis-csv", folder, "larger than the 512 MB", shown_file="landmarks.csv")


# --------------------------------------------------------------------------- scoliosis .mat


def mat_folder(tmp_path, images, bad=None):
    """One good .mat per image for the first two images, ``bad`` as p2 of the third."""
    from scipy.io import savemat

    folder = tmp_path / "mat"
    folder.mkdir(exist_ok=True)
    for i, path in enumerate(images[:3]):
        h, w = image_size(path)
        p2 = corners(load_schema("spine-ap-68"), h, w, i)
        if i == 2 and bad is not None:
            p2 = bad(p2)
        savemat(folder / f"{path.name}.mat", {"p2": p2})
    return folder


def test_scoliosis_mat_good_files_import(spine_study, tmp_path, images):
    report = import_labels(spine_study, "scoliosis-mat", [mat_folder(tmp_path, images)])
    assert len(report.imported) == 3


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_scoliosis_mat_non_finite(spine_study, tmp_path, images, value):
    folder = mat_folder(tmp_path, images, lambda p: np.where(np.arange(68)[:, None] == 9, value, p))
    refused(spine_study, "scoliosis-mat", folder, r"spine2.png.mat: p2 row 10 \(T3-UR\) .*not two finite numbers",
            shown_file="spine2.png.mat")


@pytest.mark.parametrize("value", [1e300, -1e300, -100.0])
def test_scoliosis_mat_outside_the_image(spine_study, tmp_path, images, value):
    folder = mat_folder(tmp_path, images, lambda p: np.where(np.arange(68)[:, None] == 9, value, p))
    refused(spine_study, "scoliosis-mat", folder, r"spine2.png.mat: keypoint 'T3-UR' .*outside the",
            shown_file="spine2.png.mat")


@pytest.mark.parametrize("bad, pattern", [
    (lambda p: np.array(["x"] * 136).reshape(68, 2), "holds <U1 values, not real numbers"),
    (lambda p: p + 1j, "holds complex128 values"),
    (lambda p: np.array([{"a": 1}] * 136, dtype=object).reshape(68, 2), "values, not real numbers"),
])
def test_scoliosis_mat_wrong_type(spine_study, tmp_path, images, bad, pattern):
    refused(spine_study, "scoliosis-mat", mat_folder(tmp_path, images, bad), pattern, shown_file="spine2.png.mat")


def test_scoliosis_mat_some_points_only(spine_study, tmp_path, images):
    folder = mat_folder(tmp_path, images, lambda p: p[:20])
    refused(spine_study, "scoliosis-mat", folder, r"'p2' has shape \(20, 2\), expected \(68, 2\)",
            shown_file="spine2.png.mat", partial=True)


def test_scoliosis_mat_too_large(spine_study, tmp_path, images):
    folder = mat_folder(tmp_path, images)
    sparse(folder / f"{images[2].name}.mat")
    refused(spine_study, "scoliosis-mat", folder, "larger than the 512 MB", shown_file="spine2.png.mat")


# --------------------------------------------------------------------------- endplates


def endplate_folder(tmp_path, images, rows_of_last) -> object:
    """Full, unlabelled files for spine0 and spine1; ``rows_of_last`` for spine2."""
    schema = load_schema("lumbar-ap-20")
    folder = tmp_path / "endplates"
    folder.mkdir(exist_ok=True)
    for i, path in enumerate(images[:2]):
        xy = corners(schema, *image_size(path), i)
        rows = [f"{xy[j, 0]},{xy[j, 1]},{xy[j + 1, 0]},{xy[j + 1, 1]}" for j in range(0, 20, 2)]
        (folder / f"{path.stem}.csv").write_text("\n".join(rows) + "\n")
    (folder / f"{images[2].stem}.csv").write_text("\n".join(rows_of_last) + "\n")
    return folder


def labelled_rows(images, index=2) -> list[str]:
    schema = load_schema("lumbar-ap-20")
    xy = corners(schema, *image_size(images[index]), index)
    rows = []
    for v, name in enumerate(schema.vertebrae):
        for first, which in ((0, "upper"), (2, "lower")):
            a, b = xy[4 * v + first], xy[4 * v + first + 1]
            rows.append(f"{a[0]},{a[1]},{b[0]},{b[1]},{name} {which}")
    return rows


def test_endplates_good_files_import(study, tmp_path, images):
    report = import_labels(study, "endplates", [endplate_folder(tmp_path, images, labelled_rows(images))])
    assert len(report.imported) == 3


def with_cell(rows, row, col, value):
    cells = rows[row].split(",")
    cells[col] = value
    return rows[:row] + [",".join(cells)] + rows[row + 1:]


@pytest.mark.parametrize("cell", ["nan", "inf", "1e400", ""])
def test_endplates_non_finite(study, tmp_path, images, cell):
    rows = with_cell(labelled_rows(images), 4, 1, cell)
    folder = endplate_folder(tmp_path, images, rows)
    refused(study, "endplates", folder, r"spine2.csv: row 5: y1 is .*not a (finite )?number", shown_file="spine2.csv")


@pytest.mark.parametrize("cell", ["1e300", "-1e300", "-50"])
def test_endplates_outside_the_image(study, tmp_path, images, cell):
    folder = endplate_folder(tmp_path, images, with_cell(labelled_rows(images), 4, 2, cell))
    refused(study, "endplates", folder, r"spine2.csv: keypoint 'L3-UR' .*outside the", shown_file="spine2.csv")


@pytest.mark.parametrize("cell", ["true", "abc", "1_0"])
def test_endplates_wrong_type(study, tmp_path, images, cell):
    folder = endplate_folder(tmp_path, images, with_cell(labelled_rows(images), 4, 0, cell))
    refused(study, "endplates", folder, rf"spine2.csv: row 5: x1 is '{cell}', not a number", shown_file="spine2.csv")


def test_endplates_duplicate_endplate(study, tmp_path, images):
    rows = labelled_rows(images)
    folder = endplate_folder(tmp_path, images, rows + [rows[4]])
    refused(study, "endplates", folder, r"spine2.csv: row 11: the upper endplate of L3 is given twice",
            shown_file="spine2.csv")


def test_endplates_label_naming_no_vertebra(study, tmp_path, images):
    rows = labelled_rows(images)
    rows[3] = rows[3].replace("L2 lower", "X9 lower")
    refused(study, "endplates", endplate_folder(tmp_path, images, rows),
            r"spine2.csv: row 4: 'X9 lower' names no vertebra", shown_file="spine2.csv")
    rows[3] = rows[3].replace("X9 lower", "L2 middle")
    refused(study, "endplates", endplate_folder(tmp_path, images, rows), "cannot tell which endplate 'L2 middle'",
            shown_file="spine2.csv")


def test_endplates_some_only_need_partial(study, tmp_path, images):
    rows = ["9,9,9,9,T12 lower"] + labelled_rows(images)[4:8]  # T12 is not in the schema: ignored
    folder = endplate_folder(tmp_path, images, rows)
    refused(study, "endplates", folder, "spine2.csv: the rows cover 4 of the 10 endplates.*partial",
            shown_file="spine2.csv")
    image_id = next(i.image_id for i in study.list_images() if i.file_name == "spine2.png")
    before = study.annotation(image_id)
    report = import_labels(study, "endplates", [folder], partial=True)
    assert len(report.imported) == 3
    after = study.annotation(image_id)
    assert np.array_equal(after.xy[8:16], corners(load_schema("lumbar-ap-20"), *image_size(images[2]), 2)[8:16])
    assert np.array_equal(after.xy[:8], before.xy[:8], equal_nan=True)
    assert np.array_equal(after.xy[16:], before.xy[16:], equal_nan=True)
    unlabelled = [r.rsplit(",", 1)[0] for r in labelled_rows(images)[:7]]
    refused(study, "endplates", endplate_folder(tmp_path, images, unlabelled),
            "7 endplate rows without labels; lumbar-ap-20 has 10", shown_file="spine2.csv", partial=True)


def test_endplates_too_large(study, tmp_path, images):
    folder = endplate_folder(tmp_path, images, labelled_rows(images))
    sparse(folder / "spine2.csv")
    refused(study, "endplates", folder, "spine2.csv: larger than the 512 MB", shown_file="spine2.csv")


# --------------------------------------------------------------------------- names in messages


def test_a_file_name_with_a_newline_stays_one_line(study, tmp_path, ours):
    ours["images"][-1]["keypoints"][4]["x"] = float("nan")
    path = tmp_path / "two\nlines.json"
    path.write_text(json.dumps(ours))
    message = refused(study, "json", path, "not a finite number", shown_file="two\\nlines.json")
    assert message.startswith("two\\nlines.json: images[3]")
