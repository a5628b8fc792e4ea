"""Service settings: environment variables with the ``TRIAGE_`` prefix, optionally a YAML config file.

Strict on purpose (unknown keys are errors, insecure values are refused at start-up) so that a typo in a
deployment fails loudly instead of silently running with a default. Environment variables win over the
file named by ``TRIAGE_CONFIG_FILE``, which wins over the defaults here.
"""

from __future__ import annotations

import os
import pathlib
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from service.store.images import ImageFiles, ImageStore

CONFIG_FILE_ENV = "TRIAGE_CONFIG_FILE"
MIN_SECRET_CHARS = 24
# Values seen in tutorials and templates; a key or password equal to (or built around) one is refused.
_WEAK_SECRETS = ("changeme", "changethis", "password", "secret", "admin", "default", "example", "test")


def check_secret_strength(value: str, what: str) -> None:
    """Refuse a short, repetitive or template secret.

    Raises:
        ValueError: naming ``what`` and why it is refused.
    """
    if len(value) < MIN_SECRET_CHARS:
        raise ValueError(f"{what} must be at least {MIN_SECRET_CHARS} characters (use `triage keys create`)")
    if len(set(value)) < 10:
        raise ValueError(f"{what} is too repetitive to be a secret")
    lowered = value.lower()
    # A template word padded out to length is still guessable; a random key that happens to contain one
    # still has enough random characters left.
    if any(weak in lowered and len(value) - len(weak) < MIN_SECRET_CHARS for weak in _WEAK_SECRETS):
        raise ValueError(f"{what} is built around a well-known default word; generate a random one")


