"""Per-image figures kept in the ``images`` table (format 5 on): the number of check flags,
and the worst confidence and widest spread of the latest prediction.

They are written inside the transaction of every write that changes them: the prediction
(``save_prediction``, which also stores the heatmap peaks the peak-distance check needs) and
every edit of points or of the side the patient faces (``apply_edits``, ``set_facing``). The
flags are counted by :func:`vam_gui.io.review.annotation_flags` from the rows as they stand in
that transaction, with the stored peaks, so no heatmap is decompressed. A damaged row gives
``flags`` NULL (unknown: readers recount it) instead of failing the write. Migrating a file
to format 5 fills every image once (:func:`fill_all`).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from typing import Any

import numpy as np

from vam_gui.core.annotation import Annotation
from vam_gui.core.letterbox import Letterbox
from vam_gui.core.schema import Schema, SchemaError
from vam_gui.io.review import annotation_flags, peaks_in
from vam_gui.io.study_base import is_real


def prediction_figures(confidence: np.ndarray, spread: np.ndarray) -> tuple[float | None, float | None]:
    """(worst confidence, widest spread) of a prediction; None where no value is finite."""
    conf = confidence[np.isfinite(confidence)]
    wide = spread[np.isfinite(spread)]
    return (float(conf.min()) if conf.size else None, float(wide.max()) if wide.size else None)


def peaks_blob(peaks: np.ndarray | None) -> bytes | None:
    return None if peaks is None else np.ascontiguousarray(peaks, dtype=np.float64).tobytes()


def peaks_from_blob(blob: object, k: int) -> np.ndarray | None | str:
    """Stored peaks as [K, 2], None when there are none, or what is wrong with them (a str)."""
    if blob is None:
        return None
    if not isinstance(blob, bytes) or len(blob) != 16 * k:
        return f"peaks is not a blob of {16 * k} bytes"
    return np.frombuffer(blob, dtype=np.float64).reshape(k, 2)


def _annotation(rows: list[tuple[Any, ...]], k: int) -> Annotation | None:
    if [r[0] for r in rows] != list(range(k)):
        return None
    ann = Annotation.empty(k)
    for idx, x, y, visible in rows:
        if not all(v is None or is_real(v) for v in (x, y)) or visible not in (0, 1):
            return None
        ann.xy[idx] = (np.nan if x is None else x, np.nan if y is None else y)
        ann.visible[idx] = bool(visible)
    return ann


def _place(row: tuple[Any, ...] | None) -> tuple[tuple[float, float] | None, str | None] | None:
    """(spacing, facing) of an images row, or None when either is damaged."""
    if row is None:
        return None
    sy, sx, facing = row
    if facing not in (None, "left", "right"):
        return None
    if sy is None and sx is None:
        return None, facing
    return ((float(sy), float(sx)), facing) if all(is_real(v) and v > 0 for v in (sy, sx)) else None


def count_flags_in(conn: sqlite3.Connection, schema: Schema, rid: int) -> int | None:
    """The number of flags of image row ``rid`` as the transaction sees it; None when a row
    it needs is damaged."""
    k = schema.k
    ann = _annotation(conn.execute("SELECT idx, x, y, visible FROM points WHERE image = ? ORDER BY idx",
                                   (rid,)).fetchall(), k)
    if ann is None:
        return None
    if ann.is_empty():
        return 0
    place = _place(conn.execute("SELECT spacing_y, spacing_x, facing FROM images WHERE id = ?",
                                (rid,)).fetchone())
    if place is None:
        return None
    pred = conn.execute("SELECT xy, peaks FROM predictions WHERE image = ?", (rid,)).fetchone()
    xy = peaks = None
    if pred is not None:
        if not isinstance(pred[0], bytes) or len(pred[0]) != 16 * k:
            return None
        xy = np.frombuffer(pred[0], dtype=np.float64).reshape(k, 2)
        stored = peaks_from_blob(pred[1], k)
        if isinstance(stored, str):
            return None
        peaks = stored
    return len(annotation_flags(schema, ann, spacing=place[0], facing=place[1], prediction_xy=xy, peaks=peaks))


def refresh_flags(conn: sqlite3.Connection, schema: Schema, rid: int) -> None:
    """Recount image row ``rid``'s flags inside the caller's transaction."""
    conn.execute("UPDATE images SET flags = ? WHERE id = ?", (count_flags_in(conn, schema, rid), rid))


def _stored_peaks(k: int, width: object, data: object, box_text: object, schema_k: int) -> np.ndarray | None:
    """The peaks of a heatmaps row as the reader would compute them; None when it is damaged."""
    try:
        if not (isinstance(k, int) and isinstance(width, int) and k > 0 and width > 0 and isinstance(data, bytes)):
            return None
        raw = zlib.decompress(data)
        if not raw or len(raw) % (k * width):
            return None
        maps = np.frombuffer(raw, dtype=np.uint8).reshape(k, -1, width)
        box = Letterbox.from_dict(json.loads(box_text)) if isinstance(box_text, (str, bytes)) else None
    except (zlib.error, ValueError, KeyError, TypeError):
        return None
    return None if box is None else peaks_in(maps, box, schema_k)


def fill_all(conn: sqlite3.Connection) -> None:
    """Fill the figures of every image and the peaks of every prediction (the migration to
    format 5, inside its transaction)."""
    if conn.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 0:
        return
    conn.execute("UPDATE images SET worst_confidence = (SELECT worst_confidence FROM predictions"
                 " WHERE image = images.id), max_spread = (SELECT max_spread FROM predictions WHERE image = images.id)")
    text = conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    try:
        schema = Schema.from_json(text[0] if text else "", source="study schema")
    except (TypeError, ValueError, SchemaError):
        conn.execute("UPDATE images SET flags = NULL")  # opening reports the bad schema
        return
    for (rid,) in conn.execute("SELECT image FROM heatmaps WHERE image IN (SELECT image FROM predictions)"
                               " ORDER BY image").fetchall():
        k, width, data, box = conn.execute("SELECT h.k, h.size, h.data, p.letterbox FROM heatmaps h JOIN"
                                           " predictions p ON p.image = h.image WHERE h.image = ?", (rid,)).fetchone()
        conn.execute("UPDATE predictions SET peaks = ? WHERE image = ?",
                     (peaks_blob(_stored_peaks(k, width, data, box, schema.k)), rid))
    for (rid,) in conn.execute("SELECT id FROM images").fetchall():
        refresh_flags(conn, schema, rid)
