"""Our labels file ("vam-gui-labels") has one owner, vam_gui.io.labels_file: both writers (the
JSON export, synth's labels.json) build it there, every reader (the importer, evaluate, train
on a folder) reads it there.

The written bytes are compared with documents spelled out here, key by key, from the study or
the phantoms themselves (not from the builder), so a change of layout is seen. Hostile files
are refused in one line naming the file and the record, by the reader and by ``vam-gui
evaluate`` / ``vam-gui train`` on a folder (exit 2, no traceback)."""

from __future__ import annotations

import json
import math
import re
import shutil

import numpy as np
import pytest
from test_export import annotate, write_images

from vam_gui import __version__
from vam_gui.cli import main
from vam_gui.core.atomic import write_json_atomic
from vam_gui.core.measure import measure
from vam_gui.core.schema import load_schema
from vam_gui.io import Study, labels_file
from vam_gui.io.export import JSON_FILE, ExportOptions, export_study
from vam_gui.io.export.pseudonyms import content_key, image_pseudonym, study_pseudonym
from vam_gui.io.importers import LabelImportError
from vam_gui.io.importers.strict import MAX_FILE_BYTES
from vam_gui.io.labels_file import (
    ExportOrigin,
    LabelEntry,
    NotLabelsFileError,
    labels_document,
    labels_json,
    read_labels_file,
)

CREATED = "2001-02-03T04:05:06+00:00"
SCHEMA = load_schema("lumbar-ap-20")


@pytest.fixture
def frozen_clock(monkeypatch):
    monkeypatch.setattr(labels_file, "timestamp", lambda: CREATED)


def _num(v) -> float | None:
    return float(v) if math.isfinite(v) else None


# --------------------------------------------------------------------------- round trip


def _entries() -> list[LabelEntry]:
    k = SCHEMA.k
    rng = np.random.default_rng(3)
    xy = rng.uniform(5, 90, (k, 2))
    xy[[2, 9]] = np.nan  # never placed
    visible = np.ones(k, bool)
    visible[[2, 9, 13]] = False  # 13: marked missing, keeps its position
    sources = ["placed"] * k
    sources[4], sources[2], sources[9] = "moved", "", ""
    conf = np.linspace(0.2, 0.9, k)
    conf[5] = np.nan
    return [
        LabelEntry(id="img-a", file="a.png", width=100, height=120, spacing=(0.15, 0.2), status="accepted",
                   facing="left", xy=xy, visible=visible, sources=sources, confidence=conf,
                   content_key="k" * 32, spacing_is_detector=True, comment="L5 hard", reviewer="bob",
                   model="vam:demo", measurements={"cobb": None}),
        LabelEntry(id="img-b", file="sub/b.dcm", width=64, height=48, spacing=None, status=None, facing=None,
                   xy=np.full((k, 2), np.nan), visible=np.zeros(k, bool), sources=[""] * k),
    ]


@pytest.mark.parametrize("exported", [True, False])
def test_round_trip(tmp_path, exported):
    entries = _entries()
    origin = ExportOrigin("study-x", {"images": "all"}, "salt-x") if exported else None
    path = write_json_atomic(tmp_path / "labels.json", labels_document(SCHEMA, entries, origin=origin))
    back = read_labels_file(path)
    assert back.schema.to_dict() == SCHEMA.to_dict() and back.version == labels_file.VERSION
    assert (back.study, back.content_key_salt) == (("study-x", "salt-x") if exported else (None, None))
    assert len(back.entries) == 2
    for want, got in zip(entries, back.entries):
        assert (got.id, got.file, got.width, got.height, got.spacing, got.status, got.facing) == \
               (want.id, want.file, want.width, want.height, want.spacing, want.status, want.facing)
        assert np.array_equal(got.xy, want.xy, equal_nan=True)
        assert got.visible.tolist() == want.visible.tolist() and got.sources == want.sources
        assert got.named is not None and got.named.all()
        if want.confidence is None:
            assert got.confidence is None
        else:
            assert np.array_equal(got.confidence, want.confidence, equal_nan=True)
        extras = ("content_key", "spacing_is_detector", "comment", "reviewer", "model", "measurements")
        expected = [getattr(want, f) for f in extras] if exported else [None, False, None, None, None, None]
        assert [getattr(got, f) for f in extras] == expected
    assert back.image_path(back.entries[1]) == tmp_path / "sub" / "b.dcm"


# --------------------------------------------------------------------------- byte identity


