"""Training augmentation: the look of real scanner exports that the simulator alone does not cover.

Every scanner brand exports a different palette saturation, gain, sharpness and resolution, and the copies
operators send are often resized and JPEG-compressed. The preset jitters exactly those, plus the
orientation of the bag on the belt, on a square crop taken for speed (the network is fully convolutional,
so it runs on the whole letterboxed scan at inference). Inputs are normalised by
:func:`vision.preprocess.normalize`, the same function inference uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vision.datasets import BOX_LABEL_OFFSET
from vision.io import jpeg_round_trip
from vision.palette import REAL_SATURATIONS, REAL_WARM_HUES, Palette, bag_palette, recolour
from vision.preprocess import PreprocessSpec, content_window, normalize


@dataclass(frozen=True)
class TrainPreset:
    """Random geometry and photometry, then a square crop.

    Attributes:
        spec: the model's preprocessing (input size, pad value, normalisation).
        crop_size: side of the training crop in model-input pixels.
        scale_range: zoom relative to the inference letterbox (scanner resolution differs).
        threat_crop_p: chance of centring the crop on a threat pixel when the scan holds one.
        photometric_p: chance of the scanner-look jitter; the rest stay as the simulator rendered them, so
            the network also sees the undistorted palette that the colours of materials are defined by.
        balance_classes: centre threat crops on a class drawn uniformly from those in the scan, then on a
            pixel of it; otherwise on any threat pixel, which favours the large classes (a cigarette carton
            covers ten times the pixels of a knife) and starves the small ones.
        low_res_p: chance of re-exporting the scan at a lower resolution (:func:`lower_resolution`, a long
            side drawn from ``low_res_range`` pixels). In the real kit the sets with threats were exported
            small (OPIXray 416 px, SIXray threats a median 651) and the clean bags large (990 and 1250), so
            without it the blur of an enlarged small export tells the network "threat".
        low_res_range: long sides, in pixels of the scan as stored, that ``low_res_p`` draws from.
        repaint_p: chance of showing the scan in another real scanner's palette (:func:`repaint`). The kit's
            sets differ in palette as much as in content (:mod:`vision.palette`), so without it the palette
            of a set tells the network whether it holds threats.
        levers_clean_only: ``low_res_p`` and ``repaint_p`` change only scans with no threat pixel. The
            clean bags then wear every palette and export size the threat scans do, so neither tells the
            two apart, while the threat scans keep the look their objects were labelled in.
    """

    spec: PreprocessSpec
    crop_size: int = 256
    scale_range: tuple[float, float] = (0.7, 1.35)
    threat_crop_p: float = 0.6
    photometric_p: float = 0.6
    balance_classes: bool = False
    low_res_p: float = 0.0
    low_res_range: tuple[float, float] = (360.0, 800.0)
    repaint_p: float = 0.0
    levers_clean_only: bool = False

    def __call__(
        self, rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one scan and its class map.

        The crop is cut from the scan first, as the window that the drawn zoom turns into ``crop_size``
        pixels, and only that window is resized and turned: the same crops as zooming and turning the whole
        scan first, at a fraction of the pixels (measured on 60 training scans, old and new alternated crop
        by crop on an idle machine, loss targets included: 6.2 ms a crop instead of 10.3, 1.67x;
        benchmarks/train_step.py prints the loader's time per batch).

        With the spec's ``content_fill`` the scan is first cut to the window inference shows the network
        (:func:`vision.preprocess.content_window`), so that the zoom is drawn around the same scale.

        Returns:
            ``3 x crop x crop`` float32 input and ``crop x crop`` uint8 class map.
        """
        stored_side = max(mask.shape)
        levers = not (self.levers_clean_only and mask.any())
        if self.spec.content_fill:
            x0, y0, x1, y1 = content_window(rgb, self.spec.content_fill, self.spec.pad_value)
            rgb, mask = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1]
        scan = rgb
        zoom = self.spec.input_size * _log_uniform(rng, *self.scale_range) / max(mask.shape)
        rgb, mask = self.crop(rgb, mask, rng, window=max(1, round(self.crop_size / zoom)))
        if self.low_res_p and levers and rng.random() < self.low_res_p:
            rgb = lower_resolution(rgb, _log_uniform(rng, *self.low_res_range) / stored_side, rng)
        rgb, mask = resize_square(rgb, mask, self.crop_size)
        rgb, mask = orient(rgb, mask, rng)
        if self.repaint_p and levers and rng.random() < self.repaint_p:
            palette = bag_palette(scan)  # the whole scan's, not the crop's
            if palette is not None:
                rgb = repaint(rgb, palette, rng)
        if rng.random() < self.photometric_p:
            rgb = photometric(rgb, rng)
        return normalize(rgb, self.spec), mask

    def crop(
        self, rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, window: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A square of ``window`` pixels (default ``crop_size``), padded with belt white past the scan.

        With chance ``threat_crop_p`` it is placed around a threat pixel (see :meth:`_threat_pixels`).
        """
        size = window or self.crop_size
        height, width = mask.shape
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        if pad_h or pad_w:
            top, left = int(rng.integers(0, pad_h + 1)), int(rng.integers(0, pad_w + 1))
            borders = (top, pad_h - top, left, pad_w - left)
            rgb = cv2.copyMakeBorder(rgb, *borders, cv2.BORDER_CONSTANT, value=(self.spec.pad_value,) * 3)
            mask = cv2.copyMakeBorder(mask, *borders, cv2.BORDER_CONSTANT, value=0)
            height, width = mask.shape
        ys, xs = self._threat_pixels(mask, rng)
        if len(ys) and rng.random() < self.threat_crop_p:
            pick = int(rng.integers(len(ys)))
            y = int(np.clip(ys[pick] - rng.integers(size // 8, size - size // 8), 0, height - size))
            x = int(np.clip(xs[pick] - rng.integers(size // 8, size - size // 8), 0, width - size))
        else:
            y, x = int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))
        return rgb[y : y + size, x : x + size], mask[y : y + size, x : x + size]

    def _threat_pixels(self, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Pixels a threat crop may centre on: all threat pixels, or one drawn class's when balancing."""
        chosen = mask != 0
        if self.balance_classes:
            present = np.flatnonzero(np.bincount(mask.ravel(), minlength=2)[1:]) + 1
            if len(present):
                chosen = mask == present[int(rng.integers(len(present)))]
        ys, xs = np.nonzero(chosen)
        return ys, xs


def _cell_counts(mask: np.ndarray, stride: int, bins: int) -> np.ndarray:
    """Pixels of each value ``0 .. bins - 1`` in every ``stride x stride`` cell: ``bins x rows x cols``.

    One ``bincount`` over (cell, value) pairs counts them (10x faster than averaging a one-hot stack,
    which took a third of the data loader's time per crop).
    """
    height, width = mask.shape
    rows, cols = height // stride, width // stride
    cells = mask[: rows * stride, : cols * stride].astype(np.int64)
    cell = (np.arange(rows * stride) // stride)[:, None] * cols + np.arange(cols * stride)[None, :] // stride
    counts = np.bincount((cell * bins + cells).ravel(), minlength=rows * cols * bins)
    return counts.reshape(rows, cols, bins).transpose(2, 0, 1)


def soft_targets(mask: np.ndarray, stride: int, num_channels: int) -> np.ndarray:
    """Share of each class in every ``stride x stride`` cell: the loss target at the output resolution.

    Computing the loss on the network's stride-4 output with these fractions, rather than on upsampled
    logits, cuts the loss cost 16x, and a threat a few pixels wide still leaves a non-zero target.
    Box pixels (:data:`BOX_LABEL_OFFSET` + c) count towards no class: a cell wholly inside a box has
    targets summing to 0 and costs nothing in the cross-entropy (see :func:`box_shares` for their term).

    Raises:
        ValueError: if the mask holds a class id of ``num_channels`` or more (box values aside).
    """
    box = mask >= BOX_LABEL_OFFSET
    if mask.size and int(np.where(box, 0, mask).max()) >= num_channels:
        raise ValueError(f"class id {int(np.where(box, 0, mask).max())} in a mask of {num_channels} channels")
    # Box pixels go to an extra bin that is dropped.
    counts = _cell_counts(np.where(box, num_channels, mask), stride, num_channels + 1)[:num_channels]
    return np.ascontiguousarray(counts / stride**2, dtype=np.float32)


def box_shares(mask: np.ndarray, stride: int, num_channels: int) -> np.ndarray:
    """Share of box pixels of each threat class in every cell: ``num_channels - 1`` maps (class 1 first).

    These are the bags of the multiple-instance term: some cell inside a box shows its class.

    Raises:
        ValueError: if a box value names a class of ``num_channels`` or more.
    """
    classes = np.where(mask >= BOX_LABEL_OFFSET, mask.astype(np.int64) - BOX_LABEL_OFFSET, 0)
    if classes.size and int(classes.max()) >= num_channels:
        raise ValueError(f"box class id {int(classes.max())} in a mask of {num_channels} channels")
    counts = _cell_counts(classes, stride, num_channels)[1:]
    return np.ascontiguousarray(counts / stride**2, dtype=np.float32)


def training_targets(mask: np.ndarray, stride: int, num_channels: int) -> np.ndarray:
    """What the loss reads for one crop: :func:`soft_targets` then, where the crop has box pixels,
    :func:`box_shares` (``2 * num_channels - 1`` maps; the box maps are zero for exact masks)."""
    shares = soft_targets(mask, stride, num_channels)
    bags = (
        box_shares(mask, stride, num_channels)
        if mask.size and int(mask.max()) >= BOX_LABEL_OFFSET
        else np.zeros((num_channels - 1, *shares.shape[1:]), np.float32)
    )
    return np.concatenate([shares, bags])


def class_map(mask: np.ndarray) -> np.ndarray:
    """``mask`` with box pixels given their class (where the threat may be, for evaluation)."""
    return np.where(mask >= BOX_LABEL_OFFSET, mask - BOX_LABEL_OFFSET, mask).astype(np.uint8)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def orient(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random quarter turn and flips: bags lie any way round on the belt."""
    turns = int(rng.integers(4))
    if turns:
        rgb, mask = np.rot90(rgb, turns), np.rot90(mask, turns)
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    if rng.random() < 0.5:
        rgb, mask = rgb[::-1], mask[::-1]
    return np.ascontiguousarray(rgb), np.ascontiguousarray(mask)


def resize_square(rgb: np.ndarray, mask: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Resize a square crop to ``side`` pixels (area when shrinking, linear when enlarging; mask nearest)."""
    interpolation = cv2.INTER_AREA if mask.shape[0] > side else cv2.INTER_LINEAR
    return cv2.resize(rgb, (side, side), interpolation=interpolation), cv2.resize(
        mask, (side, side), interpolation=cv2.INTER_NEAREST
    )


def lower_resolution(rgb: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """The crop as a scanner exporting ``factor`` times fewer pixels per side would show it, at its size.

    Shrunk (area), JPEG-compressed half the time (quality 50-95, as exports are), and enlarged back
    (linear), as the letterbox enlarges a small export. A factor of 1 or more returns the crop unchanged.
    """
    if factor >= 1.0:
        return rgb
    height, width = rgb.shape[:2]
    small = cv2.resize(
        rgb, (max(2, round(width * factor)), max(2, round(height * factor))), interpolation=cv2.INTER_AREA
    )
    if rng.random() < 0.5:
        small = jpeg_round_trip(small, int(rng.integers(50, 96)))
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


def repaint(rgb: np.ndarray, palette: Palette, rng: np.random.Generator) -> np.ndarray:
    """``rgb``, whose scan has ``palette``, in a real scanner's palette drawn from the kit's range
    (:data:`vision.palette.REAL_WARM_HUES`, uniform; :data:`vision.palette.REAL_SATURATIONS`, log-uniform)."""
    warm_hue = rng.uniform(*REAL_WARM_HUES) if palette.warm_hue is not None else None
    return recolour(rgb, palette, Palette(warm_hue, _log_uniform(rng, *REAL_SATURATIONS)))


def photometric(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scanner-to-scanner look: gamma (gain), saturation, slight hue and white balance, blur, noise, JPEG.

    Hue moves only a few degrees: colour encodes the material, so a large shift would teach the network
    that organic and metal look alike.
    """
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-6, 6)) % 256
    hsv[..., 1] *= rng.uniform(0.6, 1.4)
    gamma = _log_uniform(rng, 0.6, 1.6)
    hsv[..., 2] = 255.0 * (hsv[..., 2] / 255.0) ** gamma
    rgb_back = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
    out: np.ndarray = rgb_back.astype(np.float32) * rng.uniform(0.93, 1.07, size=3).astype(np.float32)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.4, 1.3)))
    if rng.random() < 0.4:
        out = out + rng.normal(0, rng.uniform(2, 8), out.shape).astype(np.float32)
    result = np.clip(out, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        result = jpeg_round_trip(result, int(rng.integers(35, 96)))
    return result
