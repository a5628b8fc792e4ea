"""The arguments of a training run, and their defaults: one source for ``triage train`` and
:func:`vision.train.train.main` (this module imports no torch, so the CLI can read the defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TrainArgs:
    """Everything a training run depends on (stored in checkpoints and the model card)."""

    data: list[str]
    out: str
    val: list[str] = field(default_factory=list)
    epochs: int = 20
    seed: int = 0
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    input_size: int = 512
    # Cut each scan down around the bag before letterboxing (PreprocessSpec.content_fill; 0: whole scans).
    content_fill: float = 0.0
    crop_size: int = 256
    # Channels at strides 2, 4, 8 and 16; None: those of the --init model (DEFAULT_WIDTHS for a fresh one).
    widths: tuple[int, int, int, int] | None = None
    # Residual blocks at strides 8 and 16; None: as many as the --init model has (none for a fresh one).
    blocks: tuple[int, int] | None = None
    threads: int = 2
    workers: int = 1
    val_fraction: float = 0.1
    cache_long_side: int = 640
    init: str = ""
    mix: list[float] = field(default_factory=list)
    balance: bool = False
    # Keep every epoch's checkpoint (epoch_NNN.pt) so one can be chosen afterwards on other data (the
    # real validation files, through an export of each).
    keep_epochs: bool = False
    # Scans drawn per epoch (0: as many as the training data holds), so that runs on different data make
    # the same number of steps (e.g. an ablation that drops a data folder).
    epoch_size: int = 0
    # Hard-negative mining: each epoch, the top HARD_SHARE of each folder's clean scans by the current
    # network's score are drawn this many times as often (1: off); see train.hard_factors.
    hard_negatives: float = 1.0
    # Hard-positive mining: likewise the HARD_SHARE of each folder's threat scans whose least-found class
    # the network peaks lowest on, over that class's cells of the whole scan (1: off).
    hard_positives: float = 1.0
    # Cells of a box the multiple-instance term pushes, as a multiple of the square root of the box's
    # cells (0: its best cell only); see train.multiple_instance_loss.
    mil_line: float = 0.0
    # Chance of re-exporting a training scan at a lower resolution (train.presets.lower_resolution), so
    # that an enlarged small export does not tell the network "threat" (0: off).
    low_res: float = 0.0
    # Chance of showing a training scan in another real scanner's palette (train.presets.repaint), so that
    # a set's palette does not tell the network whether it holds threats (0: off).
    repaint: float = 0.0
    # Which training scans low_res and repaint may change: one of LEVER_SCOPES, "all", or "clean" (only
    # scans with no threat).
    levers_on: str = "all"
    # Exponential moving average of the weights, updated every step with this decay (0: off). Validation,
    # the kept checkpoints and so the exported model use the average; the raw weights are kept to resume.
    ema: float = 0.0
    # Distillation (learning without forgetting): a teacher model (folder or checkpoint) whose maps the
    # network is held to, on the scans of the --data folders in distill_on, with this weight.
    distill: str = ""
    distill_on: list[str] = field(default_factory=list)
    distill_weight: float = 1.0
    # Quantisation-aware fine-tuning (vision.train.qat): the forward pass rounds weights and activations
    # as the INT8 graph of `triage quantize` will, so that its rounding costs less.
    qat: bool = False
    precision: str = "fp32"
    device: str = "cpu"
    progress: bool = True
    command: str = ""


# The defaults, for the command line's options.
DEFAULTS = TrainArgs(data=[], out="")
# The scopes of the shortcut levers (``levers_on``).
LEVER_SCOPES = ("all", "clean")
