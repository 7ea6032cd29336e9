"""Messages and questions to the reviewer, in one place, so that a headless run never waits.

With ``VAM_GUI_EXIT_AFTER_SHOW`` set (the start-up smoke check, CI) nobody is there to press
OK: a message's text goes to stderr as one ``vam-gui: <title>: <text>`` line, a warning or error
makes the application's exit status 1, and a question takes its default answer. Otherwise a
message is a window-modal box opened with ``open()`` (the event loop keeps running: workers
report, the window repaints) and a question is the usual dialog.

The dialog classes are imported where a box is made: the window's shell imports this module,
and creating PySide6's QMessageBox and QInputDialog types costs ~3 ms of its start.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox, QWidget

_failed = False  # a warning or error was shown in a headless run


def headless() -> bool:
    return bool(os.environ.get("VAM_GUI_EXIT_AFTER_SHOW"))


def exit_status() -> int:
    """1 when a headless run met a warning or an error, else 0."""
    return 1 if _failed else 0


def _show(parent: QWidget | None, kind: str, title: str, text: str, name: str) -> QMessageBox | None:
    """A message box; ``kind``: "warning" or "information"."""
    global _failed
    if headless():
        print(f"vam-gui: {title}: {' / '.join(line for line in text.splitlines() if line.strip())}",
              file=sys.stderr)
        if kind == "warning":
            _failed = True
        return None
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    icon = QMessageBox.Icon.Warning if kind == "warning" else QMessageBox.Icon.Information
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if name:
        box.setObjectName(name)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box


def warn(parent: QWidget | None, title: str, text: str, *, name: str = "") -> QMessageBox | None:
    return _show(parent, "warning", title, text, name)


def inform(parent: QWidget | None, title: str, text: str, *, name: str = "") -> QMessageBox | None:
    return _show(parent, "information", title, text, name)


def confirm(parent: QWidget | None, title: str, text: str, yes: str, no: str, *, default: bool = False) -> bool:
    """A two-way question (a modal dialog: the answer is needed before going on); headless: ``default``."""
    if headless():
        return default
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton, parent)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.AcceptRole)
    no_button = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(yes_button if default else no_button)
    box.exec()
    return box.clickedButton() is yes_button


def ask_text(parent: QWidget | None, title: str, label: str, default: str = "") -> tuple[str, bool]:
    """(text, ok) from a one-line question; headless: (default, True)."""
    if headless():
        return default, True
    from PySide6.QtWidgets import QInputDialog

    return QInputDialog.getText(parent, title, label, text=default)


def ask_item(parent: QWidget | None, title: str, label: str, items: list[str], current: int = 0) -> tuple[str, bool]:
    """(item, ok) from a choice; headless: (items[current], True)."""
    if headless():
        return items[current], True
    from PySide6.QtWidgets import QInputDialog

    return QInputDialog.getItem(parent, title, label, items, current, False)
