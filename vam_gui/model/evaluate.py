"""`vam-gui evaluate`: how far a checkpoint's points land from the truth, in the users' units.

The full ``Predictor`` (both passes unless ``refine=False``) runs on each image and the
errors are measured in original pixels, % of image height, vertebral heights and mm (when
every image has a spacing), with SDR at the user's thresholds and the number of images whose
prediction sits one vertebra off the truth (``core.checks.level_shift``). Inputs:
- a folder with our ``labels.json`` (what ``synth`` and exports write): its original images;
- a study (``.vamstudy``): its accepted images, or all with ``all_images``;
- a training-dataset folder: each stored letterboxed film is predicted as an image and the
  points mapped back to original px through the stored letterbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vam_gui.core.metrics import SdrThreshold, evaluate_points, format_report
from vam_gui.core.schema import Schema


@dataclass
class Case:
    name: str
    load: Callable[[], np.ndarray]  # the pixels the predictor sees
    truth: np.ndarray  # [K, 2] original px, in the truth schema
    visible: np.ndarray  # [K]
    height: int  # original image height
    spacing: tuple[float, float] | None
    to_original: Callable[[np.ndarray], np.ndarray] | None = None  # predicted px -> original px


def _labels_cases(folder: Path) -> tuple[Schema, Iterator[Case], int]:
    """Every entry of the folder's labels.json (read whole, every value checked, before any
    image is loaded: a bad file is one LabelImportError line)."""
    from vam_gui.io import load_radiograph
    from vam_gui.io.importers.convert import LabelImportError
    from vam_gui.io.labels_file import read_labels_file

    labels = read_labels_file(folder / "labels.json")
    paths = [labels.image_path(e) for e in labels.entries]
    for e in labels.entries:
        if e.height is None:
            raise LabelImportError(f"{e.where}: the image has no height")

    def cases() -> Iterator[Case]:
        for e, path in zip(labels.entries, paths):
            yield Case(e.id or str(e.file), lambda p=path: load_radiograph(p).pixels, e.xy, e.visible,
                       int(e.height or 0), e.spacing)
    return labels.schema, cases(), len(labels.entries)


def _study_cases(path: Path, all_images: bool) -> tuple[Schema, Iterator[Case], int]:
    from vam_gui.io.export.pseudonyms import image_pseudonym
    from vam_gui.io.study import Study

    study = Study.open(path, read_only=True)
    infos = [i for i in study.list_images() if all_images or i.status == "accepted"]

    def cases() -> Iterator[Case]:
        try:
            for info in infos:
                ann = study.annotation(info.image_id)
                if ann.is_empty():
                    continue
                rad = study.load_radiograph(info.image_id)
                yield Case(image_pseudonym(study.study_uid, info.image_id), lambda r=rad: r.pixels,
                           np.asarray(ann.xy, dtype=np.float64), np.asarray(ann.visible, dtype=bool),
                           int(rad.pixels.shape[0]), info.spacing)
        finally:
            study.close()
    return study.schema, cases(), len(infos)


def _dataset_cases(folder: Path) -> tuple[Schema, Iterator[Case], int]:
    import cv2

    from vam_gui.io.dataset import entry_arrays, read_manifest

    manifest = read_manifest(folder)
    schema = Schema.from_dict(manifest["schema"], source=str(folder / "manifest.json"))

    def cases() -> Iterator[Case]:
        for e in manifest["items"]:
            xy_stored, visible, box = entry_arrays(e, schema.k)
            spacing = tuple(e["spacing"]) if e.get("spacing") else None
            yield Case(e["id"], lambda p=folder / e["image"]: cv2.imread(str(p), cv2.IMREAD_UNCHANGED),
                       box.to_original(xy_stored), visible, box.height, spacing, to_original=box.to_original)
    return schema, cases(), len(manifest["items"])


def open_cases(path: str | Path, *, all_images: bool = False) -> tuple[Schema, Iterator[Case], int]:
    """(truth schema, cases, count) of a labels folder, a study or a dataset folder."""
    p = Path(path)
    if p.is_file() and p.suffix == ".vamstudy":
        return _study_cases(p, all_images)
    if (p / "labels.json").is_file():
        return _labels_cases(p)
    for candidate in (p, p / "dataset"):
        if (candidate / "manifest.json").is_file():
            return _dataset_cases(candidate)
    raise ValueError(f"{p}: not a study, a folder with labels.json or a dataset folder (manifest.json)")


def evaluate(checkpoint: str | Path, data: str | Path, *, schema: str | None = None, refine: bool = True,
             device: str = "auto", sdr: list[SdrThreshold] | None = None, all_images: bool = False,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Evaluate ``checkpoint`` on ``data``; ``schema`` names a subset (e.g. lumbar-ap-20) of
    both the truth's and the network's schema to evaluate only its points."""
    from vam_gui.core.schema import load_schema
    from vam_gui.model.predictor import Predictor

    truth_schema, cases, total = open_cases(data, all_images=all_images)
    predictor = Predictor(checkpoint, device=device, refine=refine, keep_heatmaps=False)
    wanted = load_schema(schema) if schema else truth_schema
    pick = wanted.indices_in(truth_schema)  # SchemaError names the missing keypoint
    wanted.indices_in(predictor.network_schema)
    preds, truths, visibles, heights, spacings, names = [], [], [], [], [], []
    t0 = time.perf_counter()
    for n, case in enumerate(cases, 1):
        pred = predictor.predict(case.load(), schema=wanted).xy
        preds.append(case.to_original(pred) if case.to_original else pred)
        truths.append(case.truth[pick])
        visibles.append(case.visible[pick] & np.isfinite(case.truth[pick]).all(axis=1))
        heights.append(case.height)
        spacings.append(case.spacing)
        names.append(case.name)
        if progress is not None:
            progress(n, total)
    if not preds:
        raise ValueError(f"{data}: no labelled images to evaluate")
    seconds = time.perf_counter() - t0
    result = evaluate_points(wanted, preds, truths, visibles, heights=heights, spacings=spacings, sdr=sdr,
                             names=names)
    return {"checkpoint": str(checkpoint), "data": str(data), "schema": wanted.name,
            "model_schema": predictor.network_schema.name, "input_size": predictor.config.input_size,
            "refine": refine, "seconds_per_image": seconds / len(preds), **result}


def format_table(result: dict) -> str:
    size = result["input_size"]
    size_text = f"{size[0]}x{size[1]}" if isinstance(size, list) else str(size)
    head = (f"{result['schema']} points from a {result['model_schema']} model, input {size_text}, "
            f"{'two passes' if result['refine'] else 'one pass'}, {result['seconds_per_image']:.2f} s/image")
    return head + "\n" + format_report(result)
