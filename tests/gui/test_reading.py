"""Reader studies in the window (gui/reading.py, gui/adjudication.py): blind-first reading shows
nothing of the model or of other readers until the reader accepts the image, keeps the blind
reading and edits the revised one after; adjudication takes readers' points into the consensus
as single undoable commands."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest

from vam_gui.core.annotation import PointState, ReviewState


def _points(k: int, shift: float) -> np.ndarray:
    return np.array([(x + shift, 14.0 + v * 28 + dy) for v in range(k // 4) for dy in (0, 18) for x in (37.0, 82.0)])


def _predict(study, image_id: str) -> np.ndarray:
    """A stand-in prediction with heatmaps; its points (the consensus seeded from it)."""
    from vam_gui.core.gaussian import gaussian_windows
    from vam_gui.core.letterbox import Letterbox
    from vam_gui.core.prediction import Prediction

    k = study.schema.k
    xy = _points(k, 0.0)
    box = Letterbox.fit(160, 120, 64)
    study.save_prediction(image_id, Prediction(
        xy=xy, confidence=np.full(k, 0.8, np.float32), spread=np.full(k, 2.0, np.float32), letterbox=box,
        heatmaps=gaussian_windows(box.to_model(xy), 64).astype(np.float16), keypoints=study.schema.keypoints,
        model_id="test"))
    return xy


def _read(study, image_id: str, reader: str, xy: np.ndarray) -> None:
    """``reader``'s accepted blind reading of the image, as the store keeps it."""
    points = {i: PointState(float(x), float(y), True, "placed") for i, (x, y) in enumerate(xy)}
    study.apply_edit(image_id, user=reader, kind="move", points=points, reader=reader)
    study.apply_edit(image_id, user=reader, kind="status", review=ReviewState("accepted", None, reader), reader=reader)


def _drawn(win) -> list[tuple[float, float]]:
    """Every point position any shown item of the canvas carries (original px)."""
    out = []
    for item in win.canvas.view.addedItems:
        if not item.isVisible():
            continue
        if isinstance(item, pg.TargetItem):
            out.append((item.pos().x() - 0.5, item.pos().y() - 0.5))
        elif isinstance(item, pg.ScatterPlotItem):
            x, y = item.getData()
            out += [(a - 0.5, b - 0.5) for a, b in zip(x, y)]
        elif isinstance(item, pg.PlotDataItem) and item.xData is not None:
            out += [(a - 0.5, b - 0.5) for a, b in zip(item.xData, item.yData)]
    return out


def _carries(drawn, xy: np.ndarray) -> bool:
    return any(np.hypot(xy[:, 0] - x, xy[:, 1] - y).min() < 0.25 for x, y in drawn)


@pytest.fixture
def blind(window):
    """A blind-first study: image 0 predicted (the consensus seeded from it) and read by bob."""
    study = window.session.study
    image_id = study.image_ids()[0]
    pred = _predict(study, image_id)
    bob = _points(study.schema.k, 6.0)
    _read(study, image_id, "bob", bob)
    study.set_blind_first(True)
    window.open_study(study.path)
    window.session.show_image(image_id)
    return image_id, pred, bob


def test_blind_reading_hides_the_model_and_other_readers_until_accepted(qtbot, window, blind):
    from vam_gui.core.commands import MovePoint

    win, (image_id, pred, bob) = window, blind
    session, canvas = win.session, win.canvas
    assert session.reader == "tester" and session.model_hidden()
    assert win.reading.banner.isVisible() and "Reading blind as tester" in win.reading.banner.label.text()
    # Nothing of the model, the consensus (seeded from the prediction) or bob on the canvas
    assert canvas.heat_item.image is None, "no heatmap"
    assert canvas.ghosts.xy is None and len(canvas.ghosts.item.getData()[0]) == 0, "no prediction ghosts"
    assert not _carries(_drawn(win), pred) and not _carries(_drawn(win), bob)
    assert not win.heat_action.isEnabled() and "read blind" in win.heat_action.toolTip()
    assert not win.view_panel.overlay.isEnabled()
    assert all(win.worklist.table.isColumnHidden(c) for c in (2, 3, 4))
    row = win.worklist.model.rows[win.worklist.model.row_of(image_id)]
    assert (row.status, row.reviewer) == ("unreviewed", None), "the worklist shows the reader's progress"
    # Model actions refuse in one line and change nothing
    win.editor.accept_prediction()
    assert "Reading blind" in win.statusBar().currentMessage()
    assert session.edited.annotation(image_id).is_empty()
    # The reader places points (their blind reading), then accepts: the model appears
    mine = _points(session.study.schema.k, -4.0)
    for i in (0, 1, 2):
        assert win.editor.push(MovePoint(image_id, i, mine[i]))
    assert _carries(_drawn(win), mine[:3]) and not _carries(_drawn(win), pred)
    win.editor.accept_and_next()
    assert session.current_id == image_id, "accepting a blind reading stays to show the model"
    row = win.worklist.model.rows[win.worklist.model.row_of(image_id)]
    assert (row.status, row.reviewer) == ("accepted", "tester"), "the reader's own status, not the consensus's"
    assert not session.model_hidden() and not session.stack.can_undo, "no undo reopens the blind reading"
    assert canvas.heat_item.image is not None and win.heat_action.isEnabled()
    assert np.allclose(canvas.ghosts.xy, pred), "the prediction beside the reader's points"
    assert _carries(_drawn(win), pred) and not _carries(_drawn(win), bob), "still no other reader"
    assert "blind reading accepted" in win.reading.banner.label.text()
    # Later edits go to the revised reading; the blind one is kept; the consensus is untouched
    assert win.editor.push(MovePoint(image_id, 0, (50.0, 60.0)))
    blind_reading = session.study.reading(image_id, "tester", "blind")
    revised = session.study.reading(image_id, "tester", "revised")
    assert blind_reading.status == "accepted" and np.allclose(blind_reading.annotation.xy[:3], mine[:3])
    assert revised.annotation.xy[0].tolist() == [50.0, 60.0] and np.allclose(revised.annotation.xy[1:3], mine[1:3])
    consensus = session.study.annotation(image_id)
    assert np.allclose(consensus.xy, pred) and set(consensus.source) == {"predicted"}
    assert session.study.status(image_id).status == "unreviewed"
    assert session.study.reading(image_id, "bob", "blind").annotation.xy[0].tolist() == bob[0].tolist()
    # Two accepted readings: adjudication, which leaves by itself on an image still read blind
    adj = win.reading.adjudication
    adj.action.trigger()
    assert adj.active and session.reader is None and _carries(_drawn(win), bob)
    session.show_image(session.study.image_ids()[1])
    assert not adj.active and session.reader == "tester" and session.model_hidden()
    assert not _carries(_drawn(win), bob) and "Adjudication left" in win.statusBar().currentMessage()


