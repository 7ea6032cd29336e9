"""Settings and model configs are checked against their fields' declared kinds and ranges in
one place (core.fields): a bad value in the settings file falls back to its default with one
line; a bad value in a checkpoint's config refuses the checkpoint with one line."""

from __future__ import annotations

import json

import pytest

from vam_gui.core.fields import Check, coerce, field_problems
from vam_gui.core.settings import Settings, load_settings, save_settings


def test_a_good_settings_file_round_trips(tmp_path):
    s = Settings(reviewer="ana", confidence_threshold=0.4, heatmap_colormap="viridis", device="cpu",
                 recent_studies=["/a.vamstudy"], max_image_pixels=300_000_000)
    path = save_settings(s, tmp_path / "settings.json")
    assert load_settings(path) == s


@pytest.mark.parametrize("key, value", [
    ("confidence_threshold", float("nan")), ("confidence_threshold", 1e400), ("confidence_threshold", 7),
    ("confidence_threshold", True), ("confidence_threshold", "0.3"), ("heatmap_opacity", -0.1),
    ("heatmap_colormap", "rainbow"), ("device", "tpu"), ("show_heatmap", 1), ("show_labels", "yes"),
    ("recent_studies", "a.vamstudy"), ("recent_studies", [1, 2]), ("max_image_pixels", 0),
    ("max_image_pixels", 2.5e8), ("max_image_pixels", float("inf")), ("reviewer", {"name": "x"}),
])
def test_a_bad_value_falls_back_to_its_default_with_one_line(tmp_path, capsys, key, value):
    path = tmp_path / "settings.json"
    # json.dumps writes NaN/Infinity, which Python's json reads back (as other tools may write them)
    path.write_text(json.dumps({key: value, "reviewer": "kept"} if key != "reviewer" else {key: value}))
    s = load_settings(path)
    assert getattr(s, key) == getattr(Settings(), key)
    if key != "reviewer":
        assert s.reviewer == "kept", "the rest of the file still counts"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and key in err[0] and "the default is used" in err[0]


def test_a_whole_number_is_a_fine_float_and_unknown_keys_are_named(tmp_path, capsys):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"confidence_threshold": 1, "window_geometry": "x"}))
    s = load_settings(path)
    assert s.confidence_threshold == 1.0 and isinstance(s.confidence_threshold, float)
    assert "window_geometry: not a setting" in capsys.readouterr().err


def test_an_unreadable_file_gives_the_defaults(tmp_path):
    path = tmp_path / "settings.json"
    for text in ("{", "[1, 2]", "\x00\xff"):
        path.write_text(text)
        assert load_settings(path) == Settings()


def test_checks_say_what_is_wanted():
    assert Check("int", 0, 24).problem("bridge_layers", 100000) == \
        "bridge_layers must be a whole number from 0 to 24, got 100000"
    assert Check("int", 0, 24).problem("bridge_layers", True) is not None  # a bool is not a number
    assert Check("float", 0.25, 32.0).problem("sigma", float("nan")).startswith("sigma must be a finite number")
    assert Check("str", choices=("a", "b")).problem("x", "c") == "x must be one of a, b, got 'c'"
    assert Check("str", optional=True).problem("x", None) is None
    assert Check("list[int]", 1, 2048).problem("w", [1, 0]) is not None
    assert coerce(Settings, {"heatmap_opacity": 1}) == ({"heatmap_opacity": 1.0}, [])


def test_model_config_uses_the_same_checks():
    from vam_gui.model.config import ConfigError, ModelConfig

    assert field_problems(ModelConfig()) == []
    for bad, word in [({"bridge_layers": 100000}, "bridge_layers"), ({"backbone": "resnet"}, "backbone"),
                      ({"dropout": 1.5}, "dropout"), ({"decoder_channels": [64, 0, 8, 8]}, "decoder_channels"),
                      ({"pretrained": 3}, "pretrained")]:
        with pytest.raises(ConfigError, match=word) as info:
            ModelConfig(**bad)
        assert "\n" not in str(info.value)


def test_a_config_that_could_never_run_is_refused_by_its_memory_estimate():
    from vam_gui.model.config import MAX_FORWARD_BYTES, ConfigError, ModelConfig

    assert ModelConfig().memory_estimate() < 2**30  # the default network: well under a GiB per image
    assert ModelConfig(input_size=[4096, 4096]).memory_estimate() < MAX_FORWARD_BYTES  # big but possible
    with pytest.raises(ConfigError, match=r"one image would need about \d+ GiB"):
        ModelConfig(input_size=[4096, 4096], bridge_heads=64, vam_heads=64, d_model=2048,
                    bridge_layers=1, vam_layers=1)
