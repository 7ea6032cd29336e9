"""Read-ahead of the next image (gui/read_ahead.py): the held radiograph is the file's, used only
while the file is unchanged, and the window shows the same pixels whether it was read ahead or
not."""

from __future__ import annotations

import os
import threading

import cv2
import numpy as np
import pytest

from tests.gui.conftest import synthetic_radiograph
from vam_gui.gui.bench_films import idle as _idle  # the event loop as the app runs it: other threads run
from vam_gui.gui.read_ahead import ReadAhead, signature
from vam_gui.io.radiograph import load_radiograph


@pytest.fixture
def films(tmp_path):
    paths = []
    for i in range(4):
        path = tmp_path / f"film{i}.png"
        cv2.imwrite(str(path), synthetic_radiograph(10 + i))
        paths.append(path)
    return paths


def test_a_radiograph_read_ahead_is_the_files_with_its_window_and_picture(qtbot, films):
    from vam_gui.gui.paint_items import FastImageItem

    ahead = ReadAhead()
    try:
        ahead.request("a", films[0])
        held = ahead.take("a", films[0])
        assert held is not None
        before, rad, rendered = held
        fresh = load_radiograph(films[0], known_id="a")  # as Study.load_radiograph reads it
        assert np.array_equal(rad.pixels, fresh.pixels)
        assert (rad.window.lower, rad.window.upper) == (fresh.window.lower, fresh.window.upper)
        assert rad.image_id == fresh.image_id == "a" and before == signature(films[0])
        item = FastImageItem(axisOrder="row-major")  # as the canvas draws it, rendered on the UI thread
        item.setImage(fresh.pixels, autoLevels=False, levels=(fresh.window.lower, fresh.window.upper))
        item.render()
        assert rendered is not None and rendered == item.qimage, "the same picture, pixel for pixel"
        assert ahead.take("a", films[0]) is None, "taken once"
    finally:
        ahead.close()


