"""Keypoint schemas: which corners of which vertebrae a model predicts, and how to draw them.

A schema is a JSON resource (``resources/schemas/<name>.json``). Everything that reads one goes
through :meth:`Schema.from_dict`, so a malformed file fails at load time with a
:class:`SchemaError` naming the file and the reason, rather than as an index error deep in
drawing or training code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from vam_gui.core.resources import resource_path

DEFAULT_SCHEMA = "lumbar-ap-20"
VIEWS = ("AP", "LAT")
_FIELDS = ("name", "view", "description", "vertebrae", "corner_names", "keypoints", "edges")


class SchemaError(ValueError):
    """A schema could not be found, parsed or validated; the message names source and reason."""


@dataclass(frozen=True)
class Schema:
    name: str
    view: str
    keypoints: tuple[str, ...]
    vertebra: tuple[int, ...]
    corner: tuple[int, ...]
    vertebrae: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    corner_names: tuple[str, str, str, str]
    description: str = ""

    @property
    def k(self) -> int:
        return len(self.keypoints)

    def index(self, keypoint_name: str) -> int:
        try:
            return self.keypoints.index(keypoint_name)
        except ValueError:
            raise SchemaError(
                f"schema {self.name!r}: unknown keypoint {keypoint_name!r}"
            ) from None

    def is_subset_of(self, other: Schema) -> bool:
        """Every keypoint of this schema is one of ``other``'s, by name, in the same view."""
        return self.view == other.view and set(self.keypoints) <= set(other.keypoints)

    def indices_in(self, other: Schema) -> np.ndarray:
        """[K] index into ``other``'s keypoints of each of this schema's keypoints, matched by
        name: how a network trained on ``other`` (say spine-ap-68) predicts a study of this
        schema (say lumbar-ap-20). The network's schema stays the truth of what it outputs;
        this only picks from it."""
        if self.view != other.view:
            raise SchemaError(f"schema {self.name!r} ({self.view}) cannot take points from "
                              f"{other.name!r} ({other.view}): different views")
        where = {name: i for i, name in enumerate(other.keypoints)}
        missing = [n for n in self.keypoints if n not in where]
        if missing:
            raise SchemaError(f"schema {self.name!r} is not a subset of {other.name!r}: "
                              f"{len(missing)} keypoint(s) missing there (e.g. {missing[0]})")
        return np.array([where[n] for n in self.keypoints], dtype=np.int64)

    def index_by_corner(self) -> dict[tuple[int, int], int]:
        """{(vertebra index, corner 0-3): keypoint index}: the one map from a corner to its
        keypoint (commands, checks, importers and augmentation look corners up in it)."""
        return {(v, c): i for i, (v, c) in enumerate(zip(self.vertebra, self.corner))}

    def vertebra_array(self) -> np.ndarray:
        return np.asarray(self.vertebra, dtype=np.int64)

    def corner_array(self) -> np.ndarray:
        return np.asarray(self.corner, dtype=np.int64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "view": self.view,
            "description": self.description,
            "vertebrae": list(self.vertebrae),
            "corner_names": list(self.corner_names),
            "keypoints": [
                {"name": n, "vertebra": v, "corner": c}
                for n, v, c in zip(self.keypoints, self.vertebra, self.corner)
            ],
            "edges": [[i, j] for i, j in self.edges],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "<dict>") -> Schema:
        return _parse(data, source)

    def to_json(self) -> str:
        # Same formatting as the shipped files, so a saved schema diffs cleanly against them.
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str = "<json>") -> Schema:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"{source}: invalid JSON: {exc}") from None
        return _parse(data, source)


def _is_int(value: Any) -> bool:
    # bool is an int subclass; true/false in a JSON index field is a mistake, not 1/0.
    return isinstance(value, int) and not isinstance(value, bool)


def _str_list(data: dict[str, Any], key: str, source: str) -> list[str]:
    value = data[key]
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise SchemaError(f"{source}: field {key!r} must be a list of strings")
    return value


def _parse(data: Any, source: str) -> Schema:
    if not isinstance(data, dict):
        raise SchemaError(f"{source}: a schema must be a JSON object, got {type(data).__name__}")
    missing = [key for key in _FIELDS if key not in data]
    if missing:
        raise SchemaError(f"{source}: missing field(s) {', '.join(map(repr, missing))}")
    for key in ("name", "view", "description"):
        if not isinstance(data[key], str):
            raise SchemaError(f"{source}: field {key!r} must be a string")
    if data["view"] not in VIEWS:
        raise SchemaError(f"{source}: view must be one of {VIEWS}, got {data['view']!r}")

    vertebrae = _str_list(data, "vertebrae", source)
    if len(set(vertebrae)) != len(vertebrae):
        dup = sorted({v for v in vertebrae if vertebrae.count(v) > 1})
        raise SchemaError(f"{source}: duplicate vertebra name(s) {dup}")
    corner_names = _str_list(data, "corner_names", source)
    if len(corner_names) != 4:
        raise SchemaError(
            f"{source}: corner_names must hold exactly 4 strings, got {len(corner_names)}"
        )
    names, verts, corners = _parse_keypoints(data["keypoints"], len(vertebrae), source)
    edges = _parse_edges(data["edges"], len(names), source)

    return Schema(
        name=data["name"],
        view=data["view"],
        keypoints=tuple(names),
        vertebra=tuple(verts),
        corner=tuple(corners),
        vertebrae=tuple(vertebrae),
        edges=tuple(edges),
        corner_names=(corner_names[0], corner_names[1], corner_names[2], corner_names[3]),
        description=data["description"],
    )


