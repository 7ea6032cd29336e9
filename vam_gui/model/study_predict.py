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
    batch_size: int = 1,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    emit: Callable[[object], None] | None = None,
) -> dict:
    """Predict the images ``batch_size`` per forward pass (the results equal one by one's
    within float tolerance), save each prediction (and heatmaps) in the study, and ``emit``
    ``(image_id, prediction)`` as each one is saved. Unreadable images are listed, not fatal.
    A read-only study (another process writes it, read-only media) is not written: its
    predictions are only emitted (listed under "held"), for the window to show as not saved.
    ``cancel`` is asked before each batch; ``progress(done, total)`` after each image."""
    schema = study.schema
    net = predictor.network_schema
    if not schema.is_subset_of(net):
        raise ValueError(f"the model predicts schema {net.name!r} (K = {net.k}) but the study uses "
                         f"{schema.name!r} (K = {schema.k}), which is not a subset of it by keypoint name")
    result: dict = {"done": [], "errors": [], "held": []}
    read_only = bool(getattr(study, "read_only", False))
    total = len(image_ids)
    step = max(1, int(batch_size))
    n = 0
    for start in range(0, total, step):
        if cancel is not None and cancel():
            break
        chunk = _load(study, image_ids[start:start + step], result["errors"])
        preds = predictor.predict_many([rad for _, rad in chunk], batch_size=step, schema=schema) if chunk else []
        predicted = dict(zip((image_id for image_id, _ in chunk), preds))
        for image_id in image_ids[start:start + step]:
            n += 1
            pred = predicted.get(image_id)
            if pred is not None:
                if read_only:
                    result["held"].append(image_id)
                else:
                    study.save_prediction(image_id, pred)
                result["done"].append(image_id)
                if emit is not None:
                    emit((image_id, pred))
            if progress is not None:
                progress(n, total)
    result["cancelled"] = len(result["done"]) + len(result["errors"]) < total
    return result


def _load(study, image_ids: Sequence[str], errors: list) -> list:
    """(image_id, Radiograph) of each readable image; the others go to ``errors``."""
    from vam_gui.io.radiograph import RadiographError

    loaded = []
    for image_id in image_ids:
        try:
            loaded.append((image_id, study.load_radiograph(image_id)))
        except RadiographError as exc:
            errors.append((image_id, str(exc)))
    return loaded
