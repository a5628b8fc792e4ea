"""Where a scan's model run happens: in this process (the default), or on model replicas elsewhere.

The scan pipeline (:func:`service.scanning.run_scan`) asks its :class:`Inference` for a verdict and the
stored heat map; everything else (decode, admission, storage, the model registry and hot swap) stays in
the API process. :class:`LocalInference` runs the served :class:`~vision.infer.Predictor` in a worker
thread, bounded by a capacity limiter; ``service.scale`` sends the same call to Ray Serve replicas.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import anyio
import numpy as np

from vision.infer import Prediction, Predictor
from vision.overlay import HEATMAP_MAX_SIDE, encode_heatmap


def predict(
    predictor: Predictor, rgb: np.ndarray, kind: str | None = None, threshold: float | None = None
) -> tuple[Prediction, bytes]:
    """Run the model and encode its heat map; judged by ``threshold`` (a station's) if given, else by the
    card's threshold of the scan's kind, if known."""
    prediction = predictor.predict(rgb, kind, threshold)
    return prediction, stored_heatmap(prediction)


def stored_heatmap(prediction: Prediction) -> bytes:
    """The heat map as the scan row stores it: an 8-bit PNG at most ``HEATMAP_MAX_SIDE`` on its long side."""
    return encode_heatmap(prediction.heatmap_within(HEATMAP_MAX_SIDE))


class Inference(Protocol):
    """Runs the served model on one scan."""

    async def predict(
        self, predictor: Predictor, rgb: np.ndarray, kind: str | None, threshold: float | None
    ) -> tuple[Prediction, bytes]:
        """The verdict of ``predictor``'s model (the one this process serves) and the heat map as PNG.

        Whoever runs it must run that very model (the same folder): the answer names its version.
        """
        ...


@dataclass(frozen=True)
class LocalInference:
    """In this process, in a worker thread; at most ``limiter``'s capacity of scans at once."""

    limiter: anyio.CapacityLimiter

    async def predict(
        self, predictor: Predictor, rgb: np.ndarray, kind: str | None, threshold: float | None
    ) -> tuple[Prediction, bytes]:
        return await anyio.to_thread.run_sync(predict, predictor, rgb, kind, threshold, limiter=self.limiter)
