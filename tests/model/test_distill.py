"""Distillation (`triage train --distill`): the network is held to a teacher's maps on the folders named."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from tests.model.test_precision import a_knife_batch
from vision.preprocess import PreprocessSpec
from vision.train.args import TrainArgs
from vision.train.export import export_model
from vision.train.model import build_model
from vision.train.train import distillation_loss, load_teacher, train_one_epoch

runner = CliRunner()


def test_the_distillation_term_is_zero_only_where_the_maps_agree() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, 4)
    assert distillation_loss(logits, logits).abs().item() < 1e-6
    assert distillation_loss(logits, torch.randn(2, 5, 4, 4)).item() > 0.1
    # Only the class distribution counts: adding a constant to every class changes nothing.
    assert distillation_loss(logits + 3.0, logits).abs().item() < 1e-5


def one_step(teacher: torch.nn.Module | None, flags: list[bool] | None) -> dict[str, float]:
    torch.manual_seed(0)
    model = build_model((4, 8, 8, 8))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    images, targets = a_knife_batch()
    batch = (images, targets) if flags is None else (images, targets, torch.tensor(flags))
    return train_one_epoch(model, optimizer, scheduler, [batch], 0, False, 1.0, None, "fp32", teacher=teacher)  # type: ignore[arg-type]


def test_only_the_flagged_crops_are_distilled() -> None:
    torch.manual_seed(1)
    teacher = build_model((4, 8, 8, 8)).eval()
    plain = one_step(None, None)
    unflagged = one_step(teacher, [False, False])
    assert unflagged["distill"] == 0.0 and unflagged["loss"] == pytest.approx(plain["loss"])
    flagged = one_step(teacher, [True, False])
    assert flagged["distill"] > 0.0
    assert flagged["loss"] == pytest.approx(plain["loss"] + flagged["distill"], rel=1e-5)
    # Without flags (a loader of plain pairs) nothing is distilled either.
    assert one_step(teacher, None)["distill"] == 0.0


def test_the_teacher_and_its_folders_are_checked(tmp_path: pathlib.Path) -> None:
    spec = PreprocessSpec(input_size=64)
    folder = export_model(build_model((4, 8, 8, 8)), tmp_path / "t" / "1", name="t", version="1", spec=spec)
    args = TrainArgs(data=["a", "b"], out="run", distill=str(folder), distill_on=["b"])
    teacher = load_teacher(args, spec)
    assert teacher is not None and not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert load_teacher(TrainArgs(data=["a"], out="run"), spec) is None
    with pytest.raises(ValueError, match="go together"):
        load_teacher(TrainArgs(data=["a"], out="run", distill=str(folder)), spec)
    with pytest.raises(ValueError, match="not among --data"):
        load_teacher(TrainArgs(data=["a"], out="run", distill=str(folder), distill_on=["c"]), spec)
    with pytest.raises(ValueError, match="no such model folder"):
        load_teacher(TrainArgs(data=["a"], out="run", distill=str(tmp_path / "none"), distill_on=["a"]), spec)
    other = PreprocessSpec(input_size=64, mean=(0.4, 0.4, 0.4))
    odd = export_model(build_model((4, 8, 8, 8)), tmp_path / "o" / "1", name="o", version="1", spec=other)
    with pytest.raises(ValueError, match="normalisation"):
        load_teacher(TrainArgs(data=["a"], out="run", distill=str(odd), distill_on=["a"]), spec)


def test_train_with_a_teacher_end_to_end(
    shapes_datasets: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    spec = PreprocessSpec(input_size=64)
    teacher = export_model(build_model((4, 8, 8, 8)), tmp_path / "t" / "1", name="t", version="1", spec=spec)
    out = tmp_path / "run"
    common = [
        "train", "--out", str(out), "--epochs", "1", "--batch-size", "4", "--input-size", "64",
        "--crop-size", "48", "--workers", "0", "--epoch-size", "8", "--widths", "4,8,8,8",
        "--data", f"{shapes_datasets['train']},{shapes_datasets['test']}",
        "--val", str(shapes_datasets["calibration"]), "--quiet", "--distill", str(teacher),
    ]  # fmt: skip
    refused = runner.invoke(app, [*common, "--distill-on", str(shapes_datasets["calibration"])])
    assert refused.exit_code == 2 and "not among --data" in refused.stderr and not out.exists()
    result = runner.invoke(
        app, [*common, "--distill-on", str(shapes_datasets["test"]), "--distill-weight", "2"]
    )
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert record["distill"] >= 0.0
    state = torch.load(str(out / "model_best.pt"), map_location="cpu", weights_only=False)
    assert state["args"]["distill"] == str(teacher) and state["args"]["distill_weight"] == 2.0
    assert state["args"]["distill_on"] == [str(shapes_datasets["test"])]
