"""The camera config is strict: unknown keys and bad values are errors, with the offending key named."""

from __future__ import annotations

import json
import pathlib

import pytest

from vision.motion.config import (
    CameraConfig,
    CameraConfigError,
    GsocParams,
    KnnParams,
    Mog2Params,
    load_cameras_file,
    parse_camera_config,
)


def test_defaults_are_gsoc_confirmed_by_mog2_with_cleanup_and_the_scene_change_rule() -> None:
    config = CameraConfig()
    assert isinstance(config.subtractor, GsocParams) and config.confirm is not None
    assert isinstance(config.confirm.subtractor, Mog2Params) and not config.confirm.seed_jitter
    # A camera naming its subtractor runs it alone, unless it names a confirm too.
    alone = CameraConfig.model_validate({"subtractor": {"kind": "mog2"}})
    assert isinstance(alone.subtractor, Mog2Params) and alone.confirm is None
    assert CameraConfig(subtractor=Mog2Params()).confirm is None
    confirmed = CameraConfig.model_validate({"subtractor": {"kind": "knn"}, "confirm": {}})
    assert confirmed.confirm is not None and isinstance(confirmed.confirm.subtractor, Mog2Params)
    assert CameraConfig.model_validate({"confirm": None}).confirm is None
    assert (config.opening_px, config.median_px) == (3, 5)
    assert config.scene_change.enabled and config.persistence >= 2


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"min_aera": 0.01}, "min_aera"),
        ({"subtractor": {"kind": "mog2", "var_treshold": 10}}, "var_treshold"),
        ({"subtractor": {"kind": "knn", "var_threshold": 10}}, "var_threshold"),  # a MOG2 key on KNN
        ({"scene_change": {"enabled": True, "ratio": 2}}, "ratio"),
        ({"confirm": {"reach_px": 20}}, "reach_px"),
    ],
)
def test_unknown_keys_are_rejected(data: dict[str, object], key: str) -> None:
    with pytest.raises(CameraConfigError, match=key):
        parse_camera_config(data)


@pytest.mark.parametrize(
    "data",
    [
        {"subtractor": {"kind": "vibe"}},
        {"min_area": 0},
        {"median_px": 4},
        {"masks": [[[0, 0], [1, 0]]]},  # two points
        {"zones": {"path": [[0, 0], [2, 0], [1, 1]]}},  # outside 0..1
        {"persistence": 0},
        {"confirm": {"tiles": [0, 3]}},
        {"confirm": {"tiles": [4]}},
        {"confirm": {"flicker_suppression": 0}},
        {"min_travel": -0.1},
    ],
)
def test_bad_values_are_rejected(data: dict[str, object]) -> None:
    with pytest.raises(CameraConfigError):
        parse_camera_config(data)


def test_yaml_and_json_files_load(tmp_path: pathlib.Path) -> None:
    yaml_file = tmp_path / "cameras.yaml"
    yaml_file.write_text(
        "cameras:\n"
        "  trail-3:\n"
        "    subtractor: {kind: knn, dist2_threshold: 300}\n"
        "    zones:\n"
        "      path: [[0.2, 0.5], [0.8, 0.5], [0.9, 1], [0.1, 1]]\n"
    )
    cameras = load_cameras_file(yaml_file)
    assert isinstance(cameras["trail-3"].subtractor, KnnParams)
    assert cameras["trail-3"].subtractor.dist2_threshold == 300
    assert list(cameras["trail-3"].zones) == ["path"]
    json_file = tmp_path / "cameras.json"
    json_file.write_text(json.dumps({"cameras": {"gate": {"min_area": 0.01}}}))
    assert load_cameras_file(json_file)["gate"].min_area == 0.01


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cameras:\n  a:\n    persistance: 3\n", "persistance"),
        ("camera:\n  a: {}\n", "camera"),
        ("cameras:\n  'bad id': {}\n", "bad id"),
        ("cameras: [unclosed\n", "not valid"),
    ],
)
def test_bad_files_name_the_problem(tmp_path: pathlib.Path, text: str, message: str) -> None:
    path = tmp_path / "cameras.yaml"
    path.write_text(text)
    with pytest.raises(CameraConfigError, match=message):
        load_cameras_file(path)


def test_missing_file_is_a_config_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CameraConfigError, match="cannot read"):
        load_cameras_file(tmp_path / "nope.yaml")
