"""`triage train`, `evaluate`, `export` and `quantize`: the model's life from data to a shipped folder.

Training and export need the ``[train]`` extra (torch); they import it inside the command so the rest of
the CLI starts without it. Evaluation runs the exported ONNX file through the runtime Predictor.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.commands._errors import cli_errors, fail
from cli.commands.scan import Precision
from vision.evaluation.metrics import DEFAULT_FALSE_ALARM_RATE
from vision.train.args import DEFAULTS, LEVER_SCOPES

if TYPE_CHECKING:
    from vision.palette import Palette


def register(app: typer.Typer) -> None:
    """Add ``train``, ``soup``, ``evaluate``, ``export`` and ``quantize`` to ``app``."""
    app.command("train")(train)
    app.command("soup")(soup)
    app.command("evaluate")(evaluate)
    app.command("export")(export)
    app.command("quantize")(quantize)


def _folders(value: str) -> list[str]:
    folders = [part.strip() for part in value.split(",") if part.strip()]
    missing = [f for f in folders if not (pathlib.Path(f) / "annotations.json").is_file()]
    if not folders or missing:
        raise fail(f"not a dataset folder (no annotations.json): {', '.join(missing) or value!r}")
    return folders


def _mixing(value: str, folders: int) -> list[float]:
    try:
        weights = [float(part) for part in value.split(",")]
    except ValueError:
        raise fail(f"--mix {value!r}: expected comma-separated numbers") from None
    if len(weights) != folders:
        raise fail(f"--mix gives {len(weights)} weights for {folders} --data folders")
    if any(not w > 0 or w == float("inf") for w in weights):
        raise fail(f"--mix {value!r}: weights must be positive numbers")
    return weights


def _blocks(value: str) -> tuple[int, int]:
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise fail(f"--blocks {value!r}: give two counts, at strides 8 and 16 (e.g. 2,2)")
    return int(parts[0]), int(parts[1])


def _palette(value: str) -> Palette:
    from vision.palette import Palette

    problem = (
        f"--palette {value!r}: give HUE,SATURATION: a warm hue of 0-90 degrees and a saturation of 1-255"
    )
    try:
        hue, saturation = (float(part) for part in value.split(","))
    except ValueError:  # not two numbers
        raise fail(problem) from None
    if not (0 <= hue < 90 and 1 <= saturation <= 255):
        raise fail(problem)
    return Palette(hue, saturation)


def _widths(value: str) -> tuple[int, int, int, int]:
    from vision.train.model import parse_widths

    try:
        return parse_widths(value)
    except ValueError as error:
        raise fail(f"--widths {value!r}: {error}") from None


def train(
    data: Annotated[str, typer.Option(help="training dataset folder(s), comma-separated")],
    out: Annotated[pathlib.Path, typer.Option(help="run folder: checkpoints and log (resumed if present)")],
    epochs: Annotated[int, typer.Option(min=1, help="passes over the training data")] = DEFAULTS.epochs,
    seed: Annotated[
        int, typer.Option(help="seed of initialisation, shuffling and augmentation")
    ] = DEFAULTS.seed,
    val: Annotated[str | None, typer.Option(help="validation folder(s); default 10% of --data")] = None,
    batch_size: Annotated[int, typer.Option(min=1)] = DEFAULTS.batch_size,
    lr: Annotated[float, typer.Option(help="peak learning rate (one-cycle)")] = DEFAULTS.lr,
    input_size: Annotated[
        int | None,
        typer.Option(
            min=32,
            help="letterbox side of the model input (default: that of --init, else 512); an --init model "
            "trained at another size carries over (the network is fully convolutional)",
        ),
    ] = None,
    content_fill: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="cut each scan down around the bag until it spans this share of the longer side, in "
            "training and in the exported model (0: letterbox whole scans; default: that of --init, else 0)",
        ),
    ] = None,
    crop_size: Annotated[int, typer.Option(help="side of training crops")] = DEFAULTS.crop_size,
    threads: Annotated[int, typer.Option(min=1, help="torch threads")] = DEFAULTS.threads,
    workers: Annotated[int, typer.Option(min=0, help="data-loading processes")] = DEFAULTS.workers,
    init: Annotated[
        pathlib.Path | None,
        typer.Option(help="fine-tune from this model folder (models/NAME/VERSION) or training checkpoint"),
    ] = None,
    mix: Annotated[
        str | None,
        typer.Option(help="share of each --data folder in every epoch, comma-separated (e.g. 0.6,0.3,0.1)"),
    ] = None,
    balance: Annotated[
        bool,
        typer.Option(
            help="balance the classes: scans of rare classes and of classes the last validation missed "
            "drawn more often, crops centred on a class drawn uniformly, every class in a crop ranked "
            "(not only its most threat-like object)"
        ),
    ] = DEFAULTS.balance,
    keep_epochs: Annotated[
        bool,
        typer.Option(
            help="also keep every epoch's checkpoint (epoch_NNN.pt), to choose one afterwards on data the "
            "run does not validate on (e.g. export each and score it with triage evaluate --real)"
        ),
    ] = DEFAULTS.keep_epochs,
    epoch_size: Annotated[
        int,
        typer.Option(
            min=0,
            help="scans drawn per epoch (0: as many as --data holds), so runs on different data make the "
            "same number of steps",
        ),
    ] = DEFAULTS.epoch_size,
    hard_negatives: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="hard-negative mining: each epoch, the quarter of each folder's clean scans that the "
            "network scores highest are drawn this many times as often (1: off); each folder's share and "
            "its clean scans' share stay as they were",
        ),
    ] = DEFAULTS.hard_negatives,
    hard_positives: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="hard-positive mining: each epoch, the quarter of each folder's threat scans whose "
            "least-found class the network peaks lowest on (over its cells, or its box) are drawn this "
            "many times as often (1: off); each folder's share and its threat scans' share stay as they "
            "were. Measured: it did not help 1.16.2's thin knives (README, Real scans in the loop)",
        ),
    ] = DEFAULTS.hard_positives,
    mil_line: Annotated[
        float,
        typer.Option(
            min=0.0,
            help="box labels: push the box's best ceil(F * sqrt(its cells)) cells towards its class, about "
            "the cells a thin object lying across the box covers, instead of its best cell alone (0: one). "
            "1.17.0 was trained with 4 (README, Real scans in the loop)",
        ),
    ] = DEFAULTS.mil_line,
    low_res: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="chance of re-exporting a training scan at a lower resolution (long side 360-800 px, JPEG "
            "half the time) and enlarging it back. The kit's threat sets were exported small and its clean "
            "bags large, so without it a small export reads as a threat (0: off; measured: README, Real "
            "scans in the loop)",
        ),
    ] = DEFAULTS.low_res,
    repaint: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="chance of showing a training scan in another real scanner's palette (its median warm hue "
            "moved to one drawn from 24-60 degrees, its saturation to one drawn from 50-165). The kit's sets "
            "differ in palette, so without it a set's palette tells whether it holds threats (0: off; "
            "measured: README, Real scans in the loop)",
        ),
    ] = DEFAULTS.repaint,
    levers_on: Annotated[
        str,
        typer.Option(
            help="which training scans --low-res and --repaint may change: all, or only those with no "
            "threat (the clean bags then wear every palette and size the threat scans do, and the threat "
            "scans keep their own)",
        ),
    ] = DEFAULTS.levers_on,
    ema: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=0.99999,
            help="keep an exponential moving average of the weights with this decay per step (e.g. 0.998: "
            "about the last 500 steps), and validate and checkpoint the average rather than the last "
            "step's weights (0: off)",
        ),
    ] = DEFAULTS.ema,
    qat: Annotated[
        bool,
        typer.Option(
            "--qat",
            help="quantisation-aware fine-tuning: round weights and activations in the forward pass as "
            "`triage quantize`'s INT8 graph will, so that INT8 costs less; the checkpoint stays float",
        ),
    ] = DEFAULTS.qat,
    distill: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="teacher model folder or checkpoint: on the --distill-on folders' scans the network is "
            "held to the teacher's maps (learning without forgetting, e.g. the simulator-only classes)"
        ),
    ] = None,
    distill_on: Annotated[
        str | None, typer.Option(help="--data folder(s) to distil the teacher on, comma-separated")
    ] = None,
    distill_weight: Annotated[
        float, typer.Option(min=0.0, help="weight of the distillation term")
    ] = DEFAULTS.distill_weight,
    blocks: Annotated[
        str | None,
        typer.Option(
            help="residual blocks at strides 8 and 16, e.g. 2,2 (default: those of --init, else none); "
            "blocks added to an --init model start as the identity, so it keeps what it learned"
        ),
    ] = None,
    widths: Annotated[
        str | None,
        typer.Option(
            help="channels at strides 2, 4, 8 and 16, e.g. 24,48,96,144 (default: those of --init, else "
            "16,32,64,96); an --init model is widened by copying channels, so it keeps what it learned"
        ),
    ] = None,
    precision: Annotated[
        str,
        typer.Option(
            help="fp32, or bf16: mixed precision (bf16 forward pass, float32 weights and loss), 2.3x faster "
            "steps on CPUs with AMX or AVX512-BF16, up to 8x slower where bf16 is emulated (it warns)"
        ),
    ] = DEFAULTS.precision,
    device: Annotated[
        str,
        typer.Option(
            help="cpu, or cuda (cuda:N): train and validate on a CUDA GPU; data loading stays on the CPU's "
            "--workers processes"
        ),
    ] = DEFAULTS.device,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Train the threat segmentation network; prints the best checkpoint's path.

    With --init the run starts from a shipped model's weights (fine-tuning); with --mix the data folders
    are drawn in the given proportions whatever their sizes (e.g. simulator, imported real scans and
    operator feedback). The run records the command, seeds and a content hash of every data folder.
    """
    from vision.train.train import (
        PRECISIONS,
        TrainArgs,
        bf16_kernels,
        command_line,
        init_preprocessing,
        main,
        training_device,
    )

    with cli_errors():
        if levers_on not in LEVER_SCOPES:
            raise fail(f"--levers-on {levers_on!r}: choose one of {', '.join(LEVER_SCOPES)}")
        if precision not in PRECISIONS:
            raise fail(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
        target = training_device(device)
        if precision == "bf16" and not bf16_kernels(target):
            print(
                "warning: this CPU has no bf16 kernels (they need AVX512 or AMX); --precision bf16 is "
                "emulated here, up to 8x slower a step than fp32 (python -m benchmarks.train_step)",
                file=sys.stderr,
            )
        folders = _folders(data)
        weights = _mixing(mix, len(folders)) if mix else []
        if init is not None and not init.exists():
            raise fail(f"--init {init}: no such model folder or checkpoint")
        # What the --init model was trained with (input size, framing) carries over unless given.
        inherited = init_preprocessing(init) if init else {}
        args = TrainArgs(
            data=folders,
            val=_folders(val) if val else [],
            init=str(init) if init else "",
            mix=weights,
            balance=balance,
            keep_epochs=keep_epochs,
            epoch_size=epoch_size,
            hard_negatives=hard_negatives,
            hard_positives=hard_positives,
            mil_line=mil_line,
            low_res=low_res,
            repaint=repaint,
            levers_on=levers_on,
            ema=ema,
            qat=qat,
            distill=str(distill) if distill else "",
            distill_on=_folders(distill_on) if distill_on else [],
            distill_weight=distill_weight,
            precision=precision,
            device=device,
            blocks=_blocks(blocks) if blocks is not None else None,
            widths=_widths(widths) if widths is not None else None,
            out=str(out),
            epochs=epochs,
            seed=seed,
            batch_size=batch_size,
            lr=lr,
            input_size=input_size or int(inherited.get("input_size") or DEFAULTS.input_size),
            content_fill=content_fill
            if content_fill is not None
            else float(inherited.get("content_fill", 0.0)),
            crop_size=crop_size,
            threads=threads,
            workers=workers,
            progress=not quiet,
            command=command_line(),
        )
        print(main(args))


def soup(
    checkpoint: Annotated[
        list[pathlib.Path],
        typer.Option(help="training checkpoint or model folder to average (repeat: two or more)"),
    ],
    out: Annotated[pathlib.Path, typer.Option(help="where to write the averaged checkpoint (.pt)")],
    val: Annotated[str | None, typer.Option(help="validation folder(s): print the soup's metrics")] = None,
    threads: Annotated[int, typer.Option(min=1, help="torch threads")] = 2,
) -> None:
    """Average the weights of fine-tunes of one model (a model soup) into a checkpoint for export.

    Fine-tunes that start from one model (other seeds, runs, or epochs of a run) average into a network
    that is often better than each; export it like a trained checkpoint. The card lists the ingredients.
    """
    from vision.train.soup import average_checkpoints, save_soup
    from vision.train.train import command_line

    with cli_errors():
        missing = [str(path) for path in checkpoint if not path.exists()]
        if missing:
            raise fail(f"no checkpoint at {', '.join(missing)}")
        if out.suffix != ".pt":
            raise fail(f"--out must name a .pt file, got {out}")
        folders = _folders(val) if val else []
        state = average_checkpoints(checkpoint, command=command_line())
        if folders:
            state["soup_validation"] = _validate(state, folders, threads)
            print(json.dumps({"validation": state["soup_validation"]}))
        print(save_soup(state, out))


def _validate(state: dict[str, Any], folders: list[str], threads: int) -> dict[str, Any]:
    """The training loop's validation (AUROC, DR@5%, per-class hits) of a checkpoint dict."""
    import torch

    from vision.datasets import cache_samples, load_datasets
    from vision.preprocess import PreprocessSpec
    from vision.train.train import TrainArgs, evaluate, network_of, prepare_validation

    torch.set_num_threads(threads)
    spec = PreprocessSpec.from_dict(state["preprocessing"])
    long_side = int(state["args"].get("cache_long_side", TrainArgs.cache_long_side))
    scans = cache_samples(load_datasets(folders), long_side, progress=False, threads=threads)
    return evaluate(network_of(state), prepare_validation(scans, spec), spec)


def evaluate(
    model: Annotated[pathlib.Path, typer.Option(help="model folder (model.onnx + model.json)")],
    data: Annotated[str | None, typer.Option(help="dataset folder(s), comma-separated")] = None,
    real: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="folder of real sets in their own layouts (VOC, YOLO, clean bags), e.g. ../shared/real/xray"
        ),
    ] = None,
    all_files: Annotated[
        bool, typer.Option("--all-files", help="with --real: score every file, not just each set's val.txt")
    ] = False,
    views: Annotated[
        int,
        typer.Option(
            min=1,
            max=4,
            help="with --real: score each file also mirrored (2: turned half round; 4: and flipped either "
            "way), every view counted as a scan",
        ),
    ] = 1,
    belt: Annotated[
        float,
        typer.Option(
            min=1.0,
            help="with --real: lay each file centred on empty belt this many times its width first (how "
            "another scanner might frame the same bags)",
        ),
    ] = 1.0,
    long_side: Annotated[
        int | None,
        typer.Option(
            min=16,
            help="with --real: first shrink each file longer than this many pixels to it, its boxes with it "
            "(a scanner exporting fewer pixels; exports run 400-1500 px)",
        ),
    ] = None,
    palette: Annotated[
        str | None,
        typer.Option(
            help="with --real: first recolour each set, as one scanner, to this palette, HUE,SATURATION: "
            "its bag pixels' median warm hue in degrees (under 90) and median saturation (1-255); the kit's "
            "scanners span 24-60 and 50-165",
        ),
    ] = None,
    stresses: Annotated[
        bool,
        typer.Option(
            "--stresses",
            help="with --real: also score the files under each of the kit's shortcuts (SIXray threats' "
            "palette, the other scanner's palette, OPIXray's 416-px exports) and the threat sets' bags with "
            "their threats erased, at the model's threshold",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime threads")] = 2,
    int8: Precision = None,
    quiet: Annotated[bool, typer.Option(help="no progress bar")] = False,
) -> None:
    """Score a model at its calibrated threshold: on a dataset (AUROC, DR@FAR, per-class recall and AP),
    and on real sets (false alarms on clean bags, localised detection, pointing)."""
    from vision.datasets import load_datasets
    from vision.evaluation.evaluate import evaluate_model, format_report
    from vision.evaluation.real import evaluate_real, evaluate_stresses, format_real, format_stresses
    from vision.infer import Predictor

    if data is None and real is None:
        raise fail("give --data DIR[,DIR...] and/or --real KIT")
    if stresses and (real is None or palette or long_side or belt != 1):
        raise fail(
            "--stresses needs --real and sets its own palettes and sizes: drop --palette, --long-side, --belt"
        )
    with cli_errors():
        predictor = Predictor(model, threads=threads, int8=int8)
        result: dict[str, Any] = {}
        if data is not None:
            result = evaluate_model(predictor, load_datasets(_folders(data)), progress=not quiet)
        result["precision"] = predictor.precision
        if real is not None:
            result["real"] = evaluate_real(
                predictor,
                real,
                all_files,
                progress=not quiet,
                views=views,
                belt=belt,
                long_side=long_side or 0,
                palette=_palette(palette) if palette else None,
            )
            if stresses:
                result["real_stresses"] = evaluate_stresses(
                    predictor, real, all_files=all_files, progress=not quiet, views=views
                )
        if as_json:
            print(json.dumps(result))
            return
        print(f"model {predictor.name} {predictor.version}, its {predictor.precision.upper()} graph")
        if data is not None:
            print(format_report(result))
        if real is not None:
            print(format_real(result["real"]))
        if stresses:
            print(format_stresses(result["real"], result["real_stresses"]))


def export(
    checkpoint: Annotated[pathlib.Path, typer.Option(help="training checkpoint (model_best.pt)")],
    calibration: Annotated[str, typer.Option(help="calibration dataset folder(s), comma-separated")],
    test: Annotated[list[str], typer.Option(help="held-out test dataset folder (repeatable)")],
    name: Annotated[str, typer.Option(help="model name")] = "xray-threat",
    version: Annotated[str, typer.Option(help="model version")] = "1.0.0",
    out: Annotated[pathlib.Path, typer.Option(help="models root")] = pathlib.Path("models"),
    far: Annotated[
        float, typer.Option(help="false-alarm rate the threshold is calibrated for")
    ] = DEFAULT_FALSE_ALARM_RATE,
    promote: Annotated[
        bool, typer.Option(help="then promote it like `triage models promote` (gated unless first)")
    ] = False,
    recipe: Annotated[
        pathlib.Path | None, typer.Option(help="shell script of the data/train/export commands, kept beside")
    ] = None,
    real: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="folder of real sets (e.g. ../shared/real/xray): shared and luggage thresholds calibrated "
            "on its clean bags' validation files, and the card's real section"
        ),
    ] = None,
    real_views: Annotated[
        int,
        typer.Option(
            min=1,
            max=4,
            help="with --real: calibrate on each clean bag in this many views (the bag as it is, then "
            "mirrored), and add the figures over them to the card",
        ),
    ] = 1,
    input_size: Annotated[
        int | None,
        typer.Option(
            min=32,
            help="letterbox side of the exported model input (default: the one it was trained at); "
            "calibrated and evaluated at it",
        ),
    ] = None,
    mirrors: Annotated[
        str,
        typer.Option(
            help="test-time mirror views averaged in the graph: none, h (the scan and its left-right "
            "mirror: twice the network's time) or hv (four views)",
        ),
    ] = "none",
    content_fill: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="cut each scan down around the bag until it spans this share of the longer side before "
            "letterboxing (0: whole scans; default: as the checkpoint was trained); calibrated and "
            "evaluated so",
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Export to OUT/NAME/VERSION, calibrate the threshold on the ONNX file, evaluate, write the card."""
    from vision.train.model import MIRRORS
    from vision.train.pipeline import export_calibrate_evaluate

    if not 0 < far < 1:
        raise fail(f"--far must be between 0 and 1, got {far}")
    if mirrors not in MIRRORS:
        raise fail(f"--mirrors must be one of {', '.join(MIRRORS)}, got {mirrors!r}")
    with cli_errors():
        if not checkpoint.is_file():
            raise fail(f"no checkpoint at {checkpoint}")
        card = export_calibrate_evaluate(
            checkpoint,
            out / name / version,
            name=name,
            version=version,
            calibration=_folders(calibration),
            tests=[folder for value in test for folder in _folders(value)],
            false_alarm_rate=far,
            recipe=recipe.read_text() if recipe is not None else None,
            progress=not quiet,
            real_kit=real,
            real_views=real_views,
            input_size=input_size,
            mirrors=mirrors,
            content_fill=content_fill,
        )
    summary = {"model": str(out / name / version), **(card.metrics or {})["summary"]}
    if card.real is not None:
        summary["real"] = {k: card.real[k] for k in ("threshold", "sets", "false_alarms_pooled")}
    print(json.dumps(summary, indent=2))
    if promote:
        from cli.commands.registry import promote as promote_model

        promote_model(f"{name}/{version}", models_root=out)


def quantize(
    model: Annotated[pathlib.Path, typer.Option(help="exported, calibrated model folder")],
    calibration: Annotated[str, typer.Option(help="calibration dataset folder(s), comma-separated")],
    test: Annotated[str, typer.Option(help="test dataset folder(s) for the AUROC check, comma-separated")],
    images: Annotated[int, typer.Option(min=1, help="scans that calibrate the activation ranges")] = 64,
    max_auroc_drop: Annotated[float, typer.Option(min=0.0, help="largest AUROC loss accepted")] = 0.005,
    min_speedup: Annotated[
        float, typer.Option(min=0.0, help="smallest FP32/INT8 speed ratio accepted")
    ] = 1.1,
    threads: Annotated[int, typer.Option(min=1, help="onnxruntime threads for the speed check")] = 2,
    real: Annotated[
        pathlib.Path | None,
        typer.Option(
            help="real kit (e.g. ../shared/real/xray): INT8's shared and luggage thresholds on its clean "
            "validation bags, and both graphs judged on its validation files first (the model must have "
            "been exported with --real)"
        ),
    ] = None,
    real_views: Annotated[
        int | None,
        typer.Option(min=1, max=4, help="views of each real file (default: those of the card's calibration)"),
    ] = None,
    max_real_drop: Annotated[
        float,
        typer.Option(
            min=0.0, help="largest change of a real figure accepted (false alarms, localised detection)"
        ),
    ] = 0.02,
    alpha: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="a real change past --max-real-drop refuses INT8 only when the sign test finds it "
            "significant (p < alpha), as `triage compare --alpha` judges",
        ),
    ] = 0.05,
    default: Annotated[
        bool,
        typer.Option(
            "--default",
            help="serve the INT8 graph by default once kept: the service (TRIAGE_INT8 unset), `triage scan` "
            "and `triage evaluate` run it unless FP32 is asked for",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Add a static INT8 version beside the model, kept only if faster and within the AUROC budget.

    With --real, real data decides first: INT8 gets its shared and luggage thresholds from the kit's
    clean validation bags, as the export does, and is judged against FP32 as `triage compare --int8`
    judges: each graph at its own threshold on the real validation files, paired file by file, refused
    when false alarms on a clean set rise or localised detection on a threat set (or class) falls by more
    than --max-real-drop and the sign test finds it significant (--alpha). FP32's threshold must come from
    the same real clean bags (`triage export --real`). Pass real training files (imported) among
    --calibration so the activation ranges are those of real scans.
    Exits 1 (nothing written) when the INT8 graph is measured not to pay. The service runs it with
    TRIAGE_INT8=true, `triage scan` with --int8, and both by default with --default (a model whose FP32
    graph is over the speed budget, e.g. with test-time mirrors); it has its own calibrated thresholds.
    """
    from vision.train.quantize import QuantisationRefused, quantize_model

    with cli_errors():
        try:
            entry = quantize_model(
                model,
                _folders(calibration),
                _folders(test),
                images=images,
                max_auroc_drop=max_auroc_drop,
                min_speedup=min_speedup,
                threads=threads,
                progress=not quiet,
                real_kit=real,
                real_views=real_views,
                max_real_drop=max_real_drop,
                alpha=alpha,
                default=default,
            )
        except QuantisationRefused as refused:
            raise fail(f"INT8 not kept: {refused}", code=1) from None
    summary = [
        "file",
        "speedup",
        "fp32_p50_ms",
        "int8_p50_ms",
        "fp32_auroc",
        "int8_auroc",
        "threshold",
        "real",
        "default",
    ]
    print(json.dumps({k: entry[k] for k in summary if k in entry}, indent=2))
