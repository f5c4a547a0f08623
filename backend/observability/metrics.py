"""Prometheus metrics, one registry per app (tests build many apps in one process).

Requests, durations, seats booked and held, conflicts (409/423), websocket watchers,
channel lag, event-loop lag, garbage-collector pauses, live resyncs. `GET /metrics`
serves them in Prometheus' text format, per process: with WORKERS > 1 each scrape
reaches one worker, so scrape every process directly (the compose file keeps /metrics
off the public proxy).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class LiveStats(Protocol):
    """What a scrape reads from the live hub."""

    @property
    def watchers(self) -> Mapping[str, object]:
        """The watched events (their watchers are counted by `watcher_count`)."""

    @property
    def published(self) -> int:
        """Seat-change messages published."""

    @property
    def resyncs(self) -> int:
        """Times every watcher was sent a fresh snapshot."""

    @property
    def sent_direct(self) -> int:
        """Batches written straight to a socket."""

    @property
    def sent_queued(self) -> int:
        """Batches left to a socket's writer task."""

    @property
    def limit_closes(self) -> Mapping[str, int]:
        """Websockets closed by a limit, by reason."""

    def watcher_count(self) -> int:
        """Open seat-map websockets."""


class _LiveCollector(Collector):
    """Values read from the hub when scraped (no bookkeeping on the hot path)."""

    def __init__(self, hub: LiveStats) -> None:
        self.hub = hub

    def collect(self) -> Iterable[Metric]:
        watchers = GaugeMetricFamily(
            "boxoffice_websocket_watchers", "Open seat-map websockets in this process"
        )
        watchers.add_metric([], float(self.hub.watcher_count()))
        yield watchers
        events = GaugeMetricFamily(
            "boxoffice_watched_events", "Events with at least one open seat map in this process"
        )
        events.add_metric([], float(len(self.hub.watchers)))
        yield events
        for name, value, doc in (
            ("boxoffice_live_published", self.hub.published, "Seat-change messages published"),
            (
                "boxoffice_live_resyncs",
                self.hub.resyncs,
                "Times watchers were sent a fresh snapshot because messages may have been lost",
            ),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], float(value))
            yield counter
        sends = CounterMetricFamily(
            "boxoffice_live_sends",
            "Seat-change batches delivered to websockets: written directly (frames) or queued "
            "for the socket's writer task",
            labels=["path"],
        )
        sends.add_metric(["direct"], float(self.hub.sent_direct))
        sends.add_metric(["queued"], float(self.hub.sent_queued))
        yield sends
        closes = CounterMetricFamily(
            "boxoffice_websocket_limit_closes",
            "Websockets closed by a limit: too_slow (its send buffer stayed over its "
            "high-water mark for WS_STALL_SECONDS), anonymous_limit "
            "(WS_MAX_ANONYMOUS_PER_ADDRESS), user_limit (WS_MAX_PER_USER)",
            labels=["reason"],
        )
        for reason in ("too_slow", "anonymous_limit", "user_limit"):
            closes.add_metric([reason], float(self.hub.limit_closes.get(reason, 0)))
        yield closes


class BatchCounts(Protocol):
    """The group commit's counts (backend/booking/batch.py `BatchStats`)."""

    batches: int
    requests: int
    largest: int
    run_alone: int


class _BatchCollector(Collector):
    """The write batcher's counts, read when scraped: mean batch size is
    boxoffice_write_batch_requests / boxoffice_write_batches."""

    def __init__(self, stats: BatchCounts) -> None:
        self.stats = stats

    def collect(self) -> Iterable[Metric]:
        for name, value, doc in (
            ("boxoffice_write_batches", self.stats.batches, "Write batches run (group commit)"),
            (
                "boxoffice_write_batch_requests",
                self.stats.requests,
                "Holds and bookings that went through a write batch",
            ),
            (
                "boxoffice_write_batch_run_alone",
                self.stats.run_alone,
                "Requests of a failed batch run again alone",
            ),
        ):
            counter = CounterMetricFamily(name, doc)
            counter.add_metric([], float(value))
            yield counter
        largest = GaugeMetricFamily("boxoffice_write_batch_largest", "Largest batch so far")
        largest.add_metric([], float(self.stats.largest))
        yield largest


class Metrics:
    LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
    LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "boxoffice_http_requests",
            "HTTP requests by method, route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "boxoffice_http_request_duration_seconds",
            "HTTP request duration",
            ["method", "route"],
            buckets=self.LATENCY_BUCKETS,
            registry=r,
        )
        self.conflicts = Counter(
            "boxoffice_conflicts",
            "Refused writes: 409 (booked, limit, key in flight) and "
            "423 (held or being booked by someone else)",
            ["route", "status"],
            registry=r,
        )
        self.seats_booked = Counter("boxoffice_bookings", "Seats booked (committed)", registry=r)
        self.seats_held = Counter(
            "boxoffice_holds", "Seats held or hold extended (committed)", registry=r
        )
        self.seats_freed = Counter(
            "boxoffice_seats_freed", "Seats freed: released, expired or cancelled", registry=r
        )
        self.throttle_unavailable = Counter(
            "boxoffice_throttle_unavailable",
            "Sign-in/sign-up attempts not counted because the throttle store was down "
            "(throttling fails open)",
            registry=r,
        )
        self.websockets = Counter(
            "boxoffice_websocket_connections",
            "Websocket connections accepted or refused",
            registry=r,
        )
        self.waiting_room = Counter(
            "boxoffice_waiting_room",
            "Waiting-room transitions made by this process's admitter: admitted, expired "
            "(window ran out, holds released), abandoned (not seen for the grace)",
            ["kind"],
            registry=r,
        )
        self.channel_lag = Histogram(
            "boxoffice_channel_lag_seconds",
            "From publish (after commit) to arrival in this process's hub",
            buckets=self.LAG_BUCKETS,
            registry=r,
        )
        self.event_loop_lag = Histogram(
            "boxoffice_event_loop_lag_seconds",
            "How late this process's event loop ran a 50 ms timer: the wait every request "
            "has before its handler starts, which no handler timer sees",
            buckets=self.LAG_BUCKETS,
            registry=r,
        )
        self.gc_pause = Histogram(
            "boxoffice_gc_pause_seconds",
            "Pauses of the cyclic garbage collector, by generation: the whole process, "
            "event loop included, stops while it runs (backend/observability/collector.py)",
            ["generation"],
            buckets=self.LAG_BUCKETS,
            registry=r,
        )

    def observe_gc_pause(self, generation: int, seconds: float) -> None:
        self.gc_pause.labels(str(generation)).observe(seconds)

    def watch_hub(self, hub: LiveStats) -> None:
        self.registry.register(_LiveCollector(hub))

    def watch_batches(self, stats: BatchCounts) -> None:
        self.registry.register(_BatchCollector(stats))

    def render(self) -> bytes:
        return generate_latest(self.registry)


@get("/metrics", opt={"exclude_from_auth": True}, include_in_schema=False, sync_to_thread=False)
def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text exposition of this process's metrics; with METRICS_TOKEN set,
    only for `Authorization: Bearer <METRICS_TOKEN>`."""
    token = request.app.state.settings.metrics_token
    if token is not None:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
            raise NotAuthorizedException(
                "metrics need the METRICS_TOKEN bearer token",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    metrics: Metrics = request.app.state.metrics
    # Litestar adds "; charset=utf-8" to a text/ type itself: give it the type without it.
    media_type = CONTENT_TYPE_LATEST.replace("; charset=utf-8", "")
    return Response(metrics.render(), media_type=media_type)