def _expected_export(study: Study) -> dict:
    """The export of every image of ``study`` under pseudonyms, spelled out field by field."""
    salt = study_pseudonym(study.study_uid)
    images = []
    for info in study.list_images():
        ann = study.annotation(info.image_id)
        pred = study.prediction(info.image_id)
        pseudo = image_pseudonym(study.study_uid, info.image_id)
        keypoints = [{"name": name, "x": _num(ann.xy[i, 0]), "y": _num(ann.xy[i, 1]),
                      "visible": bool(ann.visible[i]), "source": str(ann.source[i]),
                      "confidence": None if pred is None else _num(pred.confidence[i])}
                     for i, name in enumerate(study.schema.keypoints)]
        m = measure(study.schema, ann.xy, ann.visible, spacing=info.spacing, facing=info.facing,
                    spacing_is_detector=info.spacing_is_detector)
        images.append({
            "id": pseudo, "file": pseudo + ".png", "content_key": content_key(salt, info.content_hash),
            "width": info.width, "height": info.height,
            "spacing": None if info.spacing is None else list(info.spacing),
            "spacing_is_detector": info.spacing_is_detector, "status": info.status, "comment": info.comment,
            "reviewer": info.reviewer, "facing": info.facing, "model": None if pred is None else pred.model_id,
            "keypoints": keypoints, "measurements": m.to_dict()})
    return {"format": "vam-gui-labels", "version": 1, "schema": study.schema.to_dict(), "study": salt,
            "created": CREATED, "app_version": __version__,
            "selection": {"images": "all", "include_flagged": True, "names": "pseudonyms"},
            "content_key_salt": salt, "images": images}


def test_export_bytes(tmp_path, frozen_clock):
    write_images(tmp_path / "images")
    with Study.create(tmp_path / "s.vamstudy") as study:
        study.add_images([tmp_path / "images"])
        annotate(study)
        export_study(study, "json", tmp_path / "out", ExportOptions(all_images=True, include_flagged=True))
        expected = _expected_export(study)
    data = (tmp_path / "out" / JSON_FILE).read_bytes()
    assert json.loads(data) == expected and list(json.loads(data)) == list(expected), "same keys, same order"
    assert data == labels_json(expected)
    _one_image_per_line(data, expected)
    # what the expected document covers: a prediction, points never set, a flagged image
    assert data.count(b'"confidence":0.') >= 10 and b'"x":null' in data and b'"flagged"' in data


def test_synth_labels_bytes(tmp_path, frozen_clock):
    from vam_gui.io.synth import synthesize
    from vam_gui.synth import make_phantom

    synthesize(tmp_path, 2, seed=41, difficulty=0.5)
    images = []
    for seed in (41, 42):
        ph = make_phantom(SCHEMA, seed=seed, difficulty=0.5)
        name = f"phantom-{seed:06d}"
        images.append({
            "id": name, "file": f"images/{name}.png", "width": ph.pixels.shape[1], "height": ph.pixels.shape[0],
            "spacing": list(ph.spacing), "status": "accepted", "facing": ph.facing,
            "keypoints": [{"name": kp, "x": float(x), "y": float(y), "visible": bool(v), "source": "placed",
                           "confidence": None} for kp, (x, y), v in zip(SCHEMA.keypoints, ph.xy, ph.visible)]})
    expected = {"format": "vam-gui-labels", "version": 1, "created": CREATED, "app_version": __version__,
                "schema": SCHEMA.to_dict(), "images": images}
    data = (tmp_path / "labels.json").read_bytes()
    assert json.loads(data) == expected and list(json.loads(data)) == list(expected)
    assert data == labels_json(expected)
    _one_image_per_line(data, expected)


def _one_image_per_line(data: bytes, doc: dict) -> None:
    """The layout: a line per top-level key and per image, each image line compact JSON."""
    lines = data.decode("utf-8").splitlines()
    assert lines[0] == "{" and lines[-1] == "}"
    image_lines = [json.loads(line.strip().rstrip(",")) for line in lines if line.startswith("  {")]
    assert image_lines == doc["images"]
    assert len(lines) == 2 + (len(doc) - 1) + (2 + len(doc["images"]))


# --------------------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    from vam_gui.io.synth import synthesize

    out = tmp_path_factory.mktemp("synth")
    synthesize(out, 2, seed=7, difficulty=0.2)
    return out


def _kp(doc, n=1, k=4):
    return doc["images"][n]["keypoints"][k]


