"""Shared fixtures. Qt runs offscreen: CI has no display."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Keep every test away from the real user's config and data folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))


def tiny_config(**overrides):
    """A model small enough for CPU tests (mobilenet backbone, narrow transformer)."""
    from vam_gui.model import ModelConfig

    params = dict(backbone="mobilenet_v3_large", input_size=64, d_model=32, bridge_layers=1,
                  vam_layers=1, bridge_heads=2, vam_heads=2, ffn_mult=2,
                  decoder_channels=[16, 16, 8, 8], dropout=0.0)
    params.update(overrides)
    return ModelConfig(**params)


@pytest.fixture
def tiny_model_config():
    return tiny_config()
