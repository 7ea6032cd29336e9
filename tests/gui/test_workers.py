"""Workers: slots given to submit() are connected before the job runs."""

from __future__ import annotations


def _fails_at_once(*, progress, cancel, emit):
    raise ValueError("bad input")


def _streams(*, progress, cancel, emit):
    emit("first")
    progress(1, 1)
    return "result"


def test_a_job_that_fails_at_once_is_heard(qtbot):
    from vam_gui.gui.workers import Workers

    workers = Workers()
    failed, done = [], []
    for _ in range(20):  # the race showed up only sometimes: try it many times
        workers.submit(_fails_at_once, on={"failed": lambda _id, msg: failed.append(msg),
                                           "done": lambda job_id: done.append(job_id)})
    qtbot.waitUntil(lambda: len(done) == 20, timeout=10000)
    assert failed == ["bad input"] * 20
    assert workers.wait()


def test_streamed_items_progress_and_result_arrive_in_order(qtbot):
    from vam_gui.gui.workers import Workers

    workers = Workers()
    seen = []
    workers.submit(_streams, on={"item": lambda _id, item: seen.append(("item", item)),
                                 "progress": lambda _id, d, t: seen.append(("progress", d, t)),
                                 "finished": lambda _id, result: seen.append(("finished", result))})
    qtbot.waitUntil(lambda: len(seen) == 3, timeout=10000)
    assert seen == [("item", "first"), ("progress", 1, 1), ("finished", "result")]
    assert workers.wait()


def _counts_until_cancelled(*, progress, cancel, emit):
    import time

    done = 0
    while not cancel() and done < 10_000:
        done += 1
        emit(done)
        time.sleep(0.001)
    return done


def test_a_cancelled_job_still_returns_what_it_did_and_done_comes_last(qtbot):
    from vam_gui.gui.workers import Workers

    workers = Workers()
    events = []
    job = workers.submit(_counts_until_cancelled, on={
        "item": lambda _id, n: n == 3 and job.cancel(),
        "finished": lambda job_id, n: events.append(("finished", job_id, n)),
        "done": lambda job_id: events.append(("done", job_id))})
    qtbot.waitUntil(lambda: bool(events) and events[-1][0] == "done", timeout=10000)
    assert events[0][0] == "finished" and events[0][1] == job.id
    assert 3 <= events[0][2] < 10_000  # stopped early, its partial result delivered
    assert events[1] == ("done", job.id)
    assert workers.wait()
    qtbot.waitUntil(lambda: not workers.jobs, timeout=2000)  # forgotten once answered


def _fails_with_a_long_message(*, progress, cancel, emit):
    raise RuntimeError("first line\nsecond line")


def test_a_failure_reaches_the_window_as_one_line(qtbot, capsys):
    from vam_gui.gui.workers import Workers

    workers = Workers()
    failed = []
    workers.submit(_fails_with_a_long_message, on={"failed": lambda _id, msg: failed.append(msg)})
    qtbot.waitUntil(lambda: bool(failed), timeout=10000)
    assert failed == ["first line"]
    assert "Traceback" in capsys.readouterr().err  # the full story still goes to stderr
    assert workers.wait()


def test_unknown_signal_names_are_refused_before_anything_runs(qtbot):
    import pytest

    from vam_gui.gui.workers import Workers

    workers = Workers()
    with pytest.raises(TypeError, match="finish"):
        workers.submit(_streams, on={"finish": print})
    assert workers.jobs == {}