# (change to the document, or raw text, and what the one line must say)
HOSTILE = {
    "nan": ("NaN", r"labels.json: images\[1\] \(images/phantom-000008.png\): keypoints\[4\] \('L2-UL'\): "
                   r"x is nan, not a finite"),
    "1e400": ("1e400", r"images\[1\].*'L2-UL'.*x is inf, not a finite number"),
    "bool": (lambda d: _kp(d).update(y=True), r"images\[1\].*'L2-UL'.*y must be a number, not true"),
    "string": (lambda d: _kp(d).update(x="12"), r"images\[1\].*x must be a number, not '12'"),
    "visible": (lambda d: _kp(d).update(visible=1), r"images\[1\].*visible must be true or false"),
    "twice": (lambda d: d["images"][1]["keypoints"].append(dict(_kp(d, k=0))), r"images\[1\].*'L1-UL' is given twice"),
    "unknown": (lambda d: _kp(d).update(name="L9-XX"), r"images\[1\].*'L9-XX' is not in the file's schema"),
    "some": (lambda d: d["images"][0].update(keypoints=d["images"][0]["keypoints"][:5]),
             r"images\[0\].*names 5 of the 20 keypoints"),
    "height": (lambda d: d["images"][1].update(height=-3), r"images\[1\].*height is -3, not a positive"),
    "spacing": (lambda d: d["images"][1].update(spacing=[0.1, "x"]), r"images\[1\].*spacing\[1\] must be a number"),
    "spacing range": (lambda d: d["images"][0].update(spacing=[1e300, 0.1]), r"images\[0\].*not a usable"),
    "file": (lambda d: d["images"][1].update(file="../../etc/passwd"), r"images\[1\].*lies outside the folder"),
    "images": (lambda d: d.update(images={"a": 1}), r"labels.json: images must be a list, not an object"),
    "schema": (lambda d: d.update(schema=[1]), r"labels.json: no valid keypoint schema"),
    "deep": ("[" * 100_000 + "]" * 100_000, r"labels.json: JSON nested too deeply"),
    "not json": ("{", r"labels.json: not a readable JSON file"),
    "not ours": (lambda d: d.update(format="coco"), r"labels.json: not a vam-gui-labels file"),
}


def _hostile_folder(synth_folder, tmp_path, fault: str):
    folder = tmp_path / "hostile"
    shutil.copytree(synth_folder / "images", folder / "images")
    change, pattern = HOSTILE[fault]
    doc = json.loads((synth_folder / "labels.json").read_text())
    if callable(change):
        change(doc)
        text = json.dumps(doc)
    elif change.startswith(("[", "{")):
        text = change
    else:
        _kp(doc).update(x="@@")
        text = json.dumps(doc).replace('"@@"', change)
    (folder / "labels.json").write_text(text)
    return folder, pattern


@pytest.mark.parametrize("fault", HOSTILE)
def test_reader_refuses_in_one_line(synth_folder, tmp_path, fault):
    folder, pattern = _hostile_folder(synth_folder, tmp_path, fault)
    with pytest.raises((LabelImportError, NotLabelsFileError)) as caught:
        labels = read_labels_file(folder / "labels.json")
        for e in labels.entries:
            labels.image_path(e)
    message = str(caught.value)
    assert "\n" not in message and re.search(pattern, message), message


def test_reader_refuses_a_huge_file_unread(tmp_path):
    with open(tmp_path / "labels.json", "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(LabelImportError, match="labels.json: larger than the 512 MB"):
        read_labels_file(tmp_path / "labels.json")


def test_partial_is_read_when_asked(synth_folder, tmp_path):
    folder, _ = _hostile_folder(synth_folder, tmp_path, "some")
    labels = read_labels_file(folder / "labels.json", partial=True)
    named = labels.entries[0].named
    assert named is not None and named[:5].all() and not named[5:].any()
    assert np.isnan(labels.entries[0].xy[5:]).all()


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("vam-gui: error: "), err
    return err


@pytest.mark.parametrize("fault", ["nan", "bool", "twice", "some", "file", "deep", "not ours"])
def test_evaluate_refuses_a_hostile_labels_folder(synth_folder, tmp_path, capsys, fault):
    from vam_gui.core.resources import resource_path

    folder, pattern = _hostile_folder(synth_folder, tmp_path, fault)
    demo = resource_path("models", "demo.safetensors")
    assert main(["evaluate", str(folder), "-c", str(demo), "--device", "cpu", "-q"]) == 2
    assert re.search(pattern, _one_error_line(capsys))


@pytest.mark.parametrize("fault", ["1e400", "unknown", "spacing", "images", "not json"])
def test_train_refuses_a_hostile_labels_folder(synth_folder, tmp_path, capsys, fault):
    folder, pattern = _hostile_folder(synth_folder, tmp_path, fault)
    assert main(["train", str(folder), "--out", str(tmp_path / "run"), "--size", "64", "--max-steps", "1",
                 "-q"]) == 2
    assert re.search(pattern, _one_error_line(capsys))
    assert not (folder / "dataset-S1024").exists() and not (tmp_path / "run" / "last.safetensors").exists()


def test_evaluate_needs_each_image_height(synth_folder, tmp_path, capsys):
    """The reader takes a file without sizes (the importer needs none); evaluate measures in %
    of the image height, so it refuses an entry without one, before any work."""
    from vam_gui.core.resources import resource_path

    folder, _ = _hostile_folder(synth_folder, tmp_path, "images")
    doc = json.loads((synth_folder / "labels.json").read_text())
    del doc["images"][1]["height"]
    (folder / "labels.json").write_text(json.dumps(doc))
    assert read_labels_file(folder / "labels.json").entries[1].height is None
    demo = resource_path("models", "demo.safetensors")
    assert main(["evaluate", str(folder), "-c", str(demo), "--device", "cpu", "-q"]) == 2
    assert re.search(r"labels.json: images\[1\] \(images/phantom-000008.png\): the image has no height",
                     _one_error_line(capsys))
