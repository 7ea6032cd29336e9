"""Heatmap regression losses."""

from __future__ import annotations

import torch


def heatmap_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    visible: torch.Tensor | None = None,
    *,
    foreground_weight: float = 0.0,
    focal_gamma: float | None = None,
) -> torch.Tensor:
    """Per-keypoint MSE between heatmaps [B, K, H, W], averaged over visible keypoints.

    foreground_weight > 0 weights each pixel by (1 + foreground_weight * target), so the
    few pixels near a corner are not drowned by the empty background. focal_gamma turns on
    the focal variant: pixels are further weighted by |pred - target| ** gamma (detached),
    which concentrates the gradient where the heatmap is still wrong.
    """
    if pred.shape != target.shape:
        raise ValueError(f"prediction {list(pred.shape)} and target {list(target.shape)} differ")
    diff = pred.float() - target.float()
    sq = diff * diff
    if foreground_weight:
        sq = sq * (1.0 + foreground_weight * target.float())
    if focal_gamma is not None:
        sq = sq * diff.detach().abs().pow(focal_gamma)
    per_kp = sq.mean(dim=(-2, -1))  # [B, K]
    if visible is None:
        return per_kp.mean()
    w = visible.to(per_kp.dtype).reshape(per_kp.shape)
    return (per_kp * w).sum() / w.sum().clamp_min(1.0)
