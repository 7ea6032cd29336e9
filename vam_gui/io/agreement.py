"""A study's reader agreement: its readings, latest predictions and spacings handed to
:func:`vam_gui.core.agreement.agreement`, and the report's tables as CSV files.

Which readings: ``blind`` (default: marked without the model or another reader, the readings a
reader study reports), ``revised`` (after the model was revealed) or ``latest`` (revised where
there is one). The model is each image's latest stored prediction. Images are named by their
study image id (a content hash, no file or patient name).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vam_gui.core.agreement import AgreementReport, ImageReadings, agreement
from vam_gui.core.atomic import write_bytes_atomic

if TYPE_CHECKING:
    from vam_gui.io.study import Study

__all__ = ["study_agreement", "write_agreement_csv"]


def study_agreement(study: Study, phase: str = "blind") -> AgreementReport:
    """The agreement between the study's readers (``phase`` readings) and with its model."""
    readings = study.readings(phase)
    images = []
    for info in study.list_images():
        by_reader = readings.get(info.image_id, {})
        if not by_reader:
            continue
        pred = study.prediction(info.image_id)
        images.append(ImageReadings(
            image_id=info.image_id,
            readers={r: (reading.annotation.xy, reading.annotation.visible) for r, reading in by_reader.items()},
            model=None if pred is None else pred.xy, spacing=info.spacing, facing=info.facing))
    return agreement(study.schema, images, phase_label=phase)


def _num(value: Any) -> Any:
    return "" if value is None else value


def _tables(report: AgreementReport) -> dict[str, list[list[Any]]]:
    d = report.to_dict()
    unit = d["unit"]
    keypoints = [["keypoint", "compared", "n", f"mean_{unit}", f"p95_{unit}"]]
    for kp in d["keypoints"]:
        keypoints.append([kp["name"], "readers", kp["readers"]["n"], _num(kp["readers"]["mean"]),
                          _num(kp["readers"]["p95"])])
        for reader, stats in kp["model"].items():
            keypoints.append([kp["name"], f"{reader} vs model", stats["n"], _num(stats["mean"]), _num(stats["p95"])])
    measurements = [["measurement", "unit", "compared", "n", "icc_2_1", "bias", "sd", "lower", "upper"]]
    for m in d["measurements"]:
        measurements.append([m["name"], m["unit"], "readers (ICC)", m["icc_n"], _num(m["icc"]), "", "", "", ""])
        for pair, ba in (*m["pairs"].items(), *m["model"].items()):
            measurements.append([m["name"], m["unit"], pair, ba["n"], "", _num(ba["bias"]), _num(ba["sd"]),
                                 _num(ba["lower"]), _num(ba["upper"])])
    levels = [["image_id", "reader_a", "reader_b", "delta"]]
    levels += [[lv["image_id"], *lv["readers"], lv["delta"]] for lv in d["level_disagreements"]]
    return {"keypoints.csv": keypoints, "measurements.csv": measurements, "level_disagreements.csv": levels}


def write_agreement_csv(report: AgreementReport, folder: str | os.PathLike[str]) -> list[Path]:
    """keypoints.csv, measurements.csv and level_disagreements.csv in ``folder`` (made if
    needed), each written atomically; the paths written."""
    import io

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in _tables(report).items():
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        write_bytes_atomic(out / name, buffer.getvalue().encode("utf-8"))
        written.append(out / name)
    return written
