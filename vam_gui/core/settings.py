"""User settings: typed defaults here, overrides in a JSON file under the user config folder.

Importing this module writes nothing; ``save_settings`` writes atomically. Window geometry
is not here (the GUI keeps it in QSettings).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from vam_gui.core.atomic import write_json_atomic

MAX_RECENT = 10


@dataclass
class Settings:
    reviewer: str = ""  # empty: the login name
    confidence_threshold: float = 0.3  # points below it are flagged on the canvas
    heatmap_opacity: float = 0.55
    heatmap_colormap: str = "inferno"
    show_heatmap: bool = True
    show_labels: bool = True
    device: str = "auto"  # auto | cuda | cpu
    checkpoint: str = ""  # the model last loaded; empty: the bundled demo model
    recent_studies: list[str] = field(default_factory=list)
    # images above this many pixels are refused from their header, before decoding
    # (DICOM: rows x columns x frames); raise it to open larger ones
    max_image_pixels: int = 200_000_000

    def add_recent(self, path: str | os.PathLike[str]) -> None:
        text = str(Path(path).resolve())
        self.recent_studies = [text] + [p for p in self.recent_studies if p != text][: MAX_RECENT - 1]


def config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path("vam-gui", appauthor=False)


def data_dir() -> Path:
    from platformdirs import user_data_path

    return user_data_path("vam-gui", appauthor=False)


def settings_path() -> Path:
    return config_dir() / "settings.json"


def load_settings(path: Path | None = None) -> Settings:
    """The user's settings; a missing or unreadable file gives the defaults (never an error:
    a broken settings file must not keep the reviewer out of the application)."""
    path = path or settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Settings()
    if not isinstance(data, dict):
        return Settings()
    defaults = Settings()
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name not in data:
            continue
        value, default = data[f.name], getattr(defaults, f.name)
        # Keep the default when the stored value has the wrong type.
        if isinstance(default, bool) != isinstance(value, bool):
            continue
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, (int, float)):
                values[f.name] = type(default)(value)
        elif isinstance(value, type(default)):
            values[f.name] = value
    return Settings(**values)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    return write_json_atomic(path or settings_path(), asdict(settings))
