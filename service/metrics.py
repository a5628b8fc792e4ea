"""Prometheus metrics of one app instance (its own registry, so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Buckets around the expected per-scan cost on CPU (tens to hundreds of milliseconds).
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


class Metrics:
    """The service's counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_latency = Histogram(
            "triage_http_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.scan_latency = Histogram(
            "triage_scan_latency_seconds",
            "Server time per scan from upload received to verdict stored, by stage.",
            ["stage"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.verdicts = Counter(
            "triage_verdicts",
            "Verdicts given, by verdict and model version.",
            ["verdict", "model", "version"],
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "triage_scans_in_flight",
            "Scan requests admitted and not finished (queue depth).",
            registry=self.registry,
        )
        self.in_flight_limit = Gauge(
            "triage_scans_in_flight_limit", "Admission limit; more requests get 503.", registry=self.registry
        )
        self.rejected = Counter(
            "triage_scans_rejected",
            "Scan requests refused with 503 because the queue was full.",
            registry=self.registry,
        )
        self.errors = Counter(
            "triage_http_errors",
            "Responses with status 400 or above, by status.",
            ["status"],
            registry=self.registry,
        )
        self.drills_shown = Counter(
            "triage_drills_shown",
            "Operator drills: scans shown with a projected threat, by station.",
            ["station"],
            registry=self.registry,
        )
        self.drills_decided = Counter(
            "triage_drills_decided",
            "Operator drills decided, by station and outcome (hit, miss).",
            ["station", "outcome"],
            registry=self.registry,
        )
        self.model_info = Gauge(
            "triage_model_serving",
            "1 for the model being served.",
            ["model", "version"],
            registry=self.registry,
        )

        self.station_alarm_rate = Gauge(
            "triage_station_alarm_rate",
            "Share of a station's recent scans that alarmed (its drift window), by station and scene kind.",
            ["station", "kind"],
            registry=self.registry,
        )
        self.station_target = Gauge(
            "triage_station_target_false_alarm_rate",
            "The false-alarm rate a station's threshold was set to hold (the model's where none is applied).",
            ["station", "kind"],
            registry=self.registry,
        )
        self.station_drifting = Gauge(
            "triage_station_drifting",
            "1 while a station's recent alarm rate lies outside what its target explains (99% binomial).",
            ["station", "kind"],
            registry=self.registry,
        )

    def set_serving(self, name: str | None, version: str | None) -> None:
        """Mark ``name/version`` as the served model (and no other)."""
        self.model_info.clear()
        if name is not None and version is not None:
            self.model_info.labels(model=name, version=version).set(1)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)
