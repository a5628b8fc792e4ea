"""Background subtractors by name: OpenCV's MOG2 and KNN and the opencv-contrib ``bgsegm`` ones."""

from __future__ import annotations

from typing import Any

import cv2

from vision.motion.config import CntParams, GsocParams, KnnParams, LsbpParams, Mog2Params

SUBTRACTOR_KINDS = ("mog2", "knn", "gsoc", "cnt", "lsbp")

# MOG2 and KNN mark shadows 127 and movement 255; anything above this is movement.
FOREGROUND_LEVEL = 200


def available_kinds() -> tuple[str, ...]:
    """Subtractor kinds this OpenCV build offers (``gsoc`` and ``cnt`` need opencv-contrib)."""
    contrib = hasattr(cv2, "bgsegm")
    return tuple(kind for kind in SUBTRACTOR_KINDS if kind in ("mog2", "knn") or contrib)


def make_subtractor(params: Mog2Params | KnnParams | GsocParams | CntParams | LsbpParams) -> Any:
    """A fresh OpenCV background subtractor for ``params``.

    Raises:
        ValueError: the kind needs opencv-contrib and this OpenCV build lacks it.
    """
    if isinstance(params, Mog2Params):
        subtractor = cv2.createBackgroundSubtractorMOG2(
            history=params.history, varThreshold=params.var_threshold, detectShadows=params.detect_shadows
        )
        subtractor.setNMixtures(params.n_mixtures)
        return subtractor
    if isinstance(params, KnnParams):
        return cv2.createBackgroundSubtractorKNN(
            history=params.history, dist2Threshold=params.dist2_threshold, detectShadows=params.detect_shadows
        )
    if not hasattr(cv2, "bgsegm"):
        raise ValueError(f"subtractor {params.kind!r} needs opencv-contrib (cv2.bgsegm)")
    if isinstance(params, GsocParams):
        # GSOC's result depends on how OpenCV splits its work across threads: two instances fed the same
        # 300 frames differed in 7,209 mask pixels with OpenCV's default threads, and in none with one.
        # Screening must give the same events for the same frames, and a camera's frame is small, so
        # OpenCV runs on one thread (per camera, the service scales by cameras, not by threads per frame).
        cv2.setNumThreads(1)
        return cv2.bgsegm.createBackgroundSubtractorGSOC(
            nSamples=params.n_samples,
            replaceRate=params.replace_rate,
            propagationRate=params.propagation_rate,
            hitsThreshold=params.hits_threshold,
        )
    if isinstance(params, LsbpParams):
        return cv2.bgsegm.createBackgroundSubtractorLSBP(
            nSamples=params.n_samples, LSBPRadius=params.lsbp_radius
        )
    return cv2.bgsegm.createBackgroundSubtractorCNT(
        minPixelStability=params.min_pixel_stability,
        useHistory=params.use_history,
        maxPixelStability=params.max_pixel_stability,
        isParallel=False,
    )
