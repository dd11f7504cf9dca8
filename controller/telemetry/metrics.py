"""fogbank's Prometheus series, one Metrics object per controller: the parts that do the work
update it as they go; /metrics reads it (plus gauges read from the database at scrape time) in
Prometheus' text format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from controller.telemetry.series import Counter, Gauge, Histogram, Series, families

# The classic text format generate_latest writes, which every Prometheus version reads.
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: from a fast stage (a few ms) to a long build (half an hour).
STAGE_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
QUEUE_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800)
# A webhook answer: milliseconds, with the 100 ms target in the middle.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class Metrics(Collector):
    def __init__(self) -> None:
        self.deployments_queued = Counter(
            "fogbank_deployments_queued_total", "Deployments requested, by trigger", ["trigger"]
        )
        self.deployments = Counter(
            "fogbank_deployments_total",
            "Deployments that reached a final status here, by status and trigger "
            "(pending ones superseded at once are counted in fogbank_deployments_superseded_total)",
            ["status", "trigger"],
        )
        self.superseded = Counter(
            "fogbank_deployments_superseded_total",
            "Pending deployments stopped by a newer request of their app before they started",
        )
        self.deployment_seconds = Histogram(
            "fogbank_deployment_duration_seconds",
            "From claim to final status, by final status",
            STAGE_BUCKETS,
            ["status"],
        )
        self.stage_seconds = Histogram(
            "fogbank_deployment_stage_duration_seconds",
            "Time spent in each stage",
            STAGE_BUCKETS,
            ["stage"],
        )
        self.queue_wait_seconds = Histogram(
            "fogbank_queue_wait_seconds", "From request to claim by a worker", QUEUE_BUCKETS
        )
        self.queue_depth = Gauge("fogbank_queue_depth", "Deployments pending")
        self.build_failures = Counter(
            "fogbank_build_failures_total",
            "Failed deployments by cause (the error's code, or crashed_after_switch, interrupted)",
            ["cause"],
        )
        self.webhook_deliveries = Counter(
            "fogbank_webhook_deliveries_total",
            "GitHub deliveries answered, by outcome",
            ["outcome"],
        )
        self.webhook_ack_seconds = Histogram(
            "fogbank_webhook_ack_seconds",
            "From a delivery's arrival to its answer",
            ACK_BUCKETS,
        )
        self.websocket_watchers = Gauge(
            "fogbank_websocket_watchers", "WebSockets watching a deployment now"
        )
        self.drift_repairs = Counter(
            "fogbank_drift_repairs_total", "Drift found and repaired, by result", ["result"]
        )
        self.edge_switches = Counter(
            "fogbank_edge_switches_total",
            "Traffic switched to a new container through the edge, by result",
            ["result"],
        )
        self.outbox_backlog = Gauge(
            "fogbank_outbox_backlog",
            "Outbox messages (GitHub reports, notifications) not delivered yet, by channel",
            ["channel"],
        )
        self.outbox_deliveries = Counter(
            "fogbank_outbox_deliveries_total",
            "Outbox delivery attempts by channel and result (delivered, retry, failed)",
            ["channel", "result"],
        )

    def series(self) -> list[Series]:
        return [value for value in vars(self).values() if isinstance(value, Series)]

    def collect(self) -> Iterator[Metric]:
        yield from families(self.series())

    def exposition(self, extra: Iterable[Collector] = ()) -> bytes:
        """The text format of every series (and of `extra` collectors)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        for collector in extra:
            registry.register(collector)
        return generate_latest(registry)
