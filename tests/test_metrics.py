"""`/metrics` moves when runs run: runs by status, queue depth, streams, events appended,
commits and their latency, store size, HTTP requests by route; and `?format=json`."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def scrape(http: httpx.AsyncClient) -> dict:
    answer = await http.get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain; version=")
    return samples(answer.text)


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.mark.anyio
async def test_metrics_move_when_runs_run(client, http):
    before = await scrape(http)
    for name in ("process_resident_memory_bytes", "python_info", "trioserver_store_used_bytes", "trioserver_store_file_bytes", "lg_api_num_pending_runs"):
        assert any(key[0] == name for key in before), name
    thread = await client.threads.create()
    for _ in range(3):
        await client.runs.wait(thread["thread_id"], "agent", input={"topic": "x"})
    await client.runs.wait(thread["thread_id"], "failing", input={}, raise_error=False)
    waiting = await client.runs.create(thread["thread_id"], "agent", input={"topic": "x"}, after_seconds=60)
    after = await scrape(http)
    assert value(after, "trioserver_runs_ended_total", status="success") >= value(before, "trioserver_runs_ended_total", status="success") + 3
    assert value(after, "trioserver_runs_ended_total", status="error") >= value(before, "trioserver_runs_ended_total", status="error") + 1
    assert value(after, "lg_api_num_pending_runs") >= 1 and value(after, "trioserver_runs", status="pending") >= 1
    assert value(after, "trioserver_events_appended_total") > value(before, "trioserver_events_appended_total")
    assert value(after, "trioserver_store_commits_total") > value(before, "trioserver_store_commits_total")
    assert value(after, "trioserver_store_commit_seconds_count") > value(before, "trioserver_store_commit_seconds_count")
    assert value(after, "trioserver_store_commit_seconds_bucket", le="+Inf") == value(after, "trioserver_store_commit_seconds_count")
    wait_route = value(after, "lg_api_http_requests_total", method="POST", path="/threads/{thread_id}/runs/wait", status="200")
    assert wait_route >= value(before, "lg_api_http_requests_total", method="POST", path="/threads/{thread_id}/runs/wait", status="200") + 4
    assert value(after, "lg_api_http_requests_latency_count", method="POST", path="/threads/{thread_id}/runs/wait") >= 4
    as_json = (await http.get("/metrics", params={"format": "json"})).json()
    assert set(as_json) == {"queue", "api"}
    assert list(as_json["queue"]) == ["n_pending", "n_running", "pending_runs_wait_time_max_secs", "pending_runs_wait_time_med_secs", "pending_unblocked_runs_wait_time_max_secs"]
    assert as_json["queue"]["n_pending"] >= 1 and as_json["queue"]["pending_unblocked_runs_wait_time_max_secs"] is not None
    assert any(r["path"] == "/threads/{thread_id}/runs/wait" and r["status"] == 200 for r in as_json["api"]["http_requests_total"])
    await client.runs.cancel(thread["thread_id"], waiting["run_id"])


@pytest.mark.anyio
async def test_streams_are_counted_while_open(client, http, base_url):
    thread = await client.threads.create()
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as other:
        async with other.stream("GET", f"/threads/{thread['thread_id']}/stream") as stream:
            assert stream.status_code == 200
            metrics = await scrape(http)
            assert value(metrics, "trioserver_streams_active") >= 1
            assert value(metrics, "trioserver_stream_subscribers") >= 1
