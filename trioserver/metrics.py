"""What `GET /metrics` reports: read, at scrape time, from the counters the services keep.

Nothing here sits on a hot path: the run queue, the event log and the store count what
they do anyway (runs ended, events appended, commits and their latency), and a scrape
turns those numbers into Prometheus series (prometheus-client, with a registry of its
own and one custom collector). Only HTTP requests are counted here, by route template,
as the reference counts them.

Where the reference has a series, its name is used (`lg_api_num_pending_runs`,
`lg_api_num_running_runs`, `lg_api_http_requests_total`, `lg_api_http_requests_latency`
in milliseconds); the rest are `trioserver_*`.
"""

from __future__ import annotations

import bisect
import os
import statistics
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from . import ids
from .runtime.lifecycle import FINAL_STATUSES
from .services import Services
from .storage.env import COMMIT_BUCKETS

# The reference's HTTP latency buckets, in milliseconds.
HTTP_BUCKETS_MS = (10, 100, 500, 1000, 5000, 15000, 30000, 60000, 120000, 300000, 600000, 1800000, 3600000)


class HttpStats:
    """Requests answered, by method, route template and status; latency (until the answer's
    headers, so a stream counts once it has started) by method and route."""

    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.latency: dict[tuple[str, str], list[float]] = {}  # [count per bucket..., +Inf count, sum ms]

    def observe(self, method: str, path: str, status: int, elapsed_ms: float | None) -> None:
        self.requests[(method, path, str(status))] += 1
        if elapsed_ms is None:
            return
        cells = self.latency.get((method, path))
        if cells is None:
            cells = self.latency[(method, path)] = [0.0] * (len(HTTP_BUCKETS_MS) + 2)
        cells[bisect.bisect_left(HTTP_BUCKETS_MS, elapsed_ms)] += 1
        cells[-1] += elapsed_ms


class ServerMetrics(Collector):
    """The server's series, computed when Prometheus scrapes."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.http = HttpStats()
        self.registry = CollectorRegistry(auto_describe=False)
        for standard in (ProcessCollector, PlatformCollector, GCCollector):  # process_*, python_*, as the reference has
            standard(registry=self.registry)
        self.registry.register(self)

    def text(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)

    def collect(self) -> Iterator[Metric]:
        svc = self.svc
        running, pending = svc.queue.counts()
        yield _gauge("lg_api_num_pending_runs", "Runs waiting to start (queue depth).", pending)
        yield _gauge("lg_api_num_running_runs", "Runs running now.", running)
        ended = CounterMetricFamily("trioserver_runs_ended", "Runs that ended since the server started, by final status.", labels=["status"])
        for status in sorted(FINAL_STATUSES | set(svc.queue.ended)):
            ended.add_metric([status], svc.queue.ended.get(status, 0))
        yield ended
        now = GaugeMetricFamily("trioserver_runs", "Runs pending or running now, by status.", labels=["status"])
        now.add_metric(["pending"], pending)
        now.add_metric(["running"], running)
        yield now
        yield _gauge("trioserver_queue_threads", "Threads with a run running or waiting.", svc.queue.busy_threads())
        yield _gauge("trioserver_streams_active", "Log tails open now: run and thread streams, joins, waits.", svc.log.tails)
        yield _gauge("trioserver_stream_subscribers", "Tails waiting for the next commit now.", svc.log.subscribers())
        yield CounterMetricFamily("trioserver_events_appended", "Events appended to the thread event logs since start.", value=svc.log.appended)
        store = svc.store
        yield CounterMetricFamily("trioserver_store_commits", "LMDB write transactions committed (group commits).", value=store.commits)
        yield CounterMetricFamily("trioserver_store_ops_committed", "Writes committed (many per commit).", value=store.ops_committed)
        latency = HistogramMetricFamily("trioserver_store_commit_seconds", "Time to commit one group of writes (fsync included).")
        latency.add_metric([], _cumulative(COMMIT_BUCKETS, store.commit_latency), sum_value=store.commit_seconds)
        yield latency
        used, file_size = _store_size(svc)
        yield _gauge("trioserver_store_used_bytes", "Bytes of the LMDB map in use.", used)
        yield _gauge("trioserver_store_file_bytes", "Size of the LMDB data file on disk.", file_size)
        requests = CounterMetricFamily("lg_api_http_requests", "HTTP requests answered, by method, route and status.", labels=["method", "path", "status"])
        for (method, path, status), count in sorted(self.http.requests.items()):
            requests.add_metric([method, path, status], count)
        yield requests
        http = HistogramMetricFamily("lg_api_http_requests_latency", "HTTP request latency in milliseconds.", labels=["method", "path"])
        for (method, path), cells in sorted(self.http.latency.items()):
            http.add_metric([method, path], _cumulative(HTTP_BUCKETS_MS, cells[:-1]), sum_value=cells[-1])
        yield http

    def json(self) -> dict[str, Any]:
        """`?format=json`, in the reference's shape, minus its `workers` (runs here are
        tasks, not a fixed pool of workers: there is no maximum to report)."""
        running, pending = self.svc.queue.counts()
        waits, unblocked = self._pending_waits()
        return {
            "queue": {
                "n_pending": pending,
                "n_running": running,
                "pending_runs_wait_time_max_secs": max(waits) if waits else None,
                "pending_runs_wait_time_med_secs": statistics.median(waits) if waits else None,
                "pending_unblocked_runs_wait_time_max_secs": max(unblocked) if unblocked else None,
            },
            "api": {
                "http_requests_total": [
                    {"method": method, "path": path, "status": int(status), "count": count}
                    for (method, path, status), count in sorted(self.http.requests.items())
                ],
            },
        }

    def _pending_waits(self) -> tuple[list[float], list[float]]:
        """Seconds each run not started yet has waited; and those of the runs held back by
        nothing but their own delay (first in line on a thread where nothing runs)."""
        now = ids.now().timestamp()
        waits: list[float] = []
        unblocked: list[float] = []
        for run_id, free in self.svc.queue.not_started():
            run = self.svc.tables.get_run(run_id)
            if run is None:
                continue
            waited = max(0.0, now - ids.parse_iso(run.created_at))
            waits.append(waited)
            if free:
                unblocked.append(waited)
        return waits, unblocked

def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def _cumulative(bounds: tuple[float, ...], counts: list[int] | list[float]) -> list[tuple[str, float]]:
    """Per-bucket counts (the last one beyond every bound) as Prometheus's cumulative buckets."""
    out = []
    total = 0.0
    for bound, count in zip(bounds, counts):
        total += count
        out.append((_le(bound), total))
    total += counts[len(bounds)]
    out.append(("+Inf", total))
    return out


def _le(bound: float) -> str:
    return repr(float(bound))


def _store_size(svc: Services) -> tuple[int, int]:
    info = svc.store.env.info()
    used = (info["last_pgno"] + 1) * svc.store.env.stat()["psize"]
    try:
        file_size = os.stat(os.path.join(svc.store.path, "data.mdb")).st_size
    except OSError:
        file_size = 0
    return used, file_size
