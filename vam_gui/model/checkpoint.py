"""Checkpoints: one ``.safetensors`` file, weights plus the JSON ModelConfig in its metadata.

Never unpickles: plain ``.pt``/``.pth`` files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
import torch.nn as nn

from vam_gui import __version__
from vam_gui.core.atomic import new_temp_file, ordinary_permissions
from vam_gui.io.files import file_sha256
from vam_gui.model.config import ConfigError, ModelConfig

FORMAT = "vam-gui-checkpoint"
FORMAT_VERSION = "1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or does not match its configuration."""


def _atomic_target(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = new_temp_file(path)
    os.close(fd)
    return Path(tmp)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, config: ModelConfig, *,
                    half: bool = False) -> Path:
    """Write ``model``'s weights and ``config`` to ``path`` atomically (temp file + rename).

    half=True stores floating-point tensors as float16 (half the size; they are widened
    back to float32 on load), for checkpoints that ship with the application.
    """
    from safetensors.torch import save_file

    path = Path(path)
    state = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if half and t.is_floating_point():
            t = t.to(torch.float16)
        state[name] = t.contiguous().clone()
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vam_gui_version": __version__,
        "config": config.to_json(),
    }
    tmp = _atomic_target(path)
    try:
        save_file(state, str(tmp), metadata=metadata)
        ordinary_permissions(tmp)  # safetensors writes its file private (0600)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _load_plain(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError and friends
        raise CheckpointError(f"{path.name}: cannot be loaded as plain weights ({exc})") from exc


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a plain ``.pt`` (weights only, no pickled code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix in (".pt", ".pth"):
        obj = _load_plain(path)
        if isinstance(obj, dict) and "state_dict" in obj:
            obj = obj["state_dict"]
        if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise CheckpointError(f"{path.name}: does not hold a dictionary of tensors")
        return obj
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc})") from exc


def read_config(path: str | os.PathLike) -> ModelConfig:
    """The ModelConfig stored in a checkpoint, without building the network."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    if path.suffix in (".pt", ".pth"):
        obj = _load_plain(path)
        text = obj.get("config") if isinstance(obj, dict) else None
        if isinstance(text, dict):
            text = json.dumps(text)
    else:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
        except Exception as exc:
            raise CheckpointError(f"{path.name}: not a readable safetensors file ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise CheckpointError(f"{path.name}: not a vam-gui checkpoint (no vam-gui metadata)")
        text = meta.get("config")
    if not isinstance(text, str):
        raise CheckpointError(f"{path.name}: holds no model configuration")
    try:
        return ModelConfig.from_json(text)
    except (ConfigError, ValueError) as exc:
        raise CheckpointError(f"{path.name}: {exc}") from exc


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig]:
    """Rebuild the network a checkpoint describes and load its weights (eval mode).

    Raises CheckpointError when the file is unreadable, its config is invalid or names an
    unknown schema, or its tensors do not fit the network the config describes.
    """
    from vam_gui.model.network import build_model

    path = Path(path)
    config = read_config(path)
    state = read_state_dict(path)
    # The weights come from the file: never fetch ImageNet weights to be overwritten.
    build_config = ModelConfig.from_dict({**config.to_dict(), "pretrained": None})
    model = build_model(build_config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if expected[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {unexpected[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} with the wrong shape (e.g. {k}: file {list(state[k].shape)}, "
                         f"config {list(expected[k].shape)})")
        raise CheckpointError(f"{path.name}: weights do not match the stored config: " + "; ".join(parts))
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{path.name}: {len(bad)} weight tensor(s) hold NaN or infinite values "
                              f"(e.g. {bad[0]}): the file is damaged or the training diverged")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.to(device).eval()
    return model, config


def file_digest(path: str | os.PathLike, length: int = 16) -> str:
    """Short sha256 of a file: the model id recorded with every prediction."""
    return file_sha256(path)[:length]
