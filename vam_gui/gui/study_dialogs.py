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


def _integrity(study, *, progress, cancel, emit) -> list[str]:
    return study.check_integrity(full=True)


def check_study_file(window, session) -> None:
    """File > Check study file: SQLite's full check of the open study, in a worker (it reads the
    whole file, so opening does not do it); the answer in a message box."""
    study = session.study
    if study is None:
        window.statusBar().showMessage("No study is open", 4000)
        return
    name = study.path.name
    window.statusBar().showMessage(f"Checking {name}…", 0)

    def found(_job: int, problems: list[str]) -> None:
        window.statusBar().clearMessage()
        if not problems:
            inform(window, "Study file sound", f"{name}: every page and index checked, no damage found.",
                   name="integrity-ok")
            return
        shown = problems[:20] + ([f"… and {len(problems) - 20} more"] if len(problems) > 20 else [])
        warn(window, "Study file damaged", f"{name}: {len(problems)} problem(s):\n" + "\n".join(shown)
             + "\n\nKeep a copy of the file; `vam-gui export` can still read the rows that are sound.",
             name="integrity-damaged")

    def failed(_job: int, message: str) -> None:
        window.statusBar().clearMessage()
        warn(window, "Study file check failed", f"{name}: {message}", name="integrity-failed")

    window.workers.submit(_integrity, study, on={"finished": found, "failed": failed})
