"""Training of the threat segmentation network, in the manner of torchvision's reference scripts.

``main(args)`` loads the datasets into memory, trains with :func:`train_one_epoch`, validates each epoch
with :func:`evaluate` (image AUROC and detection rate at 5% false alarms on the letterboxed scans, as
inference sees them), writes ``log.jsonl``, and keeps ``checkpoint.pt`` (resumed automatically when the
output folder already holds one) and ``model_best.pt``.
"""

from __future__ import annotations

import contextlib
import json
import math
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler
from tqdm import tqdm

from vision.classes import THREAT_CLASSES
from vision.datasets import Sample, cache_samples, dataset_spec, load_dataset, load_datasets
from vision.evaluation.metrics import (
    DEFAULT_FALSE_ALARM_RATE,
    VAL_DR_KEY,
    auroc,
    detection_rate_at_far,
    threshold_at_far,
)
from vision.files import file_sha256
from vision.preprocess import PreprocessSpec, letterbox_mask, letterbox_scan, normalize, window_of
from vision.registry import CARD_FILE, ModelCard
from vision.train import qat
from vision.train.args import TrainArgs
from vision.train.export import source_commit
from vision.train.model import (
    DEFAULT_WIDTHS,
    NO_BLOCKS,
    NUM_CHANNELS,
    WEIGHTS_FILE,
    ThreatNet,
    build_model,
    deepen,
    load_weights,
    threat_outputs,
    widen,
)
from vision.train.presets import TrainPreset, class_map, soft_targets, training_targets

CHECKPOINT = "checkpoint.pt"
BEST = "model_best.pt"
LOG = "log.jsonl"
# Background pixels outnumber threat pixels about 50 to 1; a lower weight keeps small threats from
# being drowned, dice and the image-level term do the rest.
BACKGROUND_WEIGHT = 0.3
IMAGE_LOSS_WEIGHT = 1.0
# Weight of the multiple-instance term on box-labelled threats (:func:`multiple_instance_loss`).
MIL_LOSS_WEIGHT = 1.0
# Repeat-factor sampling (LVIS): a scan holding a class seen in fewer than this share of the training
# scans is drawn sqrt(REPEAT_THRESHOLD / share) times as often.
REPEAT_THRESHOLD = 0.1
# ... and (1 + MISS_BOOST x the class's validation miss rate of the epoch before) times as often, and its
# objects weigh as much more in the ranking term (relative to the batch, never below an unweighted class).
# Frequency alone is the wrong measure of need: blades are the third most common class yet were never found.
MISS_BOOST = 3.0
# Mixed precision: bf16 autocast (with channels-last tensors) for the network's forward pass; weights,
# optimiser state and the loss stay float32. Measured on this project's CPU (AMX, 2 threads): a step 2.3x
# faster (benchmarks/train_step.py: 96 vs 220 ms for 16 crops of 256 px), an epoch of 1.5.0's fine-tune
# ~1.5x (112-124 s vs 173-196 s; the data loader's share stays), and the same run, same seed, tracked the
# fp32 one within noise (train loss within 0.014 each epoch, last val AUROC 0.874 vs 0.873). Where bf16 is
# emulated (no AVX512-BF16) it is slower.
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16}
# Hard-example mining: the share of each folder's clean scans that the network scores highest
# (--hard-negatives), and of its threat scans that it peaks lowest on (--hard-positives), drawn more often.
# The threshold at 5% real false alarms is set by the top 5% of clean bags; a quarter reaches well past that
# tail so it does not chase a handful of scans. Positives: 1.16.2 localised OPIXray's straight and utility
# knives no better on the kit's training files (0.26 and 0.29; flagged 0.44 and 0.46) than on its validation
# files (0.29 and 0.37): the network underfits them, rather than failing to carry them over. Mining them
# (--hard-positives 3, one epoch from 1.16.2) did not fit them either, and raised the clean bags' scores
# with theirs: README, "Real scans in the loop".
HARD_SHARE = 0.25


