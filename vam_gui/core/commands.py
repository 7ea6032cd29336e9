"""Edits as commands, with one undo/redo stack (no Qt).

A command holds values (image id, keypoint index, coordinates), never widgets. The first
``do`` reads the state it is about to change from the study and remembers it; ``undo``
writes that state back and ``redo`` writes the new state again, so both restore exactly.
Every do, undo and redo goes through ``study.apply_edit``: one committed, logged
transaction each. The study is anything with the store's interface (``core.store.StudyStore``;
``vam_gui.io.Study`` is the one we ship).
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.annotation import Annotation, PointState, ReviewState
from vam_gui.core.store import StudyStore

# What one command writes: the new state of some points and, optionally, of the review.
_Edit = tuple[dict[int, PointState], ReviewState | None]

# Editing an image that nobody has looked at yet marks it as being reviewed.
_STARTED = {"unreviewed": "in_progress"}


def default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (some containers)
        return "unknown"


class Command:
    """Base class: subclasses compute ``_before``/``_after`` in ``_prepare``."""

    kind = "edit"

    def __init__(self, image_id: str) -> None:
        self.image_id = image_id
        self._before: _Edit | None = None
        self._after: _Edit | None = None
        self._names: tuple[str, ...] = ()  # the schema's keypoint names, once done: labels name points

    def _point_name(self, index: int) -> str:
        return self._names[index] if 0 <= index < len(self._names) else f"point {index}"

    @property
    def label(self) -> str:
        return self.kind

    @property
    def changed_points(self) -> tuple[int, ...]:
        """The keypoint indices this command writes, in order (empty until it is done)."""
        return tuple(sorted(self._after[0])) if self._after is not None else ()

    @property
    def changes_status(self) -> bool:
        """Whether this command writes the image's review status (known once it is done)."""
        return self._after is not None and self._after[1] is not None

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        raise NotImplementedError

    def _started(self, study: StudyStore, user: str) -> ReviewState | None:
        review = study.status(self.image_id)
        if review.status in _STARTED:
            return ReviewState(_STARTED[review.status], review.comment, user)
        return None

    def do(self, study: StudyStore, user: str) -> None:
        self._names = tuple(study.schema.keypoints)
        if self._after is None:
            ann = study.annotation(self.image_id)
            points, review = self._prepare(study, user)
            old_review = study.status(self.image_id) if review is not None else None
            self._before = ({i: ann.point(i) for i in points}, old_review)
            self._after = (points, review)
        self._write(study, user, self._after, self.kind)

    def undo(self, study: StudyStore, user: str) -> None:
        assert self._before is not None, "undo before do"
        self._write(study, user, self._before, f"undo {self.kind}")

    def redo(self, study: StudyStore, user: str) -> None:
        self._write(study, user, self._after, f"redo {self.kind}")

    def _write(self, study: StudyStore, user: str, state: _Edit | None, kind: str) -> None:
        if state is None:
            raise RuntimeError(f"{self.label}: undo or redo before the command was done")
        points, review = state
        study.apply_edit(self.image_id, user=user, kind=kind, label=self.label, points=points, review=review)


class MovePoint(Command):
    """Put keypoint ``index`` at ``xy`` (original pixels); it becomes visible, and its source
    becomes "moved" (it had a position) or "placed" (it had none)."""

    kind = "move"

    def __init__(self, image_id: str, index: int, xy: Iterable[float]) -> None:
        super().__init__(image_id)
        self.index = int(index)
        x, y = (float(v) for v in xy)
        if not (np.isfinite(x) and np.isfinite(y)):
            raise ValueError(f"cannot move a point to a non-finite position ({x}, {y})")
        self.xy = (x, y)

    @property
    def label(self) -> str:
        return f"move {self._point_name(self.index)}"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        old = study.annotation(self.image_id).point(self.index)
        source = "moved" if np.isfinite(old.x) else "placed"
        return {self.index: PointState(self.xy[0], self.xy[1], True, source)}, self._started(study, user)


class SetVisible(Command):
    """Mark a keypoint missing (not visible) or visible again; the position is kept."""

    kind = "visibility"

    def __init__(self, image_id: str, index: int, visible: bool) -> None:
        super().__init__(image_id)
        self.index = int(index)
        self.visible = bool(visible)

    @property
    def label(self) -> str:
        return f"{'show' if self.visible else 'mark missing'} {self._point_name(self.index)}"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        old = study.annotation(self.image_id).point(self.index)
        if self.visible and not np.isfinite(old.x):
            raise ValueError(f"point {self.index} has no position yet: place it instead")
        return {self.index: PointState(old.x, old.y, self.visible, old.source)}, self._started(study, user)


class AcceptPrediction(Command):
    """Annotation := the image's latest prediction (every point visible, source "predicted")."""

    kind = "accept prediction"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        pred = study.prediction(self.image_id)
        if pred is None:
            raise ValueError(f"image {self.image_id} has no prediction to accept")
        points = {i: PointState(float(x), float(y), True, "predicted") for i, (x, y) in enumerate(pred.xy)}
        return points, self._started(study, user)