def _parse_keypoints(raw_kps: Any, n_vertebrae: int, source: str) -> tuple[list[str], list[int], list[int]]:
    """(names, vertebra indices, corner indices): unique names, each (vertebra, corner) slot once."""
    if not isinstance(raw_kps, list):
        raise SchemaError(f"{source}: field 'keypoints' must be a list")
    if not raw_kps:
        raise SchemaError(f"{source}: keypoints is empty")
    names: list[str] = []
    verts: list[int] = []
    corners: list[int] = []
    seen_names: set[str] = set()
    seen_slots: dict[tuple[int, int], str] = {}
    for i, kp in enumerate(raw_kps):
        where = f"{source}: keypoints[{i}]"
        if not isinstance(kp, dict) or not {"name", "vertebra", "corner"} <= kp.keys():
            raise SchemaError(f"{where} must be an object with 'name', 'vertebra' and 'corner'")
        name, v, c = kp["name"], kp["vertebra"], kp["corner"]
        if not isinstance(name, str) or not _is_int(v) or not _is_int(c):
            raise SchemaError(f"{where}: name must be a string, vertebra and corner integers")
        if name in seen_names:
            raise SchemaError(f"{where}: duplicate keypoint name {name!r}")
        if not 0 <= v < n_vertebrae:
            raise SchemaError(
                f"{where} ({name!r}): vertebra index {v} out of range 0..{n_vertebrae - 1}"
            )
        if not 0 <= c <= 3:
            raise SchemaError(f"{where} ({name!r}): corner index {c} outside 0..3")
        if (v, c) in seen_slots:
            raise SchemaError(
                f"{where} ({name!r}): duplicate (vertebra, corner) ({v}, {c}), "
                f"already used by {seen_slots[(v, c)]!r}"
            )
        seen_names.add(name)
        seen_slots[(v, c)] = name
        names.append(name)
        verts.append(v)
        corners.append(c)
    return names, verts, corners


def _parse_edges(raw_edges: Any, k: int, source: str) -> list[tuple[int, int]]:
    """Pairs of two distinct keypoint indices in 0..k-1."""
    if not isinstance(raw_edges, list):
        raise SchemaError(f"{source}: field 'edges' must be a list")
    edges: list[tuple[int, int]] = []
    for e, edge in enumerate(raw_edges):
        ok = (
            isinstance(edge, list)
            and len(edge) == 2
            and all(_is_int(i) and 0 <= i < k for i in edge)
            and edge[0] != edge[1]
        )
        if not ok:
            raise SchemaError(
                f"{source}: edges[{e}] = {edge!r} is not a pair of two distinct "
                f"keypoint indices in 0..{k - 1}"
            )
        edges.append((edge[0], edge[1]))
    return edges


def available_schemas() -> list[str]:
    return sorted(p.stem for p in resource_path("schemas").glob("*.json"))


def _read_file(path: Path) -> Schema:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read schema file: {exc}") from None
    return Schema.from_json(text, source=str(path))


@cache
def _load_shipped(name: str) -> Schema:
    path = resource_path("schemas", f"{name}.json")
    schema = _read_file(path)
    # The file name is how users select a schema, so it must agree with the name stored inside.
    if schema.name != name:
        raise SchemaError(f"{path}: file is named {name!r} but declares name {schema.name!r}")
    return schema


def load_schema(name: str | os.PathLike[str] = DEFAULT_SCHEMA) -> Schema:
    """Load a shipped schema by name, or any schema file by path.

    Shipped schemas are cached; files given by path are re-read each call because the user
    may be editing them.
    """
    text = os.fspath(name)
    shipped = available_schemas()
    if text in shipped:
        return _load_shipped(text)
    path = Path(text)
    looks_like_path = path.suffix.lower() == ".json" or len(path.parts) > 1
    if looks_like_path or path.exists():
        if not path.is_file():
            raise SchemaError(f"{path}: schema file does not exist")
        return _read_file(path)
    raise SchemaError(f"unknown schema {text!r}; available: {', '.join(shipped)}")
