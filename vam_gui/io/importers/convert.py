"""Labels from one keypoint schema into another of the same view (design.md §2).

Keypoints are matched by (vertebra name, corner): spine-ap-68 -> lumbar-ap-20 keeps L1-L5,
lumbar-ap-20 -> spine-ap-68 fills L1-L5 and leaves T1-T12 alone. Converting between an AP
and a lateral schema is refused: their corners mean different things.
"""

from __future__ import annotations

import numpy as np

from vam_gui.core.schema import Schema, SchemaError, available_schemas, load_schema


class LabelImportError(ValueError):
    """Labels that cannot be imported at all (a wrong view, an unreadable layout)."""


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


def _known(target: Schema) -> list[Schema]:
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
                 declared: str | None = None) -> Schema:
    """The schema labels of another tool are in: by declared name, then by keypoint names,
    then by count (the study's own schema first)."""
    known = _known(target)
    if declared:
        for schema in known:
            if schema.name == declared and (names is None or list(schema.keypoints) == list(names)):
                return schema
    if names:
        for schema in known:
            if list(schema.keypoints) == list(names):
                return schema
        for schema in known:
            if set(names) <= set(schema.keypoints):
                return sub_schema(schema, list(names))
    n = len(names) if names else count
    for schema in known:
        if schema.k == n:
            return schema
    raise LabelImportError(
        f"cannot tell which keypoint schema {n} keypoint(s) belong to "
        f"(known: {', '.join(f'{s.name} (K = {s.k})' for s in known)})")
