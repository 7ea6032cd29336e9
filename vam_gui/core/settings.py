"""User settings: typed defaults here, overrides in a JSON file under the user config folder.

Importing this module writes nothing; ``save_settings`` writes atomically. Window geometry
is not here (the GUI keeps it in QSettings).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from vam_gui.core.atomic import write_json_atomic
from vam_gui.core.fields import checked, coerce

MAX_RECENT = 10


COLORMAPS = ("inferno", "viridis", "magma", "plasma", "CET-L17")  # heatmap colour maps the canvas offers
DEVICES = ("auto", "cuda", "cpu")


@dataclass
class Settings:
    """Each field's kind and range are declared once (``core.fields``); a value in the file
    that does not fit is replaced by the default, and said."""

    reviewer: str = checked("", kind="str")  # empty: the login name
    confidence_threshold: float = checked(0.3, kind="float", lo=0.0, hi=1.0)  # points below it are flagged
    heatmap_opacity: float = checked(0.55, kind="float", lo=0.0, hi=1.0)
    heatmap_colormap: str = checked("inferno", kind="str", choices=COLORMAPS)
    show_heatmap: bool = checked(True, kind="bool")
    show_labels: bool = checked(True, kind="bool")
    device: str = checked("auto", kind="str", choices=DEVICES)
    # torch's CPU threads while the window predicts: one leaves the other cores to the UI
    # (the command line uses every core unless told --threads)
    threads: int = checked(1, kind="int", lo=1, hi=1024)
    checkpoint: str = checked("", kind="str")  # the model last loaded; empty: the bundled demo model
    recent_studies: list[str] = checked(kind="list[str]", default_factory=list)
    # images above this many pixels are refused from their header, before decoding
    # (DICOM: rows x columns x frames); raise it to open larger ones
    max_image_pixels: int = checked(200_000_000, kind="int", lo=1, hi=10**12)

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
    values, problems = coerce(Settings, data)
    for why in problems:  # one line each; the rest of the file still counts
        print(f"vam-gui: {path}: {why}; the default is used", file=sys.stderr)
    return Settings(**values)


def save_settings(settings: Settings, path: Path | None = None) -> Path:
    return write_json_atomic(path or settings_path(), asdict(settings))
