"""Prometheus metrics of one server: requests, latencies, events, and gauges parts add.

Each app owns a :class:`prometheus_client.CollectorRegistry`, so several apps
in one process (tests) do not collide. Routes are labelled by their template
(``/api/v1/events/{event_id}``), never by the raw path, to keep cardinality
bounded.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Sequence

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["GaugeSample", "Metrics"]

GaugeSample = tuple[Sequence[str], float]
"""One gauge reading: label values (in the gauge's label order) and the value."""


class _CallbackGauges(Collector):
    """Gauges read at scrape time from callbacks (jobs by state, feed followers …)."""

    def __init__(self) -> None:
        self._gauges: list[tuple[str, str, Sequence[str], Callable[[], Iterable[GaugeSample]]]] = []
        self._lock = threading.Lock()

    def add(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        read: Callable[[], Iterable[GaugeSample]],
    ) -> None:
        with self._lock:
            self._gauges.append((name, documentation, tuple(labels), read))

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self._lock:
            gauges = list(self._gauges)
        for name, documentation, labels, read in gauges:
            family = GaugeMetricFamily(name, documentation, labels=list(labels))
            for values, value in read():
                family.add_metric(list(values), value)
            yield family


class Metrics:
    """The metrics of one app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "chronolog_http_requests",
            "HTTP requests by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "chronolog_http_request_duration_seconds",
            "HTTP request latency by method and route template.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.events_recorded = Counter(
            "chronolog_events_recorded",
            "Events recorded through this server.",
            registry=self.registry,
        )
        self._gauges = _CallbackGauges()
        self.registry.register(self._gauges)

    def add_gauge(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str],
        read: Callable[[], Iterable[GaugeSample]],
    ) -> None:
        """Add a gauge read at scrape time, e.g. ``chronolog_jobs{state=…}`` or feed followers.

        ``read`` returns ``(label_values, value)`` pairs; keep it cheap, it
        runs on every scrape.
        """
        self._gauges.add(name, documentation, labels, read)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def render(self, *, project: str | None = None) -> bytes:
        """The Prometheus text exposition; with ``project``, series labelled with another
        project are left out (a token sees its own project's jobs, not the others')."""
        if project is None:
            return generate_latest(self.registry)
        return generate_latest(_OneProject(self.registry, project))


class _OneProject(Collector):
    """The families of a registry with only the samples of one project (or of none)."""

    def __init__(self, registry: CollectorRegistry, project: str) -> None:
        self._registry = registry
        self._project = project

    def collect(self) -> Iterable[Metric]:
        for family in self._registry.collect():
            kept = [
                s for s in family.samples if s.labels.get("project", self._project) == self._project
            ]
            if len(kept) != len(family.samples):
                family = copy.copy(family)
                family.samples = kept
            yield family
