"""Start a network from another checkpoint of another input size or schema (``train --init``).

Tensors that fit are copied. Those tied to the input size (the decoder's query projection onto
the H/32 x W/32 grid) are resampled over the grid; those tied to the schema (one row or
channel per keypoint, one level embedding per vertebra) are copied by keypoint and vertebra
name, so a lumbar model starts a whole-column one with its L1-L5 queries and heads. What has
no counterpart keeps the new network's initialisation.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from vam_gui.model.config import ModelConfig

GRID_KEYS = ("decoder.query_to_spatial.query_proj.weight", "decoder.query_to_spatial.query_proj.bias")


def _resample_grid(t: torch.Tensor, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> torch.Tensor:
    """[gh*gw, ...] -> [gh'*gw', ...], bilinear over the grid."""
    rest = t.shape[1:]
    grid = t.reshape(src_hw[0], src_hw[1], -1).permute(2, 0, 1)[None].float()
    out = F.interpolate(grid, size=dst_hw, mode="bilinear", align_corners=False)[0]
    return out.permute(1, 2, 0).reshape(dst_hw[0] * dst_hw[1], *rest).to(t.dtype)


def _by_name(src: torch.Tensor, dst: torch.Tensor, dim: int, mapping: list[int | None]) -> torch.Tensor:
    """dst with the slices along ``dim`` that have a source (mapping[i] = source index) copied."""
    out = dst.clone()
    for i, j in enumerate(mapping):
        if j is not None:
            out.select(dim, i).copy_(src.select(dim, j))
    return out


def transfer_state(src: dict[str, torch.Tensor], src_config: ModelConfig, dst: dict[str, torch.Tensor],
                   dst_config: ModelConfig) -> tuple[dict[str, torch.Tensor], dict[str, int]]:
    """(state for the destination network, counts of copied / resampled / mapped / kept tensors)."""
    s_schema, d_schema = src_config.get_schema(), dst_config.get_schema()
    s_kp = {n: i for i, n in enumerate(s_schema.keypoints)}
    s_vt = {n: i for i, n in enumerate(s_schema.vertebrae)}
    kp_map = [s_kp.get(n) for n in d_schema.keypoints]
    vt_map = [s_vt.get(n) for n in d_schema.vertebrae]
    s_grid = tuple(v // 32 for v in src_config.input_hw)
    d_grid = tuple(v // 32 for v in dst_config.input_hw)
    out, counts = {}, {"copied": 0, "resampled": 0, "mapped": 0, "kept": 0}
    for key, d in dst.items():
        s = src.get(key)
        if s is None:
            out[key], counts["kept"] = d, counts["kept"] + 1
        elif s.shape == d.shape and (key not in GRID_KEYS or s_grid == d_grid) and \
                (s_schema.keypoints == d_schema.keypoints or d_schema.k not in s.shape):
            out[key], counts["copied"] = s.to(d.dtype), counts["copied"] + 1
        elif key in GRID_KEYS:
            out[key], counts["resampled"] = _resample_grid(s, s_grid, d_grid).to(d.dtype), counts["resampled"] + 1
        else:
            dims = [i for i in range(d.ndim) if s.ndim == d.ndim and s.shape[i] != d.shape[i]
                    or s_schema.keypoints != d_schema.keypoints and d.shape[i] == d_schema.k]
            same_elsewhere = s.ndim == d.ndim and all(s.shape[i] == d.shape[i] for i in range(d.ndim) if i not in dims)
            if len(dims) == 1 and same_elsewhere and d.shape[dims[0]] in (d_schema.k, len(d_schema.vertebrae)):
                mapping = kp_map if d.shape[dims[0]] == d_schema.k and s.shape[dims[0]] == s_schema.k else vt_map
                out[key], counts["mapped"] = _by_name(s.to(d.dtype), d, dims[0], mapping), counts["mapped"] + 1
            else:
                out[key], counts["kept"] = d, counts["kept"] + 1
    return out, counts
