"""`GET /metrics`: Prometheus text (the default), or `?format=json` as the reference offers it.

The series come from `trioserver.metrics`; here each answered request is also counted
under its route template (`/threads/{thread_id}/runs`, not every id), with its latency
until the answer starts.
"""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics
from quart import Quart, Response, g, request

from ..metrics import ServerMetrics
from ..services import Services
from .common import json_response

disable_created_metrics()  # no `*_created` series: they double the output and nobody reads them


def register(app: Quart, svc: Services) -> ServerMetrics:
    metrics = ServerMetrics(svc)

    @app.before_request
    async def started() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    async def counted(response: Response) -> Response:
        rule = request.url_rule
        path = route_path(rule.rule) if rule is not None else "<unmatched>"
        begun = g.get("metrics_started")
        elapsed = (time.perf_counter() - begun) * 1000 if begun is not None else None
        metrics.http.observe(request.method, path, response.status_code, elapsed)
        return response

    @app.get("/metrics")
    async def get_metrics() -> Response:
        if request.args.get("format") == "json":
            return json_response(metrics.json())
        return Response(metrics.text(), status=200, content_type=CONTENT_TYPE_LATEST)

    return metrics


def route_path(rule: str) -> str:
    """A Quart rule as the reference names routes: `<thread_id>` becomes `{thread_id}`."""
    out = []
    for part in rule.split("<"):
        if ">" in part:
            name, rest = part.split(">", 1)
            out.append("{" + name.split(":")[-1] + "}" + rest)
        else:
            out.append(part)
    return "".join(out)