def training_device(name: str) -> torch.device:
    """The device ``--device`` names: ``cpu`` or a CUDA GPU (``cuda``, ``cuda:N``) that torch can see.

    Raises:
        ValueError: for any other name, or a CUDA device that is not there (no GPU, no CUDA build of torch,
            or an index past the last GPU).
    """
    unknown = ValueError(f"device {name!r}: choose cpu or cuda (cuda:N for the N-th GPU)")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise unknown from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise unknown
    if not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: torch sees no CUDA GPU here")
    if (device.index or 0) >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: torch sees {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def bf16_kernels(device: torch.device) -> bool:
    """Whether bf16 training runs on real bf16 kernels on ``device``, rather than emulated.

    A CUDA GPU has them. On the CPU, oneDNN has them only for AVX512 cores and AMX. On an AVX2-only CPU
    (an AMD EPYC here), a bf16 step of the 24,48,96,144 network took 8.2 s, against 1.04 s in fp32
    (``python -m benchmarks.train_step``). If torch cannot say, this answers True (no false warning).
    """
    if device.type != "cpu":
        return True
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return True


def for_precision(model: ThreatNet, precision: str) -> ThreatNet:
    """``model`` laid out for training at ``precision``: channels-last for bf16, as it is for fp32.

    oneDNN's bf16 convolutions are fastest on channels-last tensors; fp32 ones were slower on them (0.89x
    a step), so fp32 keeps the default layout.

    Raises:
        ValueError: if ``precision`` is not one of :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    return model.to(memory_format=torch.channels_last) if PRECISIONS[precision] is not None else model


class AugmentedScans(Dataset[tuple[np.ndarray, np.ndarray, bool]]):
    """In-memory scans with the training preset; the random draw depends on (seed, epoch, index).

    Each item is the crop, its targets and whether the scan is one a teacher's maps are distilled on
    (``teach``: one flag per scan, default none).
    """

    def __init__(
        self,
        cached: list[tuple[np.ndarray, np.ndarray]],
        preset: TrainPreset,
        seed: int,
        teach: Sequence[bool] | None = None,
    ):
        self.cached, self.preset, self.seed, self.epoch = cached, preset, seed, 0
        self.teach = list(teach) if teach is not None else [False] * len(cached)

    def __len__(self) -> int:
        return len(self.cached)

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray, bool]:
        rng = np.random.default_rng((self.seed, self.epoch, index))
        rgb, mask = self.cached[index]
        image, crop_mask = self.preset(rgb, mask, rng)
        targets = training_targets(crop_mask, ThreatNet.output_stride, NUM_CHANNELS)
        return image, targets, self.teach[index]


def image_loss_weight(progress: float) -> float:
    """Weight of the ranking term at ``progress`` (0 to 1) through training.

    None for the first quarter, then rising to :data:`IMAGE_LOSS_WEIGHT` by the half. Mining the hardest
    cell only helps once the map means something: from the start, with one cell of each crop pulled up
    and one pushed down, the network settles on a flat 0.5 over every bag (measured: val AUROC 0.49-0.57
    over the first 900 steps, against a rising one-batch overfit without it). A fine-tune (``--init``)
    starts from a map that already means something and uses the full weight throughout (measured: two
    epochs without it took a fine-tune of 1.1.0 from val AUROC 0.78 to 0.73).
    """
    return IMAGE_LOSS_WEIGHT * min(1.0, max(0.0, (progress - 0.25) / 0.25))


def segmentation_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    image_weight: float = IMAGE_LOSS_WEIGHT,
    class_weights: torch.Tensor | None = None,
    mil_line: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Class-weighted cross-entropy + soft dice on threat classes + a ranking term on the image score.

    The image score is the maximum of the threat map, so what decides an alarm is the single most
    threat-like cell. The ranking term pushes the hardest background cell of every crop towards 0 and the
    best threat cell of every crop holding a threat towards 1 (binary cross-entropy on both). Unlike a
    plain image-level loss on the maximum, it never rewards a false alarm that happens to be the maximum
    of a scan with a threat elsewhere; it is hard-negative mining on exactly the quantity that is
    thresholded.

    With ``class_weights`` the positive side is taken per class instead: the best cell of every class a
    crop holds is pushed towards 1 (the mean over those crop-class pairs, weighted by class). Otherwise a
    crop with a pistol and a knife satisfies the term through the pistol alone, and the knife, which an
    operator must still be shown, gets no push; recall is counted per instance, so the loss should be too.
    The weights let a class the model misses pull harder, taken relative to the batch's mean pair weight
    and floored at 1: a class above the mean pulls that many times harder, none pulls less than unweighted.
    A plain weighted sum grows the term with every miss (measured in a probe from a checkpoint that had
    never found a blade: 20 steps with missed classes weighted as a sum raised the median peak on held-out
    knives from 0.45 to 0.68 but also clean scans' 90th percentile from 0.62 to 0.71; unweighted the knives
    stayed at 0.42-0.44). A plain weighted mean keeps the size but takes the share from the classes already
    found: with blades missed, firearms got about half their unweighted share for 16 epochs of 1.4.0 and
    firearm recall fell (gate 0.741 -> 0.679). The floored ratio grows the term only by the missed classes'
    excess (1.12x on average with 1.4.0's first misses and draw shares).

    Args:
        logits: ``N x C x h x w`` at the network's output stride.
        targets: ``N x C x h x w`` class shares per output cell (:func:`soft_targets`), or
            ``N x (2C-1) x h x w`` with the box shares of box-labelled threats after them
            (:func:`vision.train.presets.training_targets`).
        image_weight: weight of the ranking term (see :func:`image_loss_weight`).
        class_weights: one weight per threat class (``C - 1``): rank the best cell of each class present,
            rather than of any threat.
        mil_line: cells of a box the multiple-instance term pushes (:func:`multiple_instance_loss`).
    """
    targets, bags = targets[:, :NUM_CHANNELS], targets[:, NUM_CHANNELS:]
    weights = torch.ones(NUM_CHANNELS, device=logits.device)
    weights[0] = BACKGROUND_WEIGHT
    ce = F.cross_entropy(logits, targets, weight=weights)
    probs = logits.softmax(dim=1)[:, 1:]
    threat_targets = targets[:, 1:]
    inter = (probs * threat_targets).sum(dim=(0, 2, 3))
    total = (probs + threat_targets).sum(dim=(0, 2, 3))
    present = threat_targets.sum(dim=(0, 2, 3)) > 0
    dice = (1 - (2 * inter + 1) / (total + 1))[present].mean() if present.any() else ce.new_zeros(())
    _, threat_map, _ = threat_outputs(logits)
    share = threat_targets.sum(dim=1)
    box_share = bags.sum(dim=1)  # zeros where no box labels (the sum over no channels)
    in_box = box_share > 0
    positive = (share > 0.25) | (box_share > 0.5)
    # Cells next to a threat (or inside a box) are left out of the negatives: the 3x3 smoothing of the map
    # mixes them.
    near = F.max_pool2d(((share > 0) | in_box).float()[:, None], 3, stride=1, padding=1)[:, 0] > 0
    eps = 1e-5
    hardest_negative = threat_map.masked_fill(near, 0.0).amax(dim=(1, 2)).clamp(eps, 1 - eps)
    image = F.binary_cross_entropy(hardest_negative, torch.zeros_like(hardest_negative))
    if class_weights is not None:
        # A class's positive cells: those with at least a quarter of it, or its fullest cells where a thin
        # object (a blade edge-on) covers no cell that much; for a box-labelled class, its box's cells.
        fullest = threat_targets.amax(dim=(2, 3), keepdim=True)
        cells = (threat_targets >= torch.clamp(fullest, max=0.25)) & (threat_targets > 0)
        if bags.shape[1]:
            cells = cells | (bags > 0.5)
        holds = cells.flatten(2).any(dim=2)
        best = threat_map[:, None].masked_fill(~cells, 0.0).amax(dim=(2, 3))
    else:
        holds = positive.flatten(1).any(dim=1)
        best = threat_map.masked_fill(~positive, 0.0).amax(dim=(1, 2))
    if holds.any():
        best_positive = best[holds].clamp(eps, 1 - eps)
        ranked = F.binary_cross_entropy(best_positive, torch.ones_like(best_positive), reduction="none")
        if class_weights is None:
            image = image + ranked.mean()
        else:
            pair_weights = class_weights.to(best)[None].expand_as(best)[holds]
            # Relative to the batch's mean pair weight, floored at 1: a missed class pulls harder, and no
            # class is pushed less than it would be unweighted (a plain weighted mean halved the firearms'
            # share while blades were missed, and firearm recall fell).
            relative = (pair_weights / pair_weights.mean()).clamp(min=1.0)
            image = image + (ranked * relative).mean()
    mil = multiple_instance_loss(probs, bags, mil_line)
    loss = ce + dice + image_weight * image + MIL_LOSS_WEIGHT * mil
    return loss, {"ce": ce.item(), "dice": dice.item(), "image": image.item(), "mil": mil.item()}


def multiple_instance_loss(class_probs: torch.Tensor, bags: torch.Tensor, line: float = 0.0) -> torch.Tensor:
    """Box labels as bags: the most probable cells of a box's class inside the box should show that class.

    A box says an object of its class lies somewhere inside, not which pixels it covers; filling the box
    teaches the network to paint the clothes around a diagonal knife. So box cells are left out of the
    cross-entropy and dice (:func:`vision.train.presets.soft_targets` gives them no target), and this term
    pushes only the best cell of each (crop, box class) pair towards the class (binary cross-entropy on its
    probability). Cells outside every box stay background through the cross-entropy.

    With ``line`` above 0 it pushes the best ``ceil(line * sqrt(cells))`` cells of each pair instead (the
    mean of their cross-entropies): a thin object lying across a square box of ``L x L`` cells covers
    about ``L`` of them, so ``line`` 1 asks for a blade's worth of cells, where one cell lets a long knife
    be found at its tip alone and read faint through the map's 3x3 average.

    Args:
        class_probs: ``N x (C-1) x h x w`` softmax probabilities of the threat classes.
        bags: ``N x (C-1) x h x w`` share of each cell inside a box of each class (empty: no box labels).
        line: cells pushed per pair, as a multiple of the square root of the pair's box cells (0: one).
    """
    if not bags.shape[1]:
        return class_probs.new_zeros(())
    cells = bags > 0.5
    holds = cells.flatten(2).any(dim=2)
    if not holds.any():
        return class_probs.new_zeros(())
    count = cells.flatten(2).sum(dim=2)[holds].float()
    pushed = torch.minimum(torch.ceil(line * count.sqrt()).clamp(min=1.0), count)
    ranked = class_probs.masked_fill(~cells, 0.0).flatten(2)[holds].topk(int(pushed.max()), dim=1).values
    chosen = torch.arange(ranked.shape[1], device=ranked.device)[None] < pushed[:, None]
    ranked = ranked.clamp(1e-5, 1 - 1e-5)
    losses = F.binary_cross_entropy(ranked, torch.ones_like(ranked), reduction="none") * chosen
    return (losses.sum(dim=1) / pushed).mean()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """KL(teacher || student) of the per-cell class distributions, summed over classes, mean over cells.

    Learning without forgetting (Li and Hoiem, 2016): fine-tuning on real scans wears away what the
    network knew of classes only the simulator shows. Measured on the simulated gate set from 1.11.0
    (simulator only) to 1.16.1 (fine-tuned on the real kit): cigarettes found 0.51 -> 0.33 (named 0.15 ->
    0.00), firearms 0.83 -> 0.70, parcel AUROC 0.940 -> 0.877. One epoch from 1.16.0 with 1.11.0 as the
    teacher on the simulated folders gave back little: parcel AUROC 0.880 (weight 1) and 0.883 (weight 5),
    the recall of all simulated instances 0.601 -> 0.613, real figures within the gate's margin (weight 1:
    OPIXray knives localised 0.625 -> 0.619 in four views, SIXray level). The mean over cells weighs
    lightly the few clean cells that make the parcels' false-alarm tail (their 95th percentile 0.70 with
    1.11.0, 0.85 with 1.16.1); a larger simulated share of the mix did no better (0.883).

    Args:
        student: ``N x C x h x w`` logits of the network being trained.
        teacher: ``N x C x h x w`` logits of the teacher on the same crops.
    """
    return (
        F.kl_div(F.log_softmax(student, 1), F.log_softmax(teacher, 1), log_target=True, reduction="none")
        .sum(dim=1)
        .mean()
    )


def train_one_epoch(
    model: ThreatNet,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    loader: DataLoader[Any],
    epoch: int,
    progress: bool = True,
    image_weight: float = IMAGE_LOSS_WEIGHT,
    class_weights: torch.Tensor | None = None,
    precision: str = "fp32",
    device: torch.device | None = None,
    average: AveragedModel | None = None,
    teacher: ThreatNet | None = None,
    distill_weight: float = 1.0,
    mil_line: float = 0.0,
) -> dict[str, float]:
    """One pass over ``loader`` on ``device`` (the model's; default the CPU); returns mean losses.

    With ``precision`` ``"bf16"`` the forward pass runs under bf16 autocast on channels-last inputs (see
    :data:`PRECISIONS`); the loss is computed in float32 either way. ``average`` (see :func:`moving_average`)
    takes in the weights after every step. With a ``teacher``, the crops a batch flags (its third part)
    add ``distill_weight`` times :func:`distillation_loss` against the teacher's maps.
    """
    low = PRECISIONS[precision]
    device = device or torch.device("cpu")
    model.train()
    totals: dict[str, float] = {}
    bar = tqdm(loader, desc=f"epoch {epoch}", unit="batch", disable=not progress, leave=False)
    for steps, (images, targets, *flags) in enumerate(bar, start=1):
        images = images.to(device, non_blocking=True)
        targets = targets.to(device, non_blocking=True)
        if low is not None:
            images = images.contiguous(memory_format=torch.channels_last)
        autocast = torch.autocast(device.type, dtype=low) if low is not None else contextlib.nullcontext()
        with autocast:
            logits = model(images)
        loss, parts = segmentation_loss(logits.float(), targets, image_weight, class_weights, mil_line)
        if teacher is not None:
            teach = flags[0].to(device).bool() if flags else torch.zeros(len(images), dtype=torch.bool)
            kept = logits.new_zeros(())
            if teach.any():
                with torch.no_grad(), autocast:
                    taught = teacher(images[teach])
                kept = distillation_loss(logits.float()[teach], taught.float())
            loss = loss + distill_weight * kept
            parts["distill"] = kept.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        if average is not None:
            average.update_parameters(model)
        for key, value in {"loss": loss.item(), **parts}.items():
            totals[key] = totals.get(key, 0.0) + value
        bar.set_postfix(loss=f"{totals['loss'] / steps:.3f}")
    return {key: value / max(1, len(loader)) for key, value in totals.items()}


def moving_average(model: ThreatNet, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights and batch-norm statistics (None for decay 0).

    Fine-tuning on a few thousand real scans swings from epoch to epoch: run B of 1.15.0 lost 0.04 of
    OPIXray knives localised between its two epochs with nothing else changed. The average of the last
    ~1 / (1 - decay) steps is the usual remedy (Polyak averaging); it starts at the first step's weights.
    """
    if not decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


@dataclass(frozen=True)
class ValidationScan:
    """A validation scan as inference sees it, prepared once for every epoch's :func:`evaluate`.

    Attributes:
        square: the letterboxed ``S x S x 3`` uint8 scan (normalised per batch: the float32 copy would be
            four times the size).
        holds_threat: whether any pixel of its class map is a threat.
        class_cells: for each threat class present, the output cells that touch it (:func:`class_cells`).
    """

    square: np.ndarray
    holds_threat: bool
    class_cells: dict[str, np.ndarray]


def prepare_validation(
    scans: Sequence[tuple[np.ndarray, np.ndarray]], spec: PreprocessSpec
) -> list[ValidationScan]:
    """Letterbox each cached scan and find its class cells once, rather than in every epoch.

    Measured (``python -m benchmarks.train_step``, beside a training run): 7.0 ms of CPU a scan every epoch
    before, 1.2 ms after (5.7x). It matters on a GPU, where validating 600 scans took ~4-5 s of each 10-13 s
    epoch of 300 steps (H200, 14 loader workers).
    """
    prepared = []
    for rgb, mask in scans:
        square, placement = letterbox_scan(rgb, spec)
        boxed = letterbox_mask(mask, spec.input_size, window_of(placement))
        prepared.append(ValidationScan(square, bool(boxed.any()), class_cells(boxed)))
    return prepared


def square_outputs(
    model: ThreatNet, squares: Sequence[np.ndarray], spec: PreprocessSpec, device: torch.device | None
) -> tuple[np.ndarray, np.ndarray]:
    """The threat maps and image scores of letterboxed scans (one batch), as inference computes them."""
    inputs = torch.from_numpy(np.stack([normalize(square, spec) for square in squares]))
    _, threat_map, score = threat_outputs(model(inputs.to(device or torch.device("cpu"))))
    return threat_map.float().cpu().numpy(), score.float().cpu().numpy()


@torch.no_grad()
def evaluate(
    model: ThreatNet,
    scans: Sequence[ValidationScan],
    spec: PreprocessSpec,
    batch_size: int = 8,
    device: torch.device | None = None,
) -> dict[str, Any]:
    """Image-level AUROC and detection rate at 5% false alarms on whole letterboxed scans, and per class.

    ``val_class_hits`` gives, per threat class, the share of scans holding it where the threat map's peak
    over that class's cells reaches the 5% false-alarm threshold of the clean scans: whether the class
    alone would have raised the alarm. Image metrics can rise while one class is never found; this shows it
    each epoch. It does not enter the choice of the best checkpoint.
    """
    model.eval()
    scores: list[float] = []
    peaks: dict[str, list[float]] = {}
    for start in range(0, len(scans), batch_size):
        chunk = scans[start : start + batch_size]
        threat_map, score = square_outputs(model, [scan.square for scan in chunk], spec, device)
        scores += score.tolist()
        for scan, cells in zip(chunk, threat_map, strict=True):
            for label, peak in peaks_over(scan.class_cells, cells).items():
                peaks.setdefault(label, []).append(peak)
    labels = [scan.holds_threat for scan in scans]
    clean = [s for s, holds in zip(scores, labels, strict=True) if not holds]
    threshold = threshold_at_far(clean, DEFAULT_FALSE_ALARM_RATE) if clean else None
    hits = (
        {}
        if threshold is None
        else {
            label: round(float(np.mean(np.asarray(v) >= threshold)), 4) for label, v in sorted(peaks.items())
        }
    )
    return {
        "val_auroc": auroc(scores, labels),
        VAL_DR_KEY: detection_rate_at_far(scores, labels, DEFAULT_FALSE_ALARM_RATE),
        "val_class_hits": hits,
    }


def class_cells(mask: np.ndarray) -> dict[str, np.ndarray]:
    """The output cells touching each threat class of ``mask`` (class map, input pixels), as boolean maps.

    A box-labelled threat's cells are those of its whole box: the threat is somewhere in them.
    """
    shares = soft_targets(class_map(mask), ThreatNet.output_stride, NUM_CHANNELS)[1:]
    return {THREAT_CLASSES[c]: shares[c] > 0 for c in range(len(shares)) if shares[c].any()}


def peaks_over(cells: Mapping[str, np.ndarray], threat_map: np.ndarray) -> dict[str, float]:
    """The threat map's maximum over each class's cells (:func:`class_cells`)."""
    rows, cols = threat_map.shape
    peaks = {}
    for label, where in cells.items():
        inside = where[:rows, :cols]
        if inside.any():
            peaks[label] = float(threat_map[inside].max())
    return peaks


def class_peaks(mask: np.ndarray, threat_map: np.ndarray) -> dict[str, float]:
    """The threat map's maximum over the cells touching each class of ``mask`` (class map, input pixels)."""
    return peaks_over(class_cells(mask), threat_map)


def split_validation(count: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Indices of training and held-out samples (seeded) when no validation folder is given."""
    order = np.random.default_rng(seed).permutation(count)
    cut = max(1, int(count * fraction))
    return sorted(int(i) for i in order[cut:]), sorted(int(i) for i in order[:cut])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write a checkpoint dict, then rename it into place, so an interrupted write never leaves a
    half-written checkpoint to resume from."""
    partial = path.with_suffix(".partial")
    torch.save(state, partial)
    partial.replace(path)


def network_of(state: dict[str, Any]) -> ThreatNet:
    """The network a checkpoint dict describes (its widths and blocks) with its weights, in eval mode."""
    model = build_model(tuple(state["args"]["widths"]), tuple(state["args"].get("blocks") or NO_BLOCKS))
    model.load_state_dict(state["model"])
    return model.eval()


def load_checkpoint(path: str | Path) -> tuple[ThreatNet, dict[str, Any]]:
    """Rebuild the network of a checkpoint; returns it (eval mode) and the checkpoint dict."""
    state = torch.load(str(path), map_location="cpu", weights_only=False)
    return network_of(state), state


def initial_model(args: TrainArgs) -> tuple[ThreatNet, dict[str, Any] | None]:
    """A fresh network, or the one ``args.init`` names, widened to ``args.widths`` and deepened to
    ``args.blocks`` where those ask for more (it then starts computing what it did: :func:`widen`,
    :func:`deepen`).

    Raises:
        ValueError: if ``args.init`` is neither a model folder nor a training checkpoint, or it has more
            channels or blocks than ``args.widths`` or ``args.blocks``.
    """
    if not args.init:
        return build_model(args.widths or DEFAULT_WIDTHS, args.blocks or NO_BLOCKS), None
    net, origin = _load_init(args)
    if args.widths is not None and args.widths != net.widths:
        net = widen(net, args.widths, seed=args.seed)
    if args.blocks is not None and args.blocks != net.blocks:
        net = deepen(net, args.blocks)
    return net, origin


def init_preprocessing(init: str | Path) -> dict[str, Any]:
    """The preprocessing a model folder (its card) or training checkpoint was trained with, as far as it
    says (an empty dict for neither); a run from ``init`` keeps it unless told otherwise."""
    path = Path(init)
    if path.is_dir():
        if not (path / CARD_FILE).is_file():
            return {}
        card = ModelCard.read(path)
        # The size the model is served at (its export's, which a fine-tune from it starts at).
        return {**(card.preprocessing or {}), "input_size": card.input_size}
    if path.is_file():
        return dict(torch.load(str(path), map_location="cpu", weights_only=False).get("preprocessing", {}))
    return {}


def init_input_size(init: str | Path) -> int | None:
    """The letterbox side a model folder (its card) or training checkpoint was trained at, if it says.

    A run from ``init`` trains at this size unless told otherwise; the network is fully convolutional, so
    its weights also carry over to another size (fine-tuning at a higher resolution for thin objects).
    """
    size = init_preprocessing(init).get("input_size")
    return int(size) if size is not None else None


def _load_init(args: TrainArgs) -> tuple[ThreatNet, dict[str, Any]]:
    net, origin, _ = _network_at(Path(args.init), "--init")
    return net, origin


def _network_at(path: Path, option: str) -> tuple[ThreatNet, dict[str, Any], Mapping[str, Any] | None]:
    """The network of a model folder or training checkpoint, where it came from, and its preprocessing.

    Raises:
        ValueError: if ``path`` is neither (``option`` names the command-line option in the message).
    """
    if path.is_dir():
        weights = path / WEIGHTS_FILE
        if not weights.is_file():
            raise ValueError(
                f"{path} holds no {WEIGHTS_FILE} (exported before fine-tuning existed); "
                "pass its training checkpoint (model_best.pt) instead"
            )
        card = ModelCard.read(path) if (path / CARD_FILE).is_file() else None
        net = load_weights(weights)
        origin = {"model": str(path), "name": card and card.name, "version": card and card.version}
        return net, {**origin, "sha256": file_sha256(weights)}, card.preprocessing if card else None
    if path.is_file():
        net, state = load_checkpoint(path)
        return net, {"checkpoint": str(path), "sha256": file_sha256(path)}, state.get("preprocessing")
    raise ValueError(f"{option} {path}: no such model folder or checkpoint")


def load_teacher(args: TrainArgs, spec: PreprocessSpec) -> ThreatNet | None:
    """The frozen teacher of ``--distill`` (None without one), checked against the run's arguments.

    Raises:
        ValueError: if ``--distill`` and ``--distill-on`` do not come together, a ``--distill-on`` folder
            is not among ``--data``, the teacher cannot be read, or it normalises its input differently
            from this run (its maps would answer other pixels).
    """
    if not args.distill and not args.distill_on:
        return None
    if not (args.distill and args.distill_on):
        raise ValueError("--distill (the teacher) and --distill-on (the folders to hold it on) go together")
    missing = {str(Path(f)) for f in args.distill_on} - {str(Path(f)) for f in args.data}
    if missing:
        raise ValueError(f"--distill-on {', '.join(sorted(missing))}: not among --data")
    teacher, _, preprocessing = _network_at(Path(args.distill), "--distill")
    theirs = PreprocessSpec.from_dict(preprocessing) if preprocessing else PreprocessSpec()
    if (theirs.mean, theirs.std, theirs.pad_value, theirs.output_stride) != (
        spec.mean, spec.std, spec.pad_value, spec.output_stride
    ):  # fmt: skip
        raise ValueError(f"--distill {args.distill}: its input normalisation or output stride differs")
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher.eval()


def mixing_weights(origins: Sequence[int], mix: Sequence[float]) -> np.ndarray:
    """Per-sample draw weights so that data folder ``i`` supplies a share ``mix[i]`` of every epoch.

    Args:
        origins: the folder index of each training sample.
        mix: one positive weight per folder (normalised here).

    Raises:
        ValueError: if the weights do not match the folders or are not positive.
    """
    counts = np.bincount(np.asarray(origins, dtype=np.int64), minlength=len(mix))
    if len(counts) != len(mix):
        raise ValueError(f"{len(mix)} mixing weights for {len(counts)} data folders")
    if any(not math.isfinite(w) or w <= 0 for w in mix):
        raise ValueError(f"mixing weights must be positive, got {list(mix)}")
    if (counts == 0).any():
        raise ValueError("a data folder with a mixing weight supplies no training scans")
    share = np.asarray(mix, dtype=np.float64) / float(sum(mix))
    return np.asarray([share[o] / counts[o] for o in origins], dtype=np.float64)


def repeat_factors(
    labels: Sequence[Sequence[str]],
    misses: Mapping[str, float] | None = None,
    threshold: float = REPEAT_THRESHOLD,
) -> np.ndarray:
    """How often to draw each scan so that rare and missed classes are seen more.

    Repeat-factor sampling as in LVIS, scaled by how badly the model misses each class: a class's factor is
    ``sqrt(threshold / share of scans holding it)`` (at least 1) times ``1 + MISS_BOOST * miss rate``; a
    scan takes the largest factor of its classes, a clean scan 1.

    Args:
        labels: the threat classes of each training scan (empty for a clean scan).
        misses: each class's miss rate in ``[0, 1]`` (one minus its validation hit rate); absent classes 0.
        threshold: classes in at least this share of scans are not repeated for rarity.
    """
    count = max(1, len(labels))
    share: dict[str, float] = {}
    for names in labels:
        for name in set(names):
            share[name] = share.get(name, 0.0) + 1.0 / count
    misses = misses or {}
    factor = {
        name: max(1.0, math.sqrt(threshold / part)) * (1.0 + MISS_BOOST * misses.get(name, 0.0))
        for name, part in share.items()
    }
    return np.asarray([max([1.0] + [factor[name] for name in names]) for names in labels], dtype=np.float64)


@torch.no_grad()
def whole_scan_figures(
    model: ThreatNet,
    scans: Sequence[tuple[np.ndarray, np.ndarray]],
    indices: Sequence[int],
    spec: PreprocessSpec,
    batch_size: int = 8,
    device: torch.device | None = None,
    precision: str = "fp32",
) -> tuple[np.ndarray, np.ndarray]:
    """Of each scan ``scans[i]``, ``i`` in ``indices``, as inference sees the whole scan: its image score, and
    the threat map's peak over the cells of its least-found threat class (:func:`class_peaks`; 1 where the
    scan holds no threat). With ``precision`` ``"bf16"`` the network runs under bf16 autocast, as training
    does: mining scores every clean or threat scan of the run once an epoch, whole. Measured on 48 OPIXray
    training scans with 1.16.2's network at 512 px, one thread, in one run: 34-36 ms a scan in bf16 against
    124-148 ms in fp32, the class peaks within 0.003 of each other."""
    model.eval()
    low = PRECISIONS[precision]
    device = device or torch.device("cpu")
    autocast = torch.autocast(device.type, dtype=low) if low is not None else contextlib.nullcontext()
    scores: list[float] = []
    peaks: list[float] = []
    for start in range(0, len(indices), batch_size):
        chunk = [scans[i] for i in indices[start : start + batch_size]]
        framed = [letterbox_scan(rgb, spec) for rgb, _ in chunk]
        with autocast:
            threat_maps, score = square_outputs(model, [square for square, _ in framed], spec, device)
        scores += score.tolist()
        for (_, mask), (_, placement), threat_map in zip(chunk, framed, threat_maps, strict=True):
            boxed = letterbox_mask(mask, spec.input_size, window_of(placement))
            found = class_peaks(boxed, threat_map).values()
            peaks.append(min(found, default=1.0))
    return np.asarray(scores, dtype=np.float64), np.asarray(peaks, dtype=np.float64)


def hard_factors(
    hardness: np.ndarray,
    indices: Sequence[int],
    origins: Sequence[int],
    boost: float,
    share: float = HARD_SHARE,
) -> tuple[np.ndarray, dict[int, float]]:
    """Draw factors that favour the hardest of some scans (hard-example mining).

    Within each data folder, the scans ``indices`` (with their ``hardness``: a clean scan's score, or one
    minus a threat scan's class peak, both from :func:`whole_scan_figures`) at or above the folder's
    ``1 - share`` quantile get ``boost``; every other scan 1. Use with :func:`respread`, which keeps each
    folder's share and its clean scans' share of the draw.

    Returns:
        The factor of every training scan (``len(origins)``), and each folder's cut hardness.
    """
    factors = np.ones(len(origins), dtype=np.float64)
    index = np.asarray(indices, dtype=np.int64)
    folder_of = np.asarray(origins, dtype=np.int64)[index] if len(index) else np.zeros(0, dtype=np.int64)
    cuts: dict[int, float] = {}
    for folder in np.unique(folder_of):
        mine = folder_of == folder
        cut = float(np.quantile(hardness[mine], 1.0 - share))
        factors[index[mine & (hardness >= cut)]] = boost
        cuts[int(folder)] = round(cut, 4)
    return factors, cuts


def respread(weights: np.ndarray, groups: Sequence[int], factors: np.ndarray) -> np.ndarray:
    """``weights * factors``, rescaled so that every group keeps its share of the total draw."""
    group = np.asarray(groups, dtype=np.int64)
    scaled = weights * factors
    before = np.bincount(group, weights=weights)
    after = np.bincount(group, weights=scaled)
    return scaled * (before / np.where(after > 0, after, 1.0))[group]


def draw_weights(
    args: TrainArgs,
    train_samples: Sequence[Sample],
    origins: Sequence[int],
    misses: Mapping[str, float] | None = None,
) -> np.ndarray | None:
    """Per-sample draw weights from ``--mix`` and ``--balance`` (``None``: plain shuffling).

    Balancing works within each data folder, so every folder still supplies the share ``--mix`` gives it.
    """
    if not args.balance:
        return mixing_weights(origins, args.mix) if args.mix else None
    factors = repeat_factors([[i.label for i in s.instances] for s in train_samples], misses)
    if not args.mix:
        return factors
    folder = np.asarray(origins, dtype=np.int64)
    # mixing_weights gives each scan its folder's share / the folder's size; re-spread that share by factor.
    folder_share = mixing_weights(origins, args.mix) * np.bincount(folder)[folder]
    return folder_share * factors / np.bincount(folder, weights=factors)[folder]


def ranking_weights(misses: Mapping[str, float]) -> torch.Tensor:
    """Weight of each threat class in the per-class ranking term: ``1 + MISS_BOOST * miss rate``.

    :func:`segmentation_loss` takes them relative to the batch's mean and floors them at 1.
    """
    return torch.tensor([1.0 + MISS_BOOST * misses.get(label, 0.0) for label in THREAT_CLASSES])


def class_misses(hits: Mapping[str, float] | None) -> dict[str, float]:
    """Miss rate per class from an :func:`evaluate` record's ``val_class_hits``."""
    return {label: 1.0 - float(hit) for label, hit in (hits or {}).items()}


@dataclass
class TrainingData:
    """The scans of a run, cached in memory: the augmented training set and the validation scans."""

    train_set: AugmentedScans
    samples: list[Sample]
    origins: list[int]  # the --data folder each training scan came from (for --mix)
    val_scans: list[Any]
    val_count: int


def load_training_data(args: TrainArgs, spec: PreprocessSpec) -> TrainingData:
    """Read and cache the training scans (``--data``) and the validation scans (``--val``, or a held-out
    share of ``--data``)."""
    per_folder = [load_dataset(folder) for folder in args.data]
    samples = [sample for folder in per_folder for sample in folder]
    origins = [index for index, folder in enumerate(per_folder) for _ in folder]
    if args.val:
        train_index, val_samples = list(range(len(samples))), load_datasets(args.val)
    else:
        train_index, val_index = split_validation(len(samples), args.val_fraction, args.seed)
        val_samples = [samples[i] for i in val_index]
    train_samples = [samples[i] for i in train_index]
    threads = max(args.workers, 1)
    distilled = {str(Path(folder)) for folder in args.distill_on}
    train_set = AugmentedScans(
        cache_samples(train_samples, args.cache_long_side, args.progress, threads=threads),
        TrainPreset(
            spec,
            crop_size=args.crop_size,
            balance_classes=args.balance,
            low_res_p=args.low_res,
            repaint_p=args.repaint,
            levers_clean_only=args.levers_on == "clean",
        ),
        args.seed,
        teach=[str(Path(args.data[origins[i]])) in distilled for i in train_index],
    )
    val_scans = prepare_validation(
        cache_samples(val_samples, args.cache_long_side, args.progress, threads=threads), spec
    )
    return TrainingData(
        train_set, train_samples, [origins[i] for i in train_index], val_scans, len(val_samples)
    )


def make_loader(
    args: TrainArgs, data: TrainingData, device: torch.device
) -> tuple[DataLoader[tuple[np.ndarray, np.ndarray, bool]], WeightedRandomSampler | None, torch.Generator]:
    """Batches of augmented crops, drawn by ``--mix``/``--balance`` weights where given, else shuffled.

    An epoch draws ``--epoch-size`` scans (with replacement) where given, else as many as there are.

    Returns:
        The loader, its weighted sampler (None when shuffling) and the generator seeded each epoch.

    Raises:
        ValueError: the training scans make no whole batch.
    """
    shuffle = torch.Generator()
    sampler = None
    draw = draw_weights(args, data.samples, data.origins)
    if draw is None and (args.epoch_size or mining(args)):
        draw = np.ones(len(data.train_set))
    if draw is not None:
        sampler = WeightedRandomSampler(
            draw.tolist(), args.epoch_size or len(data.train_set), replacement=True, generator=shuffle
        )
    loader = DataLoader(
        data.train_set,
        batch_size=args.batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        drop_last=True,
        num_workers=args.workers,
        generator=shuffle if sampler is None else None,
        pin_memory=device.type == "cuda",
    )
    if len(loader) == 0:
        raise ValueError(f"{len(data.train_set)} training scans make no batch of {args.batch_size}")
    return loader, sampler, shuffle


def mining(args: TrainArgs) -> bool:
    """Whether the run mines hard scans each epoch (``--hard-negatives`` or ``--hard-positives`` above 1)."""
    return args.hard_negatives > 1 or args.hard_positives > 1


def mine_hard_scans(
    args: TrainArgs,
    model: ThreatNet,
    data: TrainingData,
    weights: np.ndarray,
    spec: PreprocessSpec,
    device: torch.device,
) -> tuple[np.ndarray, dict[str, dict[str, float]]]:
    """This epoch's draw weights with the hardest scans of each folder drawn more often, as the current
    network sees them: the clean scans it scores highest (``--hard-negatives`` times as often) and the threat
    scans whose least-found class it peaks lowest on (``--hard-positives``). Each folder's share, and its
    clean scans' share, stay as they were.

    Returns:
        The weights, and for each kind of mining each folder's cut by name (``hard_negative_cuts``: the
        clean scores at and above which scans were mined; ``hard_positive_cuts``: the class peaks at and
        below which they were).
    """
    factors = np.ones(len(data.samples), dtype=np.float64)
    cuts: dict[str, dict[str, float]] = {}
    for key, boost, threat in (
        ("hard_negative_cuts", args.hard_negatives, False),
        ("hard_positive_cuts", args.hard_positives, True),
    ):
        if boost <= 1:
            continue
        chosen = [i for i, sample in enumerate(data.samples) if sample.has_threat == threat]
        scores, peaks = whole_scan_figures(
            model, data.train_set.cached, chosen, spec, device=device, precision=args.precision
        )
        mined, cut = hard_factors(1.0 - peaks if threat else scores, chosen, data.origins, boost)
        factors *= mined
        cuts[key] = {Path(args.data[f]).name: round(1.0 - c, 4) if threat else c for f, c in cut.items()}
    groups = [
        2 * origin + (not sample.has_threat)
        for origin, sample in zip(data.origins, data.samples, strict=True)
    ]
    return respread(weights, groups, factors), cuts


def run_record(args: TrainArgs, spec: PreprocessSpec, init: dict[str, Any] | None, data: TrainingData,
               init_validation: dict[str, Any] | None, commit: str) -> dict[str, Any]:  # fmt: skip
    """What every checkpoint of the run records besides its weights: arguments, data, seeds, code."""
    folders = dataset_spec(args.data, with_hash=True)
    for index, entry in enumerate(folders):
        entry["mix"] = args.mix[index] if args.mix else None
    return {
        "args": asdict(args),
        "preprocessing": spec.to_dict(),
        "init": init,
        "data": folders,
        "validation": dataset_spec(args.val, with_hash=True)
        if args.val
        else f"{args.val_fraction:.0%} of the training data",
        "train_images": len(data.samples),
        "val_images": data.val_count,
        "init_validation": init_validation,
        # The code that trained (export records its own, which may be later).
        "source_commit": commit,
    }


def main(args: TrainArgs) -> Path:
    """Train as ``args`` says; returns the path of the best checkpoint.

    Resumes from ``checkpoint.pt`` in the run folder when there is one (and may extend ``--epochs``).
    Each epoch: train, validate, append to ``log.jsonl``, keep ``checkpoint.pt``, ``model_best.pt``
    (by validation AUROC + detection at 5% false alarms) and, with ``--keep-epochs``, ``epoch_NNN.pt``.
    """
    # First: the code was imported just now, and loading data takes minutes in which the tree may change.
    commit = source_commit()
    if args.mix and len(args.mix) != len(args.data):
        raise ValueError(f"{len(args.mix)} mixing weights for {len(args.data)} data folders")
    spec = PreprocessSpec(input_size=args.input_size, content_fill=args.content_fill)
    # Arguments are checked before the run folder exists, so a refused run leaves nothing behind.
    teacher = load_teacher(args, spec)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = training_device(args.device)
    model, init = initial_model(args)
    model = for_precision(model, args.precision).to(device)
    args = replace(args, widths=model.widths, blocks=model.blocks)
    if teacher is not None:
        teacher = for_precision(teacher, args.precision).to(device)
    data = load_training_data(args, spec)
    loader, sampler, shuffle = make_loader(args, data, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.epochs * len(loader), pct_start=0.1
    )
    average = moving_average(model, args.ema)
    if args.qat:
        # After the average is made, so that with --ema what is validated and checkpointed stays a plain
        # network; without it the rounded network is validated (its state dict is a plain one's either way).
        qat.attach(model)
    # What is validated and checkpointed as the run's model: the moving average if there is one.
    served: ThreatNet = model if average is None else cast(ThreatNet, average.module)
    start, best, history, init_validation = 0, -math.inf, [], None
    if (out / CHECKPOINT).exists():
        state = torch.load(str(out / CHECKPOINT), map_location="cpu", weights_only=False)
        model.load_state_dict(state.get("raw_model", state["model"]))
        if average is not None:
            if "average" not in state:
                raise ValueError(f"{out / CHECKPOINT} was trained without --ema; resume it without --ema")
            average.load_state_dict(state["average"])
        optimizer.load_state_dict(state["optimizer"])
        start, best, history = state["epoch"] + 1, state["best"], state["history"]
        init_validation = state.get("init_validation")
        # Place the one-cycle schedule by step count rather than restoring it, so a resumed run may
        # also extend --epochs (the schedule then stretches to the new length).
        scheduler.last_epoch = start * len(loader)
        print(f"resuming from {out / CHECKPOINT} at epoch {start}", file=sys.stderr)
    elif init is not None and args.balance:
        # Where the fine-tune starts, and which classes its first epoch should draw more of.
        init_validation = evaluate(model, data.val_scans, spec, device=device)
        print(json.dumps({"init": init_validation}), file=sys.stderr)
    hits = history[-1].get("val_class_hits") if history else (init_validation or {}).get("val_class_hits")
    meta = run_record(args, spec, init, data, init_validation, commit)
    for epoch in range(start, args.epochs):
        began = time.monotonic()
        # Order and augmentation depend on (seed, epoch) only, so a resumed run continues identically.
        data.train_set.epoch = epoch
        shuffle.manual_seed(args.seed * 1000 + epoch)
        ranking, mined = None, dict[str, dict[str, float]]()
        if sampler is not None and (args.balance or mining(args)):
            # What the last validation missed steers both this epoch's draw and its ranking term.
            misses = class_misses(hits)
            weights = draw_weights(args, data.samples, data.origins, misses)
            weights = np.ones(len(data.samples)) if weights is None else weights
            if mining(args):
                weights, mined = mine_hard_scans(args, model, data, weights, spec, device)
            sampler.weights = torch.as_tensor(weights, dtype=torch.double)
            ranking = ranking_weights(misses) if args.balance else None
        weight = IMAGE_LOSS_WEIGHT if init is not None else image_loss_weight(epoch / args.epochs)
        losses = train_one_epoch(
            model, optimizer, scheduler, loader, epoch, args.progress, weight, ranking, args.precision,
            device, average, teacher, args.distill_weight, args.mil_line,
        )  # fmt: skip
        metrics = evaluate(served, data.val_scans, spec, device=device)
        hits = metrics["val_class_hits"]
        record = {
            "epoch": epoch,
            **losses,
            "image_weight": weight,
            "steps": len(loader),
            **mined,
            **metrics,
            "lr": scheduler.get_last_lr()[0],
            "seconds": round(time.monotonic() - began, 1),
        }
        history.append(record)
        with (out / LOG).open("a") as log:
            log.write(json.dumps(record) + "\n")
        print(json.dumps(record), file=sys.stderr)
        quality = (metrics[VAL_DR_KEY] or 0.0) + (metrics["val_auroc"] or 0.0)
        state = {"model": served.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                 "best": max(best, quality), "history": history, **meta}  # fmt: skip
        if average is not None:
            state |= {"raw_model": model.state_dict(), "average": average.state_dict()}
        if quality >= best:
            best = quality
            save_checkpoint(out / BEST, state)
        if args.keep_epochs:
            save_checkpoint(out / f"epoch_{epoch:03d}.pt", state)
        save_checkpoint(out / CHECKPOINT, state)
    return out / BEST


def command_line(argv: Sequence[str] | None = None) -> str:
    """The command as typed, with the program shown as ``triage``."""
    words = list(sys.argv if argv is None else argv)
    if words and Path(words[0]).name in ("triage", "cli.py", "__main__.py"):
        words[0] = "triage"
    return shlex.join(words)
