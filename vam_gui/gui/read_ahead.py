"""Read-ahead: while the reviewer looks at one image, the next one in the worklist's order is
read and decoded in a background thread, its display window computed and the picture the
canvas draws made (``paint_items.render_grey``), so that "next image" finds it ready instead of
decoding and rendering on the UI thread (a full-length 16-bit film takes a few hundred
milliseconds to decode, 20 ms to render). The image just shown is kept too, so going back one
image costs no decode either.

Only file reading, decoding and rendering happen in the thread (``io.radiograph.load_radiograph``
and a QImage, which is reentrant: no store, no widget). An entry is used only for the same file,
unchanged: its size, modification time and inode are taken before the read and compared again
when the image is shown; anything else (a file replaced, a failed read) is read again on the UI
thread, where a failure is reported as usual. At most ``keep`` images, and no more bytes than
``budget_bytes`` once read (pixels and pictures), are held (the oldest dropped first); a request
not yet started is dropped when it falls out.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from PySide6.QtGui import QImage

from vam_gui.core.radiograph import Radiograph

Signature = tuple[int, int, int]  # st_size, st_mtime_ns, st_ino


def signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino


class Held(NamedTuple):
    """A radiograph read ahead: its file's signature before the read, and the canvas's picture of
    it at its own window (None: rendered when shown)."""

    before: Signature | None
    rad: Radiograph
    rendered: QImage | None = None


def _read(image_id: str, path: Path) -> Held:
    from vam_gui.gui.paint_items import render_grey
    from vam_gui.io.radiograph import load_radiograph

    before = signature(path)
    rad = load_radiograph(path, known_id=image_id)  # as Study.load_radiograph reads it: no hashing
    window = rad.window  # its percentiles, and its range for the window slider, computed here rather than when shown
    rad.value_range()
    return Held(before, rad, render_grey(rad.pixels, (window.lower, window.upper)))


class _Entry(NamedTuple):
    path: Path
    future: Future


class ReadAhead:
    """Radiographs read ahead of being shown, by image id (see the module's docstring)."""

    def __init__(self, keep: int = 3, budget_bytes: int = 768 << 20) -> None:
        self.keep = keep
        self.budget_bytes = budget_bytes  # pixels held at most (films near the size limit: fewer kept)
        self.enabled = True  # off: requests are ignored (the film benchmark's baseline)
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()  # the executor's creation and shutdown

    def request(self, image_id: str, path: Path) -> None:
        """Read ``path`` (the file of ``image_id``) in the background, unless held already."""
        if not self.enabled:
            return
        entry = self._entries.get(image_id)
        if entry is not None and entry.path == path:
            self._entries.move_to_end(image_id)
            return
        try:
            if not stat.S_ISREG(os.stat(path).st_mode):
                return  # a pipe or a device could block the thread: read when shown, if at all
        except OSError:
            return  # missing: said when the image is shown
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vam-read-ahead")
            future = self._executor.submit(_read, image_id, path)
        self._hold(image_id, _Entry(path, future))

    def keep_shown(self, image_id: str, path: Path, rad: Radiograph, before: Signature | None) -> None:
        """Hold the radiograph on screen (read when its file had ``before``), for a way back."""
        if before is None:
            return
        future: Future = Future()
        future.set_result(Held(before, rad))
        self._hold(image_id, _Entry(path, future))

    def keep_picture(self, image_id: str, rad: Radiograph, picture: QImage) -> None:
        """``picture``: ``rad`` as the canvas drew it at its own window, the image being left;
        held with it (when it is held) so that going back renders nothing either."""
        entry = self._entries.get(image_id)
        if entry is None or not entry.future.done() or entry.future.cancelled() or entry.future.exception():
            return
        held: Held = entry.future.result()
        if held.rad is rad and held.rendered is None:
            future: Future = Future()
            future.set_result(held._replace(rendered=picture))
            self._hold(image_id, _Entry(entry.path, future))

    def take(self, image_id: str, path: Path) -> Held | None:
        """What was read ahead for ``image_id`` from ``path``, if it was (waiting for a read under
        way) and the file is still the one read; else None."""
        entry = self._entries.pop(image_id, None)
        if entry is None or entry.path != path or entry.future.cancelled():
            return None
        try:
            held: Held = entry.future.result()
        except Exception:  # read again on the UI thread, which reports the failure
            return None
        if held.before is None or signature(path) != held.before:
            return None
        return held

    def clear(self) -> None:
        for entry in self._entries.values():
            entry.future.cancel()
        self._entries.clear()

    def close(self) -> None:
        """Drop everything and let the thread end (without waiting for a read under way)."""
        self.clear()
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    def _hold(self, image_id: str, entry: _Entry) -> None:
        old = self._entries.pop(image_id, None)
        if old is not None:
            old.future.cancel()
        self._entries[image_id] = entry
        while len(self._entries) > self.keep or (len(self._entries) > 1 and self._held_bytes() > self.budget_bytes):
            _, dropped = self._entries.popitem(last=False)
            dropped.future.cancel()  # no effect on a read under way or done

    def _held_bytes(self) -> int:
        """Bytes of the radiographs read so far and of their pictures (a read under way is not
        counted yet)."""
        total = 0
        for entry in self._entries.values():
            if entry.future.done() and not entry.future.cancelled() and entry.future.exception() is None:
                held = entry.future.result()
                total += held.rad.pixels.nbytes + (held.rendered.sizeInBytes() if held.rendered is not None else 0)
        return total
