"""`GET /threads/{id}/storage`: the bytes a thread's checkpoints occupy, as the reference reports them."""

from __future__ import annotations

from quart import Quart, Response

from ..services import Services
from ..storage.checkpointer import thread_storage
from .common import get_thread_or_404, json_response


def register(app: Quart, svc: Services) -> None:
    @app.get("/threads/<thread_id>/storage")
    async def get_thread_storage(thread_id: str) -> Response:
        thread = get_thread_or_404(svc.tables, thread_id)
        return json_response({"thread_id": thread.thread_id, **thread_storage(svc.checkpointer, thread.thread_id)})
