"""The layering rules of conventions.md, checked in fresh interpreters (pytest-qt already
imports PySide6 into this process, so the check cannot run here)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys
import {modules}
loaded = sorted({{m.split('.')[0] for m in sys.modules}})
print(json.dumps(loaded))
"""


def loaded_after(*modules):
    code = PROBE.format(modules=", ".join(modules))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("module", ["vam_gui.core", "vam_gui.core.schema", "vam_gui.core.letterbox",
                                    "vam_gui.core.prediction", "vam_gui.core.radiograph",
                                    "vam_gui.io", "vam_gui.session", "vam_gui.cli"])
def test_core_and_io_load_no_torch_and_no_qt(module):
    loaded = loaded_after(module)
    assert not loaded & {"torch", "torchvision", "PySide6", "pyqtgraph", "shiboken6"}, loaded


def test_model_loads_no_qt():
    loaded = loaded_after("vam_gui.model", "vam_gui.model.bench", "vam_gui.model.batch_predict")
    assert "torch" in loaded
    assert not loaded & {"PySide6", "pyqtgraph", "shiboken6"}, loaded


# --- the import-linter contracts in pyproject.toml -------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _lint_imports_command():
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[test]')")
    exe = Path(sys.executable).with_name("lint-imports")
    found = str(exe) if exe.exists() else shutil.which("lint-imports")
    if found is None:
        pytest.skip("the lint-imports command is not installed")
    return found


def _lint_copy(tmp_path, edit=None):
    """lint-imports on a copy of the package and pyproject.toml (PYTHONPATH puts the copy first)."""
    cmd = _lint_imports_command()
    shutil.copytree(ROOT / "vam_gui", tmp_path / "vam_gui",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    if edit is not None:
        edit(tmp_path / "vam_gui")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    return subprocess.run([cmd, "--config", str(tmp_path / "pyproject.toml"), "--no-cache"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_import_contracts_hold(tmp_path):
    out = _lint_copy(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout


def test_import_contract_catches_io_importing_model_inside_a_function(tmp_path):
    def sneak_in(pkg):
        with open(pkg / "io" / "review.py", "a", encoding="utf-8") as f:
            f.write("\n\ndef _sneaky():\n    import vam_gui.model  # noqa: F401\n")

    out = _lint_copy(tmp_path, sneak_in)
    assert out.returncode != 0, out.stdout
    assert "vam_gui.io.review -> vam_gui.model" in out.stdout, out.stdout
