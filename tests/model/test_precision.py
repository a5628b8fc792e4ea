"""bf16 mixed-precision training: the network still learns, and its weights stay float32."""

from __future__ import annotations

import pytest
import torch

from vision.train.model import NUM_CHANNELS, build_model
from vision.train.train import PRECISIONS, for_precision, train_one_epoch


def a_knife_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 32 px crops, each with a bright bar labelled blade on the first and background elsewhere."""
    images = torch.full((2, 3, 32, 32), -1.0)
    images[:, :, 12:16, 4:28] = 1.5
    targets = torch.zeros(2, NUM_CHANNELS, 8, 8)
    targets[:, 0] = 1.0
    targets[:, 0, 3, 1:7], targets[:, 4, 3, 1:7] = 0.0, 1.0
    return images, targets


@pytest.mark.parametrize("precision", list(PRECISIONS))
def test_each_precision_fits_one_batch_with_float32_weights(precision: str) -> None:
    torch.manual_seed(0)
    model = for_precision(build_model((4, 8, 8, 8)), precision)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    batch = [a_knife_batch()]
    losses = [
        train_one_epoch(model, optimizer, scheduler, batch, step, False, 1.0, None, precision)["loss"]  # type: ignore[arg-type]
        for step in range(40)
    ]
    assert losses[-1] < 0.5 * losses[0], losses
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_the_forward_pass_runs_in_bf16_only_when_asked() -> None:
    model = build_model((4, 8, 8, 8))
    seen: list[torch.dtype] = []
    model.head.register_forward_hook(lambda _module, _inputs, output: seen.append(output.dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    for precision in ("fp32", "bf16"):
        train_one_epoch(model, optimizer, scheduler, [a_knife_batch()], 0, False, 1.0, None, precision)  # type: ignore[arg-type]
    assert seen == [torch.float32, torch.bfloat16]


def test_bf16_lays_the_network_out_channels_last_and_an_unknown_precision_is_refused() -> None:
    conv = for_precision(build_model((4, 8, 8, 8)), "bf16").stem[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()
    assert for_precision(build_model((4, 8, 8, 8)), "fp32").stem[0].weight.is_contiguous()
    with pytest.raises(ValueError, match="precision 'fp16': choose one of fp32, bf16"):
        for_precision(build_model((4, 8, 8, 8)), "fp16")


def test_bf16_kernels_are_taken_as_there_on_a_gpu_and_when_torch_cannot_say(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vision.train.train import bf16_kernels

    class NoOps:
        def __getattr__(self, name: str) -> object:
            raise AttributeError(name)

    assert bf16_kernels(torch.device("cuda"))
    monkeypatch.setattr(torch.ops, "mkldnn", NoOps())
    assert bf16_kernels(torch.device("cpu"))
