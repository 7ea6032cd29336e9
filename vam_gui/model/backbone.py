"""CNN backbones that return the four feature taps F1 (S/2), F2 (S/4), F3 (S/8), F4 (S/32)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

# (feature index of each tap F1..F4, channels of each tap) per torchvision model.
TAPS = {
    "efficientnet_v2_s": ((1, 2, 3, 6), (24, 48, 64, 256)),
    "mobilenet_v3_large": ((1, 3, 6, 15), (16, 24, 40, 160)),
}


class Backbone(nn.Module):
    """Runs torchvision ``features`` up to the last tap (the classifier head is dropped)."""

    def __init__(self, name: str, pretrained: str | None = None):
        super().__init__()
        import torchvision.models as tvm

        taps, channels = TAPS[name]
        weights = None
        if pretrained == "imagenet":
            # Downloads through torchvision's cache; only when the user asked for it.
            weights = tvm.get_model_weights(name).DEFAULT
        net = tvm.get_model(name, weights=weights)
        self.features = nn.Sequential(*list(net.features.children())[: taps[-1] + 1])
        self.taps = taps
        self.channels = channels
        if pretrained not in (None, "imagenet"):
            self._load_local(Path(pretrained), net)

    def _load_local(self, path: Path, net: nn.Module) -> None:
        from vam_gui.model.checkpoint import read_state_dict

        state = read_state_dict(path)
        # Accept a whole torchvision model's state dict or one of its features only.
        state = {k.removeprefix("features."): v for k, v in state.items() if not k.startswith("classifier")}
        own = self.features.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise ValueError(f"{path.name}: not {type(net).__name__} weights ({len(missing)} tensors missing)")
        self.features.load_state_dict({k: state[k] for k in own})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        names = iter(("F1", "F2", "F3", "F4"))
        tap_set = set(self.taps)
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in tap_set:
                out[next(names)] = x
        return out
