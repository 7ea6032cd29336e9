"""ModelConfig: everything needed to rebuild a network and feed it, stored in checkpoints."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vam_gui.core.fields import checked, field_problems
from vam_gui.core.letterbox import intensity_recipe
from vam_gui.core.schema import DEFAULT_SCHEMA, Schema, SchemaError, load_schema

BACKBONES = ("efficientnet_v2_s", "mobilenet_v3_large")
DECODERS = ("multiscale", "simple")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def default_preprocessing() -> dict[str, Any]:
    """The input recipe of design.md §3; recorded in every checkpoint so that training,
    export and inference see the same pixels."""
    return {
        "letterbox": "centred, uniform scale S/max(H,W), zero padding, pixel centres at integers",
        "antialias": "pyramid",
        **intensity_recipe(),
        "channels": 3,
        "mean": list(IMAGENET_MEAN),
        "std": list(IMAGENET_STD),
    }


MAX_TRANSFORMER_PARAMETERS = 300_000_000
MAX_FORWARD_BYTES = 64 * 2**30  # memory_estimate() of one image


class ConfigError(ValueError):
    """A model configuration that cannot describe a network."""


@dataclass
class ModelConfig:
    # Every number a checkpoint's metadata can carry is declared with its range (core.fields)
    # and checked before anything is built: what a real network of this design can use,
    # with room to spare.
    schema: str = checked(DEFAULT_SCHEMA, kind="str")
    backbone: str = checked("efficientnet_v2_s", kind="str", choices=BACKBONES)
    input_size: int | list[int] = 512  # S (square) or [H, W], each a multiple of 32 (checked in validate)
    d_model: int = checked(256, kind="int", lo=16, hi=2048)
    bridge_layers: int = checked(4, kind="int", lo=0, hi=24)
    bridge_heads: int = checked(8, kind="int", lo=1, hi=64)
    ffn_mult: int = checked(4, kind="int", lo=1, hi=16)
    vam_layers: int = checked(3, kind="int", lo=0, hi=24)
    vam_heads: int = checked(8, kind="int", lo=1, hi=64)
    decoder: str = checked("multiscale", kind="str", choices=DECODERS)
    decoder_channels: list[int] = checked(kind="list[int]", lo=1, hi=2048, default_factory=lambda: [256, 128, 64, 32])
    dropout: float = checked(0.1, kind="float", lo=0.0, hi=0.99)
    sigma: float = checked(2.0, kind="float", lo=0.25, hi=32.0)  # model px
    pretrained: str | None = checked(None, kind="str", optional=True)  # None, "imagenet" or a local weights file
    preprocessing: dict[str, Any] = field(default_factory=default_preprocessing)
    training: dict[str, Any] = field(default_factory=dict)  # provenance: data, epochs, metrics
    schema_def: dict[str, Any] | None = None  # the full schema, embedded so a checkpoint travels alone

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """A config is data from a file: ``bridge_layers = 100000`` must be one clear line,
        not gigabytes of layers and then a failure."""
        problems = field_problems(self)
        if problems:
            raise ConfigError(problems[0])
        if not isinstance(self.preprocessing, dict) or not isinstance(self.training, dict):
            raise ConfigError("preprocessing and training must be JSON objects")
        self._check_input_size()
        if self.d_model % 4 or self.d_model % self.bridge_heads or self.d_model % self.vam_heads:
            raise ConfigError(
                f"d_model={self.d_model} must be divisible by 4 and by the head counts "
                f"({self.bridge_heads}, {self.vam_heads})"
            )
        if len(self.decoder_channels) != 4:
            raise ConfigError(f"decoder_channels needs four positive widths, got {self.decoder_channels!r}")
        if self.memory_estimate() > MAX_FORWARD_BYTES:
            raise ConfigError(f"one image would need about {self.memory_estimate() / 2**30:,.0f} GiB "
                              f"(more than {MAX_FORWARD_BYTES // 2**30} GiB): not a vam-gui network")
        if self.transformer_parameters() > MAX_TRANSFORMER_PARAMETERS:
            raise ConfigError(f"the transformer layers would hold {self.transformer_parameters():,} parameters "
                              f"(more than {MAX_TRANSFORMER_PARAMETERS:,}): not a vam-gui network")

    def _check_input_size(self) -> None:
        size = self.input_size
        if isinstance(size, tuple):
            size = self.input_size = list(size)
        sides = size if isinstance(size, list) else [size]
        if (len(sides) not in (1, 2) or not all(isinstance(v, int) and not isinstance(v, bool) for v in sides)
                or min(sides) < 64 or any(v % 32 for v in sides) or max(sides) > 4096):
            raise ConfigError(f"input_size must be S or [H, W], multiples of 32 from 64 to 4096, got {size!r}")
        if isinstance(size, list) and size[0] == size[1]:
            self.input_size = size[0]  # a square stays a plain S, as in older checkpoints

    def transformer_parameters(self) -> int:
        """About how many parameters the bridge and the VAM hold (the parts a config can grow
        without bound), from the widths alone: 4 D^2 attention + 2 ffn D^2 per layer, and
        twice the attention in a VAM layer."""
        d, f = self.d_model, self.ffn_mult
        return self.bridge_layers * (4 + 2 * f) * d * d + self.vam_layers * (8 + 2 * f) * d * d

    def memory_estimate(self) -> int:
        """About how many bytes one image's forward pass needs at the largest (float32): the
        weights, the backbone's widest early features (about 96 bytes per input pixel), one
        bridge layer's attention maps (heads x T^2 for T = H/32 x W/32 tokens, scores and
        softmax) and the heatmaps. Coarse on purpose: it tells a network that fits a
        workstation from one that never could, before anything is allocated."""
        h, w = self.input_hw
        tokens = (h // 32) * (w // 32)
        k = len(self.schema_def["keypoints"]) if isinstance(self.schema_def, dict) and isinstance(
            self.schema_def.get("keypoints"), list) else 68
        weights = (self.transformer_parameters() + 25_000_000) * 4
        attention = 2 * max(self.bridge_heads, self.vam_heads) * tokens * tokens * 4
        maps = (k + self.decoder_channels[-1]) * h * w * 4
        return int(weights + 96 * h * w + attention + maps)

    def get_schema(self) -> Schema:
        """The schema this network predicts: the embedded definition when present (a
        checkpoint keeps the one it was trained with), else the shipped one by name."""
        if self.schema_def is not None:
            schema = Schema.from_dict(self.schema_def, source=f"schema {self.schema!r} in the model config")
            if schema.name != self.schema:
                raise ConfigError(f"config names schema {self.schema!r} but embeds {schema.name!r}")
            return schema
        try:
            return load_schema(self.schema)
        except SchemaError as exc:
            raise ConfigError(f"unknown schema in model config: {exc}") from exc

    @property
    def input_hw(self) -> tuple[int, int]:
        """(H, W) of the network input."""
        size = self.input_size
        return (size[0], size[1]) if isinstance(size, list) else (size, size)

    @property
    def num_keypoints(self) -> int:
        return self.get_schema().k

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_def"] = self.get_schema().to_dict()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        if not isinstance(data, dict):
            raise ConfigError("model config must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown model config field(s): {', '.join(unknown)}")
        try:
            config = cls(**data)
        except TypeError as exc:
            raise ConfigError(f"bad model config: {exc}") from exc
        config.get_schema()  # an unknown or broken schema fails here, not at first use
        return config

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"model config is not valid JSON: {exc}") from exc
        return cls.from_dict(data)