class SetStatus(Command):
    """Review status (unreviewed, in_progress, accepted, flagged) with an optional comment."""

    kind = "status"

    def __init__(self, image_id: str, status: str, comment: str | None = None) -> None:
        super().__init__(image_id)
        ReviewState(status)  # validates the name now, not at do()
        self.status = status
        self.comment = comment

    @property
    def label(self) -> str:
        return f"mark {self.status.replace('_', ' ')}"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        return {}, ReviewState(self.status, self.comment, user)


class ShiftLevels(Command):
    """Move every label ``delta`` vertebrae down (+) or up (-): the corners labelled L2 become
    L3 for delta = +1. Labels shifted off the schema are dropped; vacated ones are unset."""

    kind = "shift levels"

    def __init__(self, image_id: str, delta: int) -> None:
        super().__init__(image_id)
        if int(delta) == 0:
            raise ValueError("shift by at least one level")
        self.delta = int(delta)

    @property
    def label(self) -> str:
        return f"shift labels {'down' if self.delta > 0 else 'up'} {abs(self.delta)} level(s)"

    def _prepare(self, study: StudyStore, user: str) -> _Edit:
        schema = study.schema
        ann: Annotation = study.annotation(self.image_id)
        where = schema.index_by_corner()
        unset = PointState(float("nan"), float("nan"), False, "")
        points = {i: unset for i in range(schema.k)}
        for i, (v, c) in enumerate(zip(schema.vertebra, schema.corner)):
            target = where.get((v + self.delta, c))
            if target is not None:
                points[target] = ann.point(i)
        return points, self._started(study, user)


class CommandStack:
    """Undo/redo over one study. ``user`` (default: the login name) signs every edit."""

    def __init__(self, study: StudyStore, *, user: str | None = None) -> None:
        self.study = study
        self.user = user or default_user()
        self._done: list[Command] = []
        self._undone: list[Command] = []
        self._clean_index = 0
        self.listeners: list[Callable[[Command, str], None]] = []  # (command, "do"|"undo"|"redo")

    def push(self, command: Command) -> None:
        command.do(self.study, self.user)
        self._done.append(command)
        self._undone.clear()
        if self._clean_index > len(self._done) - 1:
            self._clean_index = -1  # the clean state was in the discarded redo branch
        self._notify(command, "do")

    def undo(self) -> Command | None:
        if not self._done:
            return None
        command = self._done[-1]
        command.undo(self.study, self.user)  # a store that refuses raises: the command stays where it was
        self._undone.append(self._done.pop())
        self._notify(command, "undo")
        return command

    def redo(self) -> Command | None:
        if not self._undone:
            return None
        command = self._undone[-1]
        command.redo(self.study, self.user)
        self._done.append(self._undone.pop())
        self._notify(command, "redo")
        return command

    def peek_undo(self) -> Command:
        """The command ``undo`` would undo (IndexError when there is none)."""
        return self._done[-1]

    def peek_redo(self) -> Command:
        """The command ``redo`` would redo (IndexError when there is none)."""
        return self._undone[-1]

    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._undone)

    @property
    def undo_label(self) -> str:
        return self._done[-1].label if self._done else ""

    @property
    def redo_label(self) -> str:
        return self._undone[-1].label if self._undone else ""

    def is_clean(self) -> bool:
        return self._clean_index == len(self._done)

    def set_clean(self) -> None:
        self._clean_index = len(self._done)

    def forget(self, image_id: str) -> int:
        """Drop every command of ``image_id`` from undo and redo (a reader's accepted blind
        reading: no undo may reopen it); the others stay, each writes only its own image.
        How many were dropped."""
        before = len(self._done) + len(self._undone)
        done = [c for c in self._done if c.image_id != image_id]
        if len(done) != len(self._done):
            self._clean_index = -1
        self._done = done
        self._undone = [c for c in self._undone if c.image_id != image_id]
        return before - len(self._done) - len(self._undone)

    def clear(self) -> None:
        self._done.clear()
        self._undone.clear()
        self._clean_index = 0

    def _notify(self, command: Command, what: str) -> None:
        for listener in list(self.listeners):
            listener(command, what)



# The few-gesture commands (built on Command above) live in vam_gui.core.gestures; they are
# importable from here too. Loaded on first use: gestures imports this module, so an import at
# the top or the bottom of this one would be circular whichever module is imported first.
_GESTURES = ("FitTemplate", "MoveColumn", "MoveVertebra", "PredictHere", "ReplacePoints", "SetPoints")

if TYPE_CHECKING:
    from vam_gui.core.gestures import FitTemplate, MoveColumn, MoveVertebra, PredictHere, ReplacePoints, SetPoints


def __getattr__(name: str) -> Any:
    if name in _GESTURES:
        from vam_gui.core import gestures

        return getattr(gestures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AcceptPrediction", "Command", "CommandStack", "FitTemplate", "MoveColumn", "MovePoint", "MoveVertebra",
           "PredictHere", "ReplacePoints", "SetPoints", "SetStatus", "SetVisible", "ShiftLevels", "default_user"]
