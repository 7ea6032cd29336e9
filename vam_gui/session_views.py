"""The view log of a review session: which image was shown, to whom, from when to when (review
time; design.md's ``views`` table), with no Qt.

Showing an image writes nothing: the views shown since the last write are written in one
transaction when the window idles (``write``; the window calls it with its read-ahead, 40 ms
after a switch) and when the study closes. A switch then costs no commit on the way to its paint,
and a key held down through many images costs one commit when it is let go. A write that fails
keeps its views for the next one; a read-only study logs none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vam_gui.io import Study


class ViewLog:
    """The views of one open study not yet written, and the last one written while it lasts."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, str, str]] = []  # (image id, to whom, shown at), in the order shown
        self._open: int | None = None  # the view written last, not yet ended

    @property
    def pending(self) -> int:
        return len(self._pending)

    def shown(self, image_id: str, user: str) -> None:
        from vam_gui.io.study_base import now_iso  # loaded with the study this image is of

        self._pending.append((image_id, user, now_iso()))

    def write(self, study: Study) -> None:
        """Write the views shown since the last write (raises StudyWriteError, keeping them)."""
        if not self._pending:
            return
        view = study.log_views(self._pending, ending=self._open)
        self._pending, self._open = [], view or None

    def end(self, study: Study) -> None:
        """The study closes: write what is pending and end the open view now. The log starts
        afresh for the next study; a failure here loses the last views' review time and is
        not raised (the study closes all the same)."""
        from vam_gui.io import StudyError

        try:
            self.write(study)
            if self._open is not None:
                study.end_view(self._open)
        except StudyError:
            pass
        finally:
            self._pending, self._open = [], None
