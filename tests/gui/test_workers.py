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
