"""The latest prediction of each image and its heatmaps (quantised, zlib-compressed)."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from vam_gui.core.letterbox import Letterbox
from vam_gui.io.review import peaks_in
from vam_gui.io.study_base import StudyConnection, now_iso
from vam_gui.io.study_db import FIGURES_FROM
from vam_gui.io.study_figures import peaks_blob, peaks_from_blob, prediction_figures, refresh_flags

if TYPE_CHECKING:
    from vam_gui.core.prediction import Prediction


@dataclass(frozen=True)
class StoredPrediction:
    xy: np.ndarray
    confidence: np.ndarray
    spread: np.ndarray
    model_id: str
    created_at: str
    letterbox: Letterbox


def _blob_problem(name: str, blob: object, expected: int) -> str | None:
    if not isinstance(blob, bytes):
        return f"{name} is {type(blob).__name__}, not a blob"
    if len(blob) != expected:
        return f"{name} holds {len(blob)} bytes, expected {expected}"
    return None


def _prediction_problem(row: tuple[Any, ...], k: int) -> str | None:
    xy, conf, spread, model_id, created = row[:5]
    problem = (_blob_problem("xy", xy, 16 * k) or _blob_problem("confidence", conf, 4 * k)
               or _blob_problem("spread", spread, 4 * k))
    if problem is None and not (isinstance(model_id, str) and isinstance(created, str)):
        problem = "model_id or created_at is not text"
    return problem


def _letterbox(text: object) -> Letterbox | str:
    """The stored letterbox, or what is wrong with it."""
    try:
        data = json.loads(text) if isinstance(text, (str, bytes)) else None
        if not isinstance(data, dict):
            return f"letterbox is not a JSON object ({str(text)[:40]!r})"
        return Letterbox.from_dict(data)
    except json.JSONDecodeError as exc:
        return f"letterbox is not JSON ({exc.msg} at character {exc.pos})"
    except (KeyError, TypeError, ValueError) as exc:
        return f"letterbox lacks or mangles a field ({type(exc).__name__}: {exc})"


def _quantised(prediction: Prediction, k: int) -> tuple[tuple[int, int, bytes] | None, np.ndarray | None]:
    """The heatmaps row (k, width, zlib of the uint8 maps) and the peaks of those stored maps
    (what a reader of the row would compute), or (None, None) without heatmaps."""
    if prediction.heatmaps is None:
        return None, None
    heat = np.asarray(prediction.heatmaps)
    quantised = np.rint(np.clip(heat, 0, 1) * 255).astype(np.uint8)
    # "size" is the maps' width; their height follows from the byte count (maps of a
    # film-shaped input are H x W, older square ones S x S).
    row = (heat.shape[0], heat.shape[-1], zlib.compress(quantised.tobytes(), 1))
    maps = quantised.reshape(heat.shape[0], -1, heat.shape[-1]) if quantised.size else None
    return row, peaks_in(maps, prediction.letterbox, k)


class StudyPredictions(StudyConnection):
    """Predictions and heatmaps of a study (mixed into ``Study``)."""

    def save_prediction(self, image_id: str, prediction: Prediction, *, seed_annotation: bool = True) -> None:
        """Store the latest prediction of an image. While nobody has edited the image
        (unreviewed, every point unset or still as predicted), the annotation follows it. The
        image's figures (worst confidence, widest spread, flags) are written with it, in the
        same transaction."""
        k = self.schema.k
        xy = np.asarray(prediction.xy, dtype=np.float64).reshape(k, 2)
        conf = np.asarray(prediction.confidence, dtype=np.float32).reshape(k)
        spread = np.asarray(prediction.spread, dtype=np.float32).reshape(k)
        maps, peaks = _quantised(prediction, k)
        worst, widest = prediction_figures(conf, spread)
        rid = self._row(image_id)
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO predictions(image, model_id, created_at, xy, confidence, spread,"
                " letterbox, worst_confidence, max_spread, peaks) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, prediction.model_id, now_iso(), xy.tobytes(), conf.tobytes(), spread.tobytes(),
                 json.dumps(prediction.letterbox.to_dict()), worst, widest, peaks_blob(peaks)),
            )
            if maps is not None:
                conn.execute("INSERT OR REPLACE INTO heatmaps(image, k, size, data) VALUES (?, ?, ?, ?)",
                             (rid, *maps))
            else:
                conn.execute("DELETE FROM heatmaps WHERE image = ?", (rid,))
            if seed_annotation:
                self._seed_annotation(conn, rid, xy)
            conn.execute("UPDATE images SET worst_confidence = ?, max_spread = ? WHERE id = ?", (worst, widest, rid))
            refresh_flags(conn, self.schema, rid)

    @staticmethod
    def _seed_annotation(conn: sqlite3.Connection, rid: int, xy: np.ndarray) -> None:
        status = conn.execute("SELECT status FROM images WHERE id = ?", (rid,)).fetchone()[0]
        sources = {r[0] for r in conn.execute("SELECT source FROM points WHERE image = ?", (rid,))}
        if status == "unreviewed" and sources <= {"", "predicted"}:
            conn.executemany(
                "UPDATE points SET x = ?, y = ?, visible = 1, source = 'predicted' WHERE image = ? AND idx = ?",
                [(float(x), float(y), rid, i) for i, (x, y) in enumerate(xy)],
            )

    def heatmaps(self, image_id: str) -> np.ndarray | None:
        """The latest prediction's heatmaps as uint8 [K, H, W] (255 = 1.0), for display."""
        rid = self._row(image_id)
        rows = self._query("SELECT k, size, data FROM heatmaps WHERE image = ?", (rid,))
        if not rows:
            return None
        k, width, data = rows[0]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (k, width)):
            raise self._damaged("heatmaps", rid, f"k {k!r} or size {width!r} is not a positive whole number")
        if not isinstance(data, bytes):
            raise self._damaged("heatmaps", rid, f"data is {type(data).__name__}, not a blob")
        try:
            raw = zlib.decompress(data)
        except zlib.error as exc:
            raise self._damaged("heatmaps", rid, f"data is not zlib-compressed ({exc})") from None
        if not raw or len(raw) % (k * width):
            raise self._damaged("heatmaps", rid, f"data holds {len(raw)} bytes, not {k} maps {width} wide")
        return np.frombuffer(raw, dtype=np.uint8).reshape(k, -1, width)

    def prediction(self, image_id: str) -> StoredPrediction | None:
        rid = self._row(image_id)
        rows = self._query("SELECT xy, confidence, spread, model_id, created_at, letterbox FROM predictions"
                           " WHERE image = ?", (rid,))
        return self._stored(rid, rows[0]) if rows else None

    def predictions(self, image_ids: Iterable[str] | None = None) -> dict[str, StoredPrediction]:
        """The latest predictions of many images (every image when ``image_ids`` is None) read
        in one query; images without one are left out. A damaged row raises DamagedRowError
        as ``prediction`` does."""
        wanted = None if image_ids is None else set(image_ids)
        rows = self._query("SELECT i.image_id, p.image, p.xy, p.confidence, p.spread, p.model_id, p.created_at,"
                           " p.letterbox FROM predictions p JOIN images i ON i.id = p.image ORDER BY p.image")
        return {image_id: self._stored(rid, tuple(row)) for image_id, rid, *row in rows
                if wanted is None or image_id in wanted}

    def _stored(self, rid: int, row: tuple[Any, ...]) -> StoredPrediction:
        xy, conf, spread, model_id, created, box = row
        problem = _prediction_problem(row, self.schema.k)
        if problem is not None:
            raise self._damaged("predictions", rid, problem)
        letterbox = _letterbox(box)
        if isinstance(letterbox, str):
            raise self._damaged("predictions", rid, letterbox)
        return StoredPrediction(
            xy=np.frombuffer(xy, dtype=np.float64).reshape(-1, 2).copy(),
            confidence=np.frombuffer(conf, dtype=np.float32).copy(),
            spread=np.frombuffer(spread, dtype=np.float32).copy(),
            model_id=model_id, created_at=created, letterbox=letterbox,
        )

    def peaks(self, image_id: str) -> np.ndarray | None:
        """[K, 2] original px of each stored heatmap's maximum (NaN for an all-zero map), as
        :func:`vam_gui.io.review.heatmap_peaks` computes them, without decompressing the maps:
        stored with the prediction from format 5 on (older files opened read-only: computed)."""
        if self.format_version < FIGURES_FROM:
            from vam_gui.io.review import heatmap_peaks

            return heatmap_peaks(self, image_id)  # type: ignore[arg-type]
        rid = self._row(image_id)
        rows = self._query("SELECT peaks FROM predictions WHERE image = ?", (rid,))
        if not rows:
            return None
        peaks = peaks_from_blob(rows[0][0], self.schema.k)
        if isinstance(peaks, str):
            raise self._damaged("predictions", rid, peaks)
        return None if peaks is None else peaks.copy()
