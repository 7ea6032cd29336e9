"""Predict images of a study and store the results (run by the window's worker)."""

from __future__ import annotations

from collections.abc import Callable, Sequence


def load_predictor(checkpoint, device: str = "auto", *, refine: bool = True):
    """A Predictor for ``checkpoint`` (imports torch: call it off the UI thread); two passes
    (whole film, then a crop around the vertebrae) unless ``refine`` is False."""
    from vam_gui.model.predictor import Predictor

    return Predictor(checkpoint, device=device, refine=refine)


def predict_study_images(
    study,
    predictor,
    image_ids: Sequence[str],
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    emit: Callable[[object], None] | None = None,
) -> dict:
    """Predict each image, save the prediction (and heatmaps) in the study, and ``emit``
    ``(image_id, prediction)`` as each one finishes. Unreadable images are listed, not fatal.
    A read-only study (another process writes it, read-only media) is not written: its
    predictions are only emitted (listed under "held"), for the window to show as not saved."""
    from vam_gui.io.radiograph import RadiographError

    schema = study.schema
    net = predictor.network_schema
    if not schema.is_subset_of(net):
        raise ValueError(f"the model predicts schema {net.name!r} (K = {net.k}) but the study uses "
                         f"{schema.name!r} (K = {schema.k}), which is not a subset of it by keypoint name")
    done, errors, held = [], [], []
    read_only = bool(getattr(study, "read_only", False))
    total = len(image_ids)
    for n, image_id in enumerate(image_ids, 1):
        if cancel is not None and cancel():
            break
        try:
            rad = study.load_radiograph(image_id)
        except RadiographError as exc:
            errors.append((image_id, str(exc)))
        else:
            pred = predictor.predict(rad, schema=schema)
            if read_only:
                held.append(image_id)
            else:
                study.save_prediction(image_id, pred)
            done.append(image_id)
            if emit is not None:
                emit((image_id, pred))
        if progress is not None:
            progress(n, total)
    return {"done": done, "errors": errors, "held": held, "cancelled": len(done) + len(errors) < total}
