"""File > New study: pick radiographs (files or a folder), a keypoint schema and a study file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from vam_gui.gui.messages import ask_item, inform, warn


def _new_study(window, session, sources: list[str]) -> None:
    from vam_gui.core.schema import DEFAULT_SCHEMA, available_schemas
    from vam_gui.io import Study, StudyError

    names = available_schemas()
    current = session.study.schema.name if session.study is not None else DEFAULT_SCHEMA
    schema, ok = ask_item(window, "Keypoint schema", "Landmarks to review:", names,
                          names.index(current) if current in names else 0)
    if not ok:
        return
    target, _ = QFileDialog.getSaveFileName(window, "New study file", "study.vamstudy",
                                            "vam-gui studies (*.vamstudy)")
    if not target:
        return
    if not target.endswith(".vamstudy"):
        target += ".vamstudy"
    try:
        with Study.create(target, schema=schema) as study:
            report = study.add_images(sources)
    except StudyError as exc:
        warn(window, "Cannot create study", str(exc))
        return
    if report.skipped:
        inform(window, "Some files were skipped", "\n".join(
            f"{Path(p).name}: {why}" for p, why in report.skipped[:20]))
    try:
        session.open(target)
    except StudyError as exc:
        warn(window, "Cannot open study", str(exc))
        return
    why = window.inference.cannot_predict(session.study.schema)
    if why is not None:  # said now, not first when Ctrl+R is pressed
        inform(window, "The loaded model cannot predict this study", why)


def new_study_from_files(window, session) -> None:
    files, _ = QFileDialog.getOpenFileNames(window, "Radiographs", "",
                                            "Images (*.dcm *.png *.jpg *.jpeg *.tif *.tiff);;All files (*)")
    if files:
        _new_study(window, session, files)


def new_study_from_folder(window, session) -> None:
    folder = QFileDialog.getExistingDirectory(window, "Folder of radiographs")
    if folder:
        _new_study(window, session, [folder])
