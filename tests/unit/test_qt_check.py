"""The one line naming the Debian packages when Qt's xcb plugin cannot load."""

from pathlib import Path

import pytest

from vam_gui.cli import qt_check


@pytest.mark.parametrize("soname, package", [
    ("libxcb-icccm.so.4", "libxcb-icccm4"),
    ("libxcb-cursor.so.0", "libxcb-cursor0"),
    ("libxcb-keysyms.so.1", "libxcb-keysyms1"),
    ("libxkbcommon-x11.so.0", "libxkbcommon-x11-0"),
    ("libxcb-render-util.so.0", "libxcb-render-util0"),
    ("libEGL.so.1", "libEGL1"),
])
def test_debian_package_names(soname, package):
    assert qt_check.debian_package(soname) == package


def test_the_problem_names_the_packages_and_only_on_x11(monkeypatch, tmp_path):
    plugin = tmp_path / "libqxcb.so"
    plugin.write_bytes(b"")
    monkeypatch.setattr(qt_check, "xcb_plugin", lambda: plugin)
    monkeypatch.setattr(qt_check, "missing_libraries", lambda p: ["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    monkeypatch.setattr(qt_check.sys, "platform", "linux")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.setenv("DISPLAY", ":0")
    line = qt_check.qt_platform_problem()
    assert line is not None and "\n" not in line
    assert line.endswith("sudo apt-get install libxcb-cursor0 libxcb-icccm4")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert qt_check.qt_platform_problem() is None
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setattr(qt_check, "missing_libraries", lambda p: [])
    assert qt_check.qt_platform_problem() is None


def test_missing_libraries_of_a_real_plugin_are_sonames():
    plugin = qt_check.xcb_plugin()
    if plugin is None:
        pytest.skip("PySide6 without the xcb plugin")
    for soname in qt_check.missing_libraries(plugin):
        assert ".so" in soname and " " not in soname


def test_a_plugin_that_loads_costs_no_ldd_run(monkeypatch, tmp_path):
    import ctypes
    import ctypes.util
    import subprocess

    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ldd run for a loadable plugin"))
    libm = ctypes.util.find_library("m")
    loadable = next((p for p in (f"/lib/x86_64-linux-gnu/{libm}", f"/usr/lib/x86_64-linux-gnu/{libm}")
                     if libm and Path(p).is_file()), None)
    if loadable is None:
        pytest.skip("no libm found by path")
    ctypes.CDLL(loadable)
    assert qt_check.missing_libraries(Path(loadable)) == []


def test_a_plugin_that_does_not_load_names_what_the_loader_and_ldd_find(monkeypatch, tmp_path):
    broken = tmp_path / "libqxcb.so"
    broken.write_bytes(b"not an ELF file")
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no ldd: the loader's word
    assert qt_check.missing_libraries(broken) == []  # not a missing library: nothing to install
