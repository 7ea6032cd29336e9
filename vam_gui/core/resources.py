"""Find the bundled ``resources`` folder in an installed wheel or a source checkout."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """The folder holding schemas, the sample study and the demo model.

    In a wheel it is shipped as ``vam_gui/resources``; in an editable install or a plain
    checkout it is the top-level ``resources/`` beside the package.
    """
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "resources", package.parent / "resources"):
        if (candidate / "schemas").is_dir():
            return candidate
    raise FileNotFoundError(
        f"vam-gui resources not found beside {package}; the installation is incomplete"
    )


def resource_path(*parts: str) -> Path:
    return resources_dir().joinpath(*parts)
