"""The moving average of the weights that `triage train --ema` validates and checkpoints."""

from __future__ import annotations

import torch

from vision.train.model import build_model
from vision.train.train import moving_average


def test_no_decay_means_no_average() -> None:
    assert moving_average(build_model((4, 8, 8, 8)), 0.0) is None


def test_the_average_follows_the_weights_by_its_decay_and_keeps_batch_norm_statistics() -> None:
    torch.manual_seed(0)
    model = build_model((4, 8, 8, 8))
    average = moving_average(model, 0.75)
    assert average is not None
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    seen = []
    for _ in range(2):
        optimizer.zero_grad()
        model(torch.randn(2, 3, 32, 32)).square().mean().backward()
        optimizer.step()
        average.update_parameters(model)
        seen.append({k: v.clone() for k, v in model.state_dict().items()})
    first, second = seen
    kept = average.module.state_dict()
    weight = "stem.0.weight"
    assert not torch.equal(first[weight], second[weight])
    # the average starts at the first step's weights, then moves 0.25 of the way to each new step's
    torch.testing.assert_close(kept[weight], 0.75 * first[weight] + 0.25 * second[weight])
    # batch-norm running statistics are averaged too, so the average is a network that validates as is
    mean = "stem.1.running_mean"
    torch.testing.assert_close(kept[mean], 0.75 * first[mean] + 0.25 * second[mean])
