"""Counters and histograms kept in plain Python numbers, turned into Prometheus metric families
only when /metrics is scraped.

prometheus_client's own metrics take a threading lock on every update; fogbank updates its
series from the event loop alone (the webhook path among them), so a dict of floats is enough
and costs nothing but the addition.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

Labels = tuple[str, ...]


class Counter:
    """A monotonically increasing count per combination of label values."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self._values: dict[Labels, float] = {}

    def inc(self, *values: str, amount: float = 1.0) -> None:
        self._values[values] = self._values.get(values, 0.0) + amount

    def value(self, *values: str) -> float:
        return self._values.get(values, 0.0)

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        if not self.labels:
            self._values.setdefault((), 0.0)  # an unlabelled series exists from the start
        for values, total in sorted(self._values.items()):
            family.add_metric(list(values), total)
        return family


class Histogram:
    """Observations counted into cumulative buckets per combination of label values."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        labels: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.bounds = tuple(sorted(buckets))
        # Per label values: counts per bucket (the last one is +Inf) and the sum.
        self._counts: dict[Labels, list[int]] = {}
        self._sums: dict[Labels, float] = {}

    def observe(self, amount: float, *values: str) -> None:
        counts = self._counts.get(values)
        if counts is None:
            counts = self._counts[values] = [0] * (len(self.bounds) + 1)
        counts[bisect_left(self.bounds, amount)] += 1
        self._sums[values] = self._sums.get(values, 0.0) + amount

    def count(self, *values: str) -> int:
        return sum(self._counts.get(values, ()))

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        if not self.labels and () not in self._counts:
            self._counts[()] = [0] * (len(self.bounds) + 1)
            self._sums[()] = 0.0
        for values, counts in sorted(self._counts.items()):
            cumulative: list[tuple[str, float]] = []
            running = 0
            for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
                running += count
                cumulative.append(("+Inf" if bound == float("inf") else repr(bound), running))
            family.add_metric(list(values), cumulative, self._sums[values])
        return family


class Gauge:
    """A value read when the metrics are collected (set by whoever knows it last)."""

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self._values: dict[Labels, float] = {}

    def set(self, amount: float, *values: str) -> None:
        self._values[values] = amount

    def replace(self, values: dict[Labels, float]) -> None:
        """Every labelled value at once (label combinations not given are gone)."""
        self._values = dict(values)

    def family(self) -> Metric:
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        if not self.labels:
            self._values.setdefault((), 0.0)
        for values, amount in sorted(self._values.items()):
            family.add_metric(list(values), amount)
        return family


Series = Counter | Histogram | Gauge


def families(series: Sequence[Series]) -> Iterator[Metric]:
    for one in series:
        yield one.family()
