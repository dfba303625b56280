"""Prometheus metrics.

Step durations are observed where steps run (this Python process's workers; a Celery worker serves
its own with ``orchestrion worker --metrics-port``). Process counts and queue depths are read when
Prometheus scrapes, from the database and the broker, so every API server reports the same numbers
whichever worker ran the processes, and nothing has to be kept in step with the database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrion.db import get_database
from orchestrion.engine.runner import StepRecord
from orchestrion.engine.status import ProcessStatus
from orchestrion.runtime import current
from orchestrion.storage import process_queries

logger = structlog.get_logger(__name__)

STEP_DURATION = Histogram(
    "orchestrion_step_duration_seconds",
    "How long steps took, from start to checkpoint (steps run by workers in this Python process)",
    ["workflow", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)


# each (workflow, status)'s histogram, looked up once: ``labels`` checks and locks on every call
_step_histograms: dict[tuple[str, str], Any] = {}


def observe_step(workflow: str, record: StepRecord) -> None:
    seconds = (record.completed_at - record.started_at).total_seconds()
    key = (workflow, record.status.value)
    if (histogram := _step_histograms.get(key)) is None:
        histogram = _step_histograms[key] = STEP_DURATION.labels(*key)
    histogram.observe(seconds)


class ScrapeTimeCollector(Collector):
    """Processes by status (database) and messages waiting per queue (broker, with the Celery executor)."""

    def collect(self) -> Iterator[Metric]:
        processes = GaugeMetricFamily("orchestrion_processes", "Processes by status", labels=["status"])
        with get_database().read() as session:
            by_kind = process_queries.status_counts(session)
        counts = Counter(by_kind["processes"]) + Counter(by_kind["tasks"])
        for status in ProcessStatus:
            processes.add_metric([status.value], counts.get(status.value, 0))
        yield processes
        yield from _queue_depths()


def _queue_depths() -> Iterator[Metric]:
    try:
        found = current().executor.queue_depths()
    except Exception as e:  # the broker is down: leave the metric out rather than fail the scrape
        logger.warning("Could not read the queue depths from the broker", error=str(e))
        return
    if not found:  # an in-process executor has no broker queue
        return
    depth = GaugeMetricFamily("orchestrion_queue_depth", "Messages waiting in a broker queue", labels=["queue"])
    for queue, count in sorted(found.items()):
        depth.add_metric([queue], count)
    yield depth


_scrape_time = CollectorRegistry(auto_describe=False)
_scrape_time.register(ScrapeTimeCollector())


def render() -> bytes:
    """All metrics in the Prometheus text format: this process's (default registry) and the scrape-time ones."""
    return generate_latest(REGISTRY) + generate_latest(_scrape_time)
