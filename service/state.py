"""What the app holds while it runs: settings, store, image files, models, admission and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from service.drills import Drills
from service.inference import Inference
from service.limits import Admission
from service.metrics import Metrics
from service.models import ModelManager
from service.settings import Settings
from service.stations import StationThresholds
from service.store.db import Store
from service.store.images import ImageStore
from vision.io import ImageLimits


@dataclass
class AppState:
    """Everything a request handler needs, made by the app's lifespan."""

    settings: Settings
    store: Store
    images: ImageStore
    models: ModelManager
    admission: Admission
    metrics: Metrics
    inference: Inference
    image_limits: ImageLimits
    stations: StationThresholds
    drills: Drills
