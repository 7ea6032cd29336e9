"""The review session: the open study, its command stack, the current image, navigation,
the view log and the reviewer, with no Qt (design.md §12).

Every change goes out as a typed ``Event`` naming what changed (SLEAP's ``UpdateTopic``,
napari's evented models): the window subscribes and updates only what an event names; the
CLI and tests drive the same session. Subscribers are called synchronously, in the order they
subscribed, after the change is in the store.

What each action emits:

- ``open``: STUDY_CLOSED (if a study was open), STUDY_OPENED, then IMAGE_CHANGED for the
  first unreviewed image (else the first one).
- ``show_image`` / ``step`` / ``next_unreviewed``: IMAGE_CHANGED.
- ``push`` / ``undo`` / ``redo``: POINTS_CHANGED (image, the keypoint indices written) if the
  command writes points, STATUS_CHANGED (image) if it writes the review status, then
  STACK_CHANGED; undo and redo of another image's edit then bring it back: IMAGE_CHANGED.
  A command that refuses (no such point, nothing to accept) emits EDIT_REFUSED (image,
  message); a store that cannot write (disk full, read-only, locked, I/O error) emits
  WRITE_FAILED (image, message). Either way nothing changed: the store rolled back, the stack
  is as before (a failed undo keeps its command, a failed redo too), and subscribers put
  back what they drew ahead of the store.
- ``prediction_stored``: PREDICTION_STORED (image).
- ``prediction_held``: PREDICTION_STORED (image) for a prediction of a read-only study that is
  kept in memory only (``held_prediction``); it goes with the study.
- ``labels_imported``: STACK_CHANGED (the stack is cleared), then POINTS_CHANGED (every
  index) and STATUS_CHANGED per imported image.
- ``close``: STUDY_CLOSED, before the store closes (subscribers may still stop work on it).
- setting ``reviewer``: REVIEWER_CHANGED (in reader mode the reader follows: READER_CHANGED).
- ``set_reader`` / ``set_blind_first``: STACK_CHANGED (the stack is cleared: its commands were
  done on the other layer), then READER_CHANGED. A study that opens blind-first opens in reader
  mode (the reviewer is the reader), without these events.
- accepting a blind reading in reader mode (a pushed status): that image's commands leave the
  stack (no undo reopens a blind reading), STACK_CHANGED, then MODEL_REVEALED (image).

Reader mode (``reader`` set): the stack edits ``ReaderStudy(study, reader)``, the reader's
current reading; ``edited`` is what the window reads the shown points from. ``model_hidden``
says whether the model must not be shown for an image (blind-first, blind reading not accepted).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from vam_gui.session_views import ViewLog

if TYPE_CHECKING:  # imported when first needed: the window's shell builds before numpy loads
    from vam_gui.core.commands import Command, CommandStack
    from vam_gui.core.prediction import Prediction
    from vam_gui.io import Study


class Topic(enum.Enum):
    STUDY_OPENED = "study opened"
    STUDY_CLOSED = "study closed"
    IMAGE_CHANGED = "image changed"  # the current image is another one (or shown again)
    POINTS_CHANGED = "points changed"  # keypoints of one image were written
    STATUS_CHANGED = "status changed"  # the review status (and reviewer, comment) of one image
    PREDICTION_STORED = "prediction stored"  # a new prediction (and heatmaps) of one image
    STACK_CHANGED = "stack changed"  # what undo and redo would do
    EDIT_REFUSED = "edit refused"  # a command that refused itself; nothing changed
    WRITE_FAILED = "write failed"  # the store could not write a command; nothing changed
    REVIEWER_CHANGED = "reviewer changed"
    READER_CHANGED = "reader changed"  # the stack edits another layer: a reader's reading or the consensus
    MODEL_REVEALED = "model revealed"  # a reader accepted the blind reading of one image


class Event(NamedTuple):
    """What changed. A named tuple, not a frozen dataclass: this module loads with the window's
    shell, and the dataclass compiled its methods at import (2 ms of a ~400 ms start)."""

    topic: Topic
    image_id: str | None = None
    indices: tuple[int, ...] = ()  # keypoint indices (POINTS_CHANGED)
    message: str = ""  # why (EDIT_REFUSED, WRITE_FAILED)


Callback = Callable[[Event], None]
_FAILED = object()  # what _run returns when the action raised


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class ReviewSession:
    """One reviewer's session over at most one open study.

    ``order`` gives the image ids in the order navigation walks them (the window passes its
    worklist's visible rows, filtered and sorted); by default the study's own order.
    """

    def __init__(self, *, reviewer: str | None = None,
                 order: Callable[[], Sequence[str]] | None = None) -> None:
        self._reviewer = reviewer or ""  # "" until asked: the login name
        self.order = order
        self._study: Study | None = None
        self._stack: CommandStack | None = None
        self._current_id: str | None = None
        self._views = ViewLog()  # written when the window idles (session_views.py)
        self._subscribers: list[tuple[Callback, frozenset[Topic] | None]] = []
        self._held: dict[str, Prediction] = {}  # predictions of a read-only study, not stored
        self._reader: str | None = None  # reader mode: whose reading the stack edits

    # ------------------------------------------------------------------ state
    @property
    def study(self) -> Study | None:
        return self._study

    @property
    def stack(self) -> CommandStack | None:
        return self._stack

    @property
    def current_id(self) -> str | None:
        return self._current_id

    @property
    def reviewer(self) -> str:
        """The name that signs every edit and view (default: the login name)."""
        if not self._reviewer:
            from vam_gui.core.commands import default_user

            self._reviewer = default_user()
        return self._reviewer

    @reviewer.setter
    def reviewer(self, name: str) -> None:
        self._reviewer = name
        if self._stack is not None:
            self._stack.user = self.reviewer
        self._emit(Event(Topic.REVIEWER_CHANGED))
        if self._reader is not None and self._reader != self.reviewer:
            self.set_reader(self.reviewer)

    # ------------------------------------------------------------------ readers
    @property
    def reader(self) -> str | None:
        """The reader whose reading the stack edits; None: the consensus."""
        return self._reader

    @property
    def edited(self) -> object:
        """What the stack edits (a ``ReaderStudy`` in reader mode, else the study): the shown
        points are read from it."""
        return self._stack.study if self._stack is not None else self._study

    @property
    def blind(self) -> bool:
        """Reading a blind-first study as a reader: the model is hidden until each image is accepted."""
        return self._reader is not None and self._study is not None and self._study.blind_first

    def model_hidden(self, image_id: str | None = None) -> bool:
        """Whether the model (prediction, heatmaps, confidence) of ``image_id`` (default: the
        shown one) must not be shown: blind-first, and the reader has not accepted it yet."""
        image_id = image_id or self._current_id
        if not self.blind or image_id is None:
            return False
        return self._study.reading_phase(image_id, self._reader) == "blind"

    def default_reader(self, study: Study) -> str | None:
        """The reader a study opens with: the reviewer on a blind-first study, else None."""
        return self.reviewer if study.has_readers and study.blind_first else None

    def _edited_study(self, study: Study, reader: str | None) -> object:
        from vam_gui.io.study_readers import ReaderStudy

        return study if reader is None else ReaderStudy(study, reader)

    def set_reader(self, reader: str | None) -> None:
        """Edit ``reader``'s reading (None: the consensus). The stack is cleared: its commands
        were done on the other layer."""
        if self._study is None or self._stack is None:
            return
        self._reader = reader
        self._stack.clear()
        self._stack.study = self._edited_study(self._study, reader)
        self._emit(Event(Topic.STACK_CHANGED))
        self._emit(Event(Topic.READER_CHANGED, self._current_id))

    def set_blind_first(self, on: bool) -> None:
        """Make the study blind-first (the reviewer reads it as a reader) or not (the consensus
        is edited). Raises ``StudyError`` when the study cannot keep it (read-only, too old)."""
        if self._study is None:
            return
        self._study.set_blind_first(on)
        self.set_reader(self.reviewer if on else None)

    # ------------------------------------------------------------------ events
    def subscribe(self, callback: Callback, topics: Iterable[Topic] | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` for every event (or only those of ``topics``); returns a
        function that unsubscribes."""
        entry = (callback, frozenset(topics) if topics is not None else None)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)

        return unsubscribe

    def _emit(self, event: Event) -> None:
        for callback, topics in list(self._subscribers):
            if topics is None or event.topic in topics:
                callback(event)

    # ------------------------------------------------------------------ studies
    def open(self, path: str | os.PathLike[str], *, take_over: bool = False) -> Study:
        """Open the study at ``path`` (raises ``StudyError``, leaving the open one as it was),
        close the previous one, and show the first unreviewed image. A study another process
        is writing, or one that cannot be written, opens read-only (``read_only``: every edit is
        refused with EDIT_REFUSED) unless ``take_over`` takes the other writer's lock."""
        from vam_gui.core.commands import CommandStack
        from vam_gui.io import Study

        if self._study is not None and take_over and Path(path).resolve() == self._study.path.resolve():
            self.close()  # our own read-only handle must not stand in the way
        study = Study.open(path, take_over=take_over)
        self.close()
        self._study = study
        self._reader = self.default_reader(study)
        self._stack = CommandStack(self._edited_study(study, self._reader), user=self.reviewer)
        self._stack.listeners.append(self._on_command)
        self._emit(Event(Topic.STUDY_OPENED))
        ids = study.image_ids()
        if ids:
            todo = self._unreviewed(ids)
            self.show_image(next((i for i in ids if i in todo), ids[0]))
        return study

    def close(self) -> None:
        """End the current view and close the study. STUDY_CLOSED goes out before the store
        closes, so subscribers can stop work that still uses it."""
        study = self._study
        if study is None:
            return
        self._views.end(study)
        self._study, self._stack, self._current_id, self._reader = None, None, None, None
        self._held.clear()
        try:
            self._emit(Event(Topic.STUDY_CLOSED))
        finally:
            study.close()

    # ------------------------------------------------------------------ navigation
    def show_image(self, image_id: str) -> None:
        """Make ``image_id`` the current image (the view log: one view per showing)."""
        if self._study is None:
            return
        self._views.shown(image_id, self.reviewer)  # written by ``log_views``, not on the way to the paint
        self._current_id = image_id
        self._emit(Event(Topic.IMAGE_CHANGED, image_id))

    def log_views(self) -> None:
        """Write the views of the images shown since the last call, in one transaction (the
        window calls it once it idles after a switch). Raises StudyWriteError (the views are
        kept for the next call)."""
        if self._study is not None:
            self._views.write(self._study)

    def _ids(self) -> list[str]:
        if self._study is None:
            return []
        return list(self.order()) if self.order is not None else self._study.image_ids()

    def step(self, step: int) -> str | None:
        """Show the image ``step`` places on in the navigation order (wrapping round); the id
        shown, or None when there is nothing to show."""
        ids = self._ids()
        if not ids:
            return None
        i = ids.index(self._current_id) if self._current_id in ids else -1
        image_id = ids[(i + step) % len(ids)]
        self.show_image(image_id)
        return image_id

    def next_unreviewed(self) -> str | None:
        """Show the next unreviewed image after the current one (wrapping round; the whole
        study when the navigation order is empty); None when there is none left."""
        study = self._study
        if study is None:
            return None
        ids = self._ids() or study.image_ids()
        start = ids.index(self._current_id) + 1 if self._current_id in ids else 0
        todo = self._unreviewed(ids)
        for image_id in ids[start:] + ids[:start]:
            if image_id != self._current_id and image_id in todo:
                self.show_image(image_id)
                return image_id
        return None

    def _unreviewed(self, ids: Sequence[str]) -> set[str]:
        """Of ``ids``, those still to review: unreviewed consensus, or in reader mode those whose
        blind reading the reader has not accepted (one query)."""
        study = self._study
        if self._reader is None:
            return set(study.image_ids_with_status("unreviewed")).intersection(ids)
        blind = study.readings("blind", ids)
        return {i for i in ids if (r := blind.get(i, {}).get(self._reader)) is None or r.status != "accepted"}

    # ------------------------------------------------------------------ editing
    def push(self, command: Command) -> bool:
        """Do ``command`` and put it on the stack. False (EDIT_REFUSED or WRITE_FAILED) when it
        could not be done; nothing changed then."""
        if self._stack is None or self._study is None:
            return False
        if self._study.read_only:
            why = self._study.read_only_reason or "read-only"
            self._emit(Event(Topic.EDIT_REFUSED, command.image_id, message=f"Not saved: this study is {why}"))
            return False
        hidden = self.model_hidden(command.image_id)
        if self._run(command.image_id, self._stack.push, command) is _FAILED:
            return False
        if hidden and not self.model_hidden(command.image_id):
            # The blind reading is accepted and final: no undo may reopen it.
            self._stack.forget(command.image_id)
            self._emit(Event(Topic.STACK_CHANGED))
            self._emit(Event(Topic.MODEL_REVEALED, command.image_id))
        return True

    def undo(self) -> Command | None:
        """Undo the last command; None when there is none or the store could not write it
        (WRITE_FAILED; the command stays on the stack)."""
        if self._stack is None or not self._stack.can_undo:
            return None
        command = self._run(self._stack.peek_undo().image_id, self._stack.undo)
        return None if command is _FAILED else self._follow(command)

    def redo(self) -> Command | None:
        if self._stack is None or not self._stack.can_redo:
            return None
        command = self._run(self._stack.peek_redo().image_id, self._stack.redo)
        return None if command is _FAILED else self._follow(command)

    def _run(self, image_id: str, action: Callable[..., object], *args: object) -> object:
        """Run a stack action; turn a refusal or a failed write into its event."""
        import sqlite3

        from vam_gui.io.study import StudyError

        try:
            return action(*args)
        except (ValueError, IndexError) as exc:
            self._emit(Event(Topic.EDIT_REFUSED, image_id, message=str(exc)))
        except (StudyError, sqlite3.Error, OSError) as exc:
            self._emit(Event(Topic.WRITE_FAILED, image_id, message=f"Not saved: {_one_line(exc)}"))
        return _FAILED

    def _follow(self, command: Command | None) -> Command | None:
        # Undoing an edit of another image brings that image back on screen.
        if command is not None and command.image_id != self._current_id:
            self.show_image(command.image_id)
        return command

    def _on_command(self, command: Command, _what: str) -> None:
        # The stack's listener: every do, undo and redo, whoever pushed it.
        if command.changed_points:
            self._emit(Event(Topic.POINTS_CHANGED, command.image_id, command.changed_points))
        if command.changes_status:
            self._emit(Event(Topic.STATUS_CHANGED, command.image_id))
        self._emit(Event(Topic.STACK_CHANGED))

    # ------------------------------------------------------------------ from outside the stack
    def prediction_stored(self, image_id: str) -> None:
        """A prediction of ``image_id`` is in the store (inference ran elsewhere)."""
        if self._study is not None:
            self._emit(Event(Topic.PREDICTION_STORED, image_id))

    def prediction_held(self, image_id: str, prediction: Prediction) -> None:
        """A prediction of ``image_id`` that a read-only study could not store: kept here, in
        memory, to be shown as not saved, until the study closes."""
        if self._study is not None:
            self._held[image_id] = prediction
            self._emit(Event(Topic.PREDICTION_STORED, image_id))

    def held_prediction(self, image_id: str) -> Prediction | None:
        """The not-saved prediction of ``image_id`` (read-only studies), if any."""
        return self._held.get(image_id)

    def labels_imported(self, image_ids: Iterable[str]) -> None:
        """An import replaced the labels and status of ``image_ids``. Earlier commands remember
        states the import replaced (undoing them would mix old and imported labels), so the
        stack is cleared; the import itself is in the edit log."""
        if self._study is None or self._stack is None:
            return
        self._stack.clear()
        self._emit(Event(Topic.STACK_CHANGED))
        every = tuple(range(self._study.schema.k))
        for image_id in image_ids:
            self._emit(Event(Topic.POINTS_CHANGED, image_id, every))
            self._emit(Event(Topic.STATUS_CHANGED, image_id))
