"""Helpers shared by the unit and GUI tests."""

from __future__ import annotations

from dataclasses import dataclass


def tiny_config(**overrides):
    """A model small enough for CPU tests (mobilenet backbone, narrow transformer)."""
    from vam_gui.model import ModelConfig

    params = dict(backbone="mobilenet_v3_large", input_size=64, d_model=32, bridge_layers=1,
                  vam_layers=1, bridge_heads=2, vam_heads=2, ffn_mult=2,
                  decoder_channels=[16, 16, 8, 8], dropout=0.0)
    params.update(overrides)
    return ModelConfig(**params)


def byte_mutations():
    """A hypothesis strategy for one byte-level mutation: flip, set, insert, delete, truncate."""
    from hypothesis import strategies as st

    return st.one_of(
        st.tuples(st.just("flip"), st.integers(0, 10_000), st.integers(1, 255)),
        st.tuples(st.just("set"), st.integers(0, 10_000), st.integers(0, 255)),
        st.tuples(st.just("insert"), st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
        st.tuples(st.just("delete"), st.integers(0, 10_000), st.integers(1, 16)),
        st.tuples(st.just("truncate"), st.integers(0, 10_000), st.just(0)),
    )


def mutate(data: bytes, mutations) -> bytes:
    """Apply mutations drawn from :func:`byte_mutations` to a file's bytes."""
    buf = bytearray(data)
    for kind, pos, arg in mutations:
        if not buf:
            break
        i = pos % len(buf)
        if kind == "flip":
            buf[i] ^= arg
        elif kind == "set":
            buf[i] = arg
        elif kind == "insert":
            buf[i:i] = arg
        elif kind == "delete":
            del buf[i : i + arg]
        else:
            del buf[i:]
    return bytes(buf)


# What each study format added, undone: DOWNGRADE[v] takes a file at format v + 1 to format v.
DOWNGRADE = {
    4: ["ALTER TABLE images DROP COLUMN flags", "ALTER TABLE images DROP COLUMN worst_confidence",
        "ALTER TABLE images DROP COLUMN max_spread", "ALTER TABLE predictions DROP COLUMN peaks"],
    5: ["DROP TABLE image_dicom"],
    6: ["DROP TABLE readings", "ALTER TABLE edits DROP COLUMN reading"],
}


def downgrade_study(path, version: int) -> None:
    """Rewrite a closed study file as the given older format wrote it (for migration tests)."""
    import sqlite3

    from vam_gui.io.study_db import SCHEMA_VERSION

    conn = sqlite3.connect(path, isolation_level=None)
    for v in range(SCHEMA_VERSION - 1, version - 1, -1):
        for sql in DOWNGRADE[v]:
            conn.execute(sql)
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.close()


@dataclass
class Info:
    """The fields of an ImageInfo the worklist sorts by."""

    image_id: str
    status: str
    worst_confidence: float | None
    max_spread: float | None


def worklist_infos(n=2000, seed=3):
    """``n`` images with every status, ties in confidence and spread, some never predicted."""
    import numpy as np

    from vam_gui.core.annotation import STATUSES

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        predicted = rng.random() > 0.15
        out.append(Info(f"img{i:05d}", STATUSES[rng.integers(0, 4)],
                        float(np.round(rng.random(), 2)) if predicted else None,  # rounded: many ties
                        float(np.round(rng.uniform(1, 9), 1)) if predicted else None))
    return out


def worklist_reference(infos, flags, groups, key, status):
    import math

    from vam_gui.gui.worklist_order import STATUS_ORDER

    def sort_value(i, info):
        if key == "status":
            return STATUS_ORDER[info.status]
        if key == "confidence":
            return math.inf if info.worst_confidence is None else info.worst_confidence
        if key == "spread":
            return math.inf if info.max_spread is None else -info.max_spread
        if key == "flags":
            return -flags.get(info.image_id, 0)
        return 0

    shown = [(i, info) for i, info in enumerate(infos) if status is None or info.status == status]
    shown.sort(key=lambda pair: (groups[pair[0]] if groups else "", sort_value(*pair), pair[0]))
    return [info.image_id for _, info in shown]


