"""`vam-gui evaluate`: radial errors of a checkpoint on a dataset folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from vam_gui.core.letterbox import Letterbox
from vam_gui.model.checkpoint import load_checkpoint
from vam_gui.model.dark import dark_decode
from vam_gui.model.dataset import VamDataset, collate
from vam_gui.model.predictor import resolve_device

SDR_THRESHOLDS = (2.0, 2.5, 3.0, 4.0)


@torch.no_grad()
def evaluate(checkpoint: str | Path, dataset: str | Path, *, split: str | None = None, device: str = "auto",
             batch_size: int = 4, val_fraction: float = 0.1) -> dict:
    """Mean/median radial error in model px, original px and mm (when every item's spacing is
    known), the successful detection rate at 2, 2.5, 3 and 4 mm (px when spacing is unknown),
    and a per-keypoint table. ``split``: None (all items), "train" or "val"."""
    dev = resolve_device(device)
    model, config = load_checkpoint(checkpoint, device=dev)
    size = config.input_size
    ds = VamDataset(dataset, split=split, val_fraction=val_fraction, with_targets=False, size=size)
    schema = config.get_schema()
    if ds.schema.keypoints != schema.keypoints:
        raise ValueError(f"the checkpoint predicts {schema.name!r} but the dataset holds {ds.schema.name!r}")
    if len(ds) == 0:
        raise ValueError(f"{dataset}: no items to evaluate" + (f" in split {split!r}" if split else ""))
    model_err, orig_err, mm_err = [], [], []
    for batch in DataLoader(ds, batch_size=batch_size, collate_fn=collate):
        heat = model(batch["image"].to(dev)).float()
        pred = dark_decode(heat, sigma=config.sigma)[0].cpu().numpy().astype(np.float64)
        truth = batch["xy"].numpy().astype(np.float64)
        visible = batch["visible"].numpy()
        for i in range(len(pred)):
            box = Letterbox.from_dict(batch["letterbox"][i])
            entry = ds.entries[int(batch["index"][i])]
            d_model = np.linalg.norm(pred[i] - truth[i], axis=1)
            d_orig_xy = box.to_original(pred[i]) - box.to_original(truth[i])
            d_orig = np.linalg.norm(d_orig_xy, axis=1)
            spacing = entry.get("spacing")
            d_mm = (np.hypot(d_orig_xy[:, 0] * spacing[1], d_orig_xy[:, 1] * spacing[0])
                    if spacing else np.full(len(d_orig), np.nan))
            mask = np.where(visible[i], 1.0, np.nan)
            model_err.append(d_model * mask)
            orig_err.append(d_orig * mask)
            mm_err.append(d_mm * mask)
    model_err, orig_err, mm_err = (np.stack(a) for a in (model_err, orig_err, mm_err))
    have_mm = bool(np.isfinite(mm_err[np.isfinite(model_err)]).all())
    sdr_basis = mm_err if have_mm else orig_err
    valid = np.isfinite(sdr_basis)
    result = {
        "checkpoint": str(checkpoint),
        "dataset": str(dataset),
        "split": split or "all",
        "images": int(model_err.shape[0]),
        "points": int(np.isfinite(model_err).sum()),
        "input_size": size,
        "mre_model_px": float(np.nanmean(model_err)),
        "median_model_px": float(np.nanmedian(model_err)),
        "mre_px": float(np.nanmean(orig_err)),
        "median_px": float(np.nanmedian(orig_err)),
        "mre_mm": float(np.nanmean(mm_err)) if have_mm else None,
        "median_mm": float(np.nanmedian(mm_err)) if have_mm else None,
        "sdr_unit": "mm" if have_mm else "px",
        "sdr": {f"{t:g}": float((sdr_basis[valid] <= t).mean()) for t in SDR_THRESHOLDS},
        "per_keypoint": [
            {"name": name,
             "mre_model_px": float(np.nanmean(model_err[:, k])) if np.isfinite(model_err[:, k]).any() else None,
             "mre_mm": float(np.nanmean(mm_err[:, k])) if have_mm and np.isfinite(mm_err[:, k]).any() else None,
             "max_model_px": float(np.nanmax(model_err[:, k])) if np.isfinite(model_err[:, k]).any() else None}
            for k, name in enumerate(schema.keypoints)
        ],
    }
    return result


def format_table(result: dict) -> str:
    lines = [
        f"{result['images']} image(s), {result['points']} point(s), S = {result['input_size']}, split {result['split']}",
        f"mean radial error   {result['mre_model_px']:.3f} model px   {result['mre_px']:.2f} px"
        + (f"   {result['mre_mm']:.2f} mm" if result["mre_mm"] is not None else ""),
        f"median radial error {result['median_model_px']:.3f} model px   {result['median_px']:.2f} px"
        + (f"   {result['median_mm']:.2f} mm" if result["median_mm"] is not None else ""),
        "SDR " + "  ".join(f"<= {t} {result['sdr_unit']}: {100 * v:.1f} %" for t, v in result["sdr"].items()),
        "",
        f"{'keypoint':<10} {'MRE model px':>13} {'MRE mm':>8} {'max model px':>13}",
    ]
    for row in result["per_keypoint"]:
        def f(v, w, d):
            return f"{v:>{w}.{d}f}" if v is not None else f"{'–':>{w}}"
        lines.append(f"{row['name']:<10} {f(row['mre_model_px'], 13, 3)} {f(row['mre_mm'], 8, 2)} "
                     f"{f(row['max_model_px'], 13, 2)}")
    return "\n".join(lines)
