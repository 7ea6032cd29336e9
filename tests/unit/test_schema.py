"""Shipped keypoint schemas and the validation of schema files."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from vam_gui.core.resources import resource_path
from vam_gui.core.schema import (
    DEFAULT_SCHEMA,
    Schema,
    SchemaError,
    available_schemas,
    load_schema,
)

SHIPPED = {
    # name: (K, view, number of vertebrae, number of edges)
    "lumbar-ap-20": (20, "AP", 5, 20),
    "lumbar-lat-22": (22, "LAT", 6, 21),
    "spine-ap-68": (68, "AP", 17, 68),
}


def test_available_schemas_lists_shipped_sorted() -> None:
    assert available_schemas() == sorted(SHIPPED)
    assert DEFAULT_SCHEMA == "lumbar-ap-20"
    assert load_schema().name == DEFAULT_SCHEMA


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_schema_shape(name: str) -> None:
    k, view, n_vert, n_edges = SHIPPED[name]
    schema = load_schema(name)
    assert schema.name == name
    assert schema.k == k == len(schema.vertebra) == len(schema.corner)
    assert schema.view == view
    assert len(schema.vertebrae) == n_vert
    assert len(schema.edges) == n_edges
    expected_corners = ("UL", "UR", "LL", "LR") if view == "AP" else ("SA", "SP", "IA", "IP")
    assert schema.corner_names == expected_corners
    assert schema.description


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_index_formula_and_names(name: str) -> None:
    schema = load_schema(name)
    for i, kp in enumerate(schema.keypoints):
        v, c = schema.vertebra[i], schema.corner[i]
        assert i == 4 * v + c
        assert kp == f"{schema.vertebrae[v]}-{schema.corner_names[c]}"
        assert schema.index(kp) == i


def test_arrays_are_int64() -> None:
    schema = load_schema("spine-ap-68")
    va, ca = schema.vertebra_array(), schema.corner_array()
    assert va.dtype == np.int64 and ca.dtype == np.int64
    np.testing.assert_array_equal(4 * va + ca, np.arange(68))


def test_specific_keypoint_names() -> None:
    assert load_schema("lumbar-ap-20").keypoints[9] == "L3-UR"
    lat = load_schema("lumbar-lat-22")
    assert lat.keypoints[20] == "S1-SA"
    assert lat.keypoints[21] == "S1-SP"
    assert lat.vertebrae[-1] == "S1"
    spine = load_schema("spine-ap-68")
    assert spine.keypoints[0] == "T1-UL"
    assert spine.keypoints[67] == "L5-LR"


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_edges_trace_vertebra_outline(name: str) -> None:
    schema = load_schema(name)
    # Outline order UL-UR-LR-LL (AP) or SA-SP-IP-IA (LAT): corner 0-1-3-2-0 in both views.
    outline = {(0, 1), (1, 3), (3, 2), (2, 0)}
    per_vertebra: dict[int, set[tuple[int, int]]] = {}
    for i, j in schema.edges:
        assert schema.vertebra[i] == schema.vertebra[j]
        per_vertebra.setdefault(schema.vertebra[i], set()).add(
            (schema.corner[i], schema.corner[j])
        )
    for v, pairs in per_vertebra.items():
        if schema.vertebrae[v] == "S1":
            assert pairs == {(0, 1)}
        else:
            assert pairs == outline


def test_edges_lateral_s1_single_edge() -> None:
    lat = load_schema("lumbar-lat-22")
    assert (lat.index("S1-SA"), lat.index("S1-SP")) in lat.edges


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_round_trip(name: str) -> None:
    schema = load_schema(name)
    assert Schema.from_dict(schema.to_dict()) == schema
    assert Schema.from_json(schema.to_json()) == schema


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_files_match_to_json_layout(name: str) -> None:
    path = resource_path("schemas", f"{name}.json")
    assert load_schema(name).to_json() == path.read_text(encoding="utf-8")


def test_load_by_path(tmp_path: Path) -> None:
    data = load_schema("lumbar-ap-20").to_dict()
    data["name"] = "custom"
    path = tmp_path / "custom.json"
    path.write_text(json.dumps(data))
    schema = load_schema(str(path))
    assert schema.name == "custom" and schema.k == 20
    assert load_schema(path) == schema


def test_unknown_keypoint_name() -> None:
    with pytest.raises(SchemaError, match="unknown keypoint 'L6-UL'"):
        load_schema().index("L6-UL")


def test_shipped_schema_is_cached() -> None:
    assert load_schema("lumbar-lat-22") is load_schema("lumbar-lat-22")


# --- validation failures -------------------------------------------------------------------


def _base() -> dict:
    return copy.deepcopy(load_schema("lumbar-ap-20").to_dict())


def _write(tmp_path: Path, content: dict | str) -> Path:
    path = tmp_path / "bad.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _expect(tmp_path: Path, content: dict | str, pattern: str) -> None:
    path = _write(tmp_path, content)
    with pytest.raises(SchemaError, match=pattern) as info:
        load_schema(str(path))
    assert str(path) in str(info.value)


def test_bad_json_syntax(tmp_path: Path) -> None:
    _expect(tmp_path, '{"name": "x", ', "invalid JSON")


def test_not_an_object(tmp_path: Path) -> None:
    _expect(tmp_path, "[1, 2]", "must be a JSON object")


def test_missing_field(tmp_path: Path) -> None:
    data = _base()
    del data["edges"]
    _expect(tmp_path, data, "missing field.*'edges'")


def test_wrongly_typed_field(tmp_path: Path) -> None:
    data = _base()
    data["name"] = 3
    _expect(tmp_path, data, "'name' must be a string")


def test_wrongly_typed_vertebrae(tmp_path: Path) -> None:
    data = _base()
    data["vertebrae"] = "L1 L2"
    _expect(tmp_path, data, "'vertebrae' must be a list of strings")


def test_wrongly_typed_keypoint_field(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][3]["corner"] = "3"
    _expect(tmp_path, data, r"keypoints\[3\].*integers")


def test_bool_is_not_an_index(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][1]["corner"] = True
    _expect(tmp_path, data, r"keypoints\[1\].*integers")


def test_bad_view(tmp_path: Path) -> None:
    data = _base()
    data["view"] = "PA"
    _expect(tmp_path, data, "view must be one of.*'PA'")


def test_empty_keypoints(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"] = []
    data["edges"] = []
    _expect(tmp_path, data, "keypoints is empty")


def test_duplicate_keypoint_name(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][5]["name"] = "L1-UL"
    _expect(tmp_path, data, r"keypoints\[5\]: duplicate keypoint name 'L1-UL'")


def test_duplicate_vertebra_name(tmp_path: Path) -> None:
    data = _base()
    data["vertebrae"][4] = "L1"
    _expect(tmp_path, data, r"duplicate vertebra name\(s\) \['L1'\]")


def test_vertebra_index_out_of_range(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][19]["vertebra"] = 5
    _expect(tmp_path, data, r"keypoints\[19\].*vertebra index 5 out of range 0..4")


def test_negative_vertebra_index(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][0]["vertebra"] = -1
    _expect(tmp_path, data, "vertebra index -1 out of range")


def test_corner_out_of_range(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][2]["corner"] = 4
    _expect(tmp_path, data, r"keypoints\[2\].*corner index 4 outside 0..3")


@pytest.mark.parametrize("corner_names", [["UL", "UR", "LL"], ["UL", "UR", "LL", 4], "ULUR"])
def test_bad_corner_names(tmp_path: Path, corner_names: object) -> None:
    data = _base()
    data["corner_names"] = corner_names
    _expect(tmp_path, data, "corner_names")


@pytest.mark.parametrize(
    "edge", [[0], [0, 1, 2], [3, 3], [0, 20], [-1, 0], [0, 1.0], "01", [0, True]]
)
def test_bad_edge(tmp_path: Path, edge: object) -> None:
    data = _base()
    data["edges"][7] = edge
    _expect(tmp_path, data, r"edges\[7\].*not a pair of two distinct keypoint indices in 0..19")


def test_duplicate_vertebra_corner_pair(tmp_path: Path) -> None:
    data = _base()
    data["keypoints"][6]["vertebra"] = 0
    data["keypoints"][6]["corner"] = 2
    _expect(tmp_path, data, r"duplicate \(vertebra, corner\) \(0, 2\).*'L1-LL'")


def test_unknown_schema_name() -> None:
    with pytest.raises(SchemaError, match="unknown schema 'cervical-9'") as info:
        load_schema("cervical-9")
    for name in SHIPPED:
        assert name in str(info.value)


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.json"
    with pytest.raises(SchemaError, match="does not exist") as info:
        load_schema(str(path))
    assert str(path) in str(info.value)


def test_from_dict_names_source() -> None:
    data = _base()
    data["view"] = "XX"
    with pytest.raises(SchemaError, match="^my-source: view"):
        Schema.from_dict(data, source="my-source")


def test_schema_error_is_value_error() -> None:
    assert issubclass(SchemaError, ValueError)
