"""VamNet: backbone -> transformer bridge -> VAM -> multi-scale decoder (design.md §3)."""

from __future__ import annotations

import torch
import torch.nn as nn

from vam_gui.model.backbone import Backbone
from vam_gui.model.config import ModelConfig
from vam_gui.model.decoder import MultiScaleDecoder, SimpleDecoder
from vam_gui.model.transformer import TransformerBridge, VertebralAttentionModule


class VamNet(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        config.validate()
        schema = config.get_schema()
        self.config = config
        self.num_keypoints = schema.k
        (height, width), d = config.input_hw, config.d_model
        self.backbone = Backbone(config.backbone, pretrained=config.pretrained)
        c1, c2, c3, c4 = self.backbone.channels
        self.bridge = TransformerBridge(
            c4, d, (height // 32, width // 32), layers=config.bridge_layers, heads=config.bridge_heads,
            ffn_mult=config.ffn_mult, dropout=config.dropout,
        )
        # F4 reaches the decoders only through the bridge, so its width there is D.
        skips = [c1, c2, c3, d]
        if config.decoder == "multiscale":
            self.vam = VertebralAttentionModule(
                schema.vertebra, schema.corner, len(schema.vertebrae), d,
                layers=config.vam_layers, heads=config.vam_heads, ffn_mult=config.ffn_mult,
                dropout=config.dropout,
            )
            self.decoder = MultiScaleDecoder(
                schema.k, query_dim=d, backbone_channels=skips,
                decoder_channels=list(config.decoder_channels), output_size=(height, width),
            )
        else:
            self.vam = None
            self.decoder = SimpleDecoder(in_channels=d, num_keypoints=schema.k,
                                         backbone_channels=skips, output_size=(height, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = self.config.input_hw
        if x.ndim != 4 or x.shape[1] != 3 or x.shape[2] != h or x.shape[3] != w:
            raise ValueError(f"expected input [B, 3, {h}, {w}], got {list(x.shape)}")
        feats = self.backbone(x)
        tokens, grid = self.bridge(feats["F4"])
        if self.vam is None:
            return self.decoder(grid, feats)
        queries = self.vam(tokens, self.bridge.pos)
        return self.decoder(queries, feats)


def build_model(config: ModelConfig) -> VamNet:
    """The network a config describes (random init, or ImageNet backbone if configured)."""
    return VamNet(config)
