"""A study's reader agreement: its readings, latest predictions and spacings handed to
:func:`vam_gui.core.agreement.agreement`, and the report's tables as CSV files.

Which readings: ``blind`` (default: marked without the model or another reader, the readings a
reader study reports), ``revised`` (after the model was revealed) or ``latest`` (revised where
there is one). The model is each image's latest stored prediction. Images are named by their
study image id (a content hash, no file or patient name). The window's tables are the report's
figures as text (``summary_lines``, ``keypoint_rows``, ``measurement_rows``).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vam_gui.core.agreement import AgreementReport, BlandAltman, ImageReadings, agreement
from vam_gui.core.agreement_pairs import measurement_pairs
from vam_gui.core.atomic import write_bytes_atomic

if TYPE_CHECKING:
    import numpy as np

    from vam_gui.io.study import Study

__all__ = ["fmt", "keypoint_rows", "limits_text", "measurement_rows", "study_agreement",
           "study_measurement_pairs", "study_readings", "summary_lines", "unit_digits", "write_agreement_csv"]


def study_agreement(study: Study, phase: str = "blind") -> AgreementReport:
    """The agreement between the study's readers (``phase`` readings) and with its model."""
    return agreement(study.schema, study_readings(study, phase), phase_label=phase)


def study_measurement_pairs(study: Study, phase: str, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{pair label: (a values, b values)} of measurement ``name`` per compared image, the
    pairs behind :func:`study_agreement`'s Bland–Altman figures for it (a − b, same unit)."""
    return measurement_pairs(study.schema, study_readings(study, phase), name)


def study_readings(study: Study, phase: str = "blind") -> list[ImageReadings]:
    """The images with a reader's ``phase`` reading, as :func:`study_agreement` compares them."""
    readings = study.readings(phase)
    predictions = study.predictions(readings) if readings else {}  # one query, not one an image
    images = []
    for info in study.list_images():
        by_reader = readings.get(info.image_id, {})
        if not by_reader:
            continue
        pred = predictions.get(info.image_id)
        images.append(ImageReadings(
            image_id=info.image_id,
            readers={r: (reading.annotation.xy, reading.annotation.visible) for r, reading in by_reader.items()},
            model=None if pred is None else pred.xy, spacing=info.spacing, facing=info.facing))
    return images


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


# ---------------------------------------------------------------------- the tables as text (the window)
def fmt(x: float | None, digits: int = 2) -> str:
    """A table's number: fixed digits, "n/a" for a missing (None or NaN) one."""
    return f"{x:.{digits}f}" if x is not None and math.isfinite(x) else "n/a"


def unit_digits(unit: str) -> int:
    """Decimals to show of a value in ``unit`` (ratios 3, the rest 2)."""
    return 3 if unit == "ratio" else 2


def limits_text(ba: BlandAltman, unit: str) -> str:
    """A Bland–Altman cell: bias [lower, upper] signed, or n/a under two pairs."""
    d = unit_digits(unit)
    return "n/a" if ba.n < 2 else f"{ba.bias:+.{d}f} [{ba.lower:+.{d}f}, {ba.upper:+.{d}f}]"


def summary_lines(rep: AgreementReport) -> list[str]:
    """The report's header: readers, images, unit, notes, pooled distances, σ, level count."""
    u, s, between = rep.unit, rep.per_axis_sigma, rep.overall_readers
    lines = [f"Readers: {', '.join(rep.readers) or 'none'}  ·  images compared: {rep.images}  ·  with the model: "
             f"{rep.images_with_model}  ·  unit: {u}  ·  readings: {rep.phase_label or 'blind'}"]
    lines += [f"Note: {note}" for note in rep.notes]
    lines.append(f"Between readers: {between.n} points, mean {fmt(between.mean)} {u}, p95 {fmt(between.p95)} {u}"
                 + "".join(f"  ·  {r} vs model: mean {fmt(d.mean)} {u}, p95 {fmt(d.p95)} {u}"
                           for r, d in rep.overall_model.items()))
    lines.append(f"Reader σ per axis ({s.n} point pairs): x {fmt(s.x)} {u}, y {fmt(s.y)} {u}, pooled "
                 f"{fmt(s.pooled)} {u}  ·  level disagreements: {len(rep.level_disagreements)}")
    return lines


def keypoint_rows(rep: AgreementReport) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): all keypoints pooled, then each keypoint; between readers n, mean and
    p95, then each reader against the model ("mean / p95")."""
    u, readers = rep.unit, list(rep.overall_model)
    headers = ["Keypoint", "n", f"readers\nmean {u}", f"readers\np95 {u}"] + [f"{r} vs model\nmean / p95 {u}"
                                                                            for r in readers]
    stats = [("all keypoints", rep.overall_readers, rep.overall_model)]
    stats += [(kp.name, kp.readers, kp.model) for kp in rep.keypoints]
    rows = [[name, str(d.n), fmt(d.mean), fmt(d.p95)]
            + [f"{fmt(m[r].mean)} / {fmt(m[r].p95)}" if r in m else "n/a" for r in readers]
            for name, d, m in stats]
    return headers, rows


def measurement_rows(rep: AgreementReport) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): one row per measurement (the report's order): unit, n, ICC(2,1), then
    per pair (reader pairs, then each reader against the model) bias [95 % limits]."""
    labels = list(dict.fromkeys(label for m in rep.measurements for label in (m.pairs | m.model)))
    headers = ["Measurement", "Unit", "n", "ICC(2,1)"] + [f"{label}\nbias [95% limits]" for label in labels]
    rows = []
    for m in rep.measurements:
        both = m.pairs | m.model
        rows.append([m.name, m.unit, str(m.n), fmt(m.icc, 3)]
                    + [limits_text(both[label], m.unit) if label in both else "" for label in labels])
    return headers, rows
