"""Helpers shared by the unit and GUI tests."""

from __future__ import annotations


def tiny_config(**overrides):
    """A model small enough for CPU tests (mobilenet backbone, narrow transformer)."""
    from vam_gui.model import ModelConfig

    params = dict(backbone="mobilenet_v3_large", input_size=64, d_model=32, bridge_layers=1,
                  vam_layers=1, bridge_heads=2, vam_heads=2, ffn_mult=2,
                  decoder_channels=[16, 16, 8, 8], dropout=0.0)
    params.update(overrides)
    return ModelConfig(**params)
