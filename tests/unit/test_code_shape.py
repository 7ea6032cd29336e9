"""The house limits on size (conventions §Small files): no module over 400 lines and no
function over 80, outside tests. A module or function past them is asking to be split by
responsibility; this test names each one."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vam_gui"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50, f"expected the vam_gui package at {PACKAGE}"
    return files


def test_no_module_over_400_lines():
    too_long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines"
                for p in _sources() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not too_long, "split by responsibility:\n" + "\n".join(too_long)


def test_no_function_over_80_lines():
    too_long = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1  # decorators not counted, the body is
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "split by responsibility:\n" + "\n".join(too_long)


def test_the_checks_see_a_long_function(tmp_path):
    """The measure itself: a function of 81 lines is counted as 81."""
    body = "\n".join(f"    x{i} = {i}" for i in range(80))
    tree = ast.parse(f"def f():\n{body}\n")
    node = tree.body[0]
    assert node.end_lineno - node.lineno + 1 == 81
