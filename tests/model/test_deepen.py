"""Capacity added to a trained network (residual blocks, more channels): same outputs, then trainable."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import torch

from vision.train.model import ThreatNet, build_model, deepen, load_weights, save_weights, widen


def trained_looking(blocks: tuple[int, int] = (0, 0)) -> ThreatNet:
    """A tiny network with non-trivial batch-norm statistics, as a trained one has."""
    torch.manual_seed(0)
    net = build_model((4, 8, 8, 8), blocks)
    net.train()
    with torch.no_grad():
        for _ in range(3):
            net(torch.randn(2, 3, 64, 64) * 2 + 0.5)
    return net.eval()


def test_a_deepened_network_computes_exactly_what_it_did() -> None:
    net = trained_looking()
    deeper = deepen(net, (2, 1))
    x = torch.randn(2, 3, 64, 64)
    assert deeper.blocks == (2, 1) and len(deeper.res8) == 2 and len(deeper.res16) == 1
    assert sum(p.numel() for p in deeper.parameters()) > sum(p.numel() for p in net.parameters())
    with torch.no_grad():
        assert torch.equal(deeper.eval()(x), net(x))
        # also in training mode, where batch norm uses the batch's statistics
        assert torch.equal(deeper.train()(x), net.train()(x))


def test_added_blocks_get_gradients_from_the_first_step() -> None:
    deeper = deepen(trained_looking(), (1, 1)).train()
    logits = deeper(torch.randn(2, 3, 64, 64))
    logits.square().mean().backward()
    # the zero-started scale of each block's last batch norm is what lets the block come alive
    for block in (deeper.res8[0], deeper.res16[0]):
        grad = block.body[-1].weight.grad
        assert grad is not None and grad.abs().sum() > 0


def test_deepen_refuses_to_remove_blocks() -> None:
    with pytest.raises(ValueError, match="cannot remove blocks"):
        deepen(trained_looking((1, 1)), (0, 1))


def test_weights_archive_keeps_blocks_and_reads_archives_written_before_them(tmp_path: pathlib.Path) -> None:
    net = deepen(trained_looking(), (1, 2))
    with torch.no_grad():
        net.res16[1].body[-1].weight.fill_(0.5)  # as if trained
    save_weights(net, tmp_path / "deep.npz")
    loaded = load_weights(tmp_path / "deep.npz")
    assert loaded.blocks == (1, 2)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), net.eval()(x))
    save_weights(trained_looking(), tmp_path / "plain.npz")
    with np.load(tmp_path / "plain.npz") as archive:
        old = {k: archive[k] for k in archive.files if k != "__blocks__"}
    np.savez(tmp_path / "old.npz", **old)
    assert load_weights(tmp_path / "old.npz").blocks == (0, 0)


def test_a_widened_network_computes_what_it_did() -> None:
    net = deepen(trained_looking(), (1, 2))
    with torch.no_grad():  # blocks as if trained, so the residual spaces carry signal
        for block in (*net.res8, *net.res16):
            block.body[-1].weight.uniform_(0.5, 1.0)
    wider = widen(net, (6, 12, 10, 16), seed=1)
    assert wider.widths == (6, 12, 10, 16) and wider.blocks == (1, 2)
    assert sum(p.numel() for p in wider.parameters()) > sum(p.numel() for p in net.parameters())
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(wider.eval()(x), net.eval()(x), atol=1e-5, rtol=1e-5)
        # batch norm in training mode sees identical copies, so their batch statistics agree too
        torch.testing.assert_close(wider.train()(x), net.train()(x), atol=1e-5, rtol=1e-5)


def test_copied_channels_grow_apart_under_training() -> None:
    net = trained_looking()
    wider = widen(net, (8, 8, 8, 8), seed=0).train()
    stem = wider.stem[0].weight
    # each added stem channel starts as a copy of an original one
    copies = [(j, i) for j in range(4, 8) for i in range(4) if torch.equal(stem[j], stem[i])]
    assert len(copies) == 4
    wider(torch.randn(2, 3, 64, 64)).square().mean().backward()
    assert stem.grad is not None
    # unequal splits of the readers' weights give a copy and its source different gradients
    assert all(not torch.allclose(stem.grad[j], stem.grad[i]) for j, i in copies)


def test_widen_refuses_to_narrow() -> None:
    with pytest.raises(ValueError, match="cannot narrow"):
        widen(trained_looking(), (4, 4, 8, 8))


def test_a_fresh_run_takes_its_widths_and_a_fine_tune_is_widened(tmp_path: pathlib.Path) -> None:
    from vision.train.model import DEFAULT_WIDTHS
    from vision.train.train import TrainArgs, initial_model

    assert initial_model(TrainArgs(data=[], out=""))[0].widths == DEFAULT_WIDTHS
    assert initial_model(TrainArgs(data=[], out="", widths=(4, 8, 8, 12)))[0].widths == (4, 8, 8, 12)
    checkpoint = tmp_path / "init.pt"
    net = trained_looking()
    torch.save({"model": net.state_dict(), "args": {"widths": net.widths}}, checkpoint)
    args = TrainArgs(data=[], out="", init=str(checkpoint), widths=(4, 8, 12, 12), input_size=64)
    wider, origin = initial_model(args)
    assert wider.widths == (4, 8, 12, 12) and origin is not None and origin["checkpoint"] == str(checkpoint)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(wider.eval()(x), net(x), atol=1e-5, rtol=1e-5)


def test_a_fine_tune_trains_at_its_init_size_unless_told_and_may_change_it(tmp_path: pathlib.Path) -> None:
    from vision.train.train import TrainArgs, init_input_size, initial_model

    net = trained_looking()
    checkpoint = tmp_path / "init.pt"
    state = {"model": net.state_dict(), "args": {"widths": net.widths}, "preprocessing": {"input_size": 64}}
    torch.save(state, checkpoint)
    folder = tmp_path / "model"
    folder.mkdir()
    card = {"name": "m", "version": "1", "classes": ["blade"], "preprocessing": {}, "threshold": 0.5}
    (folder / "model.json").write_text(json.dumps({**card, "input_size": 48}))
    assert init_input_size(checkpoint) == 64 and init_input_size(folder) == 48
    assert init_input_size(tmp_path / "missing") is None
    # a fully convolutional network carries over to a larger letterbox: same weights, same cells
    larger, _ = initial_model(TrainArgs(data=[], out="", init=str(checkpoint), input_size=96))
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(larger.eval()(x), net(x), atol=1e-5, rtol=1e-5)
