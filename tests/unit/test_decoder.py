"""The multi-scale decoder against the seed specification."""

import pytest
import torch

from vam_gui.model import MultiScaleDecoder, SimpleDecoder
from vam_gui.model.decoder import DecoderStage


def count(module):
    return sum(p.numel() for p in module.parameters())


def features(batch, size, channels=(24, 48, 64, 256)):
    h, w = size if isinstance(size, tuple) else (size, size)
    return {
        "F1": torch.randn(batch, channels[0], h // 2, w // 2),
        "F2": torch.randn(batch, channels[1], h // 4, w // 4),
        "F3": torch.randn(batch, channels[2], h // 8, w // 8),
        "F4": torch.randn(batch, channels[3], h // 32, w // 32),
    }


def watch_stages(module):
    """Record, for every DecoderStage call, the upsampled size and the skip's size."""
    seen = []

    def hook(stage, inputs):
        x, skip = inputs
        up = tuple(int(s * stage.scale_factor) for s in x.shape[2:])
        seen.append((up, tuple(skip.shape[2:])))

    handles = [m.register_forward_pre_hook(hook) for m in module.modules() if isinstance(m, DecoderStage)]
    return seen, handles


def test_parameter_count_matches_seed():
    assert count(MultiScaleDecoder(20)) == 1_140_052


def test_seed_layer_layout():
    d = MultiScaleDecoder(20)
    assert d.query_to_spatial.spatial_size == (16, 16)
    assert d.query_to_spatial.query_proj.out_features == 256
    assert d.query_to_spatial.channel_proj.out_channels == 256
    convs = [s.conv.block[0] for s in d.stages]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(256 + 64, 128), (128 + 64, 128),
                                                                 (128 + 48, 64), (64 + 24, 32)]
    assert d.heatmap_head.out_channels == 20 and d.heatmap_head.kernel_size == (1, 1)


@pytest.mark.parametrize("size", [512, 256, 128, 64])
def test_output_shape_and_no_fallback_resize(size):
    torch.manual_seed(0)
    decoder = MultiScaleDecoder(20, output_size=size).eval()
    seen, handles = watch_stages(decoder)
    with torch.no_grad():
        out = decoder(torch.randn(1, 20, 256), features(1, size))
    assert out.shape == (1, 20, size, size)
    assert len(seen) == 4
    for up, skip in seen:
        assert up == skip, f"fallback resize would fire at S={size}: {up} vs {skip}"
    for h in handles:
        h.remove()


@pytest.mark.parametrize("size", [512, 256])
def test_simple_decoder(size):
    decoder = SimpleDecoder(256, 20, output_size=size).eval()
    seen, _ = watch_stages(decoder)
    with torch.no_grad():
        out = decoder(torch.randn(2, 256, size // 32, size // 32), features(2, size))
    assert out.shape == (2, 20, size, size)
    assert all(up == skip for up, skip in seen)


@pytest.mark.parametrize("size", [(512, 224), (256, 128), (160, 64), (64, 256), (384, 160)])
def test_rectangular_output_and_no_fallback_resize(size):
    """A film-shaped input (H, W): query grid H/32 x W/32, stage-1 skip H/16 x W/16, and the
    seed's fallback resize never fires."""
    h, w = size
    decoder = MultiScaleDecoder(20, output_size=size).eval()
    assert decoder.query_to_spatial.spatial_size == (h // 32, w // 32)
    assert decoder.query_to_spatial.query_proj.out_features == (h // 32) * (w // 32)
    seen, handles = watch_stages(decoder)
    with torch.no_grad():
        out = decoder(torch.randn(1, 20, 256), features(1, size))
    assert out.shape == (1, 20, h, w)
    assert len(seen) == 4 and seen[0][1] == (h // 16, w // 16)
    for up, skip in seen:
        assert up == skip, f"fallback resize would fire at {size}: {up} vs {skip}"
    for hd in handles:
        hd.remove()
    simple = SimpleDecoder(256, 20, output_size=size).eval()
    seen, _ = watch_stages(simple)
    with torch.no_grad():
        out = simple(torch.randn(1, 256, h // 32, w // 32), features(1, size))
    assert out.shape == (1, 20, h, w) and all(up == skip for up, skip in seen)


@pytest.mark.parametrize("bad", [500, 0, 48, (256, 100), (256,), (96, 48)])
def test_output_size_must_be_multiple_of_32(bad):
    with pytest.raises(ValueError, match="multiple of 32"):
        MultiScaleDecoder(20, output_size=bad)
