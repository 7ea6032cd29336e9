"""The assembled network: shapes for both backbones and both sizes, config checks."""

import pytest
import torch

from vam_gui.model import ConfigError, ModelConfig, build_model
from vam_gui.model.decoder import DecoderStage
from vam_gui.model.transformer import sine_position_encoding_2d


@pytest.mark.parametrize("backbone", ["efficientnet_v2_s", "mobilenet_v3_large"])
@pytest.mark.parametrize("size", [512, 256])
def test_full_model_shapes(backbone, size):
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone=backbone, input_size=size)).eval()
    stages = []
    for m in model.modules():
        if isinstance(m, DecoderStage):
            m.register_forward_pre_hook(lambda s, i: stages.append((tuple(2 * d for d in i[0].shape[2:]),
                                                                    tuple(i[1].shape[2:]))))
    with torch.inference_mode():
        out = model(torch.randn(1, 3, size, size))
    assert out.shape == (1, 20, size, size)
    assert torch.isfinite(out).all()
    assert len(stages) == 4 and all(a == b for a, b in stages)


def test_default_architecture():
    model = build_model(ModelConfig())
    assert model.backbone.channels == (24, 48, 64, 256)
    assert len(model.bridge.encoder.layers) == 4
    layer = model.bridge.encoder.layers[0]
    assert layer.norm_first and layer.self_attn.num_heads == 8
    assert layer.linear1.out_features == 4 * 256
    assert len(model.vam.layers) == 3
    assert model.vam.queries.shape == (20, 256)
    # half the channels embed the vertebra level, half the corner type
    assert model.vam.level_embed.weight.shape == (5, 128)
    assert model.vam.corner_embed.weight.shape == (4, 128)


def test_anatomical_embedding_follows_schema():
    model = build_model(ModelConfig(schema="lumbar-lat-22", backbone="mobilenet_v3_large", input_size=64,
                                    d_model=32, bridge_heads=2, vam_heads=2))
    emb = model.vam.anatomical_embedding()
    assert emb.shape == (22, 32)
    # S1-SA (20) and L1-SA (0) share the corner half but not the level half
    assert torch.equal(emb[20, 16:], emb[0, 16:])
    assert not torch.equal(emb[20, :16], emb[0, :16])


@pytest.mark.parametrize("decoder", ["multiscale", "simple"])
def test_tiny_model_trains_one_step(decoder):
    from vam_gui.model import gaussian_heatmaps, heatmap_loss
    from vam_testing import tiny_config

    torch.manual_seed(0)
    config = tiny_config(decoder=decoder)
    model = build_model(config)
    x = torch.randn(2, 3, 64, 64)
    target = gaussian_heatmaps(torch.rand(2, 20, 2) * 63, 64)
    loss = heatmap_loss(model(x), target)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert torch.isfinite(loss)


def test_wrong_input_size_is_a_clear_error():
    from vam_testing import tiny_config

    model = build_model(tiny_config())
    with pytest.raises(ValueError, match=r"expected input \[B, 3, 64, 64\]"):
        model(torch.randn(1, 3, 96, 96))


@pytest.mark.parametrize("field,value", [("input_size", 500), ("backbone", "resnet"),
                                         ("decoder", "fancy"), ("d_model", 30), ("sigma", 0)])
def test_bad_config(field, value):
    with pytest.raises(ConfigError):
        ModelConfig(**{field: value})


def test_config_json_round_trip_embeds_schema():
    config = ModelConfig(schema="spine-ap-68", input_size=256)
    again = ModelConfig.from_json(config.to_json())
    assert again.to_dict() == config.to_dict()
    assert again.schema_def["name"] == "spine-ap-68"
    assert again.num_keypoints == 68


def test_position_encoding_distinguishes_every_cell():
    pe = sine_position_encoding_2d(16, 16, 256)
    assert pe.shape == (256, 256)
    assert torch.unique(pe, dim=0).shape[0] == 256
