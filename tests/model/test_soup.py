"""`triage soup`: the uniform average of fine-tunes' weights, written as a checkpoint that export takes."""

from __future__ import annotations

import json
import pathlib
from dataclasses import asdict
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from vision.preprocess import PreprocessSpec
from vision.train.model import build_model
from vision.train.soup import average_checkpoints
from vision.train.train import TrainArgs, load_checkpoint

runner = CliRunner()
WIDTHS = (4, 8, 8, 8)


def a_checkpoint(
    path: pathlib.Path, seed: int, widths: tuple[int, ...] = WIDTHS, epoch: int = 3
) -> pathlib.Path:
    """A training checkpoint of a small network initialised from ``seed``, as `triage train` writes one."""
    torch.manual_seed(seed)
    net = build_model(widths)  # type: ignore[arg-type]
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.num_batches_tracked.fill_(seed + 1)
    state = {
        "model": net.state_dict(),
        "args": asdict(
            TrainArgs(
                data=["data/train"],
                out="runs/x",
                seed=seed,
                input_size=64,
                widths=widths,  # type: ignore[arg-type]
                blocks=(0, 0),
                command=f"triage train --seed {seed}",
            )
        ),
        "preprocessing": PreprocessSpec(input_size=64).to_dict(),
        "epoch": epoch,
        "history": [
            {"epoch": e, "val_auroc": 0.5 + e / 100, "val_dr_at_far_0.05": e / 10} for e in range(epoch + 1)
        ],
        "data": [{"folder": "data/train", "sha256": "a"}, {"folder": f"data/extra{seed}", "sha256": "b"}],
        "validation": [{"folder": "data/val"}],
        "init": {"model": "models/base/1.0.0"},
    }
    torch.save(state, path)
    return path


def test_the_soup_is_the_mean_of_the_weights_and_records_its_ingredients(tmp_path: pathlib.Path) -> None:
    paths = [a_checkpoint(tmp_path / f"{seed}.pt", seed, epoch=2 + seed) for seed in range(3)]
    soup = average_checkpoints(paths, command="triage soup ...")
    states = [torch.load(p, weights_only=False)["model"] for p in paths]
    for key, tensor in soup["model"].items():
        if tensor.is_floating_point():
            mean = sum(s[key].double() for s in states) / 3
            assert torch.allclose(tensor.double(), mean, atol=1e-6) and tensor.dtype == states[0][key].dtype
        else:
            assert torch.equal(tensor, states[0][key])
    assert soup["epoch"] == -1 and soup["history"] == [] and soup["args"]["command"] == "triage soup ..."
    assert [i["epoch"] for i in soup["soup"]] == [2, 3, 4]
    assert soup["soup"][1]["validation"] == {"val_auroc": 0.53, "val_dr_at_far_0.05": 0.3}
    assert soup["soup"][0]["command"] == "triage train --seed 0" and len(soup["soup"][0]["sha256"]) == 64
    # Shared data folders are listed once, each ingredient's own ones too.
    assert [d["folder"] for d in soup["data"]] == ["data/train", "data/extra0", "data/extra1", "data/extra2"]