def test_a_changed_missing_or_unreadable_file_is_not_used(films, tmp_path):
    ahead = ReadAhead()
    try:
        ahead.request("a", films[0])
        assert ahead._entries["a"].future.result(10) is not None  # read before the change
        cv2.imwrite(str(films[0]), synthetic_radiograph(99))
        st = os.stat(films[0])
        os.utime(films[0], ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        assert ahead.take("a", films[0]) is None, "the file changed since it was read"

        ahead.request("b", films[1])
        assert ahead.take("b", films[2]) is None, "another path than the one read"

        broken = tmp_path / "broken.png"
        broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
        ahead.request("c", broken)
        assert ahead.take("c", broken) is None, "a failed read is left to the UI thread to report"

        ahead.request("d", films[3])
        films[3].unlink()
        assert ahead.take("d", films[3]) is None

        fifo = tmp_path / "fifo.png"
        os.mkfifo(fifo)  # would block a reader until something writes to it
        ahead.request("e", fifo)
        assert "e" not in ahead._entries and ahead.take("e", fifo) is None
        ahead.request("f", tmp_path / "gone.png")
        assert "f" not in ahead._entries
    finally:
        ahead.close()


def test_at_most_keep_images_are_held_and_close_ends_the_thread(films):
    ahead = ReadAhead(keep=2)
    for n, path in enumerate(films):
        ahead.request(str(n), path)
    assert list(ahead._entries) == ["2", "3"]
    assert ahead.take("0", films[0]) is None
    ahead.close()  # does not wait for a read under way; the thread ends after it
    for thread in [t for t in threading.enumerate() if t.name.startswith("vam-read-ahead")]:
        thread.join(10)
        assert not thread.is_alive()


def test_held_pixels_stay_within_the_budget(films):
    ahead = ReadAhead(keep=3, budget_bytes=int(1.5 * 160 * 120 * 2))  # one and a half films
    try:
        for n, path in enumerate(films[:3]):
            ahead.request(str(n), path)
            ahead._entries[str(n)].future.result(10)
        held = ahead.take("2", films[2])
        assert held is not None
        ahead.keep_shown("2", films[2], held.rad, held.before)  # a read one added: the oldest go
        assert list(ahead._entries) == ["2"]
    finally:
        ahead.close()


def test_the_window_reads_the_next_image_ahead_and_shows_the_same_pixels(qtbot, window):
    ids = window.session.study.image_ids()
    window.session.show_image(ids[0])
    _idle(300)  # the reviewer looks at it: the next image is read meanwhile
    entry = window.current.read_ahead._entries.get(ids[1])
    assert entry is not None and entry.future.done()
    window.session.show_image(ids[1])
    assert ids[1] not in window.current.read_ahead._entries or \
        window.current.read_ahead._entries[ids[1]].future.result().rad is window.canvas.radiograph, \
        "taken, then kept as the image on screen"
    fresh = load_radiograph(window.session.study.image_path(ids[1]))
    assert np.array_equal(window.canvas.radiograph.pixels, fresh.pixels)
    assert window.canvas.window == (fresh.window.lower, fresh.window.upper)


def test_the_window_reads_a_file_changed_after_its_read_ahead_again(qtbot, window):
    ids = window.session.study.image_ids()
    window.session.show_image(ids[0])
    _idle(300)
    assert window.current.read_ahead._entries[ids[1]].future.done()
    path = window.session.study.image_path(ids[1])
    changed = synthetic_radiograph(77)
    cv2.imwrite(str(path), changed)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    window.session.show_image(ids[1])
    assert np.array_equal(window.canvas.radiograph.pixels, changed), "the file as it is now"


def test_closing_the_study_drops_the_images_read_ahead(qtbot, window):
    ids = window.session.study.image_ids()
    window.session.show_image(ids[0])
    _idle(300)
    assert window.current.read_ahead._entries
    window.session.close()
    assert not window.current.read_ahead._entries


def test_the_film_benchmark_times_both_ways_over_the_same_films(qtbot, monkeypatch):
    import vam_gui.gui.read_ahead as read_ahead
    from vam_gui.gui.bench_films import bench_film_switch

    read = []
    original = read_ahead._read
    monkeypatch.setattr(read_ahead, "_read", lambda image_id, path: read.append(path) or original(image_id, path))
    figures = bench_film_switch(n=3, rounds=1, height=240, width=200, dwell_ms=150)
    assert figures["film_switch_read_ahead_ms"] > 0 and figures["film_switch_without_read_ahead_ms"] > 0
    assert figures["film_switch_ratio"] == pytest.approx(
        figures["film_switch_read_ahead_ms"] / figures["film_switch_without_read_ahead_ms"])
    assert figures["film_switch_film_megapixels"] == pytest.approx(0.048)
    assert sorted(p.name for p in read) == ["film01.png", "film02.png"], "read ahead in its rounds only"


def test_the_picture_made_ahead_is_drawn_only_at_the_window_it_was_made_for(qtbot, window):
    """The switch to an image read ahead draws the picture made in the read-ahead's thread (the
    canvas shows the same pixels as one rendered at the switch); a window changed before the
    paint renders anew."""
    canvas, ids = window.canvas, window.session.study.image_ids()
    item = canvas.image_item
    window.session.show_image(ids[0])
    _idle(300)
    made = window.current.read_ahead._entries[ids[1]].future.result().rendered
    assert made is not None
    window.session.show_image(ids[1])
    canvas.viewport().repaint()
    assert item.qimage is made, "drawn as made ahead"
    ahead = canvas.grab().toImage()
    item._renderRequired = True  # rendered on this thread, as without the read-ahead
    canvas.viewport().repaint()
    assert item.qimage is not made and item.qimage == made
    assert canvas.grab().toImage() == ahead

    window.session.show_image(ids[0])
    _idle(300)
    made = window.current.read_ahead._entries[ids[1]].future.result().rendered
    window.session.show_image(ids[1])
    lower, upper = canvas.window
    canvas.set_window(lower, lower + (upper - lower) / 2)  # before its first paint
    canvas.viewport().repaint()
    assert item.qimage is not made and item.qimage != made, "rendered at the window now set"


def test_the_view_log_is_written_once_the_window_idles_and_a_failure_is_said(qtbot, window):
    """A switch commits nothing before its paint; the views are written with the read-ahead
    (READ_AHEAD_DELAY_MS later). A write that fails says so in the status bar and keeps them."""
    from vam_gui.gui.current_image import READ_AHEAD_DELAY_MS

    session, ids = window.session, window.session.study.image_ids()
    study = session.study

    def logged():
        return [r[0] for r in study._query("SELECT images.image_id FROM views JOIN images"
                                           " ON images.id = views.image ORDER BY views.id")]

    _idle(READ_AHEAD_DELAY_MS * 4)
    before = logged()
    session.show_image(ids[1])
    assert logged() == before, "nothing written by the switch itself"
    qtbot.waitUntil(lambda: logged() == [*before, ids[1]], timeout=5000)

    study._conn.execute("PRAGMA query_only = ON")  # every write fails from now on, as on a full disk
    session.show_image(ids[2])
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("Review time not logged"), timeout=5000)
    assert window.canvas.radiograph is not None and session.current_id == ids[2]
    study._conn.execute("PRAGMA query_only = OFF")
    session.show_image(ids[0])
    qtbot.waitUntil(lambda: logged() == [*before, ids[1], ids[2], ids[0]], timeout=5000)


def test_going_back_draws_the_picture_of_the_image_left(qtbot, window):
    """The image just left is held with the picture the canvas drew of it (at its own window):
    going back to it renders nothing, and shows the same pixels; one whose window was changed
    is held without its picture."""
    canvas, session, ids = window.canvas, window.session, window.session.study.image_ids()
    item = canvas.image_item
    session.show_image(ids[0])
    canvas.viewport().repaint()
    drawn = item.qimage
    session.show_image(ids[1])
    canvas.viewport().repaint()
    assert window.current.read_ahead._entries[ids[0]].future.result().rendered is drawn
    session.show_image(ids[0])
    canvas.viewport().repaint()
    assert item.qimage is drawn, "drawn as it was, not rendered again"
    back = canvas.grab().toImage()
    item._renderRequired = True
    canvas.viewport().repaint()
    assert item.qimage is not drawn and canvas.grab().toImage() == back

    lower, upper = canvas.window
    canvas.set_window(lower, (lower + upper) / 2)
    canvas.viewport().repaint()
    session.show_image(ids[1])
    assert window.current.read_ahead._entries[ids[0]].future.result().rendered is None, "another window's picture"
