"""Checkpoints: round trip, mismatches, no unpickling."""

import json
import pickle

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from vam_gui.model import CheckpointError, ModelConfig, build_model, load_checkpoint, save_checkpoint
from vam_testing import tiny_config


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    config = tiny_config()
    model = build_model(config).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model, config)
    return path, model, config


def test_round_trip_gives_identical_outputs(saved):
    path, model, config = saved
    loaded, loaded_config = load_checkpoint(path)
    assert loaded_config.to_dict() == config.to_dict()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert not loaded.training


def test_metadata_holds_config_schema_and_recipe(saved):
    path, _, _ = saved
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    config = json.loads(meta["config"])
    assert config["schema"] == "lumbar-ap-20"
    assert config["schema_def"]["keypoints"][0]["name"] == "L1-UL"
    assert config["preprocessing"]["low_pct"] == 0.5 and config["preprocessing"]["high_pct"] == 99.5
    assert config["input_size"] == 64


def test_half_precision_checkpoint(tmp_path):
    config = tiny_config()
    model = build_model(config).eval()
    path = save_checkpoint(tmp_path / "h.safetensors", model, config, half=True)
    assert load_file(str(path))["bridge.proj.weight"].dtype == torch.float16
    loaded, _ = load_checkpoint(path)
    assert loaded.bridge.proj.weight.dtype == torch.float32
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert (model(x) - loaded(x)).abs().max() < 0.05


def test_weights_config_mismatch(tmp_path, saved):
    path, model, _ = saved
    wider = tiny_config(d_model=64)
    bad = tmp_path / "bad.safetensors"
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta["config"] = wider.to_json()
    save_file(load_file(str(path)), str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="do not match the stored config.*wrong shape"):
        load_checkpoint(bad)


def test_missing_tensors(tmp_path, saved):
    path, _, _ = saved
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    state = load_file(str(path))
    state.pop("decoder.heatmap_head.weight")
    bad = tmp_path / "missing.safetensors"
    save_file(state, str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="1 missing"):
        load_checkpoint(bad)


def test_unknown_schema(tmp_path, saved):
    path, _, config = saved
    data = config.to_dict()
    data["schema"] = "cervical-99"
    data["schema_def"] = None
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata())
    meta["config"] = json.dumps(data)
    bad = tmp_path / "schema.safetensors"
    save_file(load_file(str(path)), str(bad), metadata=meta)
    with pytest.raises(CheckpointError, match="unknown schema"):
        load_checkpoint(bad)


def test_not_a_checkpoint(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.safetensors"):
        load_checkpoint(junk)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="not a vam-gui checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.safetensors")


def test_plain_pt_loads_weights_only(tmp_path, saved):
    _, model, config = saved
    good = tmp_path / "good.pt"
    torch.save({"config": config.to_json(), "state_dict": model.state_dict()}, good)
    loaded, _ = load_checkpoint(good)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))


class _Evil:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').write_text('x')",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_pickled_code_is_never_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"config": "{}", "state_dict": _Evil()}, f)
    with pytest.raises(CheckpointError):
        load_checkpoint(evil)
    assert not (tmp_path / "PWNED").exists()


def test_save_is_atomic(tmp_path, saved, monkeypatch):
    path, model, config = saved
    before = path.read_bytes()
    import safetensors.torch as st

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(st, "save_file", boom)
    with pytest.raises(OSError):
        save_checkpoint(path, model, config)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_config_validation_on_load_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown model config field"):
        ModelConfig.from_dict({"backbone": "mobilenet_v3_large", "colour": "blue"})


def _resave_with_config(src, dst, **changes):
    """A copy of checkpoint ``src`` whose stored config has ``changes`` (the weights as they are)."""
    import json as _json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    config = _json.loads(meta["config"])
    config.update(changes)
    meta["config"] = _json.dumps(config)
    save_file(load_file(str(src)), str(dst), metadata=meta)
    return dst


@pytest.mark.parametrize("changes, words", [
    ({"bridge_layers": 100000}, "bridge_layers"),
    ({"d_model": 10**6}, "d_model"),
    ({"vam_heads": True}, "vam_heads"),
    ({"sigma": float("nan")}, "sigma"),
    ({"sigma": "2"}, "sigma"),
    ({"decoder_channels": [256, 128, 64, 10**9]}, "decoder_channels"),
    ({"input_size": [64, 10**6]}, "input_size"),
    ({"training": []}, "training"),
])
def test_hostile_configs_are_refused_before_anything_is_built(tmp_path, tiny_model_config, changes, words):
    import time

    from vam_gui.model import build_model, save_checkpoint
    from vam_gui.model.checkpoint import CheckpointError, load_checkpoint

    good = save_checkpoint(tmp_path / "good.safetensors", build_model(tiny_model_config), tiny_model_config)
    bad = _resave_with_config(good, tmp_path / "bad.safetensors", **changes)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(bad)
    assert time.perf_counter() - t0 < 2.0
    message = str(err.value)
    assert "\n" not in message and words in message


def test_non_finite_weights_are_refused(tmp_path, tiny_model_config):
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    from vam_gui.model import build_model, save_checkpoint
    from vam_gui.model.checkpoint import CheckpointError, load_checkpoint

    good = save_checkpoint(tmp_path / "good.safetensors", build_model(tiny_model_config), tiny_model_config)
    with safe_open(str(good), framework="pt") as f:
        meta = dict(f.metadata())
    state = load_file(str(good))
    name = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[name] = state[name].clone()
    state[name].view(-1)[0] = float("inf")
    save_file(state, str(tmp_path / "inf.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="NaN or infinite"):
        load_checkpoint(tmp_path / "inf.safetensors")
    assert torch.isfinite(load_checkpoint(good)[0].state_dict()[name]).all()
