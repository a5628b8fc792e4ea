"""`triage serve`: the HTTP service on the bundled model with an embedded SQLite store (or on Ray Serve)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from cli.commands._errors import cli_errors, fail

if TYPE_CHECKING:
    from service.settings import Settings


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port", min=1, max=65535)] = 8000,
        ray: Annotated[
            bool,
            typer.Option("--ray", help="serve on Ray Serve: model replicas with batching ([scale] extra)"),
        ] = False,
        ray_address: Annotated[
            str | None, typer.Option(help="join this Ray cluster (default RAY_ADDRESS, else a local Ray)")
        ] = None,
        replicas: Annotated[
            int, typer.Option(min=0, help="--ray: predictor replicas (0: autoscale on ongoing requests)")
        ] = 1,
        max_replicas: Annotated[int, typer.Option(min=1, help="--ray, autoscaling: most replicas")] = 4,
        max_batch_size: Annotated[int, typer.Option(min=1, help="--ray: scans per model call")] = 4,
        batch_wait_ms: Annotated[
            float, typer.Option(min=0, help="--ray: longest wait for a batch to fill (ms)")
        ] = 5.0,
        replica_threads: Annotated[
            int, typer.Option(min=1, help="--ray: onnxruntime threads per replica")
        ] = 1,
    ) -> None:
        """Start the triage HTTP service (settings from TRIAGE_* variables; one worker)."""
        from service.settings import load_settings

        with cli_errors():
            settings = load_settings()
        if ray:
            _serve_on_ray(
                settings,
                host,
                port,
                ray_address,
                replicas,
                max_replicas,
                max_batch_size,
                batch_wait_ms,
                replica_threads,
            )
            return
        import uvicorn

        from service.app import create_app

        with cli_errors():
            application = create_app(settings)
        # One worker: the model, the admission limit and the SQLite writer live in this one process.
        uvicorn.run(application, host=host, port=port, workers=1, log_config=None, access_log=False)


def _serve_on_ray(
    settings: Settings,
    host: str,
    port: int,
    address: str | None,
    replicas: int,
    max_replicas: int,
    max_batch_size: int,
    batch_wait_ms: float,
    threads: int,
) -> None:
    try:
        from service import scale
    except ImportError as error:
        raise fail(f"--ray needs Ray Serve: pip install -e '.[scale]' ({error})") from None
    plan = scale.ScalingPlan(
        replicas=replicas or None,
        max_replicas=max_replicas,
        max_batch_size=max_batch_size,
        batch_wait_s=batch_wait_ms / 1000,
        threads=threads,
    )
    with cli_errors():
        scale.run(settings, plan, host, port, address)