class Settings(BaseSettings):
    """Everything the service reads from its environment.

    Attributes:
        data_dir: store and images (``TRIAGE_DATA_DIR``).
        database_url: SQLAlchemy URL; default SQLite ``<data_dir>/triage.db`` in WAL mode.
        model_dir: model folder served at start; default ``vision.infer.default_model_dir()``.
        models_root: the model registry (``<name>/<version>/`` folders and ``PROMOTED``); default the
            grandparent of ``model_dir`` or ``./models``.
        admin_key: optional bootstrap admin key; with none given and no keys stored, one is generated.
        cameras_file: the camera config file loaded at start (see ``vision.motion.config``).
        event_webhook_url: where finished motion events are posted as JSON; failures are logged, not fatal.
        station_thresholds_file: a station file (``triage calibrate --out``) imported at start and when it
            changes; default ``<data_dir>/station_thresholds.json``.
        drill_library: the threat library of operator drills (``triage drill-library``); the bundled one
            (simulated threats) if unset.
        station_min_scans: cleared scans a station needs before a threshold is proposed.
        station_drift_window: recent verdicts per station the drift watch judges.
    """

    model_config = SettingsConfigDict(env_prefix="TRIAGE_", extra="forbid", frozen=True)

    data_dir: pathlib.Path = pathlib.Path("data")
    database_url: str | None = None
    model_dir: pathlib.Path | None = None
    models_root: pathlib.Path | None = None
    admin_key: SecretStr | None = None
    max_request_bytes: int = Field(default=80 * 1024 * 1024, gt=0)
    max_image_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=40_000_000, gt=0)
    max_in_flight: int = Field(default=8, gt=0, description="scan requests admitted at once; more get 503")
    inference_concurrency: int = Field(default=1, gt=0, description="predictions run at once")
    inference_threads: int = Field(default=2, gt=0, description="onnxruntime intra-op threads")
    int8: bool | None = Field(
        default=None,
        description="true: serve a model's INT8 version where it has one (`triage quantize`), FP32 "
        "otherwise; false: FP32; unset: the graph the model's card serves by default (`quantize --default`)",
    )
    retry_after_s: int = Field(default=1, gt=0)
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "FULL"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    cameras_file: pathlib.Path | None = Field(default=None, description="camera config file (YAML/JSON)")
    event_webhook_url: str | None = Field(default=None, description="finished motion events are posted here")
    event_webhook_timeout_s: float = Field(default=5.0, gt=0)
    station_thresholds_file: pathlib.Path | None = Field(
        default=None,
        description="station file of `triage calibrate`; default <data_dir>/station_thresholds.json",
    )
    images_url: str | None = Field(
        default=None,
        description="scan images in an S3-compatible store (s3://BUCKET/PREFIX); default the data folder",
    )
    s3_endpoint_url: str | None = Field(default=None, description="the S3 API's address, where not AWS's")
    drill_library: pathlib.Path | None = Field(
        default=None,
        description="threat library of operator drills (`triage drill-library`); the bundled one if unset",
    )
    station_min_scans: int = Field(default=300, ge=20, description="cleared scans a proposal needs")
    station_drift_window: int = Field(default=500, ge=50, description="recent verdicts drift is judged on")

    @field_validator("event_webhook_url")
    @classmethod
    def _webhook_is_http(cls, value: str | None) -> str | None:
        if value and not value.lower().startswith(("http://", "https://")):
            raise ValueError("TRIAGE_EVENT_WEBHOOK_URL must be an http:// or https:// URL")
        return value or None

    @field_validator("admin_key")
    @classmethod
    def _admin_key_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret_strength(value.get_secret_value(), "TRIAGE_ADMIN_KEY")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_is_safe(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = make_url(value)
        except ArgumentError as error:
            raise ValueError(f"TRIAGE_DATABASE_URL is not a database URL: {error}") from None
        if url.password is not None:
            check_secret_strength(str(url.password), "the database password")
        return value

    @model_validator(mode="after")
    def _limits_are_consistent(self) -> Settings:
        if self.max_image_bytes > self.max_request_bytes:
            raise ValueError("max_image_bytes cannot exceed max_request_bytes")
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to SQLite in the data folder."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'triage.db').resolve()}"

    @property
    def resolved_station_file(self) -> pathlib.Path:
        """The station file the service imports."""
        return self.station_thresholds_file or self.data_dir / "station_thresholds.json"

    @property
    def images_dir(self) -> pathlib.Path:
        """Where scan images are kept by content hash (without ``images_url``)."""
        return self.data_dir / "images"

    def open_images(self) -> ImageStore:
        """The image store: the S3-compatible one of ``images_url``, else the data folder's."""
        if self.images_url:
            from service.store.objects import S3Images

            return S3Images(self.images_url, self.s3_endpoint_url)
        return ImageFiles(self.images_dir)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then environment, then the optional YAML file named by ``TRIAGE_CONFIG_FILE``."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(CONFIG_FILE_ENV)
        if config_file:
            path = pathlib.Path(config_file)
            if not path.is_file():
                raise ValueError(f"{CONFIG_FILE_ENV}={config_file} is not a file")
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=path))
        return tuple(sources)


# Variables with the prefix that are not service settings: the config file's name, and the key that
# client commands (`triage scan --server`, `triage watch --server`) send.
_KNOWN_ENVIRONMENT = frozenset(
    {f"TRIAGE_{name.upper()}" for name in Settings.model_fields} | {CONFIG_FILE_ENV, "TRIAGE_API_KEY"}
)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning validation errors into one readable line.

    Raises:
        ValueError: naming each bad setting (the CLI prints it and exits non-zero).
    """
    unknown = sorted(
        name for name in os.environ if name.startswith("TRIAGE_") and name not in _KNOWN_ENVIRONMENT
    )
    if unknown:
        known = ", ".join(sorted(_KNOWN_ENVIRONMENT))
        raise ValueError(f"unknown setting(s) {', '.join(unknown)}; known: {known}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg'].removeprefix('Value error, ')}"
            for e in error.errors()
        ]
        raise ValueError("invalid settings: " + "; ".join(problems)) from None