def test_a_soup_of_one_checkpoint_twice_computes_what_it_does(tmp_path: pathlib.Path) -> None:
    path = a_checkpoint(tmp_path / "a.pt", 7)
    out = tmp_path / "soup" / "soup.pt"
    result = runner.invoke(
        app, ["soup", "--checkpoint", str(path), "--checkpoint", str(path), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    original, _ = load_checkpoint(path)
    souped, state = load_checkpoint(out)
    image = torch.randn(2, 3, 64, 64)
    assert torch.allclose(original(image), souped(image), atol=1e-6)
    assert [i["checkpoint"] for i in state["soup"]] == [str(path), str(path)]


def test_the_soup_validates_and_exports_with_its_ingredients_in_the_card(
    tmp_path: pathlib.Path, shapes_datasets: dict[str, pathlib.Path]
) -> None:
    paths = [str(a_checkpoint(tmp_path / f"{seed}.pt", seed)) for seed in (1, 2)]
    out = tmp_path / "soup.pt"
    souped = runner.invoke(
        app,
        ["soup", "--checkpoint", paths[0], "--checkpoint", paths[1], "--out", str(out),
         "--val", str(shapes_datasets["test"])],
    )  # fmt: skip
    assert souped.exit_code == 0, souped.output
    validation = json.loads(souped.stdout.splitlines()[0])["validation"]
    assert 0.0 <= validation["val_auroc"] <= 1.0 and "val_class_hits" in validation

    def export(checkpoint: pathlib.Path, version: str) -> dict[str, Any]:
        exported = runner.invoke(
            app,
            ["export", "--checkpoint", str(checkpoint), "--calibration", str(shapes_datasets["calibration"]),
             "--test", str(shapes_datasets["test"]), "--name", "soup", "--version", version,
             "--out", str(tmp_path), "--far", "0.25", "--quiet"],
        )  # fmt: skip
        assert exported.exit_code == 0, exported.output
        card: dict[str, Any] = json.loads((tmp_path / "soup" / version / "model.json").read_text())
        return card

    card = export(out, "1")
    assert card["training"]["epochs_trained"] == 0
    assert [i["checkpoint"] for i in card["training"]["soup"]] == paths
    assert card["training"]["soup_validation"] == validation
    # A soup with a shipped model folder first (a fine-tune averaged with its start) exports too.
    wise = tmp_path / "wise.pt"
    folder = str(tmp_path / "soup" / "1")
    assert (
        runner.invoke(
            app, ["soup", "--checkpoint", folder, "--checkpoint", paths[0], "--out", str(wise)]
        ).exit_code
        == 0
    )
    card = export(wise, "2")
    assert [i["checkpoint"] for i in card["training"]["soup"]] == [folder, paths[0]]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("one", "two or more checkpoints"),
        ("widths", "widths (4, 8, 8, 12) differs"),
        ("garbage", "not a readable training checkpoint"),
        ("missing", "no checkpoint at"),
        ("suffix", "--out must name a .pt file"),
    ],
)
def test_bad_soups_are_one_line_errors_and_write_nothing(
    tmp_path: pathlib.Path, case: str, reason: str
) -> None:
    good = str(a_checkpoint(tmp_path / "good.pt", 0))
    other = {
        "one": None,
        "widths": str(a_checkpoint(tmp_path / "wide.pt", 1, widths=(4, 8, 8, 12))),
        "garbage": str(tmp_path / "garbage.pt"),
        "missing": str(tmp_path / "nope.pt"),
        "suffix": good,
    }[case]
    (tmp_path / "garbage.pt").write_bytes(b"not a checkpoint")
    out = tmp_path / ("soup.onnx" if case == "suffix" else "soup.pt")
    args = ["soup", "--checkpoint", good, *(["--checkpoint", other] if other else []), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and reason in result.stderr, result.output
    assert "\n" not in result.stderr.strip() and not out.exists()


def test_a_model_folder_is_an_ingredient_beside_a_checkpoint(tmp_path: pathlib.Path) -> None:
    from vision.train.export import export_model

    path = a_checkpoint(tmp_path / "a.pt", 5)
    net, _ = load_checkpoint(a_checkpoint(tmp_path / "b.pt", 6))
    folder = export_model(
        net, tmp_path / "models" / "m" / "1", name="m", version="1", spec=PreprocessSpec(64)
    )
    soup = average_checkpoints([path, folder])
    first = torch.load(path, weights_only=False)["model"]
    for key, tensor in soup["model"].items():
        if tensor.is_floating_point():
            assert torch.allclose(tensor.double(), (first[key].double() + net.state_dict()[key].double()) / 2)
    assert soup["soup"][1]["model"] == {"name": "m", "version": "1"} and len(soup["soup"][1]["sha256"]) == 64
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="not a model folder"):
        average_checkpoints([path, tmp_path / "empty"])
