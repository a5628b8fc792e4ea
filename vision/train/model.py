"""The threat segmentation network and the head that turns its logits into what the product reports.

``ThreatNet`` is a compact U-Net-like encoder–decoder trained from scratch (no pretrained weights exist
here). Measured on this project's CPU (2 threads, onnxruntime, 512 x 512 input), an earlier 1.3 GMAC
version of it ran in ~22 ms against ~140 ms for torchvision's LRASPP-MobileNetV3-Large (2.0 GMAC), which
also trained over 10x slower per step on CPU; the decoder has since been narrowed (~0.95 GMAC).

``ThreatOutputs`` wraps the network with the three outputs the ONNX file carries:
``probs`` (softmax per class, background first), ``threat_map`` (smoothed probability that a cell shows
any threat, 1 − P(background)) and ``score`` (the image-level score: the maximum of ``threat_map``).
With test-time mirrors (:data:`MIRRORS`) the graph runs the network on the scan and its mirror images in
one batch and averages their probabilities, mirrored back, before the head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vision.classes import THREAT_CLASSES

NUM_CHANNELS = len(THREAT_CLASSES) + 1
DEFAULT_WIDTHS = (16, 32, 64, 96)
NO_BLOCKS = (0, 0)


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride, padding=dilation, dilation=dilation, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions added to their input (ResNet's basic block), starting as the identity.

    The last batch norm's scale starts at zero, so a block inserted into a trained network leaves its output
    unchanged until training finds a use for it: capacity can be added to a shipped model without losing
    what it has learned.
    """

    def __init__(self, channels: int):
        super().__init__()
        last = nn.BatchNorm2d(channels)
        nn.init.zeros_(last.weight)
        self.body = nn.Sequential(
            conv_bn_relu(channels, channels), nn.Conv2d(channels, channels, 3, padding=1, bias=False), last
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``relu(x + body(x))``; ``x`` comes out of a ReLU, so a zero body passes it through exactly."""
        return F.relu(x + self.body(x))


class ThreatNet(nn.Module):
    """Encoder at strides 2–16, a light additive decoder back to stride 4, a 1x1 class head.

    Args:
        widths: channels at strides 2, 4, 8 and 16.
        num_channels: output maps (background + threat classes).
        blocks: extra :class:`ResidualBlock` s at strides 8 and 16, where depth is cheapest: on a 512 x 512
            input a block costs ~0.30 GMAC at stride 8 and ~0.17 at stride 16, against ~0.95 for the
            network without blocks (measured with onnxruntime, 2 threads: two blocks at stride 16 took
            1.5x the latency, one at stride 8 and two at 16 1.8x).
    """

    output_stride = 4

    def __init__(
        self,
        widths: tuple[int, int, int, int] = DEFAULT_WIDTHS,
        num_channels: int = NUM_CHANNELS,
        blocks: tuple[int, int] = NO_BLOCKS,
    ):
        super().__init__()
        w2, w4, w8, w16 = widths
        self.widths, self.blocks = widths, blocks
        self.stem = conv_bn_relu(3, w2, stride=2)
        self.enc4 = nn.Sequential(conv_bn_relu(w2, w4, stride=2), conv_bn_relu(w4, w4))
        self.enc8 = nn.Sequential(conv_bn_relu(w4, w8, stride=2), conv_bn_relu(w8, w8))
        # The dilated conv widens the context at stride 16 (a gun among clutter) without more downsampling.
        self.enc16 = nn.Sequential(
            conv_bn_relu(w8, w16, stride=2), conv_bn_relu(w16, w16), conv_bn_relu(w16, w16, dilation=2)
        )
        self.res8 = nn.Sequential(*(ResidualBlock(w8) for _ in range(blocks[0])))
        self.res16 = nn.Sequential(*(ResidualBlock(w16) for _ in range(blocks[1])))
        # A decoder as narrow as the stride-4 features: most of the cost sits at high resolution.
        self.project16 = nn.Conv2d(w16, w4, 1)
        self.lateral8 = nn.Conv2d(w8, w4, 1)
        self.dec8 = conv_bn_relu(w4, w4)
        self.lateral4 = nn.Conv2d(w4, w4, 1)
        self.dec4 = conv_bn_relu(w4, w4)
        self.head = nn.Conv2d(w4, num_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits at stride 4: ``N x C x H/4 x W/4``."""
        f4 = self.enc4(self.stem(x))
        f8 = self.res8(self.enc8(f4))
        f16 = self.res16(self.enc16(f8))
        up = F.interpolate(self.project16(f16), size=f8.shape[-2:], mode="bilinear", align_corners=False)
        up = self.dec8(up + self.lateral8(f8))
        up = F.interpolate(up, size=f4.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(self.dec4(up + self.lateral4(f4)))


# Test-time mirrors: the flipped axes of each view the exported graph averages (``()`` is the scan as it is).
# Bags lie either way round on the belt and training draws every mirror, so a mirror is another look at
# the same bag. Each view costs one more pass of the network.
MIRRORS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "h": ((), (3,)),
    "hv": ((), (3,), (2,), (2, 3)),
}


def threat_outputs(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Turn logits into ``probs``, ``threat_map`` and ``score`` (see the module docstring).

    The 3x3 average before the maximum keeps one hot cell (noise, a speck of metal) from deciding the
    image score on its own. Other ways to read one score off the same maps did no better; measured with
    1.11.0 on its gate set (1080 scans, AUROC / detection at 5% false alarms): this score 0.919 / 0.757;
    no average 0.908 / 0.728; 5x5 0.915 / 0.726; the mean of the 16 highest cells 0.920 / 0.766 (luggage
    down, vehicles up); the highest single class 0.911 / 0.724, or ranked against its own clean-scan
    distribution 0.906 / 0.745; a logistic fusion of all of these fitted on 2700 calibration scans 0.917 /
    0.757. The limit is in the maps, not in how the score reads them.
    """
    return threat_head(torch.softmax(logits, dim=1))


def threat_head(probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``probs``, ``threat_map`` and ``score`` from class probabilities (see :func:`threat_outputs`)."""
    threat = 1.0 - probs[:, :1]
    threat_map = F.avg_pool2d(threat, 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    score = torch.amax(threat_map, dim=(1, 2))
    return probs, threat_map, score


class ThreatOutputs(nn.Module):
    """The exported graph: image in, ``(probs, threat_map, score)`` out.

    Args:
        net: the network.
        mirrors: a key of :data:`MIRRORS`: average the probabilities of the scan and these mirror images
            of it (each mirrored back onto the scan), then read the map and score off the average.
    """

    def __init__(self, net: ThreatNet, mirrors: str = "none"):
        super().__init__()
        if mirrors not in MIRRORS:
            raise ValueError(f"unknown test-time mirrors {mirrors!r}; choose from {', '.join(MIRRORS)}")
        self.net = net
        self.views = MIRRORS[mirrors]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Run the network (on every view in one batch) and the output head."""
        if len(self.views) == 1:
            return threat_outputs(self.net(x))
        batch = x.shape[0]
        logits = self.net(torch.cat([x.flip(axes) if axes else x for axes in self.views]))
        probs = torch.softmax(logits, dim=1)
        views = [probs[i * batch : (i + 1) * batch] for i in range(len(self.views))]
        mean = torch.stack([v.flip(axes) if axes else v for v, axes in zip(views, self.views, strict=True)])
        return threat_head(mean.mean(dim=0))


def build_model(
    widths: tuple[int, int, int, int] = DEFAULT_WIDTHS, blocks: tuple[int, int] = NO_BLOCKS
) -> ThreatNet:
    """A freshly initialised :class:`ThreatNet`."""
    return ThreatNet(widths, blocks=blocks)


def deepen(net: ThreatNet, blocks: tuple[int, int]) -> ThreatNet:
    """``net`` with residual blocks added up to ``blocks``; it computes exactly what ``net`` computes.

    Raises:
        ValueError: if ``blocks`` asks for fewer blocks than ``net`` has at either stride.
    """
    if any(new < old for new, old in zip(blocks, net.blocks, strict=True)):
        raise ValueError(f"the model has blocks {net.blocks}; cannot remove blocks to reach {blocks}")
    deeper = build_model(net.widths, blocks)
    missing, unexpected = deeper.load_state_dict(net.state_dict(), strict=False)
    # Only the added blocks may start fresh (and as the identity); anything else means a different network.
    assert not unexpected and all(key.startswith(("res8.", "res16.")) for key in missing)
    return deeper


def parse_widths(text: str) -> tuple[int, int, int, int]:
    """Widths written as ``"24,48,96,144"`` (channels at strides 2, 4, 8 and 16).

    Raises:
        ValueError: unless ``text`` is four positive integers separated by commas.
    """
    parts = [part.strip() for part in text.split(",")]
    if len(parts) != 4 or not all(part.isdigit() and int(part) > 0 for part in parts):
        raise ValueError("four channel counts, at strides 2, 4, 8 and 16 (e.g. 24,48,96,144)")
    return int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])


def widen(net: ThreatNet, widths: tuple[int, int, int, int], seed: int = 0) -> ThreatNet:
    """``net`` with more channels at each stride (``widths``); it computes what ``net`` computes.

    Net2WiderNet (Chen et al., 2016): every added channel copies an existing one (its convolution, batch
    norm and statistics), and the layers reading it split the copied channel's incoming weight among the
    copies. The split is random (shares summing to one) rather than even: the copies then get different
    gradients and grow apart, where even splits would keep them identical for good. Batch norm sees
    identical copies in training mode too, so the wider network starts where ``net`` is in both modes (up
    to float rounding) and the added channels are capacity training can use.

    Raises:
        ValueError: if ``widths`` has fewer channels than ``net`` at any stride.
    """
    if len(widths) != 4 or any(new < old for new, old in zip(widths, net.widths, strict=True)):
        raise ValueError(f"the model has widths {net.widths}; cannot narrow it to {tuple(widths)}")
    wider = build_model(widths, net.blocks)
    state = {key: value.clone() for key, value in net.state_dict().items()}
    rng = np.random.default_rng(seed)
    w2, w4, w8, w16 = widths

    def grow(producers: list[tuple[str, str | None]], consumers: list[str], new: int) -> None:
        """Widen one space: the outputs of ``producers`` (conv, its batch norm) that ``consumers`` read.

        Layers whose outputs are added together (a residual, the decoder's sums) write to one space and
        must copy the same channels, so a space is grown in one call.
        """
        old = state[producers[0][0] + ".weight"].shape[0]
        source = np.concatenate([np.arange(old), rng.integers(0, old, new - old)])
        shares = rng.uniform(0.5, 1.5, new)
        shares /= np.bincount(source, weights=shares, minlength=old)[source]
        pick, split = torch.from_numpy(source), torch.from_numpy(shares).float()
        for conv, norm in producers:
            for key in (f"{conv}.weight", f"{conv}.bias"):
                if key in state:
                    state[key] = state[key][pick]
            if norm is not None:
                for part in ("weight", "bias", "running_mean", "running_var"):
                    state[f"{norm}.{part}"] = state[f"{norm}.{part}"][pick]
        for conv in consumers:
            state[f"{conv}.weight"] = state[f"{conv}.weight"][:, pick] * split[None, :, None, None]

    def cbr(name: str) -> tuple[str, str]:
        return f"{name}.0", f"{name}.1"

    res8 = [f"res8.{i}.body" for i in range(net.blocks[0])]
    res16 = [f"res16.{i}.body" for i in range(net.blocks[1])]
    grow([cbr("stem")], ["enc4.0.0"], w2)
    grow([cbr("enc4.0")], ["enc4.1.0"], w4)
    grow([cbr("enc4.1")], ["enc8.0.0", "lateral4"], w4)
    grow([cbr("enc8.0")], ["enc8.1.0"], w8)
    for body in res8:
        grow([cbr(f"{body}.0")], [f"{body}.1"], w8)
    grow(
        [cbr("enc8.1"), *((f"{b}.1", f"{b}.2") for b in res8)],
        [*(f"{b}.0.0" for b in res8), "enc16.0.0", "lateral8"],
        w8,
    )
    grow([cbr("enc16.0")], ["enc16.1.0"], w16)
    grow([cbr("enc16.1")], ["enc16.2.0"], w16)
    for body in res16:
        grow([cbr(f"{body}.0")], [f"{body}.1"], w16)
    grow(
        [cbr("enc16.2"), *((f"{b}.1", f"{b}.2") for b in res16)],
        [*(f"{b}.0.0" for b in res16), "project16"],
        w16,
    )
    # The decoder's spaces are as wide as stride 4's.
    grow([("project16", None), ("lateral8", None)], ["dec8.0"], w4)
    grow([cbr("dec8"), ("lateral4", None)], ["dec4.0"], w4)
    grow([cbr("dec4")], ["head"], w4)
    wider.load_state_dict(state)
    return wider


WEIGHTS_FILE = "weights.npz"


def save_weights(net: ThreatNet, path: str | Path) -> None:
    """Write the network's state (weights and batch-norm statistics) as a numpy archive.

    Exported model folders carry this beside ``model.onnx`` so that ``triage train --init`` can fine-tune
    a shipped model (the ONNX graph has batch norm folded into the convolutions and cannot be trained).
    """
    arrays = {key: value.detach().cpu().numpy() for key, value in net.state_dict().items()}
    arrays["__widths__"] = np.asarray(net.widths, dtype=np.int64)
    arrays["__blocks__"] = np.asarray(net.blocks, dtype=np.int64)
    partial = Path(path).with_suffix(".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def load_weights(path: str | Path) -> ThreatNet:
    """Rebuild a :class:`ThreatNet` from :func:`save_weights`' archive.

    Raises:
        ValueError: if the file is not such an archive or does not fit the architecture.
    """
    try:
        with np.load(str(path), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as error:
        raise ValueError(f"{path} is not a weights archive: {error}") from None
    if "__widths__" not in arrays:
        raise ValueError(f"{path} is not a weights archive (no __widths__)")
    w = [int(v) for v in arrays.pop("__widths__")]
    if len(w) != 4:
        raise ValueError(f"{path}: expected 4 widths, got {w}")
    # Archives written before residual blocks existed have none.
    b = [int(v) for v in arrays.pop("__blocks__", NO_BLOCKS)]
    if len(b) != 2 or min(b) < 0:
        raise ValueError(f"{path}: expected 2 block counts, got {b}")
    net = build_model((w[0], w[1], w[2], w[3]), (b[0], b[1]))
    try:
        net.load_state_dict({key: torch.from_numpy(value) for key, value in arrays.items()})
    except RuntimeError as error:
        raise ValueError(f"{path} does not fit ThreatNet{tuple(w)} with blocks {tuple(b)}: {error}") from None
    return net
