"""Before the window starts on X11: the system libraries Qt's xcb platform plugin needs.

Qt itself reports a missing one as "could not load the Qt platform plugin xcb" with a hint
about libxcb-cursor0 and aborts (exit 134), even when another library is the one missing.
Here the plugin's dependencies are listed (``ldd``; else the first one the dynamic loader
names) and turned into the Debian/Ubuntu package names to install, in one line.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path


def xcb_plugin() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or spec.origin is None:
        return None
    plugin = Path(spec.origin).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def debian_package(soname: str) -> str:
    """libxcb-icccm.so.4 -> libxcb-icccm4, libxkbcommon-x11.so.0 -> libxkbcommon-x11-0 (Debian's
    rule: the library name plus its so-version, with a dash when the name ends in a digit)."""
    m = re.fullmatch(r"(lib[\w+.-]+?)\.so\.(\d+)(?:\.[\d.]+)?", soname)
    if not m:
        return soname
    name, version = m.groups()
    return f"{name}-{version}" if name[-1].isdigit() else f"{name}{version}"


def missing_libraries(plugin: Path) -> list[str]:
    """Shared libraries the plugin needs that the loader cannot find (sonames, sorted).

    The plugin is loaded first: when that works nothing is missing, and Qt finds it (and its
    libraries) loaded already, so a start pays for no extra process. Only when it fails is
    ``ldd`` asked for every missing library (the loader names the first one only)."""
    import ctypes

    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        m = re.match(r"([^:\s]+\.so[.\d]*): cannot open shared object file", str(exc))
        first = [m.group(1)] if m else []
    else:
        return []
    import shutil
    import subprocess

    if shutil.which("ldd"):
        out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=20).stdout
        listed = sorted({line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line})
        return listed or first
    return first


def qt_platform_problem() -> str | None:
    """One line naming the packages to install when the window would fail to start on X11,
    else None (not Linux, Wayland or offscreen asked for, libraries present)."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb"):
        return None
    if not platform and os.environ.get("WAYLAND_DISPLAY") and not os.environ.get("DISPLAY"):
        return None
    plugin = xcb_plugin()
    if plugin is None:
        return None
    missing = missing_libraries(plugin)
    if not missing:
        return None
    packages = " ".join(sorted({debian_package(s) for s in missing}))
    return (f"the window needs system libraries that are missing ({', '.join(missing)}); "
            f"on Debian or Ubuntu: sudo apt-get install {packages}")
