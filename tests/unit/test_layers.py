"""The layering rules of conventions.md, checked in fresh interpreters (pytest-qt already
imports PySide6 into this process, so the check cannot run here)."""

import json
import subprocess
import sys

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
                                    "vam_gui.io", "vam_gui.cli"])
def test_core_and_io_load_no_torch_and_no_qt(module):
    loaded = loaded_after(module)
    assert not loaded & {"torch", "torchvision", "PySide6", "pyqtgraph", "shiboken6"}, loaded


def test_model_loads_no_qt():
    loaded = loaded_after("vam_gui.model", "vam_gui.model.bench", "vam_gui.model.batch_predict")
    assert "torch" in loaded
    assert not loaded & {"PySide6", "pyqtgraph", "shiboken6"}, loaded
