"""The typed model card: strict on what the runtime reads, every committed card readable."""

from __future__ import annotations

import json
import pathlib
import shutil
import typing

import pytest

from vision.errors import ModelLoadError
from vision.infer import Predictor
from vision.io import MODALITIES
from vision.registry import CARD_FILE, Modality, ModelCard

REPO_MODELS = pathlib.Path(__file__).resolve().parents[2] / "models"


def _card(folder: pathlib.Path) -> dict[str, typing.Any]:
    return dict(json.loads((folder / CARD_FILE).read_text()))


def test_every_committed_card_reads() -> None:
    cards = sorted(REPO_MODELS.glob(f"*/*/{CARD_FILE}"))
    assert cards, "no committed model"
    for path in cards:
        card = ModelCard.read(path.parent)
        assert (card.name, card.version) == (path.parent.parent.name, path.parent.name)
        assert 0 < card.threshold < 1 and card.false_alarm_rate == 0.05


def test_a_misspelt_field_is_refused_not_defaulted(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    card = _card(folder)
    card["kind_tresholds"] = {"luggage": 0.9}
    (folder / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelLoadError, match="unknown field 'kind_tresholds'"):
        Predictor(folder)


def test_several_problems_are_named_at_once(tiny_model_dir: pathlib.Path) -> None:
    card = _card(tiny_model_dir)
    del card["name"]
    card["threshold"] = 2.0
    card["modalities"] = ["x-ray"]
    with pytest.raises(ModelLoadError) as caught:
        ModelCard.parse(card)
    message = str(caught.value)
    assert "lacks name" in message and "threshold must be a number in [0, 1]" in message
    assert "modalities.0" in message


def test_a_card_round_trips_and_updates_are_checked(
    tiny_model_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    card = ModelCard.read(tiny_model_dir)
    card.write(tmp_path)
    assert ModelCard.read(tmp_path) == card
    assert _card(tmp_path).keys() == _card(tiny_model_dir).keys()  # nothing added that was never set
    assert card.updated(threshold=0.75).threshold == 0.75
    with pytest.raises(ModelLoadError, match="unknown field 'colour'"):
        card.updated(colour="red")


def test_the_card_names_the_modalities_io_knows() -> None:
    assert set(typing.get_args(Modality)) == set(MODALITIES)


def test_the_int8_entry_is_checked_like_the_card(tiny_model_dir: pathlib.Path) -> None:
    card = _card(tiny_model_dir)
    card["int8"] = {
        "file": "model_int8.onnx",
        "threshold": 0.7,
        "kind_thresholds": {"luggage": 0.8},
        "speedup": 2,
    }
    assert ModelCard.parse(card).int8 is not None
    card["int8"]["kind_thresholds"] = {"submarine": 0.8}
    with pytest.raises(ModelLoadError, match="unknown scene kind"):
        ModelCard.parse(card)
