"""Residual blocks added to a trained network: same outputs at first, then trainable capacity."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import torch

from vision.train.model import ThreatNet, build_model, deepen, load_weights, save_weights


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
