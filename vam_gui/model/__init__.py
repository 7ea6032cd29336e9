"""The VAM keypoint network, its targets, DARK decoding, checkpoints and inference (no Qt)."""

from vam_gui.core.prediction import Prediction
from vam_gui.model.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from vam_gui.model.config import ConfigError, ModelConfig
from vam_gui.model.dark import dark_decode
from vam_gui.model.decoder import MultiScaleDecoder, SimpleDecoder
from vam_gui.model.loss import heatmap_loss
from vam_gui.model.network import VamNet, build_model
from vam_gui.model.predictor import Predictor, resolve_device
from vam_gui.model.targets import gaussian_heatmaps

__all__ = [
    "CheckpointError", "ConfigError", "ModelConfig", "MultiScaleDecoder", "Prediction", "Predictor",
    "SimpleDecoder", "VamNet", "build_model", "dark_decode", "gaussian_heatmaps", "heatmap_loss",
    "load_checkpoint", "resolve_device", "save_checkpoint",
]
