"""Webhooks: when a run created with `webhook` ends, POST it there, as the reference does.

The body is the run as the API shows it, with its final `status`, start and end times,
the thread's `values` and, after a failure, `error`. A webhook that fails is retried a
few times and then logged; it never affects the run, and never the server.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import trio

from .. import ids, jsonenc
from ..storage.records import Run

log = logging.getLogger(__name__)

ATTEMPTS = 3


def valid_webhook(url: str) -> bool:
    """Whether `url` is an http(s) URL that can be called: parsed the way the client
    that calls it parses it, port included (a URL that only fails when the run ends
    must be refused when the run is created)."""
    try:
        parsed = httpx.URL(url)
        _ = parsed.port  # raises for a port that is not a number
    except (httpx.InvalidURL, ValueError, TypeError):
        return False
    return parsed.scheme in ("http", "https") and bool(parsed.host)


def webhook_payload(run: Run, *, started_at: str | None, state: dict[str, Any] | None, error: dict[str, Any] | None) -> dict[str, Any]:
    payload = {
        **run.public(),
        "run_started_at": started_at,
        "run_ended_at": ids.now_iso(),
        "values": state["values"] if state and state.get("checkpoint") else None,
    }
    if error:
        payload["error"] = error
    return payload


async def call_webhook(url: str, payload: dict[str, Any]) -> None:
    """POST `payload` to `url`; retried with back-off; every failure is logged, none raised."""
    body = jsonenc.dumps({**payload, "webhook_sent_at": ids.now_iso()})
    run_ref = f"run {payload.get('run_id')} on thread {payload.get('thread_id')}"
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                    if response.status_code < 500:
                        if response.status_code >= 400:
                            log.warning("webhook of %s: %s answered %d", run_ref, url, response.status_code)
                        return
                    log.warning("webhook of %s: %s answered %d (attempt %d)", run_ref, url, response.status_code, attempt)
                except httpx.HTTPError as exc:
                    log.warning("webhook of %s: %s failed (attempt %d): %s", run_ref, url, attempt, exc)
                await trio.sleep(0.5 * 2**attempt)
    except Exception as exc:  # noqa: BLE001 - a URL httpx refuses, say: never the server's problem
        log.warning("webhook of %s: cannot call %s: %s: %s", run_ref, url, type(exc).__name__, exc)
        return
    log.error("webhook of %s: %s: giving up after %d attempts", run_ref, url, ATTEMPTS)
