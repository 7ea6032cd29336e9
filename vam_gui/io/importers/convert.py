"""Labels from one keypoint schema into another of the same view (design.md §2).

Keypoints are matched by (vertebra name, corner): spine-ap-68 -> lumbar-ap-20 keeps L1-L5,
lumbar-ap-20 -> spine-ap-68 fills L1-L5 and leaves T1-T12 alone. Converting between an AP
and a lateral schema is refused: their corners mean different things.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vam_gui.core.schema import Schema, SchemaError, available_schemas, load_schema


def one_line(text: str) -> str:
    """``text`` with its control characters escaped: a message built from a file's own
    names (a file name holding a newline) stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class LabelImportError(ValueError):
    """Labels that cannot be imported at all (a wrong view, an unreadable layout, a bad value).
    ``str()`` is one line naming the file and the record."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def located(exc: LabelImportError, where: str) -> LabelImportError:
    """The same error (same type) prefixed with the file and record it concerns."""
    return type(exc)(f"{where}: {exc}")


class ViewMismatchError(LabelImportError):
    """AP labels for a lateral study or the reverse: never converted."""


def _slots(schema: Schema) -> dict[tuple[str, int], int]:
    return {(schema.vertebrae[v], c): i for (v, c), i in schema.index_by_corner().items()}


def index_map(src: Schema, dst: Schema) -> dict[int, int]:
    """{dst index: src index} for the keypoints both schemas have; LabelImportError when the
    views differ or when neither schema's keypoints are a subset of the other's."""
    if src.view != dst.view:
        raise ViewMismatchError(
            f"cannot convert {src.name} labels ({src.view} view) to the study's schema {dst.name} "
            f"({dst.view} view): AP and lateral corners are different landmarks")
    if src.keypoints == dst.keypoints:
        return {i: i for i in range(dst.k)}
    a, b = _slots(src), _slots(dst)
    if not (a.keys() <= b.keys() or b.keys() <= a.keys()):
        shared = len(a.keys() & b.keys())
        raise LabelImportError(
            f"cannot convert {src.name} labels to {dst.name}: neither schema is a subset of the other "
            f"({shared} keypoint(s) in common)")
    return {di: a[slot] for slot, di in b.items() if slot in a}


def convert_points(xy: np.ndarray, visible: np.ndarray, src: Schema, dst: Schema,
                   sources: list[str] | None = None) -> dict[int, tuple[float, float, bool, str | None]]:
    """{dst index: (x, y, visible, source or None)} for every dst keypoint the labels cover."""
    mapping = index_map(src, dst)
    xy = np.asarray(xy, dtype=np.float64).reshape(src.k, 2)
    visible = np.asarray(visible, dtype=bool).reshape(src.k)
    return {di: (float(xy[si, 0]), float(xy[si, 1]), bool(visible[si]),
                 None if sources is None else sources[si]) for di, si in mapping.items()}


def sub_schema(schema: Schema, names: list[str]) -> Schema:
    """The keypoints ``names`` of ``schema``, in that order (labels of another tool that use
    our keypoint names for part of a schema)."""
    idx = [schema.index(n) for n in names]
    keep = set(idx)
    edges = tuple((idx.index(i), idx.index(j)) for i, j in schema.edges if i in keep and j in keep)
    return Schema(name=f"{schema.name}[{len(idx)}]", view=schema.view, keypoints=tuple(names),
                  vertebra=tuple(schema.vertebra[i] for i in idx), corner=tuple(schema.corner[i] for i in idx),
                  vertebrae=schema.vertebrae, edges=edges, corner_names=schema.corner_names,
                  description=f"part of {schema.name}")


def known_schemas(target: Schema) -> list[Schema]:
    """``target`` first, then every shipped schema with other keypoints."""
    found = [target]
    for name in available_schemas():
        try:
            schema = load_schema(name)
        except SchemaError:
            continue
        if schema.keypoints != target.keypoints:
            found.append(schema)
    return found


def infer_schema(target: Schema, *, names: list[str] | None = None, count: int | None = None,
                 declared: str | None = None, partial: bool = False) -> Schema:
    """The schema labels of another tool are in: by declared name, then by keypoint names,
    then by count (the study's own schema first). Names that are part of a known schema give
    that part, only when ``partial``; names of which some are ours and some unknown, or a
    name given twice, are refused (never matched by count)."""
    known = known_schemas(target)
    if names:
        twice = [n for n, c in Counter(names).items() if c > 1]
        if twice:
            raise LabelImportError(f"duplicate keypoint name {twice[0]!r}")
    if declared:
        for schema in known:
            if schema.name == declared and (names is None or list(schema.keypoints) == list(names)):
                return schema
    if names:
        for schema in known:
            if list(schema.keypoints) == list(names):
                return schema
        return _by_names(known, names, partial)
    n = count
    for schema in known:
        if schema.k == n:
            return schema
    raise _unknown(known, n)


def _by_names(known: list[Schema], names: list[str], partial: bool) -> Schema:
    for schema in known:
        if set(names) <= set(schema.keypoints):
            if not partial:
                raise LabelImportError(f"names {len(names)} of the {schema.k} keypoints of {schema.name}: "
                                       "a partial import must be asked for")
            return sub_schema(schema, list(names))
    ours = {name for schema in known for name in schema.keypoints}
    unknown = [name for name in names if name not in ours]
    if len(unknown) < len(names):  # some names are ours: never guess the rest by count
        raise LabelImportError(f"keypoint {unknown[0]!r} is in no known schema")
    for schema in known:  # names of another tool ("1" .. "20"): by count
        if schema.k == len(names):
            return schema
    raise _unknown(known, len(names))


def _unknown(known: list[Schema], n: int | None) -> LabelImportError:
    return LabelImportError(
        f"cannot tell which keypoint schema {n} keypoint(s) belong to "
        f"(known: {', '.join(f'{s.name} (K = {s.k})' for s in known)})")
