"""The transformer bridge over the S/32 feature grid and the vertebral attention module."""

from __future__ import annotations

import math

import torch
import torch.nn as nn


def sine_position_encoding_2d(height: int, width: int, dim: int) -> torch.Tensor:
    """[height*width, dim] fixed encoding: the first half of the channels encodes y, the
    second half x, each as interleaved sin/cos over geometric frequencies."""
    if dim % 4:
        raise ValueError(f"positional encoding needs dim divisible by 4, got {dim}")
    quarter = dim // 4
    freq = torch.exp(-math.log(10000.0) * torch.arange(quarter, dtype=torch.float32) / quarter)
    ys = torch.arange(height, dtype=torch.float32)[:, None] * freq  # [H, dim/4]
    xs = torch.arange(width, dtype=torch.float32)[:, None] * freq  # [W, dim/4]
    enc_y = torch.cat([ys.sin(), ys.cos()], dim=1)  # [H, dim/2]
    enc_x = torch.cat([xs.sin(), xs.cos()], dim=1)  # [W, dim/2]
    grid = torch.cat(
        [enc_y[:, None, :].expand(height, width, -1), enc_x[None, :, :].expand(height, width, -1)], dim=2
    )
    return grid.reshape(height * width, dim)


class TransformerBridge(nn.Module):
    """F4 -> 1x1 conv to D -> tokens + 2D sine positions -> pre-norm encoder layers."""

    def __init__(self, in_channels: int, d_model: int, grid: int | tuple[int, int], *, layers: int = 4,
                 heads: int = 8, ffn_mult: int = 4, dropout: float = 0.1):
        super().__init__()
        self.grid = tuple(grid) if isinstance(grid, (tuple, list)) else (grid, grid)
        self.proj = nn.Conv2d(in_channels, d_model, 1)
        self.register_buffer("pos", sine_position_encoding_2d(*self.grid, d_model), persistent=False)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=ffn_mult * d_model, dropout=dropout,
            activation="gelu", batch_first=True, norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(
            layer, num_layers=layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False
        ) if layers else None

    def forward(self, f4: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (tokens [B, N, D], feature map [B, D, gh, gw])."""
        x = self.proj(f4)
        b, d, h, w = x.shape
        if (h, w) != self.grid:
            raise ValueError(f"bridge built for a {self.grid[0]}x{self.grid[1]} grid, got {h}x{w}")
        tokens = x.flatten(2).transpose(1, 2) + self.pos.to(x.dtype)
        if self.encoder is not None:
            tokens = self.encoder(tokens)
        return tokens, tokens.transpose(1, 2).reshape(b, d, h, w)


class VamLayer(nn.Module):
    """Cross-attention (queries -> image tokens), self-attention among the queries, FFN;
    each with a residual connection followed by LayerNorm."""

    def __init__(self, d_model: int, heads: int, ffn_mult: int, dropout: float):
        super().__init__()
        self.cross = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.self_attn = nn.MultiheadAttention(d_model, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(d_model, ffn_mult * d_model), nn.GELU(), nn.Dropout(dropout),
            nn.Linear(ffn_mult * d_model, d_model),
        )
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.drop = nn.Dropout(dropout)

    def forward(self, q: torch.Tensor, q_pos: torch.Tensor, memory: torch.Tensor,
                mem_pos: torch.Tensor) -> torch.Tensor:
        attn, _ = self.cross(q + q_pos, memory + mem_pos, memory, need_weights=False)
        q = self.norm1(q + self.drop(attn))
        qp = q + q_pos
        attn, _ = self.self_attn(qp, qp, q, need_weights=False)
        q = self.norm2(q + self.drop(attn))
        return self.norm3(q + self.drop(self.ffn(q)))


class VertebralAttentionModule(nn.Module):
    """One learned query per keypoint plus an anatomical embedding (half the channels
    embed the vertebra level, half the corner type, both from the schema)."""

    def __init__(self, vertebra: list[int] | tuple[int, ...], corner: list[int] | tuple[int, ...],
                 num_vertebrae: int, d_model: int, *, layers: int = 3, heads: int = 8,
                 ffn_mult: int = 4, dropout: float = 0.1):
        super().__init__()
        k = len(vertebra)
        if len(corner) != k:
            raise ValueError("vertebra and corner lists differ in length")
        self.queries = nn.Parameter(torch.randn(k, d_model) * 0.02)
        self.level_embed = nn.Embedding(num_vertebrae, d_model // 2)
        self.corner_embed = nn.Embedding(4, d_model - d_model // 2)
        self.register_buffer("vertebra", torch.as_tensor(vertebra, dtype=torch.long), persistent=False)
        self.register_buffer("corner", torch.as_tensor(corner, dtype=torch.long), persistent=False)
        self.layers = nn.ModuleList(VamLayer(d_model, heads, ffn_mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)

    def anatomical_embedding(self) -> torch.Tensor:
        return torch.cat([self.level_embed(self.vertebra), self.corner_embed(self.corner)], dim=1)

    def forward(self, memory: torch.Tensor, mem_pos: torch.Tensor) -> torch.Tensor:
        """memory [B, N, D] image tokens, mem_pos [N, D] -> [B, K, D]."""
        b = memory.shape[0]
        q_pos = self.anatomical_embedding().unsqueeze(0).to(memory.dtype)
        q = (self.queries.unsqueeze(0) + q_pos).expand(b, -1, -1)
        mem_pos = mem_pos.unsqueeze(0).to(memory.dtype)
        for layer in self.layers:
            q = layer(q, q_pos, memory, mem_pos)
        return self.norm(q)