def test_adjudication_takes_a_readers_points_and_the_mean_as_one_undo_each(qtbot, window):
    win = window
    study = win.session.study
    image_id = study.image_ids()[1]
    k = study.schema.k
    alice, bob = _points(k, -3.0), _points(k, 5.0)
    _read(study, image_id, "alice", alice)
    _read(study, image_id, "bob", bob)
    win.session.show_image(image_id)
    adj = win.reading.adjudication
    assert adj.action.isEnabled()
    adj.action.trigger()
    assert adj.active and win.session.reader is None
    assert set(adj.marks.items) == {"alice", "bob"} and adj.marks.legend.isVisible()
    assert _carries(_drawn(win), alice) and _carries(_drawn(win), bob)
    names = [a.text() for a in adj.take_menu.actions()]
    assert "Take alice's points" in names and "Take bob's selected point" in names

    next(a for a in adj.take_menu.actions() if a.text() == "Take alice's points").trigger()
    consensus = study.annotation(image_id)
    assert np.allclose(consensus.xy, alice) and set(consensus.source) == {"moved"}
    assert win.undo_action.text() == "Undo take alice's points"
    assert np.allclose([win.canvas.layer.position(i) for i in range(k)], alice), "the editable layer shows it"
    win.session.undo()
    assert study.annotation(image_id).is_empty(), "one undo restores the consensus"

    win.canvas.layer.select(4)
    assert adj.take("bob", selected=True)
    consensus = study.annotation(image_id)
    assert consensus.xy[4].tolist() == bob[4].tolist() and np.isnan(consensus.xy[5]).all()
    assert adj.take_mean()
    assert np.allclose(study.annotation(image_id).xy, (alice + bob) / 2)
    win.session.undo()
    assert study.annotation(image_id).xy[4].tolist() == bob[4].tolist()
    assert study.reading(image_id, "alice").annotation.xy.tolist() == alice.tolist(), "readings untouched"

    adj.action.trigger()  # leave
    assert not adj.active and not adj.marks.items and not _carries(_drawn(win), alice)


def test_review_blind_first_turns_reading_on_and_asks_before_turning_it_off(qtbot, window, monkeypatch):
    import vam_gui.gui.reading as reading

    win = window
    study, act = win.session.study, win.reading.blind_action
    assert act.isEnabled() and not act.isChecked() and win.session.reader is None
    act.trigger()
    assert study.blind_first and win.session.reader == "tester" and win.session.model_hidden()
    assert win.reading.banner.isVisible() and not win.heat_action.isEnabled()
    win.model_controls.predict_current()
    assert win.statusBar().currentMessage().startswith("Reading blind: Predict would show the model")
    _read(study, study.image_ids()[2], "bob", _points(study.schema.k, 0.0))
    monkeypatch.setattr(reading, "confirm", lambda *args, **kwargs: False)
    act.trigger()
    assert study.blind_first and act.isChecked() and win.session.reader == "tester", "kept on when not confirmed"
    monkeypatch.setattr(reading, "confirm", lambda *args, **kwargs: True)
    act.trigger()
    assert not study.blind_first and not act.isChecked() and win.session.reader is None
    assert not win.reading.banner.isVisible() and win.heat_action.isEnabled()
    assert not any(win.worklist.table.isColumnHidden(c) for c in (2, 3, 4))
