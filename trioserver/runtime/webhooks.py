"""Webhooks: when a run created with `webhook` ends, POST it there, as the reference does.

The body is the run as the API shows it, with its final `status`, start and end times,
the thread's `values` and, after a failure, `error`. A webhook that fails is retried a
few times and then logged; it never affects the run.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

import httpx
import trio

from .. import ids, jsonenc

log = logging.getLogger(__name__)

ATTEMPTS = 3


def valid_webhook(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.netloc)


async def call_webhook(url: str, payload: dict[str, Any]) -> None:
    """POST `payload` to `url`; retried with back-off, failures logged, never raised."""
    body = jsonenc.dumps({**payload, "webhook_sent_at": ids.now_iso()})
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
                if response.status_code < 500:
                    if response.status_code >= 400:
                        log.warning("webhook %s answered %d", url, response.status_code)
                    return
            except httpx.HTTPError as exc:
                log.warning("webhook %s failed (attempt %d): %s", url, attempt, exc)
            await trio.sleep(0.5 * 2**attempt)
    log.error("webhook %s: giving up after %d attempts", url, ATTEMPTS)
