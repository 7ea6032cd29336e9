"""The multi-scale decoder, as specified by the seed document (component 4).

The classes, their constructor arguments, channel lists and layer order follow the seed
exactly; the one generalisation is that ``output_size`` (S, or (H, W) for an input that keeps
a film's aspect; multiples of 32) sets the query grid to H/32 x W/32 and the stage-1 skip
size to H/16 x W/16, which are the seed's 16 x 16 and 32 x 32 at its default S = 512.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _check_output_size(output_size) -> tuple[int, int]:
    """S or (H, W), each a positive multiple of 32 -> (H, W)."""
    sides = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size, output_size]
    if len(sides) != 2 or not all(isinstance(v, int) and v > 0 and v % 32 == 0 for v in sides):
        raise ValueError(f"output_size must be S or (H, W), each a positive multiple of 32, got {output_size!r}")
    return sides[0], sides[1]


class ConvBlock(nn.Module):
    """Double convolution block: Conv -> BN -> ReLU -> Conv -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class DecoderStage(nn.Module):
    """Single decoder stage: upsample -> concat skip -> ConvBlock."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, scale_factor: int = 2):
        super().__init__()
        self.scale_factor = scale_factor
        self.conv = ConvBlock(in_channels + skip_channels, out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=self.scale_factor, mode="bilinear", align_corners=False)
        # The seed's guard against rounding; with S a multiple of 32 it never fires
        # (tests/unit/test_decoder.py checks that with hooks on every stage).
        if x.shape[2:] != skip.shape[2:]:
            x = F.interpolate(x, size=skip.shape[2:], mode="bilinear", align_corners=False)
        x = torch.cat([x, skip], dim=1)
        return self.conv(x)


class QueryToSpatial(nn.Module):
    """Projects K x D query features to a C x H x W feature map."""

    def __init__(self, num_keypoints: int, query_dim: int, spatial_size: tuple, out_channels: int):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.spatial_size = tuple(spatial_size)
        h, w = self.spatial_size
        self.query_proj = nn.Linear(query_dim, h * w)
        self.channel_proj = nn.Conv2d(num_keypoints, out_channels, 1)

    def forward(self, queries: torch.Tensor) -> torch.Tensor:
        b, k, _ = queries.shape
        h, w = self.spatial_size
        x = self.query_proj(queries).reshape(b, k, h, w)
        return self.channel_proj(x)


class MultiScaleDecoder(nn.Module):
    """Full-resolution heatmaps from VAM queries with skips F3, F3, F2, F1."""

    def __init__(
        self,
        num_keypoints: int,
        query_dim: int = 256,
        backbone_channels: list = [24, 48, 64, 256],  # noqa: B006 - the seed's signature
        decoder_channels: list = [256, 128, 64, 32],  # noqa: B006
        output_size: int | tuple[int, int] = 512,
    ):
        super().__init__()
        self.num_keypoints = num_keypoints
        self.output_size = _check_output_size(output_size)
        grid = (self.output_size[0] // 32, self.output_size[1] // 32)
        self.skip1_size = (2 * grid[0], 2 * grid[1])

        self.query_to_spatial = QueryToSpatial(
            num_keypoints=num_keypoints,
            query_dim=query_dim,
            spatial_size=grid,
            out_channels=decoder_channels[0],
        )
        self.stages = nn.ModuleList([
            DecoderStage(decoder_channels[0], backbone_channels[2], decoder_channels[1]),  # +F3 (resized)
            DecoderStage(decoder_channels[1], backbone_channels[2], decoder_channels[1]),  # +F3
            DecoderStage(decoder_channels[1], backbone_channels[1], decoder_channels[2]),  # +F2
            DecoderStage(decoder_channels[2], backbone_channels[0], decoder_channels[3]),  # +F1
        ])
        self.final_upsample = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(decoder_channels[3], decoder_channels[3], 3, padding=1, bias=False),
            nn.BatchNorm2d(decoder_channels[3]),
            nn.ReLU(inplace=True),
        )
        self.heatmap_head = nn.Conv2d(decoder_channels[3], num_keypoints, 1)

    def forward(self, queries: torch.Tensor, backbone_features: dict) -> torch.Tensor:
        x = self.query_to_spatial(queries)
        f1, f2, f3 = backbone_features["F1"], backbone_features["F2"], backbone_features["F3"]
        f3_small = F.interpolate(f3, size=self.skip1_size, mode="bilinear", align_corners=False)
        x = self.stages[0](x, f3_small)
        x = self.stages[1](x, f3)
        x = self.stages[2](x, f2)
        x = self.stages[3](x, f1)
        x = self.final_upsample(x)
        return self.heatmap_head(x)


class SimpleDecoder(nn.Module):
    """The seed's alternative head: upsamples the bridge output directly (VAM bypassed)."""

    def __init__(
        self,
        in_channels: int = 256,
        num_keypoints: int = 20,
        backbone_channels: list = [24, 48, 64, 256],  # noqa: B006
        output_size: int | tuple[int, int] = 512,
    ):
        super().__init__()
        self.output_size = _check_output_size(output_size)
        self.skip1_size = (self.output_size[0] // 16, self.output_size[1] // 16)
        self.up1 = DecoderStage(in_channels, backbone_channels[2], 128)
        self.up2 = DecoderStage(128, backbone_channels[2], 128)
        self.up3 = DecoderStage(128, backbone_channels[1], 64)
        self.up4 = DecoderStage(64, backbone_channels[0], 32)
        self.final = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(32, num_keypoints, 1),
        )

    def forward(self, x: torch.Tensor, features: dict) -> torch.Tensor:
        f3_small = F.interpolate(features["F3"], size=self.skip1_size, mode="bilinear", align_corners=False)
        x = self.up1(x, f3_small)
        x = self.up2(x, features["F3"])
        x = self.up3(x, features["F2"])
        x = self.up4(x, features["F1"])
        return self.final(x)
